/**
 * The per-role storage layout end to end through a rollout on the simulated region, read
 * back from MAAS after deploy: a flat layout on the disk the root-device rule picks (not
 * MAAS's boot disk), an LVM layout with its volume group and logical volume holding `/`,
 * and a blank layout, which leaves nothing mounted at `/`, so MAAS refuses the deploy and
 * the host ends quarantined with MAAS's words (docs/roles.md, "Storage rules").
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { BlockDevice } from "../../src/maas/port.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { FLEET_5000, layoutConfig } from "./layout-rig.ts";
import { simClient, simDeps } from "./sim-client.ts";

let sim: SimHandle | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

/** Where `/` is mounted: the device (physical or an LVM volume) and, on a disk, the partition. */
function rootMount(devices: readonly BlockDevice[]): { device: BlockDevice; fstype: string } | undefined {
  for (const d of devices) {
    if (d.filesystem?.mount_point === "/") return { device: d, fstype: d.filesystem.fstype };
    for (const p of d.partitions ?? []) if (p.filesystem?.mount_point === "/") return { device: d, fstype: p.filesystem.fstype };
  }
  return undefined;
}

describe("per-role storage layouts through a rollout, read back from MAAS", () => {
  it("lays out flat on the rule's root disk and lvm with its volume, and a blank layout's deploy is refused by MAAS and quarantined", async () => {
    // A few machines of each class of the 5,000-machine fleet.
    const text = readFileSync(FLEET_5000, "utf8").replace(/count: (200|1463|1462),/g, "count: 2,");
    const file = join(mkdtempSync(join(tmpdir(), "mw-storage-")), "fleet.yaml");
    writeFileSync(file, text);
    sim = await startSimulator({ fleet: file, zeroDuration: true, seed: 5 });
    const maas = simClient(sim);
    const base = layoutConfig();
    const config = layoutConfig({
      rollout: { ...base.rollout, maxAttempts: { commission: 1, deploy: 1, layer: 1, release: 1 }, budget: { perWave: "100%", total: "100%" } },
      storage: {
        layouts: {
          // Control machines have two 480 GB SSDs; the rule picks the second by name, not MAAS's boot disk.
          control: { layout: "flat", rootDevice: { kind: "ssd", names: ["sdb"] }, bootSize: "1G" },
          compute: { layout: "lvm", vgName: "vgsys", lvName: "lvroot", lvSize: "200G" },
          network: { layout: "lvm", vgName: "vgsys", lvName: "lvroot", lvSize: "200G" },
          storage: { layout: "blank" },
        },
      },
    });
    const plan = await readAndPlan(maas, config);
    expect(plan.blocking).toEqual([]);
    const byRole = (role: string) => plan.rollout.hosts.filter((h) => h.roles.includes(role));
    expect(byRole("control").length).toBeGreaterThan(0);
    expect(byRole("compute").length).toBeGreaterThan(0);
    expect(byRole("storage").length).toBeGreaterThan(0);
    for (const h of byRole("control")) expect(h.layout?.storage).toMatchObject({ layout: "flat", rootDevice: { name: "sdb" }, params: { storage_layout: "flat", boot_size: "1G" } });

    store = openStore(":memory:");
    const summary = await new RolloutRunner(simDeps(maas, store, config)).run({ resume: false });
    // Blank-layout storage hosts cannot deploy: nothing is mounted at /.
    expect(summary.byOutcome).toMatchObject({ quarantined: byRole("storage").length, inService: plan.rollout.hosts.length - byRole("storage").length });
    for (const f of summary.failures) {
      expect(byRole("storage").map((h) => h.systemId)).toContain(f.systemId);
      expect(f).toMatchObject({ phase: "deploying" });
      expect(f.message).toContain("Mount the root '/' filesystem to be able to deploy this node.");
    }

    for (const h of byRole("control")) {
      const m = await maas.readMachine(h.systemId);
      expect(m.status).toBe(NodeStatus.DEPLOYED);
      const devices = await maas.readBlockDevices(h.systemId);
      const root = rootMount(devices);
      // `/` on the disk the rule chose, which MAAS now boots from.
      expect({ host: h.hostname, disk: root?.device.name, fstype: root?.fstype, boot: m.boot_disk?.name }).toEqual({ host: h.hostname, disk: "sdb", fstype: "ext4", boot: "sdb" });
      expect(devices.find((d) => d.name === "sdb")?.partitions?.some((p) => p.filesystem?.mount_point === "/boot/efi" || p.filesystem?.mount_point === "/boot")).toBe(true);
    }
    for (const h of [...byRole("compute"), ...byRole("network")]) {
      expect((await maas.readMachine(h.systemId)).status).toBe(NodeStatus.DEPLOYED);
      const devices = await maas.readBlockDevices(h.systemId);
      const root = rootMount(devices);
      // `/` on the logical volume, whose volume group sits on a partition of the root disk.
      expect({ host: h.hostname, type: root?.device.type, fstype: root?.fstype }).toEqual({ host: h.hostname, type: "virtual", fstype: "ext4" });
      expect(root?.device.name).toContain("lvroot");
      const pv = devices.flatMap((d) => d.partitions ?? []).find((p) => p.filesystem?.fstype === "lvm-pv");
      expect(pv, h.hostname).toBeDefined();
      // lv_size 200G (powers of 1000), in whole 4 MiB LVM extents.
      const extent = 4 * 1024 * 1024;
      expect(root?.device.size).toBe(Math.floor(200_000_000_000 / extent) * extent);
    }
    for (const h of byRole("storage")) {
      expect((await maas.readMachine(h.systemId)).status).toBe(NodeStatus.BROKEN);
      expect(rootMount(await maas.readBlockDevices(h.systemId))).toBeUndefined();
    }
  }, 120_000);
});
