import { describe, it, expect } from "vitest";
import { createActor } from "xstate";
import { rolloutMachine, type RolloutEmitted, type RolloutInput } from "../../state-machines/rollout.ts";
import type { HostOutcome } from "../../state-machines/host.ts";
import { checkRegionNames, hostKey, mergeRegionWaves, planRegionalWaves, regionBudgets, regionOfKey, systemIdOfKey } from "../../state-machines/rollout/regions.ts";
import { planWaves } from "../../state-machines/waves.ts";
import { ConfigError } from "../../src/errors.ts";

const keys = (region: string, n: number) => Array.from({ length: n }, (_, i) => hostKey(region, `m${i + 1}`));

function run(input: Partial<RolloutInput> & { waves: string[][] }) {
  const actor = createActor(rolloutMachine, {
    input: { maxInFlight: 10, phaseCaps: { commissioning: 10, deploying: 10, layering: 10 }, budget: { perWave: "100%", total: "100%" }, ...input },
  });
  const emitted: RolloutEmitted[] = [];
  actor.on("*", (e) => emitted.push(e as RolloutEmitted));
  actor.start();
  return {
    actor,
    take: () => emitted.splice(0),
    settle: (systemId: string, outcome: HostOutcome = "inService") => actor.send({ type: "HOST_SETTLED", systemId, outcome }),
    state: () => actor.getSnapshot().value,
  };
}
const starts = (es: RolloutEmitted[]) => es.filter((e) => e.type === "rollout.startHost").map((e) => (e as { systemId: string }).systemId);

describe("host keys", () => {
  it("are the bare system_id without a region and region/system_id with one, and split back", () => {
    expect(hostKey(null, "abc123")).toBe("abc123");
    expect(hostKey("east", "abc123")).toBe("east/abc123");
    expect(regionOfKey("east/abc123")).toBe("east");
    expect(regionOfKey("abc123")).toBeNull();
    expect(systemIdOfKey("east/abc123")).toBe("abc123");
    expect(systemIdOfKey("abc123")).toBe("abc123");
  });
});

describe("planRegionalWaves", () => {
  it("gives every region its own canary, then cuts each region's hosts by the policy (percentages of that region)", () => {
    const byRegion = new Map([
      ["a", keys("a", 8)],
      ["b", keys("b", 4)],
      ["c", keys("c", 2)],
    ]);
    const waves = planRegionalWaves(byRegion, [1, "50%", "100%"]);
    expect(waves[0]).toEqual(["a/m1", "b/m1", "c/m1"]);
    // 50% of a's 8 is 4, of b's 4 is 2, of c's 2 is 1.
    // Round robin over the regions, so the in-flight window takes every region in turn.
    expect(waves[1]).toEqual(["a/m2", "b/m2", "c/m2", "a/m3", "b/m3", "a/m4", "a/m5"]);
    expect(waves[2]).toEqual(["a/m6", "b/m4", "a/m7", "a/m8"]);
    expect(waves.flat()).toHaveLength(14);
  });

  it("is planWaves itself with one region", () => {
    const ids = ["x1", "x2", "x3", "x4", "x5"];
    expect(planRegionalWaves(new Map([["only", ids]]), [1, 2])).toEqual(planWaves(ids, [1, 2]));
  });
});

describe("region names", () => {
  it("must be unique DNS labels; the error names the entry", () => {
    expect(() => checkRegionNames(["east", "west"])).not.toThrow();
    expect(() => checkRegionNames(["east", "east"])).toThrow(/regions\.1\.name.*already the name of regions\.0/);
    expect(() => checkRegionNames(["East"])).toThrow(ConfigError);
  });
});

describe("rolloutMachine with several regions", () => {
  it("counts the failure budget per region: a region's failures pause the rollout though the total is within budget", () => {
    const waves = [[...keys("a", 10), ...keys("b", 10)]];
    expect(regionBudgets(waves, "10%").limit).toEqual({ a: 1, b: 1 });
    const r = run({ waves, maxInFlight: 20, budget: { perWave: "100%", total: "20%", perRegion: "10%" } });
    r.take();
    r.settle("a/m1", "quarantined");
    r.settle("b/m1", "quarantined");
    expect(r.state()).toBe("running"); // one each: within both regions' budgets and the total
    r.settle("a/m2", "failed");
    expect(r.state()).toBe("paused");
    const paused = r.take().find((e) => e.type === "rollout.paused");
    expect(paused).toMatchObject({ breach: { budget: "perRegion", region: "a", failures: 2, limit: 1 } });
  });

  it("still pauses on the total budget, counted over every region", () => {
    const waves = [[...keys("a", 10), ...keys("b", 10)]];
    const r = run({ waves, maxInFlight: 20, budget: { perWave: "100%", total: 1, perRegion: "50%" } });
    r.settle("a/m1", "failed");
    r.settle("b/m1", "failed");
    expect(r.state()).toBe("paused");
    expect(r.take().find((e) => e.type === "rollout.paused")).toMatchObject({ breach: { budget: "total" } });
  });

  it("starts no host of a region that is down, goes on with the others, and starts the waiting ones when it is back", () => {
    const waves = [[...keys("a", 3), ...keys("b", 3)], [...keys("a", 6).slice(3), ...keys("b", 6).slice(3)]];
    const r = run({ waves, maxInFlight: 2 });
    expect(starts(r.take())).toEqual(["a/m1", "a/m2"]);
    r.actor.send({ type: "REGION_DOWN", region: "b" });
    r.settle("a/m1");
    r.settle("a/m2");
    // a/m3 starts; b's hosts are passed over, not started, not failed.
    expect(starts(r.take())).toEqual(["a/m3"]);
    r.settle("a/m3");
    expect(starts(r.take())).toEqual([]);
    expect(r.state()).toBe("running");
    // The wave is not done without b: the next wave does not start.
    expect(r.actor.getSnapshot().context.wave).toBe(0);
    r.actor.send({ type: "REGION_UP", region: "b" });
    expect(starts(r.take())).toEqual(["b/m1", "b/m2"]);
    r.settle("b/m1");
    expect(starts(r.take())).toEqual(["b/m3"]);
    r.settle("b/m2");
    r.settle("b/m3");
    expect(starts(r.take())).toEqual(["a/m4", "a/m5"]);
  });

  it("does not let the hosts of a region that is down hold the in-flight window: the other regions' hosts start", () => {
    const waves = [[...keys("b", 2), ...keys("a", 3)]];
    const r = run({ waves, maxInFlight: 2 });
    expect(starts(r.take())).toEqual(["b/m1", "b/m2"]);
    r.actor.send({ type: "REGION_DOWN", region: "b" });
    expect(starts(r.take())).toEqual(["a/m1", "a/m2"]);
    r.actor.send({ type: "REGION_UP", region: "b" });
    // Back: the window is over by b's two until hosts settle.
    r.settle("a/m1");
    r.settle("b/m1");
    expect(starts(r.take())).toEqual([]);
    r.settle("a/m2");
    expect(starts(r.take())).toEqual(["a/m3"]);
  });

  it("does not count a region that is down against any budget", () => {
    const waves = [[...keys("a", 2), ...keys("b", 2)]];
    const r = run({ waves, maxInFlight: 4, budget: { perWave: 0, total: 0 } });
    r.take();
    r.actor.send({ type: "REGION_DOWN", region: "b" });
    r.actor.send({ type: "REGION_UP", region: "b" });
    expect(r.state()).toBe("running");
    for (const k of waves[0]!) r.settle(k);
    expect(r.state()).toBe("completed");
  });
});

describe("a region planned after the rollout started", () => {
  it("joins its canary to the current wave and its later waves after it; new waves past the end", () => {
    expect(mergeRegionWaves([["a/1"], ["a/2", "a/3"]], 1, [["b/1"], ["b/2", "b/3"], ["b/4"]])).toEqual([["a/1"], ["a/2", "a/3", "b/1"], ["b/2", "b/3"], ["b/4"]]);
    expect(mergeRegionWaves([["a/1"]], 1, [["b/1"], ["b/2"]])).toEqual([["a/1"], ["b/1"], ["b/2"]]);
  });

  it("keeps the rollout from completing until the region is planned, then starts its canary before its other hosts", () => {
    const r = run({ waves: [["a/m1"], ["a/m2"]], regionsUnplanned: ["b"] });
    expect(starts(r.take())).toEqual(["a/m1"]);
    r.settle("a/m1");
    expect(starts(r.take())).toEqual(["a/m2"]);
    r.settle("a/m2");
    // Every planned wave has settled; the rollout waits for b.
    expect(r.state()).toBe("running");
    r.actor.send({ type: "REGION_PLANNED", region: "b", waves: [["b/m1"], ["b/m2", "b/m3"]] });
    const opened = r.take();
    expect(opened.filter((e) => e.type === "rollout.waveStarted")).toEqual([{ type: "rollout.waveStarted", wave: 2, size: 1 }]);
    expect(starts(opened)).toEqual(["b/m1"]);
    r.settle("b/m1");
    expect(starts(r.take())).toEqual(["b/m2", "b/m3"]);
    r.settle("b/m2");
    r.settle("b/m3");
    expect(r.state()).toBe("completed");
  });

  it("completes without the region when its plan is refused (REGION_PLANNED with no waves)", () => {
    const r = run({ waves: [["a/m1"]], regionsUnplanned: ["b"] });
    r.settle("a/m1");
    expect(r.state()).toBe("running");
    r.actor.send({ type: "REGION_PLANNED", region: "b", waves: [] });
    expect(r.state()).toBe("completed");
  });

  it("counts the region's hosts in the budgets it joins", () => {
    const r = run({ waves: [["a/m1"]], regionsUnplanned: ["b"], budget: { perWave: "100%", total: "50%" } });
    r.actor.send({ type: "REGION_PLANNED", region: "b", waves: [["b/m1"], ["b/m2", "b/m3"]] });
    expect(r.actor.getSnapshot().context.fleetSize).toBe(4);
    expect(r.actor.getSnapshot().context.totalLimit).toBe(2);
    expect(r.actor.getSnapshot().context.regionBudgets.limit["b"]).toBeDefined();
  });
});
