/**
 * The simulated region's model: machines as compact records, tags, zones, pools,
 * events, and the lifecycle rules of MAAS (from src/maas/status.ts). Operations throw
 * `SimulatedFailure` carrying MAAS's own status codes and messages; the HTTP layer
 * (api.ts) only parses parameters and renders JSON.
 */
import { ALLOWED_FROM, BUSY_FAILURE, BUSY_TIMEOUT_S, NodeStatus, STATUS_FILTER_NAME, STATUS_LABEL } from "../maas/status.ts";
import type { NodeStatusCode } from "../maas/status.ts";
import { formFailure, SimulatedFailure, textFailure } from "./errors.ts";
import type { FaultSpec, MachineFaults, Phase } from "./faults.ts";
import type { DurationKey, FixedDurations } from "./durations.ts";
import type { FleetSpec, HardwareClassSpec, InitialStatus } from "./fleet.ts";
import { isValidHostname, newPetname, newSystemId } from "./names.ts";
import type { Params } from "./params.ts";
import { hash32, Rng, unit } from "./rng.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Clock } from "./scheduler.ts";

const S = NodeStatus;

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
  testingStatus: number;
  tags: string[];
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

export const ADMIN_USER = "admin";

export const DISTRO_SERIES = ["focal", "jammy", "noble"] as const;
const HWE_KERNEL: Record<string, string> = { focal: "ga-20.04", jammy: "ga-22.04", noble: "ga-24.04" };
export const DEFAULT_DISTRO = "jammy";

/** Realistic phase durations in seconds [min, max]; divided by the speed factor. */
const DURATION_S: Record<DurationKey, [number, number]> = {
  commission: [300, 600],
  deploy: [600, 1200],
  release: [45, 90],
  erase: [1200, 2400],
  "erase-quick": [45, 90],
  "erase-secure": [600, 1200],
  test: [120, 300],
};

const PHASE_STATUS: Record<Phase, NodeStatusCode> = {
  commission: S.COMMISSIONING,
  deploy: S.DEPLOYING,
  release: S.RELEASING,
  erase: S.DISK_ERASING,
  test: S.TESTING,
};

const FAILURE_REASON: Record<Phase, string> = {
  commission: "Commissioning script '50-maas-01-commissioning' failed (simulated)",
  deploy: "Installation failed (simulated): curtin command failed",
  release: "Release failed (simulated): unable to power off",
  erase: "Failed to erase disks (simulated)",
  test: "Testing script 'smartctl-validate' failed (simulated)",
};

const INITIAL_STATUS_CODE: Record<InitialStatus, NodeStatusCode> = {
  new: S.NEW,
  ready: S.READY,
  allocated: S.ALLOCATED,
  deployed: S.DEPLOYED,
  broken: S.BROKEN,
  failed_commissioning: S.FAILED_COMMISSIONING,
  failed_deployment: S.FAILED_DEPLOYMENT,
  commissioning: S.COMMISSIONING,
  deploying: S.DEPLOYING,
};

const STATUS_BY_FILTER_NAME = new Map<string, NodeStatusCode>(
  (Object.entries(STATUS_FILTER_NAME) as [string, string][]).map(([code, name]) => [name, Number(code) as NodeStatusCode]),
);

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

const GENERIC_HW: HardwareClass = {
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

export interface RegionOptions {
  fleet: FleetSpec;
  seed: number;
  /** Divides realistic durations; Infinity = busy states finish at once (asynchronously). */
  speed: number;
  /** Phases listed here take exactly this many realistic seconds (still divided by speed). */
  durations?: FixedDurations;
  faults: FaultSpec;
  clock: Clock;
  scheduler: Scheduler;
  /** Oldest events are dropped beyond this many. */
  maxEvents?: number;
  onTransition?: (m: MachineRecord, from: NodeStatusCode, to: NodeStatusCode) => void;
}

export interface AllocateResult {
  machine: MachineRecord;
  constraintsByType: Record<string, unknown>;
}

export interface EventsQueryResult {
  events: EventRecord[];
  next: Record<string, string | string[]>;
  prev: Record<string, string | string[]> | null;
}

function positiveNumber(field: string, text: string | undefined, message: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw formFailure({ [field]: [message.replace("%s", text)] });
  return n;
}

/** Tags may come repeated or comma/space separated, as MAAS accepts both. */
function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(/[,\s]+/)).filter((v) => v !== "");
}

export class Region {
  readonly machines: MachineRecord[] = [];
  readonly bySystemId = new Map<string, MachineRecord>();
  readonly byHostname = new Map<string, MachineRecord>();
  readonly tags = new Map<string, TagRecord>();
  readonly zones = new Map<string, NamedRecord>();
  readonly pools = new Map<string, NamedRecord>();
  readonly events: EventRecord[] = [];
  readonly classes: Map<string, HardwareClass>;
  readonly seed: number;
  readonly speed: number;
  readonly durations: FixedDurations;
  readonly faults: FaultSpec;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly maxEvents: number;
  private readonly listeners = new Set<(m: MachineRecord, from: NodeStatusCode, to: NodeStatusCode) => void>();
  private readonly rng: Rng;
  private readonly takenIds = new Set<string>();
  private readonly takenNames = new Set<string>();
  private nextIndex = 0;
  private nextEventId = 1;
  private nextZoneId = 1;
  private nextPoolId = 0;
  /** Fault overrides resolved to machines at start (targets are hostnames or system_ids). */
  private readonly targeted = new Map<MachineRecord, MachineFaults>();

  constructor(opts: RegionOptions) {
    this.seed = opts.seed;
    this.speed = opts.speed;
    this.durations = { ...opts.durations };
    this.faults = opts.faults;
    this.clock = opts.clock;
    this.scheduler = opts.scheduler;
    this.maxEvents = opts.maxEvents ?? 200_000;
    if (opts.onTransition) this.listeners.add(opts.onTransition);
    this.rng = new Rng(opts.seed);
    this.classes = new Map(Object.entries(opts.fleet.classes).map(([n, c]) => [n, toHardwareClass(n, c)]));
    for (const z of opts.fleet.zones) this.zones.set(z.name, { id: this.nextZoneId++, name: z.name, description: z.description });
    for (const p of opts.fleet.pools) this.pools.set(p.name, { id: this.nextPoolId++, name: p.name, description: p.description });
    this.populate(opts.fleet);
  }

  private populate(fleet: FleetSpec): void {
    const starting: MachineRecord[] = [];
    for (const g of fleet.groups) {
      const hw = this.classes.get(g.class);
      if (hw === undefined) throw new Error(`fleet class ${g.class} missing`); // parseFleet checked this
      for (const t of g.tags) if (!this.tags.has(t)) this.tags.set(t, { name: t, definition: "", comment: "", kernelOpts: "" });
      const weights = typeof g.status === "string" ? ([[g.status, 1]] as [InitialStatus, number][]) : (Object.entries(g.status).filter(([, w]) => (w ?? 0) > 0) as [InitialStatus, number][]);
      const total = weights.reduce((n, [, w]) => n + w, 0);
      for (let i = 0; i < g.count; i++) {
        let hostname: string;
        if (g.hostname_prefix !== undefined) {
          hostname = `${g.hostname_prefix}-${String(i + 1).padStart(4, "0")}`;
          if (this.takenNames.has(hostname)) hostname = `${hostname}-${this.nextIndex}`;
          this.takenNames.add(hostname);
        } else {
          hostname = newPetname(this.rng, this.takenNames);
        }
        let pick = this.rng.next() * total;
        let status: InitialStatus = weights[0]?.[0] ?? "new";
        for (const [s, w] of weights) {
          if (pick < w) {
            status = s;
            break;
          }
          pick -= w;
        }
        const m = this.newRecord(hostname, hw, null, g.zone, g.pool);
        m.tags = [...g.tags];
        const code = INITIAL_STATUS_CODE[status];
        if (code !== S.NEW) m.commissioningStatus = 2;
        if (code === S.ALLOCATED || code === S.DEPLOYED || code === S.DEPLOYING || code === S.FAILED_DEPLOYMENT) m.owner = ADMIN_USER;
        if (code === S.DEPLOYED || code === S.DEPLOYING || code === S.FAILED_DEPLOYMENT) {
          m.osystem = "ubuntu";
          m.distroSeries = DEFAULT_DISTRO;
          m.hweKernel = HWE_KERNEL[DEFAULT_DISTRO] ?? "";
          m.hasIp = true;
        }
        if (code === S.DEPLOYED) {
          m.powerState = "on";
          m.netboot = false;
        }
        if (code === S.COMMISSIONING || code === S.DEPLOYING) starting.push(m);
        m.status = code === S.COMMISSIONING ? S.NEW : code === S.DEPLOYING ? S.ALLOCATED : code;
        m.previousStatus = m.status;
        m.statusMessage = m.status === S.NEW ? null : STATUS_LABEL[m.status];
      }
    }
    for (const m of starting) {
      if (m.status === S.NEW) this.beginPhase(m, "commission", ADMIN_USER, "");
      else this.beginPhase(m, "deploy", ADMIN_USER, "");
    }
  }

  private newRecord(hostname: string, hw: HardwareClass | null, macs: string[] | null, zone: string, pool: string): MachineRecord {
    const m: MachineRecord = {
      index: this.nextIndex++,
      systemId: newSystemId(this.rng, this.takenIds),
      hostname,
      hw,
      pendingHw: hw ?? this.classes.values().next().value ?? GENERIC_HW,
      macs,
      architecture: (hw ?? GENERIC_HW).architecture,
      powerType: (hw ?? GENERIC_HW).powerType,
      zone,
      pool,
      description: "",
      status: S.NEW,
      previousStatus: S.NEW,
      testReturn: S.READY,
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
      testingStatus: -1,
      tags: [],
      diskTags: null,
      job: 0,
      attempts: { commission: 0, deploy: 0, release: 0, erase: 0, test: 0, power: 0 },
      counts: { commissioned: 0, deployed: 0, released: 0, erased: 0, allocated: 0 },
      deleted: false,
    };
    this.machines.push(m);
    this.bySystemId.set(m.systemId, m);
    this.byHostname.set(hostname, m);
    return m;
  }

  /** Calls `listener` after every status change (tests, in-process observers); returns an unsubscribe function. */
  watch(listener: (m: MachineRecord, from: NodeStatusCode, to: NodeStatusCode) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves machine-targeted faults; returns the targets that name no machine. */
  resolveFaultTargets(): string[] {
    const unknown: string[] = [];
    for (const [target, f] of Object.entries(this.faults.byMachine)) {
      const m = this.byHostname.get(target) ?? this.bySystemId.get(target);
      if (m === undefined) unknown.push(target);
      else this.targeted.set(m, f);
    }
    return unknown;
  }

  // ---------------------------------------------------------------- derived facts

  /** Each deployed machine gets its own loopback address, so simulated SSH can listen there. */
  ipFor(m: MachineRecord): string {
    const i = m.index;
    const rest = Math.floor(i / 254);
    return `127.${1 + Math.floor(rest / 256)}.${rest % 256}.${1 + (i % 254)}`;
  }

  macFor(m: MachineRecord, nic: number): string {
    const given = m.macs?.[nic];
    if (given !== undefined) return given;
    const hex = (n: number) => n.toString(16).padStart(2, "0");
    return `52:54:${hex((m.index >> 16) & 0xff)}:${hex((m.index >> 8) & 0xff)}:${hex(m.index & 0xff)}:${hex(nic & 0xff)}`;
  }

  /** Hardware as the API shows it: unknown until an API-created machine is commissioned. */
  visibleHw(m: MachineRecord): HardwareClass | null {
    return m.hw;
  }

  diskTagsFor(m: MachineRecord, slot: number): string[] {
    const own = m.diskTags?.get(slot);
    if (own !== undefined) return own;
    const d = m.hw?.disks[slot];
    if (d === undefined) return [];
    return d.kind === "hdd" ? ["rotary"] : ["ssd"];
  }

  get(systemId: string): MachineRecord {
    const m = this.bySystemId.get(systemId);
    if (m === undefined || m.deleted) throw textFailure(404, "No Machine matches the given query.");
    return m;
  }

  statusCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.machines) {
      const label = STATUS_LABEL[m.status];
      out[label] = (out[label] ?? 0) + 1;
    }
    return out;
  }

  // ---------------------------------------------------------------- time and faults

  private faultsFor(m: MachineRecord): { all: MachineFaults; own: MachineFaults | undefined } {
    return { all: this.faults.all, own: this.targeted.get(m) };
  }

  private phaseRates(m: MachineRecord, phase: Phase): { fail: number; hang: number } {
    const { all, own } = this.faultsFor(m);
    const a = all.phases[phase];
    const o = own?.phases[phase];
    return { fail: o?.fail ?? a?.fail ?? 0, hang: o?.hang ?? a?.hang ?? 0 };
  }

  /** Real milliseconds for a realistic duration in seconds. */
  private scaled(seconds: number): number {
    return Number.isFinite(this.speed) ? (seconds * 1000) / this.speed : 0;
  }

  /** Power faults (BMC unreachable → 503, RPC timeout → 504); the state is left unchanged. */
  private powerCheck(m: MachineRecord, action: string): void {
    const { all, own } = this.faultsFor(m);
    const err = own?.powerError ?? all.powerError ?? 0;
    const tmo = own?.powerTimeout ?? all.powerTimeout ?? 0;
    if (err === 0 && tmo === 0) return;
    const u = unit(this.seed, "power", m.systemId, m.attempts.power++);
    if (u < err) {
      throw textFailure(503, `Failed to ${action} ${m.hostname}: unable to connect to the BMC at ${this.bmcAddress(m)} (simulated power fault).`);
    }
    if (u < err + tmo) throw textFailure(504, `Timed out waiting for the rack controller to ${action} ${m.hostname}.`);
  }

  bmcAddress(m: MachineRecord): string {
    return `10.200.${(m.index >> 8) & 0xff}.${m.index & 0xff}`;
  }

  private beginPhase(m: MachineRecord, phase: Phase, actor: string, comment: string, eraseMode: "erase" | "erase-quick" | "erase-secure" = "erase"): void {
    const status = PHASE_STATUS[phase];
    this.setStatus(m, status, comment, actor);
    const token = ++m.job;
    const attempt = m.attempts[phase]++;
    const { fail, hang } = this.phaseRates(m, phase);
    const roll = unit(this.seed, "outcome", phase, m.systemId, attempt);
    const key = phase === "erase" ? eraseMode : phase;
    const [lo, hi] = DURATION_S[key];
    const seconds = this.durations[key] ?? lo + (hi - lo) * unit(this.seed, "duration", phase, m.systemId, attempt);
    const live = () => m.job === token && !m.deleted && m.status === status;
    if (roll < hang) {
      const timeout = BUSY_TIMEOUT_S[status];
      if (timeout !== undefined) {
        this.scheduler.schedule(this.scaled(timeout), () => {
          if (live()) this.failPhase(m, phase, `Machine operation '${STATUS_LABEL[status]}' timed out after ${timeout / 60} minutes.`);
        });
      }
      // Without a MAAS timeout (disk erasing, testing) a hung machine stays busy until aborted.
      return;
    }
    if (roll < hang + fail) {
      const at = seconds * (0.2 + 0.7 * unit(this.seed, "fail-at", phase, m.systemId, attempt));
      this.scheduler.schedule(this.scaled(at), () => {
        if (live()) this.failPhase(m, phase, FAILURE_REASON[phase]);
      });
      return;
    }
    this.scheduler.schedule(this.scaled(seconds), () => {
      if (live()) this.finishPhase(m, phase);
    });
  }

  private finishPhase(m: MachineRecord, phase: Phase): void {
    const who = m.owner ?? "";
    switch (phase) {
      case "commission":
        if (m.hw === null) {
          m.hw = m.pendingHw;
          m.architecture = m.hw.architecture;
        }
        m.commissioningStatus = 2;
        m.powerState = "off";
        this.setStatus(m, S.READY, "", who);
        return;
      case "deploy":
        m.powerState = "on";
        m.netboot = false;
        this.setStatus(m, S.DEPLOYED, "", who);
        return;
      case "release":
      case "erase":
        m.powerState = "off";
        this.setStatus(m, S.READY, "", who);
        return;
      case "test": {
        m.testingStatus = 2;
        const back = m.testReturn;
        if (back === S.READY || back === S.NEW) m.powerState = "off";
        this.setStatus(m, back, "", who);
        return;
      }
    }
  }

  private failPhase(m: MachineRecord, phase: Phase, reason: string): void {
    const failed = BUSY_FAILURE[m.status];
    if (failed === undefined) return;
    if (phase === "commission") m.commissioningStatus = 3;
    if (phase === "test") m.testingStatus = 3;
    if (phase === "commission" || phase === "erase") m.powerState = "off";
    this.setStatus(m, failed, reason, m.owner ?? "");
  }

  private setStatus(m: MachineRecord, to: NodeStatusCode, description: string, username: string): void {
    const from = m.status;
    if (from !== to) m.previousStatus = from;
    m.status = to;
    m.statusMessage = description !== "" ? description : STATUS_LABEL[to];
    const level: EventLevel = BUSY_FAILURE[from] === to || to === S.BROKEN ? "ERROR" : "INFO";
    this.addEvent(m, STATUS_LABEL[to], description, level, username);
    for (const l of this.listeners) l(m, from, to);
  }

  private addEvent(m: MachineRecord, type: string, description: string, level: EventLevel, username: string): void {
    this.events.push({ id: this.nextEventId++, machine: m, hostname: m.hostname, type, description, level, createdMs: this.clock.wallNow(), username });
    // Drop the oldest tenth at once, so the amortised cost stays O(1).
    if (this.events.length > this.maxEvents) this.events.splice(0, Math.ceil(this.maxEvents / 10));
  }

  private cancelBusy(m: MachineRecord): void {
    m.job++;
  }

  private assertUnlocked(m: MachineRecord): void {
    // MAAS denies the edit permission on a locked machine: 403 with an empty body.
    if (m.locked) throw new SimulatedFailure(403, "", "text/plain; charset=utf-8");
  }

  private invalidTransition(m: MachineRecord, to: NodeStatusCode): SimulatedFailure {
    return textFailure(409, `Invalid transition: ${STATUS_LABEL[m.status]} -> ${STATUS_LABEL[to]}.`);
  }

  // ---------------------------------------------------------------- machines

  /** `GET machines/` filters. Throws MAAS's 400s for unknown filters and tags. */
  list(params: Params): MachineRecord[] {
    const preds: ((m: MachineRecord) => boolean)[] = [];
    const anyOf = (key: string, value: (m: MachineRecord) => string | string[] | null) => {
      for (const [k, negate] of [
        [key, false],
        [`not_${key}`, true],
      ] as const) {
        const wanted = params.all(k);
        if (wanted.length === 0) continue;
        const set = new Set(wanted);
        preds.push((m) => {
          const v = value(m);
          const hit = Array.isArray(v) ? v.some((x) => set.has(x)) : v !== null && set.has(v);
          return hit !== negate;
        });
      }
    };
    const known = new Set(["op"]);
    const simple: [string, (m: MachineRecord) => string | string[] | null][] = [
      ["id", (m) => m.systemId],
      ["hostname", (m) => [m.hostname, `${m.hostname}.maas`]],
      ["mac_address", (m) => this.macsOf(m)],
      ["domain", () => "maas"],
      ["agent_name", (m) => m.agentName],
      ["zone", (m) => m.zone],
      ["pool", (m) => m.pool],
      ["arch", (m) => [m.architecture, m.architecture.split("/")[0] ?? ""]],
      ["owner", (m) => m.owner],
      ["power_state", (m) => m.powerState],
      ["status", (m) => STATUS_FILTER_NAME[m.status]],
    ];
    for (const [key, value] of simple) {
      known.add(key);
      known.add(`not_${key}`);
      anyOf(key, value);
    }
    for (const s of [...params.all("status"), ...params.all("not_status")]) {
      if (!STATUS_BY_FILTER_NAME.has(s)) throw formFailure({ status: [`Select a valid choice. ${s} is not one of the available choices.`] });
    }
    // MAAS's own spellings of the exclusions.
    for (const [alias, key] of [
      ["not_in_zone", "not_zone"],
      ["not_in_pool", "not_pool"],
    ] as const) {
      known.add(alias);
      const wanted = new Set(params.all(alias));
      if (wanted.size > 0) preds.push((m) => !wanted.has(key === "not_zone" ? m.zone : m.pool));
    }
    known.add("tags");
    known.add("not_tags");
    const tags = splitList(params.all("tags"));
    const notTags = splitList(params.all("not_tags"));
    const missing = [...tags, ...notTags].filter((t) => !this.tags.has(t));
    if (missing.length > 0) throw formFailure({ tags: [`No such tag(s): ${missing.map((t) => `'${t}'`).join(", ")}.`] });
    if (tags.length > 0) preds.push((m) => tags.every((t) => m.tags.includes(t)));
    if (notTags.length > 0) preds.push((m) => !notTags.some((t) => m.tags.includes(t)));
    known.add("cpu_count");
    known.add("mem");
    const cpu = positiveNumber("cpu_count", params.get("cpu_count"), "Invalid CPU count: %s");
    const mem = positiveNumber("mem", params.get("mem"), "Invalid memory: %s");
    if (cpu !== undefined) preds.push((m) => (m.hw?.cpuCount ?? 0) >= cpu);
    if (mem !== undefined) preds.push((m) => (m.hw?.memoryMib ?? 0) >= mem);
    for (const k of params.keys()) if (!known.has(k)) throw formFailure({ [k]: ["No such constraint."] });

    // An id filter names the machines outright: look them up instead of scanning the fleet.
    const ids = params.all("id");
    const candidates =
      ids.length > 0
        ? [...new Set(ids)]
            .map((id) => this.bySystemId.get(id))
            .filter((m): m is MachineRecord => m !== undefined && !m.deleted)
            .sort((a, b) => a.index - b.index)
        : this.machines;
    return candidates.filter((m) => preds.every((p) => p(m)));
  }

  macsOf(m: MachineRecord): string[] {
    const n = m.hw?.nics.length ?? m.macs?.length ?? 0;
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.macFor(m, i));
    return out;
  }

  create(params: Params): MachineRecord {
    const errors: Record<string, string[]> = {};
    const arch = params.get("architecture");
    const archs = new Set([...this.classes.values()].map((c) => c.architecture).concat(["amd64/generic", "arm64/generic"]));
    if (arch === undefined || arch === "") errors.architecture = ["This field is required."];
    else if (!archs.has(arch)) errors.architecture = [`'${arch}' is not a valid architecture.  It should be one of: ${[...archs].sort().map((a) => `'${a}'`).join(", ")}.`];
    const macs = splitList(params.all("mac_addresses")).map((m) => m.toLowerCase());
    if (macs.length === 0) errors.mac_addresses = ["This field is required."];
    const badMac = macs.find((m) => !/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/.test(m));
    if (badMac !== undefined) errors.mac_addresses = [`'${badMac}' is not a valid MAC address.`];
    const taken = macs.find((mac) => this.machines.some((m) => this.macsOf(m).includes(mac)));
    if (taken !== undefined) errors.mac_addresses = [`One or more MAC addresses is invalid. ('${taken}' is already in use.)`];
    let hostname = params.get("hostname");
    if (hostname !== undefined && hostname !== "") {
      hostname = hostname.split(".")[0] ?? hostname;
      if (!isValidHostname(hostname)) errors.hostname = [`Invalid hostname: '${hostname}'.`];
      else if (this.byHostname.has(hostname)) errors.hostname = [`Node with hostname '${hostname}' already exists.`];
    }
    const zone = params.get("zone") ?? "default";
    if (!this.zones.has(zone)) errors.zone = ["Select a valid choice. That choice is not one of the available choices."];
    const pool = params.get("pool") ?? "default";
    if (!this.pools.has(pool)) errors.pool = ["Select a valid choice. That choice is not one of the available choices."];
    if (Object.keys(errors).length > 0) throw formFailure(errors);
    if (hostname === undefined || hostname === "") hostname = newPetname(this.rng, this.takenNames);
    else this.takenNames.add(hostname);
    const m = this.newRecord(hostname, null, macs, zone, pool);
    m.architecture = arch ?? "amd64/generic";
    m.powerType = params.get("power_type") ?? "manual";
    // Admin-created machines are commissioned unless commission=false (MAAS docs for machines create).
    if (params.bool("commission") !== false) this.startCommissioning(m, ADMIN_USER, "");
    return m;
  }

  update(m: MachineRecord, params: Params): void {
    this.assertUnlocked(m);
    const errors: Record<string, string[]> = {};
    const hostname = params.get("hostname");
    if (hostname !== undefined && hostname !== m.hostname) {
      if (!isValidHostname(hostname)) errors.hostname = [`Invalid hostname: '${hostname}'.`];
      else if (this.byHostname.has(hostname)) errors.hostname = [`Node with hostname '${hostname}' already exists.`];
    }
    const zone = params.get("zone");
    if (zone !== undefined && !this.zones.has(zone)) errors.zone = ["Select a valid choice. That choice is not one of the available choices."];
    const pool = params.get("pool");
    if (pool !== undefined && !this.pools.has(pool)) errors.pool = ["Select a valid choice. That choice is not one of the available choices."];
    if (Object.keys(errors).length > 0) throw formFailure(errors);
    if (hostname !== undefined && hostname !== m.hostname) {
      this.byHostname.delete(m.hostname);
      this.takenNames.delete(m.hostname);
      m.hostname = hostname;
      this.byHostname.set(hostname, m);
      this.takenNames.add(hostname);
    }
    if (zone !== undefined) m.zone = zone;
    if (pool !== undefined) m.pool = pool;
    const description = params.get("description");
    if (description !== undefined) m.description = description;
  }

  remove(m: MachineRecord): void {
    this.assertUnlocked(m);
    this.cancelBusy(m);
    m.deleted = true;
    const at = this.machines.indexOf(m);
    if (at >= 0) this.machines.splice(at, 1);
    this.bySystemId.delete(m.systemId);
    this.byHostname.delete(m.hostname);
    this.takenNames.delete(m.hostname);
  }

  commission(m: MachineRecord, params: Params): void {
    this.assertUnlocked(m);
    if (!(ALLOWED_FROM.commission as readonly number[]).includes(m.status)) {
      throw formFailure({ __all__: ["Commission is not available because of the current state of the node."] });
    }
    this.powerCheck(m, "power on");
    this.startCommissioning(m, ADMIN_USER, params.get("comment") ?? "");
  }

  private startCommissioning(m: MachineRecord, actor: string, comment: string): void {
    m.counts.commissioned++;
    m.commissioningStatus = 1;
    m.powerState = "on";
    this.beginPhase(m, "commission", actor, comment);
  }

  allocate(params: Params, user: string): AllocateResult {
    const errors: Record<string, string[]> = {};
    const cpu = positiveNumber("cpu_count", params.get("cpu_count"), "Invalid CPU count: %s");
    const mem = positiveNumber("mem", params.get("mem"), "Invalid memory: %s");
    const tags = splitList(params.all("tags"));
    const notTags = splitList(params.all("not_tags"));
    const missing = [...tags, ...notTags].filter((t) => !this.tags.has(t));
    if (missing.length > 0) errors.tags = [`No such tag(s): ${missing.map((t) => `'${t}'`).join(", ")}.`];
    const zone = params.get("zone");
    if (zone !== undefined && zone !== "" && !this.zones.has(zone)) errors.zone = [`No such zone: '${zone}'.`];
    const notInZone = splitList(params.all("not_in_zone"));
    const badZones = notInZone.filter((z) => !this.zones.has(z));
    if (badZones.length > 0) errors.not_in_zone = [`No such zone(s): ${badZones.join(", ")}.`];
    const pool = params.get("pool");
    if (pool !== undefined && pool !== "" && !this.pools.has(pool)) errors.pool = [`No such pool: '${pool}'.`];
    const notInPool = splitList(params.all("not_in_pool"));
    const badPools = notInPool.filter((p) => !this.pools.has(p));
    if (badPools.length > 0) errors.not_in_pool = [`No such pool(s): ${badPools.join(", ")}.`];
    if (Object.keys(errors).length > 0) throw formFailure(errors);
    const systemId = params.get("system_id");
    const name = params.get("name");
    const arch = params.get("arch");
    const match = (m: MachineRecord): boolean =>
      m.status === S.READY &&
      !m.locked &&
      (systemId === undefined || m.systemId === systemId) &&
      (name === undefined || m.hostname === name || `${m.hostname}.maas` === name) &&
      (arch === undefined || m.architecture === arch || m.architecture.split("/")[0] === arch) &&
      (cpu === undefined || (m.hw?.cpuCount ?? 0) >= cpu) &&
      (mem === undefined || (m.hw?.memoryMib ?? 0) >= mem) &&
      tags.every((t) => m.tags.includes(t)) &&
      !notTags.some((t) => m.tags.includes(t)) &&
      (zone === undefined || zone === "" || m.zone === zone) &&
      !notInZone.includes(m.zone) &&
      (pool === undefined || pool === "" || m.pool === pool) &&
      !notInPool.includes(m.pool);
    const candidate = systemId !== undefined ? this.bySystemId.get(systemId) : this.machines.find(match);
    if (candidate === undefined || candidate.deleted || !match(candidate)) {
      const constraints: [string, string[]][] = [];
      for (const key of ["name", "system_id", "arch", "cpu_count", "mem", "tags", "not_tags", "zone", "not_in_zone", "pool", "not_in_pool"]) {
        const v = params.all(key);
        if (v.length > 0) constraints.push([key, v]);
      }
      if (constraints.length === 0) throw textFailure(409, "No machine available.");
      const raw = constraints.map(([k, v]) => `('${k}', [${v.map((x) => `'${x}'`).join(", ")}])`).join(", ");
      const resolved = constraints.map(([k, v]) => `${k}=${v.join(",")}`).join(" ");
      throw textFailure(409, `No available machine matches constraints: [${raw}] (resolved to "${resolved}")`);
    }
    if (params.bool("dry_run") !== true) this.doAllocate(candidate, user, params.get("agent_name") ?? "", params.get("comment") ?? "");
    return { machine: candidate, constraintsByType: {} };
  }

  private doAllocate(m: MachineRecord, user: string, agentName: string, comment: string): void {
    m.owner = user;
    m.agentName = agentName;
    m.counts.allocated++;
    this.setStatus(m, S.ALLOCATED, comment, user);
  }

  deploy(m: MachineRecord, params: Params, user: string): void {
    this.assertUnlocked(m);
    if (!(ALLOWED_FROM.deploy as readonly number[]).includes(m.status)) {
      throw textFailure(409, `Can't deploy a machine that is in the '${STATUS_LABEL[m.status]}' state`);
    }
    let distro = params.get("distro_series") ?? "";
    if (distro === "") distro = DEFAULT_DISTRO;
    distro = distro.replace(/^ubuntu\//, "");
    if (!(DISTRO_SERIES as readonly string[]).includes(distro)) {
      throw formFailure({
        distro_series: [`'${distro}' is not a valid distro_series.  It should be one of: ${["", ...DISTRO_SERIES.map((d) => `ubuntu/${d}`)].map((d) => `'${d}'`).join(", ")}.`],
      });
    }
    const userData = params.get("user_data");
    if (userData !== undefined && userData !== "" && !/^[A-Za-z0-9+/=\s]*$/.test(userData)) {
      throw formFailure({ user_data: ["Provided user data is not valid base64."] });
    }
    // Deploy powers the machine on; a BMC fault refuses the whole request and changes nothing.
    this.powerCheck(m, "power on");
    const comment = params.get("comment") ?? "";
    if (m.status === S.READY) this.doAllocate(m, user, params.get("agent_name") ?? "", comment);
    else if (params.get("agent_name") !== undefined) m.agentName = params.get("agent_name") ?? "";
    m.osystem = "ubuntu";
    m.distroSeries = distro;
    m.hweKernel = params.get("hwe_kernel") || (HWE_KERNEL[distro] ?? "");
    m.userData = userData ?? null;
    // MAAS claims the machine's IPs when deployment starts.
    m.hasIp = true;
    m.powerState = "on";
    m.counts.deployed++;
    this.beginPhase(m, "deploy", user, comment);
  }

  /** Releasing one machine. Returns false when it was already Ready/Releasing (a no-op). */
  release(m: MachineRecord, params: Params, user: string): boolean {
    this.assertUnlocked(m);
    if (m.status === S.READY || m.status === S.RELEASING) return false;
    if (!(ALLOWED_FROM.release as readonly number[]).includes(m.status)) {
      throw textFailure(409, `Machine cannot be released in its current state ('${STATUS_LABEL[m.status]}').`);
    }
    this.doRelease(m, params, user);
    return true;
  }

  releaseMany(ids: readonly string[], params: Params, user: string): string[] {
    const unknown = ids.filter((id) => this.bySystemId.get(id)?.deleted !== false);
    if (unknown.length > 0) throw textFailure(400, `Unknown machine(s): ${unknown.join(", ")}.`);
    const machines = ids.map((id) => this.get(id));
    const locked = machines.filter((m) => m.locked);
    if (locked.length > 0) throw new SimulatedFailure(403, "", "text/plain; charset=utf-8");
    const bad = machines.filter((m) => m.status !== S.READY && m.status !== S.RELEASING && !(ALLOWED_FROM.release as readonly number[]).includes(m.status));
    if (bad.length > 0) {
      throw textFailure(409, `Machine(s) cannot be released in their current state: ${bad.map((m) => `${m.systemId} ('${STATUS_LABEL[m.status]}')`).join(", ")}.`);
    }
    for (const m of machines) if (m.status !== S.READY && m.status !== S.RELEASING) this.doRelease(m, params, user);
    return machines.map((m) => m.systemId);
  }

  private doRelease(m: MachineRecord, params: Params, user: string): void {
    this.cancelBusy(m);
    const comment = params.get("comment") ?? "";
    const erase = params.bool("erase") === true || params.bool("quick_erase") === true || params.bool("secure_erase") === true;
    const wasOn = m.powerState === "on";
    m.counts.released++;
    this.free(m);
    if (erase) {
      m.counts.erased++;
      m.powerState = "on";
      const mode = params.bool("secure_erase") === true ? "erase-secure" : params.bool("quick_erase") === true ? "erase-quick" : "erase";
      this.beginPhase(m, "erase", user, comment, mode);
    } else if (wasOn) {
      this.beginPhase(m, "release", user, comment);
    } else {
      // Nothing to power off: MAAS finishes the release straight away.
      this.setStatus(m, S.READY, comment, user);
    }
  }

  /** Free and blank, as MAAS leaves a machine it releases: no owner, no OS, no user data, no IPs. */
  private free(m: MachineRecord): void {
    m.owner = null;
    m.agentName = "";
    m.osystem = "";
    m.distroSeries = "";
    m.hweKernel = "";
    m.userData = null;
    m.hasIp = false;
    m.netboot = true;
  }

  abort(m: MachineRecord, comment: string, user: string): void {
    this.assertUnlocked(m);
    let to: NodeStatusCode;
    switch (m.status) {
      case S.COMMISSIONING:
        to = S.NEW;
        m.commissioningStatus = -1;
        m.powerState = "off";
        break;
      case S.DEPLOYING:
        to = S.ALLOCATED;
        m.powerState = "off";
        break;
      case S.DISK_ERASING:
        to = S.FAILED_DISK_ERASING;
        m.powerState = "off";
        break;
      case S.TESTING:
        to = m.testReturn;
        m.testingStatus = -1;
        break;
      default:
        throw textFailure(409, `Cannot abort in current state: node ${m.systemId} is in state ${STATUS_LABEL[m.status]}.`);
    }
    this.cancelBusy(m);
    this.setStatus(m, to, comment, user);
  }

  markBroken(m: MachineRecord, comment: string, user: string): void {
    this.assertUnlocked(m);
    if (m.status === S.BROKEN) throw this.invalidTransition(m, S.BROKEN);
    this.cancelBusy(m);
    this.setStatus(m, S.BROKEN, comment, user);
  }

  markFixed(m: MachineRecord, comment: string, user: string): void {
    this.assertUnlocked(m);
    if (!(ALLOWED_FROM.markFixed as readonly number[]).includes(m.status)) throw textFailure(409, "Can't mark a non-broken node as 'Ready'.");
    if (m.previousStatus !== S.DEPLOYED) {
      // Back to Ready means free and blank, as MAAS's mark_fixed leaves it (osystem,
      // distro_series and hwe_kernel cleared, no owner): a machine broken mid-deploy
      // must not come back Ready still owned and holding its IPs.
      this.free(m);
    }
    this.setStatus(m, m.previousStatus === S.DEPLOYED ? S.DEPLOYED : S.READY, comment, user);
  }

  test(m: MachineRecord, comment: string, user: string): void {
    this.assertUnlocked(m);
    const allowed: readonly number[] = [S.NEW, S.READY, S.BROKEN, S.DEPLOYED, S.FAILED_TESTING, S.ALLOCATED];
    if (!allowed.includes(m.status)) throw this.invalidTransition(m, S.TESTING);
    // After a failed run, testing again returns to Ready when it passes.
    m.testReturn = m.status === S.FAILED_TESTING ? S.READY : m.status;
    m.testingStatus = 1;
    m.powerState = "on";
    this.beginPhase(m, "test", user, comment);
  }

  powerOn(m: MachineRecord): void {
    this.assertUnlocked(m);
    if (m.owner === null) throw textFailure(409, "Can't start node: it hasn't been allocated.");
    this.powerCheck(m, "power on");
    m.powerState = "on";
  }

  powerOff(m: MachineRecord): void {
    this.assertUnlocked(m);
    this.powerCheck(m, "power off");
    m.powerState = "off";
  }

  queryPowerState(m: MachineRecord): PowerState {
    this.powerCheck(m, "query the power state of");
    return m.powerState;
  }

  lock(m: MachineRecord, locked: boolean): void {
    m.locked = locked;
  }

  // ---------------------------------------------------------------- tags

  getTag(name: string): TagRecord {
    const t = this.tags.get(name);
    if (t === undefined) throw textFailure(404, "No Tag matches the given query.");
    return t;
  }

  createTag(params: Params): TagRecord {
    const name = params.get("name") ?? "";
    const errors = this.tagNameErrors(name);
    if (errors) throw formFailure({ name: errors });
    const t: TagRecord = { name, definition: params.get("definition") ?? "", comment: params.get("comment") ?? "", kernelOpts: params.get("kernel_opts") ?? "" };
    this.tags.set(name, t);
    return t;
  }

  private tagNameErrors(name: string): string[] | null {
    if (name === "") return ["This field is required."];
    if (name.length > 256) return ["Ensure this value has at most 256 characters (it has " + name.length + ")."];
    if (!/^[a-zA-Z0-9_-]+$/.test(name)) return ["Invalid character in tag name."];
    if (this.tags.has(name)) return ["Tag with this Name already exists."];
    return null;
  }

  updateTag(t: TagRecord, params: Params): TagRecord {
    const newName = params.get("name");
    if (newName !== undefined && newName !== t.name) {
      const errors = this.tagNameErrors(newName);
      if (errors) throw formFailure({ name: errors });
      this.tags.delete(t.name);
      for (const m of this.machines) {
        const i = m.tags.indexOf(t.name);
        if (i >= 0) m.tags[i] = newName;
      }
      t.name = newName;
      this.tags.set(newName, t);
    }
    const definition = params.get("definition");
    if (definition !== undefined) t.definition = definition;
    const comment = params.get("comment");
    if (comment !== undefined) t.comment = comment;
    const kernelOpts = params.get("kernel_opts");
    if (kernelOpts !== undefined) t.kernelOpts = kernelOpts;
    return t;
  }

  deleteTag(t: TagRecord): void {
    this.tags.delete(t.name);
    for (const m of this.machines) {
      const i = m.tags.indexOf(t.name);
      if (i >= 0) m.tags.splice(i, 1);
    }
  }

  /** Unknown system_ids are ignored, as MAAS does; counts only actual changes. */
  updateTagNodes(t: TagRecord, add: readonly string[], remove: readonly string[]): { added: number; removed: number } {
    let added = 0;
    let removed = 0;
    for (const id of new Set(add)) {
      const m = this.bySystemId.get(id);
      if (m === undefined || m.deleted || m.tags.includes(t.name)) continue;
      m.tags.push(t.name);
      added++;
    }
    for (const id of new Set(remove)) {
      const m = this.bySystemId.get(id);
      const i = m === undefined ? -1 : m.tags.indexOf(t.name);
      if (m === undefined || m.deleted || i < 0) continue;
      m.tags.splice(i, 1);
      removed++;
    }
    return { added, removed };
  }

  machinesWithTag(t: TagRecord): MachineRecord[] {
    return this.machines.filter((m) => m.tags.includes(t.name));
  }

  /** Block devices are addressed by id; ours are `index * 16 + slot + 1`. */
  diskSlot(m: MachineRecord, deviceId: number): number {
    const slot = deviceId - m.index * 16 - 1;
    if (!Number.isInteger(deviceId) || m.hw === null || slot < 0 || slot >= m.hw.disks.length) {
      throw textFailure(404, "No BlockDevice matches the given query.");
    }
    return slot;
  }

  setDiskTag(m: MachineRecord, slot: number, tag: string, present: boolean): void {
    const tags = [...this.diskTagsFor(m, slot)];
    const i = tags.indexOf(tag);
    if (present && i < 0) tags.push(tag);
    if (!present && i >= 0) tags.splice(i, 1);
    (m.diskTags ??= new Map()).set(slot, tags);
  }

  // ---------------------------------------------------------------- events

  queryEvents(params: Params): EventsQueryResult {
    const intParam = (key: string): number | undefined => {
      const v = params.get(key);
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n)) throw textFailure(400, `Invalid ${key}: Please enter an integer value.`);
      return n;
    };
    const after = intParam("after");
    const before = intParam("before");
    let limit = intParam("limit") ?? 100;
    const levelName = params.get("level") ?? "INFO";
    if (limit > 1000) throw textFailure(400, `Requested number of events ${limit} is greater than limit: 1000`);
    if (limit < 1) limit = 1;
    if (!(levelName in EVENT_LEVELS)) throw textFailure(400, `Unrecognised log level: ${levelName}`);
    if (after !== undefined && before !== undefined) {
      throw textFailure(400, "There is undetermined behaviour when both `after` and `before` are specified.");
    }
    const level = EVENT_LEVELS[levelName as EventLevel];
    const sets = (k: string) => {
      const v = params.all(k);
      return v.length > 0 ? new Set(v) : null;
    };
    const ids = sets("id");
    const hostnames = sets("hostname");
    const zones = sets("zone");
    const agents = sets("agent_name");
    const macs = sets("mac_address");
    const owner = params.get("owner");
    const keep = (e: EventRecord): boolean => {
      const m = e.machine;
      if (level === 0 ? EVENT_LEVELS[e.level] !== 0 : EVENT_LEVELS[e.level] < level) return false;
      if (ids && !ids.has(m.systemId)) return false;
      if (hostnames && !hostnames.has(m.hostname)) return false;
      if (zones && !zones.has(m.zone)) return false;
      if (agents && !agents.has(m.agentName)) return false;
      if (macs && !this.macsOf(m).some((x) => macs.has(x))) return false;
      if (owner !== undefined && e.username !== owner) return false;
      return !m.deleted;
    };
    const out: EventRecord[] = [];
    const ev = this.events;
    if (after !== undefined) {
      // Oldest first after the cursor, then reversed: MAAS's own order for `after`.
      let i = this.firstIndexAbove(after);
      for (; i < ev.length && out.length < limit; i++) {
        const e = ev[i] as EventRecord;
        if (keep(e)) out.push(e);
      }
      out.reverse();
    } else {
      let i = before === undefined ? ev.length - 1 : this.firstIndexAbove(before - 1) - 1;
      for (; i >= 0 && out.length < limit; i--) {
        const e = ev[i] as EventRecord;
        if (keep(e)) out.push(e);
      }
    }
    const base: Record<string, string | string[]> = {};
    for (const k of ["agent_name", "domain", "hostname", "id", "level", "limit", "mac_address", "op", "zone", "owner", "after", "before"]) {
      const v = params.all(k);
      if (v.length > 0) base[k] = v.length === 1 ? (v[0] as string) : v;
    }
    const next = { ...base };
    delete next.before;
    const newest = out[0];
    const oldest = out[out.length - 1];
    if (newest !== undefined) next.after = String(newest.id);
    else if (before !== undefined) next.after = String(before - 1);
    let prev: Record<string, string | string[]> | null = { ...base };
    delete prev.after;
    if (oldest !== undefined) prev.before = String(oldest.id);
    else if (after !== undefined) prev.before = String(after + 1);
    else prev = null;
    return { events: out, next, prev };
  }

  /** Index of the first stored event with id > `id` (ids are increasing: binary search). */
  private firstIndexAbove(id: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.events[mid] as EventRecord).id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A deterministic serial for a disk, stable across renders. */
  diskSerial(m: MachineRecord, slot: number): string {
    return hash32(this.seed, "serial", m.systemId, slot).toString(36).toUpperCase().padStart(7, "0");
  }
}
