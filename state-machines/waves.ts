/**
 * Pure wave planning: how a fleet is cut into waves, how failure budgets resolve
 * to host counts, and the makespan lower bound the benchmark compares against.
 * No I/O, no clock, no randomness: the same input always gives the same plan.
 */
import { z } from "zod";
import { ConfigError } from "../src/errors.ts";

/** A wave size: an absolute host count, or "N%" of the whole fleet (rounded up). */
export type WavePolicyEntry = number | `${number}%`;
/** Wave sizes in order; the last entry repeats until every host is placed. */
export type WavePolicy = readonly WavePolicyEntry[];
/** A failure budget: an absolute number of failed hosts, or "N%" of a size (rounded down). */
export type BudgetSpec = number | `${number}%`;

const PERCENT = /^(\d+(?:\.\d+)?)%$/;

// Numbers and strings are checked by separate schemas: a zod union would only say
// "Invalid input", and the message must say what is wrong with the entry.
const waveCountSchema = z.number().int("must be a whole number of hosts").min(1, "must be at least 1 host");
const wavePercentSchema = z
  .string()
  .regex(PERCENT, 'must be a host count or a percentage such as "5%"')
  .refine((s) => {
    const pct = Number(PERCENT.exec(s)?.[1]);
    return pct > 0 && pct <= 100;
  }, "a percentage must be above 0% and at most 100%");

const budgetCountSchema = z.number().int("must be a whole number of hosts").min(0, "cannot be negative");
const budgetPercentSchema = z
  .string()
  .regex(PERCENT, 'must be a host count or a percentage such as "10%"')
  .refine((s) => Number(PERCENT.exec(s)?.[1]) <= 100, "a percentage must be at most 100%");

type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

function check<T>(value: unknown, count: z.ZodType, percent: z.ZodType, example: string): Checked<T> {
  const schema = typeof value === "number" ? count : typeof value === "string" ? percent : null;
  if (!schema) return { ok: false, message: `must be a host count or a percentage such as "${example}"` };
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data as T } : { ok: false, message: parsed.error.issues[0]?.message ?? "is invalid" };
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Validates a wave policy from configuration, e.g. `[1, 10, "5%", "25%", "100%"]`.
 * Throws a ConfigError that names the offending entry and its index.
 */
export function parseWavePolicy(input: unknown, where = "rollout.waves"): WavePolicy {
  if (!Array.isArray(input)) {
    throw new ConfigError(where, `must be a list of wave sizes such as [1, 10, "25%", "100%"], got ${describe(input)}`);
  }
  if (input.length === 0) {
    throw new ConfigError(where, "must name at least one wave size");
  }
  return input.map((entry: unknown, i) => {
    const checked = check<WavePolicyEntry>(entry, waveCountSchema, wavePercentSchema, "5%");
    if (!checked.ok) throw new ConfigError(`${where}[${i}]`, `${describe(entry)} ${checked.message}`);
    return checked.value;
  });
}

/** Validates a failure budget from configuration: a count (>= 0) or "N%" (0..100). */
export function parseBudgetSpec(input: unknown, where: string): BudgetSpec {
  const checked = check<BudgetSpec>(input, budgetCountSchema, budgetPercentSchema, "10%");
  if (!checked.ok) throw new ConfigError(where, `${describe(input)} ${checked.message}`);
  return checked.value;
}

/**
 * Resolves a budget against a size: the number of failed hosts tolerated.
 * Percentages round DOWN, so "10%" of a 1-host canary tolerates no failure: a
 * budget errs on the side of stopping. The budget is exceeded when failures > limit.
 */
export function parseBudget(spec: unknown, size: number, where = "rollout.budget"): number {
  const valid = parseBudgetSpec(spec, where);
  if (typeof valid === "number") return valid;
  const pct = Number(PERCENT.exec(valid)?.[1]);
  // The epsilon absorbs binary rounding of decimal percentages (e.g. "0.1%") so an exact product is not floored one below.
  return Math.floor((pct * size) / 100 + 1e-9);
}

function waveSize(entry: WavePolicyEntry, fleetSize: number): number {
  if (typeof entry === "number") return entry;
  const pct = Number(PERCENT.exec(entry)?.[1]);
  // The epsilon absorbs binary rounding of decimal percentages so an exact product is not rounded one above.
  return Math.ceil((pct * fleetSize) / 100 - 1e-9);
}

/**
 * Cuts the fleet into waves following the policy. Numbers are absolute host counts,
 * "N%" is a percentage of the whole fleet rounded up; the last entry repeats until
 * every host is placed; a wave is never empty (a size larger than what is left takes
 * the rest). Input order is kept, so the plan is deterministic.
 */
export function planWaves(systemIds: readonly string[], policy: readonly (number | string)[]): string[][] {
  const valid = parseWavePolicy(policy);
  const seen = new Set<string>();
  systemIds.forEach((id, i) => {
    if (typeof id !== "string" || id.length === 0) {
      throw new ConfigError(`hosts[${i}]`, "system_id must be a non-empty string");
    }
    if (seen.has(id)) throw new ConfigError(`hosts[${i}]`, `system_id ${id} is listed twice`);
    seen.add(id);
  });
  const waves: string[][] = [];
  let placed = 0;
  for (let i = 0; placed < systemIds.length; i++) {
    const entry = valid[Math.min(i, valid.length - 1)] as WavePolicyEntry;
    const size = Math.max(1, Math.min(waveSize(entry, systemIds.length), systemIds.length - placed));
    waves.push(systemIds.slice(placed, placed + size));
    placed += size;
  }
  return waves;
}

/**
 * A lower bound on the makespan of a rollout, for the benchmark to compare against.
 *
 * Each host needs at least D = the sum of its phase durations, from start to settle.
 * Within a wave at most `cap` hosts are in flight, so a wave of n hosts is at least
 * ceil(n / cap) back-to-back host lifetimes long: n·D of work spread over `cap`
 * parallel lanes needs at least n·D/cap, and since every host takes the same whole D,
 * the last lane holds ceil(n / cap) of them. Waves are barriers (wave k+1 starts only
 * when wave k has settled), so the waves' bounds add up. Phase caps and MAAS latency
 * only make the real makespan longer, never shorter.
 */
export function makespanLowerBound(
  waveSizes: readonly number[],
  cap: number,
  phaseDurationsMs: readonly number[] | Readonly<Record<string, number>>,
): number {
  if (!Number.isInteger(cap) || cap < 1) throw new ConfigError("cap", `must be a whole number >= 1, got ${cap}`);
  const durations = Array.isArray(phaseDurationsMs) ? phaseDurationsMs : Object.values(phaseDurationsMs);
  const perHost = durations.reduce((sum: number, d: number) => sum + d, 0);
  return waveSizes.reduce((sum, size) => sum + Math.ceil(size / cap) * perHost, 0);
}
