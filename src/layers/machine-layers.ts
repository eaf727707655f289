/**
 * The machine side of the cloud, in the machine model (juju-layering.md §2b, §3a): each
 * host enlisted by manual provisioning with Juju's spaces made from MAAS's, then its charms
 * by role, each bundle a template (templates/layers/{machines,kubernetes,storage,ovn,
 * hypervisor}.yaml). Every piece is per host: a host gets its units as soon as it is in
 * Juju and what its charms relate to exists, so a host of a late wave joins alone, and the
 * barriers (layering.ts) are these per-host steps over their members plus the few
 * cluster-wide steps (kubeconfig and cloud, pool size, offers).
 */
import type { Logger } from "pino";
import { LayerError } from "./errors.ts";
import type { LayerHost } from "./host.ts";
import type { KubePort } from "./kube.ts";
import type { Lane } from "./lane.ts";
import type { JujuOps} from "./juju-ops.ts";
import { unitsOf } from "./juju-ops.ts";
import type { LayerName, LayerTemplate, MachineApp, Values } from "./render.ts";

export type BundleLayer = "machines" | "kubernetes" | "storage" | "ovn" | "hypervisor";

export interface MachineLayerDeps {
  tpl<L extends LayerName>(layer: L): LayerTemplate<L>;
  logger: Logger;
  /** Values the bundles' config may name (deployment, loadBalancerCidrs). */
  values: () => Promise<Values>;
  unitTimeoutMs: number;
  nodesReadyTimeoutMs: number;
  pollMs: number;
  now: () => number;
  cephWipe: boolean;
  /** Whether the rollout has storage: relations marked `when: storage` are made only then. */
  hasStorage: (ops: JujuOps) => Promise<boolean>;
}

/** The machine model every machine charm goes to. */
export function machineModel(tpl: LayerTemplate<"machines">): string {
  return String(tpl.defaults["model"] ?? "openstack-machines");
}

function roleMatch(app: MachineApp, h: LayerHost): boolean {
  return app.roles.some((r) => h.roles.includes(r));
}

export class MachineLayers {
  private readonly d: MachineLayerDeps;
  /** `ceph`-tagged disks per storage host layered in this process, for the report. */
  readonly taggedDisks = new Map<string, number>();

  constructor(d: MachineLayerDeps) {
    this.d = d;
  }

  private get model(): string {
    return machineModel(this.d.tpl("machines"));
  }

  /** The host in the machine model (manual provisioning), Juju's spaces from its MAAS spaces; its machine id. */
  async enlist(ops: JujuOps, h: LayerHost): Promise<{ id: string; spaces: Set<string> }> {
    if (h.roles.includes("juju-controller")) throw new LayerError("LAYER_PRECONDITION", { layer: "machines", step: "addMachine", systemId: h.systemId, hostname: h.hostname }, "a juju-controller machine is a machine of the controller model and cannot be enlisted in the machine model too (the reference excludes it)");
    await ops.ensureModel(this.model);
    const id = await ops.enlist(this.model, h);
    const spaces = await ops.ensureSpaces(this.model, h.networks ?? []);
    return { id, spaces };
  }

  /**
   * One bundle's units for this host: each application whose roles the host has gets a unit
   * on its machine (the first one deploys the application there), subordinates and the
   * bundle's in-model relations follow. `only` restricts it to some applications.
   */
  async bundleUnits(ops: JujuOps, layer: BundleLayer, h: LayerHost, at: { id: string; spaces: Set<string> }, only?: (a: MachineApp) => boolean): Promise<string[]> {
    const tpl = this.d.tpl(layer);
    const values = await this.d.values();
    const placed: string[] = [];
    for (const app of tpl.extra.applications) {
      if (app.subordinate || !roleMatch(app, h) || (only && !only(app))) continue;
      // Bindings name networks (§2c); the site may serve a network from a space named otherwise (network.spaces).
      const spaces = h.addressing?.spaces ?? {};
      const bound = { ...app, bindings: Object.fromEntries(Object.entries(app.bindings).map(([ep, net]) => [ep, (spaces as Record<string, string | undefined>)[net] ?? net])) };
      await ops.ensureApp(this.model, bound, at.id, at.spaces, values);
      await ops.ensureUnit(this.model, app.app, at.id);
      placed.push(app.app);
    }
    await this.bundleLinks(ops, layer);
    return placed;
  }

  /** A bundle's subordinates, relations (those whose ends exist) and offers. */
  async bundleLinks(ops: JujuOps, layer: BundleLayer): Promise<void> {
    const tpl = this.d.tpl(layer);
    const values = await this.d.values();
    for (const app of tpl.extra.applications) if (app.subordinate) await ops.ensureApp(this.model, app, undefined, new Set(), values);
    const storage = await this.d.hasStorage(ops);
    for (const rel of tpl.extra.relations) {
      if (rel[2] === "storage" && !storage) continue;
      if (rel[0].includes("/") || rel[1].includes("/")) continue;
      // Only between applications that exist: the rest of a bundle comes with later hosts.
      const apps = (await ops.status(this.model)).applications ?? {};
      if (apps[rel[0].split(":")[0] ?? ""] === undefined || apps[rel[1].split(":")[0] ?? ""] === undefined) continue;
      await ops.ensureRelation(this.model, rel);
    }
    for (const o of tpl.extra.offers) if ((await ops.status(this.model)).applications?.[o.app] !== undefined) await ops.ensureOffer(this.model, o);
  }

  /** Relations of a bundle with the control plane's offers (made once those exist). */
  async offerRelations(ops: JujuOps, layer: BundleLayer): Promise<void> {
    const storage = await this.d.hasStorage(ops);
    for (const rel of this.d.tpl(layer).extra.relations) {
      if (rel[2] === "storage" && !storage) continue;
      if (rel[1].includes("/")) await ops.ensureRelation(this.model, rel);
    }
  }

  async waitOn(ops: JujuOps, layer: string, h: LayerHost, id: string, apps: readonly string[], accept?: readonly string[]): Promise<void> {
    if (apps.length === 0) return;
    await ops.waitUnits(this.model, apps, { layer, step: "unitsActive", host: h, timeoutMs: this.d.unitTimeoutMs, machines: new Set([id]), ...(accept ? { accept } : {}) });
  }

  /** sunbeam-machine (+ epa-orchestrator) on the host, active. */
  async sunbeamMachine(ops: JujuOps, h: LayerHost, at: { id: string; spaces: Set<string> }): Promise<void> {
    const apps = await this.bundleUnits(ops, "machines", h, at);
    await this.waitOn(ops, "machines", h, at.id, apps, ["active", "unknown"]);
  }

  // ------------------------------------------------------------------ Kubernetes

  async k8sUnit(ops: JujuOps, h: LayerHost, at: { id: string; spaces: Set<string> }): Promise<void> {
    const apps = await this.bundleUnits(ops, "kubernetes", h, at);
    await this.waitOn(ops, "kubernetes", h, at.id, apps, ["active", "unknown"]);
  }

  async waitNodesReady(lane: Lane, kube: KubePort, names: readonly string[]): Promise<void> {
    const deadline = this.d.now() + this.d.nodesReadyTimeoutMs;
    for (;;) {
      lane.ensureOpen("nodesReady");
      const nodes = await kube.listNodes();
      const notReady = names.filter((n) => !nodes.some((x) => x.name === n && x.ready));
      if (notReady.length === 0) return;
      if (this.d.now() >= deadline) throw new LayerError("LAYER_NOT_READY", { layer: "kubernetes", step: "nodesReady" }, `nodes not Ready: ${notReady.join(", ")}`);
      await lane.sleep(this.d.pollMs);
    }
  }

  async labelNodes(lane: Lane, kube: KubePort, hosts: readonly LayerHost[]): Promise<void> {
    const byRole = this.d.tpl("kubernetes").extra.labels;
    lane.ensureOpen("labels");
    const nodes = await kube.listNodes();
    for (const h of hosts) {
      const want: Record<string, string> = {};
      for (const r of h.roles) Object.assign(want, byRole[r] ?? {});
      const have = nodes.find((n) => n.name === h.hostname)?.labels ?? {};
      if (Object.entries(want).every(([k, v]) => have[k] === v)) continue;
      lane.ensureOpen("labels");
      this.d.logger.info({ systemId: h.systemId, hostname: h.hostname, labels: want }, "labelling node");
      await kube.labelNode(h.hostname, want);
    }
  }

  // ------------------------------------------------------------------ storage

  /** MicroCeph on the host, its OSDs from the `ceph`-tagged disks, cinder-volume; the pool size from the members. */
  async storageHost(ops: JujuOps, h: LayerHost, at: { id: string; spaces: Set<string> }): Promise<void> {
    await this.bundleUnits(ops, "storage", h, at, (a) => a.app === "microceph");
    await this.waitOn(ops, "storage", h, at.id, ["microceph"], ["active", "unknown"]);
    await this.osds(ops, h, at.id);
    await this.poolSize(ops);
    // cinder-volume stays blocked until the control plane's offers exist (the reference accepts that here).
    await this.bundleUnits(ops, "storage", h, at, (a) => a.app !== "microceph");
  }

  /** default-pool-size = min(storage members, 3) (§3c), re-set as members come. */
  async poolSize(ops: JujuOps): Promise<void> {
    await ops.s.locks.run(`${this.model}/microceph/pool-size`, async () => {
      const n = unitsOf(await ops.status(this.model), "microceph").length;
      if (n > 0) await ops.ensureConfig(this.model, "microceph", { "default-pool-size": String(Math.min(n, 3)) });
    });
  }

  /**
   * OSDs (§2b#11): the unit's `list-disks`; each `ceph`-tagged disk MicroCeph lists as
   * unpartitioned goes to one `add-osd`; a tagged disk that is neither an OSD nor free fails
   * (unless layers.cephWipe: then it is added with wipe=true), as does an OSD on an untagged disk.
   */
  async osds(ops: JujuOps, h: LayerHost, id: string): Promise<void> {
    const unit = unitsOf(await ops.status(this.model), "microceph").find((u) => u.machine === id)?.name;
    if (unit === undefined) throw new LayerError("LAYER_NOT_VERIFIED", { layer: "storage", step: "osds", systemId: h.systemId, hostname: h.hostname }, `no microceph unit on machine ${id}`);
    if (h.cephDisks.length === 0) this.d.logger.warn({ systemId: h.systemId, hostname: h.hostname }, "storage host has no ceph-tagged disk");
    this.taggedDisks.set(h.systemId, h.cephDisks.length);
    const list = async () => {
      const r = await ops.action(this.model, "listDisks", unit);
      const parse = (v: unknown) => (typeof v === "string" ? (JSON.parse(v) as { path?: string }[]) : []).map((x) => x.path ?? "");
      return { osds: parse(r["osds"]), free: parse(r["unpartitioned-disks"]) };
    };
    let l = await list();
    const untagged = l.osds.filter((p) => !h.cephDisks.includes(p));
    if (untagged.length > 0) throw new LayerError("LAYER_PRECONDITION", { layer: "storage", step: "osds", systemId: h.systemId, hostname: h.hostname }, `OSDs on disks MAAS does not tag ceph: ${untagged.join(", ")}`);
    const todo = h.cephDisks.filter((p) => !l.osds.includes(p));
    if (todo.length === 0) return;
    const free = todo.filter((p) => l.free.includes(p));
    const used = todo.filter((p) => !l.free.includes(p));
    if (used.length > 0 && !this.d.cephWipe) throw new LayerError("LAYER_PRECONDITION", { layer: "storage", step: "osds", systemId: h.systemId, hostname: h.hostname }, `ceph-tagged disks neither OSDs nor unpartitioned (set layers.cephWipe to wipe them): ${used.join(", ")}`);
    const batches: [string, string[]][] = [["addOsd", free], ["addOsdWipe", used]];
    for (const [step, paths] of batches) {
      if (paths.length === 0) continue;
      await ops.lane.steps.ensure(ops.s.client, ops.s.tpl, step, { unit, devices: paths.join(",") }, {
        satisfied: async () => {
          l = await list();
          return paths.every((p) => l.osds.includes(p));
        },
        act: async () => {
          await ops.action(this.model, step, unit, { devices: paths.join(",") });
        },
      });
    }
  }

  // ------------------------------------------------------------------ OVN

  /** The first control host's OVN pieces (distributors, proxy) and its microovn unit. */
  async ovnHost(ops: JujuOps, h: LayerHost, at: { id: string; spaces: Set<string> }, first: boolean): Promise<void> {
    const apps = await this.bundleUnits(ops, "ovn", { ...h, roles: first ? [...h.roles, "first-control"] : h.roles }, at);
    await this.roleMapping(ops, h, at.id);
    await this.waitOn(ops, "ovn", h, at.id, apps);
  }

  /** The role-distributor's mapping (§2e): this host's machine gets the roles of its host roles; the others are kept. */
  async roleMapping(ops: JujuOps, h: LayerHost, id: string): Promise<void> {
    const byRole = this.d.tpl("ovn").extra.roles;
    const roles = [...new Set(h.roles.flatMap((r) => byRole[r] ?? []))].sort((a, b) => (a === "chassis" ? -1 : b === "chassis" ? 1 : a < b ? -1 : 1));
    if (roles.length === 0) return;
    await ops.s.locks.run(`${this.model}/role-mapping`, async () => {
      const j = await ops.lane.steps.queryJson<{ settings?: Record<string, { value?: unknown }> }>(ops.s.client, ops.s.tpl, "config", { model: this.model, app: "role-distributor" });
      type Mapping = Record<string, Record<string, { machines: Record<string, { roles: string[] }> }>>;
      let cur: Mapping = {};
      try {
        const v = j.settings?.["role-mapping"]?.value;
        if (typeof v === "string" && v.trim() !== "") cur = JSON.parse(v) as Mapping;
      } catch {
        cur = {};
      }
      const model = (cur[this.model] ??= {});
      const ovn = (model["microovn"] ??= { machines: {} });
      if (JSON.stringify(ovn.machines[id]?.roles) === JSON.stringify(roles)) return;
      ovn.machines[id] = { roles };
      await ops.ensureConfig(this.model, "role-distributor", { "role-mapping": JSON.stringify(cur) });
    });
  }

  // ------------------------------------------------------------------ hypervisor

  /** openstack-hypervisor on a compute host, related to the control plane's offers and the OVN proxy, active. */
  async hypervisor(ops: JujuOps, h: LayerHost, at: { id: string; spaces: Set<string> }): Promise<void> {
    const apps = await this.bundleUnits(ops, "hypervisor", h, at);
    await this.offerRelations(ops, "hypervisor");
    await this.waitOn(ops, "hypervisor", h, at.id, apps);
  }
}
