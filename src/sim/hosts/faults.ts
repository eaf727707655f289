/**
 * Faults of simulated hosts, seeded like the MAAS faults (src/sim/faults.ts) and in
 * the same syntax: items separated by commas, item = KIND[@TARGET]=RATE[:PARAM=VALUE]...
 *   fail=0.05               every command fails (exit 1) with probability 0.05
 *   hang@node-0003=0.1      commands on one host (hostname or system_id) never answer
 *   drop=0.01:match=k8s     commands containing "k8s" drop the connection
 *   fail=1:match=microceph disk add:first=2:code=3
 *                           the first two matching commands on each host exit 3
 * The dice are a pure function of (seed, rule, host, deployment, how many times that
 * rule has matched on that host), so a run is reproducible whatever the interleaving.
 */
import { SimError } from "../errors.ts";
import { unit } from "../rng.ts";

export const HOST_FAULT_KINDS = ["fail", "hang", "drop"] as const;
export type HostFaultKind = (typeof HOST_FAULT_KINDS)[number];

export interface HostFaultRule {
  kind: HostFaultKind;
  rate: number;
  /** Hostname or system_id; all hosts when absent. */
  target?: string;
  /** Substring of the command line; every command when absent. */
  match?: string;
  /** Only the first N matching commands on each host are subject. */
  first?: number;
  /** Exit status of a `fail` (default 1). */
  code?: number;
}

export interface HostFaultSpec {
  rules: HostFaultRule[];
}

export function noHostFaults(): HostFaultSpec {
  return { rules: [] };
}

function bad(item: string, why: string): SimError {
  return new SimError("SIM_FAULT_SPEC", `hostFaults item '${item}'`, why);
}

export function parseHostFaults(spec: string): HostFaultSpec {
  const rules: HostFaultRule[] = [];
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const [head = "", ...extra] = item.split(":");
    const eq = head.indexOf("=");
    if (eq < 0) throw bad(item, "expected KIND=RATE");
    const lhs = head.slice(0, eq).trim();
    const [kind = "", target] = lhs.split("@");
    if (!(HOST_FAULT_KINDS as readonly string[]).includes(kind)) throw bad(item, `unknown fault '${kind}' (known: ${HOST_FAULT_KINDS.join(", ")})`);
    if (target !== undefined && target === "") throw bad(item, "empty host after '@'");
    const rate = Number(head.slice(eq + 1));
    if (head.slice(eq + 1).trim() === "" || !(rate >= 0 && rate <= 1)) throw bad(item, `'${head.slice(eq + 1)}' is not a probability between 0 and 1`);
    const rule: HostFaultRule = { kind: kind as HostFaultKind, rate };
    if (target !== undefined) rule.target = target;
    for (const p of extra) {
      const e = p.indexOf("=");
      const key = e < 0 ? p : p.slice(0, e);
      const value = p.slice(e + 1);
      if (e < 0) throw bad(item, `parameter '${p}' needs a value`);
      if (key === "match") rule.match = value;
      else if (key === "first" || key === "code") {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || (key === "code" && n > 255)) throw bad(item, `${key} '${value}' is not ${key === "code" ? "an exit status 1..255" : "a positive integer"}`);
        rule[key] = n;
      } else throw bad(item, `unknown parameter '${key}' (allowed: match, first, code)`);
    }
    if (rule.code !== undefined && rule.kind !== "fail") throw bad(item, "code applies to fail only");
    rules.push(rule);
  }
  return { rules };
}

export function formatHostFaults(f: HostFaultSpec): string {
  return f.rules
    .map((r) => `${r.kind}${r.target ? `@${r.target}` : ""}=${r.rate}${r.match !== undefined ? `:match=${r.match}` : ""}${r.first !== undefined ? `:first=${r.first}` : ""}${r.code !== undefined ? `:code=${r.code}` : ""}`)
    .join(",");
}

export type FaultOutcome = { kind: "none" } | { kind: "fail"; code: number } | { kind: "hang" } | { kind: "drop" };

/** Decides, per command, whether a fault strikes. Keeps the per-host match counters. */
export class HostFaultDice {
  private readonly spec: HostFaultSpec;
  private readonly seed: number;
  private readonly counts = new Map<string, number>();
  constructor(spec: HostFaultSpec, seed: number) {
    this.spec = spec;
    this.seed = seed;
  }
  roll(host: { systemId: string; hostname: string; deployment: number }, command: string): FaultOutcome {
    for (let i = 0; i < this.spec.rules.length; i++) {
      const r = this.spec.rules[i] as HostFaultRule;
      if (r.target !== undefined && r.target !== host.hostname && r.target !== host.systemId) continue;
      if (r.match !== undefined && !command.includes(r.match)) continue;
      const key = `${i}:${host.systemId}:${host.deployment}`;
      const n = (this.counts.get(key) ?? 0) + 1;
      this.counts.set(key, n);
      if (r.first !== undefined && n > r.first) continue;
      if (unit(this.seed, "hostfault", i, host.systemId, host.deployment, n) >= r.rate) continue;
      switch (r.kind) {
        case "fail":
          return { kind: "fail", code: r.code ?? 1 };
        case "hang":
          return { kind: "hang" };
        case "drop":
          return { kind: "drop" };
      }
    }
    return { kind: "none" };
  }
}
