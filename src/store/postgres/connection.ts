/**
 * The PostgreSQL driver's main-thread side: a synchronous `SqlConnection` over
 * the worker thread (protocol.ts says how a call blocks until the worker
 * answers). Inside a transaction, statements whose result is not needed are
 * held and sent with the next one that needs an answer, so a write-through
 * `saveHost` is one round trip: BEGIN, the fence, the upsert and COMMIT together.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { StoreError, describeWhere, type StoreErrorInit } from "../errors.ts";
import type { SqlConnection, SqlValue } from "../sql.ts";
import { FENCED_SQLSTATE, type Failure, type Reply, type Request, type Result, type Statement, type WorkerEvent } from "./protocol.ts";
import { MIGRATION_LOCK_KEY, PG_META_DDL, PG_MIGRATIONS, PG_SCHEMA_VERSION } from "./schema.ts";
import { postgresTarget } from "./url.ts";

/** A failure PostgreSQL (or the way to it) reported; the store maps it to a StoreError. */
export class PostgresFailure extends Error {
  readonly code: string | undefined;
  constructor(f: Failure) {
    super(f.message);
    this.code = f.code;
  }
}

export interface PostgresOptions {
  /** How long one call may take before the store gives up on it (STORE_IO). Default 30 s. */
  callTimeoutMs?: number | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

const SQLSTATE_FOREIGN_KEY = "23503";

function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export class PostgresConnection implements SqlConnection {
  readonly backend = "postgres" as const;
  readonly rolloutOrder = "seq";
  readonly noLimit = null;
  readonly path: string;
  readonly lease = new BigInt64Array(new SharedArrayBuffer(4 * 8));
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private readonly timeoutMs: number;
  private readonly translated = new Map<string, string>();
  private readonly listeners = new Set<(e: WorkerEvent) => void>();
  private queue: Statement[] = [];
  private tx = false;
  private broken: string | undefined;

  constructor(path: string, timeoutMs: number) {
    this.path = path;
    this.timeoutMs = timeoutMs;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL("./worker.ts", import.meta.url), {
      workerData: { port: port2, signal: this.signal, lease: this.lease },
      transferList: [port2],
    });
    // The worker must not keep a finished CLI alive; close() ends it.
    this.worker.unref();
    this.worker.on("message", (e: WorkerEvent) => {
      for (const l of this.listeners) l(e);
    });
    this.worker.on("error", (e) => {
      this.broken = `the PostgreSQL worker thread failed: ${e.message}`;
    });
  }

  onEvent(listener: (e: WorkerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One synchronous round trip to the worker. */
  call(req: Request): Result[] {
    if (this.broken !== undefined) throw new PostgresFailure({ message: this.broken, code: "08006", index: 0 });
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage(req);
    const woke = Atomics.wait(this.signal, 0, 0, this.timeoutMs);
    const got = receiveMessageOnPort(this.port);
    if (woke === "timed-out" || got === undefined) {
      // The worker's state is unknown now: nothing more goes through this connection.
      this.broken = `PostgreSQL did not answer within ${this.timeoutMs} ms`;
      throw new PostgresFailure({ message: this.broken, code: "57014", index: 0 });
    }
    const reply = got.message as Reply;
    if (!reply.ok) throw new PostgresFailure(reply.error);
    return reply.results;
  }

  private statement(sql: string, params: readonly SqlValue[]): Statement {
    let text = this.translated.get(sql);
    if (text === undefined) {
      text = numbered(sql);
      this.translated.set(sql, text);
    }
    return { sql: text, params };
  }

  /** Sends what is held plus `last`, returning `last`'s result. */
  private send(last: Statement): Result {
    const statements = [...this.queue, last];
    this.queue = [];
    try {
      const results = this.call({ op: "batch", statements });
      return results[results.length - 1] ?? { rows: [], rowCount: 0 };
    } catch (e) {
      // The worker rolled back a failed transaction already.
      this.tx = false;
      throw e;
    }
  }

  run(sql: string, params: readonly SqlValue[] = []): void {
    if (this.tx) this.queue.push(this.statement(sql, params));
    else this.send(this.statement(sql, params));
  }

  change(sql: string, params: readonly SqlValue[] = []): number {
    return this.send(this.statement(sql, params)).rowCount;
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): T | undefined {
    return this.send(this.statement(sql, params)).rows[0] as T | undefined;
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): T[] {
    return this.send(this.statement(sql, params)).rows as T[];
  }

  begin(): void {
    this.queue.push({ sql: "BEGIN" });
    this.tx = true;
  }

  commit(): void {
    this.send({ sql: "COMMIT" });
    this.tx = false;
  }

  rollback(): void {
    const sentBegin = this.queue[0]?.sql !== "BEGIN";
    this.queue = [];
    this.tx = false;
    // Nothing reached PostgreSQL yet: there is nothing to roll back.
    if (sentBegin) this.call({ op: "batch", statements: [{ sql: "ROLLBACK" }] });
  }

  get inTransaction(): boolean {
    return this.tx;
  }

  storeError(e: unknown, doing: string, init: StoreErrorInit): StoreError | undefined {
    if (e instanceof StoreError) return e;
    if (!(e instanceof PostgresFailure)) return undefined;
    const where = describeWhere(init);
    if (e.code === FENCED_SQLSTATE) {
      return new StoreError("STORE_FENCED", `${doing}${where}: refused by PostgreSQL, another metalwave holds the store's lease now (${e.message})`, { ...init, cause: e });
    }
    return new StoreError("STORE_IO", `${doing}${where}: ${e.message}${e.code ? ` (${e.code})` : ""}`, { ...init, cause: e });
  }

  isForeignKeyViolation(e: unknown): boolean {
    return e instanceof PostgresFailure && e.code === SQLSTATE_FOREIGN_KEY;
  }

  close(): void {
    try {
      if (this.broken === undefined) this.call({ op: "close" });
    } finally {
      void this.worker.terminate();
      this.port.close();
    }
  }
}

/** Connects to the database at `url` and brings its layout up to this build's version. */
export function openPostgres(url: string, opts: PostgresOptions = {}): PostgresConnection {
  const target = postgresTarget(url, opts.env);
  const conn = new PostgresConnection(target.display, opts.callTimeoutMs ?? 30_000);
  try {
    conn.call({ op: "connect", config: target.config });
    migrate(conn, target.display);
  } catch (e) {
    conn.close();
    if (e instanceof StoreError) throw e;
    throw conn.storeError(e, "opening the store", { path: target.display }) ?? e;
  }
  return conn;
}

function migrate(conn: PostgresConnection, path: string): void {
  conn.begin();
  try {
    conn.run("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK_KEY]);
    conn.run(PG_META_DDL);
    const row = conn.get<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
    const found = row ? Number(row.value) : 0;
    if (!Number.isInteger(found) || found < 0) {
      throw new StoreError("STORE_CORRUPT", `store ${path} has an unreadable schema version ${JSON.stringify(row?.value)}`, { path });
    }
    if (found > PG_SCHEMA_VERSION) {
      throw new StoreError(
        "STORE_SCHEMA",
        `store ${path} was written by a newer metalwave (store schema ${found}; this build knows up to ${PG_SCHEMA_VERSION}): upgrade metalwave or use another store`,
        { path },
      );
    }
    for (let v = found; v < PG_SCHEMA_VERSION; v++) {
      const step = PG_MIGRATIONS[v];
      if (step === undefined) throw new StoreError("STORE_SCHEMA", `store ${path}: no migration from schema ${v}`, { path });
      conn.run(step);
    }
    conn.run("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [String(PG_SCHEMA_VERSION)]);
    conn.commit();
  } catch (e) {
    if (conn.inTransaction) conn.rollback();
    throw e;
  }
}
