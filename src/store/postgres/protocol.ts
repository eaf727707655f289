/**
 * What the main thread and the PostgreSQL worker (worker.ts) say to each other.
 *
 * Synchronous calls: the main thread posts a `Request` on a MessagePort, then
 * blocks in `Atomics.wait` on `signal[0]`; the worker runs the statements on its
 * `pg` client, posts the `Reply` on the same port, stores 1 in `signal[0]` and
 * notifies. The main thread then takes the reply with `receiveMessageOnPort`.
 * So a write returns only after PostgreSQL has answered its COMMIT.
 *
 * The lease: the worker renews it on a second connection of its own, so a
 * transaction held open by the main thread never holds up (or rolls back) a
 * renewal. Both threads see the lease's state in `lease` (BigInt64Array):
 * monotonic times from `process.hrtime.bigint()`, which is one clock for every
 * thread of the process.
 */
import type { ClientConfig } from "pg";

export interface Statement {
  sql: string;
  params?: readonly (string | number | null)[] | undefined;
}

export type Request =
  | { op: "connect"; config: ClientConfig }
  | { op: "batch"; statements: Statement[] }
  | { op: "leaseStart"; token: number; ttlMs: number; renewMs: number }
  | { op: "leaseStop" }
  | { op: "close" };

export interface Result {
  rows: Record<string, unknown>[];
  rowCount: number;
}

export interface Failure {
  message: string;
  /** PostgreSQL's SQLSTATE (e.g. 23503), or a Node error code (ECONNREFUSED). */
  code: string | undefined;
  /** Which statement of the batch failed. */
  index: number;
}

export type Reply = { ok: true; results: Result[] } | { ok: false; error: Failure };

/** Sent by the worker on its parentPort, unasked. */
export type WorkerEvent = { event: "leaseLost"; why: string };

/** Indexes into the shared lease array. */
export const LEASE = {
  /** hrtime (ns) when the last successful acquisition or renewal was sent: the lease runs from no earlier than this. */
  renewedFrom: 0,
  token: 1,
  /** 0: not held; 1: held; 2: lost. */
  status: 2,
  renewals: 3,
} as const;

export const LEASE_NOT_HELD = 0n;
export const LEASE_HELD = 1n;
export const LEASE_LOST = 2n;

/** SQLSTATE raised by metalwave_fence() when a write's token is not the lease's (schema.ts). */
export const FENCED_SQLSTATE = "MWF01";
