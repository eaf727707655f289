import { describe, it, expect } from "vitest";
import { planWaves, parseWavePolicy, parseBudget, makespanLowerBound } from "../../state-machines/waves.ts";
import { ConfigError } from "../../src/errors.ts";

const fleet = (n: number) => Array.from({ length: n }, (_, i) => `m${String(i).padStart(5, "0")}`);

describe("parseWavePolicy", () => {
  it("accepts host counts and percentages", () => {
    expect(parseWavePolicy([1, 10, "5%", "25%", "100%", "0.5%"])).toEqual([1, 10, "5%", "25%", "100%", "0.5%"]);
  });

  it.each([
    [[1, 0], "rollout.waves[1]", /0 must be at least 1 host/],
    [[1, 2.5], "rollout.waves[1]", /2.5 must be a whole number/],
    [["5%", "abc"], "rollout.waves[1]", /"abc" must be a host count or a percentage/],
    [["0%"], "rollout.waves[0]", /above 0%/],
    [["150%"], "rollout.waves[0]", /at most 100%/],
    [[null], "rollout.waves[0]", /null/],
  ])("rejects %j naming the bad entry", (input, where, message) => {
    try {
      parseWavePolicy(input);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).where).toBe(where);
      expect((e as ConfigError).message).toMatch(message);
    }
  });

  it("rejects an empty list and a non-list", () => {
    expect(() => parseWavePolicy([])).toThrow(/at least one wave size/);
    expect(() => parseWavePolicy("1,10")).toThrow(/must be a list/);
  });
});

describe("planWaves", () => {
  it("plans 1000 hosts with [1, 10, 5%, 25%, 100%] as canary, small, then percentage waves", () => {
    const waves = planWaves(fleet(1000), [1, 10, "5%", "25%", "100%"]);
    expect(waves.map((w) => w.length)).toEqual([1, 10, 50, 250, 689]);
    expect(waves.flat()).toEqual(fleet(1000)); // every host once, input order kept
  });

  it("repeats the last entry until every host is placed", () => {
    expect(planWaves(fleet(25), [1, "20%"]).map((w) => w.length)).toEqual([1, 5, 5, 5, 5, 4]);
    expect(planWaves(fleet(7), [3]).map((w) => w.length)).toEqual([3, 3, 1]);
  });

  it("never makes an empty wave, even for tiny fleets or tiny percentages", () => {
    for (const n of [1, 2, 3, 17]) {
      const waves = planWaves(fleet(n), [5, "1%", "0.1%", 100]);
      expect(waves.every((w) => w.length > 0)).toBe(true);
      expect(waves.flat()).toEqual(fleet(n));
    }
    expect(planWaves([], [1, "100%"])).toEqual([]);
  });

  it("is deterministic", () => {
    const ids = fleet(333);
    expect(planWaves(ids, [2, "7%", "100%"])).toEqual(planWaves([...ids], [2, "7%", "100%"]));
  });

  it("rejects duplicate or empty system ids", () => {
    expect(() => planWaves(["a", "b", "a"], [1])).toThrow(/system_id a is listed twice/);
    expect(() => planWaves(["a", ""], [1])).toThrow(ConfigError);
  });

  it("rejects an invalid policy", () => {
    expect(() => planWaves(fleet(3), [1, "x"])).toThrow(/rollout\.waves\[1\]/);
  });
});

describe("parseBudget", () => {
  it("resolves counts as is and percentages of the size, rounded down", () => {
    expect(parseBudget(3, 100)).toBe(3);
    expect(parseBudget("10%", 100)).toBe(10);
    expect(parseBudget("10%", 15)).toBe(1);
    expect(parseBudget("10%", 1)).toBe(0);
    expect(parseBudget("100%", 7)).toBe(7);
    expect(parseBudget("0.1%", 1000)).toBe(1);
  });

  it("rejects bad budgets naming where", () => {
    expect(() => parseBudget(-1, 10, "rollout.budget.total")).toThrow(/rollout\.budget\.total: -1 cannot be negative/);
    expect(() => parseBudget("120%", 10)).toThrow(/at most 100%/);
    expect(() => parseBudget("ten", 10)).toThrow(ConfigError);
  });
});

describe("makespanLowerBound", () => {
  it("adds ceil(size / cap) host lifetimes per wave, waves being barriers", () => {
    // host lifetime = 10 + 20 + 5 = 35
    expect(makespanLowerBound([1, 10, 50], 20, [10, 20, 5])).toBe(35 * (1 + 1 + 3));
    expect(makespanLowerBound([40], 20, { commission: 10, deploy: 20, layer: 5 })).toBe(70);
    expect(() => makespanLowerBound([1], 0, [1])).toThrow(ConfigError);
  });
});
