/**
 * The stored documents' one reader each: the rollout plan (versioned, upgraded, refused
 * when newer or damaged, naming the rollout and the field), the journal entries and a
 * host's last error; and the progress tally read from the store's counts.
 */
import { describe, expect, it } from "vitest";
import { readRolloutPlan, StoredDocumentError } from "../../src/runtime/documents/rollout-plan.ts";
import { hasRolloutEvent, readRolloutEvent, readTransition } from "../../src/runtime/documents/journal-entry.ts";
import { readHostError } from "../../src/runtime/documents/host-error.ts";
import { RolloutTally } from "../../src/runtime/progress.ts";
import type { HostCounts } from "../../src/store/index.ts";

const v2 = {
  version: 2,
  deployment: "default",
  scopeTag: "metalwave-default",
  machineTagsSynced: true,
  hosts: [{ systemId: "a1", hostname: "node-a1", zone: "z1", wave: 0, roles: ["compute"], disks: [] }],
  waves: [["a1"]],
};

describe("the stored rollout plan", () => {
  it("reads the current version as written, keeping fields a newer build added", () => {
    const plan = readRolloutPlan({ ...v2, kind: "reprovision", spares: true, future: { x: 1 } }, "r1");
    expect(plan).toMatchObject({ ...v2, kind: "reprovision", spares: true, future: { x: 1 } });
  });

  it("upgrades version 1 (no version, no disks): hosts keep their roles, tag themselves, and have no disk changes", () => {
    const plan = readRolloutPlan({ deployment: "d", scopeTag: "s", hosts: [{ systemId: "a1", hostname: "n", wave: 0, roles: ["control"] }], waves: [["a1"]] }, "r1");
    expect(plan).toMatchObject({ version: 2, machineTagsSynced: false, hosts: [{ systemId: "a1", hostname: "n", zone: "", wave: 0, roles: ["control"], disks: [] }] });
  });

  it("upgrades the oldest plans, which kept only waves, to hosts named by their system ids", () => {
    const plan = readRolloutPlan({ waves: [["a1"], ["b2", "c3"]] }, "r1");
    expect(plan.hosts.map((h) => [h.systemId, h.hostname, h.wave])).toEqual([["a1", "a1", 0], ["b2", "b2", 1], ["c3", "c3", 1]]);
  });

  it("refuses a plan written by a newer metalwave, and a damaged one, naming the rollout and the field", () => {
    expect(() => readRolloutPlan({ ...v2, version: 3 }, "r7")).toThrow(/plan of rollout r7 is version 3, written by a newer metalwave/);
    expect(() => readRolloutPlan({ ...v2, hosts: [{ ...v2.hosts[0], wave: "first" }] }, "r7")).toThrow(/plan of rollout r7 is invalid: hosts\.0\.wave/);
    expect(() => readRolloutPlan(null, "r7")).toThrow(StoredDocumentError);
  });
});

describe("journal entries and host errors", () => {
  it("reads transitions and rollout events by kind, and skips what does not have the shape", () => {
    expect(readTransition({ kind: "transition", data: { from: null, to: "commissioning", attempt: 1 } })).toEqual({ from: null, to: "commissioning", attempt: 1 });
    expect(readTransition({ kind: "transition", data: { to: 5 } })).toBeUndefined();
    expect(readTransition({ kind: "rollout", data: { from: null, to: "x", attempt: 0 } })).toBeUndefined();
    expect(readRolloutEvent({ kind: "rollout", data: { event: "paused", reason: "r" } })).toEqual({ event: "paused", reason: "r" });
    expect(hasRolloutEvent([{ kind: "rollout", data: { event: "planned" } }, { kind: "rollout", data: { event: "prepared" } }], "prepared")).toBe(true);
    expect(hasRolloutEvent([{ kind: "transition", data: { event: "prepared" } }], "prepared")).toBe(false);
  });

  it("reads a host's last error, or null", () => {
    expect(readHostError({ phase: "deploying", code: "MAAS_FAILED_STATUS", message: "m" })).toEqual({ phase: "deploying", code: "MAAS_FAILED_STATUS", message: "m" });
    expect(readHostError(null)).toBeNull();
    expect(readHostError({ code: "X", message: "m" })).toEqual({ code: "X", message: "m" });
    expect(readHostError({ phase: "deploying", message: "m" })).toBeNull();
  });
});

describe("the progress tally from the store's counts", () => {
  it("counts hosts never started as waiting and in the total, as the live tally does", () => {
    const plan = { hosts: new Array(40).fill(null), waves: [new Array(10).fill("x"), new Array(30).fill("y")] };
    const counts: HostCounts = {
      total: 11,
      byPhase: { inService: 8, quarantined: 2, deploying: 1 },
      byOutcome: { inService: 8, quarantined: 2 },
      unsettled: 1,
      waves: [
        { wave: 0, total: 10, byPhase: { inService: 8, quarantined: 2 }, byOutcome: { inService: 8, quarantined: 2 }, unsettled: 0 },
        { wave: 1, total: 1, byPhase: { deploying: 1 }, byOutcome: {}, unsettled: 1 },
      ],
    };
    const t = RolloutTally.fromStoreCounts(plan, counts);
    expect(t.counts()).toEqual({
      total: 40,
      settled: 10,
      byPhase: { inService: 8, quarantined: 2, deploying: 1, waiting: 29 },
      byOutcome: { inService: 8, quarantined: 2, aborted: 0, refused: 0, failed: 0 },
      perWave: [
        { index: 0, size: 10, settled: 10, failed: 2 },
        { index: 1, size: 30, settled: 0, failed: 0 },
      ],
    });
    expect(t.openWave()).toBe(1);
  });
});
