/**
 * Several MAAS regions behind the one `MaasPort` the runtime, the plan and the service
 * use. Every machine is named by its host key `<region>/<system_id>` (system_ids are
 * unique only within a region; state-machines/rollout/regions.ts): a call about one
 * machine goes to its region, with the bare system_id; a list goes to every region (or to
 * those its `id=` filter names) and its answers come back with keys. Each region is a
 * `RegionLink` (region-link.ts), so a region that stops answering holds only the calls to
 * it. What has no single answer across regions (the events feed's cursor, the network
 * model's ids, creating a machine) is refused here with REGIONS_AMBIGUOUS: the runtime
 * reads events through `only(region)`, one observer per region.
 */
import { MetalwaveError } from "../errors.ts";
import { MaasError } from "./errors.ts";
import { hostKey, regionOfKey, systemIdOfKey } from "../../state-machines/rollout/regions.ts";
import { isRegionUnreachable, type RegionLink } from "./region-link.ts";
import type {
  AllocateParams,
  BondParams,
  CommissionParams,
  CreateMachineParams,
  CreateTagParams,
  DeployParams,
  EventsQuery,
  InterfaceUpdate,
  LinkSubnetParams,
  MaasPort,
  MachineFilter,
  ReleaseParams,
  StorageLayoutParams,
  VlanInterfaceParams,
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

export type RegionsErrorCode = "REGIONS_AMBIGUOUS" | "REGIONS_UNKNOWN_REGION" | "REGIONS_USER_MISMATCH" | "REGIONS_UNREACHABLE";

export class RegionsError extends MetalwaveError<RegionsErrorCode> {
  readonly code: RegionsErrorCode;
  constructor(code: RegionsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

function keyed<T extends { system_id: string }>(region: string, m: T): T {
  return { ...m, system_id: hostKey(region, m.system_id) };
}

export class RegionsMaas implements MaasPort {
  readonly links: ReadonlyMap<string, RegionLink>;

  constructor(links: readonly RegionLink[]) {
    if (links.length === 0) throw new RegionsError("REGIONS_UNKNOWN_REGION", "no region given");
    this.links = new Map(links.map((l) => [l.name, l]));
  }

  get names(): string[] {
    return [...this.links.keys()];
  }

  /** The same port over one region only (its observer's view: events and reads of its machines, keyed). */
  only(region: string): RegionsMaas {
    return new RegionsMaas([this.link(region)]);
  }

  /** The same port over some of the regions (a pass over hosts of those regions only waits for none of the others). */
  subset(regions: readonly string[]): RegionsMaas {
    return new RegionsMaas([...new Set(regions)].map((r) => this.link(r)));
  }

  /**
   * The machines of every region that answers now: a region already down, or found
   * unreachable by this listing (after the client's retries), is left out and named
   * instead of waited for. For passes that must not wait for a region that is away.
   */
  async listMachinesAnswering(filter: Pick<MachineFilter, "tags"> = {}): Promise<{ machines: Machine[]; unreachable: string[] }> {
    const parts = await Promise.all(
      [...this.links.values()].map(async (l) => {
        if (!l.isUp) return { region: l.name, machines: null };
        try {
          return { region: l.name, machines: (await l.call((p) => p.listMachines(filter), false)).map((m) => keyed(l.name, m)) };
        } catch (e) {
          if (isRegionUnreachable(e)) return { region: l.name, machines: null };
          throw e;
        }
      }),
    );
    return { machines: parts.flatMap((p) => p.machines ?? []), unreachable: parts.filter((p) => p.machines === null).map((p) => p.region) };
  }

  private link(region: string | null): RegionLink {
    const l = region === null ? undefined : this.links.get(region);
    if (!l) throw new RegionsError("REGIONS_UNKNOWN_REGION", `no region ${JSON.stringify(region)} in this deployment (regions: ${this.names.join(", ")})`);
    return l;
  }

  /** One machine's call, in its region, with its bare system_id. */
  private on<T>(key: string, fn: (p: MaasPort, systemId: string) => Promise<T>, repeatable = true): Promise<T> {
    return this.link(regionOfKey(key)).call((p) => fn(p, systemIdOfKey(key)), repeatable);
  }

  private onMachine<T extends { system_id: string }>(key: string, fn: (p: MaasPort, systemId: string) => Promise<T>): Promise<T> {
    const region = regionOfKey(key) as string;
    return this.on(key, fn).then((m) => keyed(region, m));
  }

  private all<T>(fn: (p: MaasPort, region: string) => Promise<T>): Promise<{ region: string; value: T }[]> {
    return Promise.all([...this.links.values()].map(async (l) => ({ region: l.name, value: await l.call((p) => fn(p, l.name)) })));
  }

  /** Host keys grouped by region, as bare system_ids. */
  private byRegion(keys: readonly string[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const k of keys) {
      const r = regionOfKey(k);
      this.link(r);
      const list = out.get(r as string) ?? [];
      list.push(systemIdOfKey(k));
      out.set(r as string, list);
    }
    return out;
  }

  private single(what: string): RegionLink {
    if (this.links.size === 1) return [...this.links.values()][0] as RegionLink;
    throw new RegionsError("REGIONS_AMBIGUOUS", `${what} has no single answer across the regions ${this.names.join(", ")}; ask one region`);
  }

  private async listKeyed<T extends { system_id: string }>(filter: MachineFilter, list: (p: MaasPort, f: MachineFilter) => Promise<T[]>): Promise<T[]> {
    const targets = await this.listTargets(filter);
    const parts = await Promise.all([...targets].map(async ([r, f]) => (await this.link(r).call((p) => list(p, f))).map((m) => keyed(r, m))));
    return parts.flat();
  }

  /** Which regions a list with `filter` asks, each with its part of the filter. */
  private async listTargets(filter: MachineFilter): Promise<Map<string, MachineFilter>> {
    const targets = new Map<string, MachineFilter>();
    if (filter.id) {
      for (const [r, ids] of this.byRegion(filter.id)) targets.set(r, { ...filter, id: ids });
    } else {
      for (const r of this.names) targets.set(r, filter);
    }
    if (filter.not_id) {
      const not = this.byRegion(filter.not_id);
      for (const [r, f] of targets) targets.set(r, { ...f, not_id: not.get(r) ?? [] });
    }
    if (filter.zone) {
      // A zone is a region's: ask each region only about the zones it has.
      for (const [r, f] of [...targets]) {
        const zones = new Set((await this.link(r).call((p) => p.listZones())).map((z) => z.name));
        const mine = filter.zone.filter((z) => zones.has(z));
        if (mine.length === 0) targets.delete(r);
        else targets.set(r, { ...f, zone: mine });
      }
    }
    return targets;
  }

  version(): Promise<Version> {
    return this.single("version").call((p) => p.version());
  }

  /** Every region's key must act as the same MAAS user: ownership checks compare against it. */
  async whoami(): Promise<User> {
    const users = await this.all((p) => p.whoami());
    const first = users[0] as { region: string; value: User };
    const other = users.find((u) => u.value.username !== first.value.username);
    if (other) {
      throw new RegionsError(
        "REGIONS_USER_MISMATCH",
        `region ${other.region}'s API key acts as MAAS user ${other.value.username}, region ${first.region}'s as ${first.value.username}: every region's key must be the same user's`,
      );
    }
    return first.value;
  }

  listMachines(filter: MachineFilter = {}): Promise<Machine[]> {
    return this.listKeyed(filter, (p, f) => p.listMachines(f));
  }
  listMachineStates(filter: MachineFilter = {}): Promise<MachineState[]> {
    return this.listKeyed(filter, (p, f) => p.listMachineStates(f));
  }
  async listMachinesEach<R>(filter: MachineFilter, each: (m: PlanningMachine) => R): Promise<R[]> {
    const targets = await this.listTargets(filter);
    const parts = await Promise.all(
      [...targets].map(([r, f]) =>
        this.link(r).call((p) => (p.listMachinesEach ? p.listMachinesEach(f, (m) => each(keyed(r, m))) : p.listMachines(f).then((ms) => ms.map((m) => each(keyed(r, m)))))),
      ),
    );
    return parts.flat();
  }
  readMachine(key: string): Promise<Machine> {
    return this.onMachine(key, (p, id) => p.readMachine(id));
  }
  createMachine(_params: CreateMachineParams): Promise<Machine> {
    return this.single("createMachine").call((p) => p.createMachine(_params), false);
  }
  commission(key: string, params?: CommissionParams): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.commission(id, params));
  }
  allocate(params: AllocateParams): Promise<AllocatedMachine> {
    if (!params.system_id) throw new RegionsError("REGIONS_AMBIGUOUS", "allocate without a system_id has no single region to ask");
    return this.onMachine(params.system_id, (p, id) => p.allocate({ ...params, system_id: id }));
  }
  deploy(key: string, params?: DeployParams): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.deploy(id, params));
  }
  release(key: string, params?: ReleaseParams): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.release(id, params));
  }
  async releaseMany(keys: readonly string[], comment?: string): Promise<string[]> {
    const parts = await Promise.all([...this.byRegion(keys)].map(async ([r, ids]) => (await this.link(r).call((p) => p.releaseMany(ids, comment), false)).map((id) => hostKey(r, id))));
    return parts.flat();
  }
  abort(key: string, comment?: string): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.abort(id, comment));
  }
  markBroken(key: string, comment?: string): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.markBroken(id, comment));
  }
  markFixed(key: string, comment?: string): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.markFixed(id, comment));
  }
  powerOn(key: string, comment?: string): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.powerOn(id, comment));
  }
  powerOff(key: string, stopMode?: "hard" | "soft", comment?: string): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.powerOff(id, stopMode, comment));
  }
  queryPowerState(key: string): Promise<PowerState> {
    return this.on(key, (p, id) => p.queryPowerState(id));
  }

  /** The tags every region has (a tag one region lacks is created there by createTag). */
  async listTags(): Promise<Tag[]> {
    const per = await this.all((p) => p.listTags());
    const [first, ...rest] = per;
    if (!first) return [];
    const names = rest.map((r) => new Set(r.value.map((t) => t.name)));
    return first.value.filter((t) => names.every((n) => n.has(t.name)));
  }
  /** Creates the tag in every region that lacks it. */
  async createTag(params: CreateTagParams): Promise<Tag> {
    const made = await this.all(async (p) => {
      const has = (await p.listTags()).find((t) => t.name === params.name);
      return has ?? p.createTag(params);
    });
    return (made[0] as { value: Tag }).value;
  }
  async deleteTag(name: string): Promise<void> {
    await this.all((p) => p.deleteTag(name).catch((e: unknown) => (e instanceof MaasError && e.code === "MAAS_NOT_FOUND" ? undefined : Promise.reject(e))));
  }
  async updateTagNodes(name: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<{ added: number; removed: number }> {
    const add = this.byRegion(change.add ?? []);
    const remove = this.byRegion(change.remove ?? []);
    const regions = new Set([...add.keys(), ...remove.keys()]);
    const answers = await Promise.all(
      [...regions].map((r) => this.link(r).call((p) => p.updateTagNodes(name, { ...(add.has(r) ? { add: add.get(r) } : {}), ...(remove.has(r) ? { remove: remove.get(r) } : {}) }))),
    );
    return answers.reduce((s, a) => ({ added: s.added + a.added, removed: s.removed + a.removed }), { added: 0, removed: 0 });
  }
  async machinesByTag(name: string): Promise<Machine[]> {
    return (await this.all((p) => p.machinesByTag(name))).flatMap((r) => r.value.map((m) => keyed(r.region, m)));
  }
  addBlockDeviceTag(key: string, deviceId: number, tag: string): Promise<void> {
    return this.on(key, (p, id) => p.addBlockDeviceTag(id, deviceId, tag));
  }
  removeBlockDeviceTag(key: string, deviceId: number, tag: string): Promise<void> {
    return this.on(key, (p, id) => p.removeBlockDeviceTag(id, deviceId, tag));
  }

  /** Every region's zones (a name two regions share is listed once: zones are planned by name). */
  async listZones(): Promise<Zone[]> {
    const seen = new Map<string, Zone>();
    for (const r of await this.all((p) => p.listZones())) for (const z of r.value) if (!seen.has(z.name)) seen.set(z.name, z);
    return [...seen.values()];
  }
  async listResourcePools(): Promise<ResourcePool[]> {
    const seen = new Map<string, ResourcePool>();
    for (const r of await this.all((p) => p.listResourcePools())) for (const z of r.value) if (!seen.has(z.name)) seen.set(z.name, z);
    return [...seen.values()];
  }

  /** One region only: each region's feed has its own event ids (the runtime keeps one cursor per region). */
  async queryEvents(query?: EventsQuery): Promise<EventsPage> {
    const l = this.single("the events feed");
    const q = query?.id ? { ...query, id: query.id.map(systemIdOfKey) } : query;
    const page = await l.call((p) => p.queryEvents(q));
    return { ...page, events: page.events.map((e) => (e.node ? { ...e, node: hostKey(l.name, e.node) } : e)) };
  }

  // The network model: ids are each region's own. One region only (config refuses `network` with several).
  listFabrics(): Promise<Fabric[]> {
    return this.single("listFabrics").call((p) => p.listFabrics());
  }
  listVlans(fabricId: number): Promise<Vlan[]> {
    return this.single("listVlans").call((p) => p.listVlans(fabricId));
  }
  listSpaces(): Promise<Space[]> {
    return this.single("listSpaces").call((p) => p.listSpaces());
  }
  listSubnets(): Promise<SubnetWithVlan[]> {
    return this.single("listSubnets").call((p) => p.listSubnets());
  }
  listIpRanges(): Promise<IpRange[]> {
    return this.single("listIpRanges").call((p) => p.listIpRanges());
  }

  readInterfaces(key: string): Promise<Interface[]> {
    return this.on(key, (p, id) => p.readInterfaces(id));
  }
  createBond(key: string, params: BondParams): Promise<Interface> {
    return this.on(key, (p, id) => p.createBond(id, params));
  }
  createVlanInterface(key: string, params: VlanInterfaceParams, parentName: string): Promise<Interface> {
    return this.on(key, (p, id) => p.createVlanInterface(id, params, parentName));
  }
  linkSubnet(key: string, interfaceId: number, params: LinkSubnetParams): Promise<Interface> {
    return this.on(key, (p, id) => p.linkSubnet(id, interfaceId, params));
  }
  unlinkSubnet(key: string, interfaceId: number, linkId: number): Promise<Interface> {
    return this.on(key, (p, id) => p.unlinkSubnet(id, interfaceId, linkId));
  }
  updateInterface(key: string, interfaceId: number, update: InterfaceUpdate): Promise<Interface> {
    return this.on(key, (p, id) => p.updateInterface(id, interfaceId, update));
  }
  readBlockDevices(key: string): Promise<BlockDevice[]> {
    return this.on(key, (p, id) => p.readBlockDevices(id));
  }
  setStorageLayout(key: string, params: StorageLayoutParams): Promise<MachineState> {
    return this.onMachine(key, (p, id) => p.setStorageLayout(id, params));
  }
  setBootDisk(key: string, deviceId: number): Promise<void> {
    return this.on(key, (p, id) => p.setBootDisk(id, deviceId));
  }
}
