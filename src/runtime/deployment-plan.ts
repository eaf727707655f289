/**
 * The deployment plan: what `metalwave plan` prints and what `metalwave rollout`
 * runs. One function computes both from the same MAAS reads and config, so a
 * rollout runs exactly the plan the operator saw (same inputs, same plan).
 *
 * Roles come from the role planner (src/roles): machines and tags in, assignments,
 * spares, tag changes and pre-flight findings out. Hosts with a role (spares and
 * machines without a role are held back) are put in waves by the wave policy.
 */
import type { Config } from "../config.ts";
import type { MaasPort, MachineFilter } from "../maas/port.ts";
import { MetalwaveError } from "../errors.ts";
import { blockingFindings, machineFacts, planRoles, type Finding, type FindingCode, type MachineFacts, type MachineOrFacts, type RolePlan } from "../roles/index.ts";
import { planRegionalWaves, regionOfKey } from "../../state-machines/rollout/regions.ts";
import { planByRegion } from "./region-counts.ts";
import { RegionsMaas } from "../maas/regions.ts";
import type { Reprovision } from "../../state-machines/host.ts";
import { planLayouts } from "../roles/layouts.ts";
import { networkModel, type HostLayout, type NetworkModel } from "../roles/layout-plan.ts";
import { renderLayoutsText } from "../roles/layout-render.ts";
import { refuseRegionsAway } from "./region-catchup.ts";

/** A ceph (or other) tag to put on, or take off, one of a host's block devices. */
export interface DiskTagChange {
  deviceId: number;
  deviceName: string;
  tag: string;
  action: "add" | "remove";
}

export interface PlannedHost {
  /** The host key: the system_id, or `<region>/<system_id>` with several regions (state-machines/rollout/regions.ts). */
  systemId: string;
  /** Several regions: the region the machine belongs to (the one that lists it). */
  region?: string;
  hostname: string;
  zone: string;
  wave: number;
  roles: string[];
  /** Block-device tag changes the host's tagging phase makes (one MAAS call each). */
  disks: DiskTagChange[];
  /** Release (erasing as asked), redeploy and re-layer a machine MAAS already holds. */
  reprovision?: Reprovision;
  /** Its network and storage layout, applied in MAAS before it deploys (docs/roles.md); absent: none configured. */
  layout?: HostLayout;
}

/** What the store keeps as the rollout's plan; JSON-ready. */
export interface RolloutPlan {
  version: 2;
  deployment: string;
  scopeTag: string;
  /**
   * The machine tags (scope and roles) were written in bulk before the first host
   * started, so a host's tagging phase only has its disks left to do.
   */
  machineTagsSynced: boolean;
  hosts: PlannedHost[];
  waves: string[][];
  /** What this rollout is for; absent means a rollout of the deployment's plan. */
  kind?: "rollout" | "reprovision" | "replacement" | "remediation";
  /** The operator's reason (re-provisioning). */
  reason?: string;
  /**
   * The deployment's hosts already in service that are not part of this rollout: the
   * clusters they form are found again before these hosts join them.
   */
  layerPeers?: { systemId: string; hostname: string; roles: string[] }[];
  /**
   * Several regions: regions that did not answer when the rollout was planned. Their hosts
   * are planned once each answers (src/runtime/region-plan.ts) and joined to the waves; the
   * rollout is not over until then.
   */
  regionsUnplanned?: string[];
}

export interface DeploymentPlan {
  roles: RolePlan;
  rollout: RolloutPlan;
  /** FAIL findings the overrides do not cover: a rollout refuses to start while any remain. */
  blocking: Finding[];
  /** FAIL findings let through by an operator's override. */
  overridden: Finding[];
  overrides: FindingCode[];
}

export type PreflightErrorCode = "PREFLIGHT_FAILED";

/** Pre-flight checks found what must not go ahead; every finding names its machines and numbers. */
export class PreflightError extends MetalwaveError<PreflightErrorCode> {
  readonly code: PreflightErrorCode = "PREFLIGHT_FAILED";
  readonly findings: Finding[];
  constructor(findings: Finding[]) {
    super(
      `pre-flight checks failed (nothing was changed):\n` +
        findings.map((f) => `  FAIL ${f.code}${f.role ? ` [${f.role}]` : ""}: ${f.message}`).join("\n") +
        `\nfix the fleet or the roles config, or let a check through with --override ${[...new Set(findings.map((f) => f.code))].join(" --override ")}`,
    );
    this.findings = findings;
  }
}

const byHostname = (a: { hostname: string }, b: { hostname: string }) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0);

/** Pure: the deployment plan from what MAAS listed. */
export function planDeployment(input: {
  config: Config;
  machines: readonly MachineOrFacts[];
  tags: Parameters<typeof planRoles>[0]["tags"];
  maasUser: string | null;
  /**
   * The site's networks, read when the config has a network section; with several regions,
   * each region's own (their fabric, VLAN and subnet ids are each region's).
   */
  network?: NetworkModel | ReadonlyMap<string, NetworkModel>;
}): DeploymentPlan {
  const { config } = input;
  const select = config.rollout.selectTags;
  const facts = input.machines.map((m) => machineFacts(m));
  const machines = select.length === 0 ? facts : facts.filter((f) => select.every((t) => f.tags.includes(t)));
  const roles = planRoles({ machines, tags: input.tags, config: config.roles, deployment: config.deployment, maasUser: input.maasUser });

  const disksOf = new Map<string, DiskTagChange[]>();
  for (const b of roles.blockDeviceTags) {
    const list = disksOf.get(b.systemId) ?? [];
    list.push({ deviceId: b.deviceId, deviceName: b.deviceName, tag: b.tag, action: b.action });
    disksOf.set(b.systemId, list);
  }
  // Role order first (juju-controller, control, storage, network, compute by default), so the
  // hosts the later layers stand on are deployed first; then hostname, so the plan is stable.
  const rank = new Map(config.roles.order.map((r, i) => [r, i]));
  const rankOf = (rs: readonly string[]) => Math.min(...rs.map((r) => rank.get(r) ?? rank.size));
  const deployed = roles.assignments
    .filter((a) => a.spareFor === null && a.roles.length > 0)
    .sort((a, b) => rankOf(a.roles) - rankOf(b.roles) || byHostname(a, b));
  // Several regions: the policy applies to each region on its own, so every wave (the
  // canary first) has hosts of every region; one region is planWaves exactly.
  const byRegion = new Map<string, string[]>();
  for (const a of deployed) {
    const r = regionOfKey(a.systemId) ?? "";
    const list = byRegion.get(r) ?? [];
    list.push(a.systemId);
    byRegion.set(r, list);
  }
  const waves = planRegionalWaves(byRegion, config.rollout.waves);
  const waveOf = new Map<string, number>();
  waves.forEach((w, i) => w.forEach((id) => waveOf.set(id, i)));
  const layoutInput = {
    deployment: roles.deployment,
    order: config.roles.order,
    network: config.network,
    storage: config.storage,
    facts: new Map(machines.map((f) => [f.systemId, f])),
    cephDiskIds: new Map([...disksOf].map(([id, ds]) => [id, new Set(ds.filter((d) => d.action === "add").map((d) => d.deviceId))])),
  };
  const layouts =
    input.network instanceof Map
      ? regionalLayouts(input.network, deployed, (model, hosts) => planLayouts({ ...layoutInput, model, hosts }))
      : planLayouts({ ...layoutInput, model: input.network as NetworkModel | undefined, hosts: deployed });
  roles.findings.push(...layouts.findings);
  const overrides = [...new Set(config.rollout.overrides)].sort();
  const fails = roles.findings.filter((f) => f.severity === "FAIL");
  const blocking = blockingFindings(roles, overrides);
  return {
    roles,
    rollout: {
      version: 2,
      deployment: roles.deployment,
      scopeTag: roles.scopeTag,
      machineTagsSynced: true,
      hosts: deployed.map((a) => ({
        systemId: a.systemId,
        ...(regionOfKey(a.systemId) !== null ? { region: regionOfKey(a.systemId) as string } : {}),
        hostname: a.hostname,
        zone: a.zone,
        wave: waveOf.get(a.systemId) ?? 0,
        roles: [...a.roles],
        disks: disksOf.get(a.systemId) ?? [],
        ...(layouts.layouts.has(a.systemId) ? { layout: layouts.layouts.get(a.systemId) } : {}),
      })),
      waves,
    },
    blocking,
    overridden: fails.filter((f) => !blocking.includes(f)),
    overrides,
  };
}

/**
 * Several regions: each region's hosts are laid out on that region's network model (its own
 * spaces, VLANs and subnet ids); a finding of one region says which. A region with hosts
 * and no model read fails as one region does (NETWORK_SPACE_UNREACHABLE).
 */
function regionalLayouts<H extends { systemId: string }>(
  models: ReadonlyMap<string, NetworkModel>,
  hosts: readonly H[],
  plan: (model: NetworkModel | undefined, hosts: H[]) => ReturnType<typeof planLayouts>,
): ReturnType<typeof planLayouts> {
  const byRegion = new Map<string, H[]>();
  for (const h of hosts) {
    const r = regionOfKey(h.systemId) ?? "";
    const list = byRegion.get(r) ?? [];
    list.push(h);
    byRegion.set(r, list);
  }
  const out: ReturnType<typeof planLayouts> = { layouts: new Map(), findings: [] };
  for (const [region, list] of byRegion) {
    const r = plan(models.get(region), list);
    for (const [id, l] of r.layouts) out.layouts.set(id, l);
    for (const f of r.findings) out.findings.push({ ...f, message: `region ${region}: ${f.message}` });
  }
  return out;
}

/** Reads MAAS (machines, tags, who we are) and plans; changes nothing. */
export async function readAndPlan(maas: MaasPort, config: Config): Promise<DeploymentPlan & { machines: MachineFacts[] }> {
  // Several regions: one away cannot be planned; say so, naming it, rather than wait for it.
  await refuseRegionsAway(maas, "a plan");
  const [machines, tags, me, network] = await Promise.all([readFleetFacts(maas), maas.listTags(), maas.whoami(), readNetworkModel(maas, config)]);
  return { ...planDeployment({ config, machines, tags, maasUser: me.username, ...(network ? { network } : {}) }), machines };
}

/** The fabrics, subnets and IP ranges, when the config has a network section: each region's with several. */
async function readNetworkModel(maas: MaasPort, config: Config): Promise<NetworkModel | Map<string, NetworkModel> | undefined> {
  if (config.network === undefined) return undefined;
  const read = async (port: MaasPort) => {
    const [fabrics, subnets, ranges] = await Promise.all([port.listFabrics(), port.listSubnets(), port.listIpRanges()]);
    return networkModel(fabrics, subnets, ranges);
  };
  const regions = maas instanceof RegionsMaas && maas.links.size > 1 ? maas : undefined;
  if (!regions) return read(maas);
  return new Map(await Promise.all(regions.names.map(async (r) => [r, await read(regions.only(r))] as const)));
}

/**
 * The facts of every machine of the region, read one zone at a time and reduced to
 * their facts as each zone arrives. MAAS lists machines without pagination and a
 * machine's JSON (interfaces, block devices, hardware info) is tens of kilobytes once
 * parsed: 10,000 of them held at once were over 200 MB, their facts are a few.
 */
async function readFleetFacts(maas: MaasPort): Promise<MachineFacts[]> {
  const zones = await maas.listZones();
  // Each machine reduced to its facts as it is read, where the port can (at 100,000
  // machines a zone's full machine objects alone were gigabytes: docs/bench.md).
  const read = (filter: MachineFilter): Promise<MachineFacts[]> =>
    maas.listMachinesEach ? maas.listMachinesEach(filter, (m) => machineFacts(m)) : maas.listMachines(filter).then((ms) => ms.map((m) => machineFacts(m)));
  const facts =
    zones.length <= 1
      ? await read({})
      : await (async () => {
          const seen = new Map<string, MachineFacts>();
          for (const z of zones) for (const f of await read({ zone: [z.name] })) seen.set(f.systemId, f);
          return [...seen.values()];
        })();
  checkOneRegionEach(facts);
  return facts;
}

export type PlanErrorCode = "HOSTNAME_IN_TWO_REGIONS";

/** The plan cannot be made from what the regions list. */
export class PlanError extends MetalwaveError<PlanErrorCode> {
  readonly code: PlanErrorCode;
  constructor(code: PlanErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Each machine belongs to exactly one region: a hostname two regions list would be two
 * machines the operator names the same (reprovision, status, the dashboard name hosts by
 * hostname), so the plan refuses it, naming both.
 */
function checkOneRegionEach(facts: readonly MachineFacts[]): void {
  const where = new Map<string, string>();
  for (const f of facts) {
    const r = regionOfKey(f.systemId);
    if (r === null) continue;
    const before = where.get(f.hostname);
    if (before !== undefined && before !== f.systemId) {
      throw new PlanError("HOSTNAME_IN_TWO_REGIONS", `machine ${f.hostname} is listed by two regions (${before} and ${f.systemId}); each machine must belong to exactly one region: rename or remove one`);
    }
    where.set(f.hostname, f.systemId);
  }
}

/** The plan as data for `metalwave plan --json`: documented in docs/cli.md. */
export function planJson(plan: DeploymentPlan): unknown {
  const info = new Map(plan.rollout.hosts.map((h) => [h.systemId, h]));
  return {
    deployment: plan.rollout.deployment,
    scopeTag: plan.rollout.scopeTag,
    roles: plan.roles,
    waves: plan.rollout.waves.map((ids, index) => ({
      index,
      hosts: ids.map((id) => {
        const h = info.get(id);
        return { systemId: id, region: h?.region ?? null, hostname: h?.hostname ?? id, zone: h?.zone ?? "", roles: h?.roles ?? [], layout: h?.layout ?? null };
      }),
    })),
    // Several regions: each region's hosts by role and its canary (empty with one region).
    regions: planByRegion(plan.rollout.hosts, plan.rollout.waves),
    blocking: plan.blocking,
    overridden: plan.overridden,
    overrides: plan.overrides,
  };
}

/** The waves as text: each wave's size and its hosts per role (names for small waves). */
export function renderWavesText(plan: DeploymentPlan): string {
  const info = new Map(plan.rollout.hosts.map((h) => [h.systemId, h]));
  const lines: string[] = [];
  const regions = planByRegion(plan.rollout.hosts, plan.rollout.waves);
  if (regions.length > 0) {
    lines.push(`Regions (${regions.length}; each region has its own canary and failure budget):`);
    for (const r of regions) {
      const roles = Object.entries(r.byRole).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([role, n]) => `${role} ${n}`).join(", ");
      const canary = r.canary.map((id) => info.get(id)?.hostname ?? id).join(", ") || "-";
      lines.push(`  ${r.region}: ${r.hosts} host${r.hosts === 1 ? "" : "s"} (${roles}); canary ${canary}`);
    }
    lines.push("");
  }
  lines.push(`Waves (${plan.rollout.hosts.length} hosts to deploy; spares and machines without a role are held back):`);
  plan.rollout.waves.forEach((ids, i) => {
    const byRole = new Map<string, string[]>();
    for (const id of ids) {
      const h = info.get(id);
      const key = h && h.roles.length > 0 ? h.roles.join("+") : "(none)";
      const list = byRole.get(key) ?? [];
      list.push(h ? `${h.hostname} (${id})` : id);
      byRole.set(key, list);
    }
    const parts = [...byRole.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([role, names]) => (names.length <= 3 ? `${role}: ${names.join(", ")}` : `${role}: ${names.length}`));
    const regions = new Map<string, number>();
    for (const id of ids) {
      const r = info.get(id)?.region;
      if (r !== undefined) regions.set(r, (regions.get(r) ?? 0) + 1);
    }
    const inRegions = regions.size > 0 ? `  [regions: ${[...regions].map(([r, n]) => `${r} ${n}`).join(", ")}]` : "";
    lines.push(`  wave ${i + 1}: ${ids.length} host${ids.length === 1 ? "" : "s"}  ${parts.join("; ")}${inRegions}`);
  });
  lines.push(...renderLayoutsText(plan.rollout.hosts));
  if (plan.overridden.length > 0) {
    lines.push("", `Overridden (--override ${plan.overrides.join(", ")}):`);
    for (const f of plan.overridden) lines.push(`  FAIL ${f.code}: ${f.message}`);
  }
  lines.push(
    "",
    plan.blocking.length === 0
      ? "Pre-flight: nothing blocks a rollout of this plan."
      : `Pre-flight: BLOCKED by ${plan.blocking.length} FAIL finding(s): ${[...new Set(plan.blocking.map((f) => f.code))].join(", ")} (see Findings; --override CODE lets one through, recorded in the journal).`,
  );
  return lines.join("\n");
}
