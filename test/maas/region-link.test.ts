import { describe, expect, it } from "vitest";
import { MaasError } from "../../src/maas/errors.ts";
import { isRegionUnreachable, RegionLink, type RegionChange } from "../../src/maas/region-link.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas } from "../fakes/maas.ts";
import type { Clock } from "../../src/clock.ts";

/** A clock that moves only when told: `advance` wakes each sleep that falls due, in order, and lets what it started run. */
function steppedClock(): Clock & { advance(ms: number): Promise<void>; readonly sleeping: number } {
  let t = 0;
  const sleeps: { due: number; wake: () => void }[] = [];
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return {
    now: () => t,
    wallNow: () => t,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const s = { due: t + ms, wake: resolve };
        sleeps.push(s);
        signal?.addEventListener("abort", () => {
          sleeps.splice(sleeps.indexOf(s), 1);
          reject(signal.reason);
        }, { once: true });
      }),
    async advance(ms) {
      const target = t + ms;
      await settle();
      for (;;) {
        sleeps.sort((a, b) => a.due - b.due);
        const next = sleeps[0];
        if (next === undefined || next.due > target) break;
        sleeps.shift();
        t = next.due;
        next.wake();
        await settle();
      }
      t = target;
    },
    get sleeping() {
      return sleeps.length;
    },
  };
}

const refused = () => new MaasError("MAAS_NETWORK", "GET version/: cannot reach MAAS (ECONNREFUSED)", { operation: "version" });

/** A port whose region is away while `away` is true: every call fails as the client does after its retries. */
function fakeRegion() {
  const state = { away: false, sent: 0 };
  const port = new FakeMaas().add({ system_id: "abc" }, { system_id: "def" }) satisfies MaasPort;
  port.before = (op) => {
    if (op === "readMachine") state.sent++;
    if (state.away) throw refused();
  };
  return { state, port };
}

describe("RegionLink", () => {
  it("tells a region that does not answer from one that refuses: network, 5xx throughout, or an unknown outcome caused by them", () => {
    expect(isRegionUnreachable(refused())).toBe(true);
    expect(isRegionUnreachable(new MaasError("MAAS_UNAVAILABLE", "503", { operation: "x", status: 503 }))).toBe(true);
    expect(isRegionUnreachable(new MaasError("MAAS_OUTCOME_UNKNOWN", "?", { operation: "deploy", cause: refused() }))).toBe(true);
    expect(isRegionUnreachable(new MaasError("MAAS_OUTCOME_UNKNOWN", "?", { operation: "deploy", cause: new Error("parse") }))).toBe(false);
    expect(isRegionUnreachable(new MaasError("MAAS_CONFLICT", "409", { operation: "deploy", status: 409 }))).toBe(false);
  });

  it("marks the region down on a call that finds it away, holds that call and later ones unsent, and sends them once a probe answers", async () => {
    const { state, port } = fakeRegion();
    const clock = steppedClock();
    const link = new RegionLink({ name: "east", port, probeIntervalMs: 5, clock });
    const changes: RegionChange[] = [];
    link.onChange((c) => changes.push(c));
    state.away = true;
    const first = link.call((p) => p.readMachine("abc"));
    await clock.advance(0);
    expect(link.isUp).toBe(false);
    expect(changes).toMatchObject([{ region: "east", up: false }]);
    expect(clock.sleeping).toBe(1); // the probe's wait
    const sentWhileAway = state.sent;
    const second = link.call((p) => p.readMachine("def"));
    // Ten probe intervals with the region still away: ten probes fail, no call goes out.
    await clock.advance(10 * 5);
    expect(state.sent).toBe(sentWhileAway); // nothing more was sent while it was down
    expect(link.isUp).toBe(false);
    state.away = false;
    await clock.advance(5);
    await expect(first).resolves.toMatchObject({ system_id: "abc" });
    await expect(second).resolves.toMatchObject({ system_id: "def" });
    expect(link.isUp).toBe(true);
    expect(changes.map((c) => c.up)).toEqual([false, true]);
    expect(link.counters).toEqual({ outages: 1, repeatedCalls: 1 });
  });

  it("does not repeat a call that is not safe to repeat, and passes other errors through untouched", async () => {
    const { state, port } = fakeRegion();
    const clock = steppedClock();
    const link = new RegionLink({ name: "east", port, probeIntervalMs: 5, clock });
    state.away = true;
    await expect(link.call((p) => p.readMachine("abc"), false)).rejects.toMatchObject({ code: "MAAS_NETWORK" });
    expect(state.sent).toBe(1); // not repeated
    state.away = false;
    await clock.advance(5); // the next probe answers
    expect(link.isUp).toBe(true);
    const conflict = new MaasError("MAAS_CONFLICT", "409", { operation: "deploy", status: 409 });
    await expect(link.call(() => Promise.reject(conflict))).rejects.toBe(conflict);
    expect(link.isUp).toBe(true);
    link.close();
  });
});
