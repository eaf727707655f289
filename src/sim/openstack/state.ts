/**
 * What the simulated cloud's nova and neutron know, kept beside the simulated hosts
 * (src/sim/hosts/model.ts holds one) and served by api-server.ts. Facts, with sources:
 *
 * - A nova-compute service record is written when nova-compute first starts on a host and
 *   is found again by (host, binary) on later starts, with its `disabled` flag as it was: a
 *   host that comes back under the same name after its record was disabled and not deleted
 *   comes back disabled (openstack/nova nova/service.py, Service.start: get_by_host_and_binary
 *   before create). Here nova-compute starts when an openstack-hypervisor unit's relations are
 *   ready on an installation (src/sim/hosts/charm-effects.ts configureHypervisor), once per
 *   installation. A deleted record is gone for good; the next start creates a new one (a new UUID).
 * - `state` is "up" while the service reports (nova's servicegroup: heartbeat within
 *   service_down_time) and not `forced_down`: here, while that installation is still the
 *   host's and runs the hypervisor snap with `openstack-hypervisor.nova-compute` not stopped.
 * - Neutron's OVN agents are rows derived from OVN's southbound Chassis/Chassis_Private
 *   (openstack/neutron neutron/plugins/ml2/drivers/ovn/agent/neutron_agent.py): an
 *   "OVN Controller agent" (binary `ovn-controller`, id = the chassis name) per chassis, and an
 *   "OVN Metadata agent" (binary `neutron-ovn-metadata-agent`, its own id) where the metadata
 *   agent runs (the hypervisor snap, SNAP_SERVICES). Deleting one deletes its chassis; a
 *   running ovn-controller writes it again (mech_driver.py delete_agent's note), so an agent
 *   deleted while the host's chassis still runs comes back. A chassis that stopped without
 *   cleaning up (a dead host) stays listed, not alive, until deleted. The chassis name is the
 *   host's OVS system-id, generated afresh by each installation.
 */
import { hash32 } from "../rng.ts";

export const NOVA_COMPUTE = "nova-compute";
export const OVN_CONTROLLER_AGENT = "OVN Controller agent";
export const OVN_METADATA_AGENT = "OVN Metadata agent";

/** One installation of a host (a redeploy is another). */
export interface Installation {
  systemId: string;
  hostname: string;
  deployment: number;
}

export interface ComputeRecord {
  /** Nova's integer id (microversions below 2.53). */
  id: number;
  uuid: string;
  host: string;
  binary: typeof NOVA_COMPUTE;
  /** The installation whose nova-compute last started with this record. */
  at: Installation;
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  /** Wall ms of the last report while up. */
  updatedAt: number;
  /** Instances (UUIDs) on the host: nova refuses to delete the service while there are any. */
  instances: string[];
}

export interface AgentRecord {
  id: string;
  agentType: typeof OVN_CONTROLLER_AGENT | typeof OVN_METADATA_AGENT;
  binary: "ovn-controller" | "neutron-ovn-metadata-agent";
  host: string;
  chassis: string;
  at: Installation;
  updatedAt: number;
}

/** What is running right now, read from the simulated hosts on every answer. */
export interface OpenStackLiveness {
  novaComputeRunning(at: Installation): boolean;
  ovnControllerRunning(at: Installation): boolean;
  metadataAgentRunning(at: Installation): boolean;
}

/** A seeded UUID (v4 layout) from its parts. */
export function seededUuid(seed: number, ...parts: (string | number)[]): string {
  const hex = [0, 1, 2, 3].map((i) => hash32(seed, "uuid", ...parts, i).toString(16).padStart(8, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((parseInt(hex[16] ?? "0", 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export class SimOpenStack {
  /** By UUID. */
  readonly services = new Map<string, ComputeRecord>();
  /** By agent id. */
  readonly agents = new Map<string, AgentRecord>();
  private readonly seed: number;
  private readonly live: OpenStackLiveness;
  private readonly now: () => number;
  private nextId = 1;
  private created = 0;

  constructor(seed: number, live: OpenStackLiveness, now: () => number) {
    this.seed = seed;
    this.live = live;
    this.now = now;
  }

  /** nova-compute started on `at`: its record by (host, binary), or a new enabled one. */
  computeStarted(at: Installation): ComputeRecord {
    const have = this.computeOf(at.hostname);
    if (have !== undefined) {
      have.at = { ...at };
      have.updatedAt = this.now();
      return have;
    }
    const uuid = seededUuid(this.seed, "nova-compute", at.systemId, at.deployment, this.created++);
    const r: ComputeRecord = { id: this.nextId++, uuid, host: at.hostname, binary: NOVA_COMPUTE, at: { ...at }, disabled: false, disabledReason: null, forcedDown: false, updatedAt: this.now(), instances: [] };
    this.services.set(uuid, r);
    return r;
  }

  computeOf(hostname: string): ComputeRecord | undefined {
    for (const r of this.services.values()) if (r.host === hostname && r.binary === NOVA_COMPUTE) return r;
    return undefined;
  }

  /** nova's servicegroup view: up while it reports and is not forced down. */
  isUp(r: ComputeRecord): boolean {
    const up = !r.forcedDown && this.live.novaComputeRunning(r.at);
    if (up) r.updatedAt = this.now();
    return up;
  }

  /** The hypervisor charm's `disable` / `enable` actions (its snap's `hypervisor disable|enable`). */
  setComputeDisabled(hostname: string, disabled: boolean): void {
    const r = this.computeOf(hostname);
    if (r === undefined) return;
    r.disabled = disabled;
    if (!disabled) r.disabledReason = null;
  }

  /**
   * The chassis that run now (microovn units with the chassis role) and which of them run the
   * metadata agent: each gets its agents unless it has them (a deleted one is written again).
   */
  syncAgents(chassis: readonly Installation[], metadata: ReadonlySet<string>): void {
    for (const at of chassis) {
      const name = this.chassisName(at);
      if (!this.agents.has(name)) this.agents.set(name, { id: name, agentType: OVN_CONTROLLER_AGENT, binary: "ovn-controller", host: at.hostname, chassis: name, at: { ...at }, updatedAt: this.now() });
      const mid = seededUuid(this.seed, "ovn-metadata", name);
      if (metadata.has(at.systemId) && !this.agents.has(mid)) this.agents.set(mid, { id: mid, agentType: OVN_METADATA_AGENT, binary: "neutron-ovn-metadata-agent", host: at.hostname, chassis: name, at: { ...at }, updatedAt: this.now() });
    }
  }

  /** The OVS system-id of an installation: its chassis name. */
  chassisName(at: Installation): string {
    return seededUuid(this.seed, "ovs-system-id", at.systemId, at.deployment);
  }

  isAlive(a: AgentRecord): boolean {
    const alive = a.agentType === OVN_CONTROLLER_AGENT ? this.live.ovnControllerRunning(a.at) : this.live.ovnControllerRunning(a.at) && this.live.metadataAgentRunning(a.at);
    if (alive) a.updatedAt = this.now();
    return alive;
  }

  /** Deleting an agent deletes its chassis's rows: both agents of that chassis go. */
  deleteAgent(id: string): boolean {
    const a = this.agents.get(id);
    if (a === undefined) return false;
    for (const [k, x] of [...this.agents]) if (x.chassis === a.chassis) this.agents.delete(k);
    return true;
  }

  /** Instances on a host (tests, rehearsals): nova then refuses to delete its service, and `running-guests` lists them. */
  placeInstances(hostname: string, count: number): string[] {
    const r = this.computeOf(hostname);
    if (r === undefined) return [];
    r.instances = Array.from({ length: count }, (_, i) => seededUuid(this.seed, "instance", r.uuid, i));
    return r.instances;
  }
}
