/**
 * A rollout's hosts counted per region, for `metalwave status` (text and --json) and
 * whatever else shows a deployment over several regions. Read from the plan (every planned
 * host, with its region) and the hosts' records (those that started). With one region
 * (no host has a region) there is nothing to count: an empty list. A host's region is its
 * plan's, else its key's (`<region>/<system_id>`).
 */
import { regionOfKey } from "../../state-machines/rollout/regions.ts";

export interface RegionCount {
  region: string;
  /** Hosts the plan deploys in this region. */
  planned: number;
  inService: number;
  /** Settled other than in service: quarantined, failed or aborted. */
  failed: number;
  /** Started and not settled. */
  inFlight: number;
  /** Planned and not started. */
  waiting: number;
}

export function countByRegion(
  planned: readonly { systemId: string; region?: string | undefined }[],
  started: readonly { systemId: string; outcome: string | null }[],
): RegionCount[] {
  const regionOf = new Map<string, string>();
  const out = new Map<string, RegionCount>();
  for (const h of planned) {
    const region = h.region ?? regionOfKey(h.systemId);
    if (region === null) continue;
    regionOf.set(h.systemId, region);
    let c = out.get(region);
    if (!c) out.set(region, (c = { region, planned: 0, inService: 0, failed: 0, inFlight: 0, waiting: 0 }));
    c.planned++;
  }
  for (const h of started) {
    const r = regionOf.get(h.systemId);
    const c = r === undefined ? undefined : out.get(r);
    if (!c) continue;
    if (h.outcome === null) c.inFlight++;
    else if (h.outcome === "inService") c.inService++;
    else c.failed++;
  }
  for (const c of out.values()) c.waiting = c.planned - c.inService - c.failed - c.inFlight;
  return [...out.values()];
}

/** `east: 40 planned, 38 in service, 1 failed, 1 in flight · west: …` */
export function regionCountsText(counts: readonly RegionCount[]): string {
  return counts
    .map((c) => `${c.region}: ${c.planned} planned, ${c.inService} in service, ${c.failed} failed, ${c.inFlight} in flight, ${c.waiting} not started`)
    .join(" · ");
}

/** A plan's hosts in one region: how many, by role (a host with several roles counts under each), and its canary (wave 1's hosts there). */
export interface PlanRegion {
  region: string;
  hosts: number;
  byRole: Record<string, number>;
  canary: string[];
}

/** The plan's hosts per region, in the regions' order of first appearance; empty with one region. */
export function planByRegion(hosts: readonly { systemId: string; region?: string | undefined; roles: readonly string[] }[], waves: readonly (readonly string[])[]): PlanRegion[] {
  const out = new Map<string, PlanRegion>();
  const regionOf = new Map<string, string>();
  for (const h of hosts) {
    const region = h.region ?? regionOfKey(h.systemId);
    if (region === null) continue;
    regionOf.set(h.systemId, region);
    let r = out.get(region);
    if (!r) out.set(region, (r = { region, hosts: 0, byRole: {}, canary: [] }));
    r.hosts++;
    for (const role of h.roles.length > 0 ? h.roles : ["(none)"]) r.byRole[role] = (r.byRole[role] ?? 0) + 1;
  }
  for (const id of waves[0] ?? []) {
    const r = regionOf.get(id);
    if (r !== undefined) out.get(r)?.canary.push(id);
  }
  return [...out.values()];
}
