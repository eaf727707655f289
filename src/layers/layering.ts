/**
 * The layer engine: the five layers of docs/layering.md as "check, then act" steps
 * over SSH, plus the Kubernetes API for node readiness and labels.
 *
 * (Over 600 lines: the five layers share the engine's lanes and the state the barriers find;
 * waits, the read-back and templates are already apart (waits.ts, report.ts, render.ts). The
 * move to charms in a machine model (docs/layering.md, "Where this is going") splits it per layer.)
 *
 * Cluster-level work (`clusterBarrier`) forms a cluster from the hosts it is given
 * and reports per-host failures instead of failing the whole barrier, unless the
 * cluster itself cannot form (its first host failed). Per-host work (`layerHost`)
 * is what one host needs by its roles: snaps installed, and for compute hosts the
 * hypervisor configured as soon as the control plane is up. Every function is
 * idempotent: run again on a finished layer, it only runs checks.
 *
 * One host's work (`layerHost`) stops when the signal its caller passes aborts (the
 * host's layering attempt timed out, or the host was aborted): no further command is
 * sent for it and its waits end at once, so a retry of that host runs alone. Other work
 * the rollout no longer waits for (a barrier whose hosts settled) goes on in the
 * background until `close()`, which the owner of the SSH port calls when the run has
 * ended and before closing the port: from then on no command is sent and every wait ends.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { Machine } from "../maas/port.ts";
import type { SshPort, SshTarget } from "../ssh/port.ts";
import { hostWorkStopped, LayerError } from "./errors.ts";
import { clientNodeKube } from "./kube.ts";
import type { KubePort } from "./kube.ts";
import { LAYERS, loadLayerTemplate } from "./render.ts";
import type { ControlPlaneApp, LayerName, LayerTemplate, Values } from "./render.ts";
import { StepRunner } from "./steps.ts";
import type { StepPolicy } from "./steps.ts";
import { waitUntil, type WaitOptions } from "./waits.ts";
import { readCloud, type CloudReport } from "./report.ts";
import { endpointAddress, hostAddressing, type HostAddressing } from "./addresses.ts";
import type { NetworkName } from "../roles/layout-schema.ts";

export type { CloudReport } from "./report.ts";

/** A deployed machine as the layers see it. */
export interface LayerHost extends SshTarget {
  roles: readonly string[];
  /**
   * Its addresses by MAAS space and the site's network → space map (addresses.ts): a layer
   * takes the address of the space its endpoint binds to (`endpointAddress`); `address`
   * (the SSH target) is the management one. Absent on a host made by hand (tests): `address`
   * serves every space.
   */
  addressing?: HostAddressing;
  /** id_path of every block device tagged `ceph` in MAAS. */
  cephDisks: readonly string[];
}

export const CLUSTER_LAYERS = ["juju-controller", "kubernetes", "storage", "control-plane"] as const;
export type ClusterLayer = (typeof CLUSTER_LAYERS)[number];

export interface HostFailure {
  systemId: string;
  hostname: string;
  error: LayerError;
}

export interface BarrierResult {
  kind: ClusterLayer;
  /** Hosts that are part of the formed cluster. */
  ready: string[];
  /** Hosts that failed their part: mark them layer-failed; the cluster went on without them. */
  failed: HostFailure[];
}

export interface ControlPlaneEndpoints {
  identityUrl: string;
  identityUsername: string;
  /** Secret. */
  identityPassword: string;
  region: string;
  /** Secret (holds a password). */
  rabbitmqUrl: string;
  caBundle: string;
}

export interface LayeringOptions {
  ssh: SshPort;
  logger: Logger;
  /** Builds the Kubernetes port from the kubeconfig fetched from the bootstrap node. Default: @kubernetes/client-node. */
  kube?: (kubeconfig: string) => KubePort;
  /** Overrides of template defaults, per layer (e.g. { "juju-controller": { controller: "prod" } }). */
  values?: Partial<Record<LayerName, Values>>;
  /** Template texts instead of templates/layers/*.yaml (tests, site-specific templates). */
  templates?: Partial<Record<LayerName, string>>;
  policy?: Partial<StepPolicy>;
  /** Poll interval while waiting for nodes and applications. Default 5 s. */
  pollMs?: number;
  /** Default 15 min. */
  nodesReadyTimeoutMs?: number;
  /** Default 60 min (the reference's control-plane wait). */
  controlPlaneTimeoutMs?: number;
  /** The wait for new controller machines to get their votes after enable-ha. Default 30 min (the reference's). */
  haTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface Layering {
  /** Forms (or re-checks) one cluster-level layer over `hosts`. Idempotent. */
  clusterBarrier(kind: ClusterLayer, hosts: readonly LayerHost[]): Promise<BarrierResult>;
  /**
   * The per-host layers for one deployed host, by its roles. Idempotent. Compute hosts wait
   * for the control plane. When `signal` aborts, this host's work stops as `close()` stops
   * the engine's, for this call only: no further command is sent for it (those it sends to
   * other hosts, e.g. a join token, included), its waits end at once, and it rejects with
   * LAYER_STOPPED. A command already running is not interrupted.
   */
  layerHost(host: LayerHost, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Reads what the layers formed in this process from the hosts themselves (read-only queries). */
  report(): Promise<CloudReport>;
  /** Resolves once the control plane is deployed (or immediately if it already was in this process). */
  whenControlPlaneReady(): Promise<ControlPlaneEndpoints>;
  /**
   * Ends the engine's work for good, once the run that used it has ended and before its
   * SSH port is closed: no command is sent from now on, and every wait in progress (a
   * step's backoff, node readiness, the control plane's polling, a compute host waiting
   * for the control plane) ends at once. Work in progress and later calls reject with
   * LAYER_STOPPED. A command already running is not interrupted here (closing the port
   * cuts it). Idempotent.
   */
  close(): void;
  bootstrapJuju(controllers: readonly LayerHost[]): Promise<BarrierResult>;
  formKubernetes(controls: readonly LayerHost[]): Promise<BarrierResult>;
  formCeph(storage: readonly LayerHost[]): Promise<BarrierResult>;
  deployControlPlane(controlCount: number): Promise<ControlPlaneEndpoints>;
  configureHypervisor(host: LayerHost, endpoints: ControlPlaneEndpoints): Promise<void>;
}

/** Replicas for a control-plane application from the number of control machines (the reference's rule). */
export function replicasFor(kind: ControlPlaneApp["kind"], controlCount: number): number {
  const n = Math.max(1, controlCount);
  switch (kind) {
    case "database":
    case "queue":
      return n >= 3 ? 3 : 1;
    case "api":
      return n > 10 ? Math.min(n + 2, 7) : Math.min(n, 3);
    case "single":
      return 1;
  }
}

/**
 * A LayerHost from a MAAS machine record: its addresses by space (from its links), the SSH
 * target on the management space (addresses.ts says why), `ceph`-tagged devices by id_path.
 * `spaces`: the config's `network.spaces` (a network served by a space of another name).
 */
export function hostFromMachine(m: Machine, roles: readonly string[], opts: { spaces?: Readonly<Partial<Record<NetworkName, string>>> | undefined } = {}): LayerHost {
  const addressing = hostAddressing(m, opts.spaces);
  const address = endpointAddress({ systemId: m.system_id, hostname: m.hostname, addressing }, "ssh");
  const cephDisks = m.blockdevice_set.filter((d) => d.tags.includes("ceph") && d.id_path).map((d) => d.id_path as string);
  return { systemId: m.system_id, hostname: m.hostname, address, roles, cephDisks, addressing };
}

interface ShowController {
  [name: string]: { "controller-machines"?: Record<string, { "instance-id"?: string; "ha-status"?: string }> };
}

interface JujuMachines {
  machines?: Record<string, { "dns-name"?: string; "ip-addresses"?: string[]; "instance-id"?: string; "juju-status"?: { current?: string } }>;
}

interface JujuStatus {
  applications?: Record<string, { scale?: number; "application-status"?: { current?: string; message?: string }; relations?: Record<string, { "related-application"?: string }[]> }>;
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

/** One host's work that stops when its signal aborts (besides the engine's close). */
interface HostWork {
  host: SshTarget;
  signal: AbortSignal;
}

/**
 * Where a piece of the engine's work sends its commands and waits: the engine's own lane
 * (barriers, reports) stops at `close()`; a host's lane (`layerHost` with a signal) also
 * stops when its signal aborts.
 */
interface Lane {
  steps: StepRunner;
  sleep: (ms: number) => Promise<void>;
  /** Throws LAYER_STOPPED once stopped (before a call that is not a command, e.g. to the Kubernetes API). */
  ensureOpen(step: string): void;
  /** `p`, or LAYER_STOPPED as soon as the lane stops. */
  until<T>(p: Promise<T>, step: string): Promise<T>;
}

class LayerEngine implements Layering {
  private readonly o: LayeringOptions;
  private readonly policy: StepPolicy;
  /** The engine's own lane: everything but a host's work with a signal. */
  private readonly main: Lane;
  private readonly now: () => number;
  private readonly tpls = new Map<LayerName, LayerTemplate>();
  private juju: { client: LayerHost } | undefined;
  private k8s: { bootstrap: LayerHost; kube: KubePort; registered: boolean } | undefined;
  private ceph: { bootstrap: LayerHost } | undefined;
  private endpoints: Deferred<ControlPlaneEndpoints> = deferred();
  private readonly hypervisors = new Set<string>();
  /** `ceph`-tagged disks per storage host layered in this process (systemId → count), for the report. */
  private readonly taggedDisks = new Map<string, number>();
  private closed = false;
  /** Ends the default sleeps' timers at close, so no timer outlives the engine. */
  private readonly closing = new AbortController();
  /** The reject of every wait in progress, called at close. */
  private readonly waits = new Set<(e: LayerError) => void>();

  constructor(o: LayeringOptions) {
    this.o = o;
    this.policy = { attempts: 3, backoffMs: 2000, commandTimeoutMs: 600_000, ...o.policy };
    this.now = o.now ?? (() => Date.now());
    this.main = this.lane(undefined);
    // Load every template up front: a broken template fails at start, not mid-rollout.
    for (const l of LAYERS) this.tpl(l);
  }

  /** A lane for the engine's own work (`work` undefined) or for one host's work that stops with its signal. */
  private lane(work: HostWork | undefined): Lane {
    const o = this.o;
    // The default sleep's timer ends with the lane, so none outlives a stopped host's work or the engine.
    const timers = o.sleep ? undefined : work ? AbortSignal.any([this.closing.signal, work.signal]) : this.closing.signal;
    const sleep = o.sleep ?? ((ms: number) => delay(ms, undefined, { signal: timers }));
    // Checked before sleeping: a default sleep started once stopped would reject unheard.
    const lanesSleep = (ms: number): Promise<void> => {
      const stopped = this.stopped("wait", work);
      return stopped ? Promise.reject(stopped) : this.untilStopped(sleep(ms), "wait", work);
    };
    // Every command the steps send goes through this gate: none leaves once the lane is stopped.
    const gate: SshPort = {
      exec: (target, command, opts) => {
        const stopped = this.stopped("command", work, target);
        return stopped ? Promise.reject(stopped) : o.ssh.exec(target, command, opts);
      },
      noteDeployed: (systemId) => o.ssh.noteDeployed(systemId),
      close: () => o.ssh.close(),
    };
    return {
      steps: new StepRunner(gate, o.logger, this.policy, lanesSleep),
      sleep: lanesSleep,
      ensureOpen: (step) => {
        const stopped = this.stopped(step, work);
        if (stopped) throw stopped;
      },
      until: (p, step) => this.untilStopped(p, step, work),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const e = this.closedError("wait");
    for (const reject of this.waits) reject(e);
    this.waits.clear();
    this.closing.abort();
  }

  private closedError(step: string, host?: SshTarget): LayerError {
    return new LayerError("LAYER_STOPPED", { layer: "any", step, ...(host ? { systemId: host.systemId, hostname: host.hostname } : {}) }, "the layer engine was closed: the run that used it has ended");
  }

  /** LAYER_STOPPED once the engine is closed or, for a host's work, its signal aborted; else undefined. */
  private stopped(step: string, work: HostWork | undefined, target?: SshTarget): LayerError | undefined {
    if (this.closed) return this.closedError(step, target);
    if (work?.signal.aborted) return hostWorkStopped(step, work.host);
    return undefined;
  }

  /** `p`, or LAYER_STOPPED as soon as the engine is closed or the host's work aborted. */
  private untilStopped<T>(p: Promise<T>, step: string, work: HostWork | undefined): Promise<T> {
    const now = this.stopped(step, work);
    if (now) return Promise.reject(now);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.stopped(step, work));
      const done = () => {
        this.waits.delete(reject);
        work?.signal.removeEventListener("abort", onAbort);
      };
      this.waits.add(reject);
      work?.signal.addEventListener("abort", onAbort, { once: true });
      p.then(
        (v) => {
          done();
          resolve(v);
        },
        (e: unknown) => {
          done();
          reject(this.stopped(step, work) ?? e);
        },
      );
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

  whenControlPlaneReady(): Promise<ControlPlaneEndpoints> {
    return this.main.until(this.endpoints.promise, "controlPlaneReady");
  }

  async report(): Promise<CloudReport> {
    this.main.ensureOpen("report");
    return readCloud({
      steps: this.main.steps,
      ...(this.juju ? { juju: { client: this.juju.client, controllerTpl: this.tpl("juju-controller"), controlPlaneTpl: this.tpl("control-plane"), model: String(this.tpl("control-plane").defaults["model"]), modelExists: this.k8s?.registered === true } } : {}),
      ...(this.k8s ? { kube: this.k8s.kube } : {}),
      ...(this.ceph ? { ceph: { bootstrap: this.ceph.bootstrap, tpl: this.tpl("storage") } } : {}),
      taggedDisks: [...this.taggedDisks.values()].reduce((a, b) => a + b, 0),
      computeHosts: [...this.hypervisors],
      ensureOpen: this.main.ensureOpen,
    });
  }

  async clusterBarrier(kind: ClusterLayer, hosts: readonly LayerHost[]): Promise<BarrierResult> {
    switch (kind) {
      case "juju-controller":
        return this.bootstrapJuju(hosts);
      case "kubernetes":
        return this.formKubernetes(hosts);
      case "storage":
        return this.formCeph(hosts);
      case "control-plane": {
        await this.deployControlPlane(hosts.length);
        return { kind, ready: hosts.map((h) => h.systemId), failed: [] };
      }
    }
  }

  async layerHost(host: LayerHost, opts: { signal?: AbortSignal } = {}): Promise<void> {
    // Its own lane when it can be stopped on its own: every command and wait below goes through it.
    const lane = opts.signal ? this.lane({ host, signal: opts.signal }) : this.main;
    const roles = new Set(host.roles);
    if (roles.has("juju-controller")) await lane.steps.ensure(host, this.tpl("juju-controller"), "install", {});
    if (roles.has("control")) {
      await lane.steps.ensure(host, this.tpl("kubernetes"), "install", {});
      // A control host deployed after the cluster formed (scale-out) joins it here.
      if (this.k8s) {
        await this.joinKubernetes(lane, this.k8s.bootstrap, host);
        await this.waitNodesReady(lane, this.k8s.kube, [host.hostname]);
        await this.labelNodes(lane, this.k8s.kube, [host]);
      }
    }
    if (roles.has("storage")) {
      await lane.steps.ensure(host, this.tpl("storage"), "install", {});
      if (this.ceph) {
        await this.joinCeph(lane, this.ceph.bootstrap, host);
        await this.addDisks(lane, host);
      }
    }
    if (roles.has("compute")) {
      const ep = await lane.until(this.endpoints.promise, "controlPlaneReady");
      await this.hypervisor(lane, host, ep);
    }
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

  // ------------------------------------------------------------------ 1. Juju controller

  async bootstrapJuju(controllers: readonly LayerHost[]): Promise<BarrierResult> {
    const tpl = this.tpl("juju-controller");
    const [first, ...others] = controllers;
    if (first === undefined) throw this.precondition(tpl.layer, "bootstrap", "no juju-controller machine");
    await this.main.steps.ensure(first, tpl, "install", {});
    await this.main.steps.ensure(first, tpl, "bootstrap", { address: first.address });
    this.juju = { client: first };
    // The controller model's machines (`juju machines`): `show-controller` lists only the
    // machines that want a vote, so a machine added by manual provisioning is not there
    // until enable-ha converts it (juju-layering.md §4e).
    const machines = async () => {
      const j = await this.main.steps.queryJson<JujuMachines>(first, tpl, "machines", {});
      return Object.entries(j.machines ?? {}).map(([id, m]) => ({ id, addresses: [m["dns-name"], ...(m["ip-addresses"] ?? [])].filter((a): a is string => typeof a === "string") }));
    };
    const voters = async () => {
      const j = await this.main.steps.queryJson<ShowController>(first, tpl, "showController", {});
      const entry = Object.values(j)[0];
      return Object.entries(entry?.["controller-machines"] ?? {}).filter(([, m]) => m["ha-status"] === "ha-enabled").map(([id]) => id);
    };
    const installed = await this.eachHost(others, (h) => this.main.steps.ensure(h, tpl, "install", {}).then(() => undefined));
    // Manual provisioning of several machines at once through one client works, but one at a time keeps failures attributable.
    const added = await this.sequential(installed.ok, async (h) => {
      await this.main.steps.ensure(first, tpl, "addMachine", { address: h.address }, { satisfied: async () => (await machines()).some((m) => m.addresses.includes(h.address)) });
    });
    const members = [first, ...added.ok];
    const failed = [...installed.failed, ...added.failed];
    if (members.length >= 3) {
      const n = Math.min(7, members.length % 2 === 1 ? members.length : members.length - 1);
      const ms = await machines();
      const to = ms.filter((m) => m.id !== "0" && members.some((h) => m.addresses.includes(h.address))).slice(0, n - 1).map((m) => m.id);
      // enable-ha returns at once (JJ:enableha.go); the new voters come later: wait for them,
      // with consecutive good reads, as Sunbeam waits 30 minutes on the controller application.
      await this.main.steps.ensure(first, tpl, "enableHa", { count: n, to: to.join(",") }, {
        satisfied: async () => (await voters()).length >= n,
        act: async () => {
          await this.main.steps.run(first, tpl, "enableHa", { count: n, to: to.join(",") });
          await waitUntil(async () => {
            const v = await voters();
            return { ok: v.length >= n, detail: `${v.length} of ${n} controller machines have a vote` };
          }, this.waitOptions(this.main, tpl.layer, "haVotes", first, this.o.haTimeoutMs ?? 30 * 60_000));
        },
      });
    } else {
      // As the reference, HA is not asked for below three controller machines (MaasScaleJujuStep
      // skips it); a later controller host re-runs this barrier and HA comes then.
      this.o.logger.info({ controllers: members.length }, `juju controller on ${members.length} machine${members.length === 1 ? "" : "s"}: HA is enabled once three controller machines are in`);
    }
    return { kind: "juju-controller", ready: members.map((h) => h.systemId), failed };
  }

  private waitOptions(lane: Lane, layer: string, step: string, host: LayerHost, timeoutMs: number): WaitOptions {
    return { layer, step, host, timeoutMs, pollMs: this.o.pollMs ?? 5000, now: this.now, sleep: lane.sleep, ensureOpen: lane.ensureOpen };
  }

  // ------------------------------------------------------------------ 2. Kubernetes

  private async isMember(layer: "kubernetes" | "storage", h: LayerHost): Promise<boolean> {
    return this.main.steps.check(h, this.tpl(layer), "join", {});
  }

  private async joinKubernetes(lane: Lane, bootstrap: LayerHost, h: LayerHost): Promise<void> {
    const tpl = this.tpl("kubernetes");
    await lane.steps.ensure(h, tpl, "join", {}, {
      act: async () => {
        const token = (await lane.steps.query(bootstrap, tpl, "joinToken", { node: h.hostname })).trim();
        await lane.steps.run(h, tpl, "join", { token });
      },
    });
  }

  async formKubernetes(controls: readonly LayerHost[]): Promise<BarrierResult> {
    const tpl = this.tpl("kubernetes");
    if (controls.length === 0) throw this.precondition(tpl.layer, "bootstrap", "no control machine");
    // The cluster is registered with Juju at the end: without a controller, fail before touching the hosts.
    if (!this.juju) throw this.noJujuForKubernetes();
    const installed = await this.eachHost(controls, (h) => this.main.steps.ensure(h, tpl, "install", {}).then(() => undefined));
    if (installed.ok.length === 0) throw asLayerError(installed.failed[0]?.error, controls[0] as LayerHost);
    // A re-run keeps the cluster it finds: the first host already in it issues tokens.
    let bootstrap: LayerHost | undefined;
    for (const h of installed.ok) {
      if (await this.isMember("kubernetes", h)) {
        bootstrap = h;
        break;
      }
    }
    bootstrap ??= installed.ok[0] as LayerHost;
    const b = bootstrap;
    await this.main.steps.ensure(b, tpl, "bootstrap", { address: b.address });
    // Joins one at a time: the datastore admits one new voter at a time.
    const joined = await this.sequential(installed.ok.filter((h) => h !== b), (h) => this.joinKubernetes(this.main, b, h));
    const members = [b, ...joined.ok];
    const kubeconfig = await this.main.steps.query(b, tpl, "kubeconfig", {});
    const kube = (this.o.kube ?? clientNodeKube)(kubeconfig);
    await this.waitNodesReady(this.main, kube, members.map((h) => h.hostname));
    await this.labelNodes(this.main, kube, members);
    this.k8s = { bootstrap: b, kube, registered: false };
    await this.registerCloud(kubeconfig);
    this.k8s.registered = true;
    return { kind: "kubernetes", ready: members.map((h) => h.systemId), failed: [...installed.failed, ...joined.failed] };
  }

  private async waitNodesReady(lane: Lane, kube: KubePort, names: readonly string[]): Promise<void> {
    const deadline = this.now() + (this.o.nodesReadyTimeoutMs ?? 15 * 60_000);
    for (;;) {
      lane.ensureOpen("nodesReady");
      const nodes = await kube.listNodes();
      const notReady = names.filter((n) => !nodes.some((x) => x.name === n && x.ready));
      if (notReady.length === 0) return;
      if (this.now() >= deadline) throw new LayerError("LAYER_NOT_READY", { layer: "kubernetes", step: "nodesReady" }, `nodes not Ready: ${notReady.join(", ")}`);
      await lane.sleep(this.o.pollMs ?? 5000);
    }
  }

  private async labelNodes(lane: Lane, kube: KubePort, hosts: readonly LayerHost[]): Promise<void> {
    const byRole = this.tpl("kubernetes").extra.labels;
    lane.ensureOpen("labels");
    const nodes = await kube.listNodes();
    for (const h of hosts) {
      const want: Record<string, string> = {};
      for (const r of h.roles) Object.assign(want, byRole[r] ?? {});
      const have = nodes.find((n) => n.name === h.hostname)?.labels ?? {};
      if (Object.entries(want).every(([k, v]) => have[k] === v)) continue;
      lane.ensureOpen("labels");
      this.o.logger.info({ systemId: h.systemId, hostname: h.hostname, labels: want }, "labelling node");
      await kube.labelNode(h.hostname, want);
    }
  }

  private noJujuForKubernetes(): LayerError {
    return this.precondition("kubernetes", "addK8s", "the juju-controller barrier has not run in this process: no juju client to register the cluster with");
  }

  private async registerCloud(kubeconfig: string): Promise<void> {
    const tpl = this.tpl("kubernetes");
    if (!this.juju) throw this.noJujuForKubernetes();
    const client = this.juju.client;
    const cloud = String(tpl.defaults["k8sCloud"]);
    await this.main.steps.ensure(client, tpl, "addK8s", {}, {
      satisfied: async () => cloud in (await this.main.steps.queryJson<Record<string, unknown>>(client, tpl, "clouds", {})),
      act: async () => {
        await this.main.steps.run(client, tpl, "addK8s", {}, { stdin: kubeconfig });
      },
    });
  }

  // ------------------------------------------------------------------ 3. Storage

  private async joinCeph(lane: Lane, bootstrap: LayerHost, h: LayerHost): Promise<void> {
    const tpl = this.tpl("storage");
    await lane.steps.ensure(h, tpl, "join", {}, {
      act: async () => {
        const token = (await lane.steps.query(bootstrap, tpl, "joinToken", { node: h.hostname })).trim();
        await lane.steps.run(h, tpl, "join", { token });
      },
    });
  }

  private async addDisks(lane: Lane, h: LayerHost): Promise<void> {
    const tpl = this.tpl("storage");
    if (h.cephDisks.length === 0) this.o.logger.warn({ systemId: h.systemId, hostname: h.hostname }, "storage host has no ceph-tagged disk");
    this.taggedDisks.set(h.systemId, h.cephDisks.length);
    const configured = async () => {
      const j = await lane.steps.queryJson<{ ConfiguredDisks?: { location?: string; path?: string }[] }>(h, tpl, "disks", {});
      return (j.ConfiguredDisks ?? []).filter((d) => d.location === h.hostname).map((d) => d.path);
    };
    for (const path of h.cephDisks) {
      await lane.steps.ensure(h, tpl, "addDisk", { path }, { satisfied: async () => (await configured()).includes(path) });
    }
  }

  async formCeph(storage: readonly LayerHost[]): Promise<BarrierResult> {
    const tpl = this.tpl("storage");
    if (storage.length === 0) throw this.precondition(tpl.layer, "bootstrap", "no storage machine");
    const installed = await this.eachHost(storage, (h) => this.main.steps.ensure(h, tpl, "install", {}).then(() => undefined));
    if (installed.ok.length === 0) throw asLayerError(installed.failed[0]?.error, storage[0] as LayerHost);
    let bootstrap: LayerHost | undefined;
    for (const h of installed.ok) {
      if (await this.isMember("storage", h)) {
        bootstrap = h;
        break;
      }
    }
    bootstrap ??= installed.ok[0] as LayerHost;
    const b = bootstrap;
    await this.main.steps.ensure(b, tpl, "bootstrap", {});
    const joined = await this.sequential(installed.ok.filter((h) => h !== b), (h) => this.joinCeph(this.main, b, h));
    const members = [b, ...joined.ok];
    const disks = await this.eachHost(members, (h) => this.addDisks(this.main, h));
    this.ceph = { bootstrap: b };
    const size = Math.min(disks.ok.length, 3);
    await this.main.steps.ensure(b, tpl, "defaultSize", { size });
    for (const pool of tpl.extra.pools) {
      await this.main.steps.ensure(b, tpl, "createPool", { pool });
      await this.main.steps.ensure(b, tpl, "poolSize", { pool, size });
    }
    return { kind: "storage", ready: disks.ok.map((h) => h.systemId), failed: [...installed.failed, ...joined.failed, ...disks.failed] };
  }

  // ------------------------------------------------------------------ 4. Control plane

  async deployControlPlane(controlCount: number): Promise<ControlPlaneEndpoints> {
    const tpl = this.tpl("control-plane");
    if (!this.juju) throw this.precondition(tpl.layer, "addModel", "the juju-controller barrier has not run in this process");
    if (!this.k8s?.registered) throw this.precondition(tpl.layer, "addModel", "the kubernetes barrier has not run in this process (no cloud registered)");
    const c = this.juju.client;
    const model = String(tpl.defaults["model"]);
    await this.main.steps.ensure(c, tpl, "addModel", {}, {
      satisfied: async () => ((await this.main.steps.queryJson<{ models?: { "short-name"?: string }[] }>(c, tpl, "models", {})).models ?? []).some((m) => m["short-name"] === model),
      act: async () => {
        await this.main.steps.run(c, tpl, "addModel", {});
      },
    });
    const status = () => this.main.steps.queryJson<JujuStatus>(c, tpl, "status", {});
    for (const app of tpl.extra.applications) {
      const scale = replicasFor(app.kind, controlCount);
      await this.main.steps.ensure(c, tpl, "deploy", { app: app.app, charm: app.charm, channel: app.channel, scale }, { satisfied: async () => (await status()).applications?.[app.app] !== undefined });
      await this.main.steps.ensure(c, tpl, "scale", { app: app.app, scale }, { satisfied: async () => (await status()).applications?.[app.app]?.scale === scale });
    }
    const related = (s: JujuStatus, a: string, b: string) => {
      const [aa = "", ae = ""] = a.split(":");
      const [ba = ""] = b.split(":");
      return (s.applications?.[aa]?.relations?.[ae] ?? []).some((r) => r["related-application"] === ba);
    };
    for (const [a, b] of tpl.extra.integrations) {
      await this.main.steps.ensure(c, tpl, "integrate", { a, b }, { satisfied: async () => related(await status(), a, b) });
    }
    // Every application active in 3 consecutive reads (the reference's wait), 60 minutes at most.
    await waitUntil(async () => {
      const st = await status();
      const waiting = tpl.extra.applications.filter((a) => st.applications?.[a.app]?.["application-status"]?.current !== "active");
      const detail = waiting.map((a) => {
        const as = st.applications?.[a.app]?.["application-status"];
        return `${a.app} ${as?.current ?? "missing"}${as?.message ? ` (${as.message})` : ""}`;
      });
      return { ok: waiting.length === 0, detail: `applications not active: ${detail.join(", ")}` };
    }, this.waitOptions(this.main, tpl.layer, "waitActive", c, this.o.controlPlaneTimeoutMs ?? 60 * 60_000));
    const ep = tpl.extra.endpoints;
    const results = async (step: string, values: Values) => {
      const j = await this.main.steps.queryJson<Record<string, { results?: Record<string, string> }>>(c, tpl, step, values);
      const r = Object.values(j)[0]?.results;
      if (r === undefined) throw new LayerError("LAYER_BAD_OUTPUT", { layer: tpl.layer, step, systemId: c.systemId, hostname: c.hostname }, "the action returned no results");
      return r;
    };
    const admin = await results("adminAccount", { app: ep.identityApp });
    const queue = await results("serviceAccount", { app: ep.queueApp, user: ep.queueUser, vhost: ep.queueVhost });
    const ca = await results("caCertificate", { app: ep.caApp });
    const endpoints: ControlPlaneEndpoints = {
      identityUrl: admin["public-endpoint"] ?? "",
      identityUsername: admin["username"] ?? "",
      identityPassword: admin["password"] ?? "",
      region: admin["region"] ?? "RegionOne",
      rabbitmqUrl: `rabbit://${queue["username"] ?? ""}:${queue["password"] ?? ""}@${queue["ingress-address"] ?? ""}:${queue["port"] ?? "5672"}/${queue["vhost"] ?? ""}`,
      caBundle: ca["ca-certificate"] ?? "",
    };
    this.o.logger.info({ identityUrl: endpoints.identityUrl, model }, "control plane active");
    this.endpoints.resolve(endpoints);
    return endpoints;
  }

  // ------------------------------------------------------------------ 5. Hypervisor

  configureHypervisor(host: LayerHost, e: ControlPlaneEndpoints): Promise<void> {
    return this.hypervisor(this.main, host, e);
  }

  private async hypervisor(lane: Lane, host: LayerHost, e: ControlPlaneEndpoints): Promise<void> {
    const tpl = this.tpl("hypervisor");
    await lane.steps.ensure(host, tpl, "install", {});
    await lane.steps.ensure(host, tpl, "configure", {
      identityUrl: e.identityUrl,
      identityUsername: e.identityUsername,
      identityPassword: e.identityPassword,
      region: e.region,
      rabbitmqUrl: e.rabbitmqUrl,
      caBundle: e.caBundle,
      fqdn: host.hostname,
      address: host.address,
    });
    await lane.steps.ensure(host, tpl, "services", {});
    this.hypervisors.add(host.hostname);
  }
}

function asLayerError(e: unknown, h: LayerHost): LayerError {
  if (e instanceof LayerError) return e;
  return new LayerError("LAYER_COMMAND_FAILED", { layer: "unknown", step: "unknown", systemId: h.systemId, hostname: h.hostname }, e instanceof Error ? e.message : String(e), { cause: e });
}
