/**
 * The SQLite driver: Node's built-in node:sqlite over one file in WAL mode.
 * node:sqlite is synchronous like the store's port, so it is used directly.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StoreError, isForeignKeyViolation, sqliteCode, toStoreError, type StoreErrorInit } from "./errors.ts";
import { META_DDL, MIGRATIONS, STORE_SCHEMA_VERSION } from "./schema.ts";
import type { SqlConnection, SqlValue } from "./sql.ts";

export interface SqliteOptions {
  busyTimeoutMs?: number | undefined;
  synchronous?: "normal" | "full" | undefined;
}

class SqliteConnection implements SqlConnection {
  readonly backend = "sqlite" as const;
  readonly rolloutOrder = "rowid";
  readonly noLimit = -1;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  private stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  run(sql: string, params: readonly SqlValue[] = []): void {
    this.stmt(sql).run(...params);
  }

  change(sql: string, params: readonly SqlValue[] = []): number {
    return Number(this.stmt(sql).run(...params).changes);
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  begin(): void {
    this.db.exec("BEGIN IMMEDIATE");
  }

  commit(): void {
    this.db.exec("COMMIT");
  }

  rollback(): void {
    this.db.exec("ROLLBACK");
  }

  get inTransaction(): boolean {
    return this.db.isTransaction;
  }

  storeError(e: unknown, doing: string, init: StoreErrorInit): StoreError | undefined {
    if (e instanceof StoreError) return e;
    return sqliteCode(e) === undefined ? undefined : toStoreError(e, doing, init);
  }

  isForeignKeyViolation(e: unknown): boolean {
    return isForeignKeyViolation(e);
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }
}

/** Opens (creating if needed) the SQLite file at `path` and brings its layout up to this build's version. */
export function openSqlite(path: string, opts: SqliteOptions = {}): SqlConnection {
  const inMemory = path === ":memory:";
  if (!inMemory) {
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true });
    } catch (e) {
      throw toStoreError(e, "creating the store's directory", { path });
    }
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: opts.busyTimeoutMs ?? 5000, enableForeignKeyConstraints: true });
  } catch (e) {
    throw toStoreError(e, "opening the store", { path });
  }
  try {
    configure(db, path, inMemory, opts.synchronous ?? "normal");
    migrate(db, path);
  } catch (e) {
    db.close();
    throw toStoreError(e, "opening the store", { path });
  }
  return new SqliteConnection(db);
}

function configure(db: DatabaseSync, path: string, inMemory: boolean, synchronous: "normal" | "full"): void {
  const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode?: string } | undefined;
  if (!inMemory && mode?.journal_mode !== "wal") {
    // Without WAL a reader blocks the writer and a crash mid-commit relies on a rollback journal we did not plan for.
    throw new StoreError("STORE_IO", `store ${path} could not be switched to WAL mode (got ${String(mode?.journal_mode)}); is it on a network filesystem?`, { path });
  }
  db.exec(`PRAGMA synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`);
  // Checkpoints keep the WAL short, but a long-running reader can let it grow; this caps what stays on disk after.
  db.exec("PRAGMA journal_size_limit = 67108864");
}

function migrate(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(META_DDL);
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    const found = row ? Number(row.value) : 0;
    if (!Number.isInteger(found) || found < 0) {
      throw new StoreError("STORE_CORRUPT", `store ${path} has an unreadable schema version ${JSON.stringify(row?.value)}`, { path });
    }
    if (found > STORE_SCHEMA_VERSION) {
      throw new StoreError(
        "STORE_SCHEMA",
        `store ${path} was written by a newer metalwave (store schema ${found}; this build knows up to ${STORE_SCHEMA_VERSION}): upgrade metalwave or use another store`,
        { path },
      );
    }
    for (let v = found; v < STORE_SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v];
      if (step === undefined) throw new StoreError("STORE_SCHEMA", `store ${path}: no migration from schema ${v}`, { path });
      db.exec(step);
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(STORE_SCHEMA_VERSION));
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}
