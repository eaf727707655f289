/**
 * Re-provisioning on a layered cloud: a host is released with erase, deployed and
 * layered again with its role; a host that cannot be re-provisioned is quarantined
 * and a spare held back for its role takes it, tagged, deployed and layered in its
 * stead. Bad requests are refused before anything is touched.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { LAYERED_14, layeredRigPerTest, simClient, simDeps } from "./sim-client.ts";
import { openStore } from "../../src/store/index.ts";
import { RolloutRunner, type RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { reprovisionHosts, ReprovisionError } from "../../src/runtime/reprovision.ts";
import { parseConfig, type Config } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor } from "../../src/cli/rollout.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";


const rig = layeredRigPerTest();

/** The host's current installation has the hypervisor snap its charm installs, configured from its relations. */
function hypervisorOn(systemId: string): boolean {
  const snap = rig.sim!.hosts!.host(systemId)?.snaps.get("openstack-hypervisor");
  return snap !== undefined && snap.config.has("identity.auth-url");
}

const config: Config = parseConfig({
  rollout: { backoffMs: { base: 1, max: 5 } },
  layers: { stepAttempts: 1 },
  roles: { definitions: { compute: { spares: 1 } } },
});


describe("re-provisioning", () => {
  it("re-provisions a host with erase and re-layers it; a host that fails is quarantined and a spare takes its role", async () => {
    const probe = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), config);
    await probe.close();
    const computes = plan.rollout.hosts.filter((h) => h.roles.includes("compute"));
    const healthy = computes[0]!;
    const doomed = computes[1]!;
    const spare = plan.roles.spares["compute"]![0]!;

    // Erasing the doomed host's disks always fails: its re-provisioning cannot succeed.
    rig.sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11, faults: `erase.fail@${doomed.hostname}=1`, hosts: { sshPort: 0, nodeReadyMs: 20 } });
    const maas = simClient(rig.sim);
    rig.store = openStore(":memory:");
    rig.layering = layeringFor(config, silentLogger(), rig.sim)!;
    const deps: RunnerDeps = simDeps(maas, rig.store, rig.layering.config, rig.layering);
    const first = await new RolloutRunner(deps).run({ resume: false });
    expect(first.state).toBe("completed");
    expect(first.byOutcome.inService).toBe(plan.rollout.hosts.length);

    // Refused before anything is touched: an unknown host, a spare (no role, not deployed).
    await expect(reprovisionHosts(deps, { hosts: ["no-such-host"], reason: "test", erase: "quick" }, { spares: true })).rejects.toThrow(/no-such-host/);
    const refused = await reprovisionHosts(deps, { hosts: [spare.hostname], reason: "test", erase: "quick" }, { spares: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ReprovisionError);
    expect((refused as ReprovisionError).message).toContain(spare.hostname);

    const run = await reprovisionHosts(deps, { hosts: [healthy.hostname, doomed.systemId], reason: "disk errors", erase: "quick" }, { spares: true });
    // The healthy one: released with erase, deployed again, layered again.
    const stats = new Map((rig.sim.stats().machines ?? []).map((m) => [m.system_id, m]));
    expect(stats.get(healthy.systemId)).toMatchObject({ deployed: 2, erased: 1, status_name: "Deployed" });
    expect(run.reprovision.byOutcome.inService).toBe(1);
    // Layered again on its new installation: the hypervisor charm's unit there installed and configured the snap
    // (charms act through Juju, not over the host's SSH, so its command history says nothing of it).
    expect(hypervisorOn(healthy.systemId)).toBe(true);
    // The doomed one: quarantined with the reason, Broken in MAAS, its role moved to the spare.
    expect(run.reprovision.failures.map((f) => [f.hostname, f.outcome])).toEqual([[doomed.hostname, "quarantined"]]);
    expect(run.replacements).toEqual([{ failed: { systemId: doomed.systemId, hostname: doomed.hostname }, role: "compute", spare: { systemId: spare.systemId, hostname: spare.hostname } }]);
    expect(run.replacement?.state).toBe("completed");
    expect(run.replacement?.byOutcome.inService).toBe(1);
    const doomedNow = await maas.readMachine(doomed.systemId);
    expect(doomedNow.status).toBe(NodeStatus.BROKEN);
    expect(doomedNow.tag_names).not.toContain("compute");
    const spareNow = await maas.readMachine(spare.systemId);
    expect(spareNow.status).toBe(NodeStatus.DEPLOYED);
    expect(spareNow.tag_names).toContain("compute");
    expect(spareNow.tag_names).not.toContain("metalwave-spare-compute");
    expect(hypervisorOn(spare.systemId)).toBe(true);
    // The journal tells what moved.
    const promoted = rig.store.journal(run.reprovision.rolloutId, { kind: "rollout" }).find((j) => (j.data as { event?: string }).event === "sparesPromoted");
    expect(promoted).toBeDefined();
  }, 240_000);
});

describe("re-provisioning with re-commissioning", () => {
  it("commissions a storage host again after its release, recomputes its ceph disk tags from the new disks and returns it to service; a host whose new hardware no longer fits its role is quarantined", async () => {
    rig.sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11, hosts: { sshPort: 0, nodeReadyMs: 20 } });
    const maas = simClient(rig.sim);
    const plan = await readAndPlan(maas, config);
    rig.store = openStore(":memory:");
    rig.layering = layeringFor(config, silentLogger(), rig.sim)!;
    const deps: RunnerDeps = simDeps(maas, rig.store, rig.layering.config, rig.layering);
    const first = await new RolloutRunner(deps).run({ resume: false });
    expect(first.state).toBe("completed");
    const counts = () => new Map((rig.sim!.stats().machines ?? []).map((m) => [m.system_id, m]));
    // Storage hosts the first rollout commissioned (they were New).
    const storage = plan.rollout.hosts.filter((h) => h.roles.includes("storage") && counts().get(h.systemId)?.commissioned === 1);
    const changed = storage[0]!;
    const shrunk = storage[1]!;

    // Refused before anything is touched, naming the host: a spare cannot be released.
    const spare = plan.roles.spares["compute"]![0]!;
    const refused = await reprovisionHosts(deps, { hosts: [spare.hostname], reason: "test", erase: "quick", recommission: true }, { spares: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ReprovisionError);
    expect(refused).toMatchObject({ code: "REPROVISION_WRONG_STATE", message: expect.stringContaining(`${spare.hostname} (${spare.systemId}) is`) });
    expect((refused as Error).message).toMatch(/re-commissioning/);

    // While released, the hardware changes. `changed`: the last 16 TB disk becomes a 500 GB one
    // (its ceph tag, kept by slot, is now wrong) and a 20 TB disk is added. `shrunk`: only two
    // large disks are left, fewer than the storage rule's four.
    const changedRec = rig.sim.region.get(changed.systemId);
    const shrunkRec = rig.sim.region.get(shrunk.systemId);
    const oldDisks = changedRec.hw!.disks;
    const newHw = { ...changedRec.hw!, disks: [...oldDisks.slice(0, -1), { kind: "hdd" as const, sizeBytes: 500e9, model: "ST500DM009" }, { kind: "hdd" as const, sizeBytes: 20e12, model: "ST20000NM007D" }] };
    const smallHw = { ...shrunkRec.hw!, disks: shrunkRec.hw!.disks.slice(0, 4) };
    rig.sim.region.watch((m, from, to) => {
      if (from !== NodeStatus.READY || to !== NodeStatus.COMMISSIONING) return;
      if (m === changedRec) changedRec.hw = newHw;
      if (m === shrunkRec) shrunkRec.hw = smallHw;
    });
    const cephBefore = (await maas.readMachine(changed.systemId)).blockdevice_set.filter((d) => d.tags.includes("ceph")).length;
    expect(cephBefore).toBe(oldDisks.filter((d) => d.sizeBytes >= 1000 * 1024 ** 3).length);

    const run = await reprovisionHosts(deps, { hosts: [changed.hostname, shrunk.hostname], reason: "disks replaced", erase: "quick", recommission: true }, { spares: false });

    // Commissioned twice, deployed twice, back in service with its role and layered again.
    expect(counts().get(changed.systemId)).toMatchObject({ commissioned: 2, deployed: 2, erased: 1, status_name: "Deployed" });
    expect(run.reprovision.byOutcome.inService).toBe(1);
    const now = await maas.readMachine(changed.systemId);
    expect(now.tag_names).toContain("storage");
    const tagged = now.blockdevice_set.map((d) => [d.name, d.size, d.tags.includes("ceph")]);
    expect(tagged.filter(([, , ceph]) => ceph).map(([, size]) => size)).toEqual([...oldDisks.slice(2, -1).map((d) => d.sizeBytes), 20e12]);
    expect(tagged.find(([, size]) => size === 500e9)?.[2]).toBe(false);
    const newDisk = now.blockdevice_set.find((d) => d.size === 20e12)!;
    // The new disk is an OSD of the new installation (added by the microceph unit's add-osd action, not over the host's SSH).
    const host = rig.sim.hosts!.host(changed.systemId)!;
    expect(rig.sim.hosts!.cloud.ceph?.osds.some((o) => o.systemId === changed.systemId && o.deployment === host.deployment && o.path === newDisk.id_path)).toBe(true);

    // The host whose new hardware no longer fits storage: commissioned again, then quarantined with the reason.
    expect(counts().get(shrunk.systemId)).toMatchObject({ commissioned: 2, deployed: 1, status_name: "Broken" });
    expect(run.reprovision.failures).toEqual([
      expect.objectContaining({
        hostname: shrunk.hostname,
        outcome: "quarantined",
        phase: "tagging",
        code: "RECOMMISSION_ROLE_MISMATCH",
        message: expect.stringMatching(new RegExp(`^${shrunk.hostname} \\(${shrunk.systemId}\\) after re-commissioning: no longer matches the rule of role storage .*2 of 4 disks pass`)),
      }),
    ]);
  }, 240_000);
});

describe("metalwave reprovision (command line)", () => {
  async function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url)), ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, METALWAVE_MAAS_URL: "" } });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const [code] = (await once(child, "exit")) as [number | null];
    return { code, stderr };
  }

  it("refuses bad input with exit 2 and says what is wrong", async () => {
    // Four processes at once: each is mostly Node loading the CLI.
    const [none, shred, noRegion, recommission] = await Promise.all([cli(["reprovision"]), cli(["reprovision", "h1", "--erase", "shred"]), cli(["reprovision", "h1"]), cli(["reprovision", "h1", "--recommission"])]);
    expect(none).toMatchObject({ code: 2, stderr: expect.stringMatching(/name at least one host/) });
    expect(shred).toMatchObject({ code: 2, stderr: expect.stringMatching(/--erase shred: expected one of none, quick, secure/) });
    expect(noRegion).toMatchObject({ code: 2, stderr: expect.stringMatching(/maas\.url.*--maas-url/) });
    // --recommission is a known flag: the command gets as far as needing a region.
    expect(recommission).toMatchObject({ code: 2, stderr: expect.stringMatching(/maas\.url.*--maas-url/) });
  }, 30_000);
});
