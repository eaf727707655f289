/**
 * MAAS-shaped JSON for a machine's storage (maas-network-storage.md §3.1–3.2): physical
 * disks (uuid null), partitions (always a uuid; `resource_uri` without a trailing slash, no
 * `name`), filesystems, and LVM logical volumes as virtual block devices.
 */
import type { DiskSpec } from "../region/records.ts";
import { diskUsed, round4, tableOverhead } from "./model.ts";
import type { DiskState, Filesystem, LogicalVolume, Partition, StorageState } from "./model.ts";

const API = "/MAAS/api/2.0";

export interface DiskFacts {
  spec: DiskSpec;
  id: number;
  name: string;
  serial: string;
  idPath: string;
  tags: string[];
}

function renderFs(f: Filesystem | null): Record<string, unknown> | null {
  return f === null ? null : { fstype: f.fstype, label: f.label, uuid: f.uuid, mount_point: f.mountPoint, mount_options: f.mountOptions };
}

function usedFor(f: Filesystem | null, vgName?: string): string {
  if (f === null) return "Unused";
  if (f.fstype === "lvm-pv") return `LVM volume for ${vgName ?? "vgroot"}`;
  return f.mountPoint ? `${f.fstype} formatted filesystem mounted at ${f.mountPoint}` : `Unmounted ${f.fstype} formatted filesystem`;
}

export function renderPartition(systemId: string, disk: DiskFacts, p: Partition, vgName: string | undefined): Record<string, unknown> {
  return {
    uuid: p.uuid,
    size: p.size,
    bootable: p.bootable,
    tags: [...p.tags],
    type: "partition",
    path: `/dev/disk/by-dname/${disk.name}-part${p.index}`,
    system_id: systemId,
    device_id: disk.id,
    used_for: usedFor(p.fs, vgName),
    filesystem: renderFs(p.fs),
    id: p.id,
    resource_uri: `${API}/nodes/${systemId}/blockdevices/${disk.id}/partition/${p.id}`,
  };
}

export function renderDisk(systemId: string, disk: DiskFacts, d: DiskState | undefined, st: StorageState | null, uefi: boolean): Record<string, unknown> {
  const size = disk.spec.sizeBytes;
  const partitioned = d?.ptable != null;
  const used = d === undefined ? 0 : d.fs ? size : diskUsed(d, uefi);
  const vgOf = (p: Partition) => st?.vgs.find((v) => v.pvs.includes(p.id))?.name;
  const n = d?.partitions.length ?? 0;
  return {
    id_path: disk.idPath,
    size,
    block_size: disk.spec.kind === "hdd" ? 4096 : 512,
    tags: disk.tags,
    uuid: null,
    storage_pool: null,
    model: disk.spec.model,
    serial: disk.serial,
    partition_table_type: partitioned ? "GPT" : null,
    // What is left in whole 4 MiB blocks, as partitions are sized (§3.2).
    available_size: partitioned ? round4(Math.max(0, size - used - (n === 0 ? tableOverhead(uefi) : 0))) : d?.fs ? 0 : size,
    name: disk.name,
    used_size: used,
    path: `/dev/disk/by-dname/${disk.name}`,
    numa_node: 0,
    firmware_version: "1.0",
    system_id: systemId,
    type: "physical",
    filesystem: renderFs(d?.fs ?? null),
    used_for: partitioned ? `GPT partitioned with ${n} partition${n === 1 ? "" : "s"}` : usedFor(d?.fs ?? null),
    partitions: (d?.partitions ?? []).map((p) => renderPartition(systemId, disk, p, vgOf(p))),
    id: disk.id,
    resource_uri: `${API}/nodes/${systemId}/blockdevices/${disk.id}/`,
  };
}

export function renderLogicalVolume(systemId: string, st: StorageState, lv: LogicalVolume): Record<string, unknown> {
  const vg = st.vgs.find((v) => v.id === lv.vgId);
  const name = `${vg?.name ?? "vg"}-${lv.name}`;
  return {
    id_path: null,
    size: lv.size,
    block_size: 4096,
    tags: [...lv.tags],
    uuid: lv.uuid,
    storage_pool: null,
    model: null,
    serial: null,
    partition_table_type: null,
    available_size: lv.fs ? 0 : lv.size,
    name,
    used_size: lv.fs ? lv.size : 0,
    path: `/dev/disk/by-dname/${name}`,
    numa_node: null,
    firmware_version: null,
    system_id: systemId,
    type: "virtual",
    filesystem: renderFs(lv.fs),
    used_for: usedFor(lv.fs),
    partitions: [],
    id: lv.id,
    resource_uri: `${API}/nodes/${systemId}/blockdevices/${lv.id}/`,
  };
}
