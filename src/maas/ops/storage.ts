/**
 * Storage operations on a machine's block devices. Contracts per op: src/maas/port.ts.
 */
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
