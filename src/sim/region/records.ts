/**
 * The simulated region's records: machines kept compact (JSON is rendered on demand by
 * render.ts), tags, zones, pools, events, and the hardware classes machines share.
 */
import { NodeStatus } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import type { HardwareClassSpec } from "../fleet.ts";
import type { Iface } from "../network/interfaces.ts";
import type { StorageState } from "../storage/model.ts";

export type PowerState = "on" | "off" | "unknown" | "error";

export interface DiskSpec {
  kind: "ssd" | "hdd" | "nvme";
  sizeBytes: number;
  model: string;
}

export interface NicSpec {
  speedMbps: number;
  vendor: string;
  product: string;
}

/** A hardware class with its disks and NICs expanded; shared by every machine of the class. */
export interface HardwareClass {
  name: string;
  architecture: string;
  cpuCount: number;
  cpuSpeedMhz: number;
  cpuModel: string;
  memoryMib: number;
  vendor: string;
  product: string;
  powerType: string;
  disks: readonly DiskSpec[];
  nics: readonly NicSpec[];
}

export interface PhaseCounters {
  commission: number;
  deploy: number;
  release: number;
  erase: number;
  test: number;
  power: number;
}

/** What /sim/stats reports per machine: how often each operation took effect on it. */
export interface MachineCounts {
  commissioned: number;
  deployed: number;
  released: number;
  erased: number;
  allocated: number;
}

/**
 * One machine, kept small: JSON is rendered on demand (render.ts) from these fields plus
 * the shared hardware class, so 10,000 machines cost a few MB.
 */
export interface MachineRecord {
  /** Creation order: the list order, and the source of derived MACs, IPs and device ids. */
  readonly index: number;
  readonly systemId: string;
  hostname: string;
  /** Null for a machine created over the API until commissioning discovers its hardware. */
  hw: HardwareClass | null;
  /** Hardware commissioning will discover (API-created machines). */
  pendingHw: HardwareClass;
  /** MACs given at creation; fleet machines derive theirs from the index. */
  macs: string[] | null;
  architecture: string;
  powerType: string;
  zone: string;
  pool: string;
  description: string;
  status: NodeStatusCode;
  /** The status before the current one (mark_fixed goes back to Deployed). */
  previousStatus: NodeStatusCode;
  /** Where testing returns to when it passes or is aborted. */
  testReturn: NodeStatusCode;
  statusMessage: string | null;
  owner: string | null;
  agentName: string;
  locked: boolean;
  powerState: PowerState;
  osystem: string;
  distroSeries: string;
  hweKernel: string;
  userData: string | null;
  hasIp: boolean;
  netboot: boolean;
  /** Script-result status as MAAS reports it: -1 none, 0 pending, 1 running, 2 passed, 3 failed. */
  commissioningStatus: number;
  /**
   * The id of the machine's current commissioning script set (the API's
   * `current_commissioning_result_id`), null before its first commissioning. MAAS creates a
   * new ScriptSet for every commissioning run (maas: src/maasserver/models/node.py
   * start_commissioning, "Create a new ScriptSet for this commissioning run") and the API
   * answers its id (src/maasserver/api/nodes.py NodeHandler.current_commissioning_result_id),
   * so the id changes with each run: what tells a finished re-commissioning from none.
   */
  commissioningResultId: number | null;
  testingStatus: number;
  tags: string[];
  /** Interfaces and their links (network/interfaces.ts); physical ones from the hardware or the MACs given. */
  ifaces: Iface[];
  /** The fabric each NIC is cabled to (fleet `fabrics:`), by NIC order; the last repeats. */
  cabling: readonly string[] | null;
  /** set_owner_data / set_workload_annotations values; cleared on release. */
  ownerData: Record<string, string>;
  /** Commissioning options: keep the current networking / storage instead of resetting them. */
  skipNetworking: boolean;
  skipStorage: boolean;
  /** Partitions, filesystems and VGs (storage/model.ts); null until commissioning lays the disks out. */
  storage: StorageState | null;
  /** Block-device tags changed through the API, by disk slot; others come from the class. */
  diskTags: Map<number, string[]> | null;
  /** Incremented whenever a busy phase starts or is cancelled; stale scheduled jobs see a newer value and do nothing. */
  job: number;
  /** Per-phase attempt numbers: the fault dice are keyed by them, so outcomes do not depend on request interleaving. */
  attempts: PhaseCounters;
  counts: MachineCounts;
  deleted: boolean;
}

export interface TagRecord {
  name: string;
  definition: string;
  comment: string;
  kernelOpts: string;
}

export interface NamedRecord {
  id: number;
  name: string;
  description: string;
}

export const EVENT_LEVELS = { AUDIT: 0, DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 } as const;
export type EventLevel = keyof typeof EVENT_LEVELS;

export interface EventRecord {
  id: number;
  machine: MachineRecord;
  /** Hostname when the event happened. */
  hostname: string;
  type: string;
  description: string;
  level: EventLevel;
  createdMs: number;
  username: string;
}

export type TransitionListener = (m: MachineRecord, from: NodeStatusCode, to: NodeStatusCode) => void;

export const ADMIN_USER = "admin";

export const DISTRO_SERIES = ["focal", "jammy", "noble"] as const;
export const HWE_KERNEL: Record<string, string> = { focal: "ga-20.04", jammy: "ga-22.04", noble: "ga-24.04" };
export const DEFAULT_DISTRO = "jammy";

export function toHardwareClass(name: string, spec: HardwareClassSpec): HardwareClass {
  const disks: DiskSpec[] = [];
  for (const d of spec.disks) {
    for (let i = 0; i < d.count; i++) {
      disks.push({
        kind: d.kind,
        sizeBytes: Math.round(d.size_gb * 1e9),
        model: d.model ?? (d.kind === "hdd" ? "ST4000NM0035" : d.kind === "nvme" ? "SAMSUNG MZQL23T8HCLS" : "SAMSUNG MZ7L3480"),
      });
    }
  }
  const nics: NicSpec[] = [];
  for (const n of spec.nics) {
    for (let i = 0; i < n.count; i++) {
      nics.push({ speedMbps: n.speed_mbps, vendor: n.vendor ?? "Intel Corporation", product: n.product ?? "Ethernet Controller X710" });
    }
  }
  return {
    name,
    architecture: spec.architecture,
    cpuCount: spec.cpu_count,
    cpuSpeedMhz: spec.cpu_speed_mhz,
    cpuModel: spec.cpu_model,
    memoryMib: Math.round(spec.memory_gib * 1024),
    vendor: spec.vendor,
    product: spec.product,
    powerType: spec.power_type,
    disks,
    nics,
  };
}

export const GENERIC_HW: HardwareClass = {
  name: "generic",
  architecture: "amd64/generic",
  cpuCount: 8,
  cpuSpeedMhz: 2400,
  cpuModel: "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz",
  memoryMib: 32768,
  vendor: "Supermicro",
  product: "SYS-1029P-WTR",
  powerType: "ipmi",
  disks: [{ kind: "ssd", sizeBytes: 480e9, model: "INTEL SSDSC2KG48" }],
  nics: [{ speedMbps: 10000, vendor: "Intel Corporation", product: "Ethernet Controller X710" }],
};

/** A machine as MAAS enlists it: New, powered off, unowned. */
export function blankMachine(index: number, systemId: string, hostname: string, hw: HardwareClass | null, pendingHw: HardwareClass, macs: string[] | null, zone: string, pool: string): MachineRecord {
  return {
    index,
    systemId,
    hostname,
    hw,
    pendingHw,
    macs,
    architecture: (hw ?? GENERIC_HW).architecture,
    powerType: (hw ?? GENERIC_HW).powerType,
    zone,
    pool,
    description: "",
    status: NodeStatus.NEW,
    previousStatus: NodeStatus.NEW,
    testReturn: NodeStatus.READY,
    statusMessage: null,
    owner: null,
    agentName: "",
    locked: false,
    powerState: "off",
    osystem: "",
    distroSeries: "",
    hweKernel: "",
    userData: null,
    hasIp: false,
    netboot: true,
    commissioningStatus: -1,
    commissioningResultId: null,
    testingStatus: -1,
    tags: [],
    ifaces: [],
    cabling: null,
    ownerData: {},
    skipNetworking: false,
    skipStorage: false,
    storage: null,
    diskTags: null,
    job: 0,
    attempts: { commission: 0, deploy: 0, release: 0, erase: 0, test: 0, power: 0 },
    counts: { commissioned: 0, deployed: 0, released: 0, erased: 0, allocated: 0 },
    deleted: false,
  };
}
