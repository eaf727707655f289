/**
 * Waiting for Juju to settle the way the reference deployer does: a condition counts as met
 * only after several consecutive good reads (Sunbeam polls `juju status` and needs 3 in a row;
 * SO:core/juju.py _wait, JB:_juju.py wait, in ../shared/reference/juju-layering.md §2), so a
 * status that flickers to active once between two hook runs does not end the wait. A read that
 * fails (the CLI erred) counts as a bad read, not as the end of the wait, until the deadline.
 */
import { LayerError } from "./errors.ts";

/** Consecutive good reads a wait needs (the reference's 3). */
export const GOOD_READS = 3;

export interface WaitRead {
  ok: boolean;
  /** What is still missing (shown in the LAYER_NOT_READY error at the deadline). */
  detail: string;
  /** The first unit that is not ready, named in the LAYER_NOT_READY error at the deadline. */
  unit?: { name: string; status: string; message: string };
}

export interface WaitOptions {
  layer: string;
  step: string;
  host?: { systemId: string; hostname: string };
  timeoutMs: number;
  pollMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Called before each read: throws LAYER_STOPPED once the caller's work was stopped. */
  ensureOpen: (step: string) => void;
  goodReads?: number;
}

/** Resolves after `goodReads` consecutive good reads; LAYER_NOT_READY with the last detail at the deadline. */
export async function waitUntil(read: () => Promise<WaitRead>, o: WaitOptions): Promise<void> {
  const need = o.goodReads ?? GOOD_READS;
  const deadline = o.now() + o.timeoutMs;
  let good = 0;
  let last: string;
  let unit: WaitRead["unit"];
  for (;;) {
    o.ensureOpen(o.step);
    try {
      const r = await read();
      good = r.ok ? good + 1 : 0;
      last = r.detail;
      unit = r.unit;
    } catch (e) {
      // Stopped work, and a unit in error, end the wait at once.
      if (e instanceof LayerError && (e.code === "LAYER_STOPPED" || e.code === "LAYER_UNIT_ERROR")) throw e;
      good = 0;
      last = e instanceof Error ? e.message.split("\n")[0] ?? "" : String(e);
    }
    if (good >= need) return;
    if (o.now() >= deadline) {
      throw new LayerError("LAYER_NOT_READY", { layer: o.layer, step: o.step, ...(o.host ? { systemId: o.host.systemId, hostname: o.host.hostname } : {}), ...(unit ? { unit } : {}) }, `not settled after ${Math.round(o.timeoutMs / 1000)} s: ${last}`);
    }
    await o.sleep(o.pollMs);
  }
}
