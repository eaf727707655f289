// The store's tests run once per backend: SQLite (a file in a temporary
// directory) and PostgreSQL (a fresh database per test in the run's throwaway
// cluster, test/setup/postgres.ts). `location()` gives a place to open stores
// on, a plain connection to look at or damage what they committed, and the
// SQL that differs between the two.
import pg from "pg";
import { randomBytes } from "node:crypto";
import { openStore, type Store, type StoreOptions } from "../../src/store/index.ts";
import { openPostgres } from "../../src/store/postgres/connection.ts";
import { openSqlite } from "../../src/store/sqlite.ts";
import type { SqlConnection } from "../../src/store/sql.ts";
import { PG_PASSWORD_ENV, PG_URL_ENV } from "../setup/postgres.ts";
import { tempDir } from "./helpers.ts";

export type BackendName = "sqlite" | "postgres";
export const BACKENDS: readonly BackendName[] = ["sqlite", "postgres"];

export interface Location {
  backend: BackendName;
  /** The path or URL to open. */
  where: string;
  open(opts?: StoreOptions): Store;
  /** A plain connection on the same database (it sees only what was committed). */
  raw(): SqlConnection;
  /** SQL that differs: set a JSON document's field / remove one, as text. */
  jsonSet(column: string, path: string[], value: string): string;
  jsonRemove(column: string, path: string[]): string;
  /** An INSERT of a lock row held by (pid, hostname), live as far as the backend can tell. */
  insertLock(db: SqlConnection, pid: number, hostname: string): void;
  cleanup(): Promise<void>;
}

/** The run's cluster, with its password where the store looks for it (and where child processes inherit it). */
export function pgServer(): { url: string; password: string } {
  const url = process.env[PG_URL_ENV];
  const password = process.env[PG_PASSWORD_ENV];
  if (!url || !password) throw new Error(`no test PostgreSQL cluster: ${PG_URL_ENV} is unset (vitest's globalSetup test/setup/global.ts starts one)`);
  process.env["METALWAVE_STORE_PASSWORD"] = password;
  return { url, password };
}

/**
 * A new, empty place in the run's cluster, dropped by the returned cleanup: a
 * schema of its own (the store's URL sets its search_path), which is much
 * cheaper than a database per test and just as separate for the store.
 */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const server = pgServer();
  const name = `t_${randomBytes(6).toString("hex")}`;
  await admin(server, `CREATE SCHEMA ${name}`);
  const url = `${server.url}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
  return { url, drop: () => admin(server, `DROP SCHEMA IF EXISTS ${name} CASCADE`) };
}

async function admin(server: { url: string; password: string }, sql: string): Promise<void> {
  const c = new pg.Client({ ...clientConfig(server.url), password: server.password });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function clientConfig(url: string): pg.ClientConfig {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), user: u.username, database: u.pathname.slice(1) };
}

export async function location(backend: BackendName): Promise<Location> {
  switch (backend) {
    case "sqlite": {
      const t = tempDir();
      return {
        backend,
        where: t.path,
        open: (opts) => openStore(t.path, opts),
        raw: () => openSqlite(t.path),
        jsonSet: (column, path, value) => `json_set(${column}, '$.${path.join(".")}', ${value})`,
        jsonRemove: (column, path) => `json_remove(${column}, '$.${path.join(".")}')`,
        insertLock: (db, pid, hostname) =>
          db.run("INSERT INTO lock (id, pid, hostname, command, acquired_at, token) VALUES (1, ?, ?, 'metalwave start', '2025-01-01T00:00:00.000Z', 'old')", [pid, hostname]),
        cleanup: () => Promise.resolve(t.cleanup()),
      };
    }
    case "postgres": {
      const db = await freshDatabase();
      // One plain connection for the whole test (a worker thread each would be slow); its close() waits for cleanup.
      let plain: SqlConnection | undefined;
      return {
        backend,
        where: db.url,
        open: (opts) => openStore(db.url, opts),
        raw: () => {
          plain ??= openPostgres(db.url);
          return { ...bind(plain), close: () => {} };
        },
        jsonSet: (column, path, value) => `jsonb_set(${column}::jsonb, '{${path.join(",")}}', '${value}')::text`,
        jsonRemove: (column, path) => `(${column}::jsonb #- '{${path.join(",")}}')::text`,
        insertLock: (conn, pid, hostname) =>
          conn.run(
            "INSERT INTO lock (id, pid, hostname, command, acquired_at, token, expires_at, renewed_at) VALUES (1, ?, ?, 'metalwave start', '2025-01-01T00:00:00.000Z', nextval('lock_token'), now() + interval '1 hour', now())",
            [pid, hostname],
          ),
        cleanup: async () => {
          plain?.close();
          await db.drop();
        },
      };
    }
  }
}

/** The connection's methods bound to it, so a copy with another close() still works. */
function bind(c: SqlConnection): SqlConnection {
  return {
    backend: c.backend,
    rolloutOrder: c.rolloutOrder,
    noLimit: c.noLimit,
    get inTransaction() {
      return c.inTransaction;
    },
    run: (sql, params) => c.run(sql, params),
    change: (sql, params) => c.change(sql, params),
    get: (sql, params) => c.get(sql, params),
    all: (sql, params) => c.all(sql, params),
    begin: () => c.begin(),
    commit: () => c.commit(),
    rollback: () => c.rollback(),
    storeError: (e, doing, init) => c.storeError(e, doing, init),
    isForeignKeyViolation: (e) => c.isForeignKeyViolation(e),
    close: () => c.close(),
  };
}
