/**
 * The role plan: plain, JSON-ready data (no Maps, no classes), so `metalwave plan`
 * can print it as JSON and the lead's journal can store it as is.
 */

export interface MachineRef {
  systemId: string;
  hostname: string;
}

export type Severity = "FAIL" | "WARN";

/** The checks of the per-host network and storage layout (src/roles/layout-plan.ts, layouts.ts). */
export const LAYOUT_FINDING_CODES = [
  "NETWORK_SPACE_UNREACHABLE",
  "BOND_NO_NIC",
  "BOND_PARENTS_VLAN",
  "LAYOUT_UNKNOWN_INTERFACE",
  "STORAGE_NO_ROOT_DEVICE",
  "STORAGE_TOO_SMALL",
  "STORAGE_NO_ROOT_MOUNT",
  "LB_RANGE_MISSING",
] as const;

/** Every pre-flight check, by stable code. docs/roles.md has the table. */
export const FINDING_CODES = [
  "NO_ROLE",
  "STORAGE_NO_CEPH_DISK",
  "HARDWARE_BELOW_MINIMUM",
  "ROOT_DISK",
  "ROLE_EMPTY",
  "ROLE_BELOW_3",
  "TWO_ZONES",
  "ZONE_IMBALANCE",
  "ROLE_ZONE_SPREAD",
  "JUJU_CONTROLLERS",
  "COUNT_SHORT",
  "SPARES_SHORT",
  "EXCLUSIVE_ROLES",
  "MACHINE_UNHEALTHY",
  "MACHINE_LOCKED",
  "MACHINE_OWNED_ELSEWHERE",
  "SCOPE_CONFLICT",
  "UNCOMMISSIONED",
  "AUTOMATIC_TAG",
  ...LAYOUT_FINDING_CODES,
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export function isFindingCode(s: string): s is FindingCode {
  return (FINDING_CODES as readonly string[]).includes(s);
}

export interface Finding {
  severity: Severity;
  code: FindingCode;
  /** Names the machines (hostname and system_id) and the numbers involved. */
  message: string;
  /** The role concerned, when the check is about one. */
  role: string | null;
  machines: MachineRef[];
}

/** Why a machine takes no part in assignment. */
export type ExclusionReason = "unhealthy" | "locked" | "owned-elsewhere" | "scope-conflict" | "uncommissioned";

export interface Excluded extends MachineRef {
  zone: string;
  reason: ExclusionReason;
  /** Status label, owner or the other scope tags: what the message shows. */
  detail: string;
  /** Already carries the scope tag (else it is a candidate that could not be claimed). */
  inScope: boolean;
  /** Role tags it keeps untouched (locked and foreign-owned machines are frozen as they are). */
  keptRoles: string[];
}

export interface Assignment extends MachineRef {
  zone: string;
  /** Roles it holds after the plan (deployed with them). */
  roles: string[];
  /** The role it is held back for, when it is a spare. */
  spareFor: string | null;
  /** The plan adds the scope tag to it. */
  claimed: boolean;
  /** Frozen (locked or owned by someone else) or held through a MAAS-managed (XPath) tag. */
  pinned: boolean;
}

export interface RoleSummary {
  tag: string;
  spareTag: string;
  /** The role tag has an XPath definition: MAAS decides membership, the plan only reads it. */
  automatic: boolean;
  rest: boolean;
  min: number;
  /** Resolved limit (a percentage turned into machines); null = no limit. */
  max: number | null;
  sparesWanted: number;
  /** Usable machines whose facts match the role's rule. */
  eligible: number;
  /** Of those, how many were still free when the role's turn came (earlier roles and spares take theirs first). */
  free: number;
  count: number;
  /** Zone → members, sorted by hostname. */
  zones: Record<string, MachineRef[]>;
  spreadZones: number;
}

export interface TagChange {
  tag: string;
  /** The tag does not exist yet: sync creates it (with `comment`) before adding machines. */
  create: boolean;
  comment: string;
  add: string[];
  remove: string[];
}

export interface BlockDeviceTagChange {
  systemId: string;
  hostname: string;
  deviceId: number;
  deviceName: string;
  tag: string;
  action: "add" | "remove";
}

export interface RolePlan {
  deployment: string;
  scopeTag: string;
  /** Zones the members occupy, sorted. */
  zones: string[];
  /** Machines in the scope after the plan (already scoped + claimed), sorted by hostname. */
  members: MachineRef[];
  claimed: MachineRef[];
  /** One entry per member, sorted by hostname. */
  assignments: Assignment[];
  byRole: Record<string, RoleSummary>;
  spares: Record<string, MachineRef[]>;
  /** Members with neither a role nor a spare slot, excluded machines left out. */
  unassigned: MachineRef[];
  excluded: Excluded[];
  /** Tags metalwave manages for this deployment: the scope tag, role tags, spare tags. */
  ownedTags: string[];
  /** Owned tags that carry an XPath definition and are therefore only read. */
  automaticTags: string[];
  tagChanges: TagChange[];
  blockDeviceTags: BlockDeviceTagChange[];
  findings: Finding[];
}
