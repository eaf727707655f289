/**
 * The simulated Juju's entities: controllers, models, machines, applications, units,
 * relations, offers, remote applications (consumers) and spaces. Plain data; the rules
 * that change and read them are in controller.ts and status.ts. Times are milliseconds
 * from the injected clock, so every asynchronous behaviour (a machine's agent starting,
 * a unit settling, a controller gaining its vote) is a pure function of the clock.
 */
import type { CharmSpec } from "./charms.ts";

export type Life = "alive" | "dying" | "dead";

export interface NetInterface {
  name: string;
  address: string;
  cidr: string;
  mac: string;
}

/** The host a machine was provisioned on (manual provisioning; the bootstrap machine). */
export interface MachineHost {
  systemId: string;
  hostname: string;
  address: string;
  /** MAAS's deploy count of the installation the agent was installed on. */
  deployment: number;
  interfaces: NetInterface[];
}

export interface JujuMachine {
  id: string;
  /** `manual:` for a manual cloud's bootstrap machine, `manual:<addr>` for ssh-added ones, "" while unprovisioned. */
  instanceId: string;
  host: MachineHost | undefined;
  /** Set when the provider cannot create the machine: it stays in provisioning error. */
  provisioningError: string | undefined;
  base: string;
  constraints: string;
  jobs: ("JobHostUnits" | "JobManageModel")[];
  createdAt: number;
  /** Controller machines: it wants a vote since this time (enable-ha, bootstrap). */
  wantsVoteSince: number | undefined;
  life: Life;
  nonce: string;
}

export interface JujuUnit {
  name: string;
  app: string;
  /** Machine id (machine models); undefined for Kubernetes units and subordinates. */
  machine: string | undefined;
  /** The principal unit of a subordinate. */
  principal: string | undefined;
  createdAt: number;
  life: Life;
  address: string;
  /**
   * A hook that failed, until `resolved`: the uniter records the agent in error with
   * `hook failed: "<hook>"`, which Juju reports as the unit's workload status, the agent
   * then showing idle (JJ:worker/uniter/uniter.go; JJ:state/unit.go Unit.Status,
   * state/unitagent.go UnitAgent.Status; the multiwatcher the same, state/allwatcher.go).
   */
  hookError?: { hook: string; since: number } | undefined;
  /** The workload status the charm last set with the `status-set` hook tool; overrides its family's rules once installed. */
  charmStatus?: { current: string; message: string; since: number } | undefined;
}

export interface JujuApplication {
  name: string;
  charm: CharmSpec;
  channel: string;
  base: string;
  revision: number;
  trust: boolean;
  config: Record<string, string>;
  /** Endpoint → space; "" key is the default binding. */
  bindings: Record<string, string>;
  units: Map<string, JujuUnit>;
  nextUnit: number;
  createdAt: number;
  life: Life;
}

export interface RelationEnd {
  /** Application name in this model, or a remote application's alias. */
  app: string;
  endpoint: string;
  role: "requires" | "provides" | "peers";
  interface: string;
}

export interface JujuRelation {
  id: number;
  ends: [RelationEnd, RelationEnd];
  scope: "global" | "container";
  createdAt: number;
}

export interface JujuOffer {
  name: string;
  app: string;
  endpoints: string[];
  url: string;
  createdAt: number;
}

/** A consumed offer (SAAS): `application-endpoints` in status. */
export interface RemoteApplication {
  alias: string;
  url: string;
  /** Where the offer lives. */
  modelUuid: string;
  offer: string;
}

export interface JujuSpace {
  id: string;
  name: string;
  cidrs: string[];
}

export interface JujuModel {
  uuid: string;
  name: string;
  owner: string;
  type: "iaas" | "caas";
  cloud: string;
  region: string;
  credential: string;
  createdAt: number;
  machines: Map<string, JujuMachine>;
  nextMachine: number;
  apps: Map<string, JujuApplication>;
  remoteApps: Map<string, RemoteApplication>;
  relations: JujuRelation[];
  nextRelation: number;
  offers: Map<string, JujuOffer>;
  spaces: Map<string, JujuSpace>;
  config: Record<string, string>;
}

export interface CloudDef {
  name: string;
  type: string;
  authTypes: string[];
  endpoint: string;
  regions: string[];
  /** kubernetes clouds: the API server and bearer token of the kubeconfig. */
  server?: string;
  token?: string;
  hostCloudRegion?: string;
}

export interface JujuController {
  name: string;
  uuid: string;
  cloud: string;
  createdAt: number;
  caCert: string;
  /** Models by short name. */
  models: Map<string, JujuModel>;
  clouds: Map<string, CloudDef>;
  credentials: Map<string, string[]>;
  /** The admin's password (the API login). */
  adminSecret: string;
}

/** What one host's juju client knows (~/.local/share/juju). */
export interface JujuClientState {
  controllers: Set<string>;
  /** `--client` clouds (add-cloud/add-k8s --client): never seen by a controller. */
  clouds: Map<string, CloudDef>;
  current: string | undefined;
  /** The current model of each controller (bootstrap: controller; add-model switches to the new one). */
  currentModel: Map<string, string>;
}

export function newClientState(): JujuClientState {
  return { controllers: new Set(), clouds: new Map(), current: undefined, currentModel: new Map() };
}

/** Juju's own timings, as the simulator plays them (not facts: the real ones depend on hardware). */
export interface JujuTimings {
  /** A provisioned machine's agent reports started this long after the machine is added. */
  machineStartMs: number;
  /** A new unit installs its charm for this long; a relation's remote data arrives this long after it is made. */
  unitSettleMs: number;
  /** A controller machine that wants a vote gets it this long later (enable-ha is asynchronous). */
  haVoteMs: number;
}

export const DEFAULT_TIMINGS: JujuTimings = { machineStartMs: 2000, unitSettleMs: 3000, haVoteMs: 15_000 };

/** Facts the Juju model needs from the world around it (the simulated hosts and Kubernetes), read only. */
export interface JujuEnv {
  /** Whether this machine's agent still runs: its installation is the host's current one and `jujud` is not stopped. */
  agentAlive(m: JujuMachine): boolean;
  /**
   * For a Kubernetes application reached from another model: the address its load
   * balancer announces, or undefined while it has none (the load balancer is off, or in
   * neither L2 nor BGP mode).
   */
  externalAddress(model: JujuModel, app: string): string | undefined;
}

export const NO_ENV: JujuEnv = { agentAlive: () => true, externalAddress: () => undefined };
