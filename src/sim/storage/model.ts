/**
 * A machine's storage (maas-network-storage.md §3, §5): partition tables, partitions,
 * filesystems with UUIDs, LVM volume groups and logical volumes, and the layouts MAAS
 * applies (flat by default when commissioning finishes; lvm, blank). Sizes follow MAAS's
 * rules so the worked example of §5 comes out to the byte.
 */
import { formFailure } from "../errors.ts";

/** What a layout needs of a disk. */
export interface DiskSize {
  sizeBytes: number;
}

export const MIB = 1024 * 1024;
const GPT_HEAD = 4 * MIB;
const GPT_TAIL = 1 * MIB;
const BIOS_GRUB = 1 * MIB;
const EFI_SIZE = 512 * MIB;

export interface Filesystem {
  fstype: string;
  label: string | null;
  uuid: string;
  mountPoint: string | null;
  mountOptions: string | null;
}

export interface Partition {
  id: number;
  /** The partition number: `sda-part2`. */
  index: number;
  size: number;
  uuid: string;
  bootable: boolean;
  fs: Filesystem | null;
  tags: string[];
}

export interface DiskState {
  slot: number;
  ptable: "GPT" | null;
  partitions: Partition[];
  fs: Filesystem | null;
}

export interface VolumeGroup {
  id: number;
  name: string;
  uuid: string;
  /** Partition ids (physical volumes). */
  pvs: number[];
  size: number;
}

export interface LogicalVolume {
  id: number;
  vgId: number;
  name: string;
  uuid: string;
  size: number;
  fs: Filesystem | null;
  tags: string[];
}

export type LayoutName = "flat" | "lvm" | "bcache" | "vmfs6" | "vmfs7" | "custom" | "blank";
export const LAYOUTS: readonly LayoutName[] = ["flat", "lvm", "bcache", "vmfs6", "vmfs7", "custom", "blank"];

export interface StorageState {
  layout: LayoutName;
  bootSlot: number;
  disks: DiskState[];
  vgs: VolumeGroup[];
  lvs: LogicalVolume[];
}

export interface StorageIds {
  nextId(): number;
  uuid(kind: string): string;
}

/** Partitions are sized in whole 4 MiB blocks (§3.2). */
export const round4 = (n: number): number => Math.floor(n / (4 * MIB)) * (4 * MIB);

/** Bytes from MAAS's size grammar: integer bytes, SI suffix (powers of 1000), or `NN%` of `whole` (§5). */
export function parseSize(field: string, text: string, whole: number): number {
  const m = /^(\d+(?:\.\d+)?)([KMGTPE%]?)$/.exec(text.trim());
  if (!m) throw formFailure({ [field]: [`${text} is not a valid size.`] });
  const n = Number(m[1]);
  const unit = m[2] ?? "";
  if (unit === "%") return Math.floor((whole * n) / 100);
  const pow = "KMGTPE".indexOf(unit) + 1;
  return Math.floor(n * 1000 ** pow);
}

/** Disks as commissioning found them: no table, no filesystem. */
export function blankStorage(disks: readonly DiskSize[], bootSlot = 0): StorageState {
  return { layout: "blank", bootSlot, disks: disks.map((_, slot) => ({ slot, ptable: null, partitions: [], fs: null })), vgs: [], lvs: [] };
}

/** The table's overhead: head and tail, plus the bios_grub gap on an amd64 BIOS machine (§3.2). */
export function tableOverhead(uefi: boolean): number {
  return GPT_HEAD + GPT_TAIL + (uefi ? 0 : BIOS_GRUB);
}

export function diskUsed(d: DiskState, uefi: boolean): number {
  if (d.ptable === null) return d.fs ? Number.NaN : 0;
  return d.partitions.reduce((n, p) => n + p.size, 0) + tableOverhead(uefi);
}

/** The next partition number: max + 1; on GPT of an amd64 BIOS machine the first is 2 (1 stays for bios_grub). */
export function nextIndex(d: DiskState, uefi: boolean): number {
  if (d.partitions.length === 0) return uefi ? 1 : 2;
  return Math.max(...d.partitions.map((p) => p.index)) + 1;
}

export interface LayoutOptions {
  bootSize?: number;
  rootSize?: number;
  rootSlot?: number;
  vgName?: string;
  lvName?: string;
  lvSize?: number;
}

/**
 * Applies a layout (§5): wipes every table, filesystem and VG first, then lays out the boot
 * disk (or `rootSlot`): [UEFI: 512 MiB fat32 `efi` → /boot/efi] [boot_size: ext4 `boot` →
 * /boot] then root (ext4 `root` → /, or the LVM PV of `vgroot` whose LV carries /).
 */
export function applyLayout(disks: readonly DiskSize[], bootSlot: number, layout: LayoutName, o: LayoutOptions, uefi: boolean, ids: StorageIds): StorageState {
  const st = blankStorage(disks, bootSlot);
  st.layout = layout;
  if (layout === "blank") return st;
  const slot = o.rootSlot ?? bootSlot;
  const disk = disks[slot];
  const d = st.disks[slot];
  if (disk === undefined || d === undefined) throw formFailure({ __all__: ["Machine is missing a boot disk; no storage layout can be applied."] });
  d.ptable = "GPT";
  const fs = (fstype: string, label: string | null, mountPoint: string | null): Filesystem => ({ fstype, label, uuid: ids.uuid("filesystem"), mountPoint, mountOptions: null });
  const add = (size: number, f: Filesystem | null, bootable: boolean): Partition => {
    const p: Partition = { id: ids.nextId(), index: nextIndex(d, uefi), size, uuid: ids.uuid("partition"), bootable, fs: f, tags: [] };
    d.partitions.push(p);
    return p;
  };
  if (uefi) add(EFI_SIZE, fs("fat32", "efi", "/boot/efi"), true);
  if (o.bootSize !== undefined && o.bootSize > 0) {
    if (o.bootSize < 512 * MIB) throw formFailure({ boot_size: ["Size is too small. Minimum size is 536870912."] });
    add(round4(o.bootSize), fs("ext4", "boot", "/boot"), true);
  }
  const free = round4(disk.sizeBytes - tableOverhead(uefi) - d.partitions.reduce((n, p) => n + p.size, 0));
  const rootSize = o.rootSize === undefined ? free : round4(o.rootSize);
  if (rootSize < 3 * 1024 * MIB && o.rootSize !== undefined) throw formFailure({ root_size: ["Size is too small. Minimum size is 3221225472."] });
  if (rootSize > free || free <= 0) throw formFailure({ __all__: ["Size of the boot partition and root partition are larger than the available space on the boot disk."] });
  if (layout === "flat") {
    add(rootSize, fs("ext4", "root", "/"), false);
    return st;
  }
  // lvm: the root partition is the VG's only PV; the VG loses one 4 MiB extent per PV (§3.2).
  const pv = add(rootSize, fs("lvm-pv", null, null), false);
  const vg: VolumeGroup = { id: ids.nextId(), name: o.vgName ?? "vgroot", uuid: ids.uuid("vg"), pvs: [pv.id], size: (Math.floor(pv.size / (4 * MIB)) - 1) * 4 * MIB };
  st.vgs.push(vg);
  const lvSize = o.lvSize === undefined ? vg.size : round4(o.lvSize);
  if (lvSize > vg.size) throw formFailure({ lv_size: [`Size is too large. Maximum size is ${vg.size}.`] });
  st.lvs.push({ id: ids.nextId(), vgId: vg.id, name: o.lvName ?? "lvroot", uuid: ids.uuid("lv"), size: lvSize, fs: fs("ext4", "root", "/"), tags: [] });
  return st;
}

export function findPartition(st: StorageState, id: number): { disk: DiskState; part: Partition } | undefined {
  for (const disk of st.disks) {
    const part = disk.partitions.find((p) => p.id === id);
    if (part) return { disk, part };
  }
  return undefined;
}

/** Whether a filesystem of the machine is mounted at `/` (deploy needs one, §4). */
export function hasRoot(st: StorageState): boolean {
  return st.disks.some((d) => d.fs?.mountPoint === "/" || d.partitions.some((p) => p.fs?.mountPoint === "/")) || st.lvs.some((l) => l.fs?.mountPoint === "/");
}
