/**
 * A whole MAAS port around another one (a client of the simulator, a FakeMaas), with one hook
 * around every call: a test sees, delays, fails or kills calls at a given operation without a
 * Proxy or a partial port. Every method of the port (src/maas/port.ts) is here, checked by
 * `implements`; `killedAt` is the process killed at one call, the hook most tests want.
 */
import type {
  AllocateParams,
  AllocatedMachine,
  BlockDevice,
  BondParams,
  CommissionParams,
  CreateMachineParams,
  CreateTagParams,
  DeployParams,
  EventsPage,
  EventsQuery,
  Fabric,
  Interface,
  InterfaceUpdate,
  IpRange,
  LinkSubnetParams,
  MaasPort,
  Machine,
  MachineFilter,
  MachineState,
  PowerState,
  ReleaseParams,
  ResourcePool,
  Space,
  StorageLayoutParams,
  SubnetWithVlan,
  Tag,
  User,
  Version,
  Vlan,
  VlanInterfaceParams,
  Zone,
} from "../../src/maas/port.ts";

export type MaasOp = keyof MaasPort;

/** Runs around one call: `send` makes it on the inner port; the hook may skip it, throw, or wrap it. */
export type AroundCall = <T>(op: MaasOp, args: readonly unknown[], send: () => Promise<T>) => Promise<T>;

export class InterceptedMaas implements MaasPort {
  private readonly inner: MaasPort;
  private readonly around: AroundCall;

  constructor(inner: MaasPort, around: AroundCall) {
    this.inner = inner;
    this.around = around;
  }

  private call<T>(op: MaasOp, args: readonly unknown[], send: () => Promise<T>): Promise<T> {
    return this.around(op, args, send);
  }

  version(): Promise<Version> {
    return this.call("version", [], () => this.inner.version());
  }
  whoami(): Promise<User> {
    return this.call("whoami", [], () => this.inner.whoami());
  }
  listMachines(filter?: MachineFilter): Promise<Machine[]> {
    return this.call("listMachines", [filter], () => this.inner.listMachines(filter));
  }
  listMachineStates(filter?: MachineFilter): Promise<MachineState[]> {
    return this.call("listMachineStates", [filter], () => this.inner.listMachineStates(filter));
  }
  readMachine(systemId: string): Promise<Machine> {
    return this.call("readMachine", [systemId], () => this.inner.readMachine(systemId));
  }
  createMachine(params: CreateMachineParams): Promise<Machine> {
    return this.call("createMachine", [params], () => this.inner.createMachine(params));
  }
  commission(systemId: string, params?: CommissionParams): Promise<MachineState> {
    return this.call("commission", [systemId, params], () => this.inner.commission(systemId, params));
  }
  allocate(params: AllocateParams): Promise<AllocatedMachine> {
    return this.call("allocate", [params], () => this.inner.allocate(params));
  }
  deploy(systemId: string, params?: DeployParams): Promise<MachineState> {
    return this.call("deploy", [systemId, params], () => this.inner.deploy(systemId, params));
  }
  release(systemId: string, params?: ReleaseParams): Promise<MachineState> {
    return this.call("release", [systemId, params], () => this.inner.release(systemId, params));
  }
  releaseMany(systemIds: readonly string[], comment?: string): Promise<string[]> {
    return this.call("releaseMany", [systemIds, comment], () => this.inner.releaseMany(systemIds, comment));
  }
  abort(systemId: string, comment?: string): Promise<MachineState> {
    return this.call("abort", [systemId, comment], () => this.inner.abort(systemId, comment));
  }
  markBroken(systemId: string, comment?: string): Promise<MachineState> {
    return this.call("markBroken", [systemId, comment], () => this.inner.markBroken(systemId, comment));
  }
  markFixed(systemId: string, comment?: string): Promise<MachineState> {
    return this.call("markFixed", [systemId, comment], () => this.inner.markFixed(systemId, comment));
  }
  powerOn(systemId: string, comment?: string): Promise<MachineState> {
    return this.call("powerOn", [systemId, comment], () => this.inner.powerOn(systemId, comment));
  }
  powerOff(systemId: string, stopMode?: "hard" | "soft", comment?: string): Promise<MachineState> {
    return this.call("powerOff", [systemId, stopMode, comment], () => this.inner.powerOff(systemId, stopMode, comment));
  }
  queryPowerState(systemId: string): Promise<PowerState> {
    return this.call("queryPowerState", [systemId], () => this.inner.queryPowerState(systemId));
  }
  listTags(): Promise<Tag[]> {
    return this.call("listTags", [], () => this.inner.listTags());
  }
  createTag(params: CreateTagParams): Promise<Tag> {
    return this.call("createTag", [params], () => this.inner.createTag(params));
  }
  deleteTag(name: string): Promise<void> {
    return this.call("deleteTag", [name], () => this.inner.deleteTag(name));
  }
  updateTagNodes(name: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<{ added: number; removed: number }> {
    return this.call("updateTagNodes", [name, change], () => this.inner.updateTagNodes(name, change));
  }
  machinesByTag(name: string): Promise<Machine[]> {
    return this.call("machinesByTag", [name], () => this.inner.machinesByTag(name));
  }
  addBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void> {
    return this.call("addBlockDeviceTag", [systemId, deviceId, tag], () => this.inner.addBlockDeviceTag(systemId, deviceId, tag));
  }
  removeBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void> {
    return this.call("removeBlockDeviceTag", [systemId, deviceId, tag], () => this.inner.removeBlockDeviceTag(systemId, deviceId, tag));
  }
  listZones(): Promise<Zone[]> {
    return this.call("listZones", [], () => this.inner.listZones());
  }
  listResourcePools(): Promise<ResourcePool[]> {
    return this.call("listResourcePools", [], () => this.inner.listResourcePools());
  }
  queryEvents(query?: EventsQuery): Promise<EventsPage> {
    return this.call("queryEvents", [query], () => this.inner.queryEvents(query));
  }
  listFabrics(): Promise<Fabric[]> {
    return this.call("listFabrics", [], () => this.inner.listFabrics());
  }
  listVlans(fabricId: number): Promise<Vlan[]> {
    return this.call("listVlans", [fabricId], () => this.inner.listVlans(fabricId));
  }
  listSpaces(): Promise<Space[]> {
    return this.call("listSpaces", [], () => this.inner.listSpaces());
  }
  listSubnets(): Promise<SubnetWithVlan[]> {
    return this.call("listSubnets", [], () => this.inner.listSubnets());
  }
  listIpRanges(): Promise<IpRange[]> {
    return this.call("listIpRanges", [], () => this.inner.listIpRanges());
  }
  readInterfaces(systemId: string): Promise<Interface[]> {
    return this.call("readInterfaces", [systemId], () => this.inner.readInterfaces(systemId));
  }
  createBond(systemId: string, params: BondParams): Promise<Interface> {
    return this.call("createBond", [systemId, params], () => this.inner.createBond(systemId, params));
  }
  createVlanInterface(systemId: string, params: VlanInterfaceParams, parentName: string): Promise<Interface> {
    return this.call("createVlanInterface", [systemId, params, parentName], () => this.inner.createVlanInterface(systemId, params, parentName));
  }
  linkSubnet(systemId: string, interfaceId: number, params: LinkSubnetParams): Promise<Interface> {
    return this.call("linkSubnet", [systemId, interfaceId, params], () => this.inner.linkSubnet(systemId, interfaceId, params));
  }
  unlinkSubnet(systemId: string, interfaceId: number, linkId: number): Promise<Interface> {
    return this.call("unlinkSubnet", [systemId, interfaceId, linkId], () => this.inner.unlinkSubnet(systemId, interfaceId, linkId));
  }
  updateInterface(systemId: string, interfaceId: number, update: InterfaceUpdate): Promise<Interface> {
    return this.call("updateInterface", [systemId, interfaceId, update], () => this.inner.updateInterface(systemId, interfaceId, update));
  }
  readBlockDevices(systemId: string): Promise<BlockDevice[]> {
    return this.call("readBlockDevices", [systemId], () => this.inner.readBlockDevices(systemId));
  }
  setStorageLayout(systemId: string, params: StorageLayoutParams): Promise<MachineState> {
    return this.call("setStorageLayout", [systemId, params], () => this.inner.setStorageLayout(systemId, params));
  }
  setBootDisk(systemId: string, deviceId: number): Promise<void> {
    return this.call("setBootDisk", [systemId, deviceId], () => this.inner.setBootDisk(systemId, deviceId));
  }
}

/** What every call of a killed process gets: its answer never arrives. */
export class ProcessKilled extends Error {
  readonly op: MaasOp;
  constructor(op: MaasOp) {
    super(`simulated kill at ${op}`);
    this.name = "ProcessKilled";
    this.op = op;
  }
}

/**
 * The region as a process killed at `op` sees it: with `after`, that call takes effect and
 * then throws (its answer never arrives); without, it is never sent. Every later call throws
 * too. `when` picks the call (default: the first of `op`).
 */
export function killedAt(inner: MaasPort, op: MaasOp, opts: { after: boolean; when?: () => boolean }): InterceptedMaas {
  let dead = false;
  return new InterceptedMaas(inner, async (called, _args, send) => {
    if (dead) throw new ProcessKilled(called);
    if (called !== op || !(opts.when?.() ?? true)) return send();
    dead = true;
    if (opts.after) await send();
    throw new ProcessKilled(called);
  });
}
