/**
 * The `rollout` table: one row per rollout with its exact plan, its status and
 * the rollout machine's own (enveloped) state. All writes are durable on return.
 */
import { randomBytes } from "node:crypto";
import type { StoreCore } from "./core.ts";
import { toJson } from "./core.ts";
import { decodeRolloutState, encodeRolloutState, parseJson } from "./envelope.ts";
import { StoreError } from "./errors.ts";
import { REGION_KINDS, ROLLOUT_STATUSES, type RegionKind, type RolloutRecord, type RolloutRegion, type RolloutStatus, type RolloutSummary } from "./types.ts";

interface RolloutRow {
  id: string;
  created_at: string;
  updated_at: string;
  status: string;
  reason: string | null;
  region_kind: string | null;
  region_url: string | null;
  plan?: string;
}

/** The columns every read of a rollout takes (the plan only where asked for). */
const SUMMARY_COLUMNS = "id, created_at, updated_at, status, reason, region_kind, region_url";

function isRegionKind(s: string): s is RegionKind {
  return (REGION_KINDS as readonly string[]).includes(s);
}

function isRolloutStatus(s: string): s is RolloutStatus {
  return (ROLLOUT_STATUSES as readonly string[]).includes(s);
}

function newRolloutId(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

export function createRollout(core: StoreCore, plan: unknown, opts: { id?: string; region?: RolloutRegion } = {}): RolloutRecord {
  const at = core.at();
  const id = opts.id ?? newRolloutId(new Date(at));
  const planText = toJson(plan, "the plan", { rolloutId: id });
  const region = opts.region ?? null;
  if (region && (!isRegionKind(region.kind) || typeof region.url !== "string")) {
    throw new StoreError("STORE_SCHEMA", `rollout ${id}: unknown region kind ${JSON.stringify(region.kind)} (expected ${REGION_KINDS.join(" or ")})`, { path: core.path, rolloutId: id });
  }
  core.write("creating a rollout", { rolloutId: id }, () => {
    core.sql.run("INSERT INTO rollout (id, created_at, updated_at, status, reason, region_kind, region_url, plan) VALUES (?, ?, ?, 'running', NULL, ?, ?, ?)", [
      id,
      at,
      at,
      region?.kind ?? null,
      region?.url ?? null,
      planText,
    ]);
    core.insertJournal(id, null, "rollout", JSON.stringify({ event: "created", status: "running", ...(region ? { region: region.kind } : {}) }));
  });
  core.rolloutKnown(id);
  return { id, createdAt: at, updatedAt: at, status: "running", reason: null, region: region ? { kind: region.kind, url: region.url } : null, plan: JSON.parse(planText) as unknown };
}

export function latestRollout(core: StoreCore): RolloutRecord | undefined {
  return core.read("reading the latest rollout", {}, () => {
    // Creation order (rowid, or a sequence), not created_at: it survives a clock that stepped back.
    const row = core.sql.get<RolloutRow>(`SELECT ${SUMMARY_COLUMNS}, plan FROM rollout ORDER BY ${core.sql.rolloutOrder} DESC LIMIT 1`);
    return row ? toRollout(core, row) : undefined;
  });
}

export function getRollout(core: StoreCore, id: string): RolloutRecord | undefined {
  return core.read("reading a rollout", { rolloutId: id }, () => {
    const row = core.sql.get<RolloutRow>(`SELECT ${SUMMARY_COLUMNS}, plan FROM rollout WHERE id = ?`, [id]);
    return row ? toRollout(core, row) : undefined;
  });
}

export function listRollouts(core: StoreCore): RolloutSummary[] {
  return core.read("listing rollouts", {}, () =>
    core.sql.all<RolloutRow>(`SELECT ${SUMMARY_COLUMNS} FROM rollout ORDER BY ${core.sql.rolloutOrder} DESC`).map((r) => toSummary(core, r)),
  );
}

export function setRolloutStatus(core: StoreCore, id: string, status: RolloutStatus, reason?: string): void {
  if (!isRolloutStatus(status)) {
    throw new StoreError("STORE_SCHEMA", `rollout ${id}: unknown status ${JSON.stringify(status)}`, { path: core.path, rolloutId: id });
  }
  core.write("setting a rollout's status", { rolloutId: id }, () => {
    const prev = core.sql.get<{ status: string }>("SELECT status FROM rollout WHERE id = ?", [id]);
    if (!prev) throw new StoreError("STORE_NOT_FOUND", `setting status ${status}: no rollout ${id} in store ${core.path}`, { path: core.path, rolloutId: id });
    core.sql.run("UPDATE rollout SET status = ?, reason = ?, updated_at = ? WHERE id = ?", [status, reason ?? null, core.at(), id]);
    core.insertJournal(id, null, "rollout", JSON.stringify({ event: "status", from: prev.status, to: status, ...(reason !== undefined ? { reason } : {}) }));
  });
}

export function extendRolloutPlan(core: StoreCore, id: string, plan: unknown, data: Record<string, unknown>): void {
  const text = toJson(plan, "the plan", { rolloutId: id });
  core.write("extending a rollout's plan", { rolloutId: id }, () => {
    const changes = core.sql.change("UPDATE rollout SET plan = ?, updated_at = ? WHERE id = ?", [text, core.at(), id]);
    if (changes === 0) throw new StoreError("STORE_NOT_FOUND", `extending the plan: no rollout ${id} in store ${core.path}`, { path: core.path, rolloutId: id });
    core.insertJournal(id, null, "rollout", JSON.stringify({ ...data, event: "planExtended" }));
  });
}

export function saveRolloutState(core: StoreCore, id: string, state: unknown): void {
  const text = encodeRolloutState(state, core.stateVersion, { rolloutId: id });
  core.write("saving the rollout's controller state", { rolloutId: id }, () => {
    const changes = core.sql.change("UPDATE rollout SET state = ?, updated_at = ? WHERE id = ?", [text, core.at(), id]);
    if (changes === 0) throw new StoreError("STORE_NOT_FOUND", `saving controller state: no rollout ${id} in store ${core.path}`, { path: core.path, rolloutId: id });
  });
}

export function loadRolloutState(core: StoreCore, id: string): unknown {
  const row = core.read("reading the rollout's controller state", { rolloutId: id }, () =>
    core.sql.get<{ state: string | null }>("SELECT state FROM rollout WHERE id = ?", [id]),
  );
  if (!row) throw new StoreError("STORE_NOT_FOUND", `reading controller state: no rollout ${id} in store ${core.path}`, { path: core.path, rolloutId: id });
  if (row.state === null) return undefined;
  return decodeRolloutState(row.state, core.stateVersion, { rolloutId: id });
}

function toSummary(core: StoreCore, r: RolloutRow): RolloutSummary {
  if (!isRolloutStatus(r.status)) {
    throw new StoreError("STORE_CORRUPT", `rollout ${r.id} has an unknown status ${JSON.stringify(r.status)}`, { path: core.path, rolloutId: r.id });
  }
  let region: RolloutRegion | null = null;
  if (r.region_kind !== null) {
    if (!isRegionKind(r.region_kind)) {
      throw new StoreError("STORE_CORRUPT", `rollout ${r.id} has an unknown region kind ${JSON.stringify(r.region_kind)}`, { path: core.path, rolloutId: r.id });
    }
    region = { kind: r.region_kind, url: r.region_url ?? "" };
  }
  return { id: r.id, createdAt: r.created_at, updatedAt: r.updated_at, status: r.status, reason: r.reason, region };
}

function toRollout(core: StoreCore, r: RolloutRow): RolloutRecord {
  return { ...toSummary(core, r), plan: parseJson(r.plan ?? "null", "plan", { rolloutId: r.id }) };
}
