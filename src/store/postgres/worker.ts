/**
 * The PostgreSQL worker thread: owns the `pg` clients and answers the main
 * thread's synchronous calls (protocol.ts). One client runs the store's
 * statements in order; a second one renews the lease.
 */
import { workerData, parentPort, type MessagePort } from "node:worker_threads";
import pg from "pg";
import { LEASE, LEASE_HELD, LEASE_LOST, type Failure, type Reply, type Request, type Result, type WorkerEvent } from "./protocol.ts";

// BIGINT (seq, ids, tokens, COUNT(*)) as numbers: they stay far below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

const { port, signal, lease } = workerData as { port: MessagePort; signal: Int32Array; lease: BigInt64Array };

let config: pg.ClientConfig | undefined;
let data: pg.Client | undefined;
let inTransaction = false;
let leaseClient: pg.Client | undefined;
let renewTimer: NodeJS.Timeout | undefined;
/**
 * While this process holds the lease: PostgreSQL ends a session of ours left idle
 * inside a transaction this long (the lease's length). A holder paused or cut off
 * mid-transaction keeps the lock row FOR SHARE (metalwave_fence) and would block a
 * successor's takeover for as long as PostgreSQL keeps its session (TCP keepalive:
 * hours). Such a holder's renewals wait on that row too, so its lease runs out by
 * then anyway: ending the session costs it nothing it still had.
 */
let idleInTransactionMs = 0;

function failure(e: unknown, index: number): Failure {
  const err = e as { message?: unknown; code?: unknown };
  return { message: typeof err.message === "string" ? err.message : String(e), code: typeof err.code === "string" ? err.code : undefined, index };
}

async function connect(): Promise<pg.Client> {
  if (!config) throw new Error("not connected");
  const client = new pg.Client(config);
  // A dropped connection errors the next query; without a listener it would crash the thread.
  client.on("error", () => {
    if (data === client) data = undefined;
    if (leaseClient === client) leaseClient = undefined;
  });
  await client.connect();
  if (idleInTransactionMs > 0) await client.query(`SET idle_in_transaction_session_timeout = ${idleInTransactionMs}`);
  return client;
}

async function limitIdleInTransaction(ms: number): Promise<void> {
  idleInTransactionMs = ms;
  // Between calls: the main thread waits for this answer, so no transaction of ours is open.
  await Promise.all([data, leaseClient].map((c) => c?.query(`SET idle_in_transaction_session_timeout = ${ms}`)));
}

async function batch(statements: Request & { op: "batch" }): Promise<Reply> {
  const results: Result[] = [];
  let i = 0;
  try {
    // A connection lost between transactions is made again; one lost inside a transaction fails it (it is gone with the connection).
    if (!data && !inTransaction) data = await connect();
    if (!data) throw Object.assign(new Error("the connection to PostgreSQL was lost inside a transaction"), { code: "08006" });
    for (; i < statements.statements.length; i++) {
      const s = statements.statements[i]!;
      if (s.sql === "BEGIN") inTransaction = true;
      const r = await data.query(s.sql, s.params as unknown[] | undefined);
      if (s.sql === "COMMIT" || s.sql === "ROLLBACK") inTransaction = false;
      results.push({ rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 });
    }
    return { ok: true, results };
  } catch (e) {
    if (inTransaction) {
      inTransaction = false;
      await data?.query("ROLLBACK").catch(() => undefined);
    }
    return { ok: false, error: failure(e, i) };
  }
}

function lost(why: string): void {
  if (Atomics.load(lease, LEASE.status) !== LEASE_HELD) return;
  Atomics.store(lease, LEASE.status, LEASE_LOST);
  stopRenewing();
  parentPort?.postMessage({ event: "leaseLost", why } satisfies WorkerEvent);
}

function stopRenewing(): void {
  if (renewTimer !== undefined) clearInterval(renewTimer);
  renewTimer = undefined;
}

async function renew(token: number, ttlMs: number): Promise<void> {
  if (Atomics.load(lease, LEASE.status) !== LEASE_HELD) return;
  const started = process.hrtime.bigint();
  const sinceMs = Number(started - Atomics.load(lease, LEASE.renewedFrom)) / 1e6;
  // The lease may already have run out (this process was paused, or PostgreSQL was unreachable): never extend it blind.
  if (sinceMs >= ttlMs) return lost(`the lease was not renewed for ${Math.round(sinceMs)} ms, longer than its ${ttlMs} ms`);
  try {
    leaseClient ??= await connect();
    const r = await leaseClient.query(
      "UPDATE lock SET expires_at = now() + make_interval(secs => $2::float8 / 1000), renewed_at = now() WHERE id = 1 AND token = $1 AND expires_at > now()",
      [token, ttlMs],
    );
    if (Atomics.load(lease, LEASE.status) !== LEASE_HELD) return;
    if (r.rowCount === 0) return lost(`the lease (token ${token}) was taken over or ran out`);
    Atomics.store(lease, LEASE.renewedFrom, started);
    Atomics.add(lease, LEASE.renewals, 1n);
  } catch {
    // Unreachable for now: the next tick tries again, and the main thread stops acting once the lease may have run out.
    leaseClient?.end().catch(() => undefined);
    leaseClient = undefined;
  }
}

async function handle(req: Request): Promise<Reply> {
  switch (req.op) {
    case "connect":
      try {
        config = req.config;
        data = await connect();
        return { ok: true, results: [] };
      } catch (e) {
        return { ok: false, error: failure(e, 0) };
      }
    case "batch":
      return batch(req);
    case "leaseStart": {
      stopRenewing();
      try {
        await limitIdleInTransaction(Math.max(1, Math.round(req.ttlMs)));
      } catch (e) {
        return { ok: false, error: failure(e, 0) };
      }
      Atomics.store(lease, LEASE.token, BigInt(req.token));
      Atomics.store(lease, LEASE.status, LEASE_HELD);
      let running = false;
      renewTimer = setInterval(() => {
        if (running) return;
        running = true;
        void renew(req.token, req.ttlMs).finally(() => {
          running = false;
        });
      }, req.renewMs);
      return { ok: true, results: [] };
    }
    case "leaseStop":
      stopRenewing();
      if (Atomics.load(lease, LEASE.status) === LEASE_HELD) Atomics.store(lease, LEASE.status, 0n);
      return { ok: true, results: [] };
    case "close":
      stopRenewing();
      await Promise.allSettled([data?.end(), leaseClient?.end()]);
      data = undefined;
      leaseClient = undefined;
      return { ok: true, results: [] };
  }
}

/** Whether the main thread is waiting for an answer (it waits for one call at a time). */
let answered = true;

function answer(reply: Reply): void {
  if (answered) return;
  answered = true;
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

port.on("message", (req: Request) => {
  answered = false;
  void handle(req).then(answer);
});

// pg throws some failures from inside its socket handlers (a server asking for a
// password that was not given, for one). The main thread is blocked waiting for
// this thread, so such a failure is its answer rather than a silent thread death.
process.on("uncaughtException", (e) => {
  data?.end().catch(() => undefined);
  data = undefined;
  inTransaction = false;
  answer({ ok: false, error: failure(e, 0) });
});
