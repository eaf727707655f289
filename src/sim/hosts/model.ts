/**
 * The shared in-process model behind every simulated host: what each machine has
 * installed and configured, and the clusters they form (one Juju controller per
 * name, one Kubernetes cluster, one MicroCeph cluster). Commands (commands.ts)
 * read and change it; the SSH fleet (server.ts) only moves bytes.
 */
import { hash32 } from "../rng.ts";
import type { SimKubeApi } from "./kube-api.ts";

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
  /** Controllers this host's juju client knows (it ran bootstrap, or registered). */
  readonly jujuControllers = new Set<string>();
  /** Commands run so far, in order (tests, and the fault dice). */
  readonly history: string[] = [];
  /**
   * Services of this installation that were stopped (`HostFleet.stopService`, `POST
   * /sim/hosts/...`): `<snap>.<service>` as `snap services` names them, or `jujud` (the
   * Juju controller's machine agent). A redeploy is a fresh installation with none stopped.
   */
  readonly stopped = new Set<string>();

  constructor(systemId: string, hostname: string, address: string, deployment: number, disks: readonly SimDisk[]) {
    this.systemId = systemId;
    this.hostname = hostname;
    this.address = address;
    this.deployment = deployment;
    this.disks = disks;
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

export interface JujuMachine {
  id: string;
  systemId: string;
  address: string;
  hasVote: boolean;
}

export interface JujuApp {
  name: string;
  charm: string;
  channel: string;
  scale: number;
  trust: boolean;
  /** Status reads since the app last changed: it settles after one. */
  readsSinceChange: number;
}

export interface JujuRelation {
  a: string;
  b: string;
}

export interface JujuModel {
  name: string;
  cloud: string;
  apps: Map<string, JujuApp>;
  relations: JujuRelation[];
}

export interface JujuController {
  name: string;
  machines: JujuMachine[];
  haRequested: number;
  clouds: Map<string, { server: string; token: string }>;
  models: Map<string, JujuModel>;
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
}

export interface CephOsd {
  id: number;
  systemId: string;
  hostname: string;
  path: string;
}

export interface CephCluster {
  members: Map<string, string>;
  tokens: Map<string, JoinToken>;
  osds: CephOsd[];
  pools: Map<string, number>;
  defaultSize: number;
}

export class SimCloud {
  readonly seed: number;
  readonly kube: SimKubeApi;
  /** Current installation of each deployed machine, by system_id. */
  readonly hosts = new Map<string, SimHost>();
  readonly byAddress = new Map<string, SimHost>();
  readonly juju = new Map<string, JujuController>();
  k8s: K8sCluster | null = null;
  ceph: CephCluster | null = null;
  private tokenCount = 0;

  constructor(seed: number, kube: SimKubeApi) {
    this.seed = seed;
    this.kube = kube;
  }

  addHost(h: SimHost): void {
    this.hosts.set(h.systemId, h);
    this.byAddress.set(h.address, h);
  }

  /** The machine was released: its installation is gone; cluster records of it stay, as they would. */
  removeHost(systemId: string): void {
    const h = this.hosts.get(systemId);
    if (h === undefined) return;
    this.hosts.delete(systemId);
    if (this.byAddress.get(h.address) === h) this.byAddress.delete(h.address);
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
