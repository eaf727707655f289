import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { RequestLimiter } from "../../src/maas/limiter.ts";
import { API, harness, maas, machineJson, virtualClock } from "./helpers.ts";

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves once `cond` holds, checking after each turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

describe("in-flight cap", () => {
  it("never lets more than maxInFlight requests reach MAAS at once, and serves the queue in order", async () => {
    const gate = deferred();
    let inFlight = 0;
    let peak = 0;
    const arrived: string[] = [];
    maas()
      .get(/\/MAAS\/api\/2\.0\/machines\/m\d+\//)
      .times(10)
      .reply(async (req: Request) => {
        const sid = new URL(req.url).pathname.split("/")[5] ?? "";
        arrived.push(sid);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await gate.promise;
        inFlight--;
        return [200, machineJson({ system_id: sid })];
      });
    const { client } = harness({ maxInFlight: 3 });
    const calls = Array.from({ length: 10 }, (_, i) => client.readMachine(`m${i}`));
    await until(() => inFlight === 3);
    expect(client.load()).toEqual({ inFlight: 3, queued: 7 });
    gate.resolve();
    const ms = await Promise.all(calls);
    expect(ms.map((m) => m.system_id)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(peak).toBe(3);
    expect(arrived.slice(0, 3).sort()).toEqual(["m0", "m1", "m2"]);
    expect(arrived.slice(3)).toEqual(["m3", "m4", "m5", "m6", "m7", "m8", "m9"]);
    expect(client.load()).toEqual({ inFlight: 0, queued: 0 });
  });

  it("a queued call whose signal aborts leaves the queue without being sent", async () => {
    const gate = deferred();
    maas()
      .get(`${API}/machines/first/`)
      .reply(async () => {
        await gate.promise;
        return [200, machineJson({ system_id: "first" })];
      });
    const { client, requests } = harness({ maxInFlight: 1 });
    const first = client.readMachine("first");
    const ac = new AbortController();
    const second = client.withSignal(ac.signal).readMachine("second");
    await until(() => client.load().queued === 1);
    ac.abort(new Error("stop"));
    await expect(second).rejects.toThrow("stop");
    expect(client.load().queued).toBe(0);
    gate.resolve();
    await first;
    expect(requests.map((r) => r.systemId)).toEqual(["first"]);
  });
});

describe("rate limit", () => {
  it("spaces request starts at 1/rps once the burst is spent", async () => {
    const clock = virtualClock();
    const limiter = new RequestLimiter({ maxInFlight: 100, requestsPerSecond: 10, burst: 2, clock });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 6 }, () => limiter.run(async () => void starts.push(clock.now()))));
    expect(starts).toEqual([0, 0, 100, 200, 300, 400]);
  });

  it("refills tokens while idle, up to the burst", async () => {
    const clock = virtualClock();
    const limiter = new RequestLimiter({ maxInFlight: 100, requestsPerSecond: 10, burst: 3, clock });
    const starts: number[] = [];
    const go = (): Promise<void> => limiter.run(async () => void starts.push(clock.now()));
    await Promise.all([go(), go(), go()]);
    clock.t += 10_000;
    await Promise.all([go(), go(), go(), go()]);
    expect(starts).toEqual([0, 0, 0, 10_000, 10_000, 10_000, 10_100]);
  });

  it("0 means unlimited", async () => {
    const clock = virtualClock();
    const limiter = new RequestLimiter({ maxInFlight: 100, requestsPerSecond: 0, clock });
    await Promise.all(Array.from({ length: 50 }, () => limiter.run(async () => undefined)));
    expect(clock.sleeps).toEqual([]);
  });

  it("applies to the client's requests", async () => {
    maas().get(`${API}/zones/`).times(4).reply(200, []);
    const { client, clock } = harness({ requestsPerSecond: 5, burst: 1 });
    await Promise.all([client.listZones(), client.listZones(), client.listZones(), client.listZones()]);
    expect(clock.sleeps).toEqual([200, 200, 200]);
  });

  it("rejects nonsense settings", () => {
    expect(() => new RequestLimiter({ maxInFlight: 0, requestsPerSecond: 1 })).toThrow(/maxInFlight/);
    expect(() => new RequestLimiter({ maxInFlight: 1, requestsPerSecond: -1 })).toThrow(/requestsPerSecond/);
  });
});
