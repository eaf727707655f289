/**
 * Re-provisioning and remediation over several regions: a re-provisioning of hosts of two
 * regions goes on in the region that answers while the other is away (its host waits, not
 * failed) and finishes there once it is back, each host released and deployed again in its
 * own region only; a remediation pass while a region is away remediates the other regions'
 * hosts without waiting for it and names it; and a spare takes the role of a failed host of
 * its own region only (a site's host is replaced at that site), even when another region has
 * one in the failed host's zone.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { promoteSpares, reprovisionHosts } from "../../src/runtime/reprovision.ts";
import { remediate } from "../../src/runtime/remediation.ts";
import { parseConfig } from "../../src/config.ts";
import { RegionLink } from "../../src/maas/region-link.ts";
import { RegionsMaas } from "../../src/maas/regions.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas, fakeMachine } from "../fakes/maas.ts";
import { NodeStatus, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { stepClocks, type SteppedClock } from "./stepped-clock.ts";
import { until } from "../fakes/until.ts";

let sims: SimHandle[] = [];
let store: Store | undefined;
let clock: SteppedClock | undefined;
afterEach(async () => {
  clock?.stop();
  clock = undefined;
  store?.close();
  store = undefined;
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});


describe("maintenance over two regions", () => {
  it("goes on in the region that answers while the other is away, and finishes there once it is back", async () => {
    // On the manual clock, stepped (./stepped-clock.ts): b's host is still being re-provisioned when b goes away.
    sims = await Promise.all([
      startSimulator({ machines: 10, speed: 1000, seed: 71, hostnamePrefix: "a", clock: "manual" }),
      startSimulator({ machines: 10, speed: 1000, seed: 72, hostnamePrefix: "b", clock: "manual" }),
    ]);
    clock = stepClocks(sims);
    const [a, b] = sims as [SimHandle, SimHandle];
    const clients = sims.map((s) => simClient(s));
    const maas = new RegionsMaas(["a", "b"].map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 })));
    store = openStore(":memory:");
    const config = parseConfig({ layers: { enabled: false }, rollout: { backoffMs: { base: 1, max: 5 } } });
    const deps = { ...simDeps(clients[0]!, store, config), maas, requestCount: () => clients.reduce((n, c) => n + c.stats().requests, 0) };
    expect((await new RolloutRunner(deps).run({ resume: false })).state).toBe("completed");

    const hostA = "a-az1-storage-dense-0001";
    const hostB = "b-az1-storage-dense-0001";
    const counts = (sim: SimHandle, hostname: string) => sim.stats().machines!.find((m) => m.hostname === hostname)!;
    const others = (sim: SimHandle, hostname: string) =>
      sim
        .stats()
        .machines!.filter((m) => m.hostname !== hostname)
        .reduce((n, m) => n + m.released + m.deployed, 0);
    const before = { a: others(a, hostA), b: others(b, hostB) };

    const pass = reprovisionHosts(deps, { hosts: [hostA, hostB], reason: "disk swap", erase: "quick" }, { spares: false });
    // b goes away once its host has been released (the pass is under way in both regions).
    await until(`${hostB} released`, () => counts(b, hostB).released >= 1);
    await b.goAway();
    const id = () => store!.latestRollout()!.id;
    await until(`${hostA} back in service while b is away`, () => store!.loadHosts(id()).some((h) => h.hostname === hostA && h.outcome === "inService"));
    expect(b.listening).toBe(false);
    expect(store.loadHosts(id()).find((h) => h.hostname === hostB)?.outcome).toBeNull();
    await b.comeBack();

    const run = await pass;
    expect(run.reprovision.state).toBe("completed");
    expect(run.reprovision.byOutcome).toEqual({ inService: 2, quarantined: 0, aborted: 0, refused: 0, failed: 0 });
    expect(store.journal(id(), { kind: "rollout" }).map((j) => j.data as { event?: string; region?: string }).filter((d) => d.event === "regionDown" || d.event === "regionUp").map((d) => `${d.event} ${d.region}`)).toEqual(["regionDown b", "regionUp b"]);
    // Each host released and deployed again in its own region; no other machine touched.
    expect({ released: counts(a, hostA).released, deployed: counts(a, hostA).deployed }).toEqual({ released: 1, deployed: 2 });
    expect({ released: counts(b, hostB).released, deployed: counts(b, hostB).deployed }).toEqual({ released: 1, deployed: 2 });
    expect({ a: others(a, hostA), b: others(b, hostB) }).toEqual(before);
    expect((await maas.readMachine(store.loadHosts(id()).find((h) => h.hostname === hostB)!.systemId)).status).toBe(NodeStatus.DEPLOYED);
  }, 120_000);

  it("remediates the hosts of the regions that answer while another is away, and says which it left out", async () => {
    sims = await Promise.all([
      startSimulator({ machines: 10, zeroDuration: true, seed: 73, hostnamePrefix: "a" }),
      startSimulator({ machines: 10, zeroDuration: true, seed: 74, hostnamePrefix: "b" }),
    ]);
    const [a, b] = sims as [SimHandle, SimHandle];
    const clients = sims.map((s) => simClient(s));
    const maas = new RegionsMaas(["a", "b"].map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 })));
    store = openStore(":memory:");
    const config = parseConfig({ layers: { enabled: false }, rollout: { backoffMs: { base: 1, max: 5 } }, remediation: { coolDownMs: 0, haltWhenUnhealthy: "50%" } });
    const deps = { ...simDeps(clients[0]!, store, config), maas, requestCount: () => clients.reduce((n, c) => n + c.stats().requests, 0) };
    expect((await new RolloutRunner(deps).run({ resume: false })).state).toBe("completed");

    // A host of each region breaks; then region b goes away.
    const broken = async (sim: SimHandle, i: number) => {
      const m = sim.stats().machines!.find((x) => x.hostname.includes("compute"))!;
      await clients[i]!.markBroken(m.system_id, "test: broke");
      return m;
    };
    const inA = await broken(a, 0);
    const inB = await broken(b, 1);
    await b.goAway();
    const pass = await remediate(deps);
    expect(pass.regionsUnreachable).toEqual(["b"]);
    expect(pass.attempted.map((x) => x.hostname)).toEqual([inA.hostname]);
    expect(pass.rollout?.byOutcome.inService).toBe(1);
    // A re-provisioning of b's host meanwhile is refused at once, saying why, not held.
    await expect(reprovisionHosts(deps, { hosts: [inB.hostname], reason: "test", erase: "quick" }, { spares: false })).rejects.toThrow(/regions not answering, whose machines could not be listed: b/);
    // It finished without region b, which is still away; b's host is left for a later pass.
    expect(b.listening).toBe(false);
    expect(a.stats().machines!.find((m) => m.hostname === inA.hostname)).toMatchObject({ status_name: "Deployed", deployed: 2 });
    await b.comeBack();
    // The next pass, once a probe has found b back.
    await until("region b found back", () => maas.links.get("b")!.isUp);
    const later = await remediate(deps);
    expect(later.regionsUnreachable).toEqual([]);
    expect(later.attempted.map((x) => x.hostname)).toEqual([inB.hostname]);
    expect(later.rollout?.byOutcome.inService).toBe(1);
  }, 120_000);

  it("lets a spare of the failed host's own region take its role, never one of another region", async () => {
    const config = parseConfig({ layers: { enabled: false } });
    const machine = (systemId: string, hostname: string, zone: string, tags: string[], status: NodeStatusCode) =>
      fakeMachine({ system_id: systemId, hostname, zone: { name: zone, description: "", resource_uri: `/MAAS/api/2.0/zones/${zone}/` }, tag_names: ["metalwave-cloud", ...tags], status, locked: false });
    const fleet = [
      machine("b/fail01", "b-cmp-1", "az1", ["compute"], NodeStatus.BROKEN),
      // Another region's spare in the failed host's zone: the zone rule alone would take it.
      machine("a/spare1", "a-spare-1", "az1", ["metalwave-spare-compute"], NodeStatus.READY),
      machine("b/spare2", "b-spare-2", "az2", ["metalwave-spare-compute"], NodeStatus.READY),
    ];
    const maas = new FakeMaas(fleet) satisfies MaasPort;
    const chosen = await promoteSpares(maas, config, [{ systemId: "b/fail01", hostname: "b-cmp-1" }], "test");
    expect(chosen.replacements).toEqual([{ failed: { systemId: "b/fail01", hostname: "b-cmp-1" }, role: "compute", spare: { systemId: "b/spare2", hostname: "b-spare-2" } }]);
    expect(chosen.plan?.hosts.map((h) => [h.systemId, h.region])).toEqual([["b/spare2", "b"]]);

    // With no spare left in its region, none: the note says where it looked.
    const none = await promoteSpares(new FakeMaas(fleet.slice(0, 2)) satisfies MaasPort, config, [{ systemId: "b/fail01", hostname: "b-cmp-1" }], "test");
    expect(none.replacements).toEqual([{ failed: { systemId: "b/fail01", hostname: "b-cmp-1" }, role: "compute", spare: null, note: "no free spare (New or Ready, not locked) tagged metalwave-spare-compute in metalwave-cloud in region b" }]);
  });
});
