import { describe, it, expect } from "vitest";
import { createActor } from "xstate";
import { rolloutMachine, initialContext, type RolloutEmitted, type RolloutInput } from "../../state-machines/rollout.ts";
import type { CappedPhase, HostOutcome } from "../../state-machines/host.ts";
import { ConfigError } from "../../src/errors.ts";

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

function run(input: Partial<RolloutInput> & { waves: string[][] }) {
  const full: RolloutInput = {
    maxInFlight: 3,
    phaseCaps: { commissioning: 10, deploying: 10, layering: 10 },
    budget: { perWave: "100%", total: "100%" },
    ...input,
  };
  const actor = createActor(rolloutMachine, { input: full });
  const emitted: RolloutEmitted[] = [];
  actor.on("*", (e) => emitted.push(e as RolloutEmitted));
  actor.start();
  const take = () => emitted.splice(0);
  return {
    actor,
    emitted,
    take,
    started: () => emitted.filter((e) => e.type === "rollout.startHost").map((e) => (e as { systemId: string }).systemId),
    settle: (systemId: string, outcome: HostOutcome = "inService") => actor.send({ type: "HOST_SETTLED", systemId, outcome }),
    request: (systemId: string, phase: CappedPhase) => actor.send({ type: "HOST_SLOT_REQUEST", systemId, phase }),
    release: (systemId: string, phase: CappedPhase) => actor.send({ type: "HOST_SLOT_RELEASE", systemId, phase }),
    state: () => actor.getSnapshot().value,
    ctx: () => actor.getSnapshot().context,
  };
}

const starts = (es: RolloutEmitted[]) => es.filter((e) => e.type === "rollout.startHost").map((e) => (e as { systemId: string }).systemId);
const grants = (es: RolloutEmitted[]) => es.filter((e) => e.type === "rollout.grantSlot").map((e) => (e as { systemId: string }).systemId);

describe("rolloutMachine", () => {
  it("slides a window of maxInFlight over the wave: the next host starts as soon as one settles", () => {
    const r = run({ waves: [ids("h", 6)], maxInFlight: 3 });
    expect(r.take()).toEqual([
      { type: "rollout.waveStarted", wave: 0, size: 6 },
      { type: "rollout.startHost", systemId: "h1", wave: 0 },
      { type: "rollout.startHost", systemId: "h2", wave: 0 },
      { type: "rollout.startHost", systemId: "h3", wave: 0 },
    ]);
    r.settle("h2");
    expect(starts(r.take())).toEqual(["h4"]);
    r.settle("h2"); // duplicate: nothing
    expect(r.take()).toEqual([]);
    r.settle("h1", "quarantined");
    r.settle("h3");
    expect(starts(r.take())).toEqual(["h5", "h6"]);
    expect(r.ctx().inFlightCount).toBe(3);
  });

  it("grants phase slots first come, first served, up to the cap", () => {
    const r = run({ waves: [ids("h", 4)], maxInFlight: 4, phaseCaps: { commissioning: 1, deploying: 2, layering: 1 } });
    r.take();
    r.request("h3", "commissioning");
    r.request("h1", "commissioning");
    r.request("h2", "commissioning");
    expect(grants(r.take())).toEqual(["h3"]);
    r.release("h3", "commissioning");
    expect(grants(r.take())).toEqual(["h1"]);
    r.release("h2", "commissioning"); // h2 gives up its place in the queue (e.g. aborted)
    r.request("h4", "commissioning");
    r.release("h1", "commissioning");
    expect(grants(r.take())).toEqual(["h4"]);
    expect(r.ctx().slotsInUse.commissioning).toBe(1);
  });

  it("re-grants a slot a host asks for again without counting it twice", () => {
    const r = run({ waves: [ids("h", 2)], phaseCaps: { commissioning: 1, deploying: 1, layering: 1 } });
    r.request("h1", "deploying");
    r.take();
    r.request("h1", "deploying");
    expect(grants(r.take())).toEqual(["h1"]);
    expect(r.ctx().slotsInUse.deploying).toBe(1);
  });

  it("a settling host frees its slot for the next in the queue", () => {
    const r = run({ waves: [ids("h", 2)], phaseCaps: { commissioning: 1, deploying: 1, layering: 1 } });
    r.request("h1", "layering");
    r.request("h2", "layering");
    r.take();
    r.settle("h1", "failed");
    expect(grants(r.take())).toEqual(["h2"]);
  });

  it("treats waves as barriers: the next wave starts only when every host of this one has settled", () => {
    const r = run({ waves: [["a"], ["b", "c"]], maxInFlight: 5 });
    expect(starts(r.take())).toEqual(["a"]);
    r.settle("a");
    expect(r.take()).toEqual([
      { type: "rollout.waveSettled", wave: 0, counts: { inService: 1, quarantined: 0, aborted: 0, refused: 0, failed: 0 } },
      { type: "rollout.waveStarted", wave: 1, size: 2 },
      { type: "rollout.startHost", systemId: "b", wave: 1 },
      { type: "rollout.startHost", systemId: "c", wave: 1 },
    ]);
  });

  it("pauses when the per-wave budget is exceeded, with the reason and counts; in-flight hosts still get slots", () => {
    const r = run({ waves: [ids("h", 6)], maxInFlight: 3, budget: { perWave: 1, total: 10 }, phaseCaps: { commissioning: 1, deploying: 1, layering: 1 } });
    r.take();
    r.request("h3", "deploying");
    r.request("h2", "deploying");
    r.settle("h1", "quarantined");
    expect(r.state()).toBe("running");
    expect(starts(r.take())).toEqual(["h4"]);
    r.settle("h3", "quarantined");
    const out = r.take();
    expect(r.state()).toBe("paused");
    expect(out).toContainEqual({
      type: "rollout.paused",
      reason: "per-wave failure budget of wave 1 exceeded: 2 failed host(s), limit 1",
      counts: { inService: 0, quarantined: 2, aborted: 0, refused: 0, failed: 0 },
      breach: { budget: "perWave", failures: 2, limit: 1, wave: 0 },
    });
    expect(starts(out)).toEqual([]); // nothing new starts while paused
    expect(grants(out)).toEqual(["h2"]); // but the in-flight host waiting for h3's slot gets it
    r.settle("h2");
    r.settle("h4", "failed");
    expect(starts(r.take())).toEqual([]);
    expect(r.ctx().totals).toEqual({ inService: 1, quarantined: 2, aborted: 0, refused: 0, failed: 1 });
  });

  it("refused hosts spend no budget: counted as refused, the rollout goes on", () => {
    const r = run({ waves: [ids("h", 4)], maxInFlight: 4, budget: { perWave: 0, total: 0 } });
    r.take();
    r.settle("h1", "refused");
    r.settle("h2", "refused");
    expect(r.state()).toBe("running");
    r.settle("h3");
    r.settle("h4");
    expect(r.state()).toBe("completed");
    expect(r.ctx().totals).toEqual({ inService: 2, quarantined: 0, aborted: 0, refused: 2, failed: 0 });
  });

  it("pauses when the total budget is exceeded", () => {
    const r = run({ waves: [ids("a", 2), ids("b", 18)], maxInFlight: 10, budget: { perWave: "100%", total: "10%" } });
    r.settle("a1", "quarantined");
    r.settle("a2");
    r.settle("b1", "failed");
    expect(r.state()).toBe("running");
    r.settle("b2", "failed");
    expect(r.state()).toBe("paused");
    expect(r.emitted.at(-1)).toMatchObject({ type: "rollout.paused", breach: { budget: "total", failures: 3, limit: 2, wave: 1 } });
  });

  it("a fully failed canary does not stop the rollout when the budget allows it", () => {
    const r = run({ waves: [["canary"], ["b", "c"]], budget: { perWave: "100%", total: 5 } });
    r.settle("canary", "quarantined");
    expect(r.state()).toBe("running");
    expect(starts(r.take())).toEqual(["canary", "b", "c"]);
  });

  it("PAUSE stops starting hosts; RESUME carries on and acknowledges the failures so far", () => {
    const r = run({ waves: [ids("h", 6)], maxInFlight: 2, budget: { perWave: 0, total: 10 } });
    r.take();
    r.settle("h1", "quarantined");
    expect(r.state()).toBe("paused");
    r.actor.send({ type: "PAUSE" }); // already paused: ignored
    r.settle("h2");
    expect(starts(r.take())).toEqual([]);
    r.actor.send({ type: "RESUME" });
    const out = r.take();
    expect(out[0]).toEqual({ type: "rollout.resumed" });
    expect(starts(out)).toEqual(["h3", "h4"]);
    r.settle("h3");
    expect(r.state()).toBe("running"); // the one failure before RESUME no longer counts
    r.settle("h4", "failed");
    expect(r.state()).toBe("paused"); // a new failure after RESUME does
    r.take();

    r.actor.send({ type: "RESUME" });
    r.take();
    r.actor.send({ type: "PAUSE", reason: "change window closed" });
    expect(r.state()).toBe("paused");
    expect(r.emitted.at(-1)).toEqual({ type: "rollout.paused", reason: "change window closed", counts: { inService: 2, quarantined: 1, aborted: 0, refused: 0, failed: 1 }, breach: null });
    r.actor.send({ type: "PAUSE" });
    expect(r.emitted).toHaveLength(1);
  });

  it("operator PAUSE has a default reason", () => {
    const r = run({ waves: [ids("h", 2)] });
    r.actor.send({ type: "PAUSE" });
    expect(r.emitted.at(-1)).toMatchObject({ type: "rollout.paused", reason: "paused by operator" });
  });

  it("ABORT asks every in-flight host to abort, then ends aborted", () => {
    const r = run({ waves: [ids("h", 5)], maxInFlight: 3 });
    r.settle("h2");
    r.take();
    r.actor.send({ type: "ABORT", reason: "bad image" });
    expect(r.take()).toEqual([
      { type: "rollout.abortHost", systemId: "h1" },
      { type: "rollout.abortHost", systemId: "h3" },
      { type: "rollout.abortHost", systemId: "h4" },
      { type: "rollout.aborted", reason: "bad image" },
    ]);
    expect(r.actor.getSnapshot().status).toBe("done");
  });

  it("completes with a summary when the last wave settles", () => {
    const r = run({ waves: [["a"], ["b", "c"]] });
    r.settle("a");
    r.settle("b", "quarantined");
    r.settle("c");
    expect(r.state()).toBe("completed");
    expect(r.emitted.at(-1)).toEqual({
      type: "rollout.completed",
      counts: { inService: 2, quarantined: 1, aborted: 0, refused: 0, failed: 0 },
      byWave: [
        { inService: 1, quarantined: 0, aborted: 0, refused: 0, failed: 0 },
        { inService: 1, quarantined: 1, aborted: 0, refused: 0, failed: 0 },
      ],
    });
    expect(r.ctx().totals).toEqual({ inService: 2, quarantined: 1, aborted: 0, refused: 0, failed: 0 });
  });

  it("stays paused once nothing is left in flight or to start, and completes on RESUME", () => {
    const r = run({ waves: [["a", "b"]], budget: { perWave: 0, total: 0 } });
    r.settle("a", "failed");
    expect(r.state()).toBe("paused");
    r.settle("b");
    // A paused rollout says it is paused until someone resumes it, never "completed" on its own.
    expect(r.state()).toBe("paused");
    r.actor.send({ type: "RESUME" });
    expect(r.state()).toBe("completed");
  });

  it("rebuilds its counts, window and slots from the hosts' records on resume", () => {
    const r = run({
      waves: [["a"], ["b", "c", "d", "e"], ["f"]],
      maxInFlight: 3,
      phaseCaps: { commissioning: 1, deploying: 1, layering: 1 },
      budget: { perWave: 2, total: 5 },
      resume: {
        hosts: {
          a: { phase: "quarantined", settled: "quarantined" },
          b: { phase: "inService", settled: "inService" },
          c: { phase: "deploying", holdsSlot: "deploying" },
          d: { phase: "deploying" },
        },
      },
    });
    const ctx = r.ctx();
    expect(ctx.wave).toBe(1);
    expect(ctx.totals).toEqual({ inService: 1, quarantined: 1, aborted: 0, refused: 0, failed: 0 });
    expect([...ctx.inFlight.keys()]).toEqual(["c", "d", "e"]);
    expect(ctx.slotsInUse).toEqual({ commissioning: 0, deploying: 1, layering: 0 });
    expect(r.take()).toEqual([{ type: "rollout.startHost", systemId: "e", wave: 1 }]); // b..d never restarted, wave 1 already announced
    r.release("c", "deploying");
    expect(grants(r.take())).toEqual(["d"]); // d was queued for the slot it lost with the old process
  });

  it("on resume, a paused rollout stays paused", () => {
    const r = run({ waves: [["a", "b"]], resume: { hosts: { a: { phase: "failed", settled: "failed" } }, paused: { reason: "paused by operator" } } });
    expect(r.state()).toBe("paused");
    expect(r.take()).toEqual([{ type: "rollout.paused", reason: "paused by operator", counts: { inService: 0, quarantined: 0, aborted: 0, refused: 0, failed: 1 }, breach: null }]);
  });

  it("on resume, a budget already spent pauses again (acknowledgements are not persisted)", () => {
    const r = run({ waves: [["a", "b", "c"]], budget: { perWave: 0, total: 10 }, resume: { hosts: { a: { phase: "failed", settled: "failed" } } } });
    expect(r.state()).toBe("paused");
  });

  it("rejects invalid input with a ConfigError naming the field", () => {
    const base: RolloutInput = { waves: [["a"]], maxInFlight: 1, phaseCaps: { commissioning: 1, deploying: 1, layering: 1 }, budget: { perWave: 0, total: 0 } };
    expect(() => initialContext({ ...base, maxInFlight: 0 })).toThrow(ConfigError);
    expect(() => initialContext({ ...base, maxInFlight: 0 })).toThrow(/rollout\.maxInFlight/);
    expect(() => initialContext({ ...base, phaseCaps: { commissioning: 1, deploying: 0, layering: 1 } })).toThrow(/phaseCaps\.deploying/);
    expect(() => initialContext({ ...base, budget: { perWave: "lots", total: 0 } })).toThrow(/budget\.perWave/);
    expect(() => initialContext({ ...base, waves: [[]] })).toThrow(/waves\[0\]/);
  });
});
