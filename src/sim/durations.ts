/**
 * Fixed phase durations: the `durations` option of the simulator (`--durations` on
 * the command line). By default every busy phase takes a seeded duration within a
 * realistic range; a phase named here takes exactly the given number of realistic
 * seconds instead (still divided by the speed), for every machine and attempt. The
 * benchmark uses it so that a rollout's makespan can be compared with a lower bound
 * computed from known per-host durations.
 */
import { SimError } from "./errors.ts";
import type { Phase } from "./faults.ts";

/** What a duration is set for: the busy phases, with erasing split by mode. */
export type DurationKey = Phase | "erase-quick" | "erase-secure";
export const DURATION_KEYS: readonly DurationKey[] = ["commission", "deploy", "release", "erase", "erase-quick", "erase-secure", "test"];

/** Realistic seconds per phase; phases left out keep their seeded range. */
export type FixedDurations = Partial<Record<DurationKey, number>>;

function isDurationKey(key: string): key is DurationKey {
  return (DURATION_KEYS as readonly string[]).includes(key);
}

function checkSeconds(key: string, value: unknown, item: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new SimError("SIM_OPTIONS", `durations item '${item}'`, `the duration of '${key}' must be a number of seconds ≥ 0`);
  }
  return value;
}

/** Checks a parsed durations object: known phases only, finite seconds ≥ 0. */
export function checkDurations(input: Readonly<Record<string, unknown>>): FixedDurations {
  const out: FixedDurations = {};
  for (const [key, value] of Object.entries(input)) {
    if (!isDurationKey(key)) {
      throw new SimError("SIM_OPTIONS", `durations item '${key}'`, `unknown phase '${key}' (known: ${DURATION_KEYS.join(", ")})`);
    }
    out[key] = checkSeconds(key, value, `${key}=${String(value)}`);
  }
  return out;
}

/**
 * Parses `commission=450,deploy=900` (seconds; an `s` suffix is allowed). An empty
 * string sets nothing. A bad item is a SIM_OPTIONS error naming it.
 */
export function parseDurations(spec: string): FixedDurations {
  const out: Record<string, number> = {};
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new SimError("SIM_OPTIONS", `durations item '${item}'`, "expected PHASE=SECONDS, e.g. commission=450");
    const key = item.slice(0, eq).trim();
    const text = item.slice(eq + 1).trim().replace(/s$/, "");
    if (!isDurationKey(key)) {
      throw new SimError("SIM_OPTIONS", `durations item '${item}'`, `unknown phase '${key}' (known: ${DURATION_KEYS.join(", ")})`);
    }
    out[key] = checkSeconds(key, text === "" ? NaN : Number(text), item);
  }
  return out;
}
