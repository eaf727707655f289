/**
 * Runs the cluster-level layers (Juju controller, Kubernetes, Ceph, the control
 * plane) as barriers over the hosts of a rollout, and each host's own layer work.
 *
 * A barrier waits for the members that are in flight, never for members that have
 * not been started: waves run in order, so waiting for a member of a later wave
 * would hold the current wave forever. A cluster therefore forms over the members
 * of the waves started so far; members of later waves join it as they arrive
 * (Kubernetes and Ceph through the engine's scale-out in `layerHost`, the Juju
 * controller by re-running its barrier with every member arrived so far, which
 * adds the new machines and widens HA). A host "arrives" when it enters its
 * layering phase, before it holds a layering slot, so the phase cap cannot keep a
 * member from a barrier that the slot holders wait on.
 *
 * A host that fails its part of a barrier fails its layering attempt (the host
 * machine retries it, then hands it on as layer-failed); a cluster that cannot form
 * at all fails every host waiting on it, and forms again on their retries. A host
 * that settles while it waits (aborted, timed out) is no member any more: no barrier
 * runs over it. A host whose layering attempt ends while it waits (the signal its
 * `layer()` call was given aborts: the attempt timed out, the host was aborted) stops
 * waiting at once and leaves the formation it waited for; it stays arrived, so no
 * barrier waits for its retry, which joins like a later member. The control plane
 * forms once (its members join the Kubernetes cluster by scale-out), not again
 * whenever a host comes or goes.
 *
 * Barriers are decided once per turn of the event loop, not at each call: every host
 * the runner starts or restores in one turn counts as in flight before any barrier
 * decides whom it waits for.
 */
import type { Logger } from "pino";
import type { MaasPort } from "../maas/port.ts";
import { hostFromMachine, hostWorkStopped, type BarrierResult, type RemovalStep, type ClusterLayer, type ControlPlaneEndpoints, type Layering, type LayerHost } from "../layers/index.ts";
import type { NetworkName } from "../roles/layout-schema.ts";

type MemberKind = Exclude<ClusterLayer, "control-plane">;

/** The cluster layer a role's hosts form, in dependency order. */
const KIND_OF_ROLE: Readonly<Record<string, MemberKind>> = {
  "juju-controller": "juju-controller",
  control: "kubernetes",
  storage: "storage",
};
const KINDS: readonly MemberKind[] = ["juju-controller", "kubernetes", "storage"];

export interface LayerInput {
  systemId: string;
  hostname: string;
  roles: readonly string[];
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A barrier nobody awaits any more must not become an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** `p`, or what `stopped()` returns as soon as `signal` aborts (`stopped` runs once, at the abort). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, stopped: () => Error): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

interface KindState {
  /** Members in arrival order; the first one is where the cluster bootstraps. */
  arrived: string[];
  /** Arrived members waiting for a formation that includes them. */
  waiting: Map<string, Deferred<BarrierResult>>;
  /** Each arrival's ticket until the host's layerHost has read its outcome. */
  tickets: Map<string, Deferred<BarrierResult>>;
  /** Members of the last successful formation. */
  formed: Set<string>;
  everFormed: boolean;
  running: boolean;
}

export interface LayerCoordinatorDeps {
  layering: Layering;
  maas: MaasPort;
  logger: Logger;
  /** Every planned host's roles (systemId → roles). */
  roles: ReadonlyMap<string, readonly string[]>;
  /** The config's `network.spaces`: which space serves a network named otherwise (the layers pick addresses by space). */
  spaces?: Readonly<Partial<Record<NetworkName, string>>> | undefined;
}

export class LayerCoordinator {
  private readonly d: LayerCoordinatorDeps;
  private readonly kinds = new Map<MemberKind, KindState>();
  /** Started and not settled. */
  private readonly inFlight = new Set<string>();
  private readonly hostCache = new Map<string, LayerHost>();
  /** Asked for by a control or compute host (or a recovery); `ready` once formed: it forms once. */
  private controlPlane: { result: Deferred<ControlPlaneEndpoints | null>; state: "wanted" | "running" | "ready" } | undefined;
  private pumpQueued = false;

  constructor(deps: LayerCoordinatorDeps) {
    this.d = deps;
    for (const k of KINDS) this.kinds.set(k, { arrived: [], waiting: new Map(), tickets: new Map(), formed: new Set(), everFormed: false, running: false });
  }

  /** A host was started (or restored) by the rollout. */
  started(systemId: string): void {
    this.inFlight.add(systemId);
  }

  /** A host settled (in service, quarantined, failed, aborted): no barrier waits for it any more. */
  settled(systemId: string): void {
    this.inFlight.delete(systemId);
    // Settled while waiting for a formation: it is no member of it (nobody reads its ticket).
    for (const st of this.kinds.values()) {
      st.waiting.delete(systemId);
      st.tickets.delete(systemId);
    }
    this.schedulePump();
  }

  /** A host entered its layering phase: it counts as arrived for its clusters. */
  arrive(systemId: string): void {
    for (const kind of this.kindsOf(systemId)) {
      const st = this.state(kind);
      if (!st.arrived.includes(systemId)) st.arrived.push(systemId);
      if (st.tickets.has(systemId) || st.formed.has(systemId)) continue;
      const ticket = deferred<BarrierResult>();
      st.tickets.set(systemId, ticket);
      st.waiting.set(systemId, ticket);
    }
    this.schedulePump();
  }

  /**
   * After a restart the engine knows nothing of the clusters formed before it: re-run
   * each barrier over its members already in service (on finished layers that only
   * runs checks), so hosts resuming their layering find the clusters again.
   *
   * A barrier whose re-check fails does not stop the others. Its members in service stay
   * members (they finished their layering in it), so the formation that runs when a host
   * arrives includes them and keeps their cluster rather than starting another one on the
   * newcomer. Rejects with the first failure once every barrier was tried.
   */
  async recover(inService: readonly string[]): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const kind of KINDS) {
      const members = inService.filter((id) => this.kindsOf(id).includes(kind));
      if (members.length === 0) continue;
      const st = this.state(kind);
      for (const id of members) if (!st.arrived.includes(id)) st.arrived.push(id);
      try {
        const result = await this.d.layering.clusterBarrier(kind, await this.hostsOf(st.arrived));
        for (const id of result.ready) st.formed.add(id);
        st.everFormed = true;
      } catch (e) {
        for (const id of members) st.formed.add(id);
        failure ??= { error: e };
      }
    }
    if (this.state("kubernetes").everFormed) void this.whenControlPlane();
    this.schedulePump();
    if (failure) throw failure.error;
  }

  /**
   * The host machine's `layerHost` actor: its clusters first, then its own layer work.
   * When `signal` aborts (the attempt ended), its waits end at once with LAYER_STOPPED, it
   * leaves the formation it waited for, and the engine stops its work.
   */
  async layer(input: LayerInput, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw hostWorkStopped("arrive", input);
    this.arrive(input.systemId);
    for (const kind of this.kindsOf(input.systemId)) {
      const st = this.state(kind);
      const ticket = st.tickets.get(input.systemId);
      if (!ticket) continue;
      let result: BarrierResult;
      let stopped = false;
      try {
        result = await untilAborted(ticket.promise, signal, () => {
          stopped = true;
          // Not in a formation yet: no formation counts it in any more, and its ticket goes at
          // once, so an attempt that replaces this one (even in the same turn: RESTORED re-enters
          // the layering state, stopping this call and starting the next) arrives afresh. It
          // stays arrived, so no formation waits for that retry either. A ticket already in a
          // running formation stays for the retry, which waits for that formation.
          if (st.waiting.get(input.systemId) === ticket) {
            st.waiting.delete(input.systemId);
            st.tickets.delete(input.systemId);
          }
          this.schedulePump();
          return hostWorkStopped(`barrier ${kind}`, input);
        });
      } finally {
        if (!stopped && st.tickets.get(input.systemId) === ticket) st.tickets.delete(input.systemId);
      }
      const failure = result.failed.find((f) => f.systemId === input.systemId);
      if (failure) throw failure.error;
    }
    if (input.roles.includes("control")) await untilAborted(this.whenControlPlane(), signal, () => hostWorkStopped("controlPlane", input));
    // Compute hosts wait for the control plane inside layerHost; make sure it is on its way.
    else if (input.roles.includes("compute")) void this.whenControlPlane();
    const host = await this.hostOf(input.systemId, true);
    if (signal?.aborted) throw hostWorkStopped("readMachine", input);
    await this.d.layering.layerHost(host, signal ? { signal } : {});
  }

  /**
   * A re-provisioned host leaves Juju before MAAS releases it (src/layers/removal.ts), through
   * the juju client the controller barrier (or the recovery over the deployment's hosts in
   * service) set up. Without that client, or without an address for the host in MAAS, nothing
   * is done here and a warning says so: the host's stale machine then goes when it is enlisted
   * again (JujuOps.enlist).
   */
  async leave(systemId: string, journal: (s: RemovalStep) => void, opts: { signal?: AbortSignal; force?: boolean } = {}): Promise<void> {
    let host: LayerHost;
    try {
      host = await this.hostOf(systemId, true);
    } catch (e) {
      this.d.logger.warn({ systemId, err: e instanceof Error ? e.message : String(e) }, "re-provisioned host has no address to find it in Juju by: not taken out of Juju first");
      return;
    }
    if (opts.signal?.aborted) throw hostWorkStopped("readMachine", host);
    const r = await this.d.layering.leaveHost?.(host, journal, opts);
    if (r === null || r === undefined) this.d.logger.warn({ systemId, hostname: host.hostname }, "no juju client in this run (no controller formed): re-provisioned host not taken out of Juju first");
  }

  private kindsOf(systemId: string): MemberKind[] {
    const roles = this.d.roles.get(systemId) ?? [];
    return KINDS.filter((k) => roles.some((r) => KIND_OF_ROLE[r] === k));
  }

  private state(kind: MemberKind): KindState {
    const st = this.kinds.get(kind);
    if (!st) throw new Error(`no state for ${kind}`);
    return st;
  }

  /** Members of `kind` in flight that have not arrived yet: the barrier waits for them. */
  private stillComing(kind: MemberKind): boolean {
    const st = this.state(kind);
    for (const id of this.inFlight) {
      if (!st.arrived.includes(id) && this.kindsOf(id).includes(kind)) return true;
    }
    return false;
  }

  /** A formation of `kind` may still come: one runs, members wait for one, or a member is in flight. */
  private pending(kind: MemberKind): boolean {
    const st = this.state(kind);
    if (st.running || st.waiting.size > 0) return true;
    for (const id of this.inFlight) if (this.kindsOf(id).includes(kind)) return true;
    return false;
  }

  private dependencyReady(kind: MemberKind): boolean {
    switch (kind) {
      case "juju-controller":
      case "storage":
        return true;
      case "kubernetes":
        // It registers the cluster with Juju, so it waits for the controller while one can still
        // form: never for a controller host of a later wave, nor one that failed for good (the
        // engine then reports that no controller formed).
        return this.state("juju-controller").everFormed || !this.pending("juju-controller");
    }
  }

  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Starts every barrier that can run now. */
  private pump(): void {
    for (const kind of KINDS) {
      const st = this.state(kind);
      if (st.running || st.waiting.size === 0 || !this.dependencyReady(kind) || this.stillComing(kind)) continue;
      // Kubernetes and Ceph form once; later members join in layerHost (scale-out). The Juju
      // controller re-forms over every member so far, which adds the new machines to HA.
      if (st.everFormed && kind !== "juju-controller") {
        const formed = { kind, ready: [...st.formed], failed: [] } satisfies BarrierResult;
        for (const d of st.waiting.values()) d.resolve(formed);
        st.waiting.clear();
        continue;
      }
      void this.form(kind);
    }
    this.maybeControlPlane();
  }

  private async form(kind: MemberKind): Promise<void> {
    const st = this.state(kind);
    st.running = true;
    const batch = new Map(st.waiting);
    st.waiting.clear();
    const members = st.arrived.filter((id) => batch.has(id) || st.formed.has(id));
    this.d.logger.info({ layer: kind, members: members.length, joining: batch.size }, "forming cluster layer");
    try {
      const result = await this.d.layering.clusterBarrier(kind, await this.hostsOf(members));
      st.formed = new Set(result.ready);
      st.everFormed = true;
      for (const d of batch.values()) d.resolve(result);
      this.d.logger.info({ layer: kind, ready: result.ready.length, failed: result.failed.length }, "cluster layer formed");
    } catch (e) {
      this.d.logger.warn({ layer: kind, err: e instanceof Error ? e.message : String(e) }, "cluster layer could not form");
      for (const d of batch.values()) d.reject(e);
      // Failed hosts retry their layering and arrive again; the cluster forms anew then.
      st.arrived = st.arrived.filter((id) => !batch.has(id) || st.formed.has(id));
    } finally {
      st.running = false;
      this.schedulePump();
    }
  }

  /**
   * The control plane goes on the Kubernetes cluster once it, the controller and (if in
   * flight) Ceph have formed, and only once: a failure lets the next host asking for it
   * try again.
   */
  private maybeControlPlane(): void {
    const cp = this.controlPlane;
    if (cp === undefined || cp.state !== "wanted") return;
    const k8s = this.state("kubernetes");
    const ceph = this.state("storage");
    if (!k8s.everFormed || k8s.running) return;
    if (ceph.running || ceph.waiting.size > 0 || this.stillComing("storage")) return;
    cp.state = "running";
    void this.d.layering
      // Sized by every planned control host (§3c counts the deployment's control nodes), not those formed so far.
      .clusterBarrier("control-plane", [...k8s.formed].flatMap((id) => this.hostCache.get(id) ?? []), { controlCount: [...this.d.roles.values()].filter((r) => r.includes("control")).length })
      .then(async () => {
        cp.result.resolve(await this.d.layering.whenControlPlaneReady());
        cp.state = "ready";
      })
      .catch((e: unknown) => {
        cp.result.reject(e);
        if (this.controlPlane === cp) this.controlPlane = undefined;
      });
  }

  private whenControlPlane(): Promise<ControlPlaneEndpoints | null> {
    this.controlPlane ??= { result: deferred(), state: "wanted" };
    const p = this.controlPlane.result.promise;
    this.maybeControlPlane();
    return p;
  }

  private async hostsOf(ids: readonly string[]): Promise<LayerHost[]> {
    return Promise.all(ids.map((id) => this.hostOf(id, false)));
  }

  /** The host as the layers see it, from MAAS (address, ceph disks by id_path). */
  private async hostOf(systemId: string, fresh: boolean): Promise<LayerHost> {
    const cached = this.hostCache.get(systemId);
    if (cached && !fresh) return cached;
    const m = await this.d.maas.readMachine(systemId);
    const roles = this.d.roles.get(systemId) ?? [];
    const host = hostFromMachine(m, roles, { spaces: this.d.spaces });
    this.hostCache.set(systemId, host);
    return host;
  }
}
