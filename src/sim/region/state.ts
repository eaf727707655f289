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
import { cidrBounds, ipToInt } from "../fleet.ts";
import type { NetworksSpec } from "../fleet.ts";
import { addressesOf, claimAutoAddresses, initialLinks } from "../network/interfaces.ts";
import type { Iface, IdSource } from "../network/interfaces.ts";
import { Network } from "../network/model.ts";
import type { Subnet } from "../network/model.ts";
import { applyLayout } from "../storage/model.ts";
import type { LayoutName, LayoutOptions, StorageIds } from "../storage/model.ts";
import type { DiskFacts } from "../storage/render.ts";
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
  /** The site's networks (fleet `networks:`); absent = one loopback subnet. */
  networks?: NetworksSpec;
}

/** A version-4-shaped UUID derived from the seed and a key: stable across renders and runs. */
export function uuidFrom(seed: number, ...key: (string | number)[]): string {
  const h = [0, 1, 2, 3].map((i) => hash32(seed, "uuid", ...key, i).toString(16).padStart(8, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${"89ab"[parseInt(h[16] ?? "0", 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Ids of objects made after a machine exists (links, bonds, VLAN interfaces, partitions…): above the index-derived ones. */
const OBJECT_ID_BASE = 100_000_000;

/** The address machine `index` had before the network model, kept for the default 127.0.0.0/8 subnet. */
function legacyAddress(index: number): string {
  const rest = Math.floor(index / 254);
  return `127.${1 + Math.floor(rest / 256)}.${rest % 256}.${1 + (index % 254)}`;
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
  readonly net: Network;
  /** One region-wide sequence, as MAAS's StaticIPAddress and interface rows have. */
  readonly ids: IdSource;
  /** Ids and fresh UUIDs for partitions, filesystems, VGs and LVs (new ones every layout, §5). */
  readonly storageIds: StorageIds;
  private readonly listeners = new Set<TransitionListener>();
  private nextIndex = 0;
  /** Script sets are numbered region-wide, in creation order (one per commissioning run). */
  private nextScriptSet = 1;
  private nextObjectId = OBJECT_ID_BASE + 1;

  constructor(opts: RegionStateOptions) {
    this.seed = opts.seed;
    this.speed = opts.speed;
    this.durations = { ...opts.durations };
    this.faults = opts.faults;
    this.scheduler = opts.scheduler;
    this.log = new EventLog(opts.clock, opts.maxEvents ?? 200_000);
    if (opts.onTransition) this.listeners.add(opts.onTransition);
    this.rng = new Rng(opts.seed);
    this.net = new Network(opts.networks, "admin");
    this.ids = { nextId: () => this.nextObjectId++ };
    this.storageIds = { nextId: () => this.nextObjectId++, uuid: (kind) => uuidFrom(this.seed, kind, this.nextObjectId++) };
  }

  get events(): EventRecord[] {
    return this.log.events;
  }

  /** Calls `listener` after every status change (tests, in-process observers); returns an unsubscribe function. */
  watch(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A new script set's id (see MachineRecord.commissioningResultId). */
  newScriptSetId(): number {
    return this.nextScriptSet++;
  }

  newRecord(hostname: string, hw: HardwareClass | null, macs: string[] | null, zone: string, pool: string, cabling: readonly string[] | null = null): MachineRecord {
    const m = blankMachine(this.nextIndex++, newSystemId(this.rng, this.takenIds), hostname, hw, hw ?? this.classes.values().next().value ?? GENERIC_HW, macs, zone, pool);
    m.cabling = cabling;
    this.buildPhysical(m);
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

  // ---------------------------------------------------------------- networking

  /**
   * Physical interfaces, one per NIC of the hardware (or per MAC given at creation), ids
   * `index * 16 + nic + 1`, each on the untagged VLAN of the fabric it is cabled to.
   * Kept (with their links) when the count does not change.
   */
  buildPhysical(m: MachineRecord): void {
    const count = m.hw?.nics.length ?? m.macs?.length ?? 0;
    const physical = m.ifaces.filter((i) => i.type === "physical");
    if (physical.length === count) return;
    const first = this.net.fabrics.values().next().value;
    const out: Iface[] = [];
    for (let nic = 0; nic < count; nic++) {
      const fabricName = m.cabling?.[Math.min(nic, m.cabling.length - 1)];
      const fabric = (fabricName === undefined ? undefined : this.net.fabricByName(fabricName)) ?? first;
      const vlan = fabric === undefined ? undefined : this.net.untagged(fabric.id);
      out.push({
        id: m.index * 16 + nic + 1,
        name: `eno${nic + 1}`,
        type: "physical",
        mac: this.macFor(m, nic),
        vlanId: vlan?.id ?? null,
        parents: [],
        params: {},
        tags: [],
        enabled: true,
        mtu: null,
        links: [],
        slot: nic,
        speedMbps: m.hw?.nics[nic]?.speedMbps ?? 0,
        linkConnected: true,
      });
    }
    m.ifaces = out;
  }

  /** The networking commissioning leaves (§2.4): the interfaces' links reset to MAAS's defaults. */
  resetNetworking(m: MachineRecord): void {
    for (const i of m.ifaces) for (const l of i.links) if (l.ip !== null) this.net.free(l.ip);
    m.ifaces = m.ifaces.filter((i) => i.type === "physical");
    this.buildPhysical(m);
    for (const i of m.ifaces) {
      i.speedMbps = m.hw?.nics[i.slot ?? 0]?.speedMbps ?? i.speedMbps;
      const fabricName = m.cabling?.[Math.min(i.slot ?? 0, m.cabling.length - 1)];
      const fabric = (fabricName === undefined ? undefined : this.net.fabricByName(fabricName)) ?? this.net.fabrics.values().next().value;
      if (fabric !== undefined) i.vlanId = this.net.untagged(fabric.id).id;
    }
    initialLinks(this.net, m.ifaces, this.ids);
  }

  /**
   * Where in a subnet a machine's auto address is looked for first: the pre-network-model
   * address in the default 127.0.0.0/8 subnet (so existing fleets keep theirs), else the
   * subnet's first host plus the machine's index.
   */
  preferredAddress(m: MachineRecord, s: Subnet): number {
    if (this.net.legacy) return ipToInt(legacyAddress(m.index));
    const b = cidrBounds(s.cidr);
    return b.first + 1 + (m.index % Math.max(1, b.last - b.first - 1));
  }

  /** Deployment claims an address for each auto link (§2.4). */
  claimAddresses(m: MachineRecord): void {
    claimAutoAddresses(this.net, m.ifaces, (s) => this.preferredAddress(m, s));
  }

  /** Every address the machine holds (boot interface first). */
  addressesOf(m: MachineRecord): string[] {
    return addressesOf(m.ifaces);
  }

  // ---------------------------------------------------------------- storage

  /** amd64 machines boot BIOS/PXE here; others UEFI (bios_boot_method, §5's worked example). */
  isUefi(m: MachineRecord): boolean {
    return !m.architecture.startsWith("amd64");
  }

  /** The region's default layout (flat), as commissioning and restore_storage_configuration apply it (§5). */
  resetStorage(m: MachineRecord): void {
    m.storage = m.hw === null ? null : applyLayout(m.hw.disks, 0, "flat", {}, this.isUefi(m), this.storageIds);
  }

  setLayout(m: MachineRecord, layout: LayoutName, o: LayoutOptions): void {
    if (m.hw === null) return;
    m.storage = applyLayout(m.hw.disks, m.storage?.bootSlot ?? 0, layout, o, this.isUefi(m), this.storageIds);
  }

  /** What a physical disk shows besides its layout: id `index*16 + slot + 1`, name, serial, by-id path, tags. */
  diskFacts(m: MachineRecord, slot: number): DiskFacts | undefined {
    const spec = m.hw?.disks[slot];
    if (spec === undefined) return undefined;
    const name = spec.kind === "nvme" ? `nvme${slot}n1` : `sd${String.fromCharCode(97 + slot)}`;
    const serial = this.diskSerial(m, slot);
    const idPath = spec.kind === "nvme" ? `/dev/disk/by-id/nvme-${spec.model.replace(/\s+/g, "_")}_${serial}` : `/dev/disk/by-id/wwn-0x5000c500${serial.toLowerCase().padStart(8, "0").slice(-8)}`;
    return { spec, id: m.index * 16 + slot + 1, name, serial, idPath, tags: this.diskTagsFor(m, slot) };
  }

  // ---------------------------------------------------------------- derived facts

  /** A machine's primary address (its boot interface's), where its simulated host listens for SSH. */
  ipFor(m: MachineRecord): string {
    return addressesOf(m.ifaces)[0] ?? legacyAddress(m.index);
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

  /** The SMBIOS system UUID commissioning reads: deterministic per machine. */
  hardwareUuid(m: MachineRecord): string {
    return uuidFrom(this.seed, "hardware", m.systemId);
  }

  /** A deterministic serial for a disk, stable across renders. */
  diskSerial(m: MachineRecord, slot: number): string {
    return hash32(this.seed, "serial", m.systemId, slot).toString(36).toUpperCase().padStart(7, "0");
  }
}
