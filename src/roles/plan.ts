/**
 * Tag-driven role assignment, as a pure function: MAAS machines and tags plus the
 * role rules in, a plan out (who holds which role in which zone, spares, the tag and
 * block-device tag changes that make MAAS say so, and the pre-flight findings).
 * No I/O, no clock, no randomness: machines are sorted by hostname and system_id
 * first, so the same region gives the same plan whatever order MAAS listed it in.
 * `syncTags` (sync.ts) applies the plan; docs/roles.md explains the decisions.
 */
import type { Tag } from "../maas/schemas.ts";
import { NodeStatus, type NodeStatusCode } from "../model/maas/status.ts";
import { runChecks } from "./checks.ts";
import { RolesError } from "./errors.ts";
import { diskTagEdits, hostnamePattern, machineFacts, matchesRule, maxNicSpeed, type MachineFacts, type MachineOrFacts } from "./facts.ts";
import type { CandidateSelector, Prefer, RolesConfig } from "./schema.ts";
import type {
  Assignment,
  BlockDeviceTagChange,
  Excluded,
  ExclusionReason,
  MachineRef,
  RolePlan,
  RoleSummary,
  TagChange,
} from "./types.ts";

export interface PlanInput {
  /** Every machine of the region (or at least the scope and the candidates), as MAAS lists them or as their facts. */
  machines: readonly MachineOrFacts[];
  tags: readonly Tag[];
  config: RolesConfig;
  deployment: string;
  /**
   * The MAAS user metalwave acts as (`whoami`). A machine owned by anyone else is
   * frozen; without it every owned machine counts as someone else's.
   */
  maasUser?: string | null;
}

const SCOPE_PREFIX = "metalwave-";
const SPARE_PREFIX = "metalwave-spare-";

export function scopeTagFor(deployment: string): string {
  return `${SCOPE_PREFIX}${deployment}`;
}

export function spareTagFor(role: string): string {
  return `${SPARE_PREFIX}${role}`;
}

/** A deployment scope tag: `metalwave-<name>`, spare tags excepted. */
export function isScopeTag(tag: string): boolean {
  return tag.startsWith(SCOPE_PREFIX) && !tag.startsWith(SPARE_PREFIX);
}

/** Statuses that take a machine out of its roles until someone fixes it. */
const UNHEALTHY: ReadonlySet<NodeStatusCode> = new Set<NodeStatusCode>([
  NodeStatus.BROKEN,
  NodeStatus.MISSING,
  NodeStatus.RETIRED,
  NodeStatus.FAILED_COMMISSIONING,
  NodeStatus.FAILED_DEPLOYMENT,
  NodeStatus.FAILED_RELEASING,
  NodeStatus.FAILED_DISK_ERASING,
  NodeStatus.FAILED_ENTERING_RESCUE_MODE,
  NodeStatus.FAILED_EXITING_RESCUE_MODE,
  NodeStatus.FAILED_TESTING,
]);

export function isUnhealthy(status: NodeStatusCode): boolean {
  return UNHEALTHY.has(status);
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function byHostname(a: MachineRef, b: MachineRef): number {
  return cmpStr(a.hostname, b.hostname) || cmpStr(a.systemId, b.systemId);
}

function ref(f: MachineFacts): MachineRef {
  return { systemId: f.systemId, hostname: f.hostname };
}

function resolveMax(max: number | string | null, pool: number): number | null {
  if (max === null) return null;
  if (typeof max === "number") return max;
  return Math.floor((Number.parseFloat(max) / 100) * pool);
}

function preferValue(f: MachineFacts, by: Prefer["by"]): number | string | null {
  switch (by) {
    case "cores":
      return f.cores;
    case "memory":
      return f.memoryMiB;
    case "storage":
      return f.storageGiB;
    case "disks":
      return f.disks.length;
    case "nicSpeed":
      return maxNicSpeed(f);
    case "hostname":
      return f.hostname;
  }
}

/** Orders candidates by the role's preferences, then hostname and system_id. Unknown values go last. */
function preferenceComparator(prefer: readonly Prefer[]): (a: MachineFacts, b: MachineFacts) => number {
  return (a, b) => {
    for (const p of prefer) {
      const va = preferValue(a, p.by);
      const vb = preferValue(b, p.by);
      if (va === vb) continue;
      if (va === null) return 1;
      if (vb === null) return -1;
      const c = typeof va === "number" && typeof vb === "number" ? va - vb : cmpStr(String(va), String(vb));
      if (c !== 0) return p.order === "asc" ? c : -c;
    }
    return cmpStr(a.hostname, b.hostname) || cmpStr(a.systemId, b.systemId);
  };
}

/**
 * Takes up to `need` machines from `ranked` (best first), each time from the zone
 * holding the fewest of this role so far (ties: the zone whose best candidate ranks
 * higher), so members spread across failure domains as Juju's distribution groups do.
 */
function pickSpread(ranked: readonly MachineFacts[], need: number, counts: Map<string, number>): MachineFacts[] {
  const queues = new Map<string, { items: MachineFacts[]; rank: number[]; at: number }>();
  ranked.forEach((f, i) => {
    let q = queues.get(f.zone);
    if (q === undefined) queues.set(f.zone, (q = { items: [], rank: [], at: 0 }));
    q.items.push(f);
    q.rank.push(i);
  });
  const out: MachineFacts[] = [];
  while (out.length < need) {
    let bestZone: string | undefined;
    let bestCount = Infinity;
    let bestRank = Infinity;
    for (const [zone, q] of queues) {
      if (q.at >= q.items.length) continue;
      const c = counts.get(zone) ?? 0;
      const r = q.rank[q.at] ?? Infinity;
      if (c < bestCount || (c === bestCount && r < bestRank)) {
        bestZone = zone;
        bestCount = c;
        bestRank = r;
      }
    }
    if (bestZone === undefined) break;
    const q = queues.get(bestZone);
    const f = q?.items[q.at];
    if (q === undefined || f === undefined) break;
    q.at++;
    out.push(f);
    counts.set(bestZone, bestCount + 1);
  }
  return out;
}

function selectorMatches(f: MachineFacts, s: CandidateSelector): boolean {
  if (s.pools.length > 0 && (f.pool === null || !s.pools.includes(f.pool))) return false;
  if (s.zones.length > 0 && !s.zones.includes(f.zone)) return false;
  if (!s.tags.every((t) => f.tags.includes(t))) return false;
  if (s.notTags.some((t) => f.tags.includes(t))) return false;
  return hostnamePattern(s.hostname).test(f.hostname);
}

interface Classified {
  facts: MachineFacts;
  inScope: boolean;
  /** Eligible for roles (healthy, commissioned, free to change). */
  usable: boolean;
  /** Tags of this machine are never changed by the plan. */
  untouched: boolean;
  exclusion: Excluded | null;
}

function exclusionOf(f: MachineFacts, inScope: boolean, otherScopes: string[], maasUser: string | null): { reason: ExclusionReason; detail: string } | null {
  if (inScope && otherScopes.length > 0) return { reason: "scope-conflict", detail: `also carries ${otherScopes.join(", ")}` };
  if (f.locked) return { reason: "locked", detail: "locked" };
  if (f.owner !== null && f.owner !== maasUser) return { reason: "owned-elsewhere", detail: `owned by ${f.owner}` };
  if (UNHEALTHY.has(f.status)) return { reason: "unhealthy", detail: f.statusName };
  if (!f.commissioned) return { reason: "uncommissioned", detail: `${f.statusName}, no commissioning data` };
  return null;
}

export function planRoles(input: PlanInput): RolePlan {
  const { config, deployment } = input;
  if (!/^[a-zA-Z0-9_-]{1,40}$/.test(deployment) || deployment.startsWith("spare-")) {
    throw new RolesError(
      "ROLES_CONFIG",
      `deployment: "${deployment}" cannot name a scope tag (letters, digits, - and _, at most 40, not starting with "spare-", which spare tags use)`,
    );
  }
  const maasUser = input.maasUser ?? null;
  const scopeTag = scopeTagFor(deployment);
  const defs = config.definitions;
  const roleNames = Object.keys(defs).sort(cmpStr);
  const orderIndex = new Map(config.order.map((r, i) => [r, i]));
  const byOrder = (a: string, b: string) => (orderIndex.get(a) ?? 1e9) - (orderIndex.get(b) ?? 1e9) || cmpStr(a, b);

  const tagIndex = new Map(input.tags.map((t) => [t.name, t]));
  const isAutomatic = (tag: string) => (tagIndex.get(tag)?.definition.trim() ?? "") !== "";
  const scopeAutomatic = isAutomatic(scopeTag);

  const facts = input.machines.map((m) => machineFacts(m)).sort(byHostname);
  const existingTags = new Set<string>(tagIndex.keys());
  for (const f of facts) for (const t of f.tags) existingTags.add(t);

  // ---- who is in scope, who may be claimed, who is out and why
  const classified: Classified[] = [];
  for (const f of facts) {
    const inScope = f.tags.includes(scopeTag);
    const otherScopes = f.tags.filter((t) => isScopeTag(t) && t !== scopeTag);
    if (!inScope) {
      // Another deployment's machine, or claiming is off: not ours to look at.
      if (otherScopes.length > 0 || !config.candidates.claim || scopeAutomatic) continue;
      if (!selectorMatches(f, config.candidates)) continue;
    }
    const ex = exclusionOf(f, inScope, otherScopes, maasUser);
    // Unusable candidates outside the scope are not ours to report, except those that
    // only wait for commissioning: the operator needs to know the plan is incomplete.
    if (!inScope && ex !== null && ex.reason !== "uncommissioned") continue;
    const roleTags = roleNames.filter((r) => f.tags.includes(r)).sort(byOrder);
    const frozen = ex !== null && (ex.reason === "locked" || ex.reason === "owned-elsewhere");
    classified.push({
      facts: f,
      inScope,
      usable: ex === null,
      untouched: ex !== null && ex.reason !== "unhealthy",
      exclusion:
        ex === null
          ? null
          : { ...ref(f), zone: f.zone, reason: ex.reason, detail: ex.detail, inScope, keptRoles: frozen && inScope ? roleTags : [] },
    });
  }

  const pool = classified.filter((c) => c.usable);
  const poolSize = pool.length;
  const cById = new Map(classified.map((c) => [c.facts.systemId, c]));

  // ---- assignment state
  const rolesOf = new Map<string, string[]>();
  const spareOf = new Map<string, string>();
  const pinned = new Set<string>();
  const membersOf = new Map<string, MachineFacts[]>(roleNames.map((r) => [r, []]));
  const sparesOf = new Map<string, MachineFacts[]>(roleNames.map((r) => [r, []]));
  const give = (f: MachineFacts, role: string) => {
    const held = rolesOf.get(f.systemId) ?? [];
    if (held.includes(role)) return;
    rolesOf.set(f.systemId, [...held, role]);
    membersOf.get(role)?.push(f);
  };

  // Frozen machines keep what they carry; MAAS-managed role tags are read as they are.
  for (const c of classified) {
    if (!c.inScope) continue;
    for (const r of c.exclusion?.keptRoles ?? []) {
      if (isAutomatic(r)) continue;
      give(c.facts, r);
      pinned.add(c.facts.systemId);
    }
  }
  for (const r of roleNames) {
    if (!isAutomatic(r)) continue;
    for (const c of classified) {
      const frozen = c.exclusion?.reason === "locked" || c.exclusion?.reason === "owned-elsewhere";
      if (!c.inScope || !(c.usable || frozen) || !c.facts.tags.includes(r)) continue;
      give(c.facts, r);
      pinned.add(c.facts.systemId);
    }
  }

  const together = (a: string, b: string) => config.hyperconverged.some((g) => g.includes(a) && g.includes(b));
  const canAlsoTake = (sid: string, role: string) => (rolesOf.get(sid) ?? []).every((h) => h !== role && together(h, role));
  const eligibleCount = new Map<string, number>();
  const freeCount = new Map<string, number>();

  const rank = (role: string, list: MachineFacts[], leastPreferredFirst = false): MachineFacts[] => {
    const def = defs[role];
    const cmp = preferenceComparator(def?.prefer ?? []);
    const dir = leastPreferredFirst ? -1 : 1;
    // Within a zone: the role's own spares first (that is what they are held for), then
    // other machines already in the deployment, then new ones claimed from the region.
    const spare = spareTagFor(role);
    const standing = (f: MachineFacts) => (!cById.get(f.systemId)?.inScope ? 0 : f.tags.includes(spare) ? 2 : 1);
    return [...list].sort((a, b) => standing(b) - standing(a) || dir * cmp(a, b));
  };

  const zoneCounts = (list: readonly MachineFacts[]) => {
    const m = new Map<string, number>();
    for (const f of list) m.set(f.zone, (m.get(f.zone) ?? 0) + 1);
    return m;
  };

  // What each machine holds today and would keep: a role whose tag it carries in the
  // scope and whose rule it still matches, and a spare slot. Other roles (and spares) do
  // not take such machines, so a re-plan never moves a working member to another role.
  const heldToday = new Map<string, string[]>();
  const spareToday = new Map<string, string>();
  for (const c of pool) {
    if (!c.inScope) continue;
    const held = roleNames.filter((r) => !isAutomatic(r) && c.facts.tags.includes(r) && matchesRule(c.facts, defs[r]?.match ?? {}));
    if (held.length > 0) heldToday.set(c.facts.systemId, held);
    const spare = roleNames.find((r) => c.facts.tags.includes(spareTagFor(r)));
    if (spare !== undefined) spareToday.set(c.facts.systemId, spare);
  }
  // Roles whose members have been chosen: a machine they did not keep is free again.
  const decided = new Set<string>();
  const heldElsewhere = (sid: string, role: string | null) =>
    (heldToday.get(sid) ?? []).some((r) => r !== role && !decided.has(r) && (role === null || !together(r, role)));
  const spareElsewhere = (sid: string, role: string) => {
    const s = spareToday.get(sid);
    return s !== undefined && s !== role;
  };

  /** Candidates in tiers: the holders of this slot, then free machines, then other roles' spares (a last resort). */
  const tiers = (free: Classified[], holds: (c: Classified) => boolean, role: string): MachineFacts[][] => [
    free.filter(holds).map((c) => c.facts),
    free.filter((c) => !holds(c) && !spareElsewhere(c.facts.systemId, role)).map((c) => c.facts),
    free.filter((c) => !holds(c) && spareElsewhere(c.facts.systemId, role)).map((c) => c.facts),
  ];

  const assignMembers = (role: string) => {
    const def = defs[role];
    if (def === undefined || isAutomatic(role)) return;
    const matching = pool.filter((c) => matchesRule(c.facts, def.match));
    eligibleCount.set(role, matching.length);
    const limit = resolveMax(def.max, poolSize) ?? Infinity;
    const current = membersOf.get(role) ?? [];
    let need = limit - current.length;
    const free = matching.filter((c) => {
      const sid = c.facts.systemId;
      return !spareOf.has(sid) && canAlsoTake(sid, role) && !heldElsewhere(sid, role);
    });
    freeCount.set(role, free.length);
    decided.add(role);
    if (need <= 0) return;
    const counts = zoneCounts(current);
    for (const tier of tiers(free, (c) => c.inScope && c.facts.tags.includes(role), role)) {
      const picked = pickSpread(rank(role, tier), need, counts);
      for (const f of picked) give(f, role);
      need -= picked.length;
      if (need <= 0) break;
    }
  };

  const assignSpares = (role: string) => {
    const def = defs[role];
    if (def === undefined || def.spares === 0) return;
    const tag = spareTagFor(role);
    const free = pool.filter((c) => {
      const sid = c.facts.systemId;
      return !spareOf.has(sid) && !rolesOf.has(sid) && !heldElsewhere(sid, null) && matchesRule(c.facts, def.match);
    });
    const counts = new Map<string, number>();
    let need = def.spares;
    // A "rest" role puts every other match into service, so its spares are its least
    // preferred machines; a sized role's spares are simply the next best after its members.
    for (const tier of tiers(free, (c) => c.inScope && c.facts.tags.includes(tag), role)) {
      const picked = pickSpread(rank(role, tier, def.count === "rest"), need, counts);
      for (const f of picked) {
        spareOf.set(f.systemId, role);
        sparesOf.get(role)?.push(f);
      }
      need -= picked.length;
      if (need <= 0) break;
    }
  };

  // Fixed-size roles first (in order), then every role's spares (so a "rest" role
  // cannot swallow them), then the "rest" roles.
  const ordered = [...roleNames].sort(byOrder);
  for (const r of ordered) if (defs[r]?.count !== "rest") assignMembers(r);
  for (const r of ordered) assignSpares(r);
  for (const r of ordered) if (defs[r]?.count === "rest") assignMembers(r);

  // ---- results
  const claimedSet = new Set(
    pool.filter((c) => !c.inScope && (rolesOf.has(c.facts.systemId) || spareOf.has(c.facts.systemId))).map((c) => c.facts.systemId),
  );
  const memberFacts = classified.filter((c) => c.inScope || claimedSet.has(c.facts.systemId));
  const zoneSet = new Set<string>();
  const assignments: Assignment[] = memberFacts.map((c) => {
    const roles = [...(rolesOf.get(c.facts.systemId) ?? [])].sort(byOrder);
    if (roles.length > 0 || spareOf.has(c.facts.systemId)) zoneSet.add(c.facts.zone);
    return {
      ...ref(c.facts),
      zone: c.facts.zone,
      roles,
      spareFor: spareOf.get(c.facts.systemId) ?? null,
      claimed: claimedSet.has(c.facts.systemId),
      pinned: pinned.has(c.facts.systemId),
    };
  });

  const byRole: Record<string, RoleSummary> = {};
  const spares: Record<string, MachineRef[]> = {};
  for (const r of ordered) {
    const def = defs[r];
    if (def === undefined) continue;
    const members = [...(membersOf.get(r) ?? [])].sort(byHostname);
    const zones: Record<string, MachineRef[]> = {};
    for (const z of [...new Set(members.map((m) => m.zone))].sort(cmpStr)) zones[z] = members.filter((m) => m.zone === z).map(ref);
    byRole[r] = {
      tag: r,
      spareTag: spareTagFor(r),
      automatic: isAutomatic(r),
      rest: def.count === "rest",
      min: def.min,
      max: resolveMax(def.max, poolSize),
      sparesWanted: def.spares,
      eligible: isAutomatic(r) ? members.length : (eligibleCount.get(r) ?? pool.filter((c) => matchesRule(c.facts, def.match)).length),
      free: isAutomatic(r) ? members.length : (freeCount.get(r) ?? 0),
      count: members.length,
      zones,
      spreadZones: def.spreadZones,
    };
    spares[r] = [...(sparesOf.get(r) ?? [])].sort(byHostname).map(ref);
  }

  // ---- machine tag changes
  const ownedTags = [scopeTag, ...ordered, ...ordered.map(spareTagFor)];
  const automaticTags = ownedTags.filter(isAutomatic);
  const tagChanges: TagChange[] = [];
  const change = (tag: string, comment: string, desired: ReadonlySet<string>) => {
    if (isAutomatic(tag)) return;
    const add: string[] = [];
    const remove: string[] = [];
    for (const c of classified) {
      const sid = c.facts.systemId;
      const has = c.facts.tags.includes(tag);
      if (desired.has(sid) && !has) add.push(sid);
      else if (!desired.has(sid) && has && c.inScope && !c.untouched) remove.push(sid);
    }
    if (add.length + remove.length === 0) return;
    tagChanges.push({ tag, create: add.length > 0 && !existingTags.has(tag), comment, add, remove });
  };
  // The scope tag only grows: letting a machine go from a deployment is an operator's decision.
  const inScopeAfter = new Set(memberFacts.map((c) => c.facts.systemId));
  if (!scopeAutomatic) change(scopeTag, `metalwave: scope of deployment ${deployment}`, inScopeAfter);
  for (const r of ordered) {
    const holders = new Set((membersOf.get(r) ?? []).map((f) => f.systemId));
    change(r, `metalwave: ${r} for deployment ${deployment}`, holders);
  }
  for (const r of ordered) {
    const held = new Set((sparesOf.get(r) ?? []).map((f) => f.systemId));
    change(spareTagFor(r), `metalwave: spare ${r} machines for deployment ${deployment}`, held);
  }

  // ---- block-device tags (ceph) on the machines metalwave manages
  const cephRules = ordered.flatMap((r) => {
    const rule = defs[r]?.cephDisks;
    return rule ? [{ role: r, rule }] : [];
  });
  const diskTags = [...new Set(cephRules.map((c) => c.rule.tag))].sort(cmpStr);
  const blockDeviceTags: BlockDeviceTagChange[] = [];
  if (diskTags.length > 0) {
    for (const c of memberFacts) {
      if (!c.usable) continue;
      const held = rolesOf.get(c.facts.systemId) ?? [];
      const rules = cephRules.filter((x) => held.includes(x.role)).map((x) => x.rule);
      for (const e of diskTagEdits(c.facts, diskTags, rules)) blockDeviceTags.push({ ...ref(c.facts), ...e });
    }
  }

  const body: Omit<RolePlan, "findings"> = {
    deployment,
    scopeTag,
    zones: [...zoneSet].sort(cmpStr),
    members: memberFacts.map((c) => ref(c.facts)),
    claimed: memberFacts.filter((c) => claimedSet.has(c.facts.systemId)).map((c) => ref(c.facts)),
    assignments,
    byRole,
    spares,
    unassigned: memberFacts
      .filter((c) => c.usable && !rolesOf.has(c.facts.systemId) && !spareOf.has(c.facts.systemId))
      .map((c) => ref(c.facts)),
    excluded: classified.flatMap((c) => (c.exclusion ? [c.exclusion] : [])),
    ownedTags,
    automaticTags,
    tagChanges,
    blockDeviceTags,
  };
  const factsById = new Map(classified.map((c) => [c.facts.systemId, c.facts]));
  return { ...body, findings: runChecks(body, factsById, config) };
}
