/**
 * The CLI's progress says which region a run waits for and why: a region not answering (its
 * hosts wait, some held from a resume) and a region not planned yet (away when the rollout
 * was planned: planned and started once it answers).
 */
import { describe, expect, it } from "vitest";
import { progressBlock, progressLine } from "../../src/cli/progress.ts";
import type { RolloutProgress } from "../../src/runtime/rollout-runner.ts";

const base: RolloutProgress = {
  rolloutId: "r-1",
  state: "running",
  wave: 0,
  waves: 2,
  total: 10,
  settled: 4,
  byPhase: { deploying: 2 },
  byOutcome: { inService: 4, quarantined: 0, aborted: 0, refused: 0, failed: 0 },
  perWave: [
    { index: 0, size: 2, settled: 2, failed: 0 },
    { index: 1, size: 8, settled: 2, failed: 0 },
  ],
  maasRequests: 40,
  elapsedMs: 1000,
};

describe("progress over several regions", () => {
  it("says nothing of regions while every region answers and is planned", () => {
    const p = { ...base, regionsDown: [], waitingOnRegion: 0 };
    expect(progressBlock(p).join("\n")).not.toMatch(/region/);
    expect(progressLine(p)).not.toMatch(/region/);
  });

  it("names a region not planned yet, and one not answering with the hosts it holds", () => {
    const p = { ...base, regionsDown: ["b", "c"], waitingOnRegion: 3, regionsUnplanned: ["c"] };
    const block = progressBlock(p);
    expect(block).toContain("region b not answering: 3 host(s) held, its hosts wait");
    expect(block).toContain("region c not planned yet: planned and started once it answers");
    expect(progressLine(p)).toContain("| region c not planned yet: planned and started once it answers");
  });
});
