/**
 * Issue #14's done-when at scale: the 5,000 machines of
 * machines/fleet-datacenter-5000-networks.yaml (three spaces, a bondable pair of data NICs,
 * internal on a tagged VLAN) plan, get their per-role layout in MAAS, deploy, and read back
 * from MAAS with that layout and an address on each space their links reach.
 *
 About 15 MAAS requests per host (commission, the layout's changes and read-backs, allocate,
 * deploy): some 75,000 requests against the in-process region, about 45 ms of CPU per machine,
 * so some 3 minutes of CPU in all: too long for every suite run. It runs with
 * METALWAVE_SCALE_TESTS=1, `npm run test:scale` (docs/bench.md, "4. The 5,000-machine layout
 * rollout", has its measured time); test/runtime/host-layout.test.ts runs the same checks on a
 * small copy of the fleet in every suite run.
 */
import { afterEach, describe, expect, it } from "vitest";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { addressesBySpace } from "../../src/roles/addresses.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { FLEET_5000, layoutConfig } from "./layout-rig.ts";
import { simDeps } from "./sim-client.ts";
import { MaasClient } from "../../src/maas/client.ts";

let sim: SimHandle | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  await sim?.close();
});

const SCALE = process.env.METALWAVE_SCALE_TESTS === "1";
if (!SCALE) console.warn("layout-fleet-5000.test.ts: set METALWAVE_SCALE_TESTS=1 to run the 5,000-machine layout rollout");

describe.skipIf(!SCALE)("a 5,000-machine fleet with three spaces, bonds and VLANs", () => {
  it("plans, configures and deploys with the per-role layout read back from MAAS", async () => {
    sim = await startSimulator({ fleet: FLEET_5000, zeroDuration: true, seed: 9 });
    const maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, maxInFlight: 16, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    const config = layoutConfig();
    const plan = await readAndPlan(maas, config);
    expect(plan.blocking).toEqual([]);
    expect(plan.rollout.hosts).toHaveLength(5000);
    expect(plan.rollout.hosts.filter((h) => h.layout === undefined)).toEqual([]);

    store = openStore(":memory:");
    const summary = await new RolloutRunner(simDeps(maas, store, config)).run({ resume: false });
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome.inService).toBe(5000);

    const bad: string[] = [];
    for (const zone of ["dc1", "dc2", "dc3"]) {
      for (const m of await maas.listMachines({ zone: [zone] })) {
        const h = plan.rollout.hosts.find((x) => x.systemId === m.system_id);
        if (h === undefined) continue;
        const spaces = Object.keys(addressesBySpace(m));
        const want = [...new Set(h.layout!.links.map((k) => k.space))];
        const bond = m.interface_set.find((i) => i.name === "bond0");
        const ok =
          m.status === NodeStatus.DEPLOYED &&
          want.every((s) => spaces.includes(s)) &&
          (h.roles.includes("juju-controller") || (bond?.type === "bond" && bond.parents.join(",") === "eno2,eno3" && m.interface_set.some((i) => i.name === "eno1.100" && i.vlan?.space === "internal")));
        if (!ok) bad.push(`${m.hostname}: ${m.status_name}, spaces ${spaces.join(",")}, bond ${bond?.parents.join("+") ?? "none"}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  }, 3_600_000);
});
