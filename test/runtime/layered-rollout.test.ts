/**
 * A rollout from New machines to a layered cloud on the simulated region and its
 * simulated hosts: the real MAAS client, SSH (ssh2) with pinned host keys, the real
 * Kubernetes client, the layer templates. A layer command that keeps failing on one
 * host is retried, then that host is handed on as failed with the command, exit
 * code and output in its record, while the rest of the cloud forms.
 */
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { layeredRigPerTest, MIXED_50, simClient, simDeps } from "./sim-client.ts";
import { openStore } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { parseConfig, type Config } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor } from "../../src/cli/rollout.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";


const rig = layeredRigPerTest();

const config: Config = parseConfig({
  rollout: { backoffMs: { base: 1, max: 5 }, maxAttempts: { layer: 2 } },
  layers: { stepAttempts: 1 },
});


describe("layered rollout", () => {
  it("takes New machines to a layered cloud, and hands on a host whose layer keeps failing with the command, exit code and output", async () => {
    // The same seed gives the same fleet: plan once to pick the compute host to break.
    const probe = await startSimulator({ fleet: MIXED_50, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), config);
    const computes = plan.rollout.hosts.filter((h) => h.roles.includes("compute"));
    const broken = computes[computes.length - 1]!;
    const brokenAddress = probe.region.ipFor(probe.region.get(broken.systemId));
    await probe.close();

    rig.sim = await startSimulator({
      fleet: MIXED_50,
      zeroDuration: true,
      seed: 11,
      // Manual provisioning of the broken host fails (on the juju client machine, where juju runs).
      hosts: { sshPort: 0, nodeReadyMs: 20, juju: { timings: { machineStartMs: 0, unitSettleMs: 0, haVoteMs: 0 } }, faults: `fail=1:match=ubuntu@${brokenAddress}:code=4` },
    });
    const maas = simClient(rig.sim);
    rig.store = openStore(":memory:");
    rig.layering = layeringFor(config, silentLogger(), rig.sim, maas)!;
    const runner = new RolloutRunner(simDeps(maas, rig.store, rig.layering.config, rig.layering));
    const summary = await runner.run({ resume: false });

    expect(summary.state).toBe("completed");
    expect(summary.byOutcome.inService).toBe(plan.rollout.hosts.length - 1);
    expect(summary.failures.map((f) => [f.hostname, f.outcome, f.phase])).toEqual([[broken.hostname, "quarantined", "layering"]]);
    const record = rig.store.getHost(summary.rolloutId, broken.systemId)!;
    const err = record.lastError as { code: string; message: string };
    expect(err.code).toBe("LAYER_COMMAND_FAILED");
    expect(err.message).toContain(`juju add-machine -m metalwave:openstack-machines ssh:ubuntu@${brokenAddress}`);
    expect(err.message).toMatch(/exit code 4/);
    expect(err.message).toMatch(/output tail/);
    // Quarantined: Broken in MAAS, so nothing picks it again.
    expect((await maas.readMachine(broken.systemId)).status).toBe(NodeStatus.BROKEN);

    // The cloud, read back by metalwave from the hosts and through the Kubernetes client.
    const cloud = await rig.layering.engine.report();
    const controls = plan.rollout.hosts.filter((h) => h.roles.includes("control")).map((h) => h.hostname).sort();
    expect(cloud.controllers.machines).toHaveLength(3);
    expect(cloud.controllers.machines.every((c) => c.ha === "ha-enabled")).toBe(true);
    expect(cloud.controllers.ha).toBe("ha-enabled");
    expect(cloud.kubernetesNodes.map((n) => n.name).sort()).toEqual(controls);
    for (const n of cloud.kubernetesNodes) expect({ node: n.name, ready: n.ready, label: n.labels["openstack-control-plane"] }).toEqual({ node: n.name, ready: true, label: "enabled" });
    const cephDisks = plan.rollout.hosts.filter((h) => h.roles.includes("storage")).reduce((sum, h) => sum + h.disks.filter((d) => d.action === "add").length, 0);
    expect(cephDisks).toBeGreaterThan(0);
    expect(cloud.ceph).toEqual({ osds: cephDisks, taggedDisks: cephDisks });
    expect(cloud.applications.length).toBeGreaterThan(5);
    expect(cloud.applications.filter((a) => a.status !== "active" || a.units.active !== a.units.total)).toEqual([]);
    expect(cloud.relations).toContainEqual({ model: "openstack", endpoints: ["keystone-mysql-router:database", "keystone:database"], crossModel: false });
    expect(cloud.relations).toContainEqual({ model: "openstack", endpoints: ["keystone-mysql-router:backend-database", "mysql:database"], crossModel: false });
    expect(Object.keys(cloud.loadBalancer)).toEqual(expect.arrayContaining(["traefik", "rabbitmq"]));
    expect(cloud.hypervisors.computeHosts).toEqual(computes.filter((h) => h !== broken).map((h) => h.hostname).sort());
    // As the control plane lists them: nova's compute services, read through metalwave's OpenStack client on the ingress.
    expect(cloud.hypervisors).toMatchObject({ computeServicesUp: cloud.hypervisors.computeHosts, source: "nova" });
    // The units' waits read the simulated controller's AllWatcher, one watch per model (layeringFor wires it).
    const watched = rig.layering.engine.jujuWatchStats?.();
    expect(watched?.models).toBe(2);
    expect(watched?.batches).toBeGreaterThan(2);
  }, 600_000); // a 50-machine rollout through Juju and its charms: several thousand juju commands over SSH to the simulated hosts
});
