/**
 * Automatic remediation by policy: a quarantined host is provisioned again up to its
 * cap, waits out its cool-down between tries, and then a spare takes its role; a pass
 * does nothing when too many hosts are unhealthy at once.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner, type RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { remediate } from "../../src/runtime/remediation.ts";
import { parseConfig, type Config, type ConfigInput } from "../../src/config.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";

/** The smallest fleet that fills every default role, with compute hosts and a compute spare: what is checked here is per host, so size adds nothing. */
const FLEET = fileURLToPath(new URL("../../machines/fleet-layered-14.yaml", import.meta.url));

let sim: SimHandle | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

function configWith(remediation: ConfigInput["remediation"]): Config {
  return parseConfig({
    rollout: { backoffMs: { base: 1, max: 5 }, maxAttempts: { deploy: 1 } },
    layers: { enabled: false },
    roles: { definitions: { compute: { spares: 1 } } },
    remediation,
  });
}


async function deployed(faults: string | undefined, config: Config): Promise<{ sim: SimHandle; deps: RunnerDeps }> {
  sim = await startSimulator({ fleet: FLEET, zeroDuration: true, seed: 11, ...(faults ? { faults } : {}) });
  const maas = simClient(sim);
  store = openStore(":memory:");
  const deps: RunnerDeps = simDeps(maas, store, config);
  await new RolloutRunner(deps).run({ resume: false });
  return { sim, deps };
}

describe("remediation", () => {
  it("retries a quarantined host up to its cap, respecting the cool-down, then a spare takes its role", async () => {
    const probe = await startSimulator({ fleet: FLEET, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), configWith({}));
    await probe.close();
    const bad = plan.rollout.hosts.filter((h) => h.roles.includes("compute"))[2]!;
    const spare = plan.roles.spares["compute"]![0]!;

    // Every deploy of the bad host fails: the rollout quarantines it.
    const policy = { maxAttempts: 2, coolDownMs: 0, maxAtOnce: 5, haltWhenUnhealthy: "20%" } as const;
    const { sim, deps } = await deployed(`deploy.fail@${bad.hostname}=1`, configWith(policy));
    const maas = deps.maas;
    expect((await maas.readMachine(bad.systemId)).status).toBe(NodeStatus.BROKEN);

    const first = await remediate(deps);
    expect(first.attempted).toEqual([{ systemId: bad.systemId, hostname: bad.hostname, attempt: 1 }]);
    expect(first.rollout?.byOutcome.quarantined).toBe(1);

    // With a cool-down, the next pass leaves it alone and says until when.
    const waiting = await remediate({ ...deps, config: configWith({ ...policy, coolDownMs: 3_600_000 }) });
    expect(waiting.attempted).toEqual([]);
    expect(waiting.coolingDown.map((c) => c.hostname)).toEqual([bad.hostname]);

    const second = await remediate(deps);
    expect(second.attempted).toEqual([{ systemId: bad.systemId, hostname: bad.hostname, attempt: 2 }]);

    // At the cap: quarantined for good, and the spare takes the role.
    const third = await remediate(deps);
    expect(third.attempted).toEqual([]);
    expect(third.exhausted).toEqual([{ systemId: bad.systemId, hostname: bad.hostname, attempts: 2 }]);
    expect(third.replacements).toEqual([{ failed: { systemId: bad.systemId, hostname: bad.hostname }, role: "compute", spare: { systemId: spare.systemId, hostname: spare.hostname } }]);
    expect(third.replacement?.byOutcome.inService).toBe(1);
    const badNow = await maas.readMachine(bad.systemId);
    expect(badNow.status).toBe(NodeStatus.BROKEN);
    expect(badNow.tag_names).not.toContain("compute");
    expect((await maas.readMachine(spare.systemId)).status).toBe(NodeStatus.DEPLOYED);
    // The bad host was deployed by the rollout and by each of the two attempts, never more.
    expect(sim.stats().machines?.find((m) => m.system_id === bad.systemId)?.deployed).toBe(3);

    // Nothing left to do: it is no longer a member of any role.
    const after = await remediate(deps);
    expect(after.unhealthy).toBe(0);
  }, 120_000);

  it("counts only the attempts within attemptsWindowMs toward the cap: older ones are forgotten", async () => {
    const probe = await startSimulator({ fleet: FLEET, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), configWith({}));
    await probe.close();
    const bad = plan.rollout.hosts.filter((h) => h.roles.includes("compute"))[2]!;
    const policy = { maxAttempts: 1, coolDownMs: 0, attemptsWindowMs: 3_600_000 } as const;
    const { deps } = await deployed(`deploy.fail@${bad.hostname}=1`, configWith(policy));
    const first = await remediate(deps);
    expect(first.attempted).toEqual([{ systemId: bad.systemId, hostname: bad.hostname, attempt: 1 }]);
    // A day later the hour-old attempt no longer counts: the host gets a first attempt again.
    const dayLater = await remediate(deps, Date.now() + 86_400_000);
    expect(dayLater.exhausted).toEqual([]);
    expect(dayLater.attempted).toEqual([{ systemId: bad.systemId, hostname: bad.hostname, attempt: 1 }]);
    // Now, both attempts are within the hour: at the cap.
    const now = await remediate(deps);
    expect(now.attempted).toEqual([]);
    expect(now.exhausted).toEqual([{ systemId: bad.systemId, hostname: bad.hostname, attempts: 2 }]);
  }, 120_000);

  it("a host quarantined while Deployed is released with erase and deployed again, not only re-layered (mark_fixed returns it to Deployed)", async () => {
    const { sim, deps } = await deployed(undefined, configWith({ coolDownMs: 0 }));
    const maas = deps.maas;
    // Quarantined as a rollout does when a Deployed host's layering fails: Broken from Deployed.
    const host = (await maas.listMachines({ tags: ["compute"] }))[0]!;
    await maas.markBroken(host.system_id, "test: layering failed");
    const counts = () => sim.stats().machines?.find((m) => m.system_id === host.system_id);
    const before = { ...counts()! };

    const r = await remediate(deps);
    expect(r.attempted).toEqual([{ systemId: host.system_id, hostname: host.hostname, attempt: 1 }]);
    expect(r.rollout?.byOutcome.inService).toBe(1);
    // Released with the policy's erase, then deployed once more: a fresh installation.
    expect(counts()).toMatchObject({ released: before.released + 1, erased: before.erased + 1, deployed: before.deployed + 1, status_name: "Deployed" });
    const events = deps.store.journal(r.rollout!.rolloutId, { kind: "rollout" }).map((j) => j.data as { event?: string; status?: string });
    expect(events.find((e) => e.event === "markedFixed")).toMatchObject({ status: "Deployed" });
    const to = deps.store.journal(r.rollout!.rolloutId, { kind: "transition", systemId: host.system_id }).map((j) => (j.data as { to?: string }).to);
    expect(to).toEqual(expect.arrayContaining(["releasing", "deploying", "inService"]));
  }, 60_000);

  it("a host quarantined while commissioning is commissioned again from Broken, not marked fixed, then tagged and deployed", async () => {
    const probe = await startSimulator({ fleet: FLEET, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), configWith({}));
    await probe.close();
    const flaky = plan.rollout.hosts.filter((h) => h.roles.includes("compute"))[1]!;
    // Its first two commissionings fail (the rollout's two attempts): quarantined, never commissioned successfully.
    const { sim, deps } = await deployed(`commission.fail@${flaky.hostname}=1:first=2`, configWith({ coolDownMs: 0 }));
    const maas = deps.maas;
    const broken = await maas.readMachine(flaky.systemId);
    expect(broken.status).toBe(NodeStatus.BROKEN);
    expect(broken.commissioning_status).toBe(3);
    const counts = () => sim.stats().machines?.find((m) => m.system_id === flaky.systemId);
    const before = { ...counts()! };

    const r = await remediate(deps);
    expect(r.attempted).toEqual([{ systemId: flaky.systemId, hostname: flaky.hostname, attempt: 1 }]);
    expect(r.rollout?.byOutcome.inService).toBe(1);
    // Commissioned once more, deployed once, never released (MAAS held nothing to release).
    expect(counts()).toMatchObject({ commissioned: before.commissioned + 1, deployed: before.deployed + 1, released: before.released, status_name: "Deployed" });
    const events = deps.store.journal(r.rollout!.rolloutId, { kind: "rollout" }).map((j) => (j.data as { event?: string }).event);
    expect(events).not.toContain("markedFixed");
    expect(events).not.toContain("markFixedFailed");
    const to = deps.store.journal(r.rollout!.rolloutId, { kind: "transition", systemId: flaky.systemId }).map((j) => (j.data as { to?: string }).to);
    expect(to).toEqual(["enlisted", "commissioning", "tagging", "allocating", "deploying", "deployed", "inService"]);
    const after = await maas.readMachine(flaky.systemId);
    expect(after.commissioning_status).toBe(2);
    expect(after.tag_names).toContain("compute");
  }, 60_000);

  it("releases a host left in Failed disk erasing again (MAAS allows it) instead of failing it as an unexpected status", async () => {
    const probe = await startSimulator({ fleet: FLEET, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), configWith({}));
    await probe.close();
    const host = plan.rollout.hosts.filter((h) => h.roles.includes("compute"))[2]!;
    // Its disks cannot be erased: every erase ends Failed disk erasing.
    const { sim, deps } = await deployed(`erase.fail@${host.hostname}=1`, configWith({ coolDownMs: 0 }));
    await deps.maas.release(host.systemId, { erase: true, quick_erase: true });
    for (let i = 0; i < 200 && (await deps.maas.readMachine(host.systemId)).status !== NodeStatus.FAILED_DISK_ERASING; i++) await new Promise((r) => setTimeout(r, 5));
    const released = () => sim.stats().machines?.find((m) => m.system_id === host.systemId)?.released ?? 0;
    const before = released();

    const r = await remediate(deps);
    expect(r.attempted.map((a) => a.systemId)).toEqual([host.systemId]);
    // The pass sent the release again; the erase failed again, as MAAS reported it.
    expect(released()).toBeGreaterThan(before);
    expect(r.rollout?.failures.map((f) => [f.systemId, f.code])).toEqual([[host.systemId, "MAAS_FAILED_STATUS"]]);
  }, 60_000);

  it("leaves a host in Failed testing to an operator with why, and touches nothing", async () => {
    const probe = await startSimulator({ fleet: FLEET, zeroDuration: true, seed: 11 });
    const plan = await readAndPlan(simClient(probe), configWith({}));
    await probe.close();
    const tested = plan.rollout.hosts.filter((h) => h.roles.includes("compute"))[1]!;
    const { sim, deps } = await deployed(`test.fail@${tested.hostname}=1`, configWith({ coolDownMs: 0 }));
    // An operator ran MAAS's hardware tests on the host in service, and they failed.
    sim.region.test(sim.region.get(tested.systemId), "test: hardware check", "admin");
    for (let i = 0; i < 200 && (await deps.maas.readMachine(tested.systemId)).status !== NodeStatus.FAILED_TESTING; i++) await new Promise((r) => setTimeout(r, 5));
    expect((await deps.maas.readMachine(tested.systemId)).status).toBe(NodeStatus.FAILED_TESTING);
    const ops = () => sim.stats().requests.byOperation;
    const mutating = () => ["machine.mark_fixed", "machine.release", "machine.commission", "machine.deploy", "machine.mark_broken"].map((op) => ops()[op]?.total ?? 0);
    const before = mutating();
    const rollouts = deps.store.listRollouts().length;

    const r = await remediate(deps);
    expect(r.unhealthy).toBe(1);
    expect(r.attempted).toEqual([]);
    expect(r.rollout).toBeNull();
    expect(r.needsOperator).toEqual([{ systemId: tested.systemId, hostname: tested.hostname, status: "Failed testing", reason: expect.stringMatching(/hardware tests failed.*no commission, release, deploy or mark_fixed/) }]);
    expect(mutating()).toEqual(before);
    expect(deps.store.listRollouts()).toHaveLength(rollouts);
    expect((await deps.maas.readMachine(tested.systemId)).status).toBe(NodeStatus.FAILED_TESTING);
  }, 60_000);

  it("does nothing when too many hosts are unhealthy at once, and says so with the counts", async () => {
    const { sim, deps } = await deployed(undefined, configWith({ haltWhenUnhealthy: 2, coolDownMs: 0 }));
    const victims = (await deps.maas.listMachines({ tags: ["compute"] })).slice(0, 3);
    for (const v of victims) await deps.maas.markBroken(v.system_id, "test: rack power lost");
    const before = sim.stats().requests.byOperation["machine.mark_fixed"]?.total ?? 0;
    const r = await remediate(deps);
    expect(r.halted?.reason).toMatch(/^3 of \d+ hosts are unhealthy at once, more than 2 \(2\)/);
    expect(r.attempted).toEqual([]);
    expect(sim.stats().requests.byOperation["machine.mark_fixed"]?.total ?? 0).toBe(before);
  }, 60_000);
});
