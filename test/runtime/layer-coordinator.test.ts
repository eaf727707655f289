/**
 * The layer coordinator's rules (docs/layering.md, "In the rollout"), each against a fake
 * engine whose barriers the test answers by hand: a barrier waits for exactly the members
 * in flight that have not arrived, never for one of a later wave; a host arrives before it
 * holds a layering slot; Kubernetes and Ceph form once and later members join by
 * scale-out, while the Juju controller re-forms over every member so far; Kubernetes waits
 * for the controller, the control plane for Kubernetes (and Ceph when storage hosts are in
 * flight) and forms once; control hosts wait for it, compute hosts only set it going; a
 * host that failed its part fails its attempt and its retry joins; a cluster that cannot
 * form fails its hosts and forms again on their retries; hosts that settle leave the
 * barriers; a host whose attempt ends while it waits (its signal aborts) stops waiting at
 * once and leaves the formation without holding it, its retry joins, and the engine gets
 * the attempt's signal; after a restart, recovery re-runs the barriers over the hosts in service and
 * restored hosts find their clusters.
 */
import { describe, expect, it } from "vitest";
import { LayerCoordinator } from "../../src/runtime/layer-coordinator.ts";
import { LayerError, type BarrierResult, type ClusterLayer, type ControlPlaneEndpoints, type Layering, type LayerHost } from "../../src/layers/index.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas } from "../fakes/maas.ts";
import { silentLogger } from "../../src/log.ts";

interface BarrierCall {
  kind: ClusterLayer;
  members: string[];
  ok(failed?: readonly string[]): void;
  fail(e: unknown): void;
}

const ENDPOINTS: ControlPlaneEndpoints = { model: "openstack", offers: { rabbitmq: "admin/openstack.rabbitmq" }, loadBalancer: { rabbitmq: "10.20.0.11", traefik: "10.20.0.10" } };

function layerError(systemId: string): LayerError {
  return new LayerError("LAYER_COMMAND_FAILED", { layer: "storage", step: "join", systemId, hostname: systemId }, "join failed");
}

/** An engine whose barriers stay open until the test answers them; it records every call. */
class FakeEngine implements Layering {
  readonly calls: BarrierCall[] = [];
  /** systemIds passed to layerHost, in order. */
  readonly layered: string[] = [];
  /** The signal of each layerHost call, in order. */
  readonly signals: (AbortSignal | undefined)[] = [];
  /** Answer every barrier at once: all members ready, or fail the listed kinds as a whole. */
  auto: { failKinds: ClusterLayer[] } | undefined;
  private endpoints: { promise: Promise<ControlPlaneEndpoints>; resolve: (e: ControlPlaneEndpoints) => void };

  constructor() {
    let resolve!: (e: ControlPlaneEndpoints) => void;
    this.endpoints = { promise: new Promise<ControlPlaneEndpoints>((r) => (resolve = r)), resolve };
  }

  clusterBarrier(kind: ClusterLayer, hosts: readonly LayerHost[]): Promise<BarrierResult> {
    return new Promise<BarrierResult>((resolve, reject) => {
      const members = hosts.map((h) => h.systemId);
      const call: BarrierCall = {
        kind,
        members,
        ok: (failed = []) => {
          if (kind === "control-plane") this.endpoints.resolve(ENDPOINTS);
          resolve({ kind, ready: members.filter((id) => !failed.includes(id)), failed: failed.map((id) => ({ systemId: id, hostname: id, error: layerError(id) })) });
        },
        fail: reject,
      };
      this.calls.push(call);
      if (this.auto?.failKinds.includes(kind)) call.fail(new LayerError("LAYER_UNREACHABLE", { layer: kind, step: "check" }, "cannot use SSH"));
      else if (this.auto) call.ok();
    });
  }

  async layerHost(host: LayerHost, opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.layered.push(host.systemId);
    this.signals.push(opts.signal);
  }

  whenControlPlaneReady(): Promise<ControlPlaneEndpoints> {
    return this.endpoints.promise;
  }

  /** The barrier calls of `kind`, as member lists. */
  of(kind: ClusterLayer): string[][] {
    return this.calls.filter((c) => c.kind === kind).map((c) => c.members);
  }

  /** The last call of `kind`. */
  last(kind: ClusterLayer): BarrierCall {
    const c = this.calls.filter((x) => x.kind === kind).at(-1);
    if (!c) throw new Error(`no ${kind} barrier ran`);
    return c;
  }

  close(): void {}
  report(): never {
    throw new Error("not used by the coordinator");
  }
}

/** A MAAS that knows every machine as an address and no disks (all the coordinator reads). */
function fakeMaas(): MaasPort {
  const maas = new FakeMaas() satisfies MaasPort;
  // Any machine asked for is one with that hostname and an address.
  maas.before = (op, args) => {
    const systemId = args[0] as string;
    if (op === "readMachine" && !maas.machines.has(systemId)) maas.add({ system_id: systemId, hostname: systemId, ip_addresses: ["10.0.0.1"] });
  };
  return maas;
}

/** A `layer()` call whose outcome the test reads when it wants. */
interface Attempt {
  state: "pending" | "done" | "failed";
  error: unknown;
}

function setup(roles: Record<string, readonly string[]>) {
  const engine = new FakeEngine();
  const roleMap = new Map(Object.entries(roles));
  const c = new LayerCoordinator({ layering: engine, maas: fakeMaas(), logger: silentLogger(), roles: roleMap });
  const layer = (systemId: string, signal?: AbortSignal): Attempt => {
    const a: Attempt = { state: "pending", error: undefined };
    c.layer({ systemId, hostname: systemId, roles: roleMap.get(systemId) ?? [] }, signal).then(
      () => (a.state = "done"),
      (e: unknown) => {
        a.state = "failed";
        a.error = e;
      },
    );
    return a;
  };
  const start = (...ids: string[]) => ids.forEach((id) => c.started(id));
  return { engine, c, layer, start };
}

/** Lets every promise chain and queued decision of the coordinator run. */
const settle = () => new Promise<void>((r) => setTimeout(r, 0));

describe("layer coordinator: barriers wait only for the members in flight", () => {
  it("forms a cluster once every member in flight has arrived, over exactly those members", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"], s2: ["storage"], s3: ["storage"] });
    start("s1", "s2", "s3");
    const a1 = layer("s1");
    const a2 = layer("s2");
    await settle();
    expect(engine.of("storage")).toEqual([]);
    const a3 = layer("s3");
    await settle();
    expect(engine.of("storage")).toEqual([["s1", "s2", "s3"]]);
    expect(engine.layered).toEqual([]);
    engine.last("storage").ok();
    await settle();
    expect([a1.state, a2.state, a3.state]).toEqual(["done", "done", "done"]);
    expect(engine.layered.sort()).toEqual(["s1", "s2", "s3"]);
  });

  it("does not wait for a member of a later wave (planned, not started)", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"], s2: ["storage"], s3: ["storage"] });
    start("s1", "s2");
    layer("s1");
    layer("s2");
    await settle();
    expect(engine.of("storage")).toEqual([["s1", "s2"]]);
  });

  it("counts a host as arrived when it enters layering, before it holds a layering slot", async () => {
    const { engine, c, layer, start } = setup({ s1: ["storage"], s2: ["storage"] });
    start("s1", "s2");
    // s1 entered its layering phase but waits for a slot: its layer() has not been called.
    c.arrive("s1");
    const a2 = layer("s2");
    await settle();
    expect(engine.of("storage")).toEqual([["s1", "s2"]]);
    engine.last("storage").ok();
    await settle();
    expect(a2.state).toBe("done");
    // Its slot comes later: it reads the outcome of the formation it was part of.
    const a1 = layer("s1");
    await settle();
    expect(a1.state).toBe("done");
    expect(engine.of("storage")).toHaveLength(1);
  });

  it("stops waiting for a member that settles before it arrives", async () => {
    const { engine, c, layer, start } = setup({ s1: ["storage"], s2: ["storage"] });
    start("s1", "s2");
    layer("s1");
    await settle();
    expect(engine.of("storage")).toEqual([]);
    c.settled("s2"); // its deploy failed for good
    await settle();
    expect(engine.of("storage")).toEqual([["s1"]]);
  });

  it("leaves a member that settles while it waits out of the formation", async () => {
    const { engine, c, layer, start } = setup({ j1: ["juju-controller"], c1: ["control"], c2: ["control"] });
    start("j1", "c1", "c2");
    layer("c1");
    layer("c2");
    await settle();
    // Kubernetes waits for the controller; meanwhile c2 times out and is quarantined.
    c.settled("c2");
    layer("j1");
    await settle();
    engine.last("juju-controller").ok();
    await settle();
    expect(engine.of("kubernetes")).toEqual([["c1"]]);
  });

  it("runs no barrier over hosts that all settled while waiting (an abort)", async () => {
    const { engine, c, layer, start } = setup({ s1: ["storage"], s2: ["storage"] });
    start("s1", "s2");
    layer("s1");
    await settle();
    c.settled("s1");
    c.settled("s2");
    await settle();
    expect(engine.calls).toEqual([]);
  });
});

describe("layer coordinator: later members join", () => {
  it("forms Ceph once: a storage host arriving later joins by scale-out in layerHost", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"], s2: ["storage"] });
    start("s1");
    layer("s1");
    await settle();
    engine.last("storage").ok();
    await settle();
    start("s2");
    const a2 = layer("s2");
    await settle();
    expect(engine.of("storage")).toEqual([["s1"]]);
    expect(a2.state).toBe("done");
    expect(engine.layered).toEqual(["s1", "s2"]);
  });

  it("forms Kubernetes and the control plane once: a control host arriving later joins by scale-out and finds the control plane up", async () => {
    const { engine, c, layer, start } = setup({ c1: ["control"], c2: ["control"], k1: ["compute"] });
    start("c1");
    const a1 = layer("c1");
    await settle();
    engine.last("kubernetes").ok();
    await settle();
    engine.last("control-plane").ok();
    await settle();
    expect(a1.state).toBe("done");
    c.settled("c1");
    start("c2", "k1");
    const a2 = layer("c2");
    const k = layer("k1");
    await settle();
    c.settled("c2");
    c.settled("k1");
    await settle();
    expect([a2.state, k.state]).toEqual(["done", "done"]);
    expect(engine.layered.sort()).toEqual(["c1", "c2", "k1"]);
    expect(engine.of("kubernetes")).toEqual([["c1"]]);
    // Hosts coming and going after it formed do not deploy it again.
    expect(engine.of("control-plane")).toEqual([["c1"]]);
  });

  it("re-forms the Juju controller over every member so far as later controllers arrive (HA grows), waiting for those in flight", async () => {
    const { engine, layer, start } = setup({ j1: ["juju-controller"], j2: ["juju-controller"], j3: ["juju-controller"] });
    start("j1");
    layer("j1");
    await settle();
    engine.last("juju-controller").ok();
    await settle();
    start("j2", "j3");
    const a2 = layer("j2");
    await settle();
    expect(engine.of("juju-controller")).toEqual([["j1"]]);
    layer("j3");
    await settle();
    expect(engine.of("juju-controller")).toEqual([["j1"], ["j1", "j2", "j3"]]);
    expect(a2.state).toBe("pending");
    engine.last("juju-controller").ok();
    await settle();
    expect(a2.state).toBe("done");
  });
});

describe("layer coordinator: dependencies", () => {
  it("forms Kubernetes only after the Juju controller formed", async () => {
    const { engine, layer, start } = setup({ j1: ["juju-controller"], c1: ["control"] });
    start("j1", "c1");
    layer("c1");
    await settle();
    expect(engine.of("kubernetes")).toEqual([]);
    layer("j1");
    await settle();
    expect(engine.of("kubernetes")).toEqual([]);
    engine.last("juju-controller").ok();
    await settle();
    expect(engine.of("kubernetes")).toEqual([["c1"]]);
  });

  it("does not hold Kubernetes for a controller host of a later wave: it forms, and the engine reports the missing controller", async () => {
    const { engine, layer, start } = setup({ j1: ["juju-controller"], c1: ["control"] });
    start("c1");
    layer("c1");
    await settle();
    expect(engine.of("kubernetes")).toEqual([["c1"]]);
  });

  it("does not hold Kubernetes for a controller that failed for good", async () => {
    const { engine, c, layer, start } = setup({ j1: ["juju-controller"], c1: ["control"] });
    start("j1", "c1");
    layer("c1");
    const j = layer("j1");
    await settle();
    engine.last("juju-controller").fail(new LayerError("LAYER_COMMAND_FAILED", { layer: "juju-controller", step: "bootstrap" }, "bootstrap failed"));
    await settle();
    expect(j.state).toBe("failed");
    expect(engine.of("kubernetes")).toEqual([]); // j1 retries: the controller may still form
    c.settled("j1"); // quarantined after its last attempt
    await settle();
    expect(engine.of("kubernetes")).toEqual([["c1"]]);
  });

  it("holds control hosts until the control plane is up; the control plane waits for Ceph while storage hosts are in flight", async () => {
    const { engine, layer, start } = setup({ c1: ["control"], s1: ["storage"], s2: ["storage"] });
    start("c1", "s1", "s2");
    const a = layer("c1");
    layer("s1");
    await settle();
    engine.last("kubernetes").ok();
    await settle();
    expect(engine.of("control-plane")).toEqual([]); // s2 is in flight and has not arrived
    layer("s2");
    await settle();
    expect(engine.of("control-plane")).toEqual([]); // Ceph is forming
    engine.last("storage").ok();
    await settle();
    expect(engine.of("control-plane")).toEqual([["c1"]]);
    expect(engine.layered).not.toContain("c1");
    expect(a.state).toBe("pending");
    engine.last("control-plane").ok();
    await settle();
    expect(a.state).toBe("done");
    expect(engine.layered).toContain("c1");
  });

  it("does not hold the control plane for storage hosts that have not started", async () => {
    const { engine, layer, start } = setup({ c1: ["control"], s1: ["storage"] });
    start("c1");
    layer("c1");
    await settle();
    engine.last("kubernetes").ok();
    await settle();
    expect(engine.of("control-plane")).toEqual([["c1"]]);
  });

  it("lets a compute host set the control plane going and wait for it in layerHost, not in the coordinator", async () => {
    const { engine, c, layer, start } = setup({ c1: ["control"], k1: ["compute"] });
    start("c1", "k1");
    c.arrive("c1"); // no slot yet: nobody asked for the control plane
    await settle();
    engine.last("kubernetes").ok();
    await settle();
    expect(engine.of("control-plane")).toEqual([]);
    const k = layer("k1");
    await settle();
    expect(engine.layered).toEqual(["k1"]);
    expect(k.state).toBe("done");
    expect(engine.of("control-plane")).toEqual([["c1"]]);
  });
});

describe("layer coordinator: failures", () => {
  it("fails the attempt of a host that failed its part while the others go on; its retry joins by scale-out", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"], s2: ["storage"] });
    start("s1", "s2");
    const a1 = layer("s1");
    const a2 = layer("s2");
    await settle();
    engine.last("storage").ok(["s2"]);
    await settle();
    expect(a1.state).toBe("done");
    expect(a2.state).toBe("failed");
    expect((a2.error as LayerError).systemId).toBe("s2");
    expect(engine.layered).toEqual(["s1"]);
    const retry = layer("s2");
    await settle();
    expect(retry.state).toBe("done");
    expect(engine.of("storage")).toHaveLength(1);
    expect(engine.layered).toEqual(["s1", "s2"]);
  });

  it("fails every host waiting on a cluster that cannot form, and forms it again on their retries", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"], s2: ["storage"] });
    start("s1", "s2");
    const a1 = layer("s1");
    const a2 = layer("s2");
    await settle();
    engine.last("storage").fail(new LayerError("LAYER_COMMAND_FAILED", { layer: "storage", step: "bootstrap" }, "bootstrap failed"));
    await settle();
    expect([a1.state, a2.state]).toEqual(["failed", "failed"]);
    const r1 = layer("s1");
    await settle();
    expect(engine.of("storage")).toHaveLength(1); // s2 is backing off: waited for, not left behind
    const r2 = layer("s2");
    await settle();
    expect(engine.of("storage")).toEqual([["s1", "s2"], ["s1", "s2"]]);
    engine.last("storage").ok();
    await settle();
    expect([r1.state, r2.state]).toEqual(["done", "done"]);
  });

  it("fails the control hosts waiting for a control plane that failed, and tries it again on their retry", async () => {
    const { engine, layer, start } = setup({ c1: ["control"] });
    start("c1");
    const a = layer("c1");
    await settle();
    engine.last("kubernetes").ok();
    await settle();
    engine.last("control-plane").fail(new LayerError("LAYER_NOT_READY", { layer: "control-plane", step: "waitActive" }, "applications not active"));
    await settle();
    expect(a.state).toBe("failed");
    expect(engine.layered).toEqual([]);
    const retry = layer("c1");
    await settle();
    expect(engine.of("control-plane")).toHaveLength(2);
    engine.last("control-plane").ok();
    await settle();
    expect(retry.state).toBe("done");
    expect(engine.of("kubernetes")).toHaveLength(1);
  });
});

describe("layer coordinator: an attempt that ends while it waits (its signal aborts)", () => {
  function expectStopped(a: Attempt, systemId: string): void {
    expect(a.state).toBe("failed");
    expect(a.error).toBeInstanceOf(LayerError);
    expect((a.error as LayerError).code).toBe("LAYER_STOPPED");
    expect((a.error as LayerError).systemId).toBe(systemId);
  }

  it("stops waiting at once and leaves the formation, which does not wait for its retry; the retry joins by scale-out", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"], s2: ["storage"], s3: ["storage"] });
    start("s1", "s2", "s3");
    const attempt = new AbortController();
    const a1 = layer("s1", attempt.signal);
    const a2 = layer("s2");
    await settle();
    expect(engine.of("storage")).toEqual([]); // s3 is still coming
    attempt.abort(); // s1's layering attempt timed out
    await settle();
    expectStopped(a1, "s1");
    // s1 is still in flight (backing off before its retry), yet the cluster forms once the
    // others are in, without it.
    const a3 = layer("s3");
    await settle();
    expect(engine.of("storage")).toEqual([["s2", "s3"]]);
    engine.last("storage").ok();
    await settle();
    expect([a2.state, a3.state]).toEqual(["done", "done"]);
    const retry = layer("s1", new AbortController().signal);
    await settle();
    expect(retry.state).toBe("done");
    expect(engine.of("storage")).toHaveLength(1);
    expect(engine.layered).toEqual(["s2", "s3", "s1"]);
  });

  it("lets a retry that comes while the aborted attempt's formation runs wait for that formation, not form again", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"] });
    start("s1");
    const attempt = new AbortController();
    const a1 = layer("s1", attempt.signal);
    await settle();
    expect(engine.of("storage")).toEqual([["s1"]]);
    attempt.abort();
    await settle();
    expectStopped(a1, "s1");
    const retry = layer("s1", new AbortController().signal);
    await settle();
    expect(retry.state).toBe("pending");
    engine.last("storage").ok();
    await settle();
    expect(retry.state).toBe("done");
    expect(engine.of("storage")).toHaveLength(1);
    expect(engine.layered).toEqual(["s1"]);
  });

  it("lets an attempt that replaces an aborted one in the same turn (RESTORED re-entering the layering state) wait for a live formation", async () => {
    // After kill -9 a restored host re-enters its layering state on RESTORED: XState stops
    // the invoke it had (its signal aborts) and starts a new one at once, in the same turn.
    const { engine, layer, start } = setup({ j0: ["juju-controller"], j1: ["juju-controller"], j2: ["juju-controller"] });
    start("j0", "j1", "j2");
    const first = new AbortController();
    layer("j1", first.signal);
    first.abort();
    const again = layer("j1", new AbortController().signal);
    const others = [layer("j0"), layer("j2")];
    await settle();
    expect(engine.of("juju-controller")).toEqual([["j1", "j0", "j2"]]);
    engine.last("juju-controller").ok();
    await settle();
    expect([again.state, ...others.map((a) => a.state)]).toEqual(["done", "done", "done"]);
    expect(engine.layered.sort()).toEqual(["j0", "j1", "j2"]);
  });

  it("ends a control host's wait for the control plane at once, before any layer work", async () => {
    const { engine, layer, start } = setup({ c1: ["control"] });
    start("c1");
    const attempt = new AbortController();
    const a = layer("c1", attempt.signal);
    await settle();
    engine.last("kubernetes").ok();
    await settle();
    expect(engine.of("control-plane")).toEqual([["c1"]]);
    attempt.abort();
    await settle();
    expectStopped(a, "c1");
    expect(engine.layered).toEqual([]);
  });

  it("hands the attempt's signal to the engine's layerHost, so the engine stops the host's work with it", async () => {
    const { engine, layer, start } = setup({ s1: ["storage"] });
    start("s1");
    const attempt = new AbortController();
    const a = layer("s1", attempt.signal);
    await settle();
    engine.last("storage").ok();
    await settle();
    expect(a.state).toBe("done");
    expect(engine.signals).toEqual([attempt.signal]);
  });
});

describe("layer coordinator: restored and resumed hosts", () => {
  it("re-runs each barrier over the hosts in service, then lets restored hosts find their clusters: Kubernetes members join, the controller re-forms with them", async () => {
    const { engine, c, layer } = setup({ j1: ["juju-controller"], j2: ["juju-controller"], c1: ["control"], c2: ["control"], s1: ["storage"] });
    engine.auto = { failKinds: [] };
    await c.recover(["j1", "c1", "s1"]);
    await settle();
    expect(engine.calls.map((x) => [x.kind, x.members])).toEqual([
      ["juju-controller", ["j1"]],
      ["kubernetes", ["c1"]],
      ["storage", ["s1"]],
      ["control-plane", ["c1"]],
    ]);
    // The restored hosts were in their layering phase when the process stopped.
    c.started("j2");
    c.arrive("j2");
    c.started("c2");
    c.arrive("c2");
    const j = layer("j2");
    const k = layer("c2");
    await settle();
    expect([j.state, k.state]).toEqual(["done", "done"]);
    expect(engine.of("juju-controller")).toEqual([["j1"], ["j1", "j2"]]);
    expect(engine.of("kubernetes")).toEqual([["c1"]]);
    expect(engine.of("control-plane")).toHaveLength(1);
    expect(engine.layered.sort()).toEqual(["c2", "j2"]);
  });

  it("waits for every host restored in the same turn before forming a cluster none of them had formed", async () => {
    const { engine, c } = setup({ s1: ["storage"], s2: ["storage"] });
    // The runner restores its hosts one after another in one turn: started, then arrived if layering.
    c.started("s1");
    c.arrive("s1");
    c.started("s2");
    c.arrive("s2");
    await settle();
    expect(engine.of("storage")).toEqual([["s1", "s2"]]);
  });

  it("goes on re-checking the other barriers when one fails, and keeps its hosts in service in the next formation", async () => {
    const { engine, c, layer, start } = setup({ j1: ["juju-controller"], j2: ["juju-controller"], s1: ["storage"] });
    engine.auto = { failKinds: ["juju-controller"] };
    await expect(c.recover(["j1", "s1"])).rejects.toThrow(/cannot use SSH/);
    expect(engine.of("storage")).toEqual([["s1"]]);
    // A controller arriving later forms with the one in service (first: it holds the controller), not alone.
    engine.auto = undefined;
    start("j2");
    layer("j2");
    await settle();
    expect(engine.of("juju-controller")).toEqual([["j1"], ["j1", "j2"]]);
  });
});
