/**
 * Judging one machine again after it was re-commissioned: its hardware may have changed,
 * so the facts the role planner judged before the rollout are read anew. `roleRecheckFor`
 * takes from the role rules what is needed to judge a host of given roles (plain data,
 * kept in the rollout plan and the host's persisted input); `recheckMachine` applies it to
 * the machine as MAAS reports it now. Pure, like the planner.
 */
import type { Machine } from "../maas/schemas.ts";
import { cephDisksFor, diskPasses, diskTagEdits, machineFacts, matchesRule, type DiskTagEdit } from "./facts.ts";
import type { CephDiskRule, MatchRule, RolesConfig } from "./schema.ts";

export interface RoleRecheck {
  /** The host's roles' match rules: the machine must still satisfy each. */
  match: { role: string; rule: MatchRule }[];
  /** Every block-device tag metalwave manages (any role's cephDisks tag), sorted. */
  diskTags: string[];
  /** The host's roles' disk rules: each must still select at least one disk. */
  cephDisks: { role: string; rule: CephDiskRule }[];
}

export interface RecheckResult {
  /** Why the machine no longer fits its roles; empty when it does. */
  problems: string[];
  /** Block-device tag changes that make the disks carry what the rules want now. */
  disks: DiskTagEdit[];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What judging a host of these roles takes from the rules. Unknown roles are skipped (the planner reports them). */
export function roleRecheckFor(config: RolesConfig, roles: readonly string[]): RoleRecheck {
  const defs = config.definitions;
  const diskTags = [...new Set(Object.values(defs).flatMap((d) => (d.cephDisks ? [d.cephDisks.tag] : [])))].sort(cmp);
  const mine = [...roles].sort(cmp).flatMap((role) => {
    const def = defs[role];
    return def ? [{ role, def }] : [];
  });
  return {
    match: mine.map(({ role, def }) => ({ role, rule: def.match })),
    diskTags,
    cephDisks: mine.flatMap(({ role, def }) => (def.cephDisks ? [{ role, rule: def.cephDisks }] : [])),
  };
}

/** The machine judged by the rules it was planned with: what no longer fits, and the disk tags to set. */
export function recheckMachine(m: Machine, recheck: RoleRecheck): RecheckResult {
  const f = machineFacts(m);
  const problems: string[] = [];
  if (!f.commissioned) problems.push("MAAS reports no CPU or memory (no commissioning data)");
  for (const { role, rule } of recheck.match) {
    if (matchesRule(f, rule)) continue;
    const disks = rule.disks ? `${f.disks.filter((d) => diskPasses(d, rule.disks ?? {})).length} of ${f.disks.length} disks pass its disk filter` : `${f.disks.length} disks`;
    problems.push(`no longer matches the rule of role ${role} (${JSON.stringify(rule)}; has ${f.cores} cores, ${f.memoryMiB} MiB, ${disks})`);
  }
  for (const { role, rule } of recheck.cephDisks) {
    if (cephDisksFor(f, rule).length === 0) problems.push(`no disk for role ${role}'s "${rule.tag}" tag (rule ${JSON.stringify(rule)})`);
  }
  return { problems, disks: diskTagEdits(f, recheck.diskTags, recheck.cephDisks.map((c) => c.rule)) };
}
