/**
 * The `host` table: one row per host of a rollout with its XState snapshot
 * (enveloped and shape-checked), small columns first so counting never reads a
 * snapshot. `saveHost` is buffered when the store has a write-behind window.
 */
import type { StoreCore } from "./core.ts";
import { HOST_UPSERT, toJson, type Params } from "./core.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import { decodeHostSnapshot, encodeHostSnapshot, parseJson } from "./envelope.ts";
import { StoreError } from "./errors.ts";
import type { HostCounts, HostInput, HostRecord } from "./types.ts";

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
  region: string | null;
}

const HOST_COLUMNS = `rollout_id, system_id, hostname, wave, roles, phase, outcome, last_error, maas_status, updated_at, snapshot, region`;

/** Hosts read per query by iterateHosts: enough to keep round trips few, few enough to keep memory small. */
const PAGE = 500;

export function saveHost(core: StoreCore, rolloutId: string, host: HostInput): void {
  core.ensureOpen();
  const where = { rolloutId, systemId: host.systemId };
  core.ensureRollout(rolloutId, `saving host ${host.systemId}`);
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
    core.at(),
    host.snapshot === null || host.snapshot === undefined ? null : encodeHostSnapshot(host.snapshot, core.hostVersion, where),
    // The host key is region/system_id with several regions (state-machines/rollout/regions.ts); the column is its region, for reads by region.
    regionOfKey(host.systemId),
  ];
  if (core.writesThrough()) {
    core.write("saving a host", where, () => core.sql.run(HOST_UPSERT, params));
    return;
  }
  core.bufferHost(`${rolloutId}\u0000${host.systemId}`, params);
}

export function getHost(core: StoreCore, rolloutId: string, systemId: string): HostRecord | undefined {
  const row = core.read("reading a host", { rolloutId, systemId }, () =>
    core.sql.get<HostRow>(`SELECT ${HOST_COLUMNS} FROM host WHERE rollout_id = ? AND system_id = ?`, [rolloutId, systemId]),
  );
  return row ? toHost(core, row) : undefined;
}

/**
 * Every host of a rollout in (wave, system_id) order, a page at a time: keyset
 * paging works the same on both backends and never holds a cursor open across
 * the caller's own writes.
 */
export function* iterateHosts(core: StoreCore, rolloutId: string): IterableIterator<HostRecord> {
  let after: { wave: number; systemId: string } | undefined;
  for (;;) {
    const page = core.read("reading hosts", { rolloutId }, () =>
      after === undefined
        ? core.sql.all<HostRow>(`SELECT ${HOST_COLUMNS} FROM host WHERE rollout_id = ? ORDER BY wave, system_id LIMIT ?`, [rolloutId, PAGE])
        : core.sql.all<HostRow>(
            `SELECT ${HOST_COLUMNS} FROM host WHERE rollout_id = ? AND (wave > ? OR (wave = ? AND system_id > ?)) ORDER BY wave, system_id LIMIT ?`,
            [rolloutId, after.wave, after.wave, after.systemId, PAGE],
          ),
    );
    for (const row of page) yield toHost(core, row);
    const last = page[page.length - 1];
    if (last === undefined || page.length < PAGE) return;
    after = { wave: Number(last.wave), systemId: last.system_id };
  }
}

export function hostCounts(core: StoreCore, rolloutId: string): HostCounts {
  const rows = core.read("counting hosts", { rolloutId }, () =>
    core.sql.all<{ wave: number; phase: string; outcome: string | null; n: number }>(
      "SELECT wave, phase, outcome, COUNT(*) AS n FROM host WHERE rollout_id = ? GROUP BY wave, phase, outcome ORDER BY wave",
      [rolloutId],
    ),
  );
  const counts: HostCounts = { total: 0, byPhase: {}, byOutcome: {}, unsettled: 0, waves: [] };
  for (const r of rows) {
    const n = Number(r.n);
    let wave = counts.waves[counts.waves.length - 1];
    if (wave?.wave !== r.wave) {
      wave = { wave: r.wave, total: 0, byPhase: {}, byOutcome: {}, unsettled: 0 };
      counts.waves.push(wave);
    }
    for (const c of [counts, wave]) {
      c.total += n;
      c.byPhase[r.phase] = (c.byPhase[r.phase] ?? 0) + n;
      if (r.outcome === null) c.unsettled += n;
      else c.byOutcome[r.outcome] = (c.byOutcome[r.outcome] ?? 0) + n;
    }
  }
  return counts;
}

function toHost(core: StoreCore, r: HostRow): HostRecord {
  const where = { rolloutId: r.rollout_id, systemId: r.system_id };
  const roles = parseJson(r.roles, "roles", where);
  if (!Array.isArray(roles) || !roles.every((x) => typeof x === "string")) {
    throw new StoreError("STORE_CORRUPT", `roles of host ${r.system_id} in rollout ${r.rollout_id} are not a list of strings`, { path: core.path, ...where });
  }
  return {
    rolloutId: r.rollout_id,
    systemId: r.system_id,
    region: r.region ?? null,
    hostname: r.hostname,
    wave: r.wave,
    roles: roles as string[],
    phase: r.phase,
    outcome: r.outcome,
    lastError: r.last_error === null ? null : parseJson(r.last_error, "last error", where),
    maasStatus: r.maas_status,
    updatedAt: r.updated_at,
    snapshot: r.snapshot === null ? null : decodeHostSnapshot(r.snapshot, core.hostVersion, where),
  };
}
