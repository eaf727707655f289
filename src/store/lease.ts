/**
 * The lock on a PostgreSQL store: a lease on the `lock` row with a fencing
 * token, so several processes on several hosts can share one store and at most
 * one acts.
 *
 * - Acquiring takes the row when it is absent, its lease ran out (by the
 *   database's clock), or its holder is a dead process on this host; the new
 *   holder gets the next token from a sequence (tokens only grow).
 * - The worker thread renews it every `renewMs` on a connection of its own.
 * - Every write transaction of the holder first runs `metalwave_fence(token)`,
 *   which fails once another holder has a newer token: a paused or partitioned
 *   ex-holder cannot write after its successor took over, whatever it believes.
 * - Before each write (and, through `assertMayAct`, each MAAS request) the
 *   holder checks its own monotonic clock: once `ttlMs - marginMs` have passed
 *   since the last renewal was sent, it stops, before the lease can have run
 *   out in the database. The lease runs from no earlier than that send.
 */
import type { StoreCore } from "./core.ts";
import { StoreError } from "./errors.ts";
import { processAlive } from "./liveness.ts";
import { checkOwner, type LockKeeper } from "./lock.ts";
import { PostgresFailure, type PostgresConnection } from "./postgres/connection.ts";
import { LEASE, LEASE_HELD, LEASE_LOST, LEASE_NOT_HELD } from "./postgres/protocol.ts";
import { LOCK_KEY } from "./postgres/schema.ts";
import type { SqlConnection } from "./sql.ts";
import type { LockHolder, LockOwner, LockState } from "./types.ts";

export interface LeaseOptions {
  /** How long a lease lasts without renewal. Default 15 s. */
  ttlMs?: number | undefined;
  /** How often the holder renews it. Default a third of ttlMs. */
  renewMs?: number | undefined;
  /** How long before the lease could run out the holder stops acting. Default a fifth of ttlMs. */
  marginMs?: number | undefined;
}

export const DEFAULT_LEASE_MS = 15_000;

/** How long taking the lease waits for its row or the acquisition lock (PostgreSQL's lock_timeout). */
const ACQUIRE_LOCK_WAIT_MS = 500;
/** SQLSTATE of a lock wait that ran past lock_timeout. */
const LOCK_NOT_AVAILABLE = "55P03";

interface LeaseRow {
  pid: number;
  hostname: string;
  command: string;
  acquired_at: string;
  token: number;
  live: boolean;
  expires_at: string;
}

export class LeaseLock implements LockKeeper {
  private readonly core: StoreCore;
  private readonly conn: PostgresConnection;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly marginMs: number;
  private token: number | undefined;
  private readonly lostListeners = new Set<(why: string) => void>();
  private lostWhy: string | undefined;
  private readonly unsubscribe: () => void;

  constructor(core: StoreCore, conn: PostgresConnection, opts: LeaseOptions = {}) {
    this.core = core;
    this.conn = conn;
    this.ttlMs = Math.max(1000, opts.ttlMs ?? DEFAULT_LEASE_MS);
    this.renewMs = Math.max(100, Math.min(opts.renewMs ?? Math.floor(this.ttlMs / 3), this.ttlMs / 2));
    this.marginMs = Math.max(200, opts.marginMs ?? Math.floor(this.ttlMs / 5));
    this.unsubscribe = conn.onEvent((e) => {
      switch (e.event) {
        case "leaseLost":
          this.lose(e.why);
          return;
      }
    });
    core.guard = {
      check: () => this.check(),
      fence: (sql: SqlConnection) => this.fence(sql),
      refused: (e) => this.lose(`PostgreSQL refused a write: ${e.message}`),
    };
  }

  private get status(): bigint {
    return Atomics.load(this.conn.lease, LEASE.status);
  }

  private sinceRenewalMs(): number {
    return Number(process.hrtime.bigint() - Atomics.load(this.conn.lease, LEASE.renewedFrom)) / 1e6;
  }

  /** Local, no I/O: refuses once the lease is lost or may be about to run out. */
  check(): void {
    if (this.token === undefined) {
      if (this.lostWhy !== undefined) throw this.fencedError(this.lostWhy);
      return;
    }
    if (this.status === LEASE_LOST) this.lose("the lease could not be renewed");
    else {
      const since = this.sinceRenewalMs();
      if (since >= this.ttlMs - this.marginMs) this.lose(`the lease was last renewed ${Math.round(since)} ms ago, too close to its ${this.ttlMs} ms`);
    }
    if (this.lostWhy !== undefined) throw this.fencedError(this.lostWhy);
  }

  private fencedError(why: string): StoreError {
    return new StoreError("STORE_FENCED", `store ${this.core.path}: this process no longer holds the store's lease (${why}); it must not write or act`, { path: this.core.path });
  }

  fence(sql: SqlConnection): void {
    if (this.token !== undefined) sql.run("SELECT metalwave_fence(?)", [this.token]);
  }

  /** Marks the lease lost (once): nothing more is written, the buffer is dropped, and listeners hear why. */
  private lose(why: string): void {
    if (this.token === undefined || this.lostWhy !== undefined) return;
    this.lostWhy = why;
    this.token = undefined;
    Atomics.store(this.conn.lease, LEASE.status, LEASE_LOST);
    this.core.discardBuffer();
    try {
      this.conn.call({ op: "leaseStop" });
    } catch {
      // The worker is gone; nothing renews either way.
    }
    for (const l of this.lostListeners) l(why);
  }

  acquire(owner: LockOwner): void {
    const core = this.core;
    checkOwner(core, owner);
    if (this.lostWhy !== undefined) throw this.fencedError(this.lostWhy);
    const sentAt = process.hrtime.bigint();
    const token = core.write("taking the store's lease", {}, () => {
      // Waiting for the lock row (a holder's write under way) blocks this thread, which may be a standby's
      // serving its API: wait a moment at most, and report the lease busy; the standby tries again.
      core.sql.run(`SET LOCAL lock_timeout = ${ACQUIRE_LOCK_WAIT_MS}`);
      core.sql.run("SELECT pg_advisory_xact_lock(?)", [LOCK_KEY]);
      const row = this.lockedRow();
      const ttl = this.ttlMs;
      if (row && row.token === this.token) {
        core.sql.run("UPDATE lock SET expires_at = now() + make_interval(secs => ?::float8 / 1000), renewed_at = now() WHERE id = 1", [ttl]);
        return row.token;
      }
      const deadHere = row !== undefined && row.hostname === owner.hostname && row.pid !== process.pid && !processAlive(row.pid);
      if (row && row.live && !deadHere) {
        const where = row.hostname === owner.hostname ? "" : ` on host ${row.hostname}`;
        throw new StoreError(
          "STORE_LOCKED",
          `store ${core.path} is locked by pid ${row.pid}${where} running "${row.command}" since ${row.acquired_at} (its lease runs to ${row.expires_at} unless renewed)`,
          { path: core.path },
        );
      }
      const next = core.sql.get<{ token: number }>("SELECT nextval('lock_token') AS token");
      const t = Number(next?.token);
      core.sql.run(
        `INSERT INTO lock (id, pid, hostname, command, acquired_at, token, expires_at, renewed_at)
         VALUES (1, ?, ?, ?, ?, ?, now() + make_interval(secs => ?::float8 / 1000), now())
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname, command = excluded.command,
           acquired_at = excluded.acquired_at, token = excluded.token, expires_at = excluded.expires_at, renewed_at = excluded.renewed_at`,
        [owner.pid, owner.hostname, owner.command, core.at(), t, ttl],
      );
      if (row) {
        core.insertJournal(
          null,
          null,
          "note",
          JSON.stringify({
            event: "lock_taken_over",
            reason: row.live ? "the holder is no longer running" : "its lease ran out",
            previous: { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at, token: row.token },
            by: { ...owner, token: t },
          }),
        );
      }
      return t;
    });
    Atomics.store(this.conn.lease, LEASE.renewedFrom, sentAt);
    if (this.token === token) return;
    this.token = token;
    this.conn.call({ op: "leaseStart", token, ttlMs: this.ttlMs, renewMs: this.renewMs });
  }

  /** The lock row FOR UPDATE, or STORE_LOCKED when another session held it past lock_timeout. */
  private lockedRow(): LeaseRow | undefined {
    try {
      return this.core.sql.get<LeaseRow>(
        "SELECT pid, hostname, command, acquired_at, token, expires_at > now() AS live, expires_at::text AS expires_at FROM lock WHERE id = 1 FOR UPDATE",
      );
    } catch (e) {
      if (e instanceof PostgresFailure && e.code === LOCK_NOT_AVAILABLE) {
        throw new StoreError("STORE_LOCKED", `store ${this.core.path} is locked: another session held its lock row for more than ${ACQUIRE_LOCK_WAIT_MS} ms (a holder's write under way)`, {
          path: this.core.path,
          cause: e,
        });
      }
      throw e;
    }
  }

  release(): void {
    const token = this.token;
    if (token === undefined) return;
    // Not fenced: deleting the row only if it still carries our token is safe whoever holds the lease.
    this.token = undefined;
    Atomics.store(this.conn.lease, LEASE.status, LEASE_NOT_HELD);
    this.conn.call({ op: "leaseStop" });
    this.core.write("releasing the store's lease", {}, () => {
      this.core.sql.run("DELETE FROM lock WHERE id = 1 AND token = ?", [token]);
    });
  }

  breakLock(by: LockOwner): LockHolder | undefined {
    const core = this.core;
    return core.write("breaking the store's lease", {}, () => {
      core.sql.run("SELECT pg_advisory_xact_lock(?)", [LOCK_KEY]);
      const row = core.sql.get<LeaseRow>("SELECT pid, hostname, command, acquired_at, token, true AS live, expires_at::text AS expires_at FROM lock WHERE id = 1 FOR UPDATE");
      if (!row) return undefined;
      core.sql.run("DELETE FROM lock WHERE id = 1");
      const previous = { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at };
      core.insertJournal(null, null, "note", JSON.stringify({ event: "lock_broken", previous: { ...previous, token: row.token }, by }));
      return previous;
    });
  }

  holder(): LockHolder | undefined {
    const row = this.core.read("reading the store's lease", {}, () =>
      this.core.sql.get<LeaseRow>("SELECT pid, hostname, command, acquired_at, token, expires_at > now() AS live, expires_at::text AS expires_at FROM lock WHERE id = 1"),
    );
    // A lease that ran out is held by nobody, whatever the row says.
    return row && row.live ? { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at } : undefined;
  }

  state(): LockState {
    if (this.token === undefined || this.status !== LEASE_HELD) return { held: false };
    return {
      held: true,
      kind: "lease",
      token: this.token,
      safeForMs: Math.max(0, this.ttlMs - this.marginMs - this.sinceRenewalMs()),
      renewals: Number(Atomics.load(this.conn.lease, LEASE.renewals)),
    };
  }

  onLost(listener: (why: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** True once the lease was lost while held. */
  get lost(): boolean {
    return this.lostWhy !== undefined;
  }

  close(): void {
    this.unsubscribe();
  }
}
