/**
 * Several MAAS regions in one rollout, as pure logic: how a host is keyed, how waves are
 * cut so that every region gets its own canary, and how the failure budget is counted per
 * region. The rollout machine (state-machines/rollout.ts) uses these; so do the runtime
 * (src/runtime/regions.ts) and the plan. No I/O. docs/architecture.md, "Several regions".
 *
 * A host key is the machine's system_id in a single-region deployment (unchanged from
 * before regions existed, so old stores read as they are), and `<region>/<system_id>`
 * when the config lists `regions:`. MAAS system_ids never hold a "/" and region names
 * are DNS labels, so the split is unambiguous.
 */
import { ConfigError } from "../../src/errors.ts";
import { parseBudget, planWaves, type BudgetSpec } from "../waves.ts";

export const REGION_SEPARATOR = "/";

/** Region names: lower-case DNS labels (they are part of every host key and metric label). */
export const REGION_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/** The key of a host: its system_id alone when there is no region, else `<region>/<system_id>`. */
export function hostKey(region: string | null | undefined, systemId: string): string {
  return region ? `${region}${REGION_SEPARATOR}${systemId}` : systemId;
}

/** The region of a host key, or null for a single-region key. */
export function regionOfKey(key: string): string | null {
  const i = key.indexOf(REGION_SEPARATOR);
  return i < 0 ? null : key.slice(0, i);
}

/** The system_id MAAS knows the host by (within its region). */
export function systemIdOfKey(key: string): string {
  const i = key.indexOf(REGION_SEPARATOR);
  return i < 0 ? key : key.slice(i + 1);
}

/**
 * Waves over several regions: the policy is applied to each region's hosts on its own
 * (a percentage is of that region's fleet), and wave i is every region's wave i, taken
 * round robin in the regions' order. So `[1, 10, "25%"]` starts one canary in every region, then ten per
 * region, then a quarter of each region. A region with fewer waves simply has no hosts in
 * the later ones. With one region (or none) this is planWaves exactly.
 */
export function planRegionalWaves(hostsByRegion: ReadonlyMap<string, readonly string[]>, policy: readonly (number | string)[]): string[][] {
  const perRegion = [...hostsByRegion.values()].filter((ids) => ids.length > 0).map((ids) => planWaves(ids, policy));
  if (perRegion.length <= 1) return perRegion[0] ?? [];
  const depth = Math.max(...perRegion.map((w) => w.length));
  const waves: string[][] = [];
  for (let i = 0; i < depth; i++) {
    // Round robin over the regions: the in-flight window then takes hosts of every region
    // in turn instead of one region's whole share first.
    const parts = perRegion.map((w) => w[i] ?? []);
    const wave: string[] = [];
    const longest = Math.max(...parts.map((p) => p.length));
    for (let j = 0; j < longest; j++) for (const p of parts) if (j < p.length) wave.push(p[j] as string);
    waves.push(wave);
  }
  return waves;
}

/**
 * A region planned after the rollout started (it did not answer when the rollout was
 * planned): its wave j joins the rollout's wave `from + j`, `from` being the rollout's
 * current wave, past the end as new waves. So its canary is in a wave that settles before
 * any of its later hosts starts, as a region planned at the start has, and it never joins
 * a wave that has already settled. The runner (the stored plan) and the rollout machine
 * merge the same way.
 */
export function mergeRegionWaves(waves: readonly (readonly string[])[], from: number, regionWaves: readonly (readonly string[])[]): string[][] {
  const out = waves.map((w) => [...w]);
  regionWaves.forEach((w, j) => {
    if (w.length === 0) return;
    const at = from + j;
    while (out.length <= at) out.push([]);
    (out[at] as string[]).push(...w);
  });
  // A wave is never empty: `from` past the end leaves no gap, since waves are pushed in order.
  return out.filter((w) => w.length > 0);
}

/** Per region: how many hosts it has in the rollout and how many failures its budget tolerates. */
export interface RegionBudgets {
  hosts: Record<string, number>;
  limit: Record<string, number>;
}

/**
 * The per-region failure limits from the hosts' keys: `spec` resolved against each
 * region's share of the fleet. Empty when the keys carry no region (one region: the
 * total budget is that region's budget).
 */
export function regionBudgets(waves: readonly (readonly string[])[], spec: BudgetSpec, where = "rollout.budget.perRegion"): RegionBudgets {
  const hosts: Record<string, number> = {};
  for (const wave of waves) {
    for (const key of wave) {
      const r = regionOfKey(key);
      if (r !== null) hosts[r] = (hosts[r] ?? 0) + 1;
    }
  }
  const limit: Record<string, number> = {};
  for (const [r, n] of Object.entries(hosts)) limit[r] = parseBudget(spec, n, where);
  return { hosts, limit };
}

/** The region whose budget `failures` (failures per region since the last acknowledgement) exceeds, if any. */
export function regionOverBudget(
  region: string | null,
  failures: Readonly<Record<string, number>>,
  acknowledged: Readonly<Record<string, number>>,
  budgets: RegionBudgets,
): { region: string; failures: number; limit: number } | null {
  if (region === null) return null;
  const limit = budgets.limit[region];
  if (limit === undefined) return null;
  const n = (failures[region] ?? 0) - (acknowledged[region] ?? 0);
  return n > limit ? { region, failures: n, limit } : null;
}

/**
 * Which hosts of a wave can start now: those whose region answers. The others are kept,
 * in order, until their region is back (they are never dropped: a wave settles only when
 * every one of its hosts has).
 */
export function splitByAvailability(keys: readonly string[], down: Readonly<Record<string, true>>): { ready: string[]; waiting: string[] } {
  const ready: string[] = [];
  const waiting: string[] = [];
  for (const k of keys) {
    const r = regionOfKey(k);
    if (r !== null && down[r]) waiting.push(k);
    else ready.push(k);
  }
  return { ready, waiting };
}

/** Checks a list of region names: at least one, each a DNS label, no two the same. Throws a ConfigError naming the entry. */
export function checkRegionNames(names: readonly string[], where = "regions"): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (!REGION_NAME.test(name)) throw new ConfigError(`${where}.${i}.name`, `"${name}" must be a lower-case DNS label (letters, digits, -), at most 32`);
    const before = seen.get(name);
    if (before !== undefined) throw new ConfigError(`${where}.${i}.name`, `"${name}" is already the name of ${where}.${before}; region names must be unique`);
    seen.set(name, i);
  });
}
