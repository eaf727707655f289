/**
 * What every part of the region shares: the records and their indexes, the event log,
 * the clock and scheduler, status changes (each one an event and a notification), and
 * the facts derived from a machine's index (MACs, addresses, serials). The operations
 * live beside it (lifecycle.ts, phases.ts, filters.ts, tags.ts); region.ts joins them.
 */
import { BUSY_FAILURE, NodeStatus, STATUS_LABEL } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import { SimulatedFailure, textFailure } from "../errors.ts";
import type { FaultSpec, MachineFaults } from "../faults.ts";
import type { FixedDurations } from "../durations.ts";
import { newSystemId } from "../names.ts";
import { hash32, Rng } from "../rng.ts";
import type { Clock, Scheduler } from "../scheduler.ts";
import { EventLog } from "./events.ts";
import { blankMachine, GENERIC_HW } from "./records.ts";
import type { EventLevel, EventRecord, HardwareClass, MachineRecord, NamedRecord, TagRecord, TransitionListener } from "./records.ts";

export interface RegionStateOptions {
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
  onTransition?: TransitionListener;
}

export class RegionState {
  readonly machines: MachineRecord[] = [];
  readonly bySystemId = new Map<string, MachineRecord>();
  readonly byHostname = new Map<string, MachineRecord>();
  readonly tags = new Map<string, TagRecord>();
  readonly zones = new Map<string, NamedRecord>();
  readonly pools = new Map<string, NamedRecord>();
  readonly classes = new Map<string, HardwareClass>();
  readonly seed: number;
  readonly speed: number;
  readonly durations: FixedDurations;
  readonly faults: FaultSpec;
  readonly scheduler: Scheduler;
  readonly log: EventLog;
  readonly rng: Rng;
  readonly takenIds = new Set<string>();
  readonly takenNames = new Set<string>();
  /** Fault overrides resolved to machines at start (targets are hostnames or system_ids). */
  readonly targeted = new Map<MachineRecord, MachineFaults>();
  private readonly listeners = new Set<TransitionListener>();
  private nextIndex = 0;

  constructor(opts: RegionStateOptions) {
    this.seed = opts.seed;
    this.speed = opts.speed;
    this.durations = { ...opts.durations };
    this.faults = opts.faults;
    this.scheduler = opts.scheduler;
    this.log = new EventLog(opts.clock, opts.maxEvents ?? 200_000);
    if (opts.onTransition) this.listeners.add(opts.onTransition);
    this.rng = new Rng(opts.seed);
  }

  get events(): EventRecord[] {
    return this.log.events;
  }

  /** Calls `listener` after every status change (tests, in-process observers); returns an unsubscribe function. */
  watch(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  newRecord(hostname: string, hw: HardwareClass | null, macs: string[] | null, zone: string, pool: string): MachineRecord {
    const m = blankMachine(this.nextIndex++, newSystemId(this.rng, this.takenIds), hostname, hw, hw ?? this.classes.values().next().value ?? GENERIC_HW, macs, zone, pool);
    this.machines.push(m);
    this.bySystemId.set(m.systemId, m);
    this.byHostname.set(hostname, m);
    return m;
  }

  /** The index the next machine will get (population's hostname collisions). */
  get peekIndex(): number {
    return this.nextIndex;
  }

  get(systemId: string): MachineRecord {
    const m = this.bySystemId.get(systemId);
    if (m === undefined || m.deleted) throw textFailure(404, "No Machine matches the given query.");
    return m;
  }

  setStatus(m: MachineRecord, to: NodeStatusCode, description: string, username: string): void {
    const from = m.status;
    if (from !== to) m.previousStatus = from;
    m.status = to;
    m.statusMessage = description !== "" ? description : STATUS_LABEL[to];
    const level: EventLevel = BUSY_FAILURE[from] === to || to === NodeStatus.BROKEN ? "ERROR" : "INFO";
    this.log.add(m, STATUS_LABEL[to], description, level, username);
    for (const l of this.listeners) l(m, from, to);
  }

  cancelBusy(m: MachineRecord): void {
    m.job++;
  }

  assertUnlocked(m: MachineRecord): void {
    // MAAS denies the edit permission on a locked machine: 403 with an empty body.
    if (m.locked) throw new SimulatedFailure(403, "", "text/plain; charset=utf-8");
  }

  invalidTransition(m: MachineRecord, to: NodeStatusCode): SimulatedFailure {
    return textFailure(409, `Invalid transition: ${STATUS_LABEL[m.status]} -> ${STATUS_LABEL[to]}.`);
  }

  statusCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.machines) {
      const label = STATUS_LABEL[m.status];
      out[label] = (out[label] ?? 0) + 1;
    }
    return out;
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

  macsOf(m: MachineRecord): string[] {
    const n = m.hw?.nics.length ?? m.macs?.length ?? 0;
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.macFor(m, i));
    return out;
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

  bmcAddress(m: MachineRecord): string {
    return `10.200.${(m.index >> 8) & 0xff}.${m.index & 0xff}`;
  }

  /** A deterministic serial for a disk, stable across renders. */
  diskSerial(m: MachineRecord, slot: number): string {
    return hash32(this.seed, "serial", m.systemId, slot).toString(36).toUpperCase().padStart(7, "0");
  }
}
