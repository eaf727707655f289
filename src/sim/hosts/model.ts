/**
 * The shared in-process model behind every simulated host: what each machine has
 * installed and configured, and the clusters they form (one Juju controller per
 * name, one Kubernetes cluster, one MicroCeph cluster). Commands (commands.ts)
 * read and change it; the SSH fleet (server.ts) only moves bytes.
 */
import { hash32 } from "../rng.ts";
import { JujuWorld } from "../juju/controller.ts";
import { newClientState } from "../juju/types.ts";
import type { JujuClientState, JujuEnv, JujuMachine, JujuModel as SimJujuModel, JujuTimings, NetInterface } from "../juju/types.ts";
import type { SimKubeApi } from "./kube-api.ts";
import { SimOpenStack, type Installation } from "../openstack/state.ts";
import { systemClock, type Clock } from "../../clock.ts";

export interface CmdResult {
  code: number;
  out: string;
  err: string;
}

export interface SimDisk {
  idPath: string;
  sizeBytes: number;
  /** Holds the OS: microceph refuses it. */
  root: boolean;
  tags: readonly string[];
}

export interface SnapState {
  channel: string;
  version: string;
  revision: number;
  classic: boolean;
  config: Map<string, string>;
}

/** One installation of one machine: a redeploy replaces it with a fresh one. */
export class SimHost {
  readonly systemId: string;
  readonly hostname: string;
  readonly address: string;
  /** MAAS's deploy count for the machine: seeds the host key. */
  readonly deployment: number;
  readonly disks: readonly SimDisk[];
  readonly snaps = new Map<string, SnapState>();
  readonly files = new Map<string, string>();
  /** What this host's juju client knows (controllers it bootstrapped, --client clouds). */
  readonly juju: JujuClientState = newClientState();
  /** The Juju machine agent installed on this installation (bootstrap, add-machine ssh:), if any. */
  jujuAgent: { controller: string; model: string; machine: string } | undefined;
  /** Its network interfaces (one per address; the sim's hosts have one). */
  readonly interfaces: NetInterface[];
  /** Commands run so far, in order (tests, and the fault dice). */
  readonly history: string[] = [];
  /**
   * Services of this installation that were stopped (`HostFleet.stopService`, `POST
   * /sim/hosts/...`): `<snap>.<service>` as `snap services` names them, or `jujud` (the
   * Juju controller's machine agent). A redeploy is a fresh installation with none stopped.
   */
  readonly stopped = new Set<string>();

  /** `interfaces`: the deployed machine's addresses with their subnets (MAAS's links); default one on 127.0.0.0/8. */
  constructor(systemId: string, hostname: string, address: string, deployment: number, disks: readonly SimDisk[], interfaces?: readonly NetInterface[]) {
    this.systemId = systemId;
    this.hostname = hostname;
    this.address = address;
    this.deployment = deployment;
    this.disks = disks;
    this.interfaces = interfaces?.length ? interfaces.map((i) => ({ ...i })) : [{ name: "enp1s0", address, cidr: "127.0.0.0/8", mac: `52:54:00:${[0, 1, 2].map((i) => (hash32(deployment, systemId, i) % 256).toString(16).padStart(2, "0")).join(":")}` }];
    this.files.set("/etc/hostname", `${hostname}\n`);
  }
}

/** The services each emulated snap runs, as `snap services` lists them (a snap not listed runs `daemon`). */
export const SNAP_SERVICES: Readonly<Record<string, readonly string[]>> = {
  "openstack-hypervisor": ["libvirtd", "neutron-ovn-metadata-agent", "nova-compute", "ovn-controller"],
  k8s: ["containerd", "k8sd", "kubelet"],
  microceph: ["daemon", "mds", "mgr", "mon", "osd"],
};

/** The Juju controller's machine agent on a controller machine (a systemd unit, not a snap service). */
export const JUJU_AGENT = "jujud";

export function snapServices(snap: string): readonly string[] {
  return SNAP_SERVICES[snap] ?? ["daemon"];
}


export interface JoinToken {
  token: string;
  /** The only hostname that may use it. */
  hostname: string;
  used: boolean;
}

export interface K8sCluster {
  bootstrapHost: string;
  members: Map<string, string>;
  tokens: Map<string, JoinToken>;
  /** Off after bootstrap (K8S:bootstrap_config.md); l2-mode on by default once enabled. */
  loadBalancer: { enabled: boolean; l2Mode: boolean; bgpMode: boolean; cidrs: string[] };
}

export interface CephOsd {
  id: number;
  systemId: string;
  /** The installation that created it (a redeployed host's old OSDs stay in the map, down). */
  deployment: number;
  hostname: string;
  path: string;
}

export interface CephCluster {
  members: Map<string, string>;
  tokens: Map<string, JoinToken>;
  osds: CephOsd[];
  pools: Map<string, number>;
  defaultSize: number;
  /** `mon_allow_pool_size_one` (set by `pool set-rf --size 1`, or `config set`). */
  allowSizeOne: boolean;
}

export interface OvnCluster {
  members: Map<string, { hostname: string; services: Set<string> }>;
  tokens: Map<string, JoinToken>;
}

/** How long the k8s snap's own work takes here (simulator parameters, see k8s-cli.ts). */
export interface K8sTimings {
  bootstrapMs: number;
  joinMs: number;
}

export interface SimCloudOptions {
  jujuTimings?: Partial<JujuTimings>;
  k8sTimings?: Partial<K8sTimings>;
  /** The clock Juju's asynchronous behaviour runs on (src/clock.ts). Default: the system clock. */
  clock?: Clock;
}

export class SimCloud {
  readonly seed: number;
  readonly kube: SimKubeApi;
  /** Current installation of each deployed machine, by system_id. */
  readonly hosts = new Map<string, SimHost>();
  readonly byAddress = new Map<string, SimHost>();
  /** The simulated Juju (src/sim/juju): every controller, model, machine, unit. */
  readonly jujuWorld: JujuWorld;
  readonly k8sTimings: K8sTimings;
  readonly now: () => number;
  /** `<systemId>:<id_path>` of disks an earlier installation used as OSDs: their data is still on them. */
  readonly formerOsdDisks = new Set<string>();
  k8s: K8sCluster | null = null;
  ceph: CephCluster | null = null;
  ovn: OvnCluster | null = null;
  /** Hosts the k8s / microceph charms joined to their clusters (their removal takes them out). */
  readonly charmK8s = new Set<string>();
  /** The labels each host's k8s unit put on its node from the charm's `node-labels` (removed again when dropped from the config). */
  readonly k8sCharmLabels = new Map<string, Record<string, string>>();
  readonly charmCeph = new Set<string>();
  /** Hosts with an openstack-hypervisor unit (its removal removes the snap). */
  readonly charmHypervisor = new Set<string>();
  /**
   * Hosts whose units went with their machine while its agent was down (`remove-machine
   * --force` of a dead machine): no stop hook ran on them, so their clusters still count them.
   */
  readonly removedUnhooked = new Set<string>();
  /**
   * Hosts (system_id) whose next `add-machine ssh:` is cut short (a test hook, docs/simulated-juju.md):
   * the client records the machine, its provisioning script installs the jujud-machine service and
   * then fails, and the client's deferred cleanup destroys the machine it recorded
   * (JJ:environs/manual/sshprovisioner/provisioner.go ProvisionMachine). The host is left
   * provisioned (checkProvisioned sees the service) and unknown to Juju.
   */
  readonly provisioningCutShort = new Set<string>();
  /** Hostnames with an OVN chassis (microovn units with the chassis role). */
  readonly ovnChassis = new Set<string>();
  /** Where each controller machine's API listens (address → port), once it does (juju-api-server.ts). */
  readonly jujuApiPorts = new Map<string, number>();
  /** Where the OpenStack API listens on each ingress address (address → port), once it does (src/sim/openstack/api-server.ts). */
  readonly openstackApiPorts = new Map<string, number>();
  /** What nova and neutron know: compute services and OVN agents (src/sim/openstack/state.ts). */
  readonly openstack: SimOpenStack;
  actionCount = 0;
  private tokenCount = 0;

  constructor(seed: number, kube: SimKubeApi, opts: SimCloudOptions = {}) {
    this.seed = seed;
    this.kube = kube;
    const clock = opts.clock ?? systemClock;
    this.now = () => clock.wallNow();
    this.jujuWorld = new JujuWorld(seed, opts.jujuTimings);
    this.k8sTimings = { bootstrapMs: 150_000, joinMs: 120_000, ...opts.k8sTimings };
    // What runs on an installation right now: that installation still the host's, its snap, its service not stopped.
    const current = (at: Installation) => {
      const h = this.hosts.get(at.systemId);
      return h !== undefined && h.deployment === at.deployment ? h : undefined;
    };
    const runs = (at: Installation, snap: string, service: string) => {
      const h = current(at);
      return h !== undefined && h.snaps.has(snap) && !h.stopped.has(`${snap}.${service}`);
    };
    this.openstack = new SimOpenStack(seed, {
      novaComputeRunning: (at) => runs(at, "openstack-hypervisor", "nova-compute"),
      ovnControllerRunning: (at) => current(at) !== undefined && this.ovnChassis.has(at.hostname),
      metadataAgentRunning: (at) => runs(at, "openstack-hypervisor", "neutron-ovn-metadata-agent"),
    }, this.now);
  }

  /** Keystone's URL as the cloud publishes it: its ingress path on traefik's load-balancer address (undefined: none yet). */
  keystoneUrl(model: SimJujuModel): string | undefined {
    const traefik = [...model.apps.values()].find((a) => a.charm.name === "traefik-k8s");
    const keystone = [...model.apps.values()].find((a) => a.charm.name === "keystone-k8s");
    const addr = traefik === undefined ? undefined : this.kube.externalAddress(model.name, traefik.name);
    if (addr === undefined || keystone === undefined) return undefined;
    const port = this.openstackApiPorts.get(addr) ?? 80;
    return `http://${addr}${port === 80 ? "" : `:${port}`}/${model.name}-${keystone.name}/v3`;
  }

  /** What the simulated Juju reads of the hosts and Kubernetes (agents alive, load-balancer addresses). */
  readonly jujuEnv: JujuEnv = {
    agentAlive: (m: JujuMachine) => {
      const h = m.host ? this.hosts.get(m.host.systemId) : undefined;
      return h !== undefined && h.deployment === m.host?.deployment && h.jujuAgent !== undefined && !h.stopped.has(JUJU_AGENT);
    },
    // A LoadBalancer service's own address; any other application is reached through the model's traefik (ingress).
    externalAddress: (model: SimJujuModel, app: string) => {
      if (this.kube.services.get(`${model.name}/${app}`)?.type === "LoadBalancer") return this.kube.externalAddress(model.name, app);
      const traefik = [...model.apps.values()].find((a) => a.charm.name === "traefik-k8s");
      return traefik ? this.kube.externalAddress(model.name, traefik.name) : undefined;
    },
  };

  addHost(h: SimHost): void {
    this.hosts.set(h.systemId, h);
    this.byAddress.set(h.address, h);
  }

  /** The machine was released: its installation is gone; cluster records of it stay, as they would. */
  removeHost(systemId: string): void {
    const h = this.hosts.get(systemId);
    if (h === undefined) return;
    this.hosts.delete(systemId);
    // Its OSDs' data stays on the disks until MAAS erases them (disksErased).
    for (const o of this.ceph?.osds ?? []) if (o.systemId === systemId) this.formerOsdDisks.add(`${systemId}:${o.path}`);
    if (this.byAddress.get(h.address) === h) this.byAddress.delete(h.address);
  }

  /**
   * A release with erase finished: every mode (full, quick, secure) destroys the partition
   * table and the LVM/BlueStore labels at the start of each disk, so the disks of its former
   * OSDs are blank again (MicroCeph lists them as unpartitioned, adds them without --wipe).
   */
  disksErased(systemId: string): void {
    for (const k of [...this.formerOsdDisks]) if (k.startsWith(`${systemId}:`)) this.formerOsdDisks.delete(k);
  }

  /** The same secret every time for the same parts (a charm's stored password). */
  stableSecret(...parts: string[]): string {
    return [0, 1, 2].map((i) => hash32(this.seed, "secret", ...parts, i).toString(36)).join("").slice(0, 20);
  }

  /** A fresh, seeded, unguessable-looking token. */
  newToken(kind: string): string {
    const n = this.tokenCount++;
    const parts = [0, 1, 2, 3, 4, 5].map((i) => hash32(this.seed, kind, n, i).toString(16).padStart(8, "0"));
    return Buffer.from(`${kind}:${parts.join("")}`).toString("base64");
  }
}
