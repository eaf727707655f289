/**
 * Simulated regions on the manual clock, their time moved on by the test: each turn of a
 * 1 ms interval moves every region's clock `stepMs` on (a region's phases at speed 1000
 * take hundreds of ms of its time, so a machine commissions in a few dozen turns). The
 * regions only move as the event loop turns, so a loaded machine slows them with the
 * runner instead of narrowing the windows a test waits for, and a test's check runs between
 * two steps: what it saw is still so when it acts on it (a region taken away right after a
 * check still has those machines deploying).
 */
import type { SimHandle } from "../../src/sim/index.ts";

export interface SteppedClock {
  /** Stops moving the regions' time (for good: the test is ending). */
  stop(): void;
}

export function stepClocks(sims: readonly SimHandle[], stepMs = 25): SteppedClock {
  const timer = setInterval(() => {
    for (const s of sims) s.advance(stepMs);
  }, 1);
  return { stop: () => clearInterval(timer) };
}
