/**
 * Closing the layer engine when the run that used it has ended: the waits in progress
 * (the control plane's `juju status` polling, a step's backoff, a compute host waiting
 * for the control plane) end at once with LAYER_STOPPED, and no command reaches the SSH
 * port afterwards — so nothing runs on a port its owner closes next. A fake port answers
 * the commands of a one-host cloud and records when each was sent. Also: the Kubernetes
 * barrier run before any Juju controller formed (the coordinator lets it run when no
 * controller can form any more) fails before touching a host.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { createLayering, LayerError, type KubePort, type Layering, type LayerHost } from "../../src/layers/index.ts";
import type { ExecOptions, ExecResult, SshPort, SshTarget } from "../../src/ssh/port.ts";
import { SshError } from "../../src/ssh/errors.ts";
import { silentLogger } from "../../src/log.ts";

const juju: LayerHost = { systemId: "j1", hostname: "juju-1", address: "10.0.0.1", roles: ["juju-controller"], cephDisks: [] };
const control: LayerHost = { systemId: "c1", hostname: "ctl-1", address: "10.0.0.2", roles: ["control"], cephDisks: [] };
const compute: LayerHost = { systemId: "k1", hostname: "cmp-1", address: "10.0.0.3", roles: ["compute"], cephDisks: [] };
const storage: LayerHost = { systemId: "s1", hostname: "sto-1", address: "10.0.0.4", roles: ["storage"], cephDisks: [] };

/** The real control-plane template with one application and no integrations. */
function controlPlaneTemplate(): string {
  const doc = parse(readFileSync(fileURLToPath(new URL("../../templates/layers/control-plane.yaml", import.meta.url)), "utf8")) as Record<string, unknown>;
  return stringify({ ...doc, applications: [{ app: "mysql", charm: "mysql-k8s", channel: "8.0/stable", kind: "single" }], integrations: [] });
}

/** Answers a one-host cloud's commands as the SSH port would; the control plane's application never turns active. */
class FakePort implements SshPort {
  readonly sent: { command: string; afterClose: boolean }[] = [];
  engineClosed = false;
  /** Commands matching this are held until `release()`. */
  hold: RegExp | undefined;
  private held: (() => void)[] = [];
  /** Commands matching this exit 1. */
  failing: RegExp | undefined;

  async exec(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.sent.push({ command, afterClose: this.engineClosed });
    if (this.hold?.test(command)) await new Promise<void>((r) => this.held.push(r));
    if (this.failing?.test(command)) {
      if (opts.allowNonZero) return this.answer(1, "");
      throw new SshError("SSH_EXIT", { systemId: target.systemId, hostname: target.hostname, command, exitCode: 1 }, "exited with status 1");
    }
    if (command.startsWith("juju show-controller")) return this.answer(0, JSON.stringify({ metalwave: { "controller-machines": { "0": { "instance-id": "manual:10.0.0.1", "ha-status": "ha-enabled" } } } }));
    if (command.startsWith("juju clouds")) return this.answer(0, JSON.stringify({ "metalwave-k8s": {} }));
    if (command.startsWith("juju models")) return this.answer(0, JSON.stringify({ models: [{ "short-name": "openstack" }] }));
    if (command.startsWith("juju status")) return this.answer(0, JSON.stringify({ applications: { mysql: { scale: 1, "application-status": { current: "waiting" } } } }));
    if (command.startsWith("k8s config")) return this.answer(0, "apiVersion: v1");
    return this.answer(0, "");
  }

  private answer(exitCode: number, stdout: string): ExecResult {
    return { exitCode, stdout, stderr: "" };
  }

  release(): void {
    for (const r of this.held.splice(0)) r();
  }

  count(prefix: string): number {
    return this.sent.filter((s) => s.command.startsWith(prefix)).length;
  }

  async noteDeployed(): Promise<void> {}
  async close(): Promise<void> {}
}

const kube: KubePort = {
  listNodes: async () => [{ name: "ctl-1", ready: true, labels: { "openstack-control-plane": "enabled", openvswitch: "enabled" } }],
  labelNode: async () => undefined,
};

function engine(port: FakePort, over: { sleep?: (ms: number) => Promise<void>; backoffMs?: number } = {}): Layering {
  return createLayering({
    ssh: port,
    logger: silentLogger(),
    kube: () => kube,
    templates: { "control-plane": controlPlaneTemplate() },
    policy: { attempts: 3, backoffMs: over.backoffMs ?? 0, commandTimeoutMs: 5000 },
    pollMs: 0,
    ...(over.sleep ? { sleep: over.sleep } : {}),
  });
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await tick();
  if (!cond()) throw new Error(`never happened: ${what}`);
}

function closeBoth(e: Layering, port: FakePort): void {
  e.close();
  port.engineClosed = true;
}

describe("closing the layer engine", () => {
  it("ends the control plane's juju status polling at once, and sends no command after", async () => {
    const port = new FakePort();
    const e = engine(port, { sleep: tick });
    await e.clusterBarrier("juju-controller", [juju]);
    await e.clusterBarrier("kubernetes", [control]);
    const deploying = e.clusterBarrier("control-plane", [control]).catch((x: unknown) => x);
    const waiting = e.whenControlPlaneReady().catch((x: unknown) => x);
    // The application never turns active: the engine polls `juju status`.
    await until("polling", () => port.count("juju status") > 5);
    closeBoth(e, port);
    const err = await deploying;
    expect(err).toBeInstanceOf(LayerError);
    expect((err as LayerError).code).toBe("LAYER_STOPPED");
    expect(((await waiting) as LayerError).code).toBe("LAYER_STOPPED");
    await tick();
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
  });

  it("ends a step's backoff at once (its timer too) without sending the step again", async () => {
    const port = new FakePort();
    port.failing = /^snap (list|install) microceph/;
    // The default sleep with an hour's backoff: were it not ended, the test would time out.
    const e = engine(port, { backoffMs: 3_600_000 });
    const layering = e.layerHost(storage).catch((x: unknown) => x);
    await until("the first attempt failed", () => port.count("snap install microceph") === 1);
    await tick(); // into the backoff
    closeBoth(e, port);
    expect(((await layering) as LayerError).code).toBe("LAYER_STOPPED");
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
  });

  it("lets a command in flight end but sends nothing after it; a compute host waiting for the control plane stops waiting", async () => {
    const port = new FakePort();
    port.hold = /^snap list k8s/;
    const e = engine(port, { sleep: tick });
    const computeWaits = e.layerHost(compute).catch((x: unknown) => x);
    const installing = e.layerHost(control).catch((x: unknown) => x);
    await until("the check is running", () => port.count("snap list k8s") === 1);
    closeBoth(e, port);
    expect(((await computeWaits) as LayerError).code).toBe("LAYER_STOPPED");
    port.failing = /^snap list k8s/; // "not installed": the step would install it next
    port.release();
    expect(((await installing) as LayerError).code).toBe("LAYER_STOPPED");
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
    // Later calls send nothing either.
    for (const call of [() => e.clusterBarrier("storage", [storage]), () => e.layerHost(storage), () => e.report()]) {
      expect(((await call().catch((x: unknown) => x)) as LayerError).code).toBe("LAYER_STOPPED");
    }
    expect(port.sent.filter((s) => s.afterClose)).toEqual([]);
  });
});

describe("the Kubernetes barrier without a Juju controller", () => {
  it("fails with LAYER_PRECONDITION before sending any command (it could not register the cluster)", async () => {
    const port = new FakePort();
    const e = engine(port, { sleep: tick });
    const err = await e.clusterBarrier("kubernetes", [control]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(LayerError);
    expect((err as LayerError).code).toBe("LAYER_PRECONDITION");
    expect(port.sent).toEqual([]);
  });
});
