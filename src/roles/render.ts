/**
 * The role plan as text for `metalwave plan`: each role with its machines per zone,
 * spares, what is left out and why, the tag changes and the findings. Long lists are
 * cut (the JSON form of the plan has everything).
 */
import type { MachineRef, RolePlan } from "./types.ts";

export interface RenderOptions {
  /** Machines named per zone, spare list or change before "and N more". */
  maxNames?: number;
}

function names(ms: readonly MachineRef[], max: number): string {
  const shown = ms.slice(0, max).map((m) => `${m.hostname} (${m.systemId})`).join(", ");
  return ms.length > max ? `${shown}, and ${ms.length - max} more` : shown;
}

export function renderPlanText(plan: RolePlan, opts: RenderOptions = {}): string {
  const max = opts.maxNames ?? 6;
  const lines: string[] = [];
  const claimed = plan.claimed.length ? `, ${plan.claimed.length} claimed by this plan` : "";
  lines.push(`Deployment ${plan.deployment} (scope tag ${plan.scopeTag}): ${plan.members.length} machines${claimed}; zones: ${plan.zones.join(", ") || "none"}`);

  lines.push("", "Roles:");
  for (const [role, s] of Object.entries(plan.byRole)) {
    const wanted = s.rest ? "the rest" : s.max === s.min ? `${s.min}` : `${s.min}..${s.max ?? "∞"}`;
    const flags = [s.automatic ? "tag managed by MAAS (XPath)" : "", `${s.eligible} eligible`].filter(Boolean).join(", ");
    lines.push(`  ${role}: ${s.count} (wanted ${wanted}; ${flags})`);
    for (const [zone, ms] of Object.entries(s.zones)) lines.push(`    ${zone}: ${ms.length}  ${names(ms, max)}`);
    const spares = plan.spares[role] ?? [];
    if (s.sparesWanted > 0 || spares.length > 0) lines.push(`    spares: ${spares.length} of ${s.sparesWanted}${spares.length ? `  ${names(spares, max)}` : ""}`);
  }

  if (plan.unassigned.length) lines.push("", `Without a role (${plan.unassigned.length}): ${names(plan.unassigned, max)}`);
  if (plan.excluded.length) {
    lines.push("", `Left out (${plan.excluded.length}):`);
    const shown = plan.excluded.slice(0, max * 2);
    for (const e of shown) lines.push(`  ${e.hostname} (${e.systemId}) ${e.zone}: ${e.reason}, ${e.detail}${e.inScope ? "" : " (not in scope)"}`);
    if (plan.excluded.length > shown.length) lines.push(`  and ${plan.excluded.length - shown.length} more`);
  }

  lines.push("", "Tag changes:");
  if (plan.tagChanges.length === 0) lines.push("  none");
  for (const c of plan.tagChanges) {
    const create = c.create ? ` (create: "${c.comment}")` : "";
    lines.push(`  ${c.tag}${create}: +${c.add.length} -${c.remove.length}`);
  }
  if (plan.blockDeviceTags.length) {
    const byTag = new Map<string, { add: number; remove: number; machines: Set<string> }>();
    for (const b of plan.blockDeviceTags) {
      const e = byTag.get(b.tag) ?? { add: 0, remove: 0, machines: new Set<string>() };
      e[b.action]++;
      e.machines.add(b.systemId);
      byTag.set(b.tag, e);
    }
    for (const [tag, e] of byTag) lines.push(`  block devices, ${tag}: +${e.add} -${e.remove} disks on ${e.machines.size} machines`);
  }

  lines.push("", "Findings:");
  if (plan.findings.length === 0) lines.push("  none");
  for (const f of plan.findings) lines.push(`  ${f.severity} ${f.code}: ${f.message}`);
  return lines.join("\n") + "\n";
}
