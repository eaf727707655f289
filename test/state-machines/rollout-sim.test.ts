/**
 * Seeded simulations of whole rollouts: hostMachine + rolloutMachine glued by
 * state-machines/glue.ts over a fake MAAS and a simulated clock. Fixed seeds give
 * fixed results; a change in behaviour shows up as a changed count or transcript.
 *
 * To regenerate the golden transcript on purpose: UPDATE_GOLDEN=1 npx vitest run test/state-machines/rollout-sim.test.ts
 */
import { describe, it, expect } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { simulate, type SimOptions } from "./sim-harness.ts";
import { planWaves } from "../../state-machines/waves.ts";

const GOLDEN = new URL("./fixtures/rollout-sim.golden.txt", import.meta.url);
const GOLDEN_LINES = 40;

const base: SimOptions = {
  seed: 42,
  hosts: 200,
  waves: (ids) => planWaves(ids, [1, 10, "10%", "25%", "100%"]),
  maxInFlight: 25,
  phaseCaps: { commissioning: 10, deploying: 8, layering: 5 },
  budget: { perWave: "5%", total: "15%" },
  resumeAfterMin: 30,
};

describe("seeded rollout simulation (200 hosts)", () => {
  it("completes with the expected counts, never exceeding the window or the phase caps", async () => {
    const r = await simulate(base);
    expect(r.violations).toEqual([]); // no op from a state MAAS refuses, no double deploy in one attempt, waves in order
    expect(r.outcome).toBe("completed");
    expect(r.counts).toEqual({ inService: 191, quarantined: 9, aborted: 0, refused: 0, failed: 0 });
    expect(r.hostOutcomes).toEqual({ inService: 191, quarantined: 9 });
    expect(r.maxInFlightSeen).toBe(25);
    expect(r.maxPhaseSeen).toEqual({ commissioning: 10, deploying: 8, layering: 5 });
    expect(r.pauses).toBe(1); // a wave spent its 5% budget; the simulated operator resumed it
    expect(r.deployCalls).toBe(221);
    expect(r.simulatedMinutes).toBe(534);

    const head = r.transcript.slice(0, GOLDEN_LINES).join("\n") + "\n";
    if (process.env["UPDATE_GOLDEN"]) writeFileSync(GOLDEN, head);
    expect(head).toBe(readFileSync(GOLDEN, "utf8"));
  });

  it("is deterministic: the same seed gives the same transcript", async () => {
    const [a, b] = [await simulate({ ...base, hosts: 60 }), await simulate({ ...base, hosts: 60 })];
    expect(a.transcript).toEqual(b.transcript);
  });

  it("an operator ABORT mid-rollout stops every in-flight host and starts no more", async () => {
    const r = await simulate({ ...base, abortAtMin: 60 });
    expect(r.violations).toEqual([]);
    expect(r.outcome).toBe("aborted");
    expect(r.transcript.filter((l) => l.includes("rollout.abortHost")).length).toBeGreaterThan(0);
    const afterAbort = r.transcript.slice(r.transcript.findIndex((l) => l.includes("rollout.aborted")) + 1);
    expect(afterAbort).toEqual([]);
    expect(r.hostOutcomes["aborted"]).toBe(r.transcript.filter((l) => l.includes("rollout.abortHost")).length);
    expect(r.abortCalls).toBeGreaterThan(0); // hosts caught mid-commission/deploy aborted the MAAS operation
  });
});
