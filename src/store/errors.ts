/**
 * Typed errors of the durable store. Callers switch on `code`; messages name the
 * store file and, where one is involved, the rollout and the host's system_id.
 */
import { MetalwaveError } from "../errors.ts";

export type StoreErrorCode =
  /** Another live process holds the store's lock. */
  | "STORE_LOCKED"
  /** Bytes on disk that cannot be read back: bad JSON, a snapshot of the wrong shape, a damaged file. */
  | "STORE_CORRUPT"
  /** A schema version this build does not understand (a newer store or snapshot), or a value of the wrong shape being written. */
  | "STORE_SCHEMA"
  /** SQLite or the filesystem failed: permissions, disk full, busy beyond the timeout. */
  | "STORE_IO"
  /** A write names a rollout or MAAS call that does not exist. */
  | "STORE_NOT_FOUND"
  /** This process's lease on a PostgreSQL store was lost or may have expired: it must not write or act any more. */
  | "STORE_FENCED";

export interface StoreErrorInit {
  path?: string | undefined;
  rolloutId?: string | undefined;
  systemId?: string | undefined;
  cause?: unknown;
}

export class StoreError extends MetalwaveError<StoreErrorCode> {
  readonly code: StoreErrorCode;
  readonly path: string | undefined;
  readonly rolloutId: string | undefined;
  readonly systemId: string | undefined;

  constructor(code: StoreErrorCode, message: string, init: StoreErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.path = init.path;
    this.rolloutId = init.rolloutId;
    this.systemId = init.systemId;
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}

/** The fields node:sqlite puts on its errors (`code: "ERR_SQLITE_ERROR"`, SQLite's extended result code). */
interface SqliteFailure {
  code?: unknown;
  errcode?: unknown;
  errstr?: unknown;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;

/** SQLite's primary and extended result codes, when `e` came from node:sqlite. */
export function sqliteCode(e: unknown): { primary: number; extended: number } | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const f = e as SqliteFailure;
  if (typeof f.errcode !== "number") return undefined;
  return { primary: f.errcode & 0xff, extended: f.errcode };
}

export function isForeignKeyViolation(e: unknown): boolean {
  return sqliteCode(e)?.extended === SQLITE_CONSTRAINT_FOREIGNKEY;
}

/**
 * Turns whatever SQLite or the filesystem threw into a StoreError, keeping it as
 * the cause. A StoreError passes through unchanged.
 */
export function toStoreError(e: unknown, doing: string, init: StoreErrorInit): StoreError {
  if (e instanceof StoreError) return e;
  const where = describeWhere(init);
  const detail = e instanceof Error ? e.message : String(e);
  const code = sqliteCode(e)?.primary;
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
    return new StoreError("STORE_CORRUPT", `${doing}${where}: the file is damaged or is not a metalwave store (${detail})`, { ...init, cause: e });
  }
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
    return new StoreError("STORE_IO", `${doing}${where}: the database stayed busy beyond the busy timeout (${detail})`, { ...init, cause: e });
  }
  return new StoreError("STORE_IO", `${doing}${where}: ${detail}`, { ...init, cause: e });
}

export function describeWhere(init: StoreErrorInit): string {
  const parts: string[] = [];
  if (init.rolloutId !== undefined) parts.push(`rollout ${init.rolloutId}`);
  if (init.systemId !== undefined) parts.push(`host ${init.systemId}`);
  if (init.path !== undefined) parts.push(`store ${init.path}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}
