/**
 * The store's public contract. The runtime, the CLI and test fakes depend on the
 * `Store` interface only; `openStore` (store.ts) implements it over node:sqlite.
 *
 * Durability, per method: "durable" means the write is committed to the SQLite
 * WAL when the method returns (it survives kill -9 of this process). "buffered"
 * means it may sit in the write-behind buffer for up to `writeBehindMs` when the
 * store was opened with one; with `writeBehindMs: 0` (the default) buffered
 * methods are durable too. Every durable write first commits whatever is
 * buffered, in the same transaction, so the file never holds a later write
 * without the earlier ones.
 */
import type { PersistedSnapshot } from "./envelope.ts";

export type { PersistedSnapshot } from "./envelope.ts";

export type RolloutStatus = "running" | "paused" | "completed" | "aborted" | "failed";
export const ROLLOUT_STATUSES: readonly RolloutStatus[] = ["running", "paused", "completed", "aborted", "failed"];

export type JournalKind = "transition" | "maas_call" | "override" | "rollout" | "remediation" | "note";
export const JOURNAL_KINDS: readonly JournalKind[] = ["transition", "maas_call", "override", "rollout", "remediation", "note"];

export type CallOutcome = "ok" | "error" | "unknown";
export const CALL_OUTCOMES: readonly CallOutcome[] = ["ok", "error", "unknown"];

/** The kind of MAAS region a rollout ran against: a real one, or the embedded simulator. */
export type RegionKind = "real" | "simulated";
export const REGION_KINDS: readonly RegionKind[] = ["real", "simulated"];

/** The region a rollout ran against, as recorded when it was created. */
export interface RolloutRegion {
  kind: RegionKind;
  /** The region's URL (the embedded simulator's is a loopback address gone with its process). */
  url: string;
}

/** A rollout without its plan: what `listRollouts` returns. */
export interface RolloutSummary {
  id: string;
  createdAt: string;
  updatedAt: string;
  status: RolloutStatus;
  /** Why it is paused, aborted or failed; null while running or once completed. */
  reason: string | null;
  /** The region it ran against; null when it was not recorded (rollouts of store schema 1, or created without one). */
  region: RolloutRegion | null;
}

export interface RolloutRecord extends RolloutSummary {
  /** The exact plan the rollout runs, as given to `createRollout`. The caller validates it with its own schema. */
  plan: unknown;
}

/** What `saveHost` writes. The record replaces the stored one as a whole. */
export interface HostInput {
  systemId: string;
  hostname: string;
  wave: number;
  roles: readonly string[];
  /** The host machine's top-level state name (see `topLevelState`). */
  phase: string;
  /** Set once the host has settled (e.g. "inService", "failed"); null while it is in flight. */
  outcome?: string | null | undefined;
  /** A JSON-serialisable error summary; never put secrets in it. */
  lastError?: unknown;
  /** The last MAAS status code seen for the machine. */
  maasStatus?: number | null | undefined;
  /** `actor.getPersistedSnapshot()`; null before the host's actor has started. */
  snapshot: unknown;
}

export interface HostRecord {
  rolloutId: string;
  /** The host key: the system_id, or `<region>/<system_id>` with several regions. */
  systemId: string;
  /** Several regions: the host's region (store schema 3); null with one region. */
  region: string | null;
  hostname: string;
  wave: number;
  roles: string[];
  phase: string;
  outcome: string | null;
  lastError: unknown;
  maasStatus: number | null;
  updatedAt: string;
  /** Validated and migrated to the current schema version; null if none was saved. */
  snapshot: PersistedSnapshot | null;
}

export interface HostCounts {
  total: number;
  byPhase: Record<string, number>;
  /** Settled hosts by outcome; hosts without an outcome are counted in `unsettled`. */
  byOutcome: Record<string, number>;
  unsettled: number;
  /** The same counts per wave, in wave order. */
  waves: { wave: number; total: number; byPhase: Record<string, number>; byOutcome: Record<string, number>; unsettled: number }[];
}

export interface JournalInput {
  rolloutId: string;
  systemId?: string | undefined;
  kind: JournalKind;
  /** Any JSON-serialisable value; never put secrets in it. */
  data: unknown;
}

export interface JournalEntry {
  seq: number;
  /** Null only for store-level entries such as a lock takeover (read them with `journal(null)`). */
  rolloutId: string | null;
  systemId: string | null;
  kind: JournalKind;
  at: string;
  data: unknown;
}

export interface JournalQuery {
  systemId?: string | undefined;
  kind?: JournalKind | undefined;
  /** Only entries with a larger seq: a cursor for tailing. */
  afterSeq?: number | undefined;
  limit?: number | undefined;
  /** "desc" with a limit gives the newest entries; default "asc". */
  order?: "asc" | "desc" | undefined;
}

/** Which call `endCallLater` ends: what its journal entry needs without reading the row. */
export interface EndCallInput {
  callId: number;
  rolloutId: string;
  systemId: string;
  operation: string;
}

export interface BeginCallInput {
  rolloutId: string;
  systemId: string;
  /** The MAAS operation, e.g. "deploy", "release", "commission". */
  operation: string;
  /** A small JSON summary of the request. Never the API key, and not user_data (it may hold secrets). */
  params?: unknown;
}

export interface OpenCall {
  id: number;
  rolloutId: string;
  systemId: string;
  operation: string;
  params: unknown;
  begunAt: string;
}

export interface LockOwner {
  pid: number;
  hostname: string;
  /** What the holder runs, e.g. "metalwave start"; shown to whoever is refused. */
  command: string;
}

export interface LockHolder extends LockOwner {
  acquiredAt: string;
}

/**
 * What this store's lock is worth now. A file lock (SQLite) is held while the
 * process lives; a lease (PostgreSQL) must be renewed, and is safe to act on
 * only for `safeForMs` more milliseconds of this process's monotonic clock.
 */
export type LockState =
  | { held: false }
  | { held: true; kind: "file" }
  | { held: true; kind: "lease"; token: number; safeForMs: number; renewals: number };

export interface Store {
  /** The file this store was opened on (":memory:" for an in-memory store), or the PostgreSQL URL without its password. */
  readonly path: string;
  /** Which database holds the data. */
  readonly backend: "sqlite" | "postgres";

  // Rollouts: all durable.
  /** Starts a new rollout with status "running", recording the region it runs against. Journals a "rollout" entry. */
  createRollout(plan: unknown, opts?: { id?: string; region?: RolloutRegion }): RolloutRecord;
  /** The most recently created rollout, or undefined in an empty store. */
  latestRollout(): RolloutRecord | undefined;
  getRollout(id: string): RolloutRecord | undefined;
  /** Newest first, without plans (a plan for 10,000 hosts is large). */
  listRollouts(): RolloutSummary[];
  /** Sets status and reason (cleared when omitted) and journals the change. STORE_NOT_FOUND for an unknown id. */
  setRolloutStatus(id: string, status: RolloutStatus, reason?: string): void;
  /**
   * Replaces the rollout's plan by a grown one (a region planned after the rollout started
   * joins its hosts) and journals a "planExtended" entry. STORE_NOT_FOUND for an unknown id.
   */
  extendRolloutPlan(id: string, plan: unknown, data: Record<string, unknown>): void;
  /** The rollout machine's own state, enveloped with the configured schema version. */
  saveRolloutState(id: string, state: unknown): void;
  /** Undefined when none was saved; STORE_SCHEMA / STORE_CORRUPT when it cannot be read back. */
  loadRolloutState(id: string): unknown;

  // Hosts.
  /** Buffered upsert of one host's record. Validates and serialises the snapshot at call time. */
  saveHost(rolloutId: string, host: HostInput): void;
  getHost(rolloutId: string, systemId: string): HostRecord | undefined;
  /** Every host of the rollout, ordered by wave then system_id. Throws on the first unreadable snapshot. */
  loadHosts(rolloutId: string): HostRecord[];
  /** Like loadHosts, one record at a time, for callers that need not hold 10,000 snapshots at once. */
  iterateHosts(rolloutId: string): IterableIterator<HostRecord>;
  /** Counts by phase and outcome, computed in SQL without reading snapshots. */
  hostCounts(rolloutId: string): HostCounts;

  // Journal.
  /** Buffered append. Returns the entry's seq when written through, undefined while it waits in the buffer. */
  appendJournal(entry: JournalInput): number | undefined;
  /** Entries of a rollout in seq order (null: store-level entries). */
  journal(rolloutId: string | null, query?: JournalQuery): JournalEntry[];

  // MAAS calls whose outcome must never be guessed.
  /** Durable: records the intent before a state-changing request is sent. Returns the call id. */
  beginCall(call: BeginCallInput): number;
  /** Durable: records the outcome. Returns false if the call had already ended; STORE_NOT_FOUND for an unknown id. */
  endCall(callId: number, outcome: CallOutcome, detail?: string): boolean;
  /**
   * Ends a call through the write-behind buffer (written through when there is none). A
   * crash before the flush leaves the call open, which is safe: a restart reconciles an
   * open call by reading MAAS. A call already ended stays as it was.
   */
  endCallLater(call: EndCallInput, outcome: CallOutcome, detail?: string): void;
  /** False once `close()` has run. */
  readonly isOpen: boolean;
  /** Calls begun and never ended, oldest first: after a crash, their outcome must be read back from MAAS. */
  openCalls(rolloutId: string): OpenCall[];

  // The single-runner lock.
  /** Durable. Throws STORE_LOCKED while another live process holds it; takes over (and journals) a stale one. */
  acquireLock(owner: LockOwner): void;
  /** Releases the lock if this store holds it; a no-op otherwise. */
  releaseLock(): void;
  /**
   * Removes the lock whoever holds it and journals who did so; returns the holder it removed.
   * For an operator whose runner died on another host, where liveness cannot be checked.
   */
  breakLock(by: LockOwner): LockHolder | undefined;
  /** Who holds the lock now, if anyone (for `metalwave status`). */
  lockHolder(): LockHolder | undefined;
  /** Whether this store holds the lock, and for a lease how long it may still act on it. */
  lockState(): LockState;
  /**
   * Throws STORE_FENCED when this store held a lease that it can no longer be
   * sure of (not renewed within the lease, or superseded). Local, no I/O: call
   * it before anything that acts outside the store, such as a MAAS request.
   * A no-op for a file lock or when no lock is held.
   */
  assertMayAct(): void;
  /** Called once when a held lease is lost; returns an unsubscribe. Never called for a file lock. */
  onLockLost(listener: (why: string) => void): () => void;
  /** acquireLock, run fn, releaseLock (also when fn throws or rejects). */
  withLock<T>(owner: LockOwner, fn: () => T | Promise<T>): Promise<T>;

  // Batching.
  /** Runs fn in one transaction (joining an outer one). fn must be synchronous. Writes inside it are durable when it returns. */
  transaction<T>(fn: () => T): T;
  /** Commits everything in the write-behind buffer now. */
  flush(): void;
  /** Flushes, releases the lock if held, and closes the file. Idempotent. */
  close(): void;
}
