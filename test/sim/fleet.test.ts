import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultFleet, loadFleetFile, parseFleet, startSimulator } from "../../src/sim/index.ts";
import { fleetSize } from "../../src/sim/fleet.ts";
import { Maas } from "./helpers.ts";

const base = {
  classes: { small: { cpu_count: 4, memory_gib: 16, disks: [{ size_gb: 100, kind: "ssd" }], nics: [{ speed_mbps: 1000 }] } },
  zones: [{ name: "z1" }],
  groups: [{ class: "small", count: 2, zone: "z1" }],
};

describe("fleet files", () => {
  it("ships fleets of the documented sizes that validate", () => {
    expect(fleetSize(loadFleetFile("machines/fleet-small.yaml"))).toBe(200);
    expect(fleetSize(loadFleetFile("machines/fleet-mixed-50.yaml"))).toBe(50);
    expect(fleetSize(loadFleetFile("machines/fleet-layered-14.yaml"))).toBe(14);
    const dc = loadFleetFile("machines/fleet-datacenter-5000.yaml");
    expect(fleetSize(dc)).toBe(5000);
    expect(dc.zones.filter((z) => z.name !== "default")).toHaveLength(3);
  });

  it.each([
    [{ ...base, groups: [{ class: "small", count: -1, zone: "z1" }] }, "groups[0].count"],
    [{ ...base, groups: [{ class: "huge", count: 1, zone: "z1" }] }, "groups[0].class"],
    [{ ...base, groups: [{ class: "small", count: 1, zone: "z9" }] }, "groups[0].zone"],
    [{ ...base, groups: [{ class: "small", count: 1, zone: "z1", status: "deployedd" }] }, "groups[0].status"],
    [{ ...base, classes: { small: { ...base.classes.small, disks: [{ size_gb: 1, kind: "tape" }] } } }, "classes.small.disks[0].kind"],
    [{ ...base, colour: "red" }, "(top level)"],
  ])("names the YAML path at fault (%#)", (doc, path) => {
    expect(() => parseFleet(doc, "test.yaml")).toThrow(`test.yaml: ${path}`);
    expect(() => parseFleet(doc, "test.yaml")).toThrow(expect.objectContaining({ code: "SIM_FLEET_INVALID" }));
  });

  it("reports a YAML syntax error with the file name", () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-fleet-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "groups: [ {class: x\n");
    expect(() => loadFleetFile(file)).toThrow(/bad\.yaml: not valid YAML/);
  });

  it("builds machines from classes, zones, pools, prefixes, tags and initial statuses", async () => {
    const fleet = parseFleet(
      {
        ...base,
        pools: [{ name: "p1" }],
        groups: [
          { class: "small", count: 2, zone: "z1", pool: "p1", hostname_prefix: "web", status: "ready", tags: ["frontend"] },
          { class: "small", count: 1, zone: "z1", status: "deployed" },
        ],
      },
      "inline",
    );
    const sim = await startSimulator({ fleet, clock: "manual" });
    try {
      const maas = new Maas(sim);
      const list = (await maas.get("machines/")).json;
      expect(list.map((m: { hostname: string }) => m.hostname).slice(0, 2)).toEqual(["web-0001", "web-0002"]);
      expect(list[0]).toMatchObject({ status_name: "Ready", cpu_count: 4, memory: 16384, tag_names: ["frontend"], zone: { name: "z1" }, pool: { name: "p1" } });
      expect(list[0].physicalblockdevice_set[0].size).toBe(100e9);
      expect(list[2]).toMatchObject({ status_name: "Deployed", owner: "admin", power_state: "on" });
      expect(list[2].ip_addresses).toHaveLength(1);
      expect((await maas.get("zones/")).json.map((z: { name: string }) => z.name)).toEqual(["default", "z1"]);
      expect((await maas.get("tags/")).json.map((t: { name: string }) => t.name)).toEqual(["frontend"]);
    } finally {
      await sim.close();
    }
  });

  it("starts machines listed as commissioning in their busy phase", async () => {
    const fleet = parseFleet({ ...base, groups: [{ class: "small", count: 1, zone: "z1", status: "commissioning" }] }, "inline");
    const sim = await startSimulator({ fleet, clock: "manual" });
    try {
      expect(sim.region.machines[0]!.status).toBe(1);
      sim.advance(Infinity);
      expect(sim.region.machines[0]!.status).toBe(4);
    } finally {
      await sim.close();
    }
  });

  it("--machines N makes a plausible fleet over three zones", () => {
    const f = defaultFleet(200);
    expect(fleetSize(f)).toBe(200);
    expect(new Set(f.groups.map((g) => g.zone))).toEqual(new Set(["az1", "az2", "az3"]));
    expect(fleetSize(defaultFleet(1))).toBe(1);
    expect(fleetSize(defaultFleet(0))).toBe(0);
  });
});
