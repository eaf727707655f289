/**
 * What the service's metrics follow of one rollout: its planned machines with their roles,
 * regions and phase now, and the label rules those series share (src/service/metrics.ts).
 */
import { readRolloutPlan } from "../runtime/documents/rollout-plan.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";

/** Label values come from our own closed sets; anything else is folded into "other" rather than trusted. */
export function label(value: unknown, pattern = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/): string {
  return typeof value === "string" && pattern.test(value) ? value : "other";
}

/**
 * Region label values: region names (lower-case DNS labels, config-checked), at most this
 * many distinct ones per rollout (further regions are folded into "other"), so the
 * by-region series stay bounded by regions × phases, never by machines.
 */
export const MAX_REGION_LABELS = 64;
export const REGION_LABEL = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/**
 * The planned machines of one rollout with their roles and their phase now (its last
 * transition in the journal, `waiting` before the first), followed from a cursor.
 */
export interface RoleTrack {
  rolloutId: string;
  index: Map<string, number>;
  /** Role ids of each machine, by its place in the plan. */
  roles: number[][];
  roleNames: string[];
  /** Region id of each machine (several regions; -1: none), and the names. */
  region: Int16Array;
  regionNames: string[];
  /** Phase id of each machine; 0 is `waiting`. */
  phase: Uint8Array;
  phaseNames: string[];
  phaseIds: Map<string, number>;
  cursor: number;
}

/** The planned machines and their roles, from a stored plan of any version; labels folded as the metrics fold them. */
export function roleTrackOf(rolloutId: string, plan: unknown): RoleTrack {
  const roleNames: string[] = [];
  const roleIds = new Map<string, number>();
  const roleId = (name: string) => {
    let i = roleIds.get(name);
    if (i === undefined) {
      i = roleNames.length;
      roleNames.push(name);
      roleIds.set(name, i);
    }
    return i;
  };
  const regionNames: string[] = [];
  const regionIds = new Map<string, number>();
  const regionId = (name: string | undefined): number => {
    if (name === undefined) return -1;
    const value = REGION_LABEL.test(name) ? name : "other";
    let i = regionIds.get(value);
    if (i === undefined) {
      if (regionNames.length >= MAX_REGION_LABELS && value !== "other") return regionId("other");
      i = regionNames.length;
      regionNames.push(value);
      regionIds.set(value, i);
    }
    return i;
  };
  const index = new Map<string, number>();
  const roles: number[][] = [];
  const regions: number[] = [];
  const add = (systemId: string, names: string[], region: string | undefined) => {
    if (systemId === "" || index.has(systemId)) return;
    index.set(systemId, roles.length);
    roles.push([...new Set((names.length > 0 ? names : ["none"]).map((r) => roleId(label(r))))]);
    regions.push(regionId(region));
  };
  for (const h of readRolloutPlan(plan, rolloutId).hosts) add(h.systemId, h.roles, h.region ?? regionOfKey(h.systemId) ?? undefined);
  return {
    rolloutId,
    index,
    roles,
    roleNames,
    region: Int16Array.from(regions),
    regionNames,
    phase: new Uint8Array(roles.length),
    phaseNames: ["waiting"],
    phaseIds: new Map([["waiting", 0]]),
    cursor: 0,
  };
}

/** A phase's id in the track (at most 256 phases; the names are a closed set, folded to "other" beyond). */
export function phaseIdOf(t: RoleTrack, name: string): number {
  let i = t.phaseIds.get(name);
  if (i === undefined) {
    if (t.phaseNames.length >= 254 && name !== "other") return phaseIdOf(t, "other");
    i = t.phaseNames.length;
    t.phaseNames.push(name);
    t.phaseIds.set(name, i);
  }
  return i;
}
