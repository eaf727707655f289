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
  /** Database id (5001 and up on a real region), not the 802.1Q tag: that is `vid`. */
  id: z.number().int(),
  resource_uri: str.optional(),
  /** The fabric's name. */
  fabric: str,
  fabric_id: z.number().int().optional(),
  vid: z.number().int(),
  mtu: z.number().int(),
  dhcp_on: z.boolean(),
  name: nullableStr.optional(),
  /** The space's name, or "undefined" when the VLAN has none (MAAS never sends null here). */
  space: nullableStr.optional(),
  primary_rack: nullableStr.optional(),
  secondary_rack: nullableStr.optional(),
  external_dhcp: nullableStr.optional(),
});
export type Vlan = z.infer<typeof VlanSchema>;

export const SubnetSchema = z.looseObject({
  resource_uri: str.optional(),
  id: z.number().int(),
  name: str,
  /** The space of the subnet's VLAN, "undefined" when none. */
  space: nullableStr.optional(),
  cidr: str,
  // Inside a link MAAS nests the subnet's VLAN in full; kept loose there (see SubnetWithVlanSchema).
  vlan: z.unknown().optional(),
  gateway_ip: nullableStr.optional(),
  dns_servers: z.array(str).nullable().optional(),
  managed: z.boolean().optional(),
});
export type Subnet = z.infer<typeof SubnetSchema>;

/** A subnet as `GET subnets/` and `GET spaces/` render it: its VLAN nested in full. */
export const SubnetWithVlanSchema = SubnetSchema.extend({ vlan: VlanSchema });
export type SubnetWithVlan = z.infer<typeof SubnetWithVlanSchema>;

/** `GET fabrics/`: each fabric with its VLANs (the untagged one, vid 0, first). */
export const FabricSchema = z.looseObject({
  id: z.number().int(),
  name: str,
  class_type: nullableStr.optional(),
  vlans: z.array(VlanSchema),
  resource_uri: str,
});
export type Fabric = z.infer<typeof FabricSchema>;

/** `GET spaces/`: spaces hold VLANs (and so their subnets); `undefined` (id -1) holds those without one. */
export const SpaceSchema = z.looseObject({
  id: z.number().int(),
  name: str,
  description: str.optional(),
  vlans: z.array(VlanSchema).optional(),
  subnets: z.array(SubnetWithVlanSchema),
  resource_uri: str,
});
export type Space = z.infer<typeof SpaceSchema>;

/** `GET ipranges/`: dynamic and reserved ranges, each with its subnet. */
export const IpRangeSchema = z.looseObject({
  id: z.number().int(),
  type: z.enum(["dynamic", "reserved"]),
  start_ip: str,
  end_ip: str,
  comment: z.string().nullable(),
  subnet: SubnetWithVlanSchema,
  user: z.looseObject({ username: str }).nullable().optional(),
  resource_uri: str.optional(),
});
export type IpRange = z.infer<typeof IpRangeSchema>;

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
  /** Bond and bridge settings (`bond_mode`, `mtu` when set, ...); `{}` or `""` for a plain NIC. */
  params: z.union([z.record(str, z.unknown()), str]).nullable().optional(),
  link_speed: z.number().int().optional(),
  interface_speed: z.number().int().optional(),
  link_connected: z.boolean().optional(),
});
export type Interface = z.infer<typeof InterfaceSchema>;

export const FilesystemSchema = z.looseObject({
  fstype: str,
  label: nullableStr.optional(),
  uuid: nullableStr.optional(),
  mount_point: nullableStr.optional(),
  mount_options: nullableStr.optional(),
});
export type Filesystem = z.infer<typeof FilesystemSchema>;

export const PartitionSchema = z.looseObject({
  id: z.number().int(),
  device_id: z.number().int().optional(),
  uuid: nullableStr.optional(),
  path: str,
  type: str.optional(),
  /** Bytes. */
  size: z.number(),
  bootable: z.boolean().optional(),
  filesystem: FilesystemSchema.nullable().optional(),
  used_for: str.optional(),
  tags: z.array(str).optional(),
  resource_uri: str.optional(),
});
export type Partition = z.infer<typeof PartitionSchema>;

export const BlockDeviceSchema = z.looseObject({
  resource_uri: str.optional(),
  id: z.number().int(),
  name: str,
  path: str,
  // Virtual devices have no by-id path; MAAS sends null.
  id_path: nullableStr.optional(),
  /** physical | virtual. */
  type: str.optional(),
  used_for: str.optional(),
  tags: z.array(str),
  /** Bytes. */
  size: z.number(),
  block_size: z.number().int().optional(),
  used_size: z.number().optional(),
  available_size: z.number().optional(),
  partitions: z.array(PartitionSchema).optional(),
  /** `GPT`/`MBR` (upper-case), null when the disk has no partition table. */
  partition_table_type: nullableStr.optional(),
  uuid: nullableStr.optional(),
  model: nullableStr.optional(),
  serial: nullableStr.optional(),
  filesystem: FilesystemSchema.nullable().optional(),
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
 * A machine as planning reads it: only the fields `machineFacts` (src/roles/facts.ts) turns
 * into facts, which are all that role plans, layouts and preflight look at. Planning lists
 * every machine of the region (100,000 at issue 12's scale) and validating each whole
 * machine with MachineSchema was most of its CPU (docs/bench.md); the client reads only
 * these top-level fields of each element (the rest is skipped unparsed, src/maas/json-pick.ts)
 * and nested objects keep only what is read. The types match MachineSchema's, so a whole
 * Machine is one of these too.
 */
const PlanningVlanSchema = z.object({ id: z.number().int(), fabric_id: z.number().int().optional(), space: nullableStr.optional() });
const PlanningInterfaceSchema = z.object({
  id: z.number().int(),
  name: str,
  type: str,
  vlan: PlanningVlanSchema.nullable(),
  parents: z.array(str),
  link_speed: z.number().int().optional(),
  interface_speed: z.number().int().optional(),
});
const PlanningDiskSchema = z.object({ id: z.number().int(), name: str, tags: z.array(str), size: z.number() });
export const PlanningMachineSchema = z.object({
  system_id: str,
  hostname: str,
  status: StatusCodeSchema,
  status_name: str,
  owner: nullableStr,
  locked: z.boolean().optional(),
  architecture: nullableStr,
  tag_names: z.array(str),
  /** MiB. */
  memory: z.number(),
  cpu_count: z.number().int(),
  zone: z.object({ name: str }),
  pool: z.object({ name: str }).nullable(),
  interface_set: z.array(PlanningInterfaceSchema),
  boot_interface: z.object({ name: str }).nullable(),
  physicalblockdevice_set: z.array(PlanningDiskSchema),
  boot_disk: z.object({ id: z.number().int() }).nullable().optional(),
});
export type PlanningMachine = z.infer<typeof PlanningMachineSchema>;
/** The top-level fields PlanningMachineSchema reads. */
export const PLANNING_MACHINE_FIELDS: ReadonlySet<string> = new Set(Object.keys(PlanningMachineSchema.shape));

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
  /**
   * The current commissioning script set's id: MAAS makes a new one for every commissioning
   * run (maas: src/maasserver/models/node.py start_commissioning; the API field is
   * src/maasserver/api/nodes.py NodeHandler.current_commissioning_result_id), so a change of
   * it proves a commission request took effect even when the run has already failed again.
   */
  current_commissioning_result_id: z.number().int().nullable().optional(),
});
export type MachineState = z.infer<typeof MachineStateSchema>;
/** The top-level fields MachineStateSchema reads: the rest of a machine answer is skipped unparsed (src/maas/json-pick.ts). */
export const MACHINE_STATE_FIELDS: ReadonlySet<string> = new Set(Object.keys(MachineStateSchema.shape));

/** `machines/?op=allocate` answers with the machine plus the constraints it matched; the client reads its state and those. */
export const AllocatedMachineSchema = MachineStateSchema.extend({
  // Absent when the client reconciled an allocation by reading the machine back.
  constraints_by_type: z.record(str, z.unknown()).optional(),
});
export type AllocatedMachine = z.infer<typeof AllocatedMachineSchema>;
export const ALLOCATED_MACHINE_FIELDS: ReadonlySet<string> = new Set(Object.keys(AllocatedMachineSchema.shape));

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
