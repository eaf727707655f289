/**
 * Re-provisioning a control host (juju-layering.md §5, `sunbeam cluster remove`): its
 * Kubernetes node runs a mysql-k8s and a rabbitmq-k8s pod (three of each over three control
 * hosts), so without --force the removal is refused before anything is removed (step 1);
 * forced, the node is cordoned and drained (every pod evicted through the Eviction API, the
 * claims bound to it deleted) before its k8s unit goes (step 4), the node leaves Kubernetes
 * with the unit and the machine leaves Juju, and the host rejoins: a new node, Ready and
 * labelled, and a control plane active again.
 */
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { layeredRigPerTest, LAYERED_14, simClient, simDeps } from "../runtime/sim-client.ts";
import { openStore } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { reprovisionHosts } from "../../src/runtime/reprovision.ts";
import { parseConfig, type Config } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor } from "../../src/cli/rollout.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";

const rig = layeredRigPerTest();
const config: Config = parseConfig({ rollout: { backoffMs: { base: 1, max: 5 } }, layers: { stepAttempts: 1 } });

/** A layered 14-machine cloud, and a control host whose node runs a mysql and a rabbitmq pod. */
async function layeredCloud() {
  rig.sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 5, hosts: { sshPort: 0, nodeReadyMs: 20 } });
  const maas = simClient(rig.sim);
  const plan = await readAndPlan(maas, config);
  rig.store = openStore(":memory:");
  rig.layering = layeringFor(config, silentLogger(), rig.sim)!;
  const deps = simDeps(maas, rig.store, rig.layering.config, rig.layering);
  expect((await new RolloutRunner(deps).run({ resume: false })).state).toBe("completed");
  const cloud = rig.sim.hosts!.cloud;
  const kube = cloud.kube;
  const controls = plan.rollout.hosts.filter((h) => h.roles.includes("control"));
  const ctl = controls.find((h) => !h.roles.includes("juju-controller")) ?? controls[0]!;
  const podsOn = (node: string) => [...kube.workloads.pods.values()].filter((p) => p.nodeName === node).map((p) => p.app);
  expect(podsOn(ctl.hostname)).toEqual(expect.arrayContaining(["mysql", "rabbitmq"]));
  const model = () => cloud.jujuWorld.controller("metalwave").models.get("openstack-machines")!;
  const machinesOf = (sid: string) => [...model().machines.values()].filter((m) => m.host?.systemId === sid);
  return { maas, deps, cloud, kube, ctl, podsOn, machinesOf, sim: rig.sim, engine: rig.layering.engine };
}

describe("re-provisioning a control host", () => {
  it("is refused before anything is removed while its node runs database and queue pods (without --force)", async () => {
    const { maas, deps, kube, ctl, machinesOf } = await layeredCloud();

    // Not forced: refused before anything is removed (step 1); the host stays in Juju and in Kubernetes, its node schedulable.
    const refused = await reprovisionHosts(deps, { hosts: [ctl.hostname], reason: "test", erase: "quick" }, { spares: false });
    expect(refused.reprovision.byOutcome).toMatchObject({ inService: 0, refused: 1, quarantined: 0, failed: 0 });
    const rec = deps.store.getHost(refused.reprovision.rolloutId, ctl.systemId);
    expect(rec?.outcome).toBe("refused");
    // One refusal, no failed attempts retried: it says what refused, why and how to go on.
    const failures = (rec?.snapshot?.context.failures ?? []) as unknown[];
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ phase: "releasing", code: "LAYER_REFUSED", message: expect.stringMatching(/mysql-k8s \/ rabbitmq-k8s/) });
    expect(refused.reprovision.failures).toEqual([expect.objectContaining({ systemId: ctl.systemId, outcome: "refused", code: "LAYER_REFUSED", message: expect.stringMatching(/mysql-\d[\s\S]*rabbitmq-\d/) })]);
    expect(rec?.snapshot?.context.reason).toMatch(new RegExp(`refused, nothing changed[\\s\\S]*metalwave reprovision --force ${ctl.hostname}`));
    expect(machinesOf(ctl.systemId)).toHaveLength(1);
    const journaled = deps.store.journal(refused.reprovision.rolloutId, { kind: "rollout" }).filter((j) => j.systemId === ctl.systemId && (j.data as { event?: string }).event === "leavingJuju");
    expect(journaled).toEqual([]);
    expect(kube.nodes.get(ctl.hostname)?.unschedulable).not.toBe(true);
    expect(kube.workloads.evictions).toBe(0);
    // Nothing changed in MAAS either: not released, not marked Broken.
    expect((await maas.readMachine(ctl.systemId)).status).toBe(NodeStatus.DEPLOYED);
  }, 300_000);

  it("forced: its node is cordoned and drained before its k8s unit goes, it leaves Kubernetes and Juju, and the host rejoins", async () => {
    const { deps, kube, ctl: other, podsOn, machinesOf, sim, engine } = await layeredCloud();
    const itsPods = [...kube.workloads.pods.values()].filter((p) => p.nodeName === other.hostname).map((p) => `${p.namespace}/${p.name}`).sort();
    const itsClaims = [...kube.workloads.claims.values()].filter((c) => c.selectedNode === other.hostname).map((c) => `${c.namespace}/${c.name}`).sort();
    expect(itsClaims.length).toBeGreaterThan(0);
    let atRelease: { machines: number; node: boolean; pods: string[] } | undefined;
    sim.region.watch((m, from, to) => {
      if (m.systemId === other.systemId && from === NodeStatus.DEPLOYED && to !== NodeStatus.DEPLOYED && atRelease === undefined) atRelease = { machines: machinesOf(other.systemId).length, node: kube.nodes.has(other.hostname), pods: podsOn(other.hostname) };
    });
    const forced = await reprovisionHosts(deps, { hosts: [other.hostname], reason: "test", erase: "quick", force: true }, { spares: false });
    expect(forced.reprovision.byOutcome.inService).toBe(1);
    expect(atRelease).toEqual({ machines: 0, node: false, pods: [] });
    const steps = deps.store
      .journal(forced.reprovision.rolloutId, { kind: "rollout" })
      .filter((j) => j.systemId === other.systemId && (j.data as { event?: string }).event === "leavingJuju")
      .map((j) => {
        const d = j.data as { step: string; target: string };
        return { step: d.step, target: d.target };
      });
    const at = (step: string, target?: string) => steps.findIndex((x) => x.step === step && (target === undefined || x.target.startsWith(target)));
    // Cordoned, then every pod on it evicted and the claims bound to it deleted, before its k8s unit was removed.
    expect(steps[at("cordon")]).toEqual({ step: "cordon", target: other.hostname });
    expect(steps.filter((x) => x.step === "evict").map((x) => x.target).sort()).toEqual(expect.arrayContaining(itsPods));
    expect(steps.filter((x) => x.step === "deleteClaim").map((x) => x.target).sort()).toEqual(itsClaims);
    expect(at("cordon")).toBeLessThan(at("evict"));
    expect(Math.max(...steps.map((x, i) => (x.step === "evict" || x.step === "deleteClaim" ? i : -1)))).toBeLessThan(at("removeUnit", "k8s/"));
    expect(at("removeUnit", "k8s/")).toBeLessThan(at("removeUnit", "sunbeam-machine/"));
    expect(kube.workloads.evictions).toBeGreaterThanOrEqual(itsPods.length);

    // Back: a new machine, a new node (Ready, labelled, schedulable), the control plane active again.
    expect(machinesOf(other.systemId)).toHaveLength(1);
    const node = kube.nodes.get(other.hostname);
    expect({ ready: node?.ready, unschedulable: node?.unschedulable ?? false, deployment: node?.labels["sunbeam/deployment"], control: node?.labels["openstack-control-plane"] }).toEqual({ ready: true, unschedulable: false, deployment: config.deployment, control: "enabled" });
    const report = await engine.report();
    for (const a of report.applications.filter((x) => x.model === "openstack")) expect({ app: a.name, status: a.status }).toEqual({ app: a.name, status: "active" });
    // No pod is left waiting for the drained node: each StatefulSet pod runs somewhere.
    expect([...kube.workloads.pods.values()].filter((p) => p.nodeName === undefined).map((p) => p.name)).toEqual([]);
  }, 300_000);
});
