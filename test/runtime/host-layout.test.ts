/**
 * The per-role network layout end to end on the simulated region's network model:
 * planned, shown, applied before deploy with every change journaled, read back from MAAS
 * after deploy (bonds, VLAN interfaces, a linked address on every space the role needs),
 * nothing sent a second time, a crash-left change settled by reading back, and bad layouts
 * refused before anything changes.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MaasClient, RequestInfo } from "../../src/maas/client.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { addressesBySpace } from "../../src/roles/addresses.ts";
import { endpointAddress, hostFromMachine } from "../../src/layers/index.ts";
import { silentLogger } from "../../src/log.ts";
import { CallJournal } from "../../src/runtime/call-journal.ts";
import { PreflightError, readAndPlan, renderWavesText } from "../../src/runtime/deployment-plan.ts";
import { applyHostLayout } from "../../src/runtime/host-layout.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { readRolloutPlan } from "../../src/runtime/documents/rollout-plan.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { FLEET_5000, NIC_LAYOUT, layoutConfig } from "./layout-rig.ts";

let sim: SimHandle | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

/** A small copy of the 5,000-machine fleet: same networks and classes, a few machines per group. */
async function smallRegion(): Promise<{ sim: SimHandle; maas: MaasClient; writes: RequestInfo[] }> {
  const { readFileSync, writeFileSync, mkdtempSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const text = readFileSync(FLEET_5000, "utf8").replace(/count: (200|1463|1462),/g, "count: 4,").replace(/count: 4, zone/g, "count: 4, zone");
  const file = join(mkdtempSync(join(tmpdir(), "mw-layout-")), "fleet.yaml");
  writeFileSync(file, text);
  sim = await startSimulator({ fleet: file, zeroDuration: true, seed: 5 });
  const maas = simClient(sim);
  const writes: RequestInfo[] = [];
  maas.observeRequests((r) => {
    if (r.method !== "GET") writes.push(r);
  });
  return { sim, maas, writes };
}

describe("per-role network layout on the simulated region", () => {
  it("plans, applies before deploy with each change journaled, and reads back bonds, VLANs and an address on every needed space", async () => {
    const { maas, writes } = await smallRegion();
    const config = layoutConfig();
    const plan = await readAndPlan(maas, config);
    expect(plan.blocking).toEqual([]);
    expect(plan.rollout.hosts.every((h) => h.layout !== undefined)).toBe(true);
    const cmp = plan.rollout.hosts.find((h) => h.roles.includes("compute"))!;
    expect(cmp.layout?.bonds).toEqual([{ name: "bond0", parents: ["eno2", "eno3"], mode: "802.3ad", mtu: 9000 }]);
    expect(cmp.layout?.vlans.map((v) => v.name)).toEqual(["eno1.100"]);
    const text = renderWavesText(plan);
    expect(text).toContain("bond bond0 = eno2+eno3 802.3ad mtu 9000");
    expect(text).toContain("link bond0 auto 127.18.0.0/16 (data → space data)");

    store = openStore(":memory:");
    const begun = vi.spyOn(store, "beginCall");
    const summary = await new RolloutRunner(simDeps(maas, store, config)).run({ resume: false });
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome.inService).toBe(plan.rollout.hosts.length);

    // Every layout change was written ahead, and only layout changes MAAS was sent are journaled as such.
    const journaled = begun.mock.calls.map(([c]) => c.operation).filter((op) => op.startsWith("layout."));
    const sentLayout = writes.filter((w) => ["createBond", "createVlanInterface", "linkSubnet", "unlinkSubnet", "updateInterface"].includes(w.operation));
    expect(journaled.length).toBe(sentLayout.length);
    expect(journaled.filter((op) => op === "layout.createBond:bond0").length).toBe(plan.rollout.hosts.filter((h) => !h.roles.includes("juju-controller")).length);

    const machines = new Map((await maas.listMachines({})).map((m) => [m.system_id, m]));
    for (const h of plan.rollout.hosts) {
      const m = machines.get(h.systemId)!;
      expect({ host: h.hostname, status: m.status }).toEqual({ host: h.hostname, status: NodeStatus.DEPLOYED });
      const spaces = Object.keys(addressesBySpace(m)).sort();
      // Interfaces the layout does not name keep what MAAS gave them (a controller's data NICs).
      expect({ host: h.hostname, spaces }).toEqual({ host: h.hostname, spaces: expect.arrayContaining(Object.values(h.layout!.networks)) });
      // The layers reach it on its management address (127.16.0.0/16 on this site), and match a node on internal.
      const layerHost = hostFromMachine(m, h.roles, { spaces: config.network?.spaces });
      expect({ host: h.hostname, ssh: layerHost.address }).toEqual({ host: h.hostname, ssh: addressesBySpace(m)["management"]![0] });
      expect(layerHost.address).toMatch(/^127\.16\./);
      if (!h.roles.includes("juju-controller")) expect(endpointAddress(layerHost, "kubernetesNode")).toBe(addressesBySpace(m)["internal"]![0]);
      if (h.roles.includes("juju-controller")) continue;
      expect({ host: h.hostname, spaces }).toEqual({ host: h.hostname, spaces: [...new Set(h.layout!.links.map((k) => k.space))].sort() });
      const bond = m.interface_set.find((i) => i.name === "bond0");
      expect({ host: h.hostname, type: bond?.type, parents: bond?.parents }).toEqual({ host: h.hostname, type: "bond", parents: ["eno2", "eno3"] });
      expect(m.interface_set.find((i) => i.name === "eno1.100")?.vlan?.space).toBe("internal");
      if (h.roles.includes("network")) expect(bond?.tags).toContain("neutron:physnet1");
    }

    // The stored plan keeps each host's layout, so a resumed rollout applies the same one.
    const latest = store.latestRollout()!;
    expect(readRolloutPlan(latest.plan, latest.id).hosts.map((h) => h.layout)).toEqual(plan.rollout.hosts.map((h) => h.layout));

    // A second pass over the same hosts reads and sends nothing.
    writes.length = 0;
    const calls = new CallJournal(store, store.latestRollout()!.id);
    for (const h of plan.rollout.hosts) expect(await applyHostLayout({ maas, calls, logger: silentLogger() }, h, h.layout!)).toBe(0);
    expect(writes).toEqual([]);
  }, 120_000);

  it("a change a crash left open is settled by reading back: done if MAAS holds it, and not sent again", async () => {
    const { maas, writes } = await smallRegion();
    const config = layoutConfig();
    const plan = await readAndPlan(maas, config);
    const h = plan.rollout.hosts.find((x) => x.roles.includes("compute"))!;
    store = openStore(":memory:");
    const rollout = store.createRollout(plan.rollout).id;
    // The bond was created, then the process died before the outcome was written.
    const iface = (await maas.readInterfaces(h.systemId)).filter((i) => i.name === "eno2" || i.name === "eno3").map((i) => i.id);
    await maas.createBond(h.systemId, { name: "bond0", parents: iface, bond_mode: "802.3ad", mtu: 9000 });
    const open = store.beginCall({ rolloutId: rollout, systemId: h.systemId, operation: "layout.createBond:bond0" });
    writes.length = 0;
    const calls = new CallJournal(store, rollout);
    const reconciled = vi.spyOn(calls, "reconciled");
    await applyHostLayout({ maas, calls, logger: silentLogger() }, h, h.layout!);
    expect(reconciled).toHaveBeenCalledWith(open, true);
    expect(writes.map((w) => w.operation)).not.toContain("createBond");
    expect(store.openCalls(rollout)).toEqual([]);
  }, 60_000);

  it("a bond rule no NIC matches, or a missing load-balancer range, blocks the rollout and changes nothing", async () => {
    const { maas, writes } = await smallRegion();
    const fast = { ...NIC_LAYOUT, bonds: [{ ...NIC_LAYOUT.bonds[0]!, nics: { minSpeedMbps: 100000, count: 2 } }] };
    const base = layoutConfig();
    const config = layoutConfig({ network: { ...base.network!, loadBalancerRanges: ["{deployment}-internal-api", "{deployment}-storage-ippool"], layouts: { ...base.network!.layouts, compute: fast } } });
    const plan = await readAndPlan(maas, config);
    const codes = plan.blocking.map((f) => f.code);
    expect(codes).toEqual(expect.arrayContaining(["BOND_NO_NIC", "LB_RANGE_MISSING"]));
    const bond = plan.blocking.find((f) => f.code === "BOND_NO_NIC")!;
    expect(bond.message).toMatch(/^network\.layouts\.compute\.bonds\[0\]\.nics: \d+ compute machines: cmp-dc\d-\S+ \(\w+\): bond bond0 matches 0 NICs, needs 2; the machine's NICs: eno1 \(boot, 10000 Mb\/s\), eno2 \(25000 Mb\/s\), eno3 \(25000 Mb\/s\)/);
    expect(plan.blocking.find((f) => f.code === "LB_RANGE_MISSING")?.message).toContain('no reserved IP range with comment "cloud-storage-ippool"');

    store = openStore(":memory:");
    await expect(new RolloutRunner(simDeps(maas, store, config)).run({ resume: false })).rejects.toBeInstanceOf(PreflightError);
    expect(writes).toEqual([]);
  }, 60_000);

  it("a role's machine on a fabric without its space cannot reach it", async () => {
    const { maas } = await smallRegion();
    const base = layoutConfig();
    // Storage hosts need storage-cluster, which this site does not have.
    const config = layoutConfig({ network: { ...base.network!, roleNetworks: { ...base.network!.roleNetworks, storage: ["management", "internal", "storage-cluster"] } } });
    const plan = await readAndPlan(maas, config);
    const f = plan.blocking.find((x) => x.code === "NETWORK_SPACE_UNREACHABLE" && x.role === "storage");
    expect(f?.message).toMatch(/^network\.layouts\.storage\.links: \d+ storage machines: sto-dc\d-\S+ \(\w+\): needs network storage-cluster \(MAAS space storage-cluster\); its planned links reach data, internal, management/);
  }, 60_000);
});
