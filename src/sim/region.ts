/**
 * The simulated region's model, joined from its parts under region/: the records
 * (records.ts) and what they share (state.ts), the population from a fleet file
 * (population.ts), busy phases and faults (phases.ts), filters and constraints
 * (filters.ts), lifecycle operations (lifecycle.ts), tags (tags.ts) and events
 * (events.ts). Operations throw `SimulatedFailure` carrying MAAS's own status codes and
 * messages; the HTTP layer (api.ts) only parses parameters and renders JSON.
 */
import type { FaultSpec } from "./faults.ts";
import type { FleetSpec } from "./fleet.ts";
import type { Params } from "./params.ts";
import type { EventsQueryResult } from "./region/events.ts";
import { listMachines } from "./region/filters.ts";
import * as lifecycle from "./region/lifecycle.ts";
import type { AllocateResult } from "./region/lifecycle.ts";
import { populate } from "./region/population.ts";
import { toHardwareClass } from "./region/records.ts";
import type { MachineRecord, PowerState, TagRecord } from "./region/records.ts";
import { RegionState } from "./region/state.ts";
import type { RegionStateOptions } from "./region/state.ts";
import * as tags from "./region/tags.ts";

export type { DiskSpec, EventLevel, EventRecord, HardwareClass, MachineCounts, MachineRecord, NamedRecord, NicSpec, PhaseCounters, PowerState, TagRecord } from "./region/records.ts";
export { ADMIN_USER, DEFAULT_DISTRO, DISTRO_SERIES, EVENT_LEVELS, toHardwareClass } from "./region/records.ts";
export type { EventsQueryResult } from "./region/events.ts";
export type { AllocateResult } from "./region/lifecycle.ts";

export interface RegionOptions extends RegionStateOptions {
  fleet: FleetSpec;
  faults: FaultSpec;
}

export class Region extends RegionState {
  private nextZoneId = 1;
  private nextPoolId = 0;

  constructor(opts: RegionOptions) {
    super({ ...opts, ...(opts.fleet.networks ? { networks: opts.fleet.networks } : {}) });
    for (const [n, c] of Object.entries(opts.fleet.classes)) this.classes.set(n, toHardwareClass(n, c));
    for (const z of opts.fleet.zones) this.zones.set(z.name, { id: this.nextZoneId++, name: z.name, description: z.description });
    for (const p of opts.fleet.pools) this.pools.set(p.name, { id: this.nextPoolId++, name: p.name, description: p.description });
    populate(this, opts.fleet);
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

  // ---------------------------------------------------------------- machines (lifecycle.ts, filters.ts)

  list(params: Params): MachineRecord[] {
    return listMachines(this, params);
  }
  create(params: Params): MachineRecord {
    return lifecycle.createMachine(this, params);
  }
  update(m: MachineRecord, params: Params): void {
    lifecycle.updateMachine(this, m, params);
  }
  remove(m: MachineRecord): void {
    lifecycle.removeMachine(this, m);
  }
  commission(m: MachineRecord, params: Params): void {
    lifecycle.commission(this, m, params);
  }
  allocate(params: Params, user: string): AllocateResult {
    return lifecycle.allocate(this, params, user);
  }
  deploy(m: MachineRecord, params: Params, user: string): void {
    lifecycle.deploy(this, m, params, user);
  }
  /** Releasing one machine. Returns false when it was already Ready/Releasing (a no-op). */
  release(m: MachineRecord, params: Params, user: string): boolean {
    return lifecycle.release(this, m, params, user);
  }
  releaseMany(ids: readonly string[], params: Params, user: string): string[] {
    return lifecycle.releaseMany(this, ids, params, user);
  }
  abort(m: MachineRecord, comment: string, user: string): void {
    lifecycle.abort(this, m, comment, user);
  }
  markBroken(m: MachineRecord, comment: string, user: string): void {
    lifecycle.markBroken(this, m, comment, user);
  }
  markFixed(m: MachineRecord, comment: string, user: string): void {
    lifecycle.markFixed(this, m, comment, user);
  }
  test(m: MachineRecord, comment: string, user: string): void {
    lifecycle.test(this, m, comment, user);
  }
  powerOn(m: MachineRecord): void {
    lifecycle.powerOn(this, m);
  }
  powerOff(m: MachineRecord): void {
    lifecycle.powerOff(this, m);
  }
  queryPowerState(m: MachineRecord): PowerState {
    return lifecycle.queryPowerState(this, m);
  }
  lock(m: MachineRecord, locked: boolean): void {
    m.locked = locked;
  }

  // ---------------------------------------------------------------- tags (tags.ts)

  getTag(name: string): TagRecord {
    return tags.getTag(this, name);
  }
  createTag(params: Params): TagRecord {
    return tags.createTag(this, params);
  }
  updateTag(t: TagRecord, params: Params): TagRecord {
    return tags.updateTag(this, t, params);
  }
  deleteTag(t: TagRecord): void {
    tags.deleteTag(this, t);
  }
  updateTagNodes(t: TagRecord, add: readonly string[], remove: readonly string[]): { added: number; removed: number } {
    return tags.updateTagNodes(this, t, add, remove);
  }
  machinesWithTag(t: TagRecord): MachineRecord[] {
    return tags.machinesWithTag(this, t);
  }
  diskSlot(m: MachineRecord, deviceId: number): number {
    return tags.diskSlot(m, deviceId);
  }
  setDiskTag(m: MachineRecord, slot: number, tag: string, present: boolean): void {
    tags.setDiskTag(this, m, slot, tag, present);
  }

  // ---------------------------------------------------------------- events (events.ts)

  queryEvents(params: Params): EventsQueryResult {
    return this.log.query(params, (m) => this.macsOf(m));
  }
}
