/**
 * Storage: a machine's block devices (read, tags), its storage layout and boot disk.
 * Facts: ../shared/reference/maas-network-storage.md §3 (routes, renderings), §4 (states:
 * layout and boot disk need Ready), §5 (layouts and their parameters). Contracts per op:
 * src/maas/port.ts.
 */
import type { StorageLayoutParams } from "../port.ts";
import { BlockDeviceSchema, MACHINE_STATE_FIELDS, MachineStateSchema } from "../schemas.ts";
import type { BlockDevice, MachineState } from "../schemas.ts";
import { IDEMPOTENT, seg } from "../transport.ts";
import type { MaasTransport } from "../transport.ts";

function blockDeviceTag(t: MaasTransport, operation: string, op: string, systemId: string, deviceId: number, tag: string): Promise<void> {
  return t.call({
    operation,
    method: "POST",
    path: `nodes/${seg(systemId)}/blockdevices/${deviceId}/`,
    op,
    params: { tag },
    systemId,
    schema: null,
    // Adding a tag that is there (or removing one that is not) changes nothing.
    safety: IDEMPOTENT,
  });
}

export function addBlockDeviceTag(t: MaasTransport, systemId: string, deviceId: number, tag: string): Promise<void> {
  return blockDeviceTag(t, "addBlockDeviceTag", "add_tag", systemId, deviceId, tag);
}

export function removeBlockDeviceTag(t: MaasTransport, systemId: string, deviceId: number, tag: string): Promise<void> {
  return blockDeviceTag(t, "removeBlockDeviceTag", "remove_tag", systemId, deviceId, tag);
}

export function readBlockDevices(t: MaasTransport, systemId: string): Promise<BlockDevice[]> {
  return t.call({
    operation: "readBlockDevices",
    method: "GET",
    path: `nodes/${seg(systemId)}/blockdevices/`,
    systemId,
    schema: BlockDeviceSchema.array(),
    itemSchema: BlockDeviceSchema,
    safety: IDEMPOTENT,
  });
}

/**
 * `POST machines/{id}/?op=set_storage_layout` (Ready only). MAAS wipes the machine's
 * partitions, filesystems and volume groups and lays the layout out again, so the same
 * request sent twice leaves the same layout (with new filesystem uuids): idempotent in
 * effect. It answers with the machine; the client reads its state.
 */
export function setStorageLayout(t: MaasTransport, systemId: string, p: StorageLayoutParams): Promise<MachineState> {
  return t.call({
    operation: "setStorageLayout",
    method: "POST",
    path: `machines/${seg(systemId)}/`,
    op: "set_storage_layout",
    params: { ...p },
    systemId,
    schema: MachineStateSchema,
    fields: MACHINE_STATE_FIELDS,
    safety: IDEMPOTENT,
  });
}

/** `POST nodes/{id}/blockdevices/{dev}/?op=set_boot_disk` (Ready only); MAAS answers `OK`, not JSON. Idempotent. */
export function setBootDisk(t: MaasTransport, systemId: string, deviceId: number): Promise<void> {
  return t.call({
    operation: "setBootDisk",
    method: "POST",
    path: `nodes/${seg(systemId)}/blockdevices/${deviceId}/`,
    op: "set_boot_disk",
    systemId,
    schema: null,
    safety: IDEMPOTENT,
  });
}
