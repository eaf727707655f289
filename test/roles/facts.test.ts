import { describe, expect, it } from "vitest";
import { hostnamePattern, machineFacts, matchesRule } from "../../src/roles/facts.ts";
import type { MatchRule } from "../../src/roles/schema.ts";
import { machine } from "./factory.ts";

const storageBox = machine({
  hostname: "sto-dc1-0001",
  zone: "dc1",
  pool: "storage",
  cores: 32,
  memoryMiB: 262144,
  disks: [{ gb: 480, kind: "ssd" }, { gb: 16000, kind: "hdd" }, { gb: 16000, kind: "hdd" }, { gb: 960, kind: "ssd" }],
  nics: [25000, null, 10000],
  tags: ["rack-a", "virtual-no"],
});

const facts = machineFacts(storageBox);
const m = (rule: MatchRule) => matchesRule(facts, rule);

describe("machine facts", () => {
  it("reads cores, memory, disks in GiB with the boot disk and kind, NICs with speed or unknown", () => {
    expect(facts).toMatchObject({ cores: 32, memoryMiB: 262144, zone: "dc1", pool: "storage", architecture: "amd64/generic", commissioned: true });
    expect(facts.disks.map((d) => [Math.round(d.sizeGiB), d.boot, d.kind])).toEqual([
      [447, true, "ssd"],
      [14901, false, "hdd"],
      [14901, false, "hdd"],
      [894, false, "ssd"],
    ]);
    expect(facts.storageGiB).toBeCloseTo((480 + 16000 * 2 + 960) * 1e9 / 1024 ** 3, 6);
    expect(facts.nics.map((n) => n.speedMbps)).toEqual([25000, null, 10000]);
  });

  it("takes the first disk as the boot disk when MAAS reports none", () => {
    const f = machineFacts(machine({ hostname: "a", noBootDisk: true, disks: [{ gb: 100 }, { gb: 200 }] }));
    expect(f.disks.map((d) => d.boot)).toEqual([true, false]);
  });

  it("marks a machine without commissioning data as uncommissioned", () => {
    expect(machineFacts(machine({ hostname: "new-1", cores: 0, memoryMiB: 0, disks: [], nics: [] })).commissioned).toBe(false);
  });
});

describe("rule matching, one fact at a time", () => {
  it("cores and memory ranges", () => {
    expect(m({ cores: { min: 32 } })).toBe(true);
    expect(m({ cores: { min: 33 } })).toBe(false);
    expect(m({ cores: { max: 16 } })).toBe(false);
    expect(m({ memoryMiB: { min: 262144, max: 262144 } })).toBe(true);
    expect(m({ memoryMiB: { min: 300000 } })).toBe(false);
  });

  it("total storage in GiB", () => {
    expect(m({ storageGiB: { min: 30000 } })).toBe(true);
    expect(m({ storageGiB: { max: 30000 } })).toBe(false);
  });

  it("disk count with per-disk size, boot and kind filters", () => {
    expect(m({ disks: { count: { min: 4 } } })).toBe(true);
    expect(m({ disks: { count: { min: 5 } } })).toBe(false);
    expect(m({ disks: { count: { min: 2 }, minSizeGiB: 10000 } })).toBe(true);
    expect(m({ disks: { count: { min: 3 }, minSizeGiB: 10000 } })).toBe(false);
    expect(m({ disks: { count: { min: 3 }, minSizeGiB: 400, nonBoot: true } })).toBe(true);
    expect(m({ disks: { count: { min: 4 }, minSizeGiB: 400, nonBoot: true } })).toBe(false);
    expect(m({ disks: { count: { min: 2, max: 2 }, kind: "ssd" } })).toBe(true);
    expect(m({ disks: { maxSizeGiB: 100 } })).toBe(false); // default: at least one disk passes
    expect(m({ disks: { minSizeGiB: 100 } })).toBe(true);
  });

  it("NIC count and speed; an unreported speed never satisfies a speed minimum", () => {
    expect(m({ nics: { count: { min: 3 } } })).toBe(true);
    expect(m({ nics: { count: { min: 2 }, minSpeedMbps: 10000 } })).toBe(true);
    expect(m({ nics: { count: { min: 2 }, minSpeedMbps: 25000 } })).toBe(false);
    expect(m({ nics: { minSpeedMbps: 100000 } })).toBe(false);
  });

  it("architecture by family or in full", () => {
    expect(m({ architecture: ["amd64"] })).toBe(true);
    expect(m({ architecture: ["amd64/generic"] })).toBe(true);
    expect(m({ architecture: ["arm64"] })).toBe(false);
    expect(m({ architecture: ["amd"] })).toBe(false);
  });

  it("zone and pool", () => {
    expect(m({ zones: ["dc1", "dc2"] })).toBe(true);
    expect(m({ zones: ["dc2"] })).toBe(false);
    expect(m({ pools: ["storage"] })).toBe(true);
    expect(m({ pools: ["compute"] })).toBe(false);
  });

  it("hostname glob (whole name) and /regex/", () => {
    expect(m({ hostname: "sto-*" })).toBe(true);
    expect(m({ hostname: "sto-dc?-000[1-3]" })).toBe(true);
    expect(m({ hostname: "sto" })).toBe(false);
    expect(m({ hostname: "cmp-*" })).toBe(false);
    expect(m({ hostname: "/dc1/" })).toBe(true);
    expect(m({ hostname: "/^DC1/i" })).toBe(false);
    expect(m({ hostname: "/^STO-dc1/i" })).toBe(true);
    expect(hostnamePattern("a.b").test("axb")).toBe(false);
  });

  it("existing tags, all of and none of", () => {
    expect(m({ tags: ["rack-a"] })).toBe(true);
    expect(m({ tags: ["rack-a", "rack-b"] })).toBe(false);
    expect(m({ notTags: ["rack-b"] })).toBe(true);
    expect(m({ notTags: ["rack-a"] })).toBe(false);
  });

  it("an uncommissioned machine matches no hardware rule", () => {
    const f = machineFacts(machine({ hostname: "new-1", cores: 0, memoryMiB: 0, disks: [], nics: [] }));
    expect(matchesRule(f, { cores: { min: 2 } })).toBe(false);
    expect(matchesRule(f, { disks: { count: { min: 1 } } })).toBe(false);
  });
});
