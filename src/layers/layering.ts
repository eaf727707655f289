/**
 * The layer engine (docs/layering.md): Juju and charms on the deployed machines, the way
 * the reference deployer builds the cloud (../shared/reference/juju-layering.md §2). The
 * Juju controller (controller.ts); every other host enlisted in the machine model by manual
 * provisioning and given its charms by role (machine-layers.ts); the control plane on
 * Kubernetes with its relations and offers (control-plane.ts). Every Juju change is check
 * then act (juju-ops.ts), so running any of it again, or resuming after a crash, changes
 * only what is missing.
 *
 * Cluster-level work (`clusterBarrier`) runs each member's per-host steps and the few
 * cluster-wide ones, and reports per-host failures instead of failing the whole barrier,
 * unless the cluster itself cannot form. Per-host work (`layerHost`) is what one host needs
 * by its roles: a control or storage host of a later wave joins its cluster alone, and a
 * compute host gets its hypervisor as soon as the control plane is up. One host's work
 * stops when the signal its caller passes aborts; `close()` stops everything (lane.ts).
 */
import type { Logger } from "pino";
import { systemClock, type Clock } from "../clock.ts";
import type { JujuWatchStats } from "../juju/port.ts";
import type { SshPort } from "../ssh/port.ts";
import { LayerError } from "./errors.ts";
import { formController } from "./controller.ts";
import { deployControlPlane, type ControlPlaneEndpoints } from "./control-plane.ts";
import type { HostFailure, LayerHost } from "./host.ts";
import { JujuOps, unitsOf, type JujuShared } from "./juju-ops.ts";
import { clientNodeKube } from "./kube.ts";
import type { KubePort } from "./kube.ts";
import { isControllerChange, JujuChangeLog, NO_JUJU_JOURNAL, type JujuChange, type JujuJournal } from "./juju-journal.ts";
import { KeyedLock, Lanes, type Lane } from "./lane.ts";
import { MachineLayers, machineModel } from "./machine-layers.ts";
import { ModelWatches, type LayerWatchOptions } from "./model-watches.ts";
import { LAYERS, loadLayerTemplate } from "./render.ts";
import type { LayerName, LayerTemplate, Values } from "./render.ts";
import type { StepPolicy } from "./steps.ts";
import type { WaitOptions } from "./waits.ts";
import { readCloud, type CloudReport } from "./report.ts";
import { leaveJuju, type RemovalResult, type RemovalStep } from "./removal.ts";
import { OpenStackClient, type OpenStackCredentials, type OpenStackPort } from "../openstack/index.ts";
import { credentialsFrom, type OpenStackReach } from "./openstack.ts";

export type { CloudReport } from "./report.ts";
export type { ControlPlaneEndpoints } from "./control-plane.ts";
export type { LayerWatchOptions } from "./model-watches.ts";
export { replicasFor } from "./control-plane.ts";
export type { HostFailure, LayerHost } from "./host.ts";
export { hostFromMachine, layerAddressOf } from "./host.ts";

export const CLUSTER_LAYERS = ["juju-controller", "kubernetes", "storage", "control-plane"] as const;
export type ClusterLayer = (typeof CLUSTER_LAYERS)[number];

export interface BarrierResult {
  kind: ClusterLayer;
  /** Hosts that are part of the formed cluster. */
  ready: string[];
  /** Hosts that failed their part: mark them layer-failed; the cluster went on without them. */
  failed: HostFailure[];
}

export interface LayeringOptions {
  ssh: SshPort;
  logger: Logger;
  /** Builds the Kubernetes port from the kubeconfig the k8s charm gives. Default: @kubernetes/client-node. */
  kube?: (kubeconfig: string) => KubePort;
  /**
   * Builds the OpenStack API port from keystone-k8s's admin account (`get-admin-account`: its
   * public endpoint on the ingress). Default: the HTTP client of src/openstack.
   */
  openstack?: (credentials: OpenStackCredentials) => OpenStackPort;
  /** Overrides of template defaults, per layer (e.g. { "juju-controller": { controller: "prod" } }). */
  values?: Partial<Record<LayerName, Values>>;
  /** Template texts instead of templates/layers/*.yaml (tests, site-specific templates). */
  templates?: Partial<Record<LayerName, string>>;
  policy?: Partial<StepPolicy>;
  /** The deployment's name (node label `sunbeam/deployment`). Default "metalwave". */
  deployment?: string;
  /**
   * The load balancer's address pool: MAAS's reserved ranges for the deployment's internal API
   * (`<deployment>-internal-api`, as `start-end`; §2d). Read when Kubernetes forms; none fails it.
   */
  loadBalancerCidrs?: () => Promise<readonly string[]>;
  /** Add `ceph`-tagged disks that hold old data with wipe=true. Default false (only when the operator says so). */
  cephWipe?: boolean;
  /** Poll interval of the waits. Default 5 s. */
  pollMs?: number;
  /**
   * Wait on units through the controller API's AllWatcher (one watch per model, shared by
   * every host: src/juju, docs/juju-watch.md) instead of polling `juju status`. The access
   * (endpoints, password, CA) is read from the controller once it exists. Absent: polling.
   */
  jujuWatch?: LayerWatchOptions;
  /** Default 15 min. */
  nodesReadyTimeoutMs?: number;
  /** A host's units active, default 30 min (the reference's 1,800 s). */
  unitTimeoutMs?: number;
  /** Default 60 min (the reference's control-plane wait). */
  controlPlaneTimeoutMs?: number;
  /** The wait for new controller machines to get their votes after enable-ha. Default 30 min (the reference's). */
  haTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Times the waits and the reuse of a status read (src/clock.ts). Default: the system clock. */
  clock?: Clock;
  /** Where every Juju change is journaled ahead (juju-journal.ts). Default: nowhere (nothing to reconcile). */
  journal?: JujuJournal;
}

export interface Layering {
  /**
   * Forms (or re-checks) one cluster-level layer over `hosts`. Idempotent. `controlCount`
   * (control-plane only): the deployment's control hosts, which size the control plane
   * (§3c; default `hosts.length`). The reference counts every registered control node, not
   * those formed so far, so a resumed run that forms over fewer does not shrink it.
   */
  clusterBarrier(kind: ClusterLayer, hosts: readonly LayerHost[], opts?: { controlCount?: number }): Promise<BarrierResult>;
  /**
   * The per-host layers for one deployed host, by its roles. Idempotent. Compute hosts wait
   * for the control plane. When `signal` aborts, this host's work stops: no further command is
   * sent for it, its waits end at once, and it rejects with LAYER_STOPPED.
   */
  layerHost(host: LayerHost, opts?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Takes a host out of Juju before MAAS releases it for re-provisioning (src/layers/removal.ts):
   * its units in the reference's order, its machine, the MicroCeph pool sizes. Idempotent; a
   * host not in Juju is left alone. Needs the juju client (the controller barrier ran in this
   * process): without it, nothing is done and `null` says so. `journal` gets each change
   * before it is made.
   */
  leaveHost?(host: LayerHost, journal: (s: RemovalStep) => void, opts?: { signal?: AbortSignal; force?: boolean }): Promise<RemovalResult | null>;
  /**
   * Journals every Juju change from now on in `journal` (the rollout's store), and reconciles
   * the intents it holds open (an earlier run's, cut short) by reading Juju before the next
   * layer step changes anything.
   */
  useJournal?(journal: JujuJournal): void;
  /** Reads the cloud back from Juju, Kubernetes and MicroCeph (read-only queries). */
  report(): Promise<CloudReport>;
  /** Resolves once the control plane is deployed (or immediately if it already was in this process). */
  whenControlPlaneReady(): Promise<ControlPlaneEndpoints>;
  /** What the Juju watches cost so far (undefined: the waits poll). */
  jujuWatchStats?(): (JujuWatchStats & { models: number }) | undefined;
  /** Ends the engine's work for good, before its SSH port is closed. Idempotent. */
  close(): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export function createLayering(opts: LayeringOptions): Layering {
  return new LayerEngine(opts);
}

type At = { id: string; spaces: Set<string> };

class LayerEngine implements Layering {
  private readonly o: LayeringOptions;
  private readonly lanes: Lanes;
  private readonly main: Lane;
  private readonly now: () => number;
  private readonly tpls = new Map<LayerName, LayerTemplate>();
  private readonly locks = new KeyedLock();
  private readonly machines: MachineLayers;
  private juju: JujuShared | undefined;
  private k8s: { kube: KubePort } | undefined;
  private ceph: { host: LayerHost } | undefined;
  /** Storage hosts layered (or re-checked) in this process: a dead member's MicroCeph member is removed from one of them. */
  private readonly cephMembers = new Map<string, LayerHost>();
  private endpoints: Deferred<ControlPlaneEndpoints> = deferred();
  private cidrs: readonly string[] | undefined;
  /** The control plane (and OVN before it) formed in this process. */
  private controlPlaneUp = false;
  private changes: JujuChangeLog;
  /** The reconciliation of the open model-level intents, once per journal (undefined: not started, or failed). */
  private reconciling: Promise<void> | undefined;
  /** The OpenStack API once reached (kept; a failed or absent reach is asked again next time). */
  private openstackReach: Promise<OpenStackReach> | undefined;

  constructor(o: LayeringOptions) {
    this.o = o;
    const policy: StepPolicy = { attempts: 3, backoffMs: 2000, commandTimeoutMs: 600_000, ...o.policy };
    const clock = o.clock ?? systemClock;
    this.now = () => clock.now();
    this.lanes = new Lanes({ ssh: o.ssh, logger: o.logger, policy, ...(o.sleep ? { sleep: o.sleep } : {}) });
    this.main = this.lanes.lane(undefined);
    this.changes = new JujuChangeLog(o.journal ?? NO_JUJU_JOURNAL, o.logger);
    // Load every template up front: a broken template fails at start, not mid-rollout.
    for (const l of LAYERS) this.tpl(l);
    this.machines = new MachineLayers({
      tpl: (l) => this.tpl(l),
      logger: o.logger,
      values: () => this.values(),
      unitTimeoutMs: o.unitTimeoutMs ?? 30 * 60_000,
      nodesReadyTimeoutMs: o.nodesReadyTimeoutMs ?? 15 * 60_000,
      pollMs: o.pollMs ?? 5000,
      now: this.now,
      cephWipe: o.cephWipe ?? false,
      hasStorage: (ops) => this.hasStorage(ops),
    });
  }

  private tpl<L extends LayerName>(layer: L): LayerTemplate<L> {
    let t = this.tpls.get(layer);
    if (t === undefined) {
      t = loadLayerTemplate(layer, this.o.templates?.[layer]);
      t = { ...t, defaults: { ...t.defaults, ...this.o.values?.[layer] } };
      this.tpls.set(layer, t);
    }
    return t as LayerTemplate<L>;
  }

  private async values(): Promise<Values> {
    this.cidrs ??= (await this.o.loadBalancerCidrs?.()) ?? [];
    return { deployment: this.o.deployment ?? "metalwave", ...(this.cidrs.length > 0 ? { loadBalancerCidrs: this.cidrs.join(",") } : {}) };
  }

  private waitOptions = (lane: Lane, layer: string, step: string, host: LayerHost, timeoutMs: number): WaitOptions => ({ layer, step, host, timeoutMs, pollMs: this.o.pollMs ?? 5000, now: this.now, sleep: lane.sleep, ensureOpen: lane.ensureOpen });

  /** Juju operations on `lane` (for `host`'s work), once the intents an earlier run left open are reconciled. */
  private async ops(lane: Lane, layer: string, host?: LayerHost): Promise<JujuOps> {
    if (!this.juju) throw this.precondition(layer, "juju", "the juju-controller barrier has not run in this process: no juju client");
    await lane.until(this.reconciled(this.juju), "reconcile");
    return new JujuOps(this.juju, lane, host);
  }

  useJournal(journal: JujuJournal): void {
    this.changes = new JujuChangeLog(journal, this.o.logger);
    if (this.juju) this.juju.changes = this.changes;
    this.reconciling = undefined;
  }

  /** Every open intent of the models (the controller's own are the controller barrier's), settled by reading Juju. */
  private reconciled(juju: JujuShared): Promise<void> {
    const model = (c: JujuChange) => !isControllerChange(c);
    if (this.changes.unreconciled(model).length === 0) return Promise.resolve();
    if (this.reconciling === undefined) {
      const ops = new JujuOps(juju, this.main);
      const p = this.changes.reconcile(model, (c) => ops.tookEffect(c)).then(() => undefined);
      p.catch(() => {
        if (this.reconciling === p) this.reconciling = undefined;
      });
      this.reconciling = p;
    }
    return this.reconciling;
  }

  private async hasStorage(ops: JujuOps): Promise<boolean> {
    return (await ops.status(this.mm())).applications?.["microceph"] !== undefined;
  }

  whenControlPlaneReady(): Promise<ControlPlaneEndpoints> {
    return this.main.until(this.endpoints.promise, "controlPlaneReady");
  }

  jujuWatchStats(): (JujuWatchStats & { models: number }) | undefined {
    return this.juju?.watches?.stats();
  }

  close(): void {
    this.lanes.close();
    this.juju?.watches?.close();
  }

  async report(): Promise<CloudReport> {
    this.main.ensureOpen("report");
    const cp = this.tpl("control-plane");
    return readCloud({
      ...(this.juju ? { ops: new JujuOps(this.juju, this.main), controllerTpl: this.tpl("juju-controller"), models: [this.mm(), String(cp.defaults["model"] ?? "openstack")] } : {}),
      ...(this.k8s ? { kube: this.k8s.kube } : {}),
      ...(this.ceph ? { ceph: { host: this.ceph.host, tpl: this.tpl("storage") } } : {}),
      taggedDisks: [...this.machines.taggedDisks.values()].reduce((a, b) => a + b, 0),
      ensureOpen: this.main.ensureOpen,
      openstack: () => this.openstack(),
    });
  }

  async clusterBarrier(kind: ClusterLayer, hosts: readonly LayerHost[], opts: { controlCount?: number } = {}): Promise<BarrierResult> {
    this.main.ensureOpen(`barrier ${kind}`);
    switch (kind) {
      case "juju-controller":
        return this.formJuju(hosts);
      case "kubernetes":
        return this.formKubernetes(hosts);
      case "storage":
        return this.formStorage(hosts);
      case "control-plane":
        return this.formControlPlane(hosts, opts.controlCount ?? hosts.length);
    }
  }

  // ------------------------------------------------------------------ barriers

  private async formJuju(controllers: readonly LayerHost[]): Promise<BarrierResult> {
    const tpl = this.tpl("juju-controller");
    const [first, ...others] = controllers;
    if (first === undefined) throw this.precondition(tpl.layer, "bootstrap", "no juju-controller machine");
    const eachHost = (hs: readonly LayerHost[], fn: (h: LayerHost) => Promise<void>) => this.eachHost(hs, fn);
    const sequential = (hs: readonly LayerHost[], fn: (h: LayerHost) => Promise<void>) => this.sequential(hs, fn);
    const r = await formController({ lane: this.main, tpl, logger: this.o.logger, waitOptions: this.waitOptions, haTimeoutMs: this.o.haTimeoutMs ?? 30 * 60_000, eachHost, sequential, changes: this.changes }, first, others);
    const watch = this.o.jujuWatch;
    this.juju ??= {
      client: first,
      tpl: this.tpl("juju"),
      logger: this.o.logger,
      locks: this.locks,
      main: this.main,
      waitOptions: this.waitOptions,
      reads: new Map(),
      gen: new Map(),
      models: new Set(),
      reuseMs: this.o.pollMs ?? 5000,
      now: this.now,
      pollMs: this.o.pollMs ?? 5000,
      changes: this.changes,
      suspect: new Set(),
      ...(watch ? { watches: new ModelWatches(watch, { client: first, tpl: this.tpl("juju"), lane: this.main, logger: this.o.logger }) } : {}),
    };
    // The earlier run's open changes of the models, settled before any layer step goes on.
    await this.reconciled(this.juju);
    return { kind: "juju-controller", ready: r.members.map((h) => h.systemId), failed: r.failed };
  }

  /** A host in the machine model with sunbeam-machine. */
  private async machine(ops: JujuOps, h: LayerHost): Promise<At> {
    const at = await this.machines.enlist(ops, h);
    await this.machines.sunbeamMachine(ops, h, at);
    return at;
  }

  private async formKubernetes(controls: readonly LayerHost[]): Promise<BarrierResult> {
    if (controls.length === 0) throw this.precondition("kubernetes", "k8s", "no control machine");
    const ops = await this.ops(this.main, "kubernetes");
    if (!(await this.values())["loadBalancerCidrs"]) throw this.precondition("kubernetes", "loadBalancer", `MAAS has no reserved IP range for the load balancer (comment "${this.o.deployment ?? "metalwave"}-internal-api"): the reference deployer fails without it (§2b#5)`);
    const joined = await this.eachHost(controls, async (h) => this.machines.k8sUnit(ops.for(h), h, await this.machine(ops.for(h), h)));
    const first = joined.ok[0];
    if (first === undefined) throw asLayerError(joined.failed[0]?.error, controls[0] as LayerHost);
    const kube = await this.registerCloud(ops, first);
    await this.machines.waitNodesReady(this.main, kube, joined.ok.map((h) => h.hostname));
    await this.machines.labelNodes(this.main, kube, joined.ok);
    this.k8s = { kube };
    return { kind: "kubernetes", ready: joined.ok.map((h) => h.systemId), failed: joined.failed };
  }

  /** The cluster as a Juju cloud (§2b#6, #9): the leader's kubeconfig, added to the controller unless it has the cloud. */
  private async registerCloud(ops: JujuOps, h: LayerHost): Promise<KubePort> {
    const model = this.mm();
    const cloud = String(this.tpl("control-plane").defaults["k8sCloud"] ?? "metalwave-k8s");
    const r = await ops.action(model, "getKubeconfig", "k8s/leader");
    const kubeconfig = typeof r["kubeconfig"] === "string" ? r["kubeconfig"] : "";
    if (kubeconfig === "") throw new LayerError("LAYER_BAD_OUTPUT", { layer: "kubernetes", step: "getKubeconfig", systemId: h.systemId, hostname: h.hostname }, "the k8s leader's get-kubeconfig gave no kubeconfig");
    const c = ops.s.client;
    await this.main.steps.ensure(c, ops.s.tpl, "addK8s", { cloud }, {
      satisfied: async () => cloud in (await this.main.steps.queryJson<Record<string, unknown>>(c, ops.s.tpl, "clouds", {})),
      act: async () => {
        await ops.s.changes.change({ op: "addK8s", model: "controller", target: { cloud } }, () => this.main.steps.run(c, ops.s.tpl, "addK8s", { cloud }, { stdin: kubeconfig }));
      },
    });
    return (this.o.kube ?? clientNodeKube)(kubeconfig);
  }

  private async formStorage(storage: readonly LayerHost[]): Promise<BarrierResult> {
    if (storage.length === 0) throw this.precondition("storage", "microceph", "no storage machine");
    const ops = await this.ops(this.main, "storage");
    const joined = await this.eachHost(storage, async (h) => this.machines.storageHost(ops.for(h), h, await this.machine(ops.for(h), h)));
    const first = joined.ok[0];
    if (first === undefined) throw asLayerError(joined.failed[0]?.error, storage[0] as LayerHost);
    for (const h of joined.ok) this.cephMembers.set(h.systemId, h);
    await this.machines.poolSize(ops);
    await this.machines.bundleLinks(ops, "storage");
    this.ceph ??= { host: first };
    return { kind: "storage", ready: joined.ok.map((h) => h.systemId), failed: joined.failed };
  }

  private async formControlPlane(controls: readonly LayerHost[], controlCount: number): Promise<BarrierResult> {
    const ops = await this.ops(this.main, "control-plane");
    if (!this.k8s) throw this.precondition("control-plane", "addModel", "the kubernetes barrier has not run in this process (no cloud registered)");
    const [first, ...others] = controls;
    if (first === undefined) throw this.precondition("control-plane", "ovn", "no control machine");
    // OVN before the control plane (§2e): the first control host carries the distributors and the proxy.
    const mm = this.mm();
    await this.machines.ovnHost(ops.for(first), first, await this.atOf(ops.for(first), first), true);
    const ovn = await this.eachHost(others, async (h) => this.machines.ovnHost(ops.for(h), h, await this.atOf(ops.for(h), h), false));
    const endpoints = await deployControlPlane(ops, {
      tpl: this.tpl("control-plane"),
      machineModel: mm,
      k8sCloud: String(this.tpl("control-plane").defaults["k8sCloud"] ?? "metalwave-k8s"),
      hasStorage: await this.hasStorage(ops),
      timeoutMs: this.o.controlPlaneTimeoutMs ?? 60 * 60_000,
      waitOptions: this.waitOptions,
      kube: this.k8s.kube,
      values: await this.values(),
    }, Math.max(controlCount, controls.length));
    this.o.logger.info({ model: endpoints.model, loadBalancer: endpoints.loadBalancer }, "control plane active");
    this.controlPlaneUp = true;
    this.endpoints.resolve(endpoints);
    return { kind: "control-plane", ready: [first, ...ovn.ok].map((h) => h.systemId), failed: ovn.failed };
  }

  /** The host's machine in the machine model (enlisted if it is not) and the model's spaces. */
  private atOf(ops: JujuOps, h: LayerHost): Promise<At> {
    return this.machines.enlist(ops, h);
  }

  // ------------------------------------------------------------------ per host

  async layerHost(host: LayerHost, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const lane = opts.signal ? this.lanes.lane({ host, signal: opts.signal }) : this.main;
    lane.ensureOpen("layerHost");
    const roles = new Set(host.roles);
    if (roles.has("juju-controller")) {
      await lane.steps.ensure(host, this.tpl("juju-controller"), "install", {});
      return;
    }
    if (roles.has("control") && this.k8s) {
      // A control host deployed after the cluster formed (scale-out) joins it here; for a member, checks only.
      const ops = await this.ops(lane, "kubernetes", host);
      const at = await this.machine(ops, host);
      await this.machines.k8sUnit(ops, host, at);
      await this.machines.waitNodesReady(lane, this.k8s.kube, [host.hostname]);
      await this.machines.labelNodes(lane, this.k8s.kube, [host]);
      if (this.isControlPlaneUp()) await this.machines.ovnHost(ops, host, at, false);
    }
    if (roles.has("storage") && this.ceph) {
      const ops = await this.ops(lane, "storage", host);
      await this.machines.storageHost(ops, host, await this.machine(ops, host));
      this.cephMembers.set(host.systemId, host);
    }
    if (roles.has("compute")) {
      await lane.until(this.endpoints.promise, "controlPlaneReady");
      const ops = await this.ops(lane, "hypervisor", host);
      const at = await this.machine(ops, host);
      await this.machines.ovnHost(ops, host, at, false);
      await this.machines.hypervisor(ops, host, at);
    }
  }

  async leaveHost(host: LayerHost, journal: (s: RemovalStep) => void, opts: { signal?: AbortSignal; force?: boolean } = {}): Promise<RemovalResult | null> {
    if (!this.juju) return null;
    // The host's own lane: an abort (the rollout's, the host's) stops the removal at its next command or wait.
    const lane = opts.signal ? this.lanes.lane({ host, signal: opts.signal }) : this.main;
    const ops = await this.ops(lane, "removal", host);
    if (!(await ops.models()).includes(this.mm())) return null;
    // A removal refused (LAYER_REFUSED) or cut short leaves the host a member: it is forgotten once it left.
    const cephPeer = [...this.cephMembers.values()].find((m) => m.systemId !== host.systemId);
    const controlModel = String(this.tpl("control-plane").defaults["model"] ?? "openstack");
    const r = await leaveJuju(ops, host, { model: this.mm(), logger: this.o.logger, journal, timeoutMs: this.o.unitTimeoutMs ?? 30 * 60_000, cephPeer, storageTpl: this.tpl("storage"), openstack: () => this.openstack(), kube: this.k8s?.kube, controlModel, force: opts.force === true });
    this.cephMembers.delete(host.systemId);
    return r;
  }

  /**
   * The OpenStack API of the control plane: keystone-k8s's admin account read once with its
   * action (a secret step), then the port kept. Absent while the control-plane model has no
   * keystone; unreachable when the action fails (both asked again on the next call).
   */
  private openstack(): Promise<OpenStackReach> {
    const p = (this.openstackReach ??= this.reachOpenStack().catch((e: unknown): OpenStackReach => ({ kind: "unreachable", reason: e instanceof Error ? e.message : String(e), cause: e })));
    void p.then((r) => {
      if (r.kind !== "ready" && this.openstackReach === p) this.openstackReach = undefined;
    });
    return p;
  }

  private async reachOpenStack(): Promise<OpenStackReach> {
    if (!this.juju) return { kind: "absent", reason: "no juju client in this process (the juju-controller barrier has not run)" };
    const ops = new JujuOps(this.juju, this.main);
    const cp = this.tpl("control-plane");
    const model = String(cp.defaults["model"] ?? "openstack");
    const keystone = cp.extra.applications.find((a) => a.charm === "keystone-k8s")?.app;
    if (keystone === undefined || !("getAdminAccount" in ops.s.tpl.steps)) return { kind: "absent", reason: "the templates have no keystone or no getAdminAccount step" };
    if (!(await ops.models()).includes(model) || (await ops.status(model)).applications?.[keystone] === undefined) return { kind: "absent", reason: `no ${keystone} in model ${model}` };
    const creds = credentialsFrom(await ops.action(model, "getAdminAccount", `${keystone}/leader`));
    if (creds === undefined) return { kind: "unreachable", reason: `${keystone}'s get-admin-account gave no endpoint, username or password` };
    return { kind: "ready", port: (this.o.openstack ?? ((c) => new OpenStackClient({ credentials: c, ...(this.o.clock ? { clock: this.o.clock } : {}) })))(creds) };
  }

  private isControlPlaneUp(): boolean {
    return this.controlPlaneUp;
  }

  private mm(): string {
    return machineModel(this.tpl("machines"));
  }

  // ------------------------------------------------------------------ helpers

  /** Runs `fn` on every host in parallel; failures are collected, not thrown. */
  private async eachHost(hosts: readonly LayerHost[], fn: (h: LayerHost) => Promise<void>): Promise<{ ok: LayerHost[]; failed: HostFailure[] }> {
    const results = await Promise.allSettled(hosts.map((h) => fn(h)));
    const ok: LayerHost[] = [];
    const failed: HostFailure[] = [];
    results.forEach((r, i) => {
      const h = hosts[i] as LayerHost;
      if (r.status === "fulfilled") ok.push(h);
      else failed.push({ systemId: h.systemId, hostname: h.hostname, error: asLayerError(r.reason, h) });
    });
    for (const f of failed) this.o.logger.warn({ systemId: f.systemId, hostname: f.hostname, code: f.error.code, err: f.error.message }, "host failed its part of a layer");
    return { ok, failed };
  }

  private async sequential(hosts: readonly LayerHost[], fn: (h: LayerHost) => Promise<void>): Promise<{ ok: LayerHost[]; failed: HostFailure[] }> {
    const ok: LayerHost[] = [];
    const failed: HostFailure[] = [];
    for (const h of hosts) {
      try {
        await fn(h);
        ok.push(h);
      } catch (e) {
        const error = asLayerError(e, h);
        this.o.logger.warn({ systemId: h.systemId, hostname: h.hostname, code: error.code, err: error.message }, "host failed its part of a layer");
        failed.push({ systemId: h.systemId, hostname: h.hostname, error });
      }
    }
    return { ok, failed };
  }

  private precondition(layer: string, step: string, message: string): LayerError {
    return new LayerError("LAYER_PRECONDITION", { layer, step }, message);
  }
}

/** Units of `app` in a status, for callers outside the engine (tests, the report). */
export { unitsOf };

function asLayerError(e: unknown, h: LayerHost): LayerError {
  if (e instanceof LayerError) return e;
  return new LayerError("LAYER_COMMAND_FAILED", { layer: "unknown", step: "unknown", systemId: h.systemId, hostname: h.hostname }, e instanceof Error ? e.message : String(e), { cause: e });
}
