/**
 * Schemas of what MAAS returns, checked at the edge so the rest of metalwave works
 * with typed values. They follow what a strict client (gomaasapi) requires and what
 * real MAAS sends (see docs/maas-client.md): objects are loose (unknown fields are
 * kept, because MAAS adds fields between releases), fields MAAS sends as null are
 * nullable, and only what metalwave relies on is required.
 */
import { z } from "zod";
import type { NodeStatusCode } from "../model/maas/status.ts";
import { isStatusCode } from "../model/maas/status.ts";

const str = z.string();
const nullableStr = z.string().nullable();

export const PowerStateSchema = z.enum(["on", "off", "unknown", "error"]);
export type PowerState = z.infer<typeof PowerStateSchema>;

const StatusCodeSchema = z
  .number()
  .int()
  .refine(isStatusCode, { message: "expected a MAAS status code 0..22" })
  .transform((n) => n as NodeStatusCode);

export const ZoneSchema = z.looseObject({
  id: z.number().int().optional(),
  name: str,
  description: str,
  resource_uri: str,
});
export type Zone = z.infer<typeof ZoneSchema>;

export const ResourcePoolSchema = z.looseObject({
  id: z.number().int().optional(),
  name: str,
  description: str,
  resource_uri: str.optional(),
});
export type ResourcePool = z.infer<typeof ResourcePoolSchema>;

export const VlanSchema = z.looseObject({
  id: z.number().int(),
  resource_uri: str.optional(),
  fabric: str,
  fabric_id: z.number().int().optional(),
  vid: z.number().int(),
  mtu: z.number().int(),
  dhcp_on: z.boolean(),
  name: nullableStr.optional(),
});
export type Vlan = z.infer<typeof VlanSchema>;

export const SubnetSchema = z.looseObject({
  resource_uri: str.optional(),
  id: z.number().int(),
  name: str,
  space: nullableStr.optional(),
  cidr: str,
  // Inside a link MAAS nests the subnet's VLAN in full; keep it loose.
  vlan: z.unknown().optional(),
  gateway_ip: nullableStr.optional(),
  dns_servers: z.array(str).nullable().optional(),
});
export type Subnet = z.infer<typeof SubnetSchema>;

export const InterfaceLinkSchema = z.looseObject({
  id: z.number().int(),
  mode: z.enum(["auto", "dhcp", "static", "link_up"]),
  subnet: SubnetSchema.optional(),
  ip_address: nullableStr.optional(),
});
export type InterfaceLink = z.infer<typeof InterfaceLinkSchema>;

export const InterfaceSchema = z.looseObject({
  resource_uri: str.optional(),
  id: z.number().int(),
  name: str,
  // physical | bond | bridge | vlan on the MAAS versions we target; alias/unknown exist too.
  type: str,
  enabled: z.boolean(),
  mac_address: nullableStr,
  // A disconnected interface has no VLAN.
  vlan: VlanSchema.nullable(),
  links: z.array(InterfaceLinkSchema),
  effective_mtu: z.number().int().optional(),
  parents: z.array(str),
  children: z.array(str),
  tags: z.array(str).optional(),
});
export type Interface = z.infer<typeof InterfaceSchema>;

export const BlockDeviceSchema = z.looseObject({
  resource_uri: str.optional(),
  id: z.number().int(),
  name: str,
  path: str,
  // Virtual devices have no by-id path; MAAS sends null.
  id_path: nullableStr.optional(),
  type: str.optional(),
  used_for: str.optional(),
  tags: z.array(str),
  /** Bytes. */
  size: z.number(),
  block_size: z.number().int().optional(),
  used_size: z.number().optional(),
  available_size: z.number().optional(),
  partitions: z.array(z.unknown()).optional(),
  uuid: nullableStr.optional(),
  model: nullableStr.optional(),
  serial: nullableStr.optional(),
  filesystem: z.unknown().optional(),
});
export type BlockDevice = z.infer<typeof BlockDeviceSchema>;

export const MachineSchema = z.looseObject({
  resource_uri: str,
  system_id: str,
  hostname: str,
  fqdn: str,
  status: StatusCodeSchema,
  status_name: str,
  status_message: nullableStr,
  owner: nullableStr,
  locked: z.boolean().optional(),
  tag_names: z.array(str),
  owner_data: z.record(str, str),
  architecture: nullableStr,
  osystem: str,
  distro_series: str,
  power_state: PowerStateSchema,
  power_type: str.optional(),
  /** MiB. */
  memory: z.number(),
  cpu_count: z.number().int(),
  /** MB. */
  storage: z.number().optional(),
  ip_addresses: z.array(str),
  interface_set: z.array(InterfaceSchema),
  boot_interface: InterfaceSchema.nullable(),
  blockdevice_set: z.array(BlockDeviceSchema),
  physicalblockdevice_set: z.array(BlockDeviceSchema),
  boot_disk: BlockDeviceSchema.nullable().optional(),
  zone: ZoneSchema,
  pool: ResourcePoolSchema.nullable(),
  domain: z.looseObject({ name: str }).optional(),
  hardware_info: z.record(str, z.union([str, z.null()])).nullable(),
  netboot: z.boolean().optional(),
  hwe_kernel: nullableStr.optional(),
  min_hwe_kernel: nullableStr.optional(),
  commissioning_status: z.number().int().optional(),
  commissioning_status_name: str.optional(),
  testing_status: z.number().int().optional(),
  testing_status_name: str.optional(),
  node_type_name: str.optional(),
  description: str.optional(),
});
export type Machine = z.infer<typeof MachineSchema>;

/**
 * The part of a machine that a state-changing operation changes and that a status poll
 * needs: identity, status, owner, power. MAAS answers those operations (and `id=`
 * filtered lists) with the whole machine; the client reads only this part of such
 * answers (unknown keys dropped), so a 10,000-machine rollout does not build tens of
 * kilobytes of objects per answer. `readMachine` and `listMachines` give the rest.
 */
export const MachineStateSchema = z.object({
  system_id: str,
  hostname: str,
  status: StatusCodeSchema,
  status_name: str,
  status_message: nullableStr,
  owner: nullableStr,
  locked: z.boolean().optional(),
  power_state: PowerStateSchema,
});
export type MachineState = z.infer<typeof MachineStateSchema>;

/** `machines/?op=allocate` answers with the machine plus the constraints it matched; the client reads its state and those. */
export const AllocatedMachineSchema = MachineStateSchema.extend({
  // Absent when the client reconciled an allocation by reading the machine back.
  constraints_by_type: z.record(str, z.unknown()).optional(),
});
export type AllocatedMachine = z.infer<typeof AllocatedMachineSchema>;

export const TagSchema = z.looseObject({
  name: str,
  definition: str,
  comment: str,
  kernel_opts: nullableStr,
  resource_uri: str.optional(),
});
export type Tag = z.infer<typeof TagSchema>;

export const EventLevelSchema = z.enum(["AUDIT", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]);

export const MaasEventSchema = z.looseObject({
  id: z.number().int(),
  username: nullableStr.optional(),
  node: nullableStr,
  hostname: nullableStr,
  level: str,
  created: str,
  type: str,
  description: str,
});
export type MaasEvent = z.infer<typeof MaasEventSchema>;

export const EventsPageSchema = z.looseObject({
  count: z.number().int(),
  events: z.array(MaasEventSchema),
  next_uri: nullableStr.optional(),
  prev_uri: nullableStr.optional(),
});
export type EventsPage = z.infer<typeof EventsPageSchema>;

export const VersionSchema = z.looseObject({
  capabilities: z.array(str),
  version: str,
  subversion: str,
});
export type Version = z.infer<typeof VersionSchema>;

export const UserSchema = z.looseObject({
  username: str,
  email: nullableStr.optional(),
  is_superuser: z.boolean(),
  is_local: z.boolean().optional(),
  resource_uri: str.optional(),
});
export type User = z.infer<typeof UserSchema>;

export const TagUpdateResultSchema = z.looseObject({
  added: z.number().int(),
  removed: z.number().int(),
});

export const PowerStateResultSchema = z.looseObject({ state: PowerStateSchema });

export const ReleasedIdsSchema = z.array(str);

/** `[3].interface_set[0].vlan.vid`: the path of a failing field, as people read it. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out === "" ? "(response)" : out;
}

/** "path: message" for the first few issues of a failed parse. */
export function describeIssues(error: z.ZodError, max = 3): string {
  const shown = error.issues.slice(0, max).map((i) => `${formatIssuePath(i.path)}: ${i.message.replace(/^Invalid input: /, "")}`);
  const more = error.issues.length > max ? ` (and ${error.issues.length - max} more)` : "";
  return shown.join("; ") + more;
}
