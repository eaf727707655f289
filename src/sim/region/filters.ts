/**
 * Which machines a request names: the `GET machines/` filters (maas-api.md "Listing
 * machines": match-any, repeatable, `not_*` forms, all tags) and allocate's constraints
 * (maas-api.md "Machine operations", maas-network-storage.md §6), with MAAS's 400s for
 * unknown filters, tags, zones and pools.
 */
import { NodeStatus, STATUS_FILTER_NAME } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import { formFailure } from "../errors.ts";
import type { Params } from "../params.ts";
import type { MachineRecord } from "./records.ts";
import type { RegionState } from "./state.ts";

const STATUS_BY_FILTER_NAME = new Map<string, NodeStatusCode>(
  (Object.entries(STATUS_FILTER_NAME) as [string, string][]).map(([code, name]) => [name, Number(code) as NodeStatusCode]),
);

export function positiveNumber(field: string, text: string | undefined, message: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw formFailure({ [field]: [message.replace("%s", text)] });
  return n;
}

/** Tags may come repeated or comma/space separated, as MAAS accepts both. */
export function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(/[,\s]+/)).filter((v) => v !== "");
}

/** `GET machines/` filters. Throws MAAS's 400s for unknown filters and tags. */
export function listMachines(r: RegionState, params: Params): MachineRecord[] {
  const preds: ((m: MachineRecord) => boolean)[] = [];
  const anyOf = (key: string, value: (m: MachineRecord) => string | string[] | null) => {
    for (const [k, negate] of [
      [key, false],
      [`not_${key}`, true],
    ] as const) {
      const wanted = params.all(k);
      if (wanted.length === 0) continue;
      const set = new Set(wanted);
      preds.push((m) => {
        const v = value(m);
        const hit = Array.isArray(v) ? v.some((x) => set.has(x)) : v !== null && set.has(v);
        return hit !== negate;
      });
    }
  };
  const known = new Set(["op"]);
  const simple: [string, (m: MachineRecord) => string | string[] | null][] = [
    ["id", (m) => m.systemId],
    ["hostname", (m) => [m.hostname, `${m.hostname}.maas`]],
    ["mac_address", (m) => r.macsOf(m)],
    ["domain", () => "maas"],
    ["agent_name", (m) => m.agentName],
    ["zone", (m) => m.zone],
    ["pool", (m) => m.pool],
    ["arch", (m) => [m.architecture, m.architecture.split("/")[0] ?? ""]],
    ["owner", (m) => m.owner],
    ["power_state", (m) => m.powerState],
    ["status", (m) => STATUS_FILTER_NAME[m.status]],
  ];
  for (const [key, value] of simple) {
    known.add(key);
    known.add(`not_${key}`);
    anyOf(key, value);
  }
  for (const s of [...params.all("status"), ...params.all("not_status")]) {
    if (!STATUS_BY_FILTER_NAME.has(s)) throw formFailure({ status: [`Select a valid choice. ${s} is not one of the available choices.`] });
  }
  // MAAS's own spellings of the exclusions.
  for (const [alias, key] of [
    ["not_in_zone", "not_zone"],
    ["not_in_pool", "not_pool"],
  ] as const) {
    known.add(alias);
    const wanted = new Set(params.all(alias));
    if (wanted.size > 0) preds.push((m) => !wanted.has(key === "not_zone" ? m.zone : m.pool));
  }
  known.add("tags");
  known.add("not_tags");
  const tags = splitList(params.all("tags"));
  const notTags = splitList(params.all("not_tags"));
  const missing = [...tags, ...notTags].filter((t) => !r.tags.has(t));
  if (missing.length > 0) throw formFailure({ tags: [`No such tag(s): ${missing.map((t) => `'${t}'`).join(", ")}.`] });
  if (tags.length > 0) preds.push((m) => tags.every((t) => m.tags.includes(t)));
  if (notTags.length > 0) preds.push((m) => !notTags.some((t) => m.tags.includes(t)));
  known.add("cpu_count");
  known.add("mem");
  const cpu = positiveNumber("cpu_count", params.get("cpu_count"), "Invalid CPU count: %s");
  const mem = positiveNumber("mem", params.get("mem"), "Invalid memory: %s");
  if (cpu !== undefined) preds.push((m) => (m.hw?.cpuCount ?? 0) >= cpu);
  if (mem !== undefined) preds.push((m) => (m.hw?.memoryMib ?? 0) >= mem);
  for (const k of params.keys()) if (!known.has(k)) throw formFailure({ [k]: ["No such constraint."] });

  // An id filter names the machines outright: look them up instead of scanning the fleet.
  const ids = params.all("id");
  const candidates =
    ids.length > 0
      ? [...new Set(ids)]
          .map((id) => r.bySystemId.get(id))
          .filter((m): m is MachineRecord => m !== undefined && !m.deleted)
          .sort((a, b) => a.index - b.index)
      : r.machines;
  return candidates.filter((m) => preds.every((p) => p(m)));
}

/** Parameters allocate reports in its 409 when nothing matches, in this order. */
export const ALLOCATE_CONSTRAINT_KEYS = ["name", "system_id", "arch", "cpu_count", "mem", "tags", "not_tags", "zone", "not_in_zone", "pool", "not_in_pool", "storage", "interfaces", "subnets", "not_subnets"] as const;

/** Allocate's constraints as one predicate over machines; throws MAAS's 400s for bad names. */
export function allocationMatcher(r: RegionState, params: Params): (m: MachineRecord) => boolean {
  const errors: Record<string, string[]> = {};
  const cpu = positiveNumber("cpu_count", params.get("cpu_count"), "Invalid CPU count: %s");
  const mem = positiveNumber("mem", params.get("mem"), "Invalid memory: %s");
  const tags = splitList(params.all("tags"));
  const notTags = splitList(params.all("not_tags"));
  const missing = [...tags, ...notTags].filter((t) => !r.tags.has(t));
  if (missing.length > 0) errors.tags = [`No such tag(s): ${missing.map((t) => `'${t}'`).join(", ")}.`];
  const zone = params.get("zone");
  if (zone !== undefined && zone !== "" && !r.zones.has(zone)) errors.zone = [`No such zone: '${zone}'.`];
  const notInZone = splitList(params.all("not_in_zone"));
  const badZones = notInZone.filter((z) => !r.zones.has(z));
  if (badZones.length > 0) errors.not_in_zone = [`No such zone(s): ${badZones.join(", ")}.`];
  const pool = params.get("pool");
  if (pool !== undefined && pool !== "" && !r.pools.has(pool)) errors.pool = [`No such pool: '${pool}'.`];
  const notInPool = splitList(params.all("not_in_pool"));
  const badPools = notInPool.filter((p) => !r.pools.has(p));
  if (badPools.length > 0) errors.not_in_pool = [`No such pool(s): ${badPools.join(", ")}.`];
  if (Object.keys(errors).length > 0) throw formFailure(errors);
  const systemId = params.get("system_id");
  const name = params.get("name");
  const arch = params.get("arch");
  return (m: MachineRecord): boolean =>
    m.status === NodeStatus.READY &&
    !m.locked &&
    (systemId === undefined || m.systemId === systemId) &&
    (name === undefined || m.hostname === name || `${m.hostname}.maas` === name) &&
    (arch === undefined || m.architecture === arch || m.architecture.split("/")[0] === arch) &&
    (cpu === undefined || (m.hw?.cpuCount ?? 0) >= cpu) &&
    (mem === undefined || (m.hw?.memoryMib ?? 0) >= mem) &&
    tags.every((t) => m.tags.includes(t)) &&
    !notTags.some((t) => m.tags.includes(t)) &&
    (zone === undefined || zone === "" || m.zone === zone) &&
    !notInZone.includes(m.zone) &&
    (pool === undefined || pool === "" || m.pool === pool) &&
    !notInPool.includes(m.pool);
}
