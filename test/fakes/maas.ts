/**
 * A full in-memory MAAS for unit tests: every method of the MAAS port (src/maas/port.ts),
 * checked against it by `implements` (and by `satisfies` where tests build one), so no
 * test builds a partial port with a cast or a Proxy.
 *
 * What it models: machines (filters as MAAS applies them: match-any per key, all `tags`),
 * the lifecycle operations moving a machine to the status MAAS moves it to (commission →
 * Commissioning, allocate → Allocated, deploy → Deploying, release → Releasing, abort back
 * as the simulator does, markBroken → Broken, markFixed → Ready), tags and
 * block-device tags, power, zones and pools, an events feed of status changes. Network and
 * storage changes are refused with MAAS's 403 (the fake's user is not an admin) since no
 * unit test here needs them; the network reads answer what the test put in `network`.
 *
 * `before(op, args)` runs before every call: a test makes the region away, counts calls or
 * fails one operation there. `calls` records every call in order.
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
  MaasEvent,
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
import { MaasError } from "../../src/maas/errors.ts";
import type { Subnet } from "../../src/maas/schemas.ts";
import { NodeStatus as S, STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";

/** A whole machine as MAAS lists it, from the fields a test cares about. */
export function fakeMachine(p: Partial<Machine> & { system_id: string }): Machine {
  const status = (p.status ?? S.NEW) as NodeStatusCode;
  const hostname = p.hostname ?? p.system_id;
  return {
    resource_uri: `/MAAS/api/2.0/machines/${p.system_id}/`,
    hostname,
    fqdn: `${hostname}.maas`,
    status,
    status_name: STATUS_LABEL[status],
    status_message: null,
    owner: null,
    locked: false,
    tag_names: [],
    owner_data: {},
    architecture: "amd64/generic",
    osystem: "ubuntu",
    distro_series: "noble",
    power_state: "off",
    power_type: "ipmi",
    memory: 8192,
    cpu_count: 4,
    ip_addresses: [],
    interface_set: [],
    boot_interface: null,
    blockdevice_set: [],
    physicalblockdevice_set: [],
    zone: { name: "default", description: "", resource_uri: "/MAAS/api/2.0/zones/default/" },
    pool: { name: "default", description: "" },
    hardware_info: null,
    ...p,
  };
}

/** A whole VLAN as MAAS nests it in an interface or subnet (untagged, on fabric-0, unless told). */
export function fakeVlan(p: Partial<Vlan> & { id: number }): Vlan {
  return { fabric: "fabric-0", fabric_id: 0, vid: 0, mtu: 1500, dhcp_on: true, name: "untagged", space: "undefined", resource_uri: `/MAAS/api/2.0/vlans/${p.id}/`, ...p };
}

/** A whole subnet as a link holds it, its VLAN nested in full. */
export function fakeSubnet(p: Partial<Subnet> & { id: number; cidr: string }): Subnet {
  return { name: p.cidr, space: "undefined", vlan: fakeVlan({ id: 5000 + p.id }), gateway_ip: null, dns_servers: [], managed: true, resource_uri: `/MAAS/api/2.0/subnets/${p.id}/`, ...p };
}

/** A whole interface as a machine lists it (a connected physical NIC unless told). */
export function fakeInterface(p: Partial<Interface> & { id: number; name: string }): Interface {
  return { type: "physical", enabled: true, mac_address: null, vlan: null, links: [], effective_mtu: 1500, parents: [], children: [], tags: [], params: "", ...p };
}

export type FakeMaasOp = keyof MaasPort;

/** What a busy status goes to when aborted, as the simulator's abort does (src/sim/region/lifecycle.ts). */
const ABORT_TO: Partial<Record<NodeStatusCode, NodeStatusCode>> = {
  [S.COMMISSIONING]: S.NEW,
  [S.DEPLOYING]: S.ALLOCATED,
  [S.DISK_ERASING]: S.FAILED_DISK_ERASING,
};

export class FakeMaas implements MaasPort {
  readonly machines = new Map<string, Machine>();
  readonly tags = new Map<string, Tag>();
  readonly events: MaasEvent[] = [];
  readonly calls: { op: FakeMaasOp; args: readonly unknown[] }[] = [];
  /** What the network reads answer. */
  readonly network: { fabrics: Fabric[]; spaces: Space[]; subnets: SubnetWithVlan[]; ipRanges: IpRange[] } = { fabrics: [], spaces: [], subnets: [], ipRanges: [] };
  /** Runs before every call (after it is recorded): throw to fail it. */
  before: (op: FakeMaasOp, args: readonly unknown[]) => void = () => undefined;
  private nextEvent = 1;

  constructor(machines: readonly Machine[] = []) {
    for (const m of machines) this.machines.set(m.system_id, m);
  }

  /** Adds (or replaces) machines built by `fakeMachine`. */
  add(...machines: (Partial<Machine> & { system_id: string })[]): this {
    for (const m of machines) this.machines.set(m.system_id, fakeMachine(m));
    return this;
  }

  /** Changes a machine's status as MAAS would, logging the event it logs. */
  setStatus(systemId: string, status: NodeStatusCode, message: string | null = null, opts: { event?: boolean } = {}): Machine {
    const m = this.machine(systemId, "setStatus");
    const next = { ...m, status, status_name: STATUS_LABEL[status], status_message: message };
    this.machines.set(systemId, next);
    if (opts.event !== false) this.logStatus(next);
    return next;
  }

  /** Logs an event on a machine, as MAAS's event log holds it. */
  logEvent(systemId: string, type: string, description: string): void {
    const m = this.machine(systemId, "logEvent");
    this.events.push({ id: this.nextEvent++, node: systemId, hostname: m.hostname, level: "INFO", created: "Fri, 07 Dec. 2018 20:11:08", type, description, username: "admin" });
  }

  private logStatus(m: Machine): void {
    this.logEvent(m.system_id, STATUS_LABEL[m.status as NodeStatusCode], m.status_message ?? "");
  }

  private enter(op: FakeMaasOp, args: readonly unknown[]): void {
    this.calls.push({ op, args });
    this.before(op, args);
  }

  private machine(systemId: string, operation: string): Machine {
    const m = this.machines.get(systemId);
    if (!m) throw new MaasError("MAAS_NOT_FOUND", `${operation} ${systemId}: No Machine matches the given query.`, { operation, status: 404, systemId });
    return m;
  }

  private refuse(operation: string, systemId?: string): never {
    throw new MaasError("MAAS_FORBIDDEN", `${operation}: You do not have permission to perform this action.`, { operation, status: 403, ...(systemId ? { systemId } : {}) });
  }

  private change(op: FakeMaasOp, systemId: string, args: readonly unknown[], edit: (m: Machine) => Partial<Machine>): MachineState {
    this.enter(op, args);
    const m = this.machine(systemId, op);
    const e = edit(m);
    const next = { ...m, ...e, ...(e.status !== undefined ? { status_name: STATUS_LABEL[e.status as NodeStatusCode] } : {}) };
    this.machines.set(systemId, next);
    if (next.status !== m.status) this.logStatus(next);
    return stateOf(next);
  }

  private matching(f: MachineFilter = {}): Machine[] {
    const any = (want: readonly string[] | undefined, have: string | null | undefined) => want === undefined || (have !== null && have !== undefined && want.includes(have));
    return [...this.machines.values()].filter(
      (m) =>
        any(f.id, m.system_id) &&
        any(f.hostname, m.hostname) &&
        any(f.zone, m.zone.name) &&
        any(f.pool, m.pool?.name) &&
        any(f.owner, m.owner) &&
        any(f.power_state, m.power_state) &&
        any(f.status, m.status_name.toLowerCase().replaceAll(" ", "_")) &&
        (f.tags ?? []).every((t) => m.tag_names.includes(t)) &&
        !(f.not_id ?? []).includes(m.system_id) &&
        !(f.not_tags ?? []).some((t) => m.tag_names.includes(t)) &&
        !(f.not_zone ?? []).includes(m.zone.name),
    );
  }

  async version(): Promise<Version> {
    this.enter("version", []);
    return { capabilities: ["networks-management", "static-ipaddresses"], version: "3.5.4", subversion: "" };
  }
  async whoami(): Promise<User> {
    this.enter("whoami", []);
    return { username: "admin", email: null, is_superuser: false };
  }
  async listMachines(filter?: MachineFilter): Promise<Machine[]> {
    this.enter("listMachines", [filter]);
    return this.matching(filter);
  }
  async listMachineStates(filter?: MachineFilter): Promise<MachineState[]> {
    this.enter("listMachineStates", [filter]);
    return this.matching(filter).map(stateOf);
  }
  async readMachine(systemId: string): Promise<Machine> {
    this.enter("readMachine", [systemId]);
    return this.machine(systemId, "readMachine");
  }
  async createMachine(params: CreateMachineParams): Promise<Machine> {
    this.enter("createMachine", [params]);
    const systemId = `fake${this.machines.size.toString().padStart(2, "0")}`;
    const m = fakeMachine({ system_id: systemId, ...(params.hostname ? { hostname: params.hostname } : {}), architecture: params.architecture, status: params.commission === false ? S.NEW : S.COMMISSIONING });
    this.machines.set(systemId, m);
    return m;
  }
  async commission(systemId: string, params?: CommissionParams): Promise<MachineState> {
    return this.change("commission", systemId, [systemId, params], () => ({ status: S.COMMISSIONING }));
  }
  async allocate(params: AllocateParams): Promise<AllocatedMachine> {
    this.enter("allocate", [params]);
    const m = [...this.machines.values()].find((x) => x.status === S.READY && (params.system_id === undefined || x.system_id === params.system_id) && (params.tags ?? []).every((t) => x.tag_names.includes(t)));
    if (!m) throw new MaasError("MAAS_CONFLICT", "allocate: No available machine matches constraints", { operation: "allocate", status: 409 });
    this.machines.set(m.system_id, { ...m, owner: "admin" });
    return stateOf(this.setStatus(m.system_id, S.ALLOCATED));
  }
  async deploy(systemId: string, params?: DeployParams): Promise<MachineState> {
    return this.change("deploy", systemId, [systemId, params], () => ({ status: S.DEPLOYING }));
  }
  async release(systemId: string, params?: ReleaseParams): Promise<MachineState> {
    return this.change("release", systemId, [systemId, params], (m) => (m.status === S.READY || m.status === S.RELEASING ? {} : { status: S.RELEASING, owner: null }));
  }
  async releaseMany(systemIds: readonly string[], comment?: string): Promise<string[]> {
    this.enter("releaseMany", [systemIds, comment]);
    for (const id of systemIds) this.setStatus(this.machine(id, "releaseMany").system_id, S.RELEASING);
    return [...systemIds];
  }
  async abort(systemId: string, comment?: string): Promise<MachineState> {
    const to = ABORT_TO[this.machine(systemId, "abort").status as NodeStatusCode];
    if (to === undefined) {
      this.enter("abort", [systemId, comment]);
      throw new MaasError("MAAS_CONFLICT", `abort ${systemId}: Cannot abort in current state: node ${systemId} is in state ${this.machine(systemId, "abort").status_name}.`, { operation: "abort", status: 409, systemId });
    }
    return this.change("abort", systemId, [systemId, comment], () => ({ status: to, power_state: "off" }));
  }
  async markBroken(systemId: string, comment?: string): Promise<MachineState> {
    return this.change("markBroken", systemId, [systemId, comment], () => ({ status: S.BROKEN }));
  }
  async markFixed(systemId: string, comment?: string): Promise<MachineState> {
    return this.change("markFixed", systemId, [systemId, comment], () => ({ status: S.READY }));
  }
  async powerOn(systemId: string, comment?: string): Promise<MachineState> {
    return this.change("powerOn", systemId, [systemId, comment], () => ({ power_state: "on" }));
  }
  async powerOff(systemId: string, stopMode?: "hard" | "soft", comment?: string): Promise<MachineState> {
    return this.change("powerOff", systemId, [systemId, stopMode, comment], () => ({ power_state: "off" }));
  }
  async queryPowerState(systemId: string): Promise<PowerState> {
    this.enter("queryPowerState", [systemId]);
    return this.machine(systemId, "queryPowerState").power_state;
  }
  async listTags(): Promise<Tag[]> {
    this.enter("listTags", []);
    return [...this.tags.values()];
  }
  async createTag(params: CreateTagParams): Promise<Tag> {
    this.enter("createTag", [params]);
    if (this.tags.has(params.name)) throw new MaasError("MAAS_BAD_REQUEST", `createTag: {"name": ["Tag with this Name already exists."]}`, { operation: "createTag", status: 400 });
    const tag: Tag = { name: params.name, definition: params.definition ?? "", comment: params.comment ?? "", kernel_opts: params.kernel_opts ?? null };
    this.tags.set(params.name, tag);
    return tag;
  }
  async deleteTag(name: string): Promise<void> {
    this.enter("deleteTag", [name]);
    if (!this.tags.delete(name)) throw new MaasError("MAAS_NOT_FOUND", `deleteTag ${name}: No Tag matches the given query.`, { operation: "deleteTag", status: 404 });
    for (const m of this.machines.values()) this.machines.set(m.system_id, { ...m, tag_names: m.tag_names.filter((t) => t !== name) });
  }
  async updateTagNodes(name: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<{ added: number; removed: number }> {
    this.enter("updateTagNodes", [name, change]);
    if (!this.tags.has(name)) this.tags.set(name, { name, definition: "", comment: "", kernel_opts: null });
    let added = 0;
    let removed = 0;
    for (const id of change.add ?? []) {
      const m = this.machines.get(id);
      if (m && !m.tag_names.includes(name)) this.machines.set(id, { ...m, tag_names: [...m.tag_names, name] });
      added++;
    }
    for (const id of change.remove ?? []) {
      const m = this.machines.get(id);
      if (m?.tag_names.includes(name)) this.machines.set(id, { ...m, tag_names: m.tag_names.filter((t) => t !== name) });
      removed++;
    }
    return { added, removed };
  }
  async machinesByTag(name: string): Promise<Machine[]> {
    this.enter("machinesByTag", [name]);
    return this.matching({ tags: [name] });
  }
  async addBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void> {
    this.enter("addBlockDeviceTag", [systemId, deviceId, tag]);
    this.editDevice(systemId, deviceId, "addBlockDeviceTag", (d) => ({ ...d, tags: d.tags.includes(tag) ? d.tags : [...d.tags, tag] }));
  }
  async removeBlockDeviceTag(systemId: string, deviceId: number, tag: string): Promise<void> {
    this.enter("removeBlockDeviceTag", [systemId, deviceId, tag]);
    this.editDevice(systemId, deviceId, "removeBlockDeviceTag", (d) => ({ ...d, tags: d.tags.filter((t) => t !== tag) }));
  }
  private editDevice(systemId: string, deviceId: number, operation: string, edit: (d: BlockDevice) => BlockDevice): void {
    const m = this.machine(systemId, operation);
    if (!m.blockdevice_set.some((d) => d.id === deviceId)) throw new MaasError("MAAS_NOT_FOUND", `${operation} ${systemId}: No BlockDevice matches the given query.`, { operation, status: 404, systemId });
    const set = (ds: BlockDevice[]) => ds.map((d) => (d.id === deviceId ? edit(d) : d));
    // boot_disk is one of the machine's devices, so it carries the same tags.
    const bootDisk = m.boot_disk && m.boot_disk.id === deviceId ? { boot_disk: edit(m.boot_disk) } : {};
    this.machines.set(systemId, { ...m, blockdevice_set: set(m.blockdevice_set), physicalblockdevice_set: set(m.physicalblockdevice_set), ...bootDisk });
  }
  async listZones(): Promise<Zone[]> {
    this.enter("listZones", []);
    return [...new Map([...this.machines.values()].map((m) => [m.zone.name, m.zone])).values()];
  }
  async listResourcePools(): Promise<ResourcePool[]> {
    this.enter("listResourcePools", []);
    return [...new Map([...this.machines.values()].flatMap((m) => (m.pool ? [[m.pool.name, m.pool] as const] : []))).values()];
  }
  async queryEvents(query: EventsQuery = {}): Promise<EventsPage> {
    this.enter("queryEvents", [query]);
    const limit = query.limit ?? 100;
    const after = query.after;
    const wanted = this.events.filter((e) => (query.id === undefined || (e.node !== null && query.id.includes(e.node))) && (query.before === undefined || e.id < query.before));
    // MAAS returns the `limit` events closest to the cursor, newest first.
    const page = after === undefined ? wanted.slice(-limit) : wanted.filter((e) => e.id > after).slice(0, limit);
    return { count: page.length, events: [...page].reverse() };
  }
  async listFabrics(): Promise<Fabric[]> {
    this.enter("listFabrics", []);
    return this.network.fabrics;
  }
  async listVlans(fabricId: number): Promise<Vlan[]> {
    this.enter("listVlans", [fabricId]);
    const f = this.network.fabrics.find((x) => x.id === fabricId);
    if (!f) throw new MaasError("MAAS_NOT_FOUND", `listVlans ${fabricId}: No Fabric matches the given query.`, { operation: "listVlans", status: 404 });
    return f.vlans;
  }
  async listSpaces(): Promise<Space[]> {
    this.enter("listSpaces", []);
    return this.network.spaces;
  }
  async listSubnets(): Promise<SubnetWithVlan[]> {
    this.enter("listSubnets", []);
    return this.network.subnets;
  }
  async listIpRanges(): Promise<IpRange[]> {
    this.enter("listIpRanges", []);
    return this.network.ipRanges;
  }
  async readInterfaces(systemId: string): Promise<Interface[]> {
    this.enter("readInterfaces", [systemId]);
    return this.machine(systemId, "readInterfaces").interface_set;
  }
  async createBond(systemId: string, params: BondParams): Promise<Interface> {
    this.enter("createBond", [systemId, params]);
    return this.refuse("createBond", systemId);
  }
  async createVlanInterface(systemId: string, params: VlanInterfaceParams, parentName: string): Promise<Interface> {
    this.enter("createVlanInterface", [systemId, params, parentName]);
    return this.refuse("createVlanInterface", systemId);
  }
  async linkSubnet(systemId: string, interfaceId: number, params: LinkSubnetParams): Promise<Interface> {
    this.enter("linkSubnet", [systemId, interfaceId, params]);
    return this.refuse("linkSubnet", systemId);
  }
  async unlinkSubnet(systemId: string, interfaceId: number, linkId: number): Promise<Interface> {
    this.enter("unlinkSubnet", [systemId, interfaceId, linkId]);
    return this.refuse("unlinkSubnet", systemId);
  }
  async updateInterface(systemId: string, interfaceId: number, update: InterfaceUpdate): Promise<Interface> {
    this.enter("updateInterface", [systemId, interfaceId, update]);
    return this.refuse("updateInterface", systemId);
  }
  async readBlockDevices(systemId: string): Promise<BlockDevice[]> {
    this.enter("readBlockDevices", [systemId]);
    return this.machine(systemId, "readBlockDevices").blockdevice_set;
  }
  async setStorageLayout(systemId: string, params: StorageLayoutParams): Promise<MachineState> {
    this.enter("setStorageLayout", [systemId, params]);
    return this.refuse("setStorageLayout", systemId);
  }
  async setBootDisk(systemId: string, deviceId: number): Promise<void> {
    this.enter("setBootDisk", [systemId, deviceId]);
    this.refuse("setBootDisk", systemId);
  }
}

function stateOf(m: Machine): MachineState {
  return { system_id: m.system_id, hostname: m.hostname, status: m.status, status_name: m.status_name, status_message: m.status_message, owner: m.owner, locked: m.locked ?? false, power_state: m.power_state };
}
