/**
 * The one port through which metalwave talks to a MAAS region. The pipeline,
 * roles and service code depend on this interface only; `MaasClient`
 * (src/maas/client.ts) implements it over HTTP, tests may provide fakes.
 *
 * Contracts, per method:
 * - "idempotent": safe to call again with the same arguments; repeating it changes nothing more.
 * - "reconciled": a POST that changes state. If the outcome of the request is unknown
 *   (connection reset after sending, 504), the client never repeats it blindly: it reads
 *   the machine back and decides whether the operation took effect (then it returns as if
 *   it succeeded) or not (then it may send it once more within its retry budget).
 * - Expected failures are thrown as typed `MaasError`s (src/maas/errors.ts):
 *   `MAAS_AUTH` 401, `MAAS_FORBIDDEN` 403, `MAAS_NOT_FOUND` 404, `MAAS_CONFLICT` 409
 *   (wrong state, nothing matches an allocation), `MAAS_BAD_REQUEST` 400 (with field
 *   messages), `MAAS_UNAVAILABLE` 502/503/504 after retries, `MAAS_BAD_RESPONSE` when a
 *   response fails schema validation (names the field), `MAAS_NETWORK` when the region
 *   cannot be reached after retries, `MAAS_OUTCOME_UNKNOWN` when reconciliation itself failed.
 */
import type { NodeStatusCode } from "../model/maas/status.ts";
import type {
  AllocatedMachine,
  BlockDevice,
  EventsPage,
  Fabric,
  Interface,
  IpRange,
  Machine,
  PlanningMachine,
  MachineState,
  PowerState,
  ResourcePool,
  Space,
  SubnetWithVlan,
  Tag,
  User,
  Version,
  Vlan,
  Zone,
} from "./schemas.ts";

export type {
  AllocatedMachine,
  BlockDevice,
  EventsPage,
  Fabric,
  Filesystem,
  Interface,
  InterfaceLink,
  IpRange,
  MaasEvent,
  Machine,
  PlanningMachine,
  MachineState,
  Partition,
  PowerState,
  ResourcePool,
  Space,
  SubnetWithVlan,
  Tag,
  User,
  Version,
  Vlan,
  Zone,
} from "./schemas.ts";

/** Filters of `GET machines/`: each array is match-any (repeated key), `tags` must all match. */
export interface MachineFilter {
  id?: readonly string[];
  hostname?: readonly string[];
  mac_address?: readonly string[];
  domain?: readonly string[];
  agent_name?: readonly string[];
  zone?: readonly string[];
  pool?: readonly string[];
  arch?: readonly string[];
  owner?: readonly string[];
  power_state?: readonly string[];
  /** Lower-case status names as MAAS's filter takes them, e.g. "ready", "failed_deployment". */
  status?: readonly string[];
  tags?: readonly string[];
  not_id?: readonly string[];
  not_tags?: readonly string[];
  not_zone?: readonly string[];
  not_pool?: readonly string[];
}

export interface CreateMachineParams {
  architecture: string;
  mac_addresses: readonly string[];
  hostname?: string;
  domain?: string;
  power_type?: string;
  /** Sent as `power_parameters_<key>`. */
  power_parameters?: Readonly<Record<string, string>>;
  commission?: boolean;
  zone?: string;
  pool?: string;
}

export interface CommissionParams {
  enable_ssh?: boolean;
  skip_bmc_config?: boolean;
  skip_networking?: boolean;
  skip_storage?: boolean;
  commissioning_scripts?: readonly string[];
  testing_scripts?: readonly string[];
}

export interface AllocateParams {
  system_id?: string;
  name?: string;
  arch?: string;
  cpu_count?: number;
  /** Megabytes. */
  mem?: number;
  tags?: readonly string[];
  not_tags?: readonly string[];
  zone?: string;
  not_in_zone?: readonly string[];
  pool?: string;
  not_in_pool?: readonly string[];
  agent_name?: string;
  comment?: string;
  dry_run?: boolean;
}

export interface DeployParams {
  /** Plain text; the client base64-encodes it as MAAS expects. */
  user_data?: string;
  distro_series?: string;
  hwe_kernel?: string;
  agent_name?: string;
  comment?: string;
}

export interface ReleaseParams {
  comment?: string;
  erase?: boolean;
  quick_erase?: boolean;
  secure_erase?: boolean;
  force?: boolean;
}

export interface CreateTagParams {
  name: string;
  comment?: string;
  definition?: string;
  kernel_opts?: string;
}

export interface EventsQuery {
  id?: readonly string[];
  hostname?: readonly string[];
  zone?: readonly string[];
  agent_name?: readonly string[];
  owner?: readonly string[];
  level?: "AUDIT" | "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL";
  /** 1..1000 (MAAS's own maximum). */
  limit?: number;
  after?: number;
  before?: number;
}

/** MAAS's bond modes (`bond_mode` choices). */
export const BOND_MODES = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"] as const;
export type BondMode = (typeof BOND_MODES)[number];
export const BOND_XMIT_HASH_POLICIES = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"] as const;
export type BondXmitHashPolicy = (typeof BOND_XMIT_HASH_POLICIES)[number];

/** `create_bond`: parents are interface ids; MAAS defaults mode balance-rr, miimon 100, lacp fast, layer2. */
export interface BondParams {
  name: string;
  parents: readonly number[];
  bond_mode?: BondMode;
  bond_miimon?: number;
  bond_lacp_rate?: "fast" | "slow";
  bond_xmit_hash_policy?: BondXmitHashPolicy;
  /** At least 552. */
  mtu?: number;
  tags?: readonly string[];
  mac_address?: string;
}

/** `create_vlan`: `vlan` is the tagged VLAN's database id (on the parent's fabric), `parent` one interface id. */
export interface VlanInterfaceParams {
  vlan: number;
  parent: number;
  mtu?: number;
  tags?: readonly string[];
}

export type LinkMode = "AUTO" | "DHCP" | "STATIC" | "LINK_UP";

/** `link_subnet`: `subnet` is the subnet id (required for AUTO and STATIC). */
export interface LinkSubnetParams {
  mode: LinkMode;
  subnet?: number;
  /** STATIC only; MAAS picks the next free address when absent. */
  ip_address?: string;
  default_gateway?: boolean;
  force?: boolean;
}

/** Interface `PUT`: only the fields given are changed; `tags` replaces the whole list. */
export interface InterfaceUpdate {
  name?: string;
  mtu?: number;
  tags?: readonly string[];
  /** Bonds: the member interface ids. */
  parents?: readonly number[];
  bond_mode?: BondMode;
  bond_lacp_rate?: "fast" | "slow";
  bond_xmit_hash_policy?: BondXmitHashPolicy;
  bond_miimon?: number;
}

export const STORAGE_LAYOUTS = ["flat", "lvm", "bcache", "vmfs6", "vmfs7", "custom", "blank"] as const;
export type StorageLayoutName = (typeof STORAGE_LAYOUTS)[number];

/**
 * `set_storage_layout`. Sizes are bytes, an SI size (`24G` = 24·10⁹ bytes) or a percentage
 * (`NN%`); `root_device` and `cache_device` are block-device ids.
 */
export interface StorageLayoutParams {
  storage_layout: StorageLayoutName;
  root_device?: number;
  boot_size?: string;
  root_size?: string;
  vg_name?: string;
  lv_name?: string;
  lv_size?: string;
  cache_device?: number;
  cache_mode?: "writethrough" | "writeback" | "writearound";
  cache_size?: string;
  cache_no_part?: boolean;
}

export interface MaasPort {
  /** Anonymous. Idempotent. */
  version(): Promise<Version>;
  /** Idempotent. Proves the key works. */
  whoami(): Promise<User>;

  /** Idempotent. Large unfiltered lists are one big response: filter by `id` when polling. */
  listMachines(filter?: MachineFilter): Promise<Machine[]>;
  /** Idempotent. The same list, read as each machine's state only (what a status poll needs). */
  listMachineStates(filter?: MachineFilter): Promise<MachineState[]>;
  /**
   * Idempotent. The same list as listMachines, each machine read as planning reads it
   * (PlanningMachine: the fields its facts come from, validated) and turned into
   * `each(machine)` as it is read, so the machines are never all held at once (planning a large fleet).
   * Optional: without it a caller maps the result of listMachines.
   */
  listMachinesEach?<R>(filter: MachineFilter, each: (m: PlanningMachine) => R): Promise<R[]>;
  /** Idempotent. 404 → MAAS_NOT_FOUND. */
  readMachine(systemId: string): Promise<Machine>;
  /** Not idempotent (creates a machine); never retried once sent. */
  createMachine(params: CreateMachineParams): Promise<Machine>;
  /** Reconciled (took effect if the machine is Commissioning or has moved past it since). */
  commission(systemId: string, params?: CommissionParams): Promise<MachineState>;
  /** Reconciled when `system_id` is given; 409 MAAS_CONFLICT when nothing matches. */
  allocate(params: AllocateParams): Promise<AllocatedMachine>;
  /** Reconciled (took effect if Deploying or Deployed). */
  deploy(systemId: string, params?: DeployParams): Promise<MachineState>;
  /** Reconciled. Already Ready/Releasing is a no-op success, as in MAAS. */
  release(systemId: string, params?: ReleaseParams): Promise<MachineState>;
  /** Releases many in one call; returns the released system_ids. */
  releaseMany(systemIds: readonly string[], comment?: string): Promise<string[]>;
  /** Reconciled. */
  abort(systemId: string, comment?: string): Promise<MachineState>;
  /** Reconciled (took effect if Broken). */
  markBroken(systemId: string, comment?: string): Promise<MachineState>;
  /** Reconciled. */
  markFixed(systemId: string, comment?: string): Promise<MachineState>;
  powerOn(systemId: string, comment?: string): Promise<MachineState>;
  powerOff(systemId: string, stopMode?: "hard" | "soft", comment?: string): Promise<MachineState>;
  /** Idempotent. */
  queryPowerState(systemId: string): Promise<PowerState>;

  /** Idempotent. */
  listTags(): Promise<Tag[]>;
  /** 400 MAAS_BAD_REQUEST if the name exists or is invalid. */
  createTag(params: CreateTagParams): Promise<Tag>;
  /** Idempotent in effect (404 on a missing tag). */
  deleteTag(name: string): Promise<void>;
  /**
   * Adds and removes machines on a tag. Idempotent. The client splits large lists into
   * batches (default 500 ids per call) and sums MAAS's `{added, removed}` answers.
   */
  updateTagNodes(name: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<{ added: number; removed: number }>;
  /** Idempotent. */
  machinesByTag(name: string): Promise<Machine[]>;
  /** Idempotent. */
  addBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void>;
  /** Idempotent. */
  removeBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void>;

  /** Idempotent. */
  listZones(): Promise<Zone[]>;
  /** Idempotent. */
  listResourcePools(): Promise<ResourcePool[]>;

  /** Idempotent. Newest first, as MAAS returns them. */
  queryEvents(query?: EventsQuery): Promise<EventsPage>;

  // ------------------------------------------------------------ network model (reads)
  /** Idempotent. Each fabric with its VLANs. */
  listFabrics(): Promise<Fabric[]>;
  /** Idempotent. The VLANs of one fabric (by fabric id). */
  listVlans(fabricId: number): Promise<Vlan[]>;
  /** Idempotent. Includes the `undefined` pseudo-space (id -1) when some VLAN has no space. */
  listSpaces(): Promise<Space[]>;
  /** Idempotent. */
  listSubnets(): Promise<SubnetWithVlan[]>;
  /** Idempotent. Dynamic and reserved ranges; the load-balancer pools are reserved ranges named by `comment`. */
  listIpRanges(): Promise<IpRange[]>;

  // ------------------------------------------------------------ a machine's interfaces
  // Changes need a MAAS admin (403 MAAS_FORBIDDEN otherwise) and the machine New, Ready,
  // Allocated, Broken or Failed testing (409 MAAS_CONFLICT otherwise); update also Deployed.
  /** Idempotent. */
  readInterfaces(systemId: string): Promise<Interface[]>;
  /**
   * Not safe to repeat as such (a second create fails: name taken, parents in use), so
   * reconciled: after an unknown outcome it took effect if a bond of that name exists.
   * MAAS clears the parents' links and moves them to the bond's VLAN.
   */
  createBond(systemId: string, params: BondParams): Promise<Interface>;
  /** Reconciled: took effect if a VLAN interface on that VLAN with that parent exists. `parentName` is the parent's name. */
  createVlanInterface(systemId: string, params: VlanInterfaceParams, parentName: string): Promise<Interface>;
  /** Reconciled: took effect if the interface has a link of that mode on that subnet. A second AUTO link on the same subnet is refused by MAAS. */
  linkSubnet(systemId: string, interfaceId: number, params: LinkSubnetParams): Promise<Interface>;
  /** Reconciled: took effect if the link is gone. */
  unlinkSubnet(systemId: string, interfaceId: number, linkId: number): Promise<Interface>;
  /** Idempotent (PUT sets the given fields). At least one field must be given. */
  updateInterface(systemId: string, interfaceId: number, update: InterfaceUpdate): Promise<Interface>;

  // ------------------------------------------------------------ storage
  /** Idempotent. Physical and virtual devices with partitions and filesystems. */
  readBlockDevices(systemId: string): Promise<BlockDevice[]>;
  /**
   * Ready only (409 otherwise). Idempotent in effect: MAAS wipes and lays out again, so a
   * repeat leaves the same layout (new filesystem uuids). Bad parameters: 400 with fields.
   */
  setStorageLayout(systemId: string, params: StorageLayoutParams): Promise<MachineState>;
  /** Ready only, admin. Idempotent. Does not re-apply the layout: set the layout after it. */
  setBootDisk(systemId: string, deviceId: number): Promise<void>;
}

export type { NodeStatusCode };
