// Shared harness for the integration tests: the real MaasClient against the real
// simulated region, over real HTTP on loopback. Simulated time is the simulator's
// manual clock (it moves only with `sim.advance`), and the client's backoff and
// Retry-After waits go to a virtual clock that records them and returns at once, so
// nothing here waits on wall-clock time.
import { afterEach, expect } from "vitest";
import { MaasClient } from "../../src/maas/client.ts";
import type { MaasClientOptions, RequestInfo } from "../../src/maas/client.ts";
import { HandClock } from "../fakes/clock.ts";
import { MaasError } from "../../src/maas/errors.ts";
import type { MaasErrorCode } from "../../src/maas/errors.ts";
import { parseFleet, startSimulator } from "../../src/sim/index.ts";
import type { FleetSpec, SimHandle, SimOptions } from "../../src/sim/index.ts";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

/**
 * A small mixed fleet: two hardware classes, two zones, two pools, a few tagged
 * machines and machines in several starting states, so allocation constraints have
 * something to tell apart.
 */
export function mixedFleet(): FleetSpec {
  return parseFleet(
    {
      classes: {
        small: {
          cpu_count: 16,
          memory_gib: 64,
          disks: [{ count: 2, size_gb: 480, kind: "ssd" }],
          nics: [{ count: 2, speed_mbps: 10000 }],
        },
        big: {
          cpu_count: 64,
          memory_gib: 512,
          disks: [
            { count: 1, size_gb: 960, kind: "nvme" },
            { count: 2, size_gb: 8000, kind: "hdd" },
          ],
          nics: [{ count: 2, speed_mbps: 25000 }],
        },
      },
      zones: [{ name: "az1" }, { name: "az2" }],
      pools: [{ name: "compute" }, { name: "storage" }],
      groups: [
        { class: "small", count: 4, zone: "az1", pool: "compute", hostname_prefix: "sm-a", status: "ready", tags: ["rack-a"] },
        { class: "small", count: 2, zone: "az2", pool: "compute", hostname_prefix: "sm-b", status: "ready", tags: ["rack-b"] },
        { class: "big", count: 2, zone: "az2", pool: "storage", hostname_prefix: "big-b", status: "ready", tags: ["rack-b", "gpu"] },
        { class: "small", count: 2, zone: "az1", pool: "compute", hostname_prefix: "new-a", status: "new" },
        { class: "small", count: 2, zone: "az1", pool: "compute", hostname_prefix: "dep-a", status: "deployed" },
      ],
    },
    "test/integration/mixedFleet",
  );
}

/** `count` Ready machines of one tiny class (one disk, one NIC: small JSON). */
export function uniformFleet(count: number, status = "ready"): FleetSpec {
  return parseFleet(
    {
      classes: { tiny: { cpu_count: 4, memory_gib: 8, disks: [{ size_gb: 120, kind: "ssd" }], nics: [{ speed_mbps: 1000 }] } },
      groups: [{ class: "tiny", count, hostname_prefix: "n", status }],
    },
    "test/integration/uniformFleet",
  );
}

/** A client clock whose sleeps return at once and are recorded (backoff, Retry-After): test/fakes/clock.ts. */
export type RecordingClock = HandClock;

export function recordingClock(): RecordingClock {
  // Wall time from now: the simulator checks the OAuth timestamp against its own clock.
  return new HandClock(0, Date.now());
}

export interface Rig {
  sim: SimHandle;
  client: MaasClient;
  clock: RecordingClock;
  /** Every send the client made, in completion order (onRequest). */
  requests: RequestInfo[];
  /** A second client on the same region with other options (same clock, same request log). */
  clientWith(over: Partial<MaasClientOptions>): MaasClient;
  /** The simulator's system_id for a hostname. */
  sid(hostname: string): string;
  close(): Promise<void>;
}

/** Starts a simulator on the manual clock (realistic durations unless told) and a client for it. */
export async function rig(simOpts: SimOptions = {}, clientOpts: Partial<MaasClientOptions> = {}): Promise<Rig> {
  const sim = await startSimulator({ fleet: mixedFleet(), seed: 7, clock: "manual", ...simOpts });
  const clock = recordingClock();
  const requests: RequestInfo[] = [];
  const clientWith = (over: Partial<MaasClientOptions>): MaasClient =>
    new MaasClient({
      url: sim.url,
      apiKey: sim.apiKey,
      clock,
      // Full backoff ceilings, so recorded waits are exact numbers.
      random: () => 1,
      requestsPerSecond: 0,
      retry: { attempts: 5, baseDelayMs: 100, maxDelayMs: 30_000 },
      timeoutMs: 10_000,
      onRequest: (i) => requests.push(i),
      ...clientOpts,
      ...over,
    });
  const client = clientWith({});
  return {
    sim,
    client,
    clock,
    requests,
    clientWith,
    sid: (hostname) => {
      const m = sim.region.byHostname.get(hostname);
      if (m === undefined) throw new Error(`no simulated machine named ${hostname}`);
      return m.systemId;
    },
    close: () => sim.close(),
  };
}

/** Awaits `p`, expects it to reject with a MaasError of `code`, and returns the error. */
/**
 * One rig per test, closed after it: call at a test file's top level and use the returned
 * function as the test's setup.
 */
export function rigPerTest(): (...args: Parameters<typeof rig>) => Promise<Rig> {
  let current: Rig | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (...args) => {
    current = await rig(...args);
    return current;
  };
}

export async function maasError(p: Promise<unknown>, code: MaasErrorCode): Promise<MaasError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}, got a result`).toBeInstanceOf(MaasError);
  const err = caught as MaasError;
  expect(err.code, err.message).toBe(code);
  return err;
}

/** Requests the simulator answered for one operation, by HTTP status. */
export function simOp(sim: SimHandle, operation: string): Record<string, number> {
  return sim.stats().requests.byOperation[operation]?.byStatus ?? {};
}

/** The simulator's per-machine counters (operations that took effect). */
export function simCounts(sim: SimHandle, systemId: string): { commissioned: number; deployed: number; released: number; erased: number; allocated: number } {
  const m = sim.stats().machines?.find((x) => x.system_id === systemId);
  if (m === undefined) throw new Error(`no stats for ${systemId}`);
  return { commissioned: m.commissioned, deployed: m.deployed, released: m.released, erased: m.erased, allocated: m.allocated };
}
