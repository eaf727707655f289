/**
 * Fault injection: what can go wrong in a region, as seeded rates. The spec is a
 * compact string (see docs/simulator.md, "Faults") or the parsed object.
 *
 * Grammar: items separated by commas; item = KEY[@TARGET]=VALUE[:PARAM=VALUE]...
 */
import { SimError } from "./errors.ts";

export const PHASES = ["commission", "deploy", "release", "erase", "test"] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseFaults {
  /** Probability the phase ends in its failed status. */
  fail: number;
  /** Probability the phase never finishes (MAAS's own timeout then fails it, if it has one). */
  hang: number;
  /**
   * Only the machine's first `first` runs of the phase are at risk (`:first=N`); later ones
   * go as without faults. A test tool, not a MAAS behaviour: a host whose first
   * commissioning fails and a later one works.
   */
  first?: number;
}

export interface MachineFaults {
  phases: Partial<Record<Phase, Partial<PhaseFaults>>>;
  /** Probability a power operation answers 503 (no Retry-After), BMC unreachable. */
  powerError?: number;
  /** Probability a power operation answers 504 (RPC to the rack timed out). */
  powerTimeout?: number;
}

export interface FaultSpec {
  /** Rates for every machine. */
  all: MachineFaults;
  /** Overrides by hostname or system_id (tests aim faults at one machine). */
  byMachine: Record<string, MachineFaults>;
  /** Each request starts a burst of `length` 503s (with Retry-After) with this probability. */
  burst503?: { rate: number; length: number; retryAfterS: number };
  /** Each mutating request fails 409 with Retry-After (database conflict) with this probability. */
  conflict409?: { rate: number; retryAfterS: number };
  /** Added to every API request, while it holds one of the in-flight slots. */
  latencyMs?: { min: number; max: number };
  /** Requests served at once; the rest queue (a real region process serves about 4). */
  maxInFlight?: number;
}

export function noFaults(): FaultSpec {
  return { all: { phases: {} }, byMachine: {} };
}

function bad(item: string, why: string): SimError {
  return new SimError("SIM_FAULT_SPEC", `faults item '${item}'`, why);
}

function rate(item: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw bad(item, `'${text}' is not a probability between 0 and 1`);
  return n;
}

function posInt(item: string, text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw bad(item, `${what} '${text}' is not a positive integer`);
  return n;
}

function duration(item: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text.trim());
  if (!m) throw bad(item, `'${text}' is not a duration like 20ms or 1s`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

function params(item: string, parts: string[], allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of parts) {
    const eq = p.indexOf("=");
    const key = eq < 0 ? p : p.slice(0, eq);
    if (eq < 0 || !allowed.includes(key)) throw bad(item, `unknown parameter '${p}' (allowed: ${allowed.join(", ") || "none"})`);
    out.set(key, p.slice(eq + 1));
  }
  return out;
}

/** Parses a `--faults` string; throws SIM_FAULT_SPEC naming the bad item. */
export function parseFaults(spec: string): FaultSpec {
  const out = noFaults();
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const [head = "", ...extra] = item.split(":");
    const eq = head.indexOf("=");
    if (eq < 0) throw bad(item, "expected KEY=VALUE");
    const lhs = head.slice(0, eq).trim();
    const value = head.slice(eq + 1).trim();
    const at = lhs.indexOf("@");
    const key = at < 0 ? lhs : lhs.slice(0, at);
    const target = at < 0 ? undefined : lhs.slice(at + 1);
    if (target !== undefined && target === "") throw bad(item, "empty machine after '@'");
    const machine = (): MachineFaults => {
      if (target === undefined) return out.all;
      return (out.byMachine[target] ??= { phases: {} });
    };
    const dot = key.indexOf(".");
    const phase = dot < 0 ? "" : key.slice(0, dot);
    const kind = dot < 0 ? "" : key.slice(dot + 1);
    if ((PHASES as readonly string[]).includes(phase) && (kind === "fail" || kind === "hang")) {
      const ps = params(item, extra, ["first"]);
      const m = machine();
      const p = (m.phases[phase as Phase] ??= {});
      p[kind] = rate(item, value);
      if (ps.has("first")) p.first = posInt(item, ps.get("first") ?? "", "first");
      if ((p.fail ?? 0) + (p.hang ?? 0) > 1) throw bad(item, `${phase}.fail + ${phase}.hang exceed 1`);
      continue;
    }
    if (key === "power.error" || key === "power.timeout") {
      params(item, extra, []);
      const m = machine();
      if (key === "power.error") m.powerError = rate(item, value);
      else m.powerTimeout = rate(item, value);
      continue;
    }
    if (target !== undefined) throw bad(item, `'${key}' cannot target a machine (only phase and power faults can)`);
    switch (key) {
      case "burst503": {
        const p = params(item, extra, ["len", "retry-after"]);
        out.burst503 = {
          rate: rate(item, value),
          length: p.has("len") ? posInt(item, p.get("len") ?? "", "len") : 3,
          retryAfterS: p.has("retry-after") ? posInt(item, p.get("retry-after") ?? "", "retry-after") : 10,
        };
        break;
      }
      case "conflict409": {
        const p = params(item, extra, ["retry-after"]);
        out.conflict409 = { rate: rate(item, value), retryAfterS: p.has("retry-after") ? posInt(item, p.get("retry-after") ?? "", "retry-after") : 5 };
        break;
      }
      case "latency": {
        params(item, extra, []);
        const [lo = "", hi] = value.split("..");
        const min = duration(item, lo);
        const max = hi === undefined ? min : duration(item, hi);
        if (max < min) throw bad(item, "the upper bound is below the lower bound");
        out.latencyMs = { min, max };
        break;
      }
      case "inflight":
        params(item, extra, []);
        out.maxInFlight = posInt(item, value, "inflight");
        break;
      default:
        throw bad(
          item,
          `unknown fault '${key}' (known: ${PHASES.map((p) => `${p}.fail, ${p}.hang`).join(", ")}, power.error, power.timeout, burst503, conflict409, latency, inflight)`,
        );
    }
  }
  return out;
}

/** Renders a spec back to the string syntax (for logs and docs). */
export function formatFaults(f: FaultSpec): string {
  const items: string[] = [];
  const machine = (m: MachineFaults, at: string) => {
    for (const phase of PHASES) {
      const p = m.phases[phase];
      const first = p?.first === undefined ? "" : `:first=${p.first}`;
      if (p?.fail !== undefined) items.push(`${phase}.fail${at}=${p.fail}${first}`);
      if (p?.hang !== undefined) items.push(`${phase}.hang${at}=${p.hang}${first}`);
    }
    if (m.powerError !== undefined) items.push(`power.error${at}=${m.powerError}`);
    if (m.powerTimeout !== undefined) items.push(`power.timeout${at}=${m.powerTimeout}`);
  };
  machine(f.all, "");
  for (const [t, m] of Object.entries(f.byMachine)) machine(m, `@${t}`);
  if (f.burst503) items.push(`burst503=${f.burst503.rate}:len=${f.burst503.length}:retry-after=${f.burst503.retryAfterS}`);
  if (f.conflict409) items.push(`conflict409=${f.conflict409.rate}:retry-after=${f.conflict409.retryAfterS}`);
  if (f.latencyMs) items.push(`latency=${f.latencyMs.min}ms..${f.latencyMs.max}ms`);
  if (f.maxInFlight !== undefined) items.push(`inflight=${f.maxInFlight}`);
  return items.join(",");
}
