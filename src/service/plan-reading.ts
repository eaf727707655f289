/**
 * The service's answers from a stored rollout plan: the planned machines, the waves and
 * the plan's kind. The plan is read (checked, older versions upgraded) by the one reader,
 * src/runtime/documents/rollout-plan.ts.
 */
import { planKind, readRolloutPlan, type RolloutKind } from "../runtime/documents/rollout-plan.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";

export type { RolloutKind } from "../runtime/documents/rollout-plan.ts";

/** A planned machine: where it sits in the plan. */
export interface PlannedCell {
  systemId: string;
  /** Several regions: the machine's region; null with one region. */
  region: string | null;
  hostname: string;
  /** Its wave, counting from 1 as every answer of the API does (docs/service.md). */
  wave: number;
  zone: string;
  roles: string[];
}

/** The plan's waves (system ids) and its host count. */
export function planHosts(plan: unknown, rolloutId: string): { waves: string[][]; total: number } {
  const p = readRolloutPlan(plan, rolloutId);
  return { waves: p.waves, total: p.hosts.length };
}

/** The planned machines, waves counted from 1. */
export function plannedCells(plan: unknown, rolloutId: string): PlannedCell[] {
  return readRolloutPlan(plan, rolloutId).hosts.map((h) => ({ systemId: h.systemId, region: h.region ?? regionOfKey(h.systemId), hostname: h.hostname, wave: h.wave + 1, zone: h.zone, roles: h.roles }));
}

/** A stored plan's kind; absent (a deployment rollout) is `rollout`. */
export function kindOf(plan: unknown, rolloutId: string): RolloutKind {
  return planKind(readRolloutPlan(plan, rolloutId));
}
