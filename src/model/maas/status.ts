/**
 * MAAS node status: the numeric enum, its labels, and the rules that say which
 * operation is allowed from which status. Both the client (to reason about
 * what it reads) and the simulator (to enforce it) use this one table.
 */
export const NodeStatus = {
  NEW: 0,
  COMMISSIONING: 1,
  FAILED_COMMISSIONING: 2,
  MISSING: 3,
  READY: 4,
  RESERVED: 5,
  DEPLOYED: 6,
  RETIRED: 7,
  BROKEN: 8,
  DEPLOYING: 9,
  ALLOCATED: 10,
  FAILED_DEPLOYMENT: 11,
  RELEASING: 12,
  FAILED_RELEASING: 13,
  DISK_ERASING: 14,
  FAILED_DISK_ERASING: 15,
  RESCUE_MODE: 16,
  ENTERING_RESCUE_MODE: 17,
  FAILED_ENTERING_RESCUE_MODE: 18,
  EXITING_RESCUE_MODE: 19,
  FAILED_EXITING_RESCUE_MODE: 20,
  TESTING: 21,
  FAILED_TESTING: 22,
} as const;

export type NodeStatusKey = keyof typeof NodeStatus;
export type NodeStatusCode = (typeof NodeStatus)[NodeStatusKey];

/** Labels exactly as MAAS prints them in `status_name` and event types. */
export const STATUS_LABEL: Readonly<Record<NodeStatusCode, string>> = {
  0: "New",
  1: "Commissioning",
  2: "Failed commissioning",
  3: "Missing",
  4: "Ready",
  5: "Reserved",
  6: "Deployed",
  7: "Retired",
  8: "Broken",
  9: "Deploying",
  10: "Allocated",
  11: "Failed deployment",
  12: "Releasing",
  13: "Releasing failed",
  14: "Disk erasing",
  15: "Failed disk erasing",
  16: "Rescue mode",
  17: "Entering rescue mode",
  18: "Failed to enter rescue mode",
  19: "Exiting rescue mode",
  20: "Failed to exit rescue mode",
  21: "Testing",
  22: "Failed testing",
};

/** Lower-case enum names used by the `status=` filter of `GET machines/`. */
export const STATUS_FILTER_NAME: Readonly<Record<NodeStatusCode, string>> = Object.fromEntries(
  (Object.entries(NodeStatus) as [NodeStatusKey, NodeStatusCode][]).map(([k, v]) => [v, k.toLowerCase()]),
) as Record<NodeStatusCode, string>;

const LABEL_TO_CODE = new Map<string, NodeStatusCode>(
  (Object.entries(STATUS_LABEL) as [string, string][]).map(([code, label]) => [label, Number(code) as NodeStatusCode]),
);

/** The status code for a MAAS label such as "Failed deployment", or undefined. */
export function statusFromLabel(label: string): NodeStatusCode | undefined {
  return LABEL_TO_CODE.get(label);
}

export function isStatusCode(n: number): n is NodeStatusCode {
  return Number.isInteger(n) && n >= 0 && n <= 22;
}

const S = NodeStatus;

/** Busy states and the failed state a failure (or MAAS's own timeout) moves them to. */
export const BUSY_FAILURE: Readonly<Partial<Record<NodeStatusCode, NodeStatusCode>>> = {
  [S.COMMISSIONING]: S.FAILED_COMMISSIONING,
  [S.DEPLOYING]: S.FAILED_DEPLOYMENT,
  [S.RELEASING]: S.FAILED_RELEASING,
  [S.DISK_ERASING]: S.FAILED_DISK_ERASING,
  [S.TESTING]: S.FAILED_TESTING,
  [S.ENTERING_RESCUE_MODE]: S.FAILED_ENTERING_RESCUE_MODE,
  [S.EXITING_RESCUE_MODE]: S.FAILED_EXITING_RESCUE_MODE,
};

/** MAAS's server-side timeouts for busy states, in seconds. */
export const BUSY_TIMEOUT_S: Readonly<Partial<Record<NodeStatusCode, number>>> = {
  [S.COMMISSIONING]: 30 * 60,
  [S.DEPLOYING]: 30 * 60,
  [S.ENTERING_RESCUE_MODE]: 30 * 60,
  [S.EXITING_RESCUE_MODE]: 30 * 60,
  [S.RELEASING]: 5 * 60,
};

/** From which statuses each machine operation is accepted. */
export const ALLOWED_FROM = {
  commission: [S.NEW, S.FAILED_COMMISSIONING, S.READY, S.BROKEN],
  deploy: [S.READY, S.ALLOCATED],
  release: [
    S.RESERVED,
    S.DEPLOYED,
    S.BROKEN,
    S.DEPLOYING,
    S.ALLOCATED,
    S.FAILED_DEPLOYMENT,
    S.FAILED_RELEASING,
    S.FAILED_DISK_ERASING,
  ],
  abort: [S.COMMISSIONING, S.DEPLOYING, S.DISK_ERASING, S.TESTING],
  allocate: [S.READY],
  markFixed: [S.BROKEN],
} as const satisfies Record<string, readonly NodeStatusCode[]>;

export function isBusy(status: NodeStatusCode): boolean {
  return BUSY_FAILURE[status] !== undefined;
}

/**
 * From which statuses MAAS accepts a machine's configuration changes
 * (../shared/reference/maas-network-storage.md §4): interface creates, links and unlinks
 * (and their deletes); interface updates also on Deployed (restricted fields); storage
 * layout, boot disk, partitions and volume groups only on Ready.
 */
export const CONFIG_ALLOWED_FROM = {
  interfaces: [S.NEW, S.READY, S.ALLOCATED, S.BROKEN, S.FAILED_TESTING],
  interfaceUpdate: [S.NEW, S.READY, S.ALLOCATED, S.BROKEN, S.FAILED_TESTING, S.DEPLOYED],
  storage: [S.READY],
} as const satisfies Record<string, readonly NodeStatusCode[]>;
