// The simulated region's network model (maas-network-storage.md §2, §4): fabrics, VLANs,
// spaces, subnets, IP ranges and a machine's interfaces and links, with MAAS's numbering,
// admin and machine-state rules, and addresses that are real loopback addresses.
import { afterEach, describe, expect, it } from "vitest";
import { parseFleet } from "../../src/sim/index.ts";
import type { FleetSpec, SimHandle } from "../../src/sim/index.ts";
import { MINUTE, manualSim } from "./helpers.ts";
import type { Maas } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** Three spaces: PXE/internal on fabric-0, public and storage as tagged VLANs on the data fabric. */
export function siteFleet(count = 4): FleetSpec {
  return parseFleet(
    {
      classes: {
        node: { cpu_count: 8, memory_gib: 32, disks: [{ count: 2, size_gb: 960, kind: "ssd" }], nics: [{ count: 3, speed_mbps: 25000 }] },
      },
      groups: [{ class: "node", count, status: "ready", hostname_prefix: "node", fabrics: ["fabric-0", "data"] }],
      networks: {
        spaces: [{ name: "internal" }, { name: "public" }, { name: "storage" }],
        fabrics: [
          { name: "fabric-0", vlans: [{ vid: 0, space: "internal", subnets: [{ cidr: "127.16.0.0/16", gateway_ip: "127.16.0.1", ranges: [{ start: "127.16.255.1", end: "127.16.255.254", comment: "k8s load balancers" }] }] }] },
          {
            name: "data",
            vlans: [
              { vid: 0 },
              { vid: 100, space: "public", mtu: 9000, subnets: [{ cidr: "127.17.0.0/24", gateway_ip: "127.17.0.1" }] },
              { vid: 200, space: "storage", subnets: [{ cidr: "127.18.0.0/24" }] },
            ],
          },
        ],
      },
    },
    "site.yaml",
  );
}

async function site(): Promise<{ maas: Maas; s: SimHandle; sid: string }> {
  const r = await manualSim({ fleet: siteFleet() });
  sim = r.sim;
  return { maas: r.maas, s: r.sim, sid: r.sim.region.machines[0]!.systemId };
}

describe("the region's networks", () => {
  it("numbers fabrics from 0 and VLANs from 5001, lists spaces with the undefined pseudo-space, and finds a subnet by CIDR", async () => {
    const { maas } = await site();
    const fabrics = (await maas.get("fabrics/")).json;
    expect(fabrics.map((f: { id: number; name: string }) => [f.id, f.name])).toEqual([
      [0, "fabric-0"],
      [1, "data"],
    ]);
    const data = fabrics[1].vlans.map((v: { id: number; vid: number; name: string; space: string; fabric: string }) => [v.id, v.vid, v.name, v.space, v.fabric]);
    expect(data).toEqual([
      [5002, 0, "untagged", "undefined", "data"],
      [5003, 100, null, "public", "data"],
      [5004, 200, null, "storage", "data"],
    ]);
    const vlan = (await maas.get("fabrics/1/vlans/100/")).json;
    expect(vlan).toMatchObject({ id: 5003, vid: 100, mtu: 9000, resource_uri: "/MAAS/api/2.0/vlans/5003/" });
    expect((await maas.get("vlans/5003/")).json.vid).toBe(100);
    const spaces = (await maas.get("spaces/")).json;
    expect(spaces.map((x: { id: number; name: string }) => [x.id, x.name])).toEqual([
      [1, "internal"],
      [2, "public"],
      [3, "storage"],
      [-1, "undefined"],
    ]);
    expect(spaces[1].subnets.map((x: { cidr: string }) => x.cidr)).toEqual(["127.17.0.0/24"]);
    const byCidr = await maas.get("subnets/127.17.0.0/24/");
    expect(byCidr.json).toMatchObject({ id: 2, cidr: "127.17.0.0/24", space: "public", vlan: { vid: 100 } });
    const ranges = (await maas.get("ipranges/")).json;
    expect(ranges).toMatchObject([{ type: "reserved", start_ip: "127.16.255.1", end_ip: "127.16.255.254", comment: "k8s load balancers", subnet: { cidr: "127.16.0.0/16" } }]);
    expect((await maas.get("spaces/99/")).status).toBe(404);
  });

  it("a bond over the data NICs, VLAN interfaces on it linked by space, and the addresses on deploy", async () => {
    const { maas, s, sid } = await site();
    const ifaces = (await maas.get(`nodes/${sid}/interfaces/`)).json;
    expect(ifaces.map((i: { name: string; type: string; vlan: { id: number }; links: { mode: string }[] }) => [i.name, i.vlan.id, i.links.map((l) => l.mode)])).toEqual([
      ["eno1", 5001, ["auto"]],
      ["eno2", 5002, ["link_up"]],
      ["eno3", 5002, ["link_up"]],
    ]);
    const bond = await maas.post(`nodes/${sid}/interfaces/?op=create_bond`, { name: "bond0", parents: [String(ifaces[1].id), String(ifaces[2].id)], bond_mode: "802.3ad", mtu: "9000" });
    expect(bond.status).toBe(200);
    // MAAS's creation defaults apply to what was not given (§2.3).
    expect(bond.json).toMatchObject({ type: "bond", parents: ["eno2", "eno3"], mac_address: ifaces[1].mac_address, params: { bond_mode: "802.3ad", bond_lacp_rate: "fast", bond_miimon: 100, mtu: 9000 }, links: [{ mode: "link_up" }] });
    const again = await maas.post(`nodes/${sid}/interfaces/?op=create_bond`, { name: "bond1", parents: [String(ifaces[1].id)] });
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ parents: ["Interfaces already in-use: eno2."] });
    const member = await maas.post(`nodes/${sid}/interfaces/${ifaces[1].id}/?op=link_subnet`, { mode: "AUTO", subnet: "2" });
    expect(member.json).toEqual({ bond: ["Cannot link interface(eno2) when interface is in a bond(bond0)."] });

    const pub = await maas.post(`nodes/${sid}/interfaces/?op=create_vlan`, { parent: String(bond.json.id), vlan: "5003" });
    expect(pub.json).toMatchObject({ name: "bond0.100", type: "vlan", parents: ["bond0"], vlan: { vid: 100, space: "public" }, effective_mtu: 9000 });
    const untaggedVlan = await maas.post(`nodes/${sid}/interfaces/?op=create_vlan`, { parent: String(bond.json.id), vlan: "5002" });
    expect(untaggedVlan.status).toBe(400);
    const sto = await maas.post(`nodes/${sid}/interfaces/?op=create_vlan`, { parent: String(bond.json.id), vlan: "5004" });
    const linkedPub = await maas.post(`nodes/${sid}/interfaces/${pub.json.id}/?op=link_subnet`, { mode: "AUTO", subnet: "127.17.0.0/24" });
    expect(linkedPub.json.links).toEqual([{ id: expect.any(Number), mode: "auto", subnet: expect.objectContaining({ cidr: "127.17.0.0/24" }) }]);
    const linkedSto = await maas.post(`nodes/${sid}/interfaces/${sto.json.id}/?op=link_subnet`, { mode: "STATIC", subnet: "3", ip_address: "127.18.0.50" });
    expect(linkedSto.json.links).toMatchObject([{ mode: "static", ip_address: "127.18.0.50" }]);
    const taken = await maas.post(`nodes/${sid}/interfaces/${sto.json.id}/?op=link_subnet`, { mode: "STATIC", subnet: "3", ip_address: "127.18.0.50", force: "true" });
    expect(taken.json).toEqual({ ip_address: ["IP address 127.18.0.50 already in use."] });

    // Auto links get their addresses when deployment starts, and give them back on release (§2.4).
    expect((await maas.machine(sid)).ip_addresses).toEqual(["127.18.0.50"]);
    await maas.op(sid, "deploy");
    const deploying = await maas.machine(sid);
    expect(deploying.ip_addresses).toHaveLength(3);
    expect(deploying.ip_addresses[0]).toMatch(/^127\.16\./);
    expect(deploying.ip_addresses).toContain("127.18.0.50");
    expect(deploying.ip_addresses.some((a: string) => a.startsWith("127.17.0."))).toBe(true);
    expect(s.region.ipFor(s.region.get(sid))).toBe(deploying.ip_addresses[0]);
    // Deploying: interfaces cannot change (§4), in MAAS's words.
    const late = await maas.post(`nodes/${sid}/interfaces/${pub.json.id}/?op=unlink_subnet`, { id: String(linkedPub.json.links[0].id) });
    expect(late.status).toBe(409);
    expect(late.text).toBe("Cannot unlink subnet interface because the machine is not New, Ready, Allocated, or Broken.");
    s.advance(25 * MINUTE);
    await maas.op(sid, "release");
    s.advance(3 * MINUTE);
    expect((await maas.machine(sid)).ip_addresses).toEqual(["127.18.0.50"]);
  });

  it("refuses to deploy a machine left without a network, and restores the commissioning defaults", async () => {
    const { maas, sid } = await site();
    const ifaces = (await maas.get(`nodes/${sid}/interfaces/`)).json;
    const d = await maas.post(`nodes/${sid}/interfaces/${ifaces[0].id}/?op=disconnect`);
    expect(d.json).toMatchObject({ vlan: null, links: [] });
    const dep = await maas.op(sid, "deploy");
    expect(dep.status).toBe(400);
    expect(dep.json).toEqual({ network: ["Node must be configured to use a network"] });
    const restored = await maas.op(sid, "restore_networking_configuration");
    expect(restored.json.interface_set[0]).toMatchObject({ name: "eno1", vlan: { id: 5001 }, links: [{ mode: "auto" }] });
    expect((await maas.op(sid, "deploy")).status).toBe(200);
  });

  it("creates reserved ranges and refuses ones outside their subnet; unreserved ranges skip them", async () => {
    const { maas } = await site();
    const r = await maas.post("ipranges/", { type: "reserved", start_ip: "127.17.0.200", end_ip: "127.17.0.220", comment: "octavia" });
    expect(r.json).toMatchObject({ type: "reserved", subnet: { id: 2 }, user: { username: "admin" }, resource_uri: `/MAAS/api/2.0/ipranges/${r.json.id}/` });
    const bad = await maas.post("ipranges/", { type: "reserved", start_ip: "127.17.0.200", end_ip: "127.17.1.20" });
    expect(bad.json).toEqual({ end_ip: ["End IP address must be within subnet: 127.17.0.0/24."] });
    const free = (await maas.get("subnets/2/", { op: "unreserved_ip_ranges" })).json;
    expect(free).toEqual([
      { start: "127.17.0.2", end: "127.17.0.199", num_addresses: 198 },
      { start: "127.17.0.221", end: "127.17.0.254", num_addresses: 34 },
    ]);
  });

  it("a fleet file's network errors name the path and what is wrong", () => {
    const doc = (networks: unknown) => ({ classes: { n: { cpu_count: 1, memory_gib: 1, disks: [{ size_gb: 10, kind: "ssd" }], nics: [{ speed_mbps: 1000 }] } }, groups: [{ class: "n", count: 1 }], networks });
    expect(() => parseFleet(doc({ fabrics: [{ name: "f", vlans: [{ vid: 0, subnets: [{ cidr: "10.0.0.0/24" }] }] }] }), "f.yaml")).toThrow(/networks\.fabrics\[0\]\.vlans\[0\]\.subnets\[0\]\.cidr: must be a loopback range/);
    expect(() => parseFleet(doc({ fabrics: [{ name: "f", vlans: [{ vid: 0, space: "nope" }] }] }), "f.yaml")).toThrow("f.yaml: networks.fabrics[0].vlans[0].space: space 'nope' is not listed under networks.spaces");
    expect(() =>
      parseFleet(doc({ fabrics: [{ name: "f", vlans: [{ vid: 0, subnets: [{ cidr: "127.1.0.0/16" }] }, { vid: 5, subnets: [{ cidr: "127.1.2.0/24" }] }] }] }), "f.yaml"),
    ).toThrow("f.yaml: networks.fabrics[0].vlans[1].subnets[0].cidr: 127.1.2.0/24 overlaps 127.1.0.0/16 (fabrics[0].vlans[0].subnets[0])");
    expect(() => parseFleet(doc({ fabrics: [{ name: "f", vlans: [{ vid: 0, subnets: [{ cidr: "127.1.0.0/24", ranges: [{ start: "127.1.0.10", end: "127.1.1.5" }] }] }] }] }), "f.yaml")).toThrow(
      "f.yaml: networks.fabrics[0].vlans[0].subnets[0].ranges[0].end: 127.1.1.5 is not a host address of 127.1.0.0/24",
    );
  });

  it("keeps the default region's one loopback subnet and each machine's address when the fleet has no networks", async () => {
    const r = await manualSim({ machines: 3, fleet: undefined });
    sim = r.sim;
    const subnets = (await r.maas.get("subnets/")).json;
    expect(subnets).toMatchObject([{ id: 1, cidr: "127.0.0.0/8", space: "undefined", vlan: { id: 5001, vid: 0, dhcp_on: true } }]);
    const m = r.sim.region.machines[2]!;
    await r.maas.op(m.systemId, "commission");
    r.sim.advance(11 * MINUTE);
    await r.maas.op(m.systemId, "deploy");
    expect((await r.maas.machine(m.systemId)).ip_addresses).toEqual(["127.1.0.3"]);
  });
});

describe("a deployed host on the site's networks", () => {
  it("listens for SSH on its address in each space it is linked to", async () => {
    const { startSimulator } = await import("../../src/sim/index.ts");
    const { connect } = await import("node:net");
    sim = await startSimulator({ fleet: siteFleet(1), zeroDuration: true, hosts: { sshPort: 0, nodeReadyMs: 0 } });
    const { Maas } = await import("./helpers.ts");
    const maas = new Maas(sim);
    const sid = sim.region.machines[0]!.systemId;
    const ifaces = (await maas.get(`nodes/${sid}/interfaces/`)).json;
    const pub = await maas.post(`nodes/${sid}/interfaces/?op=create_vlan`, { parent: String(ifaces[1].id), vlan: "5003" });
    await maas.post(`nodes/${sid}/interfaces/${pub.json.id}/?op=link_subnet`, { mode: "AUTO", subnet: "127.17.0.0/24" });
    await maas.op(sid, "deploy");
    await new Promise<void>((resolve) => {
      if (sim!.region.get(sid).status === 6) return resolve();
      const stop = sim!.region.watch((m, _from, to) => {
        if (m.systemId === sid && to === 6) {
          stop();
          resolve();
        }
      });
    });
    await sim.hosts!.listening(sid);
    const addresses = (await maas.machine(sid)).ip_addresses as string[];
    const endpoints = sim.hosts!.endpoints(sid);
    expect(endpoints.map((e) => e.host)).toEqual(addresses);
    expect(addresses[1]).toMatch(/^127\.17\.0\./);
    const banner = await new Promise<string>((resolve, reject) => {
      const sock = connect(endpoints[1]!.port, endpoints[1]!.host);
      sock.once("data", (b) => {
        resolve(b.toString("utf8"));
        sock.destroy();
      });
      sock.once("error", reject);
    });
    expect(banner).toMatch(/^SSH-2\.0-OpenSSH_8\.9p1/);
  });
});
