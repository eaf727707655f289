/**
 * Re-provisioning on a layered cloud: a host is released with erase, deployed and
 * layered again with its role; a host that cannot be re-provisioned is quarantined
 * and a spare held back for its role takes it, tagged, deployed and layered in its
 * stead. Bad requests are refused before anything is touched.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { simClient } from "./sim-client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner, type RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { reprovisionHosts, ReprovisionError } from "../../src/runtime/reprovision.ts";
import { parseConfig, type Config } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor, type LayeringSetup } from "../../src/cli/rollout.ts";
import { NodeStatus } from "../../src/maas/status.ts";

const MIXED_50 = fileURLToPath(new URL("../../machines/fleet-mixed-50.yaml", import.meta.url));

let sim: SimHandle | undefined;
let store: Store | undefined;
let layering: LayeringSetup | undefined;
afterEach(async () => {
  await layering?.ssh.close();
  layering = undefined;
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

const config: Config = parseConfig({
  rollout: { backoffMs: { base: 1, max: 5 } },
  layers: { stepAttempts: 1 },
  roles: { definitions: { compute: { spares: 1 } } },
});


describe("re-provisioning", () => {
  it("re-provisions a host with erase and re-layers it; a host that fails is quarantined and a spare takes its role", async () => {
    const probe = await startSimulator({ fleet: MIXED_50, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), config);
    await probe.close();
    const computes = plan.rollout.hosts.filter((h) => h.roles.includes("compute"));
    const healthy = computes[0]!;
    const doomed = computes[1]!;
    const spare = plan.roles.spares["compute"]![0]!;

    // Erasing the doomed host's disks always fails: its re-provisioning cannot succeed.
    sim = await startSimulator({ fleet: MIXED_50, zeroDuration: true, seed: 11, faults: `erase.fail@${doomed.hostname}=1`, hosts: { sshPort: 0, nodeReadyMs: 20 } });
    const maas = simClient(sim);
    store = openStore(":memory:");
    layering = layeringFor(config, silentLogger(), sim)!;
    const deps: RunnerDeps = {
      maas,
      store,
      config: layering.config,
      logger: silentLogger(),
      requestCount: () => maas.stats().requests,
      timeScale: 1000,
      observerPollMs: 5,
      layering: { engine: layering.engine, ssh: layering.ssh },
    };
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
    const stats = new Map((sim.stats().machines ?? []).map((m) => [m.system_id, m]));
    expect(stats.get(healthy.systemId)).toMatchObject({ deployed: 2, erased: 1, status_name: "Deployed" });
    expect(run.reprovision.byOutcome.inService).toBe(1);
    expect(sim.hosts!.host(healthy.systemId)!.history.some((c) => c.includes("openstack-hypervisor"))).toBe(true);
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
    expect(sim.hosts!.host(spare.systemId)!.history.some((c) => c.includes("openstack-hypervisor"))).toBe(true);
    // The journal tells what moved.
    const promoted = store.journal(run.reprovision.rolloutId, { kind: "rollout" }).find((j) => (j.data as { event?: string }).event === "sparesPromoted");
    expect(promoted).toBeDefined();
  }, 120_000);
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
    expect(await cli(["reprovision"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/name at least one host/) });
    expect(await cli(["reprovision", "h1", "--erase", "shred"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--erase shred: expected one of none, quick, secure/) });
    expect(await cli(["reprovision", "h1"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/maas\.url.*--maas-url/) });
  }, 30_000);
});
