import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { API, harness, maas, multi, netError } from "./helpers.ts";
import { HAVE_EXAMPLES, example } from "./examples.ts";

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

if (!HAVE_EXAMPLES) console.warn("network-ops.test.ts: ../shared/reference/maas-examples is absent; the tests against real MAAS answers are skipped");

/** Replies with `body` and keeps each request's method, query and form. */
function capture(status: number, body: unknown) {
  const seen: { method: string; query: Record<string, string[]>; form: Record<string, string[]> }[] = [];
  return {
    seen,
    reply: async (req: Request): Promise<[number, unknown]> => {
      seen.push({ method: req.method, query: multi(new URL(req.url).search), form: multi(await req.text()) });
      return [status, body];
    },
  };
}

describe.skipIf(!HAVE_EXAMPLES)("network model reads parse MAAS 3.5's own example answers", () => {
  it("fabrics/: VLAN ids apart from vids, space names on VLANs", async () => {
    maas().get(`${API}/fabrics/`).reply(200, example("fabrics", "fabrics-read") as object);
    const fabrics = await harness().client.listFabrics();
    const f0 = fabrics.find((f) => f.id === 0);
    expect(f0?.vlans.map((v) => [v.id, v.vid, v.space])).toEqual([
      [5001, 0, "management"],
      [5002, 10, "internal"],
    ]);
  });

  it("fabrics/<id>/vlans/", async () => {
    maas().get(`${API}/fabrics/10/vlans/`).reply(200, example("fabrics", "vlan-list") as object);
    const vlans = await harness().client.listVlans(10);
    expect(vlans[0]).toMatchObject({ id: 5014, vid: 0, name: "untagged", space: "undefined", fabric: "fabric-10" });
  });

  it("spaces/, subnets/ and ipranges/ with their nested VLANs and subnets", async () => {
    maas().get(`${API}/spaces/`).reply(200, example("spaces", "read-spaces") as object);
    maas().get(`${API}/subnets/`).reply(200, example("subnets", "subnets-read") as object);
    maas().get(`${API}/ipranges/`).reply(200, example("ipranges", "ipranges-read") as object);
    const { client } = harness();
    const spaces = await client.listSpaces();
    expect(spaces.some((s) => s.subnets.some((n) => n.cidr === "192.168.122.0/24" && n.vlan.space === "management"))).toBe(true);
    const subnets = await client.listSubnets();
    expect(subnets.find((s) => s.cidr === "172.16.3.0/24")?.vlan).toMatchObject({ vid: 10, space: "internal" });
    const ranges = await client.listIpRanges();
    expect(ranges[0]).toMatchObject({ type: "reserved", start_ip: "172.16.1.200", end_ip: "172.16.1.210", comment: "" });
    expect(ranges[0]?.subnet.vlan.id).toBe(5001);
  });

  it("a machine's interfaces (params as the empty string for a NIC) and block devices", async () => {
    maas().get(`${API}/nodes/thr3am/interfaces/`).reply(200, example("nodes", "interfaces-read") as object);
    maas().get(`${API}/nodes/y7388k/blockdevices/`).reply(200, example("nodes", "block-devs-read") as object);
    const { client } = harness();
    const ifaces = await client.readInterfaces("thr3am");
    expect(ifaces[0]).toMatchObject({ id: 37, type: "physical", params: "", children: ["eth-lKRYAa.42"] });
    expect(ifaces[0]?.links[0]).toMatchObject({ id: 14, mode: "auto" });
    const disks = await client.readBlockDevices("y7388k");
    expect(disks.map((d) => [d.id, d.used_for, d.partition_table_type])).toEqual([
      [1, "Unused", null],
      [2, "Unused", null],
    ]);
  });
});

describe.skipIf(!HAVE_EXAMPLES)("interface changes", () => {
  it("create_bond posts name, each parent id as a repeated key, mode and MTU, and reads MAAS's bond", async () => {
    const c = capture(200, example("nodes", "interfaces-create-bond"));
    maas().post(`${API}/nodes/thr3am/interfaces/`).query({ op: "create_bond" }).reply(c.reply);
    const bond = await harness().client.createBond("thr3am", { name: "newbond", parents: [37, 38], bond_mode: "802.3ad", mtu: 9000, bond_xmit_hash_policy: "layer3+4" });
    expect(c.seen[0]?.form).toEqual({ name: ["newbond"], parents: ["37", "38"], bond_mode: ["802.3ad"], mtu: ["9000"], bond_xmit_hash_policy: ["layer3+4"] });
    expect(bond).toMatchObject({ id: 139, type: "bond", params: { bond_mode: "balance-rr" } });
  });

  it("create_bond whose answer is lost is settled by reading the interfaces back, not sent twice", async () => {
    const bond = example("nodes", "interfaces-create-bond") as Record<string, unknown>;
    const c = capture(200, bond);
    maas().post(`${API}/nodes/thr3am/interfaces/`).query({ op: "create_bond" }).replyWithError(netError("ECONNRESET"));
    maas().get(`${API}/nodes/thr3am/interfaces/`).reply(200, [bond]);
    const h = harness();
    const got = await h.client.createBond("thr3am", { name: "newbond", parents: [37] });
    expect(got.id).toBe(139);
    expect(c.seen).toHaveLength(0);
    expect(h.requests.map((r) => `${r.method} ${r.operation}`)).toEqual(["POST createBond", "GET readInterfaces"]);
  });

  it("create_vlan sends the VLAN's database id and the parent's id", async () => {
    const vlanIface = { ...(example("nodes", "interfaces-link-subnet") as Record<string, unknown>), type: "vlan", name: "bond0.10", parents: ["bond0"], children: [] };
    const c = capture(200, vlanIface);
    maas().post(`${API}/nodes/thr3am/interfaces/`).query({ op: "create_vlan" }).reply(c.reply);
    await harness().client.createVlanInterface("thr3am", { vlan: 5002, parent: 139, mtu: 9000 }, "bond0");
    expect(c.seen[0]?.form).toEqual({ vlan: ["5002"], parent: ["139"], mtu: ["9000"] });
  });

  it("link_subnet posts the mode and subnet id to the interface; unlink_subnet the link id", async () => {
    const linked = example("nodes", "interfaces-link-subnet") as Record<string, unknown>;
    const c = capture(200, linked);
    maas().post(`${API}/nodes/thr3am/interfaces/140/`).query({ op: "link_subnet" }).reply(c.reply);
    const u = capture(200, { ...linked, links: [] });
    maas().post(`${API}/nodes/thr3am/interfaces/140/`).query({ op: "unlink_subnet" }).reply(u.reply);
    const { client } = harness();
    const i = await client.linkSubnet("thr3am", 140, { mode: "AUTO", subnet: 1 });
    expect(c.seen[0]?.form).toEqual({ mode: ["AUTO"], subnet: ["1"] });
    expect(i.links[0]).toMatchObject({ id: 70, mode: "auto", subnet: { id: 1 } });
    await client.unlinkSubnet("thr3am", 140, 70);
    expect(u.seen[0]?.form).toEqual({ id: ["70"] });
  });

  it("update is a PUT of the given fields only, tags as one comma list", async () => {
    const c = capture(200, example("nodes", "interfaces-update"));
    maas().put(`${API}/nodes/thr3am/interfaces/140/`).reply(c.reply);
    await harness().client.updateInterface("thr3am", 140, { mtu: 9000, tags: ["neutron:physnet1", "data"] });
    expect(c.seen[0]).toMatchObject({ method: "PUT", form: { mtu: ["9000"], tags: ["neutron:physnet1,data"] } });
  });

  it("an update with nothing in it is refused before sending", async () => {
    await expect(harness().client.updateInterface("thr3am", 140, {})).rejects.toMatchObject({ code: "MAAS_BAD_REQUEST" });
  });

  it("a wrong-state refusal is MAAS's 409 text, typed as a conflict", async () => {
    maas()
      .post(`${API}/nodes/thr3am/interfaces/`)
      .query({ op: "create_bond" })
      .reply(409, "Cannot create bond interface because the machine is not New, Ready, Allocated, or Broken.", { "Content-Type": "text/plain; charset=utf-8" });
    await expect(harness().client.createBond("thr3am", { name: "bond0", parents: [1, 2] })).rejects.toMatchObject({
      code: "MAAS_CONFLICT",
      message: expect.stringContaining("not New, Ready, Allocated, or Broken"),
    });
  });
});

describe.skipIf(!HAVE_EXAMPLES)("storage changes", () => {
  it("set_storage_layout posts the layout and its parameters and reads the machine's state", async () => {
    const c = capture(200, example("machines", "machines-set-storage"));
    maas().post(`${API}/machines/8bk8nn/`).query({ op: "set_storage_layout" }).reply(c.reply);
    const m = await harness().client.setStorageLayout("8bk8nn", { storage_layout: "lvm", root_device: 1, root_size: "100G", vg_name: "vgroot" });
    expect(c.seen[0]?.form).toEqual({ storage_layout: ["lvm"], root_device: ["1"], root_size: ["100G"], vg_name: ["vgroot"] });
    expect(m.system_id).toBe("8bk8nn");
  });

  it("set_boot_disk accepts MAAS's plain `OK` body", async () => {
    maas().post(`${API}/nodes/8bk8nn/blockdevices/3/`).query({ op: "set_boot_disk" }).reply(200, "OK", { "Content-Type": "text/plain" });
    await expect(harness().client.setBootDisk("8bk8nn", 3)).resolves.toBeUndefined();
  });

  it("set_storage_layout outside Ready fails with MAAS's words", async () => {
    maas().post(`${API}/machines/8bk8nn/`).query({ op: "set_storage_layout" }).reply(409, "Cannot change the storage layout on a machine that is not Ready.");
    await expect(harness().client.setStorageLayout("8bk8nn", { storage_layout: "flat" })).rejects.toMatchObject({ code: "MAAS_CONFLICT", message: expect.stringContaining("not Ready") });
  });
});
