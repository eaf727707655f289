/**
 * The production `MaasPort`: the operations of src/maas/ops/ (one file per family)
 * over one `MaasTransport`
 * (src/maas/transport.ts: HTTP, OAuth, limiter, retries, reconciliation, error
 * mapping). Families: machines, tags, storage, network, events, site. This file only wires the two together; docs/maas-client.md explains the rules.
 */
import * as events from "./ops/events.ts";
import * as machines from "./ops/machines.ts";
import * as network from "./ops/network.ts";
import * as site from "./ops/site.ts";
import * as storage from "./ops/storage.ts";
import * as tags from "./ops/tags.ts";
import type {
  AllocateParams,
  BondParams,
  InterfaceUpdate,
  LinkSubnetParams,
  StorageLayoutParams,
  VlanInterfaceParams,
  CommissionParams,
  CreateMachineParams,
  CreateTagParams,
  DeployParams,
  EventsQuery,
  MaasPort,
  MachineFilter,
  ReleaseParams,
} from "./port.ts";
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
import { MaasTransport } from "./transport.ts";
import type { MaasClientStats, RequestInfo, TransportOptions } from "./transport.ts";

export type { HttpMethod, MaasClientStats, RequestInfo } from "./transport.ts";
export { apiRootOf } from "./transport.ts";

export interface MaasClientOptions extends TransportOptions {
  /** Ids per `update_nodes` call (default 500). */
  tagBatchSize?: number;
}

const DEFAULT_TAG_BATCH = 500;

export class MaasClient implements MaasPort {
  private readonly t: MaasTransport;
  private readonly tagBatchSize: number;

  constructor(options: MaasClientOptions) {
    this.t = new MaasTransport(options);
    this.tagBatchSize = options.tagBatchSize ?? DEFAULT_TAG_BATCH;
    if (!Number.isInteger(this.tagBatchSize) || this.tagBatchSize < 1) {
      throw new RangeError(`tagBatchSize must be an integer >= 1 (got ${this.tagBatchSize})`);
    }
  }

  /**
   * A view of this client whose calls stop when `signal` aborts (queued calls leave
   * the queue, in-flight requests are cancelled, waits end). It shares the limiter,
   * stats and connection with this client. An aborted call rejects with the signal's
   * reason; for a state-changing op the outcome is then unknown to the caller.
   */
  withSignal(signal: AbortSignal): MaasClient {
    const view = Object.create(MaasClient.prototype) as MaasClient;
    Object.assign(view, this, { t: this.t.withSignal(signal) });
    return view;
  }

  /** A copy of the request counters. */
  stats(): MaasClientStats {
    return this.t.stats();
  }

  /**
   * Calls `observer` after every HTTP exchange (each attempt), like the `onRequest`
   * option, for hooks added after the client was made (the service's metrics).
   */
  observeRequests(observer: (info: RequestInfo) => void): void {
    this.t.observeRequests(observer);
  }

  /** Requests running and queued right now. */
  load(): { inFlight: number; queued: number } {
    return this.t.load();
  }

  // ---------------------------------------------------------------- site
  version(): Promise<Version> {
    return site.version(this.t);
  }
  whoami(): Promise<User> {
    return site.whoami(this.t);
  }
  listZones(): Promise<Zone[]> {
    return site.listZones(this.t);
  }
  listResourcePools(): Promise<ResourcePool[]> {
    return site.listResourcePools(this.t);
  }

  // ---------------------------------------------------------------- machines
  listMachines(filter: MachineFilter = {}): Promise<Machine[]> {
    return machines.listMachines(this.t, filter);
  }
  listMachineStates(filter: MachineFilter = {}): Promise<MachineState[]> {
    return machines.listMachineStates(this.t, filter);
  }
  listMachinesEach<R>(filter: MachineFilter, each: (m: PlanningMachine) => R): Promise<R[]> {
    return machines.listMachinesEach(this.t, filter, each);
  }
  readMachine(systemId: string): Promise<Machine> {
    return machines.readMachine(this.t, systemId);
  }
  createMachine(params: CreateMachineParams): Promise<Machine> {
    return machines.createMachine(this.t, params);
  }
  commission(systemId: string, params: CommissionParams = {}): Promise<MachineState> {
    return machines.commission(this.t, systemId, params);
  }
  allocate(params: AllocateParams): Promise<AllocatedMachine> {
    return machines.allocate(this.t, params);
  }
  deploy(systemId: string, params: DeployParams = {}): Promise<MachineState> {
    return machines.deploy(this.t, systemId, params);
  }
  release(systemId: string, params: ReleaseParams = {}): Promise<MachineState> {
    return machines.release(this.t, systemId, params);
  }
  releaseMany(systemIds: readonly string[], comment?: string): Promise<string[]> {
    return machines.releaseMany(this.t, systemIds, comment);
  }
  abort(systemId: string, comment?: string): Promise<MachineState> {
    return machines.abort(this.t, systemId, comment);
  }
  markBroken(systemId: string, comment?: string): Promise<MachineState> {
    return machines.markBroken(this.t, systemId, comment);
  }
  markFixed(systemId: string, comment?: string): Promise<MachineState> {
    return machines.markFixed(this.t, systemId, comment);
  }
  powerOn(systemId: string, comment?: string): Promise<MachineState> {
    return machines.powerOn(this.t, systemId, comment);
  }
  powerOff(systemId: string, stopMode?: "hard" | "soft", comment?: string): Promise<MachineState> {
    return machines.powerOff(this.t, systemId, stopMode, comment);
  }
  queryPowerState(systemId: string): Promise<PowerState> {
    return machines.queryPowerState(this.t, systemId);
  }

  // ---------------------------------------------------------------- tags
  listTags(): Promise<Tag[]> {
    return tags.listTags(this.t);
  }
  /** Reads one tag. Idempotent. Not part of the port. */
  readTag(name: string): Promise<Tag> {
    return tags.readTag(this.t, name);
  }
  createTag(params: CreateTagParams): Promise<Tag> {
    return tags.createTag(this.t, params);
  }
  deleteTag(name: string): Promise<void> {
    return tags.deleteTag(this.t, name);
  }
  updateTagNodes(name: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<{ added: number; removed: number }> {
    return tags.updateTagNodes(this.t, this.tagBatchSize, name, change);
  }
  machinesByTag(name: string): Promise<Machine[]> {
    return tags.machinesByTag(this.t, name);
  }

  // ---------------------------------------------------------------- storage
  addBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void> {
    return storage.addBlockDeviceTag(this.t, systemId, deviceId, tag);
  }
  removeBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void> {
    return storage.removeBlockDeviceTag(this.t, systemId, deviceId, tag);
  }
  readBlockDevices(systemId: string): Promise<BlockDevice[]> {
    return storage.readBlockDevices(this.t, systemId);
  }
  setStorageLayout(systemId: string, params: StorageLayoutParams): Promise<MachineState> {
    return storage.setStorageLayout(this.t, systemId, params);
  }
  setBootDisk(systemId: string, deviceId: number): Promise<void> {
    return storage.setBootDisk(this.t, systemId, deviceId);
  }

  // ---------------------------------------------------------------- network
  listFabrics(): Promise<Fabric[]> {
    return network.listFabrics(this.t);
  }
  listVlans(fabricId: number): Promise<Vlan[]> {
    return network.listVlans(this.t, fabricId);
  }
  listSpaces(): Promise<Space[]> {
    return network.listSpaces(this.t);
  }
  listSubnets(): Promise<SubnetWithVlan[]> {
    return network.listSubnets(this.t);
  }
  listIpRanges(): Promise<IpRange[]> {
    return network.listIpRanges(this.t);
  }
  readInterfaces(systemId: string): Promise<Interface[]> {
    return network.readInterfaces(this.t, systemId);
  }
  createBond(systemId: string, params: BondParams): Promise<Interface> {
    return network.createBond(this.t, systemId, params);
  }
  createVlanInterface(systemId: string, params: VlanInterfaceParams, parentName: string): Promise<Interface> {
    return network.createVlanInterface(this.t, systemId, params, parentName);
  }
  linkSubnet(systemId: string, interfaceId: number, params: LinkSubnetParams): Promise<Interface> {
    return network.linkSubnet(this.t, systemId, interfaceId, params);
  }
  unlinkSubnet(systemId: string, interfaceId: number, linkId: number): Promise<Interface> {
    return network.unlinkSubnet(this.t, systemId, interfaceId, linkId);
  }
  updateInterface(systemId: string, interfaceId: number, update: InterfaceUpdate): Promise<Interface> {
    return network.updateInterface(this.t, systemId, interfaceId, update);
  }

  // ---------------------------------------------------------------- events
  queryEvents(query: EventsQuery = {}): Promise<EventsPage> {
    return events.queryEvents(this.t, query);
  }
}
