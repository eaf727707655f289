/**
 * Re-provisioning takes the host out of Juju cleanly before MAAS releases it, then it
 * rejoins (juju-layering.md §5): read back from the simulated Juju at the moment MAAS
 * starts the release (units gone, machine gone, MicroCeph member gone, hypervisor disabled
 * first), and from Juju and Ceph once it is back (new units active, OSDs = its tagged
 * disks, its compute service up). A dead host (its Juju agent down) goes the --force way,
 * and its MicroCeph member, which no stop hook removes then, is removed from a surviving one.
 */
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { LAYERED_14, layeredRigPerTest, simClient, simDeps } from "../runtime/sim-client.ts";
import { openStore } from "../../src/store/index.ts";
import { RolloutRunner, type RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { reprovisionHosts } from "../../src/runtime/reprovision.ts";
import { parseConfig, type Config } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor } from "../../src/cli/rollout.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { principalsOn, REMOVAL_ORDER } from "../../src/layers/removal.ts";
import type { StatusJson } from "../../src/layers/juju-ops.ts";

const rig = layeredRigPerTest();
const config: Config = parseConfig({ rollout: { backoffMs: { base: 1, max: 5 } }, layers: { stepAttempts: 1 } });

/** What the simulated Juju and Ceph hold of a host right now. */
function inJuju(systemId: string) {
  const cloud = rig.sim!.hosts!.cloud;
  const m = cloud.jujuWorld.controller("metalwave").models.get("openstack-machines")!;
  const machines = [...m.machines.values()].filter((x) => x.host?.systemId === systemId).map((x) => x.id);
  const units = [...m.apps.values()].flatMap((a) => [...a.units.values()]).filter((u) => u.machine !== undefined && machines.includes(u.machine)).map((u) => u.name);
  // By its MAAS hostname: a host MAAS is releasing is no longer among the simulated hosts.
  const hostname = rig.sim!.region.get(systemId).hostname;
  // What nova and neutron list for the host (src/sim/openstack): its compute services (up/enabled) and OVN agents.
  const os = cloud.openstack;
  const computeServices = [...os.services.values()].filter((r) => r.host === hostname).map((r) => `${os.isUp(r) ? "up" : "down"} ${r.disabled ? "disabled" : "enabled"}`);
  const agents = [...os.agents.values()].filter((a) => a.host === hostname).map((a) => a.agentType).sort();
  return { machines, units, cephMember: cloud.ceph?.members.has(systemId) ?? false, computeServices, agents };
}

async function layered(): Promise<{ deps: RunnerDeps; plan: Awaited<ReturnType<typeof readAndPlan>> }> {
  // The first remove-unit of a microovn unit fails: a removal cut short, resumed by the release's retry.
  rig.sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11, hosts: { sshPort: 0, nodeReadyMs: 20, faults: "fail=1:match=machines microovn/:first=1:code=1" } });
  const maas = simClient(rig.sim);
  const plan = await readAndPlan(maas, config);
  rig.store = openStore(":memory:");
  rig.layering = layeringFor(config, silentLogger(), rig.sim)!;
  const deps = simDeps(maas, rig.store, rig.layering.config, rig.layering);
  const first = await new RolloutRunner(deps).run({ resume: false });
  expect(first.state).toBe("completed");
  return { deps, plan };
}

/** Juju and Ceph as they are when MAAS begins each host's release. */
function atRelease(ids: readonly string[]): Map<string, ReturnType<typeof inJuju>> {
  const seen = new Map<string, ReturnType<typeof inJuju>>();
  rig.sim!.region.watch((m, from, to) => {
    if (from === NodeStatus.DEPLOYED && ids.includes(m.systemId) && !seen.has(m.systemId) && to !== NodeStatus.DEPLOYED) seen.set(m.systemId, inJuju(m.systemId));
  });
  return seen;
}

function leavingSteps(deps: RunnerDeps, rolloutId: string, systemId: string): { step: string; target: string; force?: boolean }[] {
  return deps.store
    .journal(rolloutId, { kind: "rollout" })
    .filter((j) => j.systemId === systemId && (j.data as { event?: string }).event === "leavingJuju")
    .map((j) => {
      const d = j.data as { step: string; target: string; force?: boolean };
      return { step: d.step, target: d.target, ...(d.force ? { force: true } : {}) };
    });
}

/** The OpenStack steps journaled for a host's removal. */
function osSteps(deps: RunnerDeps, rolloutId: string, systemId: string): string[] {
  return deps.store
    .journal(rolloutId, { kind: "rollout" })
    .filter((j) => j.systemId === systemId && (j.data as { event?: string }).event === "leavingJuju")
    .map((j) => (j.data as { step: string }).step)
    .filter((s) => /ComputeService|NetworkAgent/.test(s));
}

describe("re-provisioning leaves Juju first", () => {
  it("orders a machine's principal units as the reference removes them", () => {
    const st: StatusJson = {
      applications: {
        "sunbeam-machine": { units: { "sunbeam-machine/3": { machine: "3" } } },
        microovn: { units: { "microovn/2": { machine: "3" }, "microovn/1": { machine: "1" } } },
        "openstack-hypervisor": { units: { "openstack-hypervisor/0": { machine: "3" } } },
        "some-other": { units: { "some-other/0": { machine: "3" } } },
      },
    };
    expect(principalsOn(st, "3").map((u) => u.name)).toEqual(["openstack-hypervisor/0", "microovn/2", "some-other/0", "sunbeam-machine/3"]);
    expect(REMOVAL_ORDER.indexOf("cinder-volume")).toBeLessThan(REMOVAL_ORDER.indexOf("microceph"));
    expect(REMOVAL_ORDER.indexOf("microceph")).toBeLessThan(REMOVAL_ORDER.indexOf("microovn"));
    expect(REMOVAL_ORDER.indexOf("k8s")).toBeLessThan(REMOVAL_ORDER.indexOf("sunbeam-machine"));
  });

  it("a re-provisioned compute host and storage host leave Juju, Ceph and OpenStack cleanly, then rejoin; a dead storage host goes with --force", async () => {
    const { deps, plan } = await layered();
    const compute = plan.rollout.hosts.find((h) => h.roles.includes("compute") && !h.roles.includes("storage"))!;
    const storage = plan.rollout.hosts.filter((h) => h.roles.includes("storage") && !h.roles.includes("compute"));
    const [store1, store2] = [storage[0]!, storage[1]!];
    const cephBefore = rig.sim!.hosts!.cloud.ceph!.members.size;
    expect(inJuju(compute.systemId).units.some((u) => u.startsWith("openstack-hypervisor/"))).toBe(true);
    expect(inJuju(store1.systemId)).toMatchObject({ cephMember: true });

    const seen = atRelease([compute.systemId, store1.systemId]);
    const run = await reprovisionHosts(deps, { hosts: [compute.hostname, store1.hostname], reason: "test", erase: "quick" }, { spares: false });
    expect(run.reprovision.byOutcome.inService).toBe(2);

    // Journaled ahead, in the reference's order: hypervisor disabled, its unit, the others, the machine; pools resized.
    // The compute host's microovn removal failed once (the fault): its release attempt failed naming the host and the
    // unit, and the retry resumed where the removal stopped (the hypervisor, already gone, was not disabled or removed again).
    const cSteps = leavingSteps(deps, run.reprovision.rolloutId, compute.systemId);
    expect(cSteps.map((s) => s.step).filter((s) => !/ComputeService|NetworkAgent/.test(s))).toEqual(["disableHypervisor", "removeUnit", "removeUnit", "removeUnit", "removeUnit", "removeEmptyMachine"]);
    expect(cSteps.filter((s) => s.step === "removeUnit").map((s) => s.target.split("/")[0])).toEqual(["openstack-hypervisor", "microovn", "microovn", "sunbeam-machine"]);
    const failures = deps.store.getHost(run.reprovision.rolloutId, compute.systemId)?.snapshot?.context.failures ?? [];
    expect(failures).toEqual([expect.objectContaining({ phase: "releasing", code: "LAYER_COMMAND_FAILED", message: expect.stringMatching(new RegExp(`layer removal, step removeUnit on ${compute.hostname} [\\s\\S]*unit microovn/`)) })]);
    const sSteps = leavingSteps(deps, run.reprovision.rolloutId, store1.systemId);
    expect(sSteps.filter((s) => s.step === "removeUnit").map((s) => s.target.split("/")[0])).toEqual(["cinder-volume", "microceph", "sunbeam-machine"]);
    expect(sSteps.at(-1)).toEqual({ step: "setPoolSize", target: `microceph/leader size=${Math.min(cephBefore - 1, 3)}` });
    // Out of Juju and OpenStack before MAAS released it: no machine, no unit, no Ceph member; nova lists no compute
    // service of the host (disabled by the hypervisor's action, deleted after its unit went) and neutron none of its agents.
    expect(seen.get(compute.systemId)).toEqual({ machines: [], units: [], cephMember: false, computeServices: [], agents: [] });
    expect(seen.get(store1.systemId)).toEqual({ machines: [], units: [], cephMember: false, computeServices: [], agents: [] });
    expect(osSteps(deps, run.reprovision.rolloutId, compute.systemId)).toEqual(["deleteComputeService", "deleteNetworkAgent", "deleteNetworkAgent", "deleteNetworkAgent"]);

    // Back: new machines with new units, active; the storage host's OSDs are its tagged disks again; its compute service is up.
    const report = await rig.layering!.engine.report();
    const back = inJuju(compute.systemId);
    expect(back.machines).toHaveLength(1);
    expect(back.units.map((u) => u.split("/")[0]).sort()).toEqual(expect.arrayContaining(["microovn", "openstack-hypervisor", "sunbeam-machine"]));
    // Listed once again, up and enabled, with its agents (of its new chassis) once each.
    expect(back.computeServices).toEqual(["up enabled"]);
    expect(back.agents).toEqual(["OVN Controller agent", "OVN Metadata agent"]);
    expect(report.hypervisors.source).toBe("nova");
    expect(report.hypervisors.computeServicesUp).toContain(compute.hostname);
    expect(inJuju(store1.systemId)).toMatchObject({ cephMember: true });
    const tagged = (await simClient(rig.sim!).readMachine(store1.systemId)).blockdevice_set.filter((d) => d.tags.includes("ceph")).map((d) => d.id_path).sort();
    const host = rig.sim!.hosts!.host(store1.systemId)!;
    const osds = rig.sim!.hosts!.cloud.ceph!.osds.filter((o) => o.systemId === store1.systemId && o.deployment === host.deployment).map((o) => o.path).sort();
    expect(osds).toEqual(tagged);
    expect(rig.sim!.hosts!.cloud.ceph!.members.size).toBe(cephBefore);
    for (const a of report.applications.filter((x) => x.model === "openstack-machines")) expect({ app: a.name, status: a.status }).toEqual({ app: a.name, status: "active" });

    // A dead storage host (its Juju agent stopped): removed with --force, its Ceph member removed from a surviving member.
    rig.sim!.hosts!.stopService(store2.hostname, "jujud");
    const seen2 = atRelease([store2.systemId]);
    const run2 = await reprovisionHosts(deps, { hosts: [store2.hostname], reason: "dead", erase: "quick" }, { spares: false });
    expect(run2.reprovision.byOutcome.inService).toBe(1);
    expect(seen2.get(store2.systemId)).toMatchObject({ machines: [], units: [], cephMember: false });
    expect(leavingSteps(deps, run2.reprovision.rolloutId, store2.systemId).map((s) => [s.step, s.force ?? false])).toEqual([["removeMachine", true], ["clusterRemove", true], ["setPoolSize", false]]);
    expect(inJuju(store2.systemId)).toMatchObject({ cephMember: true });
    expect(inJuju(store2.systemId).machines).toHaveLength(1);
  }, 300_000);
});
