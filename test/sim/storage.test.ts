// The simulated region's storage (maas-network-storage.md §3, §5, §6): the flat layout after
// commissioning sized to the byte as MAAS sizes it, lvm and blank layouts, partitions with
// UUIDs, and allocate's storage constraints in GB of 10⁹ bytes.
import { afterEach, describe, expect, it } from "vitest";
import { parseFleet } from "../../src/sim/index.ts";
import type { SimHandle } from "../../src/sim/index.ts";
import { manualSim } from "./helpers.ts";
import type { Maas } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function setup(): Promise<{ maas: Maas; sid: string; s: SimHandle }> {
  const fleet = parseFleet(
    {
      classes: { n: { cpu_count: 8, memory_gib: 32, disks: [{ size_gb: 500.107862016, kind: "ssd" }, { count: 2, size_gb: 960, kind: "ssd" }], nics: [{ speed_mbps: 10000 }] } },
      groups: [{ class: "n", count: 2, status: "ready" }],
    },
    "t.yaml",
  );
  const r = await manualSim({ fleet });
  sim = r.sim;
  return { maas: r.maas, s: r.sim, sid: r.sim.region.machines[0]!.systemId };
}

describe("storage", () => {
  it("lays a commissioned BIOS machine out flat: sda-part2 of MAAS's size, ext4 root at /, UUIDs on partition and filesystem", async () => {
    const { maas, sid } = await setup();
    const m = await maas.machine(sid);
    const sda = m.blockdevice_set[0];
    // §5's worked example: a 500 107 862 016-byte disk.
    expect(sda).toMatchObject({ name: "sda", used_size: 500105740288, available_size: 0, used_for: "GPT partitioned with 1 partition", partition_table_type: "GPT", uuid: null });
    expect(sda.partitions).toMatchObject([{ size: 500099448832, path: "/dev/disk/by-dname/sda-part2", bootable: false, filesystem: { fstype: "ext4", label: "root", mount_point: "/" } }]);
    expect(sda.partitions[0].uuid).toMatch(UUID);
    expect(sda.partitions[0].filesystem.uuid).toMatch(UUID);
    expect(sda.partitions[0].resource_uri).toBe(`/MAAS/api/2.0/nodes/${sid}/blockdevices/${sda.id}/partition/${sda.partitions[0].id}`);
    expect(m.blockdevice_set[1]).toMatchObject({ used_for: "Unused", partitions: [], available_size: 960e9 });
  });

  it("set_storage_layout lvm makes vgroot-lvroot of MAAS's size; blank leaves nothing to deploy on", async () => {
    const { maas, sid } = await setup();
    const lvm = await maas.op(sid, "set_storage_layout", { storage_layout: "lvm" });
    expect(lvm.status).toBe(200);
    expect(lvm.json.virtualblockdevice_set).toMatchObject([{ name: "vgroot-lvroot", size: 500095254528, block_size: 4096, type: "virtual", filesystem: { mount_point: "/" } }]);
    expect(lvm.json.blockdevice_set[0].partitions[0].used_for).toBe("LVM volume for vgroot");
    const bad = await maas.op(sid, "set_storage_layout", { storage_layout: "raid9" });
    expect(bad.json.storage_layout[0]).toMatch(/^'raid9' is not a valid storage_layout\. {2}It should be one of: 'flat', 'lvm'/);
    await maas.op(sid, "set_storage_layout", { storage_layout: "blank" });
    const dep = await maas.op(sid, "deploy");
    expect(dep.status).toBe(400);
    expect(dep.json).toEqual({ storage: ["Mount the root '/' filesystem to be able to deploy this node."] });
    await maas.post("machines/?op=allocate", { system_id: sid });
    const late = await maas.op(sid, "set_storage_layout", { storage_layout: "flat" });
    expect(late.status).toBe(409);
    expect(late.text).toBe("Cannot change the storage layout on a machine that is not Ready.");
  });

  it("partitions, format and mount on a data disk; set_boot_disk answers OK", async () => {
    const { maas, sid, s } = await setup();
    const dev = s.region.get(sid).index * 16 + 2;
    const p = await maas.post(`nodes/${sid}/blockdevices/${dev}/partitions/`, { size: "100G" });
    expect(p.json).toMatchObject({ size: 100e9 - (100e9 % (4 * 1024 * 1024)), path: "/dev/disk/by-dname/sdb-part2", type: "partition" });
    expect(p.json.uuid).toMatch(UUID);
    const f = await maas.post(`nodes/${sid}/blockdevices/${dev}/partition/${p.json.id}?op=format`, { fstype: "xfs", label: "data" });
    expect(f.json.filesystem).toMatchObject({ fstype: "xfs", label: "data", mount_point: null });
    const mnt = await maas.post(`nodes/${sid}/blockdevices/${dev}/partition/${p.json.id}?op=mount`, { mount_point: "/srv" });
    expect(mnt.json.used_for).toBe("xfs formatted filesystem mounted at /srv");
    const boot = await maas.post(`nodes/${sid}/blockdevices/${dev + 1}/?op=set_boot_disk`);
    expect(boot.status).toBe(200);
    expect(boot.text).toBe("OK");
    expect((await maas.machine(sid)).boot_disk.id).toBe(dev + 1);
  });

  it("allocates by storage in GB of 10⁹ bytes: root:999999 matches no 960 GB machine, labelled entries report device ids", async () => {
    const { maas, s } = await setup();
    const none = await maas.post("machines/?op=allocate", { storage: "root:999999" });
    expect(none.status).toBe(409);
    expect(none.text).toMatch(/^No available machine matches constraints: \[\('storage', \['root:999999'\]\)\]/);
    const bad = await maas.post("machines/?op=allocate", { storage: "root: 10" });
    expect(bad.json).toEqual({ storage: ['Malformed storage constraint, "root: 10".'] });
    const okr = await maas.post("machines/?op=allocate", { storage: "root:400,data:900(ssd),950", dry_run: "true" });
    expect(okr.status).toBe(200);
    const m = s.region.get(okr.json.system_id);
    expect(okr.json.constraints_by_type).toEqual({ storage: { root: [m.index * 16 + 1], data: [m.index * 16 + 2] } });
    const spaces = await maas.post("machines/?op=allocate", { spaces: "public" });
    expect(spaces.json).toEqual({ spaces: ["No such constraint."] });
  });
});
