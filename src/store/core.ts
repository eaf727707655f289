/**
 * What every table's code shares: the connection, the clock, the document
 * versions, and the write-behind buffer with its ordering rule (a durable write
 * first commits everything buffered before it, in the same transaction).
 *
 * Why a write-behind buffer at all: a 10,000-host rollout saves about 100,000
 * snapshots plus as many journal lines, most of them while hosts wait on MAAS.
 * Grouping them into one transaction every few hundred milliseconds, and keeping
 * only the newest snapshot of a host that changed twice in that window, cuts
 * that to a handful of commits a second. Writes that protect against repeating
 * a MAAS call are never buffered.
 */
import type { Clock } from "../clock.ts";
import type { DocumentVersion } from "./envelope.ts";
import { StoreError, describeWhere, toStoreError, type StoreErrorInit } from "./errors.ts";
import type { SqlConnection, SqlValue } from "./sql.ts";
import type { JournalKind } from "./types.ts";

/** Bound parameters of one host upsert / journal insert / call end, kept ready in the buffer. */
export type Params = SqlValue[];

export const HOST_UPSERT = `
INSERT INTO host (rollout_id, system_id, hostname, wave, roles, phase, outcome, last_error, maas_status, updated_at, snapshot, region)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (rollout_id, system_id) DO UPDATE SET
  hostname = excluded.hostname, wave = excluded.wave, roles = excluded.roles, phase = excluded.phase,
  outcome = excluded.outcome, last_error = excluded.last_error, maas_status = excluded.maas_status,
  updated_at = excluded.updated_at, snapshot = excluded.snapshot`;

export const JOURNAL_INSERT = `INSERT INTO journal (rollout_id, system_id, kind, at, data) VALUES (?, ?, ?, ?, ?)`;
export const CALL_END_IF_OPEN = `UPDATE maas_call SET ended_at = ?, outcome = ?, detail = ? WHERE id = ? AND ended_at IS NULL`;

/**
 * Who may write: the lock's own check, run before every write transaction (the
 * PostgreSQL lease refuses once its holder can no longer be sure it holds it)
 * and as the first statement inside it (the fencing token, checked by the
 * database itself).
 */
export interface WriteGuard {
  /** Throws STORE_FENCED when this process must not write any more. Local, no I/O. */
  check(): void;
  /** Runs inside the write transaction, before anything else is written. */
  fence(sql: SqlConnection): void;
  /** Told when the database refused a write as fenced (STORE_FENCED). */
  refused(e: StoreError): void;
}

export interface CoreOptions {
  hostVersion: DocumentVersion;
  stateVersion: DocumentVersion;
  clock: Clock;
  writeBehindMs: number;
  writeBehindMaxOps: number;
  onFlushError: ((e: StoreError) => void) | undefined;
}

export class StoreCore {
  readonly path: string;
  readonly sql: SqlConnection;
  readonly hostVersion: DocumentVersion;
  readonly stateVersion: DocumentVersion;
  private readonly clock: Clock;
  private readonly writeBehindMs: number;
  private readonly writeBehindMaxOps: number;
  private readonly onFlushError: ((e: StoreError) => void) | undefined;
  /** Rollout ids known to exist, so buffered writes are checked when made, not when flushed. */
  private readonly knownRollouts = new Set<string>();
  /** Newest pending snapshot per host: an older one in the same window is never worth writing. */
  private pendingHosts = new Map<string, Params>();
  private pendingJournal: Params[] = [];
  /** Buffered call endings: [ended_at, outcome, detail, id]. */
  private pendingCallEnds: Params[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The last stamp made and the millisecond it is for: a stamp is made for every row, many per millisecond. */
  private lastStamp = { ms: Number.NaN, iso: "" };
  guard: WriteGuard | undefined;
  closed = false;

  constructor(sql: SqlConnection, path: string, opts: CoreOptions) {
    this.sql = sql;
    this.path = path;
    this.hostVersion = opts.hostVersion;
    this.stateVersion = opts.stateVersion;
    this.clock = opts.clock;
    this.writeBehindMs = Math.max(0, opts.writeBehindMs);
    this.writeBehindMaxOps = Math.max(1, opts.writeBehindMaxOps);
    this.onFlushError = opts.onFlushError;
  }

  at(): string {
    // Date's own rounding (TimeClip truncates): the same millisecond gives the same stamp.
    const ms = Math.trunc(this.clock.wallNow());
    if (ms !== this.lastStamp.ms) this.lastStamp = { ms, iso: new Date(ms).toISOString() };
    return this.lastStamp.iso;
  }

  ensureOpen(): void {
    if (this.closed) throw new StoreError("STORE_IO", `store ${this.path} is closed`, { path: this.path });
  }

  /** Runs a read, mapping driver failures; reads see this process's buffered writes because they flush first. */
  read<T>(doing: string, where: StoreErrorInit, fn: () => T): T {
    this.ensureOpen();
    this.flush();
    try {
      return fn();
    } catch (e) {
      throw this.mapDriver(e, doing, where);
    }
  }

  /** Driver failures become StoreErrors; anything else (a caller's own error inside transaction()) passes through unchanged. */
  mapDriver(e: unknown, doing: string, where: StoreErrorInit): unknown {
    const mapped = this.sql.storeError(e, doing, { path: this.path, ...where }) ?? e;
    if (mapped instanceof StoreError && mapped.code === "STORE_FENCED") this.guard?.refused(mapped);
    return mapped;
  }

  /**
   * Runs fn in a write transaction together with everything buffered, so the
   * store never holds this write without the ones made before it. Inside an
   * outer transaction() it simply joins it.
   */
  write<T>(doing: string, where: StoreErrorInit, fn: () => T): T {
    this.ensureOpen();
    try {
      if (this.sql.inTransaction) return fn();
      return this.inTransaction(fn);
    } catch (e) {
      throw this.mapDriver(e, doing, where);
    }
  }

  private inTransaction<T>(fn: () => T): T {
    const hosts = this.pendingHosts;
    const journal = this.pendingJournal;
    const callEnds = this.pendingCallEnds;
    this.guard?.check();
    this.sql.begin();
    let result: T;
    try {
      this.guard?.fence(this.sql);
      if (this.sql.backend === "postgres") {
        // Each statement is a round trip to the server: many rows go in one statement.
        for (const rows of chunks([...hosts.values()], ROWS_PER_STATEMENT)) this.sql.run(multiRow(HOST_UPSERT, rows.length), rows.flat());
        for (const p of callEnds) this.sql.run(CALL_END_IF_OPEN, p);
        for (const rows of chunks(journal, ROWS_PER_STATEMENT)) this.sql.run(multiRow(JOURNAL_INSERT, rows.length), rows.flat());
      } else {
        for (const p of hosts.values()) this.sql.run(HOST_UPSERT, p);
        for (const p of callEnds) this.sql.run(CALL_END_IF_OPEN, p);
        for (const p of journal) this.sql.run(JOURNAL_INSERT, p);
      }
      result = fn();
      this.sql.commit();
    } catch (e) {
      // The buffer is left as it was, so a later flush retries what this one could not commit.
      if (this.sql.inTransaction) this.sql.rollback();
      throw e;
    }
    if (this.pendingHosts === hosts && hosts.size > 0) this.pendingHosts = new Map();
    if (this.pendingJournal === journal && journal.length > 0) this.pendingJournal = [];
    if (this.pendingCallEnds === callEnds && callEnds.length > 0) this.pendingCallEnds = [];
    this.cancelTimer();
    return result;
  }

  get pendingOps(): number {
    return this.pendingHosts.size + this.pendingJournal.length + this.pendingCallEnds.length;
  }

  /** True when a write must go to the database now rather than into the buffer. */
  writesThrough(): boolean {
    return this.writeBehindMs === 0 || this.sql.inTransaction;
  }

  bufferHost(key: string, params: Params): void {
    this.guard?.check();
    this.pendingHosts.set(key, params);
    this.buffered();
  }

  bufferJournal(params: Params): void {
    this.guard?.check();
    this.pendingJournal.push(params);
    this.buffered();
  }

  bufferCallEnd(end: Params, journal: Params): void {
    this.guard?.check();
    this.pendingCallEnds.push(end);
    this.pendingJournal.push(journal);
    this.buffered();
  }

  private buffered(): void {
    if (this.pendingOps >= this.writeBehindMaxOps) {
      this.flush();
      return;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flushFromTimer(), this.writeBehindMs);
      // A pending flush must not keep a finished CLI alive; close() flushes what is left.
      this.timer.unref();
    }
  }

  private flushFromTimer(): void {
    this.timer = undefined;
    if (this.closed) return;
    try {
      this.flush();
    } catch (e) {
      this.onFlushError?.(toStoreError(e, "flushing buffered writes", { path: this.path }));
    }
  }

  cancelTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  flush(): void {
    this.ensureOpen();
    if (this.pendingOps === 0 || this.sql.inTransaction) return;
    try {
      this.inTransaction(() => undefined);
    } catch (e) {
      const doing = `flushing ${this.pendingOps} buffered writes`;
      const err = e instanceof StoreError ? e : (this.sql.storeError(e, doing, { path: this.path }) ?? toStoreError(e, doing, { path: this.path }));
      if (this.sql.isForeignKeyViolation(e)) throw new StoreError("STORE_NOT_FOUND", err.message, { path: this.path, cause: e });
      throw err;
    }
  }

  /** Drops what is buffered without writing it: for a holder that lost its lease and must write nothing more. */
  discardBuffer(): number {
    const n = this.pendingOps;
    this.pendingHosts = new Map();
    this.pendingJournal = [];
    this.pendingCallEnds = [];
    this.cancelTimer();
    return n;
  }

  rolloutKnown(rolloutId: string): void {
    this.knownRollouts.add(rolloutId);
  }

  ensureRollout(rolloutId: string, doing: string): void {
    if (this.knownRollouts.has(rolloutId)) return;
    let row: unknown;
    try {
      row = this.sql.get("SELECT 1 AS found FROM rollout WHERE id = ?", [rolloutId]);
    } catch (e) {
      throw this.sql.storeError(e, doing, { path: this.path, rolloutId }) ?? toStoreError(e, doing, { path: this.path, rolloutId });
    }
    if (row === undefined) {
      throw new StoreError("STORE_NOT_FOUND", `${doing}: no rollout ${rolloutId} in store ${this.path}`, { path: this.path, rolloutId });
    }
    this.knownRollouts.add(rolloutId);
  }

  /** A journal line inside the current write; its seq is not needed. */
  insertJournal(rolloutId: string | null, systemId: string | null, kind: JournalKind, data: string): void {
    this.sql.run(JOURNAL_INSERT, [rolloutId, systemId, kind, this.at(), data]);
  }

  /** A journal line inside the current write, returning its seq. */
  insertJournalSeq(params: Params): number {
    const row = this.sql.get<{ seq: number }>(`${JOURNAL_INSERT} RETURNING seq`, params);
    return Number(row?.seq);
  }
}

/** Rows of a buffered flush sent in one statement on PostgreSQL (host rows have 11 parameters: well below its 65,535). */
const ROWS_PER_STATEMENT = 500;

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** `INSERT ... VALUES (?, ...)` with its one row of placeholders repeated `n` times (the rest of the statement kept). */
function multiRow(sql: string, n: number): string {
  const m = /VALUES \(([?, ]+)\)/.exec(sql);
  if (!m || n === 1) return sql;
  const row = `(${m[1]})`;
  return sql.replace(m[0], `VALUES ${Array.from({ length: n }, () => row).join(", ")}`);
}

/** JSON text for a column, or STORE_SCHEMA naming what could not be serialised. */
export function toJson(value: unknown, what: string, where: StoreErrorInit): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new StoreError("STORE_SCHEMA", `${what}${describeWhere(where)} cannot be written as JSON (${e instanceof Error ? e.message : String(e)})`, {
      ...where,
      cause: e,
    });
  }
  return text ?? "null";
}
