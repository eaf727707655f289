/**
 * A remediation pass that meets a refused re-provisioning (the removal from Juju refuses before
 * it changes anything: a database or queue pod on a control host's node, and a pass never
 * forces): the host is reported refused and left as it is (Deployed, not released, not marked
 * Broken), the pass goes on with the other hosts, and the refusal is no attempt toward the cap:
 * a pass after `maxAttempts` refusals still hands no role to a spare.
 *
 * The layers are a small engine fake (barriers and per-host layers done at once, `leaveHost`
 * refusing for one host as src/layers/drain.ts does): what is checked is the pass and the host
 * machine, not the layers (test/layers/removal-control.test.ts drives the real refusal).
 */
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { LAYERED_14, layeredRigPerTest, simClient, simDeps } from "./sim-client.ts";
import { openStore } from "../../src/store/index.ts";
import { RolloutRunner, type RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import { remediate } from "../../src/runtime/remediation.ts";
import { parseConfig, type Config } from "../../src/config.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { LayerError } from "../../src/layers/errors.ts";
import type { Layering } from "../../src/layers/layering.ts";
import type { SshPort } from "../../src/ssh/port.ts";

const rig = layeredRigPerTest();

const config: Config = parseConfig({
  rollout: { backoffMs: { base: 1, max: 5 }, maxAttempts: { deploy: 1 } },
  layers: { enabled: false },
  remediation: { maxAttempts: 1, coolDownMs: 0, maxAtOnce: 5, haltWhenUnhealthy: "50%", healthChecks: false },
});

/** Layers done at once; leaving Juju refused for the hosts in `refuse`, as the guarded-pods check refuses. */
function fakeLayers(refuse: Set<string>): { engine: Layering; ssh: SshPort; left: string[] } {
  const left: string[] = [];
  const engine: Layering = {
    clusterBarrier: async (kind, hosts) => ({ kind, ready: hosts.map((h) => h.systemId), failed: [] }),
    layerHost: async () => undefined,
    leaveHost: async (host) => {
      if (refuse.has(host.systemId)) {
        throw new LayerError("LAYER_REFUSED", { layer: "removal", step: "guardedPods", systemId: host.systemId, hostname: host.hostname }, `${host.hostname}'s Kubernetes node runs openstack/mysql-0 (mysql-k8s / rabbitmq-k8s): refused and left as it is; to go on anyway: metalwave reprovision --force ${host.hostname}`);
      }
      left.push(host.systemId);
      return { machine: undefined, forced: false, removed: [] };
    },
    report: async () => ({}) as Awaited<ReturnType<Layering["report"]>>,
    whenControlPlaneReady: async () => ({}) as Awaited<ReturnType<Layering["whenControlPlaneReady"]>>,
    close: () => undefined,
  };
  const ssh: SshPort = {
    exec: async () => {
      throw new Error("no SSH in this test");
    },
    noteDeployed: async () => undefined,
    close: async () => undefined,
  };
  return { engine, ssh, left };
}

describe("remediation meeting a refused re-provisioning", () => {
  it("reports the host refused, leaves it as it is, goes on with the others, and counts no attempt toward the cap", async () => {
    const sim = (rig.sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11 }));
    const maas = simClient(sim);
    const store = (rig.store = openStore(":memory:"));
    const layers = fakeLayers(new Set());
    const deps: RunnerDeps = { ...simDeps(maas, store, config), layering: layers };
    expect((await new RolloutRunner(deps).run({ resume: false })).state).toBe("completed");

    // A control host and a compute host broke while Deployed (their layering failed, say).
    const control = (await maas.listMachines({ tags: ["control"] }))[0]!;
    const compute = (await maas.listMachines({ tags: ["compute"] })).find((m) => m.system_id !== control.system_id)!;
    for (const m of [control, compute]) await maas.markBroken(m.system_id, "test: layering failed");
    const refusing = fakeLayers(new Set([control.system_id]));
    const passDeps: RunnerDeps = { ...deps, layering: refusing };
    const before = sim.stats().machines?.find((m) => m.system_id === control.system_id);

    const r = await remediate(passDeps);
    expect(r.attempted.map((a) => a.hostname).sort()).toEqual([compute.hostname, control.hostname].sort());
    expect(r.rollout?.byOutcome).toMatchObject({ inService: 1, refused: 1, quarantined: 0, failed: 0 });
    expect(r.refused).toEqual([{ systemId: control.system_id, hostname: control.hostname, reason: expect.stringMatching(new RegExp(`openstack/mysql-0[\\s\\S]*metalwave reprovision --force ${control.hostname}`)) }]);
    // The other host went on: it left Juju and is in service again.
    expect(refusing.left).toEqual([compute.system_id]);
    expect((await maas.readMachine(compute.system_id)).status).toBe(NodeStatus.DEPLOYED);
    // The refused one is as it was after mark_fixed: Deployed, never released, not marked Broken again.
    expect((await maas.readMachine(control.system_id)).status).toBe(NodeStatus.DEPLOYED);
    expect(sim.stats().machines?.find((m) => m.system_id === control.system_id)).toMatchObject({ released: before?.released, deployed: before?.deployed });
    expect(store.getHost(r.rollout!.rolloutId, control.system_id)?.outcome).toBe("refused");

    // Broken again (a later failure), with maxAttempts 1 already "spent" if a refusal counted:
    // the next pass tries it again instead of quarantining it for good and calling a spare.
    await maas.markBroken(control.system_id, "test: still unhealthy");
    const next = await remediate(passDeps);
    expect(next.exhausted).toEqual([]);
    expect(next.replacements).toEqual([]);
    expect(next.attempted).toEqual([{ systemId: control.system_id, hostname: control.hostname, attempt: 1 }]);
    expect(next.refused.map((x) => x.hostname)).toEqual([control.hostname]);
  }, 120_000);
});
