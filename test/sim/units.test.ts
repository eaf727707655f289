import { describe, expect, it } from "vitest";
import { NonceStore, parseOAuthHeader } from "../../src/sim/auth.ts";
import { hash32, Rng } from "../../src/sim/rng.ts";
import { ManualClock, Scheduler } from "../../src/sim/scheduler.ts";

describe("scheduler", () => {
  it("runs jobs in due order (ties in scheduling order), only up to the advanced time", () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, true);
    const ran: number[] = [];
    const rng = new Rng(3);
    const dues = Array.from({ length: 200 }, () => rng.int(1000));
    dues.forEach((d, i) => s.schedule(d, () => ran.push(i)));
    s.advance(499);
    const expectedFirst = dues.map((d, i) => [d, i] as const).filter(([d]) => d <= 499).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
    expect(ran).toEqual(expectedFirst);
    s.advance(Infinity);
    expect(ran).toHaveLength(200);
    expect(s.size).toBe(0);
  });

  it("lets a job schedule another that falls due in the same advance", () => {
    const clock = new ManualClock();
    const s = new Scheduler(clock, true);
    const ran: string[] = [];
    s.schedule(10, () => {
      ran.push("a");
      s.schedule(5, () => ran.push("b"));
    });
    s.advance(20);
    expect(ran).toEqual(["a", "b"]);
    expect(clock.now()).toBe(20);
  });
});

describe("nonce store", () => {
  it("refuses a repeat within the window and forgets buckets older than it", () => {
    const n = new NonceStore();
    expect(n.remember(1000, "tok", "a", 1000)).toBe(true);
    expect(n.remember(1000, "tok", "a", 1000)).toBe(false);
    expect(n.remember(1000, "other", "a", 1000)).toBe(true);
    for (let t = 1001; t < 1400; t++) n.remember(t, "tok", `x${t}`, t);
    // Only the last 300 s of buckets survive.
    expect(n.size).toBeLessThanOrEqual(302);
  });
});

describe("OAuth header parsing", () => {
  it("reads quoted, percent-encoded values and ignores the realm", () => {
    const p = parseOAuthHeader('OAuth realm="", oauth_signature="%26abc", oauth_nonce=xyz');
    expect(p?.get("oauth_signature")).toBe("&abc");
    expect(p?.get("oauth_nonce")).toBe("xyz");
    expect(parseOAuthHeader("Bearer foo")).toBeNull();
  });
});

describe("seeded hashing", () => {
  it("is stable and separates parts", () => {
    expect(hash32(1, "a")).toBe(hash32(1, "a"));
    expect(hash32("ab", "c")).not.toBe(hash32("a", "bc"));
  });
});
