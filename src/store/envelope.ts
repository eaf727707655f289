/**
 * Versioned JSON documents inside the store: a host's persisted XState snapshot
 * and the rollout machine's own state. Each is written as
 * `{ "schemaVersion": n, "<body>": ... }` and checked with zod when read back, so
 * a snapshot written by a newer build, an unknown version or damaged JSON is
 * reported with the rollout and host it belongs to instead of being restored
 * into an actor that would misbehave later (or silently skipped, which would
 * lose a host mid-deploy).
 */
import { z } from "zod";
import { StoreError } from "./errors.ts";

/** The shape of an XState v5 persisted snapshot that the store insists on. */
const PersistedSnapshotShape = z.looseObject({
  status: z.enum(["active", "done", "error", "stopped"]),
  value: z.union([z.string(), z.record(z.string(), z.unknown())]),
  context: z.record(z.string(), z.unknown()),
});

/** What `loadHosts` hands back: XState's persisted snapshot, shape-checked. Cast it to the machine's own snapshot type. */
export type PersistedSnapshot = z.infer<typeof PersistedSnapshotShape>;

const HostEnvelope = z.object({ schemaVersion: z.number().int().nonnegative(), snapshot: z.unknown() });
const StateEnvelope = z.object({ schemaVersion: z.number().int().nonnegative(), state: z.unknown() });

/** Brings a document written at `fromVersion` up to the current version, or throws. */
export type Migrate = (fromVersion: number, body: unknown) => unknown;

export interface DocumentVersion {
  /** The version written now, and the newest one read. */
  current: number;
  /** Called for older versions; without it an older version is refused like an unknown one. */
  migrate?: Migrate | undefined;
}

interface Where {
  rolloutId: string;
  systemId?: string | undefined;
}

function describe(what: string, where: Where): string {
  return where.systemId === undefined
    ? `${what} of rollout ${where.rolloutId}`
    : `${what} of host ${where.systemId} in rollout ${where.rolloutId}`;
}

function firstIssue(e: z.ZodError): string {
  const issue = e.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.length ? issue.path.map(String).join(".") : "(root)";
  return `${path}: ${issue.message}`;
}

function checkShape(snapshot: unknown, what: string, where: Where, onFail: "STORE_CORRUPT" | "STORE_SCHEMA"): PersistedSnapshot {
  const shape = PersistedSnapshotShape.safeParse(snapshot);
  if (!shape.success) {
    throw new StoreError(onFail, `${describe(what, where)} is not an XState persisted snapshot (${firstIssue(shape.error)})`, {
      ...where,
      cause: shape.error,
    });
  }
  return shape.data;
}

const STATUSES: readonly unknown[] = PersistedSnapshotShape.shape.status.options;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * What PersistedSnapshotShape accepts, checked by hand for the snapshots a rollout writes
 * (one per host change: zod's parse of each had been a visible part of a 10,000-machine
 * run). Anything this does not pass plainly goes to zod, which decides and words the error.
 */
function plainlyPersisted(s: unknown): boolean {
  return isPlainObject(s) && STATUSES.includes(s["status"]) && (typeof s["value"] === "string" || isPlainObject(s["value"])) && isPlainObject(s["context"]);
}

/** Serialises a host snapshot for writing; refuses one that does not look like a persisted snapshot. */
export function encodeHostSnapshot(snapshot: unknown, version: DocumentVersion, where: Where): string {
  if (!plainlyPersisted(snapshot)) checkShape(snapshot, "snapshot", where, "STORE_SCHEMA");
  return encode({ schemaVersion: version.current, snapshot }, "snapshot", where);
}

export function encodeRolloutState(state: unknown, version: DocumentVersion, where: Where): string {
  return encode({ schemaVersion: version.current, state }, "controller state", where);
}

function encode(doc: unknown, what: string, where: Where): string {
  try {
    return JSON.stringify(doc);
  } catch (e) {
    throw new StoreError("STORE_SCHEMA", `${describe(what, where)} cannot be written as JSON (${e instanceof Error ? e.message : String(e)})`, {
      ...where,
      cause: e,
    });
  }
}

export function decodeHostSnapshot(text: string, version: DocumentVersion, where: Where): PersistedSnapshot {
  const env = parseEnvelope(text, HostEnvelope, "snapshot", where);
  const body = upgrade(env.schemaVersion, env.snapshot, version, "snapshot", where);
  return checkShape(body, "snapshot", where, "STORE_CORRUPT");
}

export function decodeRolloutState(text: string, version: DocumentVersion, where: Where): unknown {
  const env = parseEnvelope(text, StateEnvelope, "controller state", where);
  return upgrade(env.schemaVersion, env.state, version, "controller state", where);
}

/** Parses a JSON column that is not enveloped (plan, roles, last error, journal data). */
export function parseJson(text: string, what: string, where: Where): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StoreError("STORE_CORRUPT", `${describe(what, where)} is not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      ...where,
      cause: e,
    });
  }
}

function parseEnvelope<T extends z.ZodType>(text: string, schema: T, what: string, where: Where): z.infer<T> {
  const raw = parseJson(text, what, where);
  const env = schema.safeParse(raw);
  if (!env.success) {
    throw new StoreError("STORE_CORRUPT", `${describe(what, where)} has no valid version envelope (${firstIssue(env.error)})`, {
      ...where,
      cause: env.error,
    });
  }
  return env.data;
}

function upgrade(found: number, body: unknown, version: DocumentVersion, what: string, where: Where): unknown {
  if (found === version.current) return body;
  if (found > version.current) {
    throw new StoreError(
      "STORE_SCHEMA",
      `${describe(what, where)} has schema version ${found}, newer than the ${version.current} this metalwave reads: upgrade metalwave to resume this rollout`,
      where,
    );
  }
  if (!version.migrate) {
    throw new StoreError("STORE_SCHEMA", `${describe(what, where)} has schema version ${found}, which this metalwave (version ${version.current}) cannot migrate`, where);
  }
  try {
    return version.migrate(found, body);
  } catch (e) {
    throw new StoreError("STORE_SCHEMA", `${describe(what, where)}: migrating from schema version ${found} to ${version.current} failed (${e instanceof Error ? e.message : String(e)})`, {
      ...where,
      cause: e,
    });
  }
}

/** The top-level state name of an XState state value: `"deploying"` or the key of `{ deploying: "waiting" }`. */
export function topLevelState(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object") return Object.keys(value)[0];
  return undefined;
}
