/**
 * Closing the layer engine when the run that used it has ended: the waits in progress
 * (a unit's status polling, a step's backoff, a compute host waiting for the control plane)
 * end at once with LAYER_STOPPED, and no command reaches the SSH port afterwards, so nothing
 * runs on a port its owner closes next. A recording port in front of the simulated fleet notes
 * when each command was sent. Also: the Kubernetes barrier run before any Juju controller
 * formed fails before touching a host.
 */
import { afterEach, describe, expect, it } from "vitest";
import { LayerError, type Layering } from "../../src/layers/index.ts";
import type { ExecOptions, ExecResult, SshPort, SshTarget } from "../../src/ssh/port.ts";
import { FAST_JUJU, startLayerFleet, tick, type LayerFleet } from "./helpers.ts";
import { until } from "../fakes/until.ts";

/** The fleet's port, recording each command and whether the engine was closed when it was sent; can hold or block commands. */
class RecordingPort implements SshPort {
  readonly sent: { command: string; afterClose: boolean }[] = [];
  engineClosed = false;
  /** Commands matching this are held until `release()`. */
  hold: RegExp | undefined;
  private held: (() => void)[] = [];
  /** The microceph unit shows blocked in `juju status` of the machine model: its wait never ends. */
  blockMicroceph = false;
  private readonly inner: SshPort;

  constructor(inner: SshPort) {
    this.inner = inner;
  }

  async exec(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.sent.push({ command, afterClose: this.engineClosed });
    if (this.hold?.test(command)) await new Promise<void>((r) => this.held.push(r));
    const r = await this.inner.exec(target, command, opts);
    if (!this.blockMicroceph || !/juju status -m \S+:openstack-machines/.test(command)) return r;
    const st = JSON.parse(r.stdout) as { applications?: Record<string, { units?: Record<string, { "workload-status"?: unknown }> }> };
    for (const u of Object.values(st.applications?.["microceph"]?.units ?? {})) u["workload-status"] = { current: "blocked", message: "(ceph) held by the test" };
    return { ...r, stdout: JSON.stringify(st) };
  }

  release(): void {
    for (const r of this.held.splice(0)) r();
  }

  count(re: RegExp): number {
    return this.sent.filter((s) => re.test(s.command)).length;
  }

  noteDeployed(id: string): Promise<void> {
    return this.inner.noteDeployed(id);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function closeBoth(e: Layering, port: RecordingPort): void {
  e.close();
  port.engineClosed = true;
}

const fleet = [
  { prefix: "juju", count: 1, tags: ["juju-controller"] },
  { prefix: "sto", count: 1, tags: ["storage"] },
  { prefix: "cmp", count: 1, tags: ["compute"] },
];

let lf: LayerFleet | undefined;
afterEach(async () => {
  await lf?.f.close();
  lf = undefined;
});

describe("closing the layer engine", { timeout: 120_000 }, () => {
  it("ends a unit's status polling at once, and sends no command after", async () => {
    lf = await startLayerFleet(FAST_JUJU, fleet);
    const port = new RecordingPort(lf.f.ssh());
    port.blockMicroceph = true;
    const e = lf.layering({ ssh: port });
    await e.clusterBarrier("juju-controller", lf.hosts.juju);
    const forming = e.clusterBarrier("storage", lf.hosts.storage).catch((x: unknown) => x);
    const waiting = e.whenControlPlaneReady().catch((x: unknown) => x);
    // The unit never turns active: the engine polls `juju status`.
    const polls = port.count(/juju status/);
    await until("polling", () => port.count(/juju status/) > polls + 5);
    closeBoth(e, port);
    const err = await forming;
    expect(err).toBeInstanceOf(LayerError);
    expect((err as LayerError).code).toBe("LAYER_STOPPED");
    expect(((await waiting) as LayerError).code).toBe("LAYER_STOPPED");
    await tick();
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
  });

  it("ends a step's backoff at once (its timer too) without sending the step again", async () => {
    lf = await startLayerFleet({ ...FAST_JUJU, faults: "fail=1:match=juju add-machine" }, fleet);
    const port = new RecordingPort(lf.f.ssh());
    // The default sleep with an hour's backoff: were it not ended, the test would time out.
    const e = lf.layering({ ssh: port, sleep: undefined, policy: { attempts: 3, backoffMs: 3_600_000, commandTimeoutMs: 5000 } });
    await e.clusterBarrier("juju-controller", lf.hosts.juju);
    const forming = e.clusterBarrier("storage", lf.hosts.storage).catch((x: unknown) => x);
    await until("the first attempt failed", () => port.count(/juju add-machine/) === 1);
    await new Promise((r) => setTimeout(r, 50)); // into the backoff
    closeBoth(e, port);
    expect(((await forming) as LayerError).code).toBe("LAYER_STOPPED");
    expect(port.count(/juju add-machine/)).toBe(1);
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
  });

  it("lets a command in flight end but sends nothing after it; a compute host waiting for the control plane stops waiting; later calls send nothing", async () => {
    lf = await startLayerFleet(FAST_JUJU, fleet);
    const port = new RecordingPort(lf.f.ssh());
    const e = lf.layering({ ssh: port });
    await e.clusterBarrier("juju-controller", lf.hosts.juju);
    port.hold = /juju add-machine/;
    const computeWaits = e.layerHost(lf.hosts.compute[0]!).catch((x: unknown) => x);
    const forming = e.clusterBarrier("storage", lf.hosts.storage).catch((x: unknown) => x);
    await until("the add-machine is running", () => port.count(/juju add-machine/) === 1);
    closeBoth(e, port);
    expect(((await computeWaits) as LayerError).code).toBe("LAYER_STOPPED");
    port.release();
    expect(((await forming) as LayerError).code).toBe("LAYER_STOPPED");
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
    for (const call of [() => e.clusterBarrier("storage", lf!.hosts.storage), () => e.layerHost(lf!.hosts.storage[0]!), () => e.report()]) {
      expect(((await call().catch((x: unknown) => x)) as LayerError).code).toBe("LAYER_STOPPED");
    }
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
  });
});

describe("the Kubernetes barrier without a Juju controller", () => {
  it("fails with LAYER_PRECONDITION before sending any command (it could not enlist the hosts)", async () => {
    lf = await startLayerFleet(FAST_JUJU, [{ prefix: "ctl", count: 1, tags: ["control"] }]);
    const port = new RecordingPort(lf.f.ssh());
    const e = lf.layering({ ssh: port });
    const err = await e.clusterBarrier("kubernetes", lf.hosts.control).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(LayerError);
    expect((err as LayerError).code).toBe("LAYER_PRECONDITION");
    expect(port.sent).toEqual([]);
  }, 60_000);
});
