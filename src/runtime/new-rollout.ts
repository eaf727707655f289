/**
 * A new rollout's start, before any host runs: the plan read from MAAS, the refusals (an
 * empty fleet, pre-flight FAILs), the tags written, and what the journal says about it.
 * The runner (rollout-runner.ts) records the rollout and its journal from these.
 */
import type { Config } from "../config.ts";
import type { MaasPort } from "../maas/port.ts";
import { syncTags } from "../roles/index.ts";
import { PreflightError, readAndPlan } from "./deployment-plan.ts";
import { RolloutError } from "./rollout-error.ts";

export interface NewRollout {
  /** The plan with the machine list it was made from. */
  planned: Awaited<ReturnType<typeof readAndPlan>>;
  synced: Awaited<ReturnType<typeof syncTags>>;
}

/** Plans from MAAS, refuses an empty fleet and pre-flight FAILs, then writes every machine's scope and role tags. */
export async function planNewRollout(maas: MaasPort, config: Config): Promise<NewRollout> {
  const planned = await readAndPlan(maas, config);
  if (planned.rollout.hosts.length === 0) {
    throw new RolloutError(
      "EMPTY_FLEET",
      `the plan deploys no machine: MAAS lists ${planned.machines.length} machine(s)` +
        (config.rollout.selectTags.length ? ` (selected by tags ${config.rollout.selectTags.join(", ")})` : "") +
        `, ${planned.roles.members.length} in scope ${planned.roles.scopeTag}, none given a role (run metalwave plan to see why)`,
    );
  }
  if (planned.blocking.length > 0) throw new PreflightError(planned.blocking);
  // Tags before anything else: every machine's scope and role tags in O(roles) batched
  // calls. A failure part-way says what was done and what was not (RolesError).
  const synced = await syncTags(maas, { ...planned.roles, blockDeviceTags: [] });
  return { planned, synced };
}

/** The journal's rollout entries for a new plan, in order: planned, preflight, each override (by `user`), tagsSynced. */
export function newRolloutJournal({ planned, synced }: NewRollout, user: string | null): Record<string, unknown>[] {
  const r = planned.roles;
  return [
    {
      event: "planned",
      machines: planned.rollout.hosts.length,
      waves: planned.rollout.waves.length,
      roles: Object.fromEntries(Object.entries(r.byRole).map(([role, sum]) => [role, sum.count])),
      spares: Object.fromEntries(Object.entries(r.spares).map(([role, ms]) => [role, ms.length])),
      heldBack: r.unassigned.length,
      excluded: r.excluded.length,
    },
    { event: "preflight", findings: r.findings.map((f) => ({ severity: f.severity, code: f.code, role: f.role, message: f.message })) },
    ...planned.overridden.map((f) => ({ event: "override", code: f.code, role: f.role, message: f.message, by: user })),
    { event: "tagsSynced", created: synced.created, updateCalls: synced.updateCalls },
  ];
}
