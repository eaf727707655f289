/**
 * The durable store behind the `Store` port (types.ts): `openStore` picks the
 * backend from what it is given (a file path: SQLite; a postgres:// URL:
 * PostgreSQL) and returns one `SqlStore` over it. The tables' code lives in one
 * file each (rollouts, hosts, journal, calls, lock); core.ts holds what they
 * share. docs/store.md explains the tables and the durability rules.
 */
import { dirname } from "node:path";
import { systemClock, type Clock } from "../clock.ts";
import { StoreCore } from "./core.ts";
import * as calls from "./calls.ts";
import type { DocumentVersion } from "./envelope.ts";
import { StoreError } from "./errors.ts";
import * as hosts from "./hosts.ts";
import * as journal from "./journal.ts";
import { LeaseLock, type LeaseOptions } from "./lease.ts";
import { FileLock, type LockKeeper } from "./lock.ts";
import { openPostgres } from "./postgres/connection.ts";
import { isPostgresUrl } from "./postgres/url.ts";
import * as rollouts from "./rollouts.ts";
import type { SqlConnection } from "./sql.ts";
import { openSqlite } from "./sqlite.ts";
import type {
  BeginCallInput,
  CallOutcome,
  EndCallInput,
  HostCounts,
  HostInput,
  HostRecord,
  JournalEntry,
  JournalInput,
  JournalQuery,
  LockHolder,
  LockOwner,
  LockState,
  OpenCall,
  RolloutRecord,
  RolloutRegion,
  RolloutStatus,
  RolloutSummary,
  Store,
} from "./types.ts";

/** Where the CLI keeps its store, relative to the current directory. */
export const DEFAULT_STORE_PATH = ".metalwave/metalwave.sqlite";

/** The host snapshot and controller state versions this build writes, unless opened with others. */
export const HOST_SNAPSHOT_VERSION = 1;
export const ROLLOUT_STATE_VERSION = 1;

export interface StoreOptions {
  /** SQLite: how long a write waits for another connection's lock before failing with STORE_IO. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * SQLite. "normal" (default): commits survive a crash of this process, not a power loss.
   * "full": every commit is fsynced and survives a power loss too, at the cost of one fsync per commit.
   */
  synchronous?: "normal" | "full";
  /** How long buffered writes (saveHost, appendJournal) may wait before being committed. 0 (default): write through. */
  writeBehindMs?: number;
  /** Buffered writes that force a commit at once, whatever the timer says. Default 2000. */
  writeBehindMaxOps?: number;
  /** Reports a failed timer-driven flush; the writes stay buffered and the next flush retries them. */
  onFlushError?: (e: StoreError) => void;
  hostSnapshot?: DocumentVersion;
  rolloutState?: DocumentVersion;
  /** Stamps what the store writes (src/clock.ts). Default: the system clock. */
  clock?: Clock;
  /** PostgreSQL: the lease on the lock (its length, how often it is renewed). */
  lease?: LeaseOptions;
  /** PostgreSQL: how long one call to the database may take before STORE_IO. Default 30 s. */
  callTimeoutMs?: number;
  /** PostgreSQL: where the password is looked up (postgres/url.ts). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The store over either driver: every method delegates to its table's file. */
export class SqlStore implements Store {
  readonly path: string;
  readonly backend: "sqlite" | "postgres";
  private readonly core: StoreCore;
  private readonly lock: LockKeeper;

  constructor(sql: SqlConnection, path: string, opts: StoreOptions, lock: (core: StoreCore) => LockKeeper = (core) => new FileLock(core)) {
    this.path = path;
    this.backend = sql.backend;
    this.core = new StoreCore(sql, path, {
      hostVersion: opts.hostSnapshot ?? { current: HOST_SNAPSHOT_VERSION },
      stateVersion: opts.rolloutState ?? { current: ROLLOUT_STATE_VERSION },
      clock: opts.clock ?? systemClock,
      writeBehindMs: opts.writeBehindMs ?? 0,
      writeBehindMaxOps: opts.writeBehindMaxOps ?? 2000,
      onFlushError: opts.onFlushError,
    });
    this.lock = lock(this.core);
  }

  get isOpen(): boolean {
    return !this.core.closed;
  }

  createRollout(plan: unknown, opts?: { id?: string; region?: RolloutRegion }): RolloutRecord {
    return rollouts.createRollout(this.core, plan, opts);
  }
  latestRollout(): RolloutRecord | undefined {
    return rollouts.latestRollout(this.core);
  }
  getRollout(id: string): RolloutRecord | undefined {
    return rollouts.getRollout(this.core, id);
  }
  listRollouts(): RolloutSummary[] {
    return rollouts.listRollouts(this.core);
  }
  setRolloutStatus(id: string, status: RolloutStatus, reason?: string): void {
    rollouts.setRolloutStatus(this.core, id, status, reason);
  }
  extendRolloutPlan(id: string, plan: unknown, data: Record<string, unknown>): void {
    rollouts.extendRolloutPlan(this.core, id, plan, data);
  }
  saveRolloutState(id: string, state: unknown): void {
    rollouts.saveRolloutState(this.core, id, state);
  }
  loadRolloutState(id: string): unknown {
    return rollouts.loadRolloutState(this.core, id);
  }

  saveHost(rolloutId: string, host: HostInput): void {
    hosts.saveHost(this.core, rolloutId, host);
  }
  getHost(rolloutId: string, systemId: string): HostRecord | undefined {
    return hosts.getHost(this.core, rolloutId, systemId);
  }
  loadHosts(rolloutId: string): HostRecord[] {
    return [...hosts.iterateHosts(this.core, rolloutId)];
  }
  iterateHosts(rolloutId: string): IterableIterator<HostRecord> {
    return hosts.iterateHosts(this.core, rolloutId);
  }
  hostCounts(rolloutId: string): HostCounts {
    return hosts.hostCounts(this.core, rolloutId);
  }

  appendJournal(entry: JournalInput): number | undefined {
    return journal.appendJournal(this.core, entry);
  }
  journal(rolloutId: string | null, query?: JournalQuery): JournalEntry[] {
    return journal.journal(this.core, rolloutId, query);
  }

  beginCall(call: BeginCallInput): number {
    return calls.beginCall(this.core, call);
  }
  endCall(callId: number, outcome: CallOutcome, detail?: string): boolean {
    return calls.endCall(this.core, callId, outcome, detail);
  }
  endCallLater(call: EndCallInput, outcome: CallOutcome, detail?: string): void {
    calls.endCallLater(this.core, call, outcome, detail);
  }
  openCalls(rolloutId: string): OpenCall[] {
    return calls.openCalls(this.core, rolloutId);
  }

  acquireLock(owner: LockOwner): void {
    this.lock.acquire(owner);
  }
  releaseLock(): void {
    this.lock.release();
  }
  breakLock(by: LockOwner): LockHolder | undefined {
    return this.lock.breakLock(by);
  }
  lockHolder(): LockHolder | undefined {
    return this.lock.holder();
  }
  lockState(): LockState {
    return this.lock.state();
  }
  assertMayAct(): void {
    this.core.guard?.check();
  }
  onLockLost(listener: (why: string) => void): () => void {
    return this.lock.onLost(listener);
  }
  async withLock<T>(owner: LockOwner, fn: () => T | Promise<T>): Promise<T> {
    this.acquireLock(owner);
    try {
      return await fn();
    } finally {
      this.releaseLock();
    }
  }

  transaction<T>(fn: () => T): T {
    return this.core.write("running a transaction", {}, () => {
      const result = fn();
      if (result !== null && typeof result === "object" && typeof (result as { then?: unknown }).then === "function") {
        // The drivers are synchronous: a transaction left open across an await would swallow other callers' writes.
        throw new StoreError("STORE_IO", "transaction(fn) needs a synchronous fn; it returned a promise and was rolled back", { path: this.path });
      }
      return result;
    });
  }

  flush(): void {
    this.core.flush();
  }

  close(): void {
    const core = this.core;
    if (core.closed) return;
    core.cancelTimer();
    try {
      // A holder that lost its lease dropped its buffer then, and writes nothing more.
      this.flush();
    } finally {
      try {
        this.lock.release();
      } finally {
        this.lock.close();
        core.closed = true;
        core.sql.close();
      }
    }
  }
}

/**
 * Opens (creating if needed) the store at `path`: a `postgres://` URL opens a
 * PostgreSQL store (migrating its schema forward); anything else is a SQLite
 * file, whose parent directories are created. ":memory:" gives a private
 * in-memory SQLite store for tests.
 */
export function openStore(path: string, opts: StoreOptions = {}): Store {
  if (isPostgresUrl(path)) {
    const conn = openPostgres(path, { callTimeoutMs: opts.callTimeoutMs, env: opts.env });
    return new SqlStore(conn, conn.path, opts, (core) => new LeaseLock(core, conn, opts.lease));
  }
  const sql = openSqlite(path, { busyTimeoutMs: opts.busyTimeoutMs, synchronous: opts.synchronous });
  return new SqlStore(sql, path, opts);
}

/**
 * Where files that belong beside the store live on this host (pinned SSH host keys):
 * the SQLite file's directory, or `.metalwave` for a PostgreSQL store.
 */
export function localStateDir(store: string): string {
  return isPostgresUrl(store) ? ".metalwave" : dirname(store);
}
