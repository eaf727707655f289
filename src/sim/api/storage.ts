/**
 * Handlers for a machine's storage (maas-network-storage.md §3, §4, §5): block devices
 * (read, tags, format/mount, set_boot_disk), partitions (create, delete, format, mount),
 * and the machine's `set_storage_layout`, each refused in MAAS's words in a wrong state.
 */
import { NodeStatus } from "../../maas/status.ts";
import { formFailure, textFailure } from "../errors.ts";
import type { MachineRecord } from "../region.ts";
import { renderBlockDevice, renderBlockDevices } from "../render.ts";
import type { Call, Handler, HandlerDef, Reply } from "../routes.ts";
import { findPartition, LAYOUTS, MIB, nextIndex, parseSize, round4, tableOverhead } from "../storage/model.ts";
import type { Filesystem, LayoutName, Partition } from "../storage/model.ts";
import { renderPartition } from "../storage/render.ts";
import { admin, machineOf, ok } from "./common.ts";

const S = NodeStatus;
const FSTYPES = ["ext2", "ext4", "xfs", "fat32", "vfat", "swap", "ramfs", "tmpfs", "btrfs", "zfsroot"];

function readyOnly(m: MachineRecord, text: string): void {
  if (m.status !== S.READY) throw textFailure(409, text);
}

/** format/mount: Ready (admin) or Allocated (§4). */
function formatState(m: MachineRecord, what: "block device" | "partition", op: string): void {
  if (m.status !== S.READY && m.status !== S.ALLOCATED) {
    throw textFailure(409, `Cannot ${op} ${what} because the ${what === "partition" ? "node" : "machine"} is not Ready or Allocated.`);
  }
}

function formatFs(c: Call, holder: { fs: Filesystem | null }): void {
  const fstype = c.body.get("fstype");
  if (!fstype) throw formFailure({ fstype: ["This field is required."] });
  if (!FSTYPES.includes(fstype)) throw formFailure({ fstype: [`Select a valid choice. ${fstype} is not one of the available choices.`] });
  holder.fs = { fstype, label: c.body.get("label") || null, uuid: c.body.get("uuid") || c.region.storageIds.uuid("filesystem"), mountPoint: null, mountOptions: null };
}

function mountFs(c: Call, holder: { fs: Filesystem | null }, what: string): void {
  if (holder.fs === null) throw textFailure(400, `Cannot mount an unformatted ${what}.`);
  const point = c.body.get("mount_point");
  if (holder.fs.fstype === "swap") holder.fs.mountPoint = "none";
  else {
    if (!point) throw formFailure({ mount_point: ["This field is required."] });
    if (!point.startsWith("/")) throw formFailure({ mount_point: ["Enter a valid absolute path."] });
    holder.fs.mountPoint = point;
  }
  holder.fs.mountOptions = c.body.get("mount_options") || null;
}

function storageOf(m: MachineRecord) {
  if (m.storage === null) throw textFailure(404, "No BlockDevice matches the given query.");
  return m.storage;
}

function disk(c: Call): { m: MachineRecord; slot: number } {
  const m = machineOf(c);
  return { m, slot: c.region.diskSlot(m, Number(c.args[1])) };
}

function diskReply(c: Call, m: MachineRecord, slot: number): Reply {
  return ok(renderBlockDevice(c.region, m, slot));
}

function diskOp(fn: (c: Call, m: MachineRecord, slot: number) => void): Handler {
  return (c) => {
    const { m, slot } = disk(c);
    fn(c, m, slot);
    return diskReply(c, m, slot);
  };
}

function tagOp(present: boolean): Handler {
  return diskOp((c, m, slot) => {
    const t = c.body.get("tag");
    if (t === undefined || t === "") throw formFailure({ tag: ["This field is required."] });
    c.region.setDiskTag(m, slot, t, present);
  });
}

function partitionOf(c: Call): { m: MachineRecord; slot: number; part: Partition } {
  const { m, slot } = disk(c);
  const found = findPartition(storageOf(m), Number(c.args[2]));
  if (found === undefined || found.disk.slot !== slot) throw textFailure(404, "No Partition matches the given query.");
  return { m, slot, part: found.part };
}

function partitionReply(c: Call, m: MachineRecord, slot: number, p: Partition): Reply {
  const facts = c.region.diskFacts(m, slot);
  if (facts === undefined) throw textFailure(404, "No BlockDevice matches the given query.");
  return ok(renderPartition(m.systemId, facts, p, m.storage?.vgs.find((v) => v.pvs.includes(p.id))?.name));
}

function partitionOp(fn: (c: Call, m: MachineRecord, p: Partition) => void): Handler {
  return (c) => {
    const { m, slot, part } = partitionOf(c);
    fn(c, m, part);
    return partitionReply(c, m, slot, part);
  };
}

/** set_storage_layout (§5): Ready only; sizes in MAAS's grammar; devices by id. */
export function setStorageLayout(c: Call, m: MachineRecord): void {
  admin(c);
  readyOnly(m, "Cannot change the storage layout on a machine that is not Ready.");
  const layout = c.body.get("storage_layout") ?? "";
  if (!(LAYOUTS as readonly string[]).includes(layout)) {
    throw formFailure({ storage_layout: [`'${layout}' is not a valid storage_layout.  It should be one of: ${LAYOUTS.map((l) => `'${l}'`).join(", ")}.`] });
  }
  if (m.hw === null || m.hw.disks.length === 0) throw textFailure(400, "Machine is missing a boot disk; no storage layout can be applied.");
  if (layout !== "flat" && layout !== "lvm" && layout !== "blank") {
    throw textFailure(400, `Failed to configure storage layout '${layout}': the simulator implements only flat, lvm and blank.`);
  }
  const bootSlot = m.storage?.bootSlot ?? 0;
  const bootSize = m.hw.disks[bootSlot]?.sizeBytes ?? 0;
  const whole = bootSize - 512 * MIB;
  const size = (k: string, of: number) => (c.body.get(k) ? parseSize(k, c.body.get(k) ?? "", of) : undefined);
  let rootSlot: number | undefined;
  const rootDevice = c.body.get("root_device");
  if (rootDevice) {
    const ids = m.hw.disks.map((_, s) => String(m.index * 16 + s + 1));
    if (!ids.includes(rootDevice)) throw formFailure({ root_device: [`'${rootDevice}' is not a valid root_device.  It should be one of: ${ids.map((i) => `'${i}'`).join(", ")}.`] });
    rootSlot = ids.indexOf(rootDevice);
  }
  const rootSize = size("root_size", whole);
  c.region.setLayout(m, layout, {
    bootSize: size("boot_size", whole),
    rootSize,
    rootSlot,
    vgName: c.body.get("vg_name") || undefined,
    lvName: c.body.get("lv_name") || undefined,
    lvSize: size("lv_size", rootSize ?? whole),
  });
  if (m.storage) m.storage.layout = layout as LayoutName;
}

export const storageHandlers: HandlerDef[] = [
  {
    name: "BlockDevicesHandler",
    doc: "Manage block devices on a machine.",
    path: "nodes/{system_id}/blockdevices/",
    stats: "blockdevices",
    collection: true,
    actions: [
      {
        method: "GET",
        op: null,
        doc: "List all block devices belonging to a machine.",
        handler: (c) => {
          const b = renderBlockDevices(c.region, machineOf(c));
          return ok([...b.physical, ...b.virtual]);
        },
      },
    ],
  },
  {
    name: "BlockDeviceHandler",
    doc: "Manage a block device on a machine.",
    path: "nodes/{system_id}/blockdevices/{id}/",
    stats: "blockdevices",
    collection: false,
    actions: [
      { method: "GET", op: null, doc: "Read a block device on a given machine.", handler: diskOp(() => undefined) },
      { method: "POST", op: "add_tag", doc: "Add a tag to block device on a given machine.", handler: tagOp(true) },
      { method: "POST", op: "remove_tag", doc: "Remove a tag from block device on a given machine.", handler: tagOp(false) },
      {
        method: "POST",
        op: "format",
        doc: "Format block device with filesystem.",
        handler: diskOp((c, m, slot) => {
          formatState(m, "block device", "format");
          const d = storageOf(m).disks[slot];
          if (d === undefined) return;
          if (d.ptable !== null) throw textFailure(400, "Cannot format block device with a partition table.");
          formatFs(c, d);
        }),
      },
      {
        method: "POST",
        op: "unformat",
        doc: "Unformat a previously formatted block device.",
        handler: diskOp((_c, m, slot) => {
          formatState(m, "block device", "unformat");
          const d = storageOf(m).disks[slot];
          if (d?.fs == null) throw textFailure(400, "Block device is not formatted.");
          d.fs = null;
        }),
      },
      {
        method: "POST",
        op: "mount",
        doc: "Mount the filesystem on block device.",
        handler: diskOp((c, m, slot) => {
          formatState(m, "block device", "mount");
          const d = storageOf(m).disks[slot];
          if (d) mountFs(c, d, "block device");
        }),
      },
      {
        method: "POST",
        op: "unmount",
        doc: "Unmount the filesystem on block device.",
        handler: diskOp((_c, m, slot) => {
          formatState(m, "block device", "unmount");
          const d = storageOf(m).disks[slot];
          if (d?.fs?.mountPoint == null) throw textFailure(400, "Filesystem is already unmounted.");
          d.fs.mountPoint = null;
          d.fs.mountOptions = null;
        }),
      },
      {
        method: "POST",
        op: "set_boot_disk",
        doc: "Set a block device as the boot disk for the machine.",
        handler: (c) => {
          admin(c);
          const { m, slot } = disk(c);
          readyOnly(m, "Cannot set as boot disk because the machine is not Ready.");
          const st = storageOf(m);
          st.bootSlot = slot;
          // It drops a plain filesystem on the disk and does not re-apply a layout (§3.1).
          const d = st.disks[slot];
          if (d) d.fs = null;
          return { status: 200, raw: { contentType: "text/plain; charset=utf-8", body: "OK" } };
        },
      },
    ],
  },
  {
    name: "PartitionsHandler",
    doc: "Manage partitions on a block device.",
    path: "nodes/{system_id}/blockdevices/{device_id}/partitions/",
    stats: "partitions",
    collection: true,
    actions: [
      {
        method: "GET",
        op: null,
        doc: "List partitions on a device with the given system_id and device_id.",
        handler: (c) => ok((renderBlockDevice(c.region, disk(c).m, disk(c).slot)?.partitions as unknown[]) ?? []),
      },
      {
        method: "POST",
        op: null,
        doc: "Create a partition on a block device.",
        handler: (c) => {
          const { m, slot } = disk(c);
          readyOnly(m, "Cannot create partition because the node is not Ready.");
          const st = storageOf(m);
          const d = st.disks[slot];
          const spec = m.hw?.disks[slot];
          if (d === undefined || spec === undefined) throw textFailure(404, "No BlockDevice matches the given query.");
          if (d.fs !== null) throw textFailure(400, "Cannot create a partition on a formatted block device.");
          const uefi = c.region.isUefi(m);
          const free = round4(spec.sizeBytes - tableOverhead(uefi) - d.partitions.reduce((n, p) => n + p.size, 0));
          const given = c.body.get("size");
          const size = given ? round4(parseSize("size", given, free)) : free;
          if (size < 4 * MIB) throw formFailure({ size: ["Ensure this value is greater than or equal to 4194304."] });
          if (size > free) throw formFailure({ size: [`Ensure this value is less than or equal to ${free}.`] });
          d.ptable = "GPT";
          const p: Partition = { id: c.region.storageIds.nextId(), index: nextIndex(d, uefi), size, uuid: c.body.get("uuid") || c.region.storageIds.uuid("partition"), bootable: c.body.bool("bootable") === true, fs: null, tags: [] };
          d.partitions.push(p);
          return partitionReply(c, m, slot, p);
        },
      },
    ],
  },
  {
    name: "PartitionHandler",
    doc: "Manage partition on a block device.",
    path: "nodes/{system_id}/blockdevices/{device_id}/partition/{id}",
    stats: "partition",
    collection: false,
    actions: [
      { method: "GET", op: null, doc: "Read a partition.", handler: partitionOp(() => undefined) },
      {
        method: "DELETE",
        op: null,
        doc: "Delete a partition.",
        handler: (c) => {
          const { m, slot, part } = partitionOf(c);
          readyOnly(m, "Cannot delete block device because the node is not Ready.");
          const d = storageOf(m).disks[slot];
          if (d) d.partitions = d.partitions.filter((p) => p !== part);
          return { status: 204 };
        },
      },
      {
        method: "POST",
        op: "format",
        doc: "Format a partition.",
        handler: partitionOp((c, m, p) => {
          formatState(m, "partition", "format");
          formatFs(c, p);
        }),
      },
      {
        method: "POST",
        op: "mount",
        doc: "Mount a filesystem on a partition.",
        handler: partitionOp((c, m, p) => {
          formatState(m, "partition", "mount");
          mountFs(c, p, "partition");
        }),
      },
      {
        method: "POST",
        op: "unmount",
        doc: "Unmount a filesystem on a partition.",
        handler: partitionOp((_c, m, p) => {
          formatState(m, "partition", "unmount");
          if (p.fs?.mountPoint == null) throw textFailure(400, "Filesystem is already unmounted.");
          p.fs.mountPoint = null;
        }),
      },
      {
        method: "POST",
        op: "unformat",
        doc: "Unformat a partition.",
        handler: partitionOp((_c, m, p) => {
          formatState(m, "partition", "unformat");
          p.fs = null;
        }),
      },
    ],
  },
];

