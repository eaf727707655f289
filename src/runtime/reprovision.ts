/**
 * Re-provisioning failed hosts, and spares taking the role of hosts that stay broken.
 *
 * `planReprovision` turns the operator's list of hosts into a rollout plan whose hosts
 * are released (with erase), optionally commissioned again (the hardware may have
 * changed: role rules and ceph disk tags are then judged anew), deployed and layered
 * again with the roles their tags give them. `promoteSpares` moves each role of a
 * quarantined host to a spare held back for that role (same zone first), in batched
 * tag calls, and plans the rollout that deploys and layers the spares in its stead.
 * Both plans carry the deployment's other hosts in service as layer peers, so the
 * clusters they form are found again before the new hosts join them.
 */
import type { Config } from "../config.ts";
import type { MaasPort, Machine } from "../maas/port.ts";
import { NodeStatus as S, STATUS_LABEL, isStatusCode } from "../model/maas/status.ts";
import { MetalwaveError } from "../errors.ts";
import { roleRecheckFor, scopeTagFor, spareTagFor } from "../roles/index.ts";
import { REPROVISION_RELEASABLE, type EraseMode, type Reprovision } from "../../state-machines/host.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import { RegionsMaas } from "../maas/regions.ts";
import type { PlannedHost, RolloutPlan } from "./deployment-plan.ts";
import { RolloutRunner, type PreparedPlan, type RolloutSummary, type RunnerDeps } from "./rollout-runner.ts";

export type ReprovisionErrorCode = "REPROVISION_UNKNOWN_HOST" | "REPROVISION_NOT_IN_DEPLOYMENT" | "REPROVISION_WRONG_STATE" | "REPROVISION_NO_ROLE";

export class ReprovisionError extends MetalwaveError<ReprovisionErrorCode> {
  readonly code: ReprovisionErrorCode;
  constructor(code: ReprovisionErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ReprovisionRequest {
  /** Hostnames or system_ids. */
  hosts: readonly string[];
  reason: string;
  erase: EraseMode;
  /**
   * Commission each host again after its release (the hardware may have changed): its
   * role rules and ceph disk tags are then judged from the new facts before it is deployed.
   */
  recommission?: boolean;
  /** A control host leaves Juju even with mysql-k8s or rabbitmq-k8s pods on its node (the reference's `sunbeam cluster remove --force`). */
  force?: boolean;
}

export interface Replacement {
  failed: { systemId: string; hostname: string };
  role: string;
  spare: { systemId: string; hostname: string } | null;
  /** Why no spare took the role. */
  note?: string;
}

/** The role tags a machine carries (those the config defines), sorted. */
export function rolesOf(m: Machine, config: Config): string[] {
  const defined = new Set(Object.keys(config.roles.definitions));
  return m.tag_names.filter((t) => defined.has(t)).sort();
}

/** The deployment's Deployed hosts with a role, outside `exclude`: their clusters are found again before new hosts join. */
export function layerPeers(machines: readonly Machine[], config: Config, scopeTag: string, exclude: ReadonlySet<string>): NonNullable<RolloutPlan["layerPeers"]> {
  return machines
    .filter((m) => m.tag_names.includes(scopeTag) && m.status === S.DEPLOYED && !exclude.has(m.system_id))
    .map((m) => ({ systemId: m.system_id, hostname: m.hostname, roles: rolesOf(m, config) }))
    .filter((p) => p.roles.length > 0)
    .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
}

/**
 * A one-wave plan of hosts the operator or a policy chose (tags already in place), with
 * the deployment's other hosts in service as layer peers.
 */
export function hostsPlan(
  config: Config,
  kind: NonNullable<RolloutPlan["kind"]>,
  reason: string,
  hosts: PlannedHost[],
  machines: readonly Machine[],
  notPeers: readonly string[] = [],
): RolloutPlan {
  const scopeTag = scopeTagFor(config.deployment);
  return {
    version: 2,
    kind,
    reason,
    deployment: config.deployment,
    scopeTag,
    machineTagsSynced: true,
    hosts,
    waves: [hosts.map((h) => h.systemId)],
    layerPeers: layerPeers(machines, config, scopeTag, new Set([...hosts.map((h) => h.systemId), ...notPeers])),
  };
}

/** A machine as a host of such a plan: one wave, its roles, no disk tags to add (they are in place). */
export function plannedHost(m: Machine, roles: string[], reprovision?: Reprovision): PlannedHost {
  const region = regionOfKey(m.system_id);
  return { systemId: m.system_id, ...(region !== null ? { region } : {}), hostname: m.hostname, zone: m.zone.name, wave: 0, roles, disks: [], ...(reprovision ? { reprovision } : {}) };
}

/** The config for re-provisioning, replacement and remediation runs: failures are what they handle, so no budget pauses them. */
export function withoutBudget(config: Config): Config {
  return { ...config, rollout: { ...config.rollout, budget: { perWave: "100%", total: "100%" } } };
}

/** A spare is deployable from these: a New one is commissioned first. */
const SPARE_USABLE: readonly number[] = [S.READY, S.NEW];

const byHostname = (a: { hostname: string }, b: { hostname: string }) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0);

/**
 * Several regions: the same dependencies with a port over the regions of these hosts only,
 * so a pass over them waits for no other region (one that is away holds only its own hosts).
 * One region: as they are.
 */
export function onRegionsOf<D extends { maas: MaasPort }>(deps: D, hosts: readonly { systemId: string }[]): D {
  if (!(deps.maas instanceof RegionsMaas) || deps.maas.links.size <= 1 || hosts.length === 0) return deps;
  return { ...deps, maas: deps.maas.subset(hosts.map((h) => regionOfKey(h.systemId) ?? "")) };
}

/** Several regions: the machines of the regions that answer now, and the others' names; one region: every machine. */
export async function machinesAnswering(maas: MaasPort, filter: { tags?: readonly string[] } = {}): Promise<{ machines: Machine[]; unreachable: string[] }> {
  if (maas instanceof RegionsMaas && maas.links.size > 1) return maas.listMachinesAnswering(filter);
  return { machines: await maas.listMachines(filter), unreachable: [] };
}

/** Checks every named host before anything is touched; an error names each host at fault. */
export async function planReprovision(maas: MaasPort, config: Config, req: ReprovisionRequest): Promise<RolloutPlan> {
  // Several regions: one that is away is not waited for; a host named there is unknown, and the error says why.
  const { machines, unreachable } = await machinesAnswering(maas);
  const scopeTag = scopeTagFor(config.deployment);
  const byName = new Map<string, Machine>();
  for (const m of machines) {
    byName.set(m.system_id, m);
    byName.set(m.hostname, m);
  }
  const unknown = req.hosts.filter((h) => !byName.has(h));
  if (unknown.length > 0) {
    const away = unreachable.length > 0 ? ` (regions not answering, whose machines could not be listed: ${unreachable.join(", ")})` : "";
    throw new ReprovisionError("REPROVISION_UNKNOWN_HOST", `no machine in MAAS with hostname or system_id ${unknown.join(", ")}${away}`);
  }
  const chosen = [...new Map(req.hosts.map((h) => byName.get(h) as Machine).map((m) => [m.system_id, m])).values()];
  const outside = chosen.filter((m) => !m.tag_names.includes(scopeTag));
  if (outside.length > 0) {
    throw new ReprovisionError("REPROVISION_NOT_IN_DEPLOYMENT", `${outside.map((m) => `${m.hostname} (${m.system_id})`).join(", ")}: not in deployment ${config.deployment} (no ${scopeTag} tag); metalwave re-provisions only its own machines`);
  }
  const wrong = chosen.filter((m) => !isStatusCode(m.status) || !REPROVISION_RELEASABLE.includes(m.status));
  if (wrong.length > 0) {
    const allowed = REPROVISION_RELEASABLE.map((s) => STATUS_LABEL[s]).join(", ");
    const what = req.recommission ? "re-provisioning with re-commissioning releases a machine MAAS holds, then commissions it" : "re-provisioning releases a machine MAAS holds";
    throw new ReprovisionError(
      "REPROVISION_WRONG_STATE",
      wrong.map((m) => `${m.hostname} (${m.system_id}) is ${m.status_name}`).join("; ") +
        `: ${what} (${allowed}); abort a deploy first, and a Broken (quarantined) machine needs mark-fixed in MAAS`,
    );
  }
  const roleless = chosen.filter((m) => rolesOf(m, config).length === 0);
  if (roleless.length > 0) throw new ReprovisionError("REPROVISION_NO_ROLE", `${roleless.map((m) => `${m.hostname} (${m.system_id})`).join(", ")}: carries no role tag, so there is nothing to re-provision it as`);

  const hosts = chosen.sort(byHostname).map((m) => {
    const roles = rolesOf(m, config);
    const force = req.force === true ? { force: true } : {};
    return plannedHost(m, roles, req.recommission ? { erase: req.erase, recommission: true, recheck: roleRecheckFor(config.roles, roles), ...force } : { erase: req.erase, ...force });
  });
  return hostsPlan(config, "reprovision", req.reason, hosts, machines);
}

/**
 * For each role of each quarantined host, a spare held back for that role (its zone
 * first, then by hostname) is chosen to take the role: the role tag is to move from the
 * failed host to the spare and the spare tag to come off it, one `update_nodes` per tag.
 * Nothing is changed here: the tags move as the first step of the returned plan's rollout
 * (PlanPrepare), once it is in the store, and that step journals `sparesPromoted` (also
 * under `alsoUnder`, the rollout that left the hosts quarantined). No plan when no spare
 * was free.
 */
export async function promoteSpares(
  maas: MaasPort,
  config: Config,
  quarantined: readonly { systemId: string; hostname: string }[],
  reason: string,
  opts: { alsoUnder?: string } = {},
): Promise<{ replacements: Replacement[]; plan: PreparedPlan | null }> {
  if (quarantined.length === 0) return { replacements: [], plan: null };
  const machines = await maas.listMachines({});
  const scopeTag = scopeTagFor(config.deployment);
  const byId = new Map(machines.map((m) => [m.system_id, m]));
  const taken = new Set<string>();
  const replacements: Replacement[] = [];
  const tagAdds = new Map<string, string[]>();
  const tagRemoves = new Map<string, string[]>();
  const push = (map: Map<string, string[]>, tag: string, id: string) => map.set(tag, [...(map.get(tag) ?? []), id]);
  const spareRoles = new Map<string, string[]>();

  for (const q of quarantined) {
    const failed = byId.get(q.systemId);
    const roles = failed ? rolesOf(failed, config) : [];
    // Several regions: a spare of the failed host's own region only (a site's host is replaced at that site).
    const region = regionOfKey(q.systemId);
    for (const role of roles) {
      const spareTag = spareTagFor(role);
      const candidates = machines
        .filter((m) => m.tag_names.includes(spareTag) && m.tag_names.includes(scopeTag) && SPARE_USABLE.includes(m.status) && !m.locked && !taken.has(m.system_id) && regionOfKey(m.system_id) === region)
        // The failed host's zone first (keeps the role's spread), then Ready before New (no commissioning), then hostname.
        .sort((a, b) => Number(b.zone.name === failed?.zone.name) - Number(a.zone.name === failed?.zone.name) || Number(b.status === S.READY) - Number(a.status === S.READY) || byHostname(a, b));
      const spare = candidates[0];
      if (!spare) {
        replacements.push({ failed: q, role, spare: null, note: `no free spare (New or Ready, not locked) tagged ${spareTag} in ${scopeTag}${region === null ? "" : ` in region ${region}`}` });
        continue;
      }
      taken.add(spare.system_id);
      replacements.push({ failed: q, role, spare: { systemId: spare.system_id, hostname: spare.hostname } });
      push(tagAdds, role, spare.system_id);
      push(tagRemoves, role, q.systemId);
      push(tagRemoves, spareTag, spare.system_id);
      spareRoles.set(spare.system_id, [...(spareRoles.get(spare.system_id) ?? []), role]);
    }
  }
  if (spareRoles.size === 0) return { replacements, plan: null };
  const tags = [...new Set([...tagAdds.keys(), ...tagRemoves.keys()])].map((tag) => ({ tag, add: tagAdds.get(tag) ?? [], remove: tagRemoves.get(tag) ?? [] }));
  const hosts: PlannedHost[] = [...spareRoles.entries()]
    .map(([id, roles]) => {
      const m = byId.get(id) as Machine;
      return plannedHost(m, roles.sort());
    })
    .sort(byHostname);
  return {
    replacements,
    plan: {
      ...hostsPlan(
        config,
        "replacement",
        reason,
        hosts,
        machines,
        quarantined.map((q) => q.systemId),
      ),
      prepare: { tags, done: { data: { event: "sparesPromoted", replacements }, ...(opts.alsoUnder ? { alsoUnder: opts.alsoUnder } : {}) } },
    },
  };
}

/** A `reprovision` rollout's plan: `spares` says whether spares take the roles of the hosts it leaves quarantined. */
export type ReprovisionPlan = PreparedPlan & { spares?: boolean };

/**
 * The second step of a re-provisioning: spares take the roles of the hosts its rollout
 * left quarantined, and a `replacement` rollout deploys them. Also what finishes a killed
 * pass after its `reprovision` rollout is resumed (src/runtime/maintenance.ts). When no
 * spare is free, `sparesPromoted` (with the notes) is journaled under the rollout at once.
 */
export async function replaceQuarantined(
  deps: Omit<RunnerDeps, "config"> & { config: Config },
  reprovision: RolloutSummary,
  reason: string,
): Promise<{ replacements: Replacement[]; replacement: RolloutSummary | null }> {
  const config = withoutBudget(deps.config);
  const quarantined = reprovision.failures.filter((f) => f.outcome === "quarantined").map((f) => ({ systemId: f.systemId, hostname: f.hostname }));
  if (quarantined.length === 0) return { replacements: [], replacement: null };
  // A spare comes from the failed host's own region: only those regions are asked.
  const regional = onRegionsOf(deps, quarantined);
  const promoted = await promoteSpares(regional.maas, config, quarantined, `replaces ${quarantined.map((q) => q.hostname).join(", ")} (${reason})`, { alsoUnder: reprovision.rolloutId });
  if (!promoted.plan) {
    deps.store.appendJournal({ rolloutId: reprovision.rolloutId, kind: "rollout", data: { event: "sparesPromoted", replacements: promoted.replacements } });
    return { replacements: promoted.replacements, replacement: null };
  }
  const replacement = await new RolloutRunner({ ...regional, config }).run({ resume: false, plan: promoted.plan });
  return { replacements: promoted.replacements, replacement };
}

export interface ReprovisionRun {
  reprovision: RolloutSummary;
  replacements: Replacement[];
  /** The rollout that deployed the spares, when any spare took a role. */
  replacement: RolloutSummary | null;
}

/**
 * Re-provisions the hosts, then lets spares take the roles of those that ended
 * quarantined. Each step is a rollout of its own in the store (kinds `reprovision` and
 * `replacement`), journaled and resumable like any rollout. The failure budget does not
 * pause these: a host that fails is what the spares are for.
 */
export async function reprovisionHosts(
  deps: Omit<RunnerDeps, "config"> & { config: Config },
  req: ReprovisionRequest,
  opts: { spares: boolean },
): Promise<ReprovisionRun> {
  const config = withoutBudget(deps.config);
  // `spares` is part of the stored plan, so a resumed pass finishes with the spares too.
  const plan: ReprovisionPlan = { ...(await planReprovision(deps.maas, config, req)), spares: opts.spares };
  const first = await new RolloutRunner({ ...onRegionsOf(deps, plan.hosts), config }).run({ resume: false, plan });
  if (!opts.spares) return { reprovision: first, replacements: [], replacement: null };
  const then = await replaceQuarantined(deps, first, req.reason);
  return { reprovision: first, ...then };
}
