/**
 * The rollout runtime end to end against the simulated region over real HTTP:
 * the real client, the real store (in memory), the real machines.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import type { MaasClient } from "../../src/maas/client.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner, type RolloutSummary } from "../../src/runtime/rollout-runner.ts";
import { parseConfig, type ConfigInput } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";

let sim: SimHandle | undefined;
let store: Store | undefined;
/** Every runner a test made, closed before its store: a test that fails part-way leaves no host writing to a closed store. */
const runners: RolloutRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) await r.close();
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

function track(runner: RolloutRunner): RolloutRunner {
  runners.push(runner);
  return runner;
}

async function rollout(opts: { machines: number; faults?: string; seed?: number; config?: ConfigInput }): Promise<{ summary: RolloutSummary; maas: MaasClient; sim: SimHandle; store: Store; runner: RolloutRunner }> {
  sim = await startSimulator({ machines: opts.machines, zeroDuration: true, seed: opts.seed ?? 3, ...(opts.faults ? { faults: opts.faults } : {}) });
  const maas = simClient(sim);
  store = openStore(":memory:");
  const config = parseConfig({ rollout: { backoffMs: { base: 1, max: 5 }, ...(opts.config?.rollout ?? {}) } });
  const runner = new RolloutRunner(simDeps(maas, store, config));
  track(runner);
  const summary = await runner.run({ resume: false });
  return { summary, maas, sim, store, runner };
}

describe("rollout runtime against the simulated region", () => {
  it("takes every New machine to Deployed and in service, each commissioned and deployed exactly once", async () => {
    // A dozen machines fill three waves; what more machines add is the wave arithmetic,
    // which test/state-machines/waves.test.ts proves for 1,000 hosts without a region.
    const { summary, sim } = await rollout({ machines: 12 });
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome).toEqual({ inService: 12, quarantined: 0, aborted: 0, refused: 0, failed: 0 });
    const stats = sim.stats();
    expect(stats.statusCounts).toEqual({ Deployed: 12 });
    for (const m of stats.machines ?? []) {
      expect({ id: m.system_id, commissioned: m.commissioned, deployed: m.deployed }).toEqual({ id: m.system_id, commissioned: 1, deployed: 1 });
    }
    // Waves [1, 10, 5%, 25%, 100%] of 12 machines: the 5% wave takes the last one.
    expect(summary.perWave.map((w) => w.size)).toEqual([1, 10, 1]);
  });

  it("tags every machine with the deployment's scope tag in a few batched calls", async () => {
    const { sim, maas } = await rollout({ machines: 12 });
    const tagged = await maas.machinesByTag("metalwave-cloud");
    expect(tagged).toHaveLength(12);
    const calls = sim.stats().requests.byOperation["tags.update_nodes"]?.total ?? 0;
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(12 / 2);
  });

  it("retries machines whose commissioning or deployment failed, and quarantines the ones that keep failing, with a reason", async () => {
    const { summary, sim, store } = await rollout({
      machines: 12,
      seed: 5,
      faults: "commission.fail=0.3,deploy.fail=0.3",
      config: { rollout: { budget: { perWave: "100%", total: "100%" }, maxAttempts: { commission: 2, deploy: 2, layer: 2, release: 2 } } },
    });
    expect(summary.state).toBe("completed");
    expect(summary.settled).toBe(12);
    const machines = sim.stats().machines ?? [];
    const retried = machines.filter((m) => m.commissioned > 1 || m.deployed > 1);
    expect(retried.length).toBeGreaterThan(0);
    expect(summary.byOutcome.quarantined).toBeGreaterThan(0);
    // Every machine is either deployed or Broken (quarantined) in MAAS; none is forgotten.
    const byStatus = sim.stats().statusCounts;
    expect((byStatus["Deployed"] ?? 0) + (byStatus["Broken"] ?? 0)).toBe(12);
    expect(byStatus["Broken"] ?? 0).toBe(summary.byOutcome.quarantined);
    for (const f of summary.failures) {
      expect(f.outcome).toBe("quarantined");
      expect(f.message).not.toBe("");
      const host = store.getHost(summary.rolloutId, f.systemId);
      expect(host?.outcome).toBe("quarantined");
    }
    // No machine is ever deployed more often than the deploy budget allows.
    for (const m of machines) expect(m.deployed).toBeLessThanOrEqual(2);
  });

  it("pauses with the reason and the counts when the failure budget is spent, and loses no machine", async () => {
    const { summary, sim } = await rollout({
      machines: 10,
      seed: 11,
      faults: "deploy.fail=1",
      config: { rollout: { waves: [1, 5, "100%"], budget: { perWave: 0, total: 0 }, maxAttempts: { commission: 1, deploy: 1, layer: 1, release: 1 } } },
    });
    expect(summary.state).toBe("paused");
    expect(summary.pauseReason).toMatch(/budget/);
    // Only the canary ran: the others were never touched.
    expect(summary.settled).toBe(1);
    expect(summary.byPhase["waiting"]).toBe(9);
    const touched = (sim.stats().machines ?? []).filter((m) => m.commissioned > 0);
    expect(touched).toHaveLength(1);
  });

  it("an operator's --resume of a rollout paused by its budget goes on, counting only new failures", async () => {
    const cfg: ConfigInput = { rollout: { waves: [1, 5, "100%"], budget: { perWave: 0, total: 0 }, maxAttempts: { commission: 1, deploy: 1, layer: 1, release: 1 }, backoffMs: { base: 1, max: 5 } } };
    const first = await rollout({ machines: 10, seed: 11, faults: "deploy.fail=1", config: cfg });
    expect(first.summary.state).toBe("paused");
    const resumed = await track(new RolloutRunner({
      maas: first.maas,
      store: first.store,
      config: parseConfig(cfg),
      logger: silentLogger(),
      requestCount: () => first.maas.stats().requests,
      timeScale: 1000,
      observerPollMs: 5,
    })).run({ resume: true });
    // The second wave started (the canary's failure was acknowledged), then its own
    // failures spent the budget again.
    expect(resumed.state).toBe("paused");
    expect(resumed.settled).toBeGreaterThan(1);
    const touched = (first.sim.stats().machines ?? []).filter((m) => m.commissioned > 0);
    expect(touched.length).toBeGreaterThan(1);
    expect(touched.length).toBeLessThanOrEqual(6);
  });

  it("records every transition and MAAS call of a host in the journal", async () => {
    // Five machines cannot fill the default roles: the operator lets those checks through.
    const { summary, store } = await rollout({ machines: 5, config: { rollout: { overrides: ["COUNT_SHORT", "ROLE_EMPTY"] } } });
    const first = summary.perWave[0]!;
    expect(first.size).toBe(1);
    const hosts = store.loadHosts(summary.rolloutId);
    const h = hosts[0]!;
    const kinds = store.journal(summary.rolloutId, { systemId: h.systemId }).map((j) => `${j.kind}:${(j.data as { to?: string; operation?: string }).to ?? (j.data as { operation?: string }).operation}`);
    expect(kinds).toEqual(
      expect.arrayContaining(["transition:commissioning", "maas_call:commission", "transition:deploying", "maas_call:deploy", "transition:inService"]),
    );
    expect(h.maasStatus).toBe(NodeStatus.DEPLOYED);
  });

  it("re-running a completed rollout with --resume changes nothing", async () => {
    const first = await rollout({ machines: 12 });
    const before = first.sim.stats().requests.total;
    const again = track(new RolloutRunner({
      maas: first.maas,
      store: first.store,
      config: parseConfig({}),
      logger: silentLogger(),
      requestCount: () => first.maas.stats().requests,
      timeScale: 1000,
      observerPollMs: 5,
    }));
    const summary = await again.run({ resume: true });
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome.inService).toBe(12);
    // At most the resume's own reads (who am I, the stored plan's machines), and no machine
    // commissioned or deployed a second time: counted per machine, not in total.
    expect(first.sim.stats().requests.total - before).toBeLessThanOrEqual(2);
    const perMachine = (first.sim.stats().machines ?? []).map((m) => ({ id: m.system_id, commissioned: m.commissioned, deployed: m.deployed }));
    expect(perMachine).toHaveLength(12);
    expect(perMachine).toEqual(perMachine.map((m) => ({ id: m.id, commissioned: 1, deployed: 1 })));
  });
});
