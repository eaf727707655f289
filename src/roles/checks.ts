/**
 * Pre-flight checks over a role plan: the reference deployer's table (roles, ceph
 * disks, hardware minimums, topology, zones, Juju controllers) plus metalwave's own
 * (counts, spares, exclusive roles, machines that cannot be used, scope conflicts).
 * Each check is a pure function returning Findings; FAILs block a rollout unless the
 * operator overrides their code (`blockingFindings`). docs/roles.md has the table.
 */
import type { MachineFacts } from "./facts.ts";
import type { RolesConfig } from "./schema.ts";
import type { Excluded, ExclusionReason, Finding, FindingCode, MachineRef, RolePlan, Severity } from "./types.ts";

export type PlanBody = Omit<RolePlan, "findings">;

export interface CheckContext {
  plan: PlanBody;
  facts: ReadonlyMap<string, MachineFacts>;
  config: RolesConfig;
}

/** The reference deployer's hardware minimums. */
export const MIN_CORES = 16;
export const MIN_MEMORY_MIB = 32_000;
export const CONTROLLER_MIN_CORES = 2;
export const CONTROLLER_MIN_MEMORY_MIB = 4_000;
export const ROOT_DISK_MIN_GIB = 500;
/** Roles the topology checks count, as the reference does. */
export const TOPOLOGY_ROLES = ["juju-controller", "control", "compute", "storage"] as const;

/** How many machines a message names before "and N more". */
const NAMED = 5;

export function describeMachines(ms: readonly MachineRef[], detail?: (m: MachineRef) => string): string {
  const shown = ms.slice(0, NAMED).map((m) => `${m.hostname} (${m.systemId})${detail ? `: ${detail(m)}` : ""}`);
  const more = ms.length > NAMED ? `, and ${ms.length - NAMED} more` : "";
  return shown.join(detail ? "; " : ", ") + more;
}

function finding(severity: Severity, code: FindingCode, message: string, machines: MachineRef[] = [], role: string | null = null): Finding {
  return { severity, code, message, role, machines };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Roles whose members must hold ceph disks: every role with a ceph rule, and `storage` always. */
function cephRoles(config: RolesConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, def] of Object.entries(config.definitions)) if (def.cephDisks) out.set(name, def.cephDisks.tag);
  if (!out.has("storage")) out.set("storage", "ceph");
  return out;
}

export function checkNoRole({ plan }: CheckContext): Finding[] {
  if (plan.unassigned.length === 0) return [];
  return [
    finding(
      "FAIL",
      "NO_ROLE",
      `machine has no role assigned: ${plural(plan.unassigned.length, "machine")} in ${plan.scopeTag} match no role with room left: ${describeMachines(plan.unassigned)}`,
      plan.unassigned,
    ),
  ];
}

export function checkStorageCeph({ plan, facts, config }: CheckContext): Finding[] {
  const out: Finding[] = [];
  const changesOf = new Map<string, RolePlan["blockDeviceTags"]>();
  for (const c of plan.blockDeviceTags) changesOf.set(c.systemId, [...(changesOf.get(c.systemId) ?? []), c]);
  for (const [role, tag] of cephRoles(config)) {
    const bad: MachineRef[] = [];
    for (const a of plan.assignments) {
      if (!a.roles.includes(role)) continue;
      const f = facts.get(a.systemId);
      const changes = (changesOf.get(a.systemId) ?? []).filter((c) => c.tag === tag);
      const after = (f?.disks ?? []).filter((d) => {
        const c = changes.find((x) => x.deviceId === d.id);
        return c ? c.action === "add" : d.tags.includes(tag);
      });
      if (after.length === 0) bad.push(a);
    }
    if (bad.length > 0) {
      out.push(
        finding("FAIL", "STORAGE_NO_CEPH_DISK", `storage node has no ceph storage: ${plural(bad.length, `${role} machine`)} without a "${tag}" disk: ${describeMachines(bad)}`, bad, role),
      );
    }
  }
  return out;
}

export function checkHardware({ plan, facts }: CheckContext): Finding[] {
  const bad: MachineRef[] = [];
  const why = new Map<string, string>();
  for (const a of plan.assignments) {
    const f = facts.get(a.systemId);
    if (a.roles.length === 0 || f === undefined) continue;
    const controllerOnly = a.roles.every((r) => r === "juju-controller");
    const cores = controllerOnly ? CONTROLLER_MIN_CORES : MIN_CORES;
    const mem = controllerOnly ? CONTROLLER_MIN_MEMORY_MIB : MIN_MEMORY_MIB;
    if (f.cores < cores || f.memoryMiB < mem) {
      bad.push(a);
      why.set(a.systemId, `${f.cores} cores, ${f.memoryMiB} MiB (needs ${cores} cores, ${mem} MiB as ${a.roles.join("+")})`);
    }
  }
  if (bad.length === 0) return [];
  return [finding("WARN", "HARDWARE_BELOW_MINIMUM", `machine does not meet requirements: ${describeMachines(bad, (m) => why.get(m.systemId) ?? "")}`, bad)];
}

export function checkRootDisk({ plan, facts }: CheckContext): Finding[] {
  const bad: MachineRef[] = [];
  const why = new Map<string, string>();
  for (const a of plan.assignments) {
    const f = facts.get(a.systemId);
    if (a.roles.length === 0 || f === undefined) continue;
    const boot = f.disks.find((d) => d.boot);
    const problems: string[] = [];
    if (boot === undefined) problems.push("no boot disk");
    else {
      if (boot.kind !== "ssd") problems.push(`${boot.name} is not tagged ssd`);
      if (boot.sizeGiB < ROOT_DISK_MIN_GIB) problems.push(`${boot.name} is ${Math.round(boot.sizeGiB)} GiB < ${ROOT_DISK_MIN_GIB} GiB`);
    }
    if (problems.length > 0) {
      bad.push(a);
      why.set(a.systemId, problems.join(", "));
    }
  }
  if (bad.length === 0) return [];
  return [finding("WARN", "ROOT_DISK", `root disk should be an SSD of at least ${ROOT_DISK_MIN_GIB} GiB: ${describeMachines(bad, (m) => why.get(m.systemId) ?? "")}`, bad)];
}

export function checkTopology({ plan, config }: CheckContext): Finding[] {
  const out: Finding[] = [];
  for (const role of TOPOLOGY_ROLES) {
    const s = plan.byRole[role];
    if (s === undefined) continue;
    // An operator who set the role's count to 0 asked for none; juju-controller has its own check.
    if (s.count === 0 && role !== "juju-controller" && config.definitions[role]?.max !== 0) {
      out.push(finding("FAIL", "ROLE_EMPTY", `no machine with role: ${role} (${plural(s.eligible, "machine")} match its rule)`, [], role));
    } else if (s.count > 0 && s.count < 3) {
      const members = Object.values(s.zones).flat();
      out.push(finding("WARN", "ROLE_BELOW_3", `less than 3 ${role}: ${s.count} (${describeMachines(members)})`, members, role));
    }
  }
  return out;
}

export function checkZoneCount({ plan }: CheckContext): Finding[] {
  if (plan.zones.length !== 2) return [];
  return [finding("WARN", "TWO_ZONES", `the deployment spans exactly 2 zones (${plan.zones.join(", ")}): losing one loses half; use 1 or at least 3`)];
}

function zoneSpread(plan: PlanBody, role: string): Map<string, number> {
  const counts = new Map<string, number>(plan.zones.map((z) => [z, 0]));
  for (const [z, ms] of Object.entries(plan.byRole[role]?.zones ?? {})) counts.set(z, ms.length);
  return counts;
}

export function checkZoneBalance({ plan }: CheckContext): Finding[] {
  if (plan.zones.length < 2) return [];
  const out: Finding[] = [];
  for (const [role, s] of Object.entries(plan.byRole)) {
    if (s.count === 0) continue;
    const counts = zoneSpread(plan, role);
    const values = [...counts.values()];
    // A difference of one is the best an uneven count can do.
    if (Math.max(...values) - Math.min(...values) <= 1) continue;
    const text = [...counts].map(([z, n]) => `${z} ${n}`).join(", ");
    out.push(finding("WARN", "ZONE_IMBALANCE", `${role} is unevenly spread across zones: ${text}`, [], role));
  }
  return out;
}

export function checkRoleSpread({ plan }: CheckContext): Finding[] {
  const out: Finding[] = [];
  for (const [role, s] of Object.entries(plan.byRole)) {
    if (s.spreadZones === 0 || s.count === 0) continue;
    const want = Math.min(s.spreadZones, plan.zones.length, s.count);
    const have = Object.keys(s.zones).length;
    if (have >= want) continue;
    const members = Object.values(s.zones).flat();
    const where = Object.entries(s.zones).map(([z, ms]) => `${z}: ${ms.map((m) => `${m.hostname} (${m.systemId})`).join(", ")}`).join("; ");
    out.push(finding("WARN", "ROLE_ZONE_SPREAD", `${role} sits on ${plural(have, "zone")} of the ${plan.zones.length} available, wanted ${want} distinct zones: ${where}`, members, role));
  }
  return out;
}

export function checkJuju({ plan }: CheckContext): Finding[] {
  const s = plan.byRole["juju-controller"];
  if (s !== undefined && s.count > 0) return [];
  return [finding("FAIL", "JUJU_CONTROLLERS", `at least 3 juju controllers are needed; the plan has none (${plural(s?.eligible ?? 0, "machine")} match the juju-controller rule)`, [], "juju-controller")];
}

export function checkCounts({ plan }: CheckContext): Finding[] {
  const out: Finding[] = [];
  for (const [role, s] of Object.entries(plan.byRole)) {
    if (s.count >= s.min) continue;
    const members = Object.values(s.zones).flat();
    out.push(
      finding(
        "FAIL",
        "COUNT_SHORT",
        `${role} needs at least ${s.min} machines, the plan has ${s.count} (${plural(s.eligible, "machine")} match its rule, ${s.free} of them still free when its turn came${members.length ? `; got ${describeMachines(members)}` : ""})`,
        members,
        role,
      ),
    );
  }
  return out;
}

export function checkSpares({ plan }: CheckContext): Finding[] {
  const out: Finding[] = [];
  for (const [role, s] of Object.entries(plan.byRole)) {
    const got = plan.spares[role] ?? [];
    if (got.length >= s.sparesWanted) continue;
    out.push(
      finding("WARN", "SPARES_SHORT", `${role} wants ${s.sparesWanted} spares, only ${got.length} eligible machines are left${got.length ? `: ${describeMachines(got)}` : ""}`, got, role),
    );
  }
  return out;
}

export function checkExclusive({ plan, config }: CheckContext): Finding[] {
  const pairs = new Map<string, MachineRef[]>();
  for (const a of plan.assignments) {
    for (const r of a.roles) {
      for (const other of a.roles) {
        if (r >= other) continue;
        const ex = config.definitions[r]?.exclusiveWith.includes(other) || config.definitions[other]?.exclusiveWith.includes(r);
        if (!ex) continue;
        const key = `${r}+${other}`;
        pairs.set(key, [...(pairs.get(key) ?? []), a]);
      }
    }
  }
  return [...pairs].map(([key, ms]) => {
    const [a, b] = key.split("+");
    return finding("FAIL", "EXCLUSIVE_ROLES", `${a} and ${b} are exclusive but ${plural(ms.length, "machine holds", "machines hold")} both: ${describeMachines(ms)}`, ms, a ?? null);
  });
}

const EXCLUSION_FINDING: Record<ExclusionReason, { code: FindingCode; severity: Severity; text: string }> = {
  unhealthy: { code: "MACHINE_UNHEALTHY", severity: "FAIL", text: "are broken, failed or missing; they leave their roles until fixed" },
  locked: { code: "MACHINE_LOCKED", severity: "FAIL", text: "are locked; metalwave leaves their tags as they are" },
  "owned-elsewhere": { code: "MACHINE_OWNED_ELSEWHERE", severity: "FAIL", text: "are owned by another MAAS user; metalwave leaves their tags as they are" },
  "scope-conflict": { code: "SCOPE_CONFLICT", severity: "FAIL", text: "carry the scope tags of two deployments; metalwave leaves their tags as they are" },
  uncommissioned: { code: "UNCOMMISSIONED", severity: "WARN", text: "have no commissioning data, so no rule can match them yet; commission them and plan again" },
};

export function checkExcluded({ plan }: CheckContext): Finding[] {
  const groups = new Map<ExclusionReason, Excluded[]>();
  for (const e of plan.excluded) {
    // Unusable machines outside the scope are only worth a word when they wait for commissioning.
    if (!e.inScope && e.reason !== "uncommissioned") continue;
    groups.set(e.reason, [...(groups.get(e.reason) ?? []), e]);
  }
  const out: Finding[] = [];
  for (const [reason, list] of groups) {
    const { code, severity, text } = EXCLUSION_FINDING[reason];
    const machines = list.map((e) => ({ systemId: e.systemId, hostname: e.hostname }));
    const where = reason === "uncommissioned" ? "in or eligible for" : "in";
    out.push(finding(severity, code, `${plural(list.length, "machine")} ${where} ${plan.scopeTag} ${text}: ${describeMachines(list, (m) => list.find((e) => e.systemId === m.systemId)?.detail ?? "")}`, machines));
  }
  return out;
}

export function checkAutomaticTags({ plan }: CheckContext): Finding[] {
  return plan.automaticTags.map((tag) => {
    const role = Object.entries(plan.byRole).find(([, s]) => s.tag === tag || s.spareTag === tag)?.[0] ?? null;
    const held = role !== null && plan.byRole[role]?.tag === tag ? `${plural(plan.byRole[role]?.count ?? 0, "machine")} in this deployment` : "membership";
    return finding("WARN", "AUTOMATIC_TAG", `tag ${tag} has an XPath definition: MAAS decides who carries it (${held}); metalwave only reads it and never edits it`, [], role);
  });
}

export const CHECKS: readonly ((ctx: CheckContext) => Finding[])[] = [
  checkExcluded,
  checkNoRole,
  checkStorageCeph,
  checkHardware,
  checkRootDisk,
  checkTopology,
  checkJuju,
  checkCounts,
  checkSpares,
  checkExclusive,
  checkZoneCount,
  checkZoneBalance,
  checkRoleSpread,
  checkAutomaticTags,
];

/** Every check, FAILs first, then by code and role: a stable order for output and tests. */
export function runChecks(plan: PlanBody, facts: ReadonlyMap<string, MachineFacts>, config: RolesConfig): Finding[] {
  const ctx: CheckContext = { plan, facts, config };
  const all = CHECKS.flatMap((c) => c(ctx));
  const sev = (s: Severity) => (s === "FAIL" ? 0 : 1);
  return all.sort((a, b) => sev(a.severity) - sev(b.severity) || cmp(a.code, b.code) || cmp(a.role ?? "", b.role ?? "") || cmp(a.message, b.message));
}

/** FAIL findings the operator has not overridden: a rollout must not start while any remain. */
export function blockingFindings(planOrFindings: RolePlan | readonly Finding[], overrides: readonly string[] = []): Finding[] {
  const findings = "findings" in planOrFindings ? planOrFindings.findings : planOrFindings;
  const over = new Set(overrides);
  return findings.filter((f) => f.severity === "FAIL" && !over.has(f.code));
}
