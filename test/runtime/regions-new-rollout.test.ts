/**
 * A new rollout started while one of its regions is away (src/runtime/region-plan.ts): it is
 * planned over the regions that answer and starts them at once; the region away is named
 * (journal `regionNotPlanned`, the stored plan's `regionsUnplanned`, progress) and the
 * rollout does not end without it; once it answers, its hosts are planned, tagged and
 * started, and every machine of both regions is deployed exactly once. A resume of such a
 * rollout (the region still away) keeps waiting for it the same way.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner, type RolloutProgress } from "../../src/runtime/rollout-runner.ts";
import { parseConfig } from "../../src/config.ts";
import { RegionLink } from "../../src/maas/region-link.ts";
import { RegionsMaas } from "../../src/maas/regions.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { until } from "../fakes/until.ts";

const NAMES = ["a", "b"] as const;
const PER_REGION = 20;

let sims: SimHandle[] = [];
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  await Promise.all(sims.map((s) => s.close()));
  [store, sims] = [undefined, []];
});

const config = parseConfig({ layers: { enabled: false }, rollout: { waves: [1, "100%"], maxInFlight: 4, budget: { perWave: 0, total: 0 }, backoffMs: { base: 1, max: 5 } } });

async function twoRegions(): Promise<{ clients: ReturnType<typeof simClient>[]; port: () => RegionsMaas }> {
  sims = await Promise.all(NAMES.map((name, i) => startSimulator({ machines: PER_REGION, zeroDuration: true, seed: 71 + i, hostnamePrefix: name })));
  store = openStore(":memory:");
  const clients = sims.map((s) => simClient(s));
  return { clients, port: () => new RegionsMaas(NAMES.map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 }))) };
}

type Entry = { kind: string; systemId: string | null; data: Record<string, unknown> };
const journalOf = (s: Store, id: string): Entry[] => s.journal(id).map((e) => ({ kind: e.kind, systemId: e.systemId, data: e.data as Record<string, unknown> }));
const events = (s: Store, id: string, event: string) => journalOf(s, id).filter((e) => e.data["event"] === event);
const inService = (s: Store, id: string, region: string) => s.loadHosts(id).filter((h) => regionOfKey(h.systemId) === region && h.outcome === "inService").length;

/** The run completed, region b was planned late (once), and every machine of both regions was deployed exactly once. */
function expectBPlannedLateAndAllDeployedOnce(summary: RolloutProgress, id: string): void {
  expect(summary.state).toBe("completed");
  expect(summary.byOutcome.inService).toBe(2 * PER_REGION);
  expect(events(store!, id, "regionPlanned").map((e) => e.data["region"])).toEqual(["b"]);
  NAMES.forEach((_, i) => {
    const machines = sims[i]!.stats().machines ?? [];
    expect(machines.map((m) => m.deployed)).toEqual(machines.map(() => 1));
  });
}

/** A rollout started with region b away, stopped (as a kill leaves it) once a's canary is in service. */
async function stoppedWithBAway() {
  const { clients, port } = await twoRegions();
  const b = sims[1]!;
  await b.goAway();
  const deps = { ...simDeps(clients[0]!, store!, config), requestCount: () => 0 };
  const first = new RolloutRunner({ ...deps, maas: port() });
  void first.run({ resume: false }).catch(() => undefined);
  await until("region a's canary in service", () => {
    const r = store!.latestRollout();
    return r !== undefined && inService(store!, r.id, "a") >= 1;
  });
  await first.close();
  return { b, deps, port, id: store!.latestRollout()!.id };
}

describe("a new rollout with a region away", () => {
  it("starts the regions that answer, names the one away, and plans and deploys its hosts once it answers", async () => {
    const { clients, port } = await twoRegions();
    const b = sims[1]!;
    await b.goAway();
    let last: RolloutProgress | undefined;
    const runner = new RolloutRunner({ ...simDeps(clients[0]!, store!, config), maas: port(), requestCount: () => 0, onProgress: (p) => (last = p) });
    let ended = false;
    const running = runner.run({ resume: false }).finally(() => (ended = true));

    await until("the rollout recorded", () => store!.latestRollout() !== undefined);
    const id = store!.latestRollout()!.id;
    expect(events(store!, id, "regionNotPlanned").map((e) => e.data["region"])).toEqual(["b"]);
    expect((store!.getRollout(id)!.plan as { regionsUnplanned?: string[] }).regionsUnplanned).toEqual(["b"]);
    // Region a's hosts are all deployed while b is away: a's plan is the whole plan for now.
    await until("every host of region a in service", () => inService(store!, id, "a") === PER_REGION);
    expect(store!.loadHosts(id).filter((h) => regionOfKey(h.systemId) === "b")).toEqual([]);
    expect(last?.regionsUnplanned).toEqual(["b"]);
    // The rollout is not over without b (the journal says so without waiting: no completion).
    expect(events(store!, id, "completed")).toEqual([]);
    expect(ended).toBe(false);

    await b.comeBack();
    const summary = await running;
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome).toEqual({ inService: 2 * PER_REGION, quarantined: 0, aborted: 0, refused: 0, failed: 0 });
    expect(summary.regionsUnplanned).toBeUndefined();
    const planned = events(store!, id, "regionPlanned");
    expect(planned.map((e) => [e.data["region"], e.data["hosts"]])).toEqual([["b", PER_REGION]]);
    // The stored plan holds b's hosts now (a resume would find them), its canary first.
    const plan = store!.getRollout(id)!.plan as { regionsUnplanned?: string[]; hosts: { systemId: string; wave: number; roles: string[] }[]; waves: string[][] };
    expect(plan.regionsUnplanned).toBeUndefined();
    const bHosts = plan.hosts.filter((h) => regionOfKey(h.systemId) === "b");
    expect(bHosts).toHaveLength(PER_REGION);
    const bWaves = plan.waves.map((w) => w.filter((k) => regionOfKey(k) === "b").length).filter((n) => n > 0);
    expect(bWaves[0]).toBe(1);
    for (const h of plan.hosts) expect(plan.waves[h.wave]).toContain(h.systemId);
    // Every machine of both regions deployed exactly once, tagged with its role in its region.
    NAMES.forEach((name, i) => {
      const machines = sims[i]!.stats().machines ?? [];
      expect(machines.map((m) => m.deployed)).toEqual(machines.map(() => 1));
    });
    const tagged = await clients[1]!.listMachines({ tags: ["metalwave-cloud"] });
    expect(tagged).toHaveLength(PER_REGION);
  }, 120_000);

  it("resumed while the region is still away, goes on waiting for it and plans it once it answers", async () => {
    const { b, deps, port, id } = await stoppedWithBAway();

    const second = new RolloutRunner({ ...deps, maas: port() });
    let ended = false;
    const running = second.run({ resume: true }).finally(() => (ended = true));
    await until("every host of region a in service", () => inService(store!, id, "a") === PER_REGION);
    expect(ended).toBe(false);
    await b.comeBack();
    expectBPlannedLateAndAllDeployedOnce(await running, id);
  }, 120_000);

  it("resumed once the region is back, plans it at the start of the resume", async () => {
    const { b, deps, port, id } = await stoppedWithBAway();
    await b.comeBack();

    expectBPlannedLateAndAllDeployedOnce(await new RolloutRunner({ ...deps, maas: port() }).run({ resume: true }), id);
  }, 120_000);
});
