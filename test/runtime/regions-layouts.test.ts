/**
 * Network layouts over two regions: each region's hosts are planned on that region's own
 * network model (its spaces, VLANs and subnets, whose ids are the region's: region b has a
 * fabric more, listed first, so every id of b differs from a's for the same network) and
 * applied through the host's region. The rollout completes, and each host's data link is
 * on its own region's data subnet. Without per-region models the plan would name ids of one
 * region for hosts of the other, which that region refuses.
 */
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { RegionLink } from "../../src/maas/region-link.ts";
import { RegionsMaas } from "../../src/maas/regions.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import { FLEET_5000, layoutConfig } from "./layout-rig.ts";
import { simClient, simDeps } from "./sim-client.ts";

let sims: SimHandle[] = [];
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

/** The 5,000-machine networks fleet cut to a few machines a zone, hostnames prefixed by the region; b gets an extra fabric first. */
function regionFleet(dir: string, region: string, extraFabric: boolean): string {
  const source = readFileSync(FLEET_5000, "utf8");
  const head = source.slice(0, source.indexOf("groups:"));
  let text = head.replace(/^description: .*$/m, `description: region ${region}, networks fleet in small`);
  if (extraFabric) {
    text = text
      .replace("  spaces: [{ name: management }, { name: internal }, { name: data }]", "  spaces: [{ name: oob }, { name: management }, { name: internal }, { name: data }]")
      .replace("  fabrics:\n", "  fabrics:\n    - name: oob\n      vlans:\n        - vid: 0\n          space: oob\n          subnets: [{ cidr: 127.19.0.0/16 }]\n");
  }
  const groups = ["dc1", "dc2", "dc3"].flatMap((z) => [
    `  - { class: net-control, count: 2, zone: ${z}, hostname_prefix: ${region}-ctl-${z}, fabrics: [fabric-0, data] }`,
    `  - { class: net-storage, count: 1, zone: ${z}, hostname_prefix: ${region}-sto-${z}, fabrics: [fabric-0, data] }`,
    `  - { class: net-compute, count: 2, zone: ${z}, hostname_prefix: ${region}-cmp-${z}, fabrics: [fabric-0, data] }`,
  ]);
  const file = join(dir, `${region}.yaml`);
  writeFileSync(file, `${text}groups:\n${groups.join("\n")}\n`);
  return file;
}

describe("network layouts over two regions", () => {
  it("lays out each region's hosts on its own spaces and subnets, and applies them through that region", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-regions-layouts-"));
    sims = await Promise.all([
      startSimulator({ fleet: regionFleet(dir, "a", false), zeroDuration: true, seed: 51 }),
      startSimulator({ fleet: regionFleet(dir, "b", true), zeroDuration: true, seed: 52 }),
    ]);
    const clients = sims.map((s) => simClient(s));
    const maas = new RegionsMaas(["a", "b"].map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 })));
    const dataSubnet = async (i: number) => (await clients[i]!.listSubnets()).find((s) => s.cidr === "127.18.0.0/16")!.id;
    const ids = { a: await dataSubnet(0), b: await dataSubnet(1) };
    // The point of the test: the same network has different ids in the two regions.
    expect(ids.a).not.toBe(ids.b);

    const config = layoutConfig();
    const plan = await readAndPlan(maas, config);
    expect(plan.blocking).toEqual([]);
    const laidOut = plan.rollout.hosts.filter((h) => h.layout?.links.some((l) => l.network === "data"));
    expect(new Set(laidOut.map((h) => h.region))).toEqual(new Set(["a", "b"]));
    for (const h of laidOut) {
      const data = h.layout!.links.find((l) => l.network === "data")!;
      expect({ host: h.hostname, subnetId: data.subnetId }).toEqual({ host: h.hostname, subnetId: ids[h.region as "a" | "b"] });
    }

    store = openStore(":memory:");
    const deps = { ...simDeps(clients[0]!, store, config), maas, requestCount: () => clients.reduce((n, c) => n + c.stats().requests, 0) };
    const summary = await new RolloutRunner(deps).run({ resume: false });
    expect(summary.failures).toEqual([]);
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome.inService).toBe(plan.rollout.hosts.length);

    // Each host's bond is on its own region's data subnet, as that region lists it.
    for (const h of laidOut) {
      const m = await maas.readMachine(h.systemId);
      const bond = m.interface_set.find((i) => i.name === "bond0");
      const subnets = (bond?.links ?? []).map((l) => l.subnet?.id);
      expect({ host: h.hostname, region: regionOfKey(m.system_id), subnets }).toEqual({ host: h.hostname, region: h.region, subnets: [ids[h.region as "a" | "b"]] });
    }
  }, 120_000);
});
