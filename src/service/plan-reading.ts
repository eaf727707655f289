/**
 * Reading a stored rollout plan for the service's answers: the planned machines, the
 * waves and the plan's kind, from a plan of any version (the store keeps plans as
 * written, so older ones lack `hosts` or `kind`).
 */
import type { RolloutPlan } from "../runtime/deployment-plan.ts";

export type RolloutKind = NonNullable<RolloutPlan["kind"]>;

/** A planned machine: where it sits in the plan. */
export interface PlannedCell {
  systemId: string;
  hostname: string;
  wave: number;
  zone: string;
  roles: string[];
}

/** The plan's waves (system ids) and its host count. */
export function planHosts(plan: unknown): { waves: string[][]; total: number } {
  const p = (plan ?? {}) as { waves?: unknown; hosts?: unknown };
  const waves = Array.isArray(p.waves) ? (p.waves as unknown[]).map((w) => (Array.isArray(w) ? (w as string[]) : [])) : [];
  const total = Array.isArray(p.hosts) ? p.hosts.length : waves.reduce((n, w) => n + w.length, 0);
  return { waves, total };
}

/** The planned machines, from `hosts` when the plan has them, else from its waves. */
export function plannedCells(plan: unknown): PlannedCell[] {
  const p = (plan ?? {}) as { hosts?: unknown; waves?: unknown };
  const cells: PlannedCell[] = [];
  const str = (v: unknown, fallback: string) => (typeof v === "string" ? v : fallback);
  if (Array.isArray(p.hosts)) {
    for (const raw of p.hosts as unknown[]) {
      const h = (raw ?? {}) as Record<string, unknown>;
      const systemId = str(h["systemId"], "");
      if (!systemId) continue;
      const roles = Array.isArray(h["roles"]) ? (h["roles"] as unknown[]).filter((r): r is string => typeof r === "string") : [];
      cells.push({ systemId, hostname: str(h["hostname"], systemId), wave: typeof h["wave"] === "number" ? h["wave"] : 0, zone: str(h["zone"], ""), roles });
    }
    return cells;
  }
  planHosts(plan).waves.forEach((w, wave) => {
    for (const systemId of w) cells.push({ systemId, hostname: systemId, wave, zone: "", roles: [] });
  });
  return cells;
}

const ROLLOUT_KINDS: readonly RolloutKind[] = ["rollout", "reprovision", "replacement", "remediation"];

/** A stored plan's kind; absent (a deployment rollout, or an older plan) is `rollout`. */
export function kindOf(plan: unknown): RolloutKind {
  const k = (plan as { kind?: unknown } | null)?.kind;
  return ROLLOUT_KINDS.find((x) => x === k) ?? "rollout";
}
