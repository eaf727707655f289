/**
 * The durable store over Node's built-in node:sqlite (one file, WAL mode).
 * See types.ts for the contract and docs/store.md for the durability rules.
 *
 * Why a write-behind buffer at all: a 10,000-host rollout saves about 100,000
 * snapshots plus as many journal lines, most of them while hosts wait on MAAS.
 * A commit in WAL mode with synchronous=NORMAL costs no fsync, but still a WAL
 * append and lock round trip per row; grouping them into one transaction every
 * few hundred milliseconds, and keeping only the newest snapshot of a host that
 * changed twice in that window, cuts that to a handful of commits a second.
 * Writes that protect against repeating a MAAS call are never buffered.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import {
  decodeHostSnapshot,
  decodeRolloutState,
  encodeHostSnapshot,
  encodeRolloutState,
  parseJson,
  type DocumentVersion,
} from "./envelope.ts";
import { StoreError, describeWhere, isForeignKeyViolation, sqliteCode, toStoreError, type StoreErrorInit } from "./errors.ts";
import { heldInThisProcess, processAlive } from "./lock.ts";
import { META_DDL, MIGRATIONS, STORE_SCHEMA_VERSION } from "./schema.ts";
import {
  CALL_OUTCOMES,
  JOURNAL_KINDS,
  ROLLOUT_STATUSES,
  type BeginCallInput,
  type EndCallInput,
  type CallOutcome,
  type HostCounts,
  type HostInput,
  type HostRecord,
  type JournalEntry,
  type JournalInput,
  type JournalKind,
  type JournalQuery,
  type LockHolder,
  type LockOwner,
  type OpenCall,
  type RolloutRecord,
  type RolloutStatus,
  type RolloutSummary,
  type Store,
} from "./types.ts";

/** Where the CLI keeps its store, relative to the current directory. */
export const DEFAULT_STORE_PATH = ".metalwave/metalwave.sqlite";

/** The host snapshot and controller state versions this build writes, unless opened with others. */
export const HOST_SNAPSHOT_VERSION = 1;
export const ROLLOUT_STATE_VERSION = 1;

export interface StoreOptions {
  /** How long a write waits for another connection's lock before failing with STORE_IO. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * "normal" (default): commits survive a crash of this process, not a power loss.
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
  now?: () => Date;
}

interface RolloutRow {
  id: string;
  created_at: string;
  updated_at: string;
  status: string;
  reason: string | null;
  plan?: string;
}

interface HostRow {
  rollout_id: string;
  system_id: string;
  hostname: string;
  wave: number;
  roles: string;
  phase: string;
  outcome: string | null;
  last_error: string | null;
  maas_status: number | null;
  updated_at: string;
  snapshot: string | null;
}

interface JournalRow {
  seq: number;
  rollout_id: string | null;
  system_id: string | null;
  kind: string;
  at: string;
  data: string;
}

interface CallRow {
  id: number;
  rollout_id: string;
  system_id: string;
  operation: string;
  params: string | null;
  begun_at: string;
  ended_at: string | null;
}

interface LockRow {
  pid: number;
  hostname: string;
  command: string;
  acquired_at: string;
  token: string;
}

/** Bound parameters of one host upsert / journal insert, kept ready in the buffer. */
type Params = SQLInputValue[];

const HOST_UPSERT = `
INSERT INTO host (rollout_id, system_id, hostname, wave, roles, phase, outcome, last_error, maas_status, updated_at, snapshot)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (rollout_id, system_id) DO UPDATE SET
  hostname = excluded.hostname, wave = excluded.wave, roles = excluded.roles, phase = excluded.phase,
  outcome = excluded.outcome, last_error = excluded.last_error, maas_status = excluded.maas_status,
  updated_at = excluded.updated_at, snapshot = excluded.snapshot`;

const JOURNAL_INSERT = `INSERT INTO journal (rollout_id, system_id, kind, at, data) VALUES (?, ?, ?, ?, ?)`;
const CALL_END_IF_OPEN = `UPDATE maas_call SET ended_at = ?, outcome = ?, detail = ? WHERE id = ? AND ended_at IS NULL`;

const HOST_COLUMNS = `rollout_id, system_id, hostname, wave, roles, phase, outcome, last_error, maas_status, updated_at, snapshot`;

/**
 * Opens (creating if needed) the store at `path`, creating its parent
 * directories. ":memory:" gives a private in-memory store for tests.
 */
export function openStore(path: string, opts: StoreOptions = {}): Store {
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
  return new SqliteStore(db, path, opts);
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
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(
      String(STORE_SCHEMA_VERSION),
    );
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

function isRolloutStatus(s: string): s is RolloutStatus {
  return (ROLLOUT_STATUSES as readonly string[]).includes(s);
}

function isJournalKind(s: string): s is JournalKind {
  return (JOURNAL_KINDS as readonly string[]).includes(s);
}

/** JSON text for a column, or STORE_SCHEMA naming what could not be serialised. */
function toJson(value: unknown, what: string, where: StoreErrorInit): string {
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

function newRolloutId(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

class SqliteStore implements Store {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private readonly hostVersion: DocumentVersion;
  private readonly stateVersion: DocumentVersion;
  private readonly now: () => Date;
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
  private lockToken: string | undefined;
  private closed = false;

  constructor(db: DatabaseSync, path: string, opts: StoreOptions) {
    this.db = db;
    this.path = path;
    this.hostVersion = opts.hostSnapshot ?? { current: HOST_SNAPSHOT_VERSION };
    this.stateVersion = opts.rolloutState ?? { current: ROLLOUT_STATE_VERSION };
    this.now = opts.now ?? (() => new Date());
    this.writeBehindMs = Math.max(0, opts.writeBehindMs ?? 0);
    this.writeBehindMaxOps = Math.max(1, opts.writeBehindMaxOps ?? 2000);
    this.onFlushError = opts.onFlushError;
  }

  // ---- plumbing -------------------------------------------------------------

  private stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private at(): string {
    return this.now().toISOString();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreError("STORE_IO", `store ${this.path} is closed`, { path: this.path });
  }

  /** Runs a read, mapping SQLite failures; reads see this process's buffered writes because they flush first. */
  private read<T>(doing: string, where: StoreErrorInit, fn: () => T): T {
    this.ensureOpen();
    this.flush();
    try {
      return fn();
    } catch (e) {
      throw this.mapSqlite(e, doing, where);
    }
  }

  /** SQLite failures become StoreErrors; anything else (a caller's own error inside transaction()) passes through unchanged. */
  private mapSqlite(e: unknown, doing: string, where: StoreErrorInit): unknown {
    return sqliteCode(e) === undefined ? e : toStoreError(e, doing, { path: this.path, ...where });
  }

  /**
   * Runs fn in a write transaction together with everything buffered, so the
   * file never holds this write without the ones made before it. Inside an
   * outer transaction() it simply joins it.
   */
  private write<T>(doing: string, where: StoreErrorInit, fn: () => T): T {
    this.ensureOpen();
    try {
      if (this.db.isTransaction) return fn();
      return this.inTransaction(fn);
    } catch (e) {
      throw this.mapSqlite(e, doing, where);
    }
  }

  private inTransaction<T>(fn: () => T): T {
    const hosts = this.pendingHosts;
    const journal = this.pendingJournal;
    const callEnds = this.pendingCallEnds;
    this.db.exec("BEGIN IMMEDIATE");
    let result: T;
    try {
      for (const p of hosts.values()) this.stmt(HOST_UPSERT).run(...p);
      for (const p of callEnds) this.stmt(CALL_END_IF_OPEN).run(...p);
      for (const p of journal) this.stmt(JOURNAL_INSERT).run(...p);
      result = fn();
      this.db.exec("COMMIT");
    } catch (e) {
      // The buffer is left as it was, so a later flush retries what this one could not commit.
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
    if (this.pendingHosts === hosts && hosts.size > 0) this.pendingHosts = new Map();
    if (this.pendingJournal === journal && journal.length > 0) this.pendingJournal = [];
    if (this.pendingCallEnds === callEnds && callEnds.length > 0) this.pendingCallEnds = [];
    this.cancelTimer();
    return result;
  }

  private get pendingOps(): number {
    return this.pendingHosts.size + this.pendingJournal.length + this.pendingCallEnds.length;
  }

  /** True when a write must go to the file now rather than into the buffer. */
  private writesThrough(): boolean {
    return this.writeBehindMs === 0 || this.db.isTransaction;
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

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private ensureRollout(rolloutId: string, doing: string): void {
    if (this.knownRollouts.has(rolloutId)) return;
    let row: unknown;
    try {
      row = this.stmt("SELECT 1 AS found FROM rollout WHERE id = ?").get(rolloutId);
    } catch (e) {
      throw toStoreError(e, doing, { path: this.path, rolloutId });
    }
    if (row === undefined) {
      throw new StoreError("STORE_NOT_FOUND", `${doing}: no rollout ${rolloutId} in store ${this.path}`, { path: this.path, rolloutId });
    }
    this.knownRollouts.add(rolloutId);
  }

  private insertJournal(rolloutId: string | null, systemId: string | null, kind: JournalKind, data: string): number {
    return Number(this.stmt(JOURNAL_INSERT).run(rolloutId, systemId, kind, this.at(), data).lastInsertRowid);
  }

  // ---- rollouts ---------------------------------------------------------------

  createRollout(plan: unknown, opts: { id?: string } = {}): RolloutRecord {
    const at = this.at();
    const id = opts.id ?? newRolloutId(new Date(at));
    const planText = toJson(plan, "the plan", { rolloutId: id });
    this.write("creating a rollout", { rolloutId: id }, () => {
      this.stmt("INSERT INTO rollout (id, created_at, updated_at, status, reason, plan) VALUES (?, ?, ?, 'running', NULL, ?)").run(id, at, at, planText);
      this.insertJournal(id, null, "rollout", JSON.stringify({ event: "created", status: "running" }));
    });
    this.knownRollouts.add(id);
    return { id, createdAt: at, updatedAt: at, status: "running", reason: null, plan: JSON.parse(planText) as unknown };
  }

  latestRollout(): RolloutRecord | undefined {
    return this.read("reading the latest rollout", {}, () => {
      // rowid, not created_at: creation order survives a clock that stepped back.
      const row = this.stmt("SELECT id, created_at, updated_at, status, reason, plan FROM rollout ORDER BY rowid DESC LIMIT 1").get() as RolloutRow | undefined;
      return row ? this.toRollout(row) : undefined;
    });
  }

  getRollout(id: string): RolloutRecord | undefined {
    return this.read("reading a rollout", { rolloutId: id }, () => {
      const row = this.stmt("SELECT id, created_at, updated_at, status, reason, plan FROM rollout WHERE id = ?").get(id) as RolloutRow | undefined;
      return row ? this.toRollout(row) : undefined;
    });
  }

  listRollouts(): RolloutSummary[] {
    return this.read("listing rollouts", {}, () =>
      (this.stmt("SELECT id, created_at, updated_at, status, reason FROM rollout ORDER BY rowid DESC").all() as unknown as RolloutRow[]).map((r) =>
        this.toSummary(r),
      ),
    );
  }

  setRolloutStatus(id: string, status: RolloutStatus, reason?: string): void {
    if (!isRolloutStatus(status)) {
      throw new StoreError("STORE_SCHEMA", `rollout ${id}: unknown status ${JSON.stringify(status)}`, { path: this.path, rolloutId: id });
    }
    this.write("setting a rollout's status", { rolloutId: id }, () => {
      const prev = this.stmt("SELECT status FROM rollout WHERE id = ?").get(id) as { status: string } | undefined;
      if (!prev) throw new StoreError("STORE_NOT_FOUND", `setting status ${status}: no rollout ${id} in store ${this.path}`, { path: this.path, rolloutId: id });
      this.stmt("UPDATE rollout SET status = ?, reason = ?, updated_at = ? WHERE id = ?").run(status, reason ?? null, this.at(), id);
      this.insertJournal(id, null, "rollout", JSON.stringify({ event: "status", from: prev.status, to: status, ...(reason !== undefined ? { reason } : {}) }));
    });
  }

  saveRolloutState(id: string, state: unknown): void {
    const text = encodeRolloutState(state, this.stateVersion, { rolloutId: id });
    this.write("saving the rollout's controller state", { rolloutId: id }, () => {
      const r = this.stmt("UPDATE rollout SET state = ?, updated_at = ? WHERE id = ?").run(text, this.at(), id);
      if (r.changes === 0) throw new StoreError("STORE_NOT_FOUND", `saving controller state: no rollout ${id} in store ${this.path}`, { path: this.path, rolloutId: id });
    });
  }

  loadRolloutState(id: string): unknown {
    const row = this.read("reading the rollout's controller state", { rolloutId: id }, () => this.stmt("SELECT state FROM rollout WHERE id = ?").get(id)) as
      | { state: string | null }
      | undefined;
    if (!row) throw new StoreError("STORE_NOT_FOUND", `reading controller state: no rollout ${id} in store ${this.path}`, { path: this.path, rolloutId: id });
    if (row.state === null) return undefined;
    return decodeRolloutState(row.state, this.stateVersion, { rolloutId: id });
  }

  private toSummary(r: RolloutRow): RolloutSummary {
    if (!isRolloutStatus(r.status)) {
      throw new StoreError("STORE_CORRUPT", `rollout ${r.id} has an unknown status ${JSON.stringify(r.status)}`, { path: this.path, rolloutId: r.id });
    }
    return { id: r.id, createdAt: r.created_at, updatedAt: r.updated_at, status: r.status, reason: r.reason };
  }

  private toRollout(r: RolloutRow): RolloutRecord {
    return { ...this.toSummary(r), plan: parseJson(r.plan ?? "null", "plan", { rolloutId: r.id }) };
  }

  // ---- hosts --------------------------------------------------------------------

  saveHost(rolloutId: string, host: HostInput): void {
    this.ensureOpen();
    const where = { rolloutId, systemId: host.systemId };
    this.ensureRollout(rolloutId, `saving host ${host.systemId}`);
    // Serialise now: the caller's snapshot object may change after we return.
    const params: Params = [
      rolloutId,
      host.systemId,
      host.hostname,
      host.wave,
      toJson(host.roles, "roles", where),
      host.phase,
      host.outcome ?? null,
      host.lastError === undefined || host.lastError === null ? null : toJson(host.lastError, "last error", where),
      host.maasStatus ?? null,
      this.at(),
      host.snapshot === null || host.snapshot === undefined ? null : encodeHostSnapshot(host.snapshot, this.hostVersion, where),
    ];
    if (this.writesThrough()) {
      this.write("saving a host", where, () => this.stmt(HOST_UPSERT).run(...params));
      return;
    }
    this.pendingHosts.set(`${rolloutId}\u0000${host.systemId}`, params);
    this.buffered();
  }

  getHost(rolloutId: string, systemId: string): HostRecord | undefined {
    const row = this.read("reading a host", { rolloutId, systemId }, () =>
      this.stmt(`SELECT ${HOST_COLUMNS} FROM host WHERE rollout_id = ? AND system_id = ?`).get(rolloutId, systemId),
    ) as HostRow | undefined;
    return row ? this.toHost(row) : undefined;
  }

  loadHosts(rolloutId: string): HostRecord[] {
    return [...this.iterateHosts(rolloutId)];
  }

  *iterateHosts(rolloutId: string): IterableIterator<HostRecord> {
    // A statement of its own: a cached one would be reset by any other call using it mid-iteration.
    const stmt = this.read("reading hosts", { rolloutId }, () =>
      this.db.prepare(`SELECT ${HOST_COLUMNS} FROM host WHERE rollout_id = ? ORDER BY wave, system_id`),
    );
    const rows = stmt.iterate(rolloutId);
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = rows.next();
      } catch (e) {
        throw toStoreError(e, "reading hosts", { path: this.path, rolloutId });
      }
      if (next.done) return;
      yield this.toHost(next.value as HostRow);
    }
  }

  hostCounts(rolloutId: string): HostCounts {
    const rows = this.read("counting hosts", { rolloutId }, () =>
      this.stmt("SELECT wave, phase, outcome, COUNT(*) AS n FROM host WHERE rollout_id = ? GROUP BY wave, phase, outcome ORDER BY wave").all(rolloutId),
    ) as unknown as { wave: number; phase: string; outcome: string | null; n: number }[];
    const counts: HostCounts = { total: 0, byPhase: {}, byOutcome: {}, unsettled: 0, waves: [] };
    for (const r of rows) {
      let wave = counts.waves[counts.waves.length - 1];
      if (wave?.wave !== r.wave) {
        wave = { wave: r.wave, total: 0, byPhase: {}, byOutcome: {}, unsettled: 0 };
        counts.waves.push(wave);
      }
      for (const c of [counts, wave]) {
        c.total += r.n;
        c.byPhase[r.phase] = (c.byPhase[r.phase] ?? 0) + r.n;
        if (r.outcome === null) c.unsettled += r.n;
        else c.byOutcome[r.outcome] = (c.byOutcome[r.outcome] ?? 0) + r.n;
      }
    }
    return counts;
  }

  private toHost(r: HostRow): HostRecord {
    const where = { rolloutId: r.rollout_id, systemId: r.system_id };
    const roles = parseJson(r.roles, "roles", where);
    if (!Array.isArray(roles) || !roles.every((x) => typeof x === "string")) {
      throw new StoreError("STORE_CORRUPT", `roles of host ${r.system_id} in rollout ${r.rollout_id} are not a list of strings`, { path: this.path, ...where });
    }
    return {
      rolloutId: r.rollout_id,
      systemId: r.system_id,
      hostname: r.hostname,
      wave: r.wave,
      roles: roles as string[],
      phase: r.phase,
      outcome: r.outcome,
      lastError: r.last_error === null ? null : parseJson(r.last_error, "last error", where),
      maasStatus: r.maas_status,
      updatedAt: r.updated_at,
      snapshot: r.snapshot === null ? null : decodeHostSnapshot(r.snapshot, this.hostVersion, where),
    };
  }

  // ---- journal ------------------------------------------------------------------

  appendJournal(entry: JournalInput): number | undefined {
    this.ensureOpen();
    const where = { rolloutId: entry.rolloutId, systemId: entry.systemId };
    if (!isJournalKind(entry.kind)) {
      throw new StoreError("STORE_SCHEMA", `journal entry${describeWhere(where)} has an unknown kind ${JSON.stringify(entry.kind)}`, { path: this.path, ...where });
    }
    this.ensureRollout(entry.rolloutId, "appending to the journal");
    const params: Params = [entry.rolloutId, entry.systemId ?? null, entry.kind, this.at(), toJson(entry.data, "journal data", where)];
    if (this.writesThrough()) {
      return this.write("appending to the journal", where, () => Number(this.stmt(JOURNAL_INSERT).run(...params).lastInsertRowid));
    }
    this.pendingJournal.push(params);
    this.buffered();
    return undefined;
  }

  journal(rolloutId: string | null, query: JournalQuery = {}): JournalEntry[] {
    const where = { rolloutId: rolloutId ?? undefined, systemId: query.systemId };
    if (query.kind !== undefined && !isJournalKind(query.kind)) {
      throw new StoreError("STORE_SCHEMA", `journal query: unknown kind ${JSON.stringify(query.kind)}`, { path: this.path, ...where });
    }
    const clauses = [rolloutId === null ? "rollout_id IS NULL" : "rollout_id = ?", "seq > ?"];
    const params: SQLInputValue[] = rolloutId === null ? [query.afterSeq ?? 0] : [rolloutId, query.afterSeq ?? 0];
    if (query.systemId !== undefined) {
      clauses.push("system_id = ?");
      params.push(query.systemId);
    }
    if (query.kind !== undefined) {
      clauses.push("kind = ?");
      params.push(query.kind);
    }
    params.push(query.limit ?? -1);
    const order = query.order === "desc" ? "DESC" : "ASC";
    // A handful of distinct shapes, so the statement cache stays small.
    const sql = `SELECT seq, rollout_id, system_id, kind, at, data FROM journal WHERE ${clauses.join(" AND ")} ORDER BY seq ${order} LIMIT ?`;
    const rows = this.read("reading the journal", where, () => this.stmt(sql).all(...params)) as unknown as JournalRow[];
    const entries = rows.map((r) => this.toJournalEntry(r));
    return order === "DESC" ? entries.reverse() : entries;
  }

  private toJournalEntry(r: JournalRow): JournalEntry {
    const where = { rolloutId: r.rollout_id ?? "(store)", systemId: r.system_id ?? undefined };
    if (!isJournalKind(r.kind)) {
      throw new StoreError("STORE_CORRUPT", `journal entry ${r.seq} has an unknown kind ${JSON.stringify(r.kind)}`, { path: this.path, ...where });
    }
    return { seq: r.seq, rolloutId: r.rollout_id, systemId: r.system_id, kind: r.kind, at: r.at, data: parseJson(r.data, `journal entry ${r.seq}`, where) };
  }

  // ---- MAAS calls ---------------------------------------------------------------

  beginCall(call: BeginCallInput): number {
    this.ensureOpen();
    const where = { rolloutId: call.rolloutId, systemId: call.systemId };
    const params = call.params === undefined ? null : toJson(call.params, "call parameters", where);
    this.ensureRollout(call.rolloutId, `recording a ${call.operation} call`);
    // Never buffered: this row is what stops a restarted process from sending the same deploy twice.
    return this.write(`recording a ${call.operation} call`, where, () => {
      const at = this.at();
      const id = Number(
        this.stmt("INSERT INTO maas_call (rollout_id, system_id, operation, params, begun_at) VALUES (?, ?, ?, ?, ?)").run(
          call.rolloutId,
          call.systemId,
          call.operation,
          params,
          at,
        ).lastInsertRowid,
      );
      this.insertJournal(
        call.rolloutId,
        call.systemId,
        "maas_call",
        JSON.stringify({ event: "begin", callId: id, operation: call.operation, ...(call.params !== undefined ? { params: JSON.parse(params ?? "null") as unknown } : {}) }),
      );
      return id;
    });
  }

  endCall(callId: number, outcome: CallOutcome, detail?: string): boolean {
    if (!(CALL_OUTCOMES as readonly string[]).includes(outcome)) {
      throw new StoreError("STORE_SCHEMA", `MAAS call ${callId}: unknown outcome ${JSON.stringify(outcome)}`, { path: this.path });
    }
    return this.write(`ending MAAS call ${callId}`, {}, () => {
      const row = this.stmt("SELECT id, rollout_id, system_id, operation, params, begun_at, ended_at FROM maas_call WHERE id = ?").get(callId) as CallRow | undefined;
      if (!row) throw new StoreError("STORE_NOT_FOUND", `no MAAS call ${callId} in store ${this.path}`, { path: this.path });
      if (row.ended_at !== null) return false;
      this.stmt("UPDATE maas_call SET ended_at = ?, outcome = ?, detail = ? WHERE id = ?").run(this.at(), outcome, detail ?? null, callId);
      this.insertJournal(
        row.rollout_id,
        row.system_id,
        "maas_call",
        JSON.stringify({ event: "end", callId, operation: row.operation, outcome, ...(detail !== undefined ? { detail } : {}) }),
      );
      return true;
    });
  }

  endCallLater(call: EndCallInput, outcome: CallOutcome, detail?: string): void {
    if (!(CALL_OUTCOMES as readonly string[]).includes(outcome)) {
      throw new StoreError("STORE_SCHEMA", `MAAS call ${call.callId}: unknown outcome ${JSON.stringify(outcome)}`, { path: this.path });
    }
    if (this.writesThrough()) {
      this.endCall(call.callId, outcome, detail);
      return;
    }
    this.ensureOpen();
    const at = this.at();
    this.pendingCallEnds.push([at, outcome, detail ?? null, call.callId]);
    this.pendingJournal.push([
      call.rolloutId,
      call.systemId,
      "maas_call",
      at,
      JSON.stringify({ event: "end", callId: call.callId, operation: call.operation, outcome, ...(detail !== undefined ? { detail } : {}) }),
    ]);
    this.buffered();
  }

  openCalls(rolloutId: string): OpenCall[] {
    const rows = this.read("listing open MAAS calls", { rolloutId }, () =>
      this.stmt("SELECT id, rollout_id, system_id, operation, params, begun_at, ended_at FROM maas_call WHERE rollout_id = ? AND ended_at IS NULL ORDER BY id").all(rolloutId),
    ) as unknown as CallRow[];
    return rows.map((r) => ({
      id: r.id,
      rolloutId: r.rollout_id,
      systemId: r.system_id,
      operation: r.operation,
      params: r.params === null ? undefined : parseJson(r.params, `parameters of MAAS call ${r.id}`, { rolloutId: r.rollout_id, systemId: r.system_id }),
      begunAt: r.begun_at,
    }));
  }

  // ---- lock ---------------------------------------------------------------------

  acquireLock(owner: LockOwner): void {
    if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) {
      throw new StoreError("STORE_SCHEMA", `lock owner has an invalid pid ${owner.pid}`, { path: this.path });
    }
    const token = this.lockToken ?? randomUUID();
    this.write("taking the store's lock", {}, () => {
      const row = this.stmt("SELECT pid, hostname, command, acquired_at, token FROM lock WHERE id = 1").get() as LockRow | undefined;
      if (row && row.token === this.lockToken) return;
      if (row && this.holderAlive(row, owner)) {
        const where = row.hostname === owner.hostname ? "" : ` on host ${row.hostname} (its liveness cannot be checked from ${owner.hostname}; if that process is gone, break the lock)`;
        throw new StoreError(
          "STORE_LOCKED",
          `store ${this.path} is locked by pid ${row.pid}${where} running "${row.command}" since ${row.acquired_at}`,
          { path: this.path },
        );
      }
      const at = this.at();
      this.stmt(
        `INSERT INTO lock (id, pid, hostname, command, acquired_at, token) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname, command = excluded.command,
           acquired_at = excluded.acquired_at, token = excluded.token`,
      ).run(owner.pid, owner.hostname, owner.command, at, token);
      if (row) {
        this.insertJournal(
          null,
          null,
          "note",
          JSON.stringify({
            event: "lock_taken_over",
            reason: "the holder is no longer running",
            previous: { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at },
            by: owner,
          }),
        );
      }
    });
    this.lockToken = token;
    heldInThisProcess.add(token);
  }

  private holderAlive(row: LockRow, owner: LockOwner): boolean {
    if (row.hostname !== owner.hostname) return true;
    // Our own pid with a token no store here holds: an earlier process that had the same pid (a restarted container's pid 1).
    if (row.pid === process.pid) return heldInThisProcess.has(row.token);
    return processAlive(row.pid);
  }

  releaseLock(): void {
    const token = this.lockToken;
    if (token === undefined) return;
    this.write("releasing the store's lock", {}, () => {
      this.stmt("DELETE FROM lock WHERE id = 1 AND token = ?").run(token);
    });
    this.lockToken = undefined;
    heldInThisProcess.delete(token);
  }

  breakLock(by: LockOwner): LockHolder | undefined {
    return this.write("breaking the store's lock", {}, () => {
      const row = this.stmt("SELECT pid, hostname, command, acquired_at, token FROM lock WHERE id = 1").get() as LockRow | undefined;
      if (!row) return undefined;
      this.stmt("DELETE FROM lock WHERE id = 1").run();
      if (row.token === this.lockToken) {
        this.lockToken = undefined;
        heldInThisProcess.delete(row.token);
      }
      const previous = { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at };
      this.insertJournal(null, null, "note", JSON.stringify({ event: "lock_broken", previous, by }));
      return previous;
    });
  }

  lockHolder(): LockHolder | undefined {
    const row = this.read("reading the store's lock", {}, () => this.stmt("SELECT pid, hostname, command, acquired_at, token FROM lock WHERE id = 1").get()) as
      | LockRow
      | undefined;
    return row ? { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at } : undefined;
  }

  async withLock<T>(owner: LockOwner, fn: () => T | Promise<T>): Promise<T> {
    this.acquireLock(owner);
    try {
      return await fn();
    } finally {
      this.releaseLock();
    }
  }

  // ---- batching and lifetime -----------------------------------------------------

  transaction<T>(fn: () => T): T {
    return this.write("running a transaction", {}, () => {
      const result = fn();
      if (result !== null && typeof result === "object" && typeof (result as { then?: unknown }).then === "function") {
        // node:sqlite is synchronous: a transaction left open across an await would swallow other callers' writes.
        throw new StoreError("STORE_IO", "transaction(fn) needs a synchronous fn; it returned a promise and was rolled back", { path: this.path });
      }
      return result;
    });
  }

  flush(): void {
    this.ensureOpen();
    if (this.pendingOps === 0 || this.db.isTransaction) return;
    try {
      this.inTransaction(() => undefined);
    } catch (e) {
      const err = toStoreError(e, `flushing ${this.pendingOps} buffered writes`, { path: this.path });
      if (isForeignKeyViolation(e)) throw new StoreError("STORE_NOT_FOUND", err.message, { path: this.path, cause: e });
      throw err;
    }
  }

  close(): void {
    if (this.closed) return;
    this.cancelTimer();
    try {
      this.flush();
    } finally {
      try {
        this.releaseLock();
      } finally {
        this.closed = true;
        this.statements.clear();
        this.db.close();
      }
    }
  }
}
