/**
 * A region that does not answer when a new rollout is planned holds only its own hosts: the
 * rollout is planned over the regions that answer and starts them, the region is recorded in
 * the plan as not planned yet (`regionsUnplanned`), and once it answers its hosts are
 * planned, tagged and joined to the rollout's waves from the current wave on
 * (mergeRegionWaves, state-machines/rollout/regions.ts). The plan is made again over every
 * region that answers then, so the hosts already planned keep their roles (their role tags
 * are written) and the region's machines take what the roles still need; only the region's
 * hosts are taken from it. A region whose plan is refused (a pre-flight FAIL, no host) is
 * left out of this rollout, named. docs/architecture.md, "Several regions".
 */
import type { Config } from "../config.ts";
import type { NodeStatusCode } from "../model/maas/status.ts";
import type { RegionsMaas } from "../maas/regions.ts";
import { syncTags } from "../roles/index.ts";
import { mergeRegionWaves, regionOfKey } from "../../state-machines/rollout/regions.ts";
import type { RolloutEvent } from "../../state-machines/rollout.ts";
import { readAndPlan, type PlannedHost, type RolloutPlan } from "./deployment-plan.ts";
import { ensurePlanTags } from "./rollout-open.ts";
import { regionsAnsweringNow } from "./region-catchup.ts";

export type LateRegionPlan =
  | {
      planned: true;
      /** The region's hosts (their `wave` is set by joinLateRegion). */
      hosts: PlannedHost[];
      /** The region's own waves, as the rollout machine merges them (REGION_PLANNED). */
      regionWaves: string[][];
    }
  | { planned: false; why: string };

/** The plan without `region` among the unplanned. */
export function withoutUnplanned(plan: RolloutPlan, region: string): RolloutPlan {
  const rest = (plan.regionsUnplanned ?? []).filter((r) => r !== region);
  const { regionsUnplanned: _, ...base } = plan;
  return rest.length > 0 ? { ...base, regionsUnplanned: rest } : base;
}

/**
 * Plans `region`'s hosts for a rollout under way and writes their tags in that region; `known`
 * gets their statuses. Refuses (planned: false) on a pre-flight FAIL or when none of the
 * region's machines gets a role.
 */
export async function planLateRegion(maas: RegionsMaas, config: Config, plan: RolloutPlan, region: string, known: Map<string, NodeStatusCode>): Promise<LateRegionPlan> {
  const { up } = await regionsAnsweringNow(maas);
  const planned = await readAndPlan(maas.subset(up.includes(region) ? up : [...up, region]), config);
  if (planned.blocking.length > 0) return { planned: false, why: `pre-flight FAIL: ${planned.blocking.map((f) => `${f.code}: ${f.message}`).join("; ")}` };
  const already = new Set(plan.hosts.map((h) => h.systemId));
  const mine = new Set(planned.rollout.hosts.filter((h) => regionOfKey(h.systemId) === region && !already.has(h.systemId)).map((h) => h.systemId));
  if (mine.size === 0) return { planned: false, why: "the plan gives none of its machines a role" };
  const hosts = planned.rollout.hosts.filter((h) => mine.has(h.systemId));
  const regionWaves = planned.rollout.waves.map((w) => w.filter((k) => mine.has(k))).filter((w) => w.length > 0);
  for (const f of planned.machines) if (mine.has(f.systemId)) known.set(f.systemId, f.status);
  // Its tags before its hosts start: the plan's tags in the region (a tag the other regions
  // have may be missing there), then its machines' scope and role tags, in bulk.
  const only = maas.only(region);
  await ensurePlanTags(only, { ...plan, hosts });
  const inRegion = (keys: readonly string[]) => keys.filter((k) => regionOfKey(k) === region);
  const tagChanges = planned.roles.tagChanges
    .map((c) => ({ ...c, create: false, add: inRegion(c.add), remove: inRegion(c.remove) }))
    .filter((c) => c.add.length > 0 || c.remove.length > 0);
  await syncTags(only, { ...planned.roles, tagChanges, blockDeviceTags: [] });
  return { planned: true, hosts, regionWaves };
}

/**
 * What a late region's plan does to the rollout under way at wave `from` (the rollout
 * machine's current wave): the plan grown by its hosts (or without it among the unplanned,
 * when refused), the journal entry, the log line and the REGION_PLANNED to send, so the
 * stored plan's waves and the machine's are merged the same way in one turn.
 */
export function joinLateRegion(plan: RolloutPlan, region: string, late: LateRegionPlan, from: number): { plan: RolloutPlan; entry: Record<string, unknown>; message: string; event: RolloutEvent } {
  if (!late.planned) {
    return {
      plan: withoutUnplanned(plan, region),
      entry: { event: "regionPlanRefused", region, why: late.why },
      message: `region ${region} answers but its hosts are left out of this rollout: ${late.why}`,
      event: { type: "REGION_PLANNED", region, waves: [] },
    };
  }
  const waves = mergeRegionWaves(plan.waves, from, late.regionWaves);
  const waveOf = new Map(waves.flatMap((w, i) => w.map((k) => [k, i] as const)));
  const hosts = late.hosts.map((h) => ({ ...h, wave: waveOf.get(h.systemId) ?? h.wave }));
  return {
    plan: { ...withoutUnplanned(plan, region), hosts: [...plan.hosts, ...hosts], waves },
    entry: { event: "regionPlanned", region, hosts: hosts.length, fromWave: from },
    message: `region ${region} answers: ${hosts.length} host(s) planned, joining the rollout from wave ${from + 1}`,
    event: { type: "REGION_PLANNED", region, waves: late.regionWaves },
  };
}
