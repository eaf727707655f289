/**
 * Several regions, end to end against three simulated regions: a rollout spans all three;
 * the canary wave has a host of each; region "b" goes away while its hosts are deploying
 * (its API refuses connections) and comes back. While it is away, "a" and "c" go on, no
 * host of "b" starts, none fails; once it is back its hosts resume, and every machine of
 * every region is deployed exactly once. Hosts are keyed `<region>/<system_id>` in the
 * store and the journal. Runs on both store backends.
 *
 * The regions run on the manual clock, stepped by the test (./stepped-clock.ts): a check
 * that machines are deploying still holds when the test acts on it, and a moment in which
 * nothing may happen is shown by what did happen (the other regions' hosts settling), not
 * by a sleep.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { parseConfig } from "../../src/config.ts";
import { RegionLink } from "../../src/maas/region-link.ts";
import { RegionsMaas } from "../../src/maas/regions.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { BACKENDS, freshDatabase } from "../store/backends.ts";
import { stepClocks, type SteppedClock } from "./stepped-clock.ts";
import { until } from "../fakes/until.ts";

const NAMES = ["a", "b", "c"] as const;
const PER_REGION = 12;

let sims: SimHandle[] = [];
let store: Store | undefined;
let cleanup: (() => Promise<void>) | undefined;
let clock: SteppedClock | undefined;
afterEach(async () => {
  clock?.stop();
  clock = undefined;
  store?.close();
  store = undefined;
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
  await cleanup?.();
  cleanup = undefined;
});

async function openBackend(backend: (typeof BACKENDS)[number]): Promise<Store> {
  if (backend === "sqlite") return openStore(":memory:");
  const db = await freshDatabase();
  cleanup = db.drop;
  return openStore(db.url);
}

/** Three regions of PER_REGION machines on the manual clock, their time stepped until the test ends. */
async function startRegions(seed: number): Promise<SimHandle[]> {
  sims = await Promise.all(NAMES.map((name, i) => startSimulator({ machines: PER_REGION, speed: 1000, seed: seed + i, hostnamePrefix: name, clock: "manual" })));
  clock = stepClocks(sims);
  return sims;
}

describe.each(BACKENDS)("a rollout over three regions (%s store)", (backend) => {
  it("goes on in the other regions while one is away, resumes its hosts when it is back, deploys each machine once", async () => {
    await startRegions(21);
    store = await openBackend(backend);
    const clients = sims.map((s) => simClient(s));
    const links = NAMES.map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 }));
    const maas = new RegionsMaas(links);
    const config = parseConfig({
      layers: { enabled: false },
      rollout: { waves: [1, "50%", "100%"], maxInFlight: 4, budget: { perWave: 0, total: 0 }, backoffMs: { base: 1, max: 5 } },
    });
    const b = sims[1]!;
    let sawProgressWhileAway = false;
    const deps = simDeps(clients[0]!, store, config);
    const runner = new RolloutRunner({
      ...deps,
      maas,
      requestCount: () => clients.reduce((n, c) => n + c.stats().requests, 0),
      onProgress: (p) => {
        if (!b.listening && (p.regionsDown ?? []).includes("b")) sawProgressWhileAway = true;
      },
    });
    const running = runner.run({ resume: false });

    // Region b goes away once one of its machines has been sent a deploy of the second wave
    // (its canary is done), while it is still deploying.
    await until("a deploy in region b's second wave", () => (b.stats().machines ?? []).filter((m) => m.deployed > 0).length >= 2);
    await b.goAway();
    const rolloutId = store.latestRollout()!.id;
    const journal = () => store!.journal(rolloutId).map((e) => ({ ...e, data: e.data as Record<string, unknown> }));
    await until("region b found down", () => journal().some((e) => e.data["event"] === "regionDown"));
    const downAt = journal().find((e) => e.data["event"] === "regionDown")!;
    expect(downAt.data["region"]).toBe("b");
    // a and c go on: hosts of theirs settle while b is away.
    const settledInService = (region: string) => store!.loadHosts(rolloutId).filter((h) => regionOfKey(h.systemId) === region && h.outcome === "inService").length;
    const before = { a: settledInService("a"), c: settledInService("c") };
    // (Either may have none of the current wave left; together they do, since b's hosts are round robin with theirs.)
    await until("hosts of a and c settling while b is away", () => settledInService("a") + settledInService("c") > before.a + before.c);
    const bBefore = store.loadHosts(rolloutId).filter((h) => regionOfKey(h.systemId) === "b").length;
    // Then every host of a and c in the wave settles: each freed a slot in which a host of b
    // could have been started (the journal below shows none was).
    const wave = (store.getRollout(rolloutId)!.plan as { waves: string[][] }).waves[runner.progress().wave]!;
    const settled = () => new Map(store!.loadHosts(rolloutId).map((h) => [h.systemId, h.outcome !== null]));
    await until("every host of a and c in the wave settled while b is away", () => {
      const done = settled();
      return wave.filter((k) => regionOfKey(k) !== "b").every((k) => done.get(k) === true);
    });
    expect(store.loadHosts(rolloutId).filter((h) => regionOfKey(h.systemId) === "b")).toHaveLength(bBefore);
    expect(b.listening).toBe(false);
    await b.comeBack();

    const summary = await running;
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome).toEqual({ inService: 3 * PER_REGION, quarantined: 0, aborted: 0, refused: 0, failed: 0 });
    expect(summary.failures).toEqual([]);
    expect(sawProgressWhileAway).toBe(true);

    const entries = journal();
    const upAt = entries.find((e) => e.data["event"] === "regionUp")!;
    expect(upAt.data["region"]).toBe("b");
    expect(entries.filter((e) => e.data["event"] === "regionDown" || e.data["event"] === "regionUp").map((e) => e.data["region"])).toEqual(["b", "b"]);
    // No host of b started while it was away (a start is a host's first transition).
    const startedWhileAway = entries.filter((e) => e.kind === "transition" && e.data["from"] === null && e.seq > downAt.seq && e.seq < upAt.seq);
    expect(startedWhileAway.filter((e) => regionOfKey(e.systemId ?? "") === "b")).toEqual([]);
    // b had hosts in flight when it went away, and hosts still to start.
    expect(bBefore).toBeGreaterThan(0);
    expect(bBefore).toBeLessThan(PER_REGION);

    // The canary wave had one host of each region.
    const plan = store.getRollout(rolloutId)!.plan as { waves: string[][] };
    expect(plan.waves[0]!.map((k) => regionOfKey(k)).sort()).toEqual(["a", "b", "c"]);
    // Every host is keyed by its region, and every machine of every region was deployed exactly once.
    const hosts = store.loadHosts(rolloutId);
    expect(hosts).toHaveLength(3 * PER_REGION);
    NAMES.forEach((name, i) => {
      const machines = sims[i]!.stats().machines ?? [];
      expect(machines.map((m) => m.deployed)).toEqual(machines.map(() => 1));
      expect(machines.every((m) => m.status_name === "Deployed")).toBe(true);
      expect(hosts.filter((h) => regionOfKey(h.systemId) === name).map((h) => h.systemId.slice(name.length + 1)).sort()).toEqual(machines.map((m) => m.system_id).sort());
    });
    expect(links[1]!.counters.outages).toBe(1);
    expect(links[0]!.counters.outages + links[2]!.counters.outages).toBe(0);
  }, 120_000);

  it("resumes a paused rollout over three regions from the hosts' records: the rest start in every region, nothing is sent twice", async () => {
    await startRegions(41);
    store = await openBackend(backend);
    const clients = sims.map((s) => simClient(s));
    const regionsPort = () => new RegionsMaas(NAMES.map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 })));
    const config = parseConfig({ layers: { enabled: false }, rollout: { waves: [1, "100%"], maxInFlight: 6, backoffMs: { base: 1, max: 5 } } });
    const deps = { ...simDeps(clients[0]!, store, config), requestCount: () => clients.reduce((n, c) => n + c.stats().requests, 0) };
    let paused = false;
    const first: RolloutRunner = new RolloutRunner({
      ...deps,
      maas: regionsPort(),
      // Pause (as SIGTERM does) once hosts of the second wave are deploying.
      onProgress: (p) => {
        if (!paused && p.wave === 1 && (p.byPhase["deploying"] ?? 0) >= 2) {
          paused = true;
          first.pause("paused by SIGTERM");
        }
      },
    });
    const stopped = await first.run({ resume: false });
    expect(stopped.state).toBe("paused");
    expect(stopped.byOutcome.inService).toBeLessThan(3 * PER_REGION);

    const resumed = await new RolloutRunner({ ...deps, maas: regionsPort() }).run({ resume: true });
    expect(resumed.state).toBe("completed");
    expect(resumed.byOutcome).toEqual({ inService: 3 * PER_REGION, quarantined: 0, aborted: 0, refused: 0, failed: 0 });
    sims.forEach((sim) => {
      const machines = sim.stats().machines ?? [];
      expect(machines.map((m) => [m.commissioned, m.deployed])).toEqual(machines.map(() => [1, 1]));
    });
  }, 120_000);

  it("resumes with a region away: the others' hosts go on at once, its hosts wait on it (through a kill and a second resume) and are restored once it is back, each machine deployed once", async () => {
    // A restored host its region's status settles at once is sent nothing more (XState warns
    // "was sent to stopped actor" otherwise: issue 10).
    const warn = vi.spyOn(console, "warn");
    await startRegions(61);
    store = await openBackend(backend);
    const clients = sims.map((s) => simClient(s));
    const regionsPort = () => new RegionsMaas(NAMES.map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 })));
    const config = parseConfig({ layers: { enabled: false }, rollout: { waves: [1, "100%"], maxInFlight: 9, backoffMs: { base: 1, max: 5 } } });
    const deps = { ...simDeps(clients[0]!, store, config), requestCount: () => clients.reduce((n, c) => n + c.stats().requests, 0) };
    const b = sims[1]!;
    let killed: Promise<void> | undefined;
    const first: RolloutRunner = new RolloutRunner({
      ...deps,
      maas: regionsPort(),
      // A kill (the runner stops where it is) once hosts of b's second wave are deploying: they are in flight when b goes away.
      onProgress: () => {
        if (!killed && (b.stats().machines ?? []).filter((m) => m.deployed > 0).length >= 3) killed = first.close();
      },
    });
    await expect(first.run({ resume: false })).rejects.toMatchObject({ code: "RUNNER_CLOSED" });
    await killed;
    const rolloutId = store.latestRollout()!.id;
    const bHosts = () => store!.loadHosts(rolloutId).filter((h) => regionOfKey(h.systemId) === "b");
    const bInFlight = bHosts().filter((h) => h.outcome === null).map((h) => h.systemId).sort();
    expect(bInFlight.length).toBeGreaterThan(0);
    await b.goAway();

    // Resume with b away: a and c go on at once; b's hosts in flight wait on it.
    let waitingSeen = 0;
    const second = new RolloutRunner({ ...deps, maas: regionsPort(), onProgress: (p) => (waitingSeen = Math.max(waitingSeen, p.waitingOnRegion ?? 0)) });
    const secondRun = second.run({ resume: true });
    const settledIn = (region: string) => store!.loadHosts(rolloutId).filter((h) => regionOfKey(h.systemId) === region && h.outcome === "inService").length;
    await until("every host of a and c in service while b is away", () => settledIn("a") === PER_REGION && settledIn("c") === PER_REGION);
    expect(waitingSeen).toBe(bInFlight.length);
    expect(second.progress().regionsDown).toEqual(["b"]);
    // Nothing of b was touched: its records are as the pause left them, and none of its hosts started.
    expect(bHosts().filter((h) => h.outcome === null).map((h) => h.systemId).sort()).toEqual(bInFlight);
    const journal = () => store!.journal(rolloutId).map((e) => ({ ...e, data: e.data as Record<string, unknown> }));
    expect(journal().filter((e) => e.data["event"] === "waitingOnRegion").map((e) => e.systemId).sort()).toEqual(bInFlight);
    // A kill while b is still away (the runner stops where it is; the store stays as it is), then a resume.
    await second.close();
    await expect(secondRun).rejects.toMatchObject({ code: "RUNNER_CLOSED" });
    let thirdWaiting = 0;
    const third = new RolloutRunner({ ...deps, maas: regionsPort(), onProgress: (p) => (thirdWaiting = p.waitingOnRegion ?? 0) });
    const thirdRun = third.run({ resume: true });
    await until("the third run holding b's hosts", () => thirdWaiting === bInFlight.length);
    await b.comeBack();

    const summary = await thirdRun;
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome).toEqual({ inService: 3 * PER_REGION, quarantined: 0, aborted: 0, refused: 0, failed: 0 });
    expect(summary.waitingOnRegion).toBe(0);
    expect(journal().filter((e) => e.data["event"] === "regionCaughtUp").map((e) => [e.data["region"], e.data["hosts"]])).toEqual([["b", bInFlight.length]]);
    sims.forEach((sim) => {
      const machines = sim.stats().machines ?? [];
      expect(machines.map((m) => [m.commissioned, m.deployed])).toEqual(machines.map(() => [1, 1]));
    });
    expect(warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes("sent to stopped actor"))).toEqual([]);
    warn.mockRestore();
  }, 120_000);
});
