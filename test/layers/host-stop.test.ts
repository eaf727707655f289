/**
 * Stopping one host's layer work (`layerHost(host, { signal })`) when its layering attempt
 * ends (the host machine's timeout, an abort): from the abort on, no command is sent on
 * its behalf (to the host itself nor to the juju client machine for it), a command
 * already running ends but nothing follows it, and its waits (a step's backoff, the
 * control plane) end at once with LAYER_STOPPED. The rest of the engine goes on: a retry
 * of the same host runs alone, other hosts keep waiting. A fake port keeps a small model
 * of the hosts (snaps, Kubernetes membership) and records every command in order.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FAST_JUJU, startLayerFleet, type LayerFleet } from "./helpers.ts";
import { createLayering, LayerError, type KubePort, type Layering, type LayerHost } from "../../src/layers/index.ts";
import type { ExecOptions, ExecResult, SshPort, SshTarget } from "../../src/ssh/port.ts";
import { SshError } from "../../src/ssh/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { until } from "../fakes/until.ts";

const host = (systemId: string, hostname: string, roles: string[]): LayerHost => ({ systemId, hostname, address: `10.0.0.${systemId.slice(1)}`, roles, cephDisks: [] });
const sto1 = host("s1", "sto-1", ["storage"]);
const cmp1 = host("k1", "cmp-1", ["compute"]);
const cmp2 = host("k2", "cmp-2", ["compute"]);

interface Sent {
  hostname: string;
  command: string;
}

/** Snaps and Kubernetes membership per host; `hold` keeps the next matching command running, answered as of when it was sent. */
class ModelPort implements SshPort {
  readonly sent: Sent[] = [];
  private readonly snaps = new Map<string, Set<string>>();
  private readonly k8sMembers = new Set<string>();
  hold: { hostname: string; command: RegExp } | undefined;
  private release: (() => void) | undefined;
  /** Commands matching this exit 1. */
  failing: RegExp | undefined;

  async exec(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.sent.push({ hostname: target.hostname, command });
    const r = this.answer(target, command);
    if (this.hold && this.hold.hostname === target.hostname && this.hold.command.test(command)) {
      this.hold = undefined;
      await new Promise<void>((resolve) => (this.release = resolve));
    }
    if (r.exitCode !== 0 && !opts.allowNonZero) throw new SshError("SSH_EXIT", { systemId: target.systemId, hostname: target.hostname, command, exitCode: r.exitCode }, `exited with status ${r.exitCode}`);
    return r;
  }

  /** Lets the held command end. */
  releaseHeld(): void {
    this.release?.();
    this.release = undefined;
  }

  get holding(): boolean {
    return this.release !== undefined;
  }

  private answer(target: SshTarget, command: string): ExecResult {
    const ok = (stdout = ""): ExecResult => ({ exitCode: 0, stdout, stderr: "" });
    const fail: ExecResult = { exitCode: 1, stdout: "", stderr: "" };
    if (this.failing?.test(command)) return fail;
    const snaps = this.snaps.get(target.hostname) ?? new Set<string>();
    this.snaps.set(target.hostname, snaps);
    const [a, b, c] = command.split(" ");
    if (a === "snap" && b === "list") return snaps.has(c ?? "") ? ok() : fail;
    if (a === "snap" && b === "install") {
      snaps.add(c ?? "");
      return ok();
    }
    if (command === "k8s status") return this.k8sMembers.has(target.hostname) ? ok() : fail;
    if (a === "k8s" && (b === "bootstrap" || b === "join-cluster")) {
      this.k8sMembers.add(target.hostname);
      return ok();
    }
    if (a === "k8s" && b === "get-join-token") return ok(`token-for-${c ?? ""}`);
    if (command.startsWith("k8s config")) return ok("apiVersion: v1");
    if (command.startsWith("juju show-controller")) return ok(JSON.stringify({ metalwave: { "controller-machines": { "0": { "instance-id": "manual:10.0.0.1", "ha-status": "ha-enabled" } } } }));
    if (command.startsWith("juju clouds")) return ok(JSON.stringify({ "metalwave-k8s": {} }));
    return ok();
  }

  async noteDeployed(): Promise<void> {}
  async close(): Promise<void> {}
}

const kube: KubePort = {
  listNodes: async () =>
    ["ctl-1", "ctl-2"].map((name) => ({ name, ready: true, labels: { "openstack-control-plane": "enabled", openvswitch: "enabled" } })),
  labelNode: async () => undefined,
};

function engine(port: ModelPort, over: { backoffMs?: number; defaultSleep?: boolean } = {}): Layering {
  return createLayering({
    ssh: port,
    logger: silentLogger(),
    kube: () => kube,
    policy: { attempts: 3, backoffMs: over.backoffMs ?? 0, commandTimeoutMs: 5000 },
    pollMs: 0,
    ...(over.defaultSleep ? {} : { sleep: tick }),
  });
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

/** The fleet's port, recording every command; `hold` keeps the next matching one from running until released. */
class HoldingPort implements SshPort {
  readonly sent: string[] = [];
  hold: RegExp | undefined;
  private release: (() => void) | undefined;
  private readonly inner: SshPort;
  constructor(inner: SshPort) {
    this.inner = inner;
  }
  async exec(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.sent.push(command);
    if (this.hold?.test(command)) {
      this.hold = undefined;
      await new Promise<void>((resolve) => (this.release = resolve));
    }
    return this.inner.exec(target, command, opts);
  }
  releaseHeld(): void {
    this.release?.();
    this.release = undefined;
  }
  get holding(): boolean {
    return this.release !== undefined;
  }
  noteDeployed(id: string): Promise<void> {
    return this.inner.noteDeployed(id);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** How `p` ended within a few turns of the event loop: its value or error, or "pending". */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  const pending = Symbol("pending");
  const r = await Promise.race([p.then((v) => v ?? "done", (e: unknown) => e), (async () => {
    for (let i = 0; i < 20; i++) await tick();
    return pending;
  })()]);
  return r === pending ? "pending" : r;
}

function expectStopped(e: unknown, h: LayerHost): void {
  expect(e).toBeInstanceOf(LayerError);
  expect((e as LayerError).code).toBe("LAYER_STOPPED");
  expect((e as LayerError).systemId).toBe(h.systemId);
}

describe("stopping one host's layer work on the simulated fleet", { timeout: 120_000 }, () => {
  let lf: LayerFleet | undefined;
  afterEach(async () => {
    await lf?.f.close();
    lf = undefined;
  });

  it("sends nothing more for the host once its signal aborts (its command in flight ends, nothing follows), and its retry then runs alone", async () => {
    lf = await startLayerFleet(FAST_JUJU, [
      { prefix: "juju", count: 1, tags: ["juju-controller"] },
      { prefix: "ctl", count: 2, tags: ["control"] },
    ]);
    const port = new HoldingPort(lf.f.ssh());
    const e = lf.layering({ ssh: port });
    const [c1, c2] = lf.hosts.control as [LayerHost, LayerHost];
    await e.clusterBarrier("juju-controller", lf.hosts.juju);
    await e.clusterBarrier("kubernetes", [c1]);
    // ctl-2 arrives after the cluster formed: its layerHost enlists it and adds its units (scale-out).
    // Its manual provisioning is running when the attempt ends.
    port.hold = new RegExp(`juju add-machine .*ssh:ubuntu@${c2.address.replace(/\./g, "\\.")}$`);
    const first = new AbortController();
    const attempt1 = e.layerHost(c2, { signal: first.signal }).catch((x: unknown) => x);
    await until("the add-machine runs", () => port.holding);
    first.abort();
    const mark = port.sent.length;
    port.releaseHeld();
    expectStopped(await attempt1, c2);
    await new Promise((r) => setTimeout(r, 100));
    expect(port.sent.slice(mark)).toEqual([]);
    // The host machine's retry: a fresh attempt with its own signal finds the machine added and goes on alone.
    await e.layerHost(c2, { signal: new AbortController().signal });
    expect(port.sent.slice(mark).filter((c) => /juju add-machine/.test(c))).toEqual([]);
    expect(lf.f.hosts.cloud.kube.nodes.has(c2.hostname)).toBe(true);
  });

  it("ends the host's backoff at once (the default sleep's timer too), without sending the step again", async () => {
    lf = await startLayerFleet({ ...FAST_JUJU, faults: "fail=1:match=snap install juju" }, [{ prefix: "juju", count: 1, tags: ["juju-controller"] }]);
    const port = new HoldingPort(lf.f.ssh());
    // An hour's backoff with the default sleep: were it not ended, the test would time out.
    const e = lf.layering({ ssh: port, sleep: undefined, policy: { attempts: 3, backoffMs: 3_600_000, commandTimeoutMs: 5000 } });
    const h = lf.hosts.juju[0]!;
    const signal = new AbortController();
    const layering = e.layerHost(h, { signal: signal.signal }).catch((x: unknown) => x);
    await until("the first attempt failed", () => port.sent.some((c) => c.startsWith("snap install juju")));
    await new Promise((r) => setTimeout(r, 50)); // into the backoff
    const mark = port.sent.length;
    signal.abort();
    expectStopped(await layering, h);
    expect(port.sent.slice(mark)).toEqual([]);
  });
});

describe("stopping one host's layer work", () => {
  it("ends a compute host's wait for the control plane at once; other hosts' work goes on", async () => {
    const port = new ModelPort();
    const e = engine(port);
    const signal = new AbortController();
    const stopped = e.layerHost(cmp1, { signal: signal.signal });
    const other = e.layerHost(cmp2);
    const otherAborted = e.layerHost(cmp2, { signal: new AbortController().signal });
    expect(await outcome(stopped)).toBe("pending");
    signal.abort();
    expectStopped(await outcome(stopped), cmp1);
    // Not a close: the other compute hosts still wait for the control plane.
    expect(await outcome(other)).toBe("pending");
    expect(await outcome(otherAborted)).toBe("pending");
    expect(await outcome(e.whenControlPlaneReady())).toBe("pending");
    expect(port.sent).toEqual([]);
  });

  it("sends nothing for a host whose signal aborted before its work began", async () => {
    const port = new ModelPort();
    const e = engine(port);
    const signal = new AbortController();
    signal.abort();
    expectStopped(await e.layerHost(sto1, { signal: signal.signal }).catch((x: unknown) => x), sto1);
    expect(port.sent).toEqual([]);
  });
});
