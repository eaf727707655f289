/**
 * Maintenance passes cut short at their riskiest moments, then finished by the next pass's
 * resume-first step (the one the service and `metalwave remediate` take): a Broken host
 * marked fixed just before the kill, role tags moved to a spare just before the kill, a
 * re-provisioning killed before its hosts started or before its spares took the roles.
 * Each kill is a MAAS port that dies at that point (`killedAt`, test/fakes/intercepted-maas.ts):
 * the call it dies in takes effect in the region, then it and every later call throw, as
 * the requests of a killed process never answer. Afterwards every host ends Deployed and in service, deployed once per
 * attempt, and the journal says what was done.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { runCli } from "./cli.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner, type RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { remediate } from "../../src/runtime/remediation.ts";
import { reprovisionHosts } from "../../src/runtime/reprovision.ts";
import { finishLeftMaintenance, leftBehind } from "../../src/runtime/maintenance.ts";
import { parseConfig, type Config, type ConfigInput } from "../../src/config.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { killedAt, ProcessKilled } from "../fakes/intercepted-maas.ts";

const MIXED_50 = fileURLToPath(new URL("../../machines/fleet-mixed-50.yaml", import.meta.url));

let sim: SimHandle | undefined;
let store: Store | undefined;
let dir: string | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const CONFIG: ConfigInput = {
  rollout: { backoffMs: { base: 1, max: 5 }, maxAttempts: { deploy: 1 } },
  layers: { enabled: false },
  roles: { definitions: { compute: { spares: 1 } } },
  remediation: { maxAttempts: 1, coolDownMs: 0, haltWhenUnhealthy: "20%" },
};
const config: Config = parseConfig(CONFIG);

async function deployed(faults: string | undefined, storePath = ":memory:"): Promise<{ sim: SimHandle; deps: RunnerDeps }> {
  sim = await startSimulator({ fleet: MIXED_50, zeroDuration: true, seed: 11, ...(faults ? { faults } : {}) });
  const maas = simClient(sim);
  store = openStore(storePath);
  const deps: RunnerDeps = simDeps(maas, store, config);
  const first = await new RolloutRunner(deps).run({ resume: false });
  expect(first.state).toBe("completed");
  return { sim, deps };
}

async function computeHosts(): Promise<{ hosts: { systemId: string; hostname: string }[]; spare: { systemId: string; hostname: string } }> {
  const probe = await startSimulator({ fleet: MIXED_50, zeroDuration: true, seed: 11 });
  try {
    const plan = await readAndPlan(simClient(probe), config);
    return { hosts: plan.rollout.hosts.filter((h) => h.roles.includes("compute")), spare: plan.roles.spares["compute"]![0]! };
  } finally {
    await probe.close();
  }
}

const events = (s: Store, rolloutId: string) => s.journal(rolloutId, { kind: "rollout" }).map((j) => j.data as { event?: string; [k: string]: unknown });
const kindOf = (s: Store, id: string) => (s.getRollout(id)?.plan as { kind?: string } | undefined)?.kind ?? "rollout";
const counts = (h: SimHandle, systemId: string) => h.stats().machines?.find((m) => m.system_id === systemId);

describe("a deployment rollout left unfinished", () => {
  it("paused with hosts still waiting and none in flight, it stops every pass until it ends (resumed to its end, or aborted): a pass would strand it", async () => {
    const { deps } = await deployed(undefined);
    const done = deps.store.latestRollout()!;
    // The next rollout (say, a scale-out) paused by its budget before its later waves started.
    const plan = deps.store.getRollout(done.id)!.plan as { hosts: unknown[] };
    const paused = deps.store.createRollout({ ...plan, waves: [[]] }).id;
    deps.store.setRolloutStatus(paused, "paused", "total failure budget exceeded");
    expect(leftBehind(deps.store)).toEqual({ step: "blocked", rolloutId: paused, status: "paused", unsettled: 0 });
    const err = await finishLeftMaintenance(deps, "resume it first").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "MAINTENANCE_BLOCKED", rolloutId: paused, message: expect.stringContaining(`rollout ${paused} is paused`) });
    expect(deps.store.latestRollout()!.id).toBe(paused);
    // Once it ends (here: aborted), passes run again.
    deps.store.setRolloutStatus(paused, "aborted", "operator");
    expect(leftBehind(deps.store)).toBeUndefined();
  }, 60_000);
});

describe("a remediation pass killed right after mark_fixed", () => {
  it("is finished by the next pass: the host is released with erase, deployed once and in service; the journal says so", async () => {
    const { sim, deps } = await deployed(undefined);
    const maas = deps.maas;
    // Quarantined while Deployed (its layering failed): mark_fixed returns it to Deployed.
    const host = (await maas.listMachines({ tags: ["compute"] }))[0]!;
    await maas.markBroken(host.system_id, "test: layering failed");
    const before = { ...counts(sim, host.system_id)! };

    await expect(remediate({ ...deps, maas: killedAt(maas, "markFixed", { after: true }) })).rejects.toThrow(ProcessKilled);
    // The kill left the host fixed (Deployed, holding its role), and the pass's rollout, with it planned, in the store.
    expect((await maas.readMachine(host.system_id)).status).toBe(NodeStatus.DEPLOYED);
    const passId = deps.store.latestRollout()!.id;
    expect(kindOf(deps.store, passId)).toBe("remediation");
    expect(deps.store.latestRollout()!.status).toBe("running");
    expect(leftBehind(deps.store)).toMatchObject({ step: "resume", rolloutId: passId, pass: "remediation" });

    // The next pass finishes it first, as the service and `metalwave remediate` do.
    const finished = await finishLeftMaintenance(deps, "resume it");
    expect(finished.resumed).toMatchObject({ rolloutId: passId, state: "completed", byOutcome: { inService: 1, quarantined: 0 } });
    expect(counts(sim, host.system_id)).toMatchObject({ released: before.released + 1, erased: before.erased + 1, deployed: before.deployed + 1, status_name: "Deployed" });
    expect(deps.store.getHost(passId, host.system_id)?.outcome).toBe("inService");
    const journal = events(deps.store, passId);
    expect(journal.map((e) => e.event)).toEqual(expect.arrayContaining(["created", "planned", "resumed", "markFixedSkipped", "prepared", "completed"]));
    expect(journal.find((e) => e.event === "markFixedSkipped")).toMatchObject({ systemId: host.system_id, status: "Deployed" });

    // Its attempt counts once, and nothing is left for a later pass.
    const after = await remediate(deps);
    expect(after.unhealthy).toBe(0);
    expect(leftBehind(deps.store)).toBeUndefined();
    expect(counts(sim, host.system_id)?.deployed).toBe(before.deployed + 1);
  }, 60_000);
});

describe("a remediation pass killed while the role tags move to a spare", () => {
  it("is finished by the next pass: the tags move, the spare is deployed once and in service; sparesPromoted is journaled when they move", async () => {
    const { hosts, spare } = await computeHosts();
    const bad = hosts[2]!;
    const { sim, deps } = await deployed(`deploy.fail@${bad.hostname}=1`);
    const maas = deps.maas;
    // One attempt (maxAttempts 1), which fails: the host is then past its cap.
    const tried = await remediate(deps);
    expect(tried.attempted.map((a) => a.hostname)).toEqual([bad.hostname]);
    expect(tried.rollout?.byOutcome.quarantined).toBe(1);

    // The next pass picks the spare; the kill comes after the first tag moved.
    const spareBefore = (await maas.readMachine(spare.systemId)).status;
    await expect(remediate({ ...deps, maas: killedAt(maas, "updateTagNodes", { after: true }) })).rejects.toThrow(ProcessKilled);
    // Half-tagged: the role is on the spare, nothing deployed it yet.
    const half = await maas.readMachine(spare.systemId);
    expect(half.tag_names).toContain("compute");
    expect(half.status).toBe(spareBefore);
    const replacementId = deps.store.latestRollout()!.id;
    expect(kindOf(deps.store, replacementId)).toBe("replacement");
    expect(events(deps.store, replacementId).map((e) => e.event)).not.toContain("sparesPromoted");

    const finished = await finishLeftMaintenance(deps, "resume it");
    expect(finished.resumed).toMatchObject({ rolloutId: replacementId, state: "completed", byOutcome: { inService: 1 } });
    const spareNow = await maas.readMachine(spare.systemId);
    expect(spareNow.status).toBe(NodeStatus.DEPLOYED);
    expect(spareNow.tag_names).toContain("compute");
    expect(spareNow.tag_names).not.toContain("metalwave-spare-compute");
    expect((await maas.readMachine(bad.systemId)).tag_names).not.toContain("compute");
    expect(counts(sim, spare.systemId)?.deployed).toBe(1);
    const journal = events(deps.store, replacementId);
    expect(journal.map((e) => e.event)).toEqual(expect.arrayContaining(["resumed", "tagsMoved", "sparesPromoted", "prepared", "completed"]));
    // The promotion is journaled as the tags move, before any host of the rollout starts.
    const seq = (name: string) => journal.findIndex((e) => e.event === name);
    expect(seq("sparesPromoted")).toBeLessThan(seq("waveStarted"));
    expect(journal.find((e) => e.event === "sparesPromoted")).toMatchObject({ replacements: [{ failed: { systemId: bad.systemId }, role: "compute", spare: { systemId: spare.systemId } }] });

    // The failed host is no longer a member: nothing is left to do.
    expect((await remediate(deps)).unhealthy).toBe(0);
  }, 60_000);
});

describe("a re-provisioning cut short", () => {
  it("killed before its hosts started: the resumed rollout goes on, and spares take the roles of the hosts it leaves quarantined", async () => {
    const { hosts, spare } = await computeHosts();
    const [healthy, doomed] = [hosts[0]!, hosts[1]!];
    // Erasing the doomed host's disks always fails: its re-provisioning cannot succeed.
    const { sim, deps } = await deployed(`erase.fail@${doomed.hostname}=1`);
    const req = { hosts: [healthy.hostname, doomed.hostname], reason: "disk errors", erase: "quick" as const };
    // Killed once its rollout is in the store (the runner's first read after writing it).
    await expect(reprovisionHosts({ ...deps, maas: killedAt(deps.maas, "whoami", { after: false }) }, req, { spares: true })).rejects.toThrow(ProcessKilled);
    const reprovisionId = deps.store.latestRollout()!.id;
    expect(kindOf(deps.store, reprovisionId)).toBe("reprovision");
    expect(leftBehind(deps.store)).toMatchObject({ step: "resume", pass: "reprovision" });

    const finished = await finishLeftMaintenance(deps, "resume it");
    expect(finished.resumed).toMatchObject({ rolloutId: reprovisionId, state: "completed", byOutcome: { inService: 1, quarantined: 1 } });
    expect(finished.resumedSpares?.replacements).toEqual([{ failed: { systemId: doomed.systemId, hostname: doomed.hostname }, role: "compute", spare: { systemId: spare.systemId, hostname: spare.hostname } }]);
    expect(finished.resumedSpares?.replacement).toMatchObject({ state: "completed", byOutcome: { inService: 1 } });
    expect(counts(sim, healthy.systemId)).toMatchObject({ deployed: 2, erased: 1, status_name: "Deployed" });
    expect(counts(sim, spare.systemId)).toMatchObject({ deployed: 1, status_name: "Deployed" });
    expect((await deps.maas.readMachine(spare.systemId)).tag_names).toContain("compute");
    expect(events(deps.store, reprovisionId).find((e) => e.event === "sparesPromoted")).toMatchObject({ rolloutId: finished.resumedSpares?.replacement?.rolloutId });
    expect(leftBehind(deps.store)).toBeUndefined();
  }, 60_000);

  it("killed after its rollout ended, before the spares took the roles: the next pass promotes them", async () => {
    const { hosts, spare } = await computeHosts();
    const doomed = hosts[1]!;
    const { sim, deps } = await deployed(`erase.fail@${doomed.hostname}=1`);
    // The kill comes as the spares step reads the machines, once the re-provisioning's rollout has completed.
    const reprovisionDone = () => {
      const latest = deps.store.latestRollout();
      return latest !== undefined && latest.status === "completed" && kindOf(deps.store, latest.id) === "reprovision";
    };
    const port = killedAt(deps.maas, "listMachines", { after: false, when: reprovisionDone });
    await expect(reprovisionHosts({ ...deps, maas: port }, { hosts: [doomed.hostname], reason: "disk errors", erase: "quick" }, { spares: true })).rejects.toThrow(ProcessKilled);
    const reprovisionId = deps.store.latestRollout()!.id;
    expect(deps.store.latestRollout()!.status).toBe("completed");
    expect((await deps.maas.readMachine(spare.systemId)).tag_names).not.toContain("compute");
    expect(leftBehind(deps.store)).toEqual({ step: "spares", rolloutId: reprovisionId, pass: "reprovision" });

    const finished = await finishLeftMaintenance(deps, "resume it");
    expect(finished.resumed).toBeUndefined();
    expect(finished.resumedSpares?.replacements.map((x) => x.spare?.systemId)).toEqual([spare.systemId]);
    expect(finished.resumedSpares?.replacement?.byOutcome.inService).toBe(1);
    expect(counts(sim, spare.systemId)).toMatchObject({ deployed: 1, status_name: "Deployed" });
    expect(leftBehind(deps.store)).toBeUndefined();
  }, 60_000);
});

describe("metalwave remediate after a killed pass", () => {
  /**
   * A deployed fleet on a store file, with `broken` quarantined and a remediation pass over
   * it killed right after its mark_fixed; then the store closed as the killed process left
   * it, and what a CLI run needs: a key file and a config. `run` runs metalwave on them.
   */
  async function killedPass(prefix: string) {
    dir = mkdtempSync(join(tmpdir(), prefix));
    const storePath = join(dir, "store.sqlite");
    const { sim, deps } = await deployed(undefined, storePath);
    const [broken, other] = await deps.maas.listMachines({ tags: ["compute"] });
    await deps.maas.markBroken(broken!.system_id, "test: layering failed");
    const before = { ...counts(sim, broken!.system_id)! };
    await expect(remediate({ ...deps, maas: killedAt(deps.maas, "markFixed", { after: true }) })).rejects.toThrow(ProcessKilled);
    const passId = deps.store.latestRollout()!.id;
    store!.close();
    store = undefined;
    const keyFile = join(dir, "maas.key");
    writeFileSync(keyFile, sim.apiKey);
    const configFile = join(dir, "config.json");
    writeFileSync(configFile, JSON.stringify({ ...CONFIG, maas: { pollIntervalMs: 20, requestsPerSecond: 0 } }));
    const run = (args: string[]) =>
      runCli([...args, "--config", configFile, "--maas-url", sim.url, "--api-key-file", keyFile, "--store", storePath, "--json"], { METALWAVE_LOG_LEVEL: "warn" });
    return { sim, storePath, broken: broken!, other: other!, before, passId, run };
  }

  it("finishes the killed pass's rollout first, as the service does, then runs its own pass", async () => {
    const { sim, storePath, broken: host, before, passId, run } = await killedPass("mw-remediate-resume-");
    const out = await run(["remediate"]);
    expect(out.code, out.stderr.slice(-2000)).toBe(0);
    const result = JSON.parse(out.stdout) as { resumed?: { rolloutId: string; byOutcome: { inService: number } }; unhealthy: number; rollout: unknown };
    expect(result.resumed).toMatchObject({ rolloutId: passId, byOutcome: { inService: 1 } });
    expect(result.unhealthy).toBe(0);
    expect(result.rollout).toBeNull();
    expect(counts(sim, host.system_id)).toMatchObject({ deployed: before.deployed + 1, erased: before.erased + 1, status_name: "Deployed" });
    store = openStore(storePath);
    expect(store.getRollout(passId)?.status).toBe("completed");
  }, 60_000);

  it("metalwave reprovision also finishes the killed pass first, then re-provisions what it was asked to", async () => {
    const { sim, storePath, broken, other, before, passId, run } = await killedPass("mw-reprovision-resume-");
    const out = await run(["reprovision", other.hostname]);
    expect(out.code, out.stderr.slice(-2000)).toBe(0);
    const result = JSON.parse(out.stdout) as { resumed?: { rolloutId: string; byOutcome: { inService: number } }; reprovision: { byOutcome: { inService: number } } };
    expect(result.resumed).toMatchObject({ rolloutId: passId, byOutcome: { inService: 1 } });
    expect(result.reprovision.byOutcome.inService).toBe(1);
    expect(counts(sim, broken.system_id)).toMatchObject({ deployed: before.deployed + 1, status_name: "Deployed" });
    store = openStore(storePath);
    expect(store.getRollout(passId)?.status).toBe("completed");
  }, 60_000);
});
