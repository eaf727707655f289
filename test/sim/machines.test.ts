import { afterEach, describe, expect, it } from "vitest";
import type { SimHandle } from "../../src/sim/index.ts";
import { startSimulator } from "../../src/sim/index.ts";
import { Maas, manualSim } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup(opts = {}): Promise<{ maas: Maas; s: SimHandle }> {
  const r = await manualSim(opts);
  sim = r.sim;
  return { maas: r.maas, s: r.sim };
}

describe("machine JSON", () => {
  it("has every field a strict client requires, with numbers as numbers", async () => {
    const { maas, s } = await setup();
    const m = (await maas.get("machines/")).json[0];
    const sid = s.region.machines[0]!.systemId;
    expect(m).toMatchObject({
      resource_uri: `/MAAS/api/2.0/machines/${sid}/`,
      system_id: sid,
      fqdn: `${m.hostname}.maas`,
      tag_names: [],
      owner_data: {},
      osystem: "",
      distro_series: "",
      power_state: "off",
      status: 0,
      status_name: "New",
      owner: null,
      locked: false,
      ip_addresses: [],
      architecture: "amd64/generic",
      node_type_name: "Machine",
      zone: { name: expect.any(String), description: expect.any(String), resource_uri: expect.stringMatching(/^\/MAAS\/api\/2\.0\/zones\/.+\/$/) },
      pool: { name: "default", resource_uri: expect.stringMatching(/^\/MAAS\/api\/2\.0\/resourcepool\/\d+\/$/) },
    });
    expect(m.system_id).toMatch(/^[a-z0-9]{6}$/);
    expect(m.hostname).toMatch(/^[a-z]+-[a-z]+(-\d+)?$/);
    expect(typeof m.memory).toBe("number");
    expect(typeof m.cpu_count).toBe("number");
    expect(typeof m.storage).toBe("number");
    expect(m.hardware_info.system_vendor).toEqual(expect.any(String));
    for (const key of ["status_message", "boot_interface", "boot_disk", "hwe_kernel", "min_hwe_kernel", "netboot", "domain", "description", "power_type", "commissioning_status", "testing_status_name", "numanode_set"]) {
      expect(m).toHaveProperty(key);
    }
    const nic = m.interface_set[0];
    expect(nic).toMatchObject({ type: "physical", enabled: true, parents: [], children: [], effective_mtu: 1500, vlan: { id: expect.any(Number), vid: 0, fabric: "fabric-0", mtu: 1500, dhcp_on: true, resource_uri: expect.any(String) } });
    expect(nic.mac_address).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(nic.links[0]).toMatchObject({ id: expect.any(Number), mode: "auto", subnet: { cidr: expect.any(String), vlan: expect.any(Object), space: expect.any(String) } });
    const disk = m.physicalblockdevice_set[0];
    expect(disk).toMatchObject({ id: expect.any(Number), name: "sda", path: "/dev/disk/by-dname/sda", size: expect.any(Number), block_size: expect.any(Number), tags: ["ssd"], model: expect.any(String), serial: expect.any(String), partitions: [] });
    expect(disk.resource_uri).toBe(`/MAAS/api/2.0/nodes/${sid}/blockdevices/${disk.id}/`);
    expect(disk.id_path).toMatch(/^\/dev\/disk\/by-id\/wwn-0x/);
    expect(m.blockdevice_set).toEqual(m.physicalblockdevice_set);
  });

  it("derives names and ids from the seed: same seed, same fleet; another seed, another fleet", async () => {
    const a = await startSimulator({ machines: 5, seed: 3 });
    const b = await startSimulator({ machines: 5, seed: 3 });
    const c = await startSimulator({ machines: 5, seed: 4 });
    try {
      const ids = (s: SimHandle) => s.region.machines.map((m) => `${m.systemId}/${m.hostname}`);
      expect(ids(a)).toEqual(ids(b));
      expect(ids(a)).not.toEqual(ids(c));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

describe("listing with filters", () => {
  it("filters by id (match-any), zone, status, and their not_ forms, ordered by id", async () => {
    const { maas, s } = await setup({ machines: 9 });
    const all = s.region.machines;
    const pick = [all[4]!.systemId, all[1]!.systemId];
    const byId = await maas.get("machines/", { id: pick });
    expect(byId.json.map((m: { system_id: string }) => m.system_id)).toEqual([all[1]!.systemId, all[4]!.systemId]);
    const az1 = all.filter((m) => m.zone === "az1").length;
    expect((await maas.get("machines/", { zone: "az1" })).json).toHaveLength(az1);
    expect((await maas.get("machines/", { zone: ["az1", "az2"] })).json).toHaveLength(all.filter((m) => m.zone !== "az3").length);
    expect((await maas.get("machines/", { not_zone: "az1" })).json).toHaveLength(9 - az1);
    expect((await maas.get("machines/", { not_in_zone: "az1" })).json).toHaveLength(9 - az1);
    expect((await maas.get("machines/", { not_id: pick })).json).toHaveLength(7);
    expect((await maas.get("machines/", { status: "new" })).json).toHaveLength(9);
    expect((await maas.get("machines/", { status: "ready" })).json).toHaveLength(0);
    expect((await maas.get("machines/", { hostname: all[2]!.hostname })).json).toHaveLength(1);
    expect((await maas.get("machines/", { mac_address: s.region.macFor(all[3]!, 0) })).json[0].system_id).toBe(all[3]!.systemId);
    expect((await maas.get("machines/", { power_state: "off", arch: "amd64" })).json).toHaveLength(9);
  });

  it("requires all tags to match and excludes not_tags", async () => {
    const { maas, s } = await setup();
    const [a, b] = s.region.machines.map((m) => m.systemId);
    await maas.post("tags/", { name: "gpu" });
    await maas.post("tags/", { name: "fast" });
    await maas.post("tags/gpu/?op=update_nodes", { add: [a!, b!] });
    await maas.post("tags/fast/?op=update_nodes", { add: [a!] });
    expect((await maas.get("machines/", { tags: ["gpu", "fast"] })).json.map((m: { system_id: string }) => m.system_id)).toEqual([a]);
    expect((await maas.get("machines/", { tags: "gpu", not_tags: "fast" })).json.map((m: { system_id: string }) => m.system_id)).toEqual([b]);
  });

  it("refuses unknown filters and unknown tags with MAAS's 400 bodies", async () => {
    const { maas } = await setup();
    const r = await maas.get("machines/", { colour: "blue" });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ colour: ["No such constraint."] });
    const t = await maas.get("machines/", { tags: "nope" });
    expect(t.status).toBe(400);
    expect(t.json).toEqual({ tags: ["No such tag(s): 'nope'."] });
  });

  it("holds a 10,000-machine fleet and answers a filtered list of 100", async () => {
    const big = await startSimulator({ machines: 10_000, seed: 5 });
    try {
      expect(big.region.machines).toHaveLength(10_000);
      expect(new Set(big.region.machines.map((m) => m.systemId)).size).toBe(10_000);
      expect(new Set(big.region.machines.map((m) => m.hostname)).size).toBe(10_000);
      const ids = big.region.machines.filter((_, i) => i % 100 === 7).map((m) => m.systemId);
      const r = await new Maas(big).get("machines/", { id: ids });
      expect(r.json).toHaveLength(100);
      expect(r.json[99].system_id).toBe(ids[99]);
      const zone = await new Maas(big).get("machines/", { zone: "az2", status: "new", id: ids });
      expect(zone.json.every((m: { zone: { name: string } }) => m.zone.name === "az2")).toBe(true);
    } finally {
      await big.close();
    }
  });
});

describe("allocate", () => {
  async function readyFleet(): Promise<{ maas: Maas; s: SimHandle }> {
    const r = await setup({ machines: 6 });
    for (const m of r.s.region.machines) await r.maas.op(m.systemId, "commission");
    r.s.advance(Infinity);
    return r;
  }

  it("matches constraints (zone, cpu_count, mem, tags, not_in_zone) and makes the caller the owner", async () => {
    const { maas, s } = await readyFleet();
    const target = s.region.machines.find((m) => m.zone === "az2")!;
    await maas.post("tags/", { name: "pick" });
    await maas.post("tags/pick/?op=update_nodes", { add: target.systemId });
    const r = await maas.post("machines/?op=allocate", { zone: "az2", cpu_count: "4", mem: "1024", tags: "pick", not_in_zone: "az1", agent_name: "mw", comment: "wave 1" });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ system_id: target.systemId, owner: "admin", status_name: "Allocated", constraints_by_type: {} });
    expect(target.agentName).toBe("mw");
  });

  it("dry_run picks without allocating", async () => {
    const { maas, s } = await readyFleet();
    const r = await maas.post("machines/?op=allocate", { dry_run: "true" });
    expect(r.json.status_name).toBe("Ready");
    expect(s.region.machines.every((m) => m.owner === null)).toBe(true);
  });

  it("answers 409 text when nothing matches, and 409 'No machine available.' when nothing is Ready", async () => {
    const { maas } = await readyFleet();
    const r = await maas.post("machines/?op=allocate", { cpu_count: "100000" });
    expect(r.status).toBe(409);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(r.text).toMatch(/^No available machine matches constraints: /);
    for (let i = 0; i < 6; i++) expect((await maas.post("machines/?op=allocate")).status).toBe(200);
    const none = await maas.post("machines/?op=allocate");
    expect(none.status).toBe(409);
    expect(none.text).toBe("No machine available.");
  });

  it("refuses an unknown zone with a form error", async () => {
    const { maas } = await readyFleet();
    const r = await maas.post("machines/?op=allocate", { zone: "mars" });
    expect(r.status).toBe(400);
    expect(r.json).toHaveProperty("zone");
  });
});
