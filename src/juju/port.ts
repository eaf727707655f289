/**
 * What the layers need to know about one Juju model, without polling per unit: a live view
 * of its machines, applications, units and relations kept current from the controller's
 * AllWatcher deltas (Client.WatchAll, then AllWatcher.Next, which blocks until something
 * changed: ../shared/reference/juju-layering.md §4b), waits that need N consecutive good
 * reads (as the reference deployer's waits do, §2), and an event when a unit enters
 * `error`, so the caller can fail that host's layering with the unit, status and message.
 *
 * One JujuWatch watches one model (the layers open one per model they wait on). The
 * implementation on @canonical/jujulib is src/juju/watch.ts; the fake for unit tests is
 * test/fakes/juju-watch.ts. docs/juju-watch.md describes the behaviour and the costs.
 *
 * Secrets: the password given to connect() is never put in an error, an event or a log
 * record; errors name the controller address and model only.
 */
import { MetalwaveError } from "../errors.ts";

// ---------------------------------------------------------------------------------------
// Connecting

export interface JujuCredentials {
  /** The Juju user, e.g. `admin`. */
  username: string;
  /** Its password (`juju show-controller --show-password`). Never logged or put in errors. */
  password: string;
}

/**
 * How the WebSocket is secured. A real controller serves `wss://` with its own CA
 * (`juju show-controller`'s `ca-cert`); the simulated controller serves plain `ws://`.
 */
export type JujuTransportSecurity =
  /** `wss://`, the server certificate checked against this PEM CA (the controller's ca-cert). */
  | { kind: "ca"; caCert: string }
  /** `wss://` without checking the certificate: for a lab only. */
  | { kind: "insecure" }
  /** `ws://`: the simulated controller. */
  | { kind: "plain" };

export interface JujuConnectOptions {
  /**
   * The controller's API addresses, `host:port` (`show-controller`'s `api-endpoints`),
   * tried in order on connect and on every reconnect.
   */
  endpoints: readonly string[];
  /** The model to watch, by UUID (`juju show-model`'s `model-uuid`, `show-controller`'s models). */
  modelUuid: string;
  credentials: JujuCredentials;
  security: JujuTransportSecurity;
  /**
   * The client version sent at login. Default `3.6.4`: a controller refuses most calls from
   * a client of another major version, and jujulib's own default is 4.x (§4c, §4e).
   */
  clientVersion?: string;
  /**
   * After a Next answered, wait this long before asking again, so that changes made in
   * the meantime come in one batch: at most 60,000 / coalesceMs requests a minute whatever
   * the model's size or churn, for at most that much delay. Default 1000 ms; 0 asks at once.
   */
  coalesceMs?: number;
  /** After a dropped connection or a stopped watcher: reconnect and watch again. Default on. */
  reconnect?: JujuReconnectPolicy;
}

export interface JujuReconnectPolicy {
  /** Default true. */
  enabled?: boolean;
  /** First delay before a reconnect attempt; doubled each failed attempt. Default 500 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 30 s. */
  maxDelayMs?: number;
  /** Attempts before the watch gives up with JUJU_DISCONNECTED (its waits fail). Default 20. */
  maxAttempts?: number;
}

// ---------------------------------------------------------------------------------------
// The view

/** Workload statuses (Juju core/status: set by charms, plus Juju's own unknown/terminated/error). */
export const WORKLOAD_STATUSES = ["active", "blocked", "maintenance", "waiting", "error", "unknown", "terminated"] as const;
export type WorkloadStatus = (typeof WORKLOAD_STATUSES)[number];

/** Unit agent statuses (Juju core/status). */
export const UNIT_AGENT_STATUSES = ["allocating", "executing", "idle", "error", "lost", "failed", "rebooting"] as const;
export type UnitAgentStatus = (typeof UNIT_AGENT_STATUSES)[number];

/** Machine agent statuses (Juju core/status). */
export const MACHINE_AGENT_STATUSES = ["pending", "started", "stopped", "down", "error"] as const;
export type MachineAgentStatus = (typeof MACHINE_AGENT_STATUSES)[number];

export type Life = "alive" | "dying" | "dead";

/**
 * A status as the controller reports it. `current` is one of the closed set; a value the
 * set does not know (a newer Juju) reads as the set's fallback (`unknown`, `pending`) and is
 * kept verbatim in `reported`, so nothing is lost.
 */
export interface JujuStatusValue<S extends string> {
  current: S;
  /** The status string exactly as the controller sent it. */
  reported: string;
  message: string;
  /** ISO time of the last change, as reported ("" when absent). */
  since: string;
}

export interface WatchedMachine {
  id: string;
  /** `manual:<address>` for a manually provisioned machine, `manual:` for a manual bootstrap machine, "" before provisioning. */
  instanceId: string;
  agentStatus: JujuStatusValue<MachineAgentStatus>;
  /** Instance status as reported (`running`, `provisioning error`, …): provider-specific, kept as a string. */
  instanceStatus: { current: string; message: string; since: string };
  life: Life;
  /** Address values (IPv4/IPv6/hostnames) in the order the controller gave them. */
  addresses: string[];
  hostname: string;
  hasVote: boolean;
  wantsVote: boolean;
}

export interface WatchedApplication {
  name: string;
  charmUrl: string;
  life: Life;
  subordinate: boolean;
  /** The application's status (leader-set, else the worst unit's). */
  status: JujuStatusValue<WorkloadStatus>;
}

export interface WatchedUnit {
  /** `app/N`. */
  name: string;
  application: string;
  /** The machine id; "" for a Kubernetes unit. A subordinate reports its principal's machine. */
  machine: string;
  /** The principal unit of a subordinate, "" otherwise. */
  principal: string;
  subordinate: boolean;
  life: Life;
  publicAddress: string;
  workload: JujuStatusValue<WorkloadStatus>;
  agent: JujuStatusValue<UnitAgentStatus>;
}

export interface WatchedRelationEnd {
  application: string;
  endpoint: string;
  /** Juju's relation roles (charm RelationRole). */
  role: "provider" | "requirer" | "peer";
  interface: string;
}

export interface WatchedRelation {
  /** Juju's relation key: `a:ep b:ep` (sorted), or `a:ep` for a peer relation. */
  key: string;
  id: number;
  scope: "global" | "container";
  endpoints: WatchedRelationEnd[];
}

/** A consumed offer in this model (cross-model relation). */
export interface WatchedRemoteApplication {
  name: string;
  offerUrl: string;
  life: Life;
  status: JujuStatusValue<WorkloadStatus>;
}

/** An immutable snapshot of the model, as of the last applied delta batch. */
export interface JujuView {
  modelUuid: string;
  /** The model's name ("" until the model entity arrived). */
  modelName: string;
  machines: ReadonlyMap<string, WatchedMachine>;
  applications: ReadonlyMap<string, WatchedApplication>;
  units: ReadonlyMap<string, WatchedUnit>;
  relations: ReadonlyMap<string, WatchedRelation>;
  remoteApplications: ReadonlyMap<string, WatchedRemoteApplication>;
  /** Delta batches applied since connect (a resync after reconnect counts as one). */
  revision: number;
}

// ---------------------------------------------------------------------------------------
// Events

/** A unit entered `error` (its workload status, where Juju shows a failed hook: `hook failed: "install"`). */
export interface UnitErrorEvent {
  type: "unit-error";
  unit: string;
  application: string;
  /** The machine id ("" for a Kubernetes unit). */
  machine: string;
  /** The machine's instance id when the view knows the machine (`manual:<address>`: names the host). */
  instanceId: string;
  status: "error";
  message: string;
  since: string;
}

/** The connection dropped or the controller stopped the watcher; the watch reconnects (if enabled). */
export interface ConnectionLostEvent {
  type: "connection-lost";
  /** A short reason without secrets, e.g. `connection closed (code 1006)`, `watcher was stopped`. */
  reason: string;
}

/** Reconnected and resynchronised: the view was replaced by the controller's full snapshot. */
export interface ResyncedEvent {
  type: "resynced";
  endpoint: string;
  /** Reconnects made since connect. */
  reconnects: number;
}

export type JujuWatchEvent = UnitErrorEvent | ConnectionLostEvent | ResyncedEvent;
export type JujuWatchListener = (e: JujuWatchEvent) => void;

// ---------------------------------------------------------------------------------------
// Waiting

export interface WaitOptions {
  /**
   * The predicate must hold on this many consecutive reads (default 1; the reference
   * deployer's waits use 3). A read is each delta batch applied, and each `intervalMs`
   * tick while no delta came (a quiet watcher means nothing changed: the view is current).
   * A read where it does not hold starts the count again.
   */
  consecutive?: number;
  /** Re-read the (unchanged) view this often while no deltas come. Default 10 s (the reference's poll). */
  intervalMs?: number;
  /** Give up with JUJU_WAIT_TIMEOUT after this long. Required: every wait has a deadline. */
  timeoutMs: number;
  /** Abort with JUJU_ABORTED. */
  signal?: AbortSignal;
  /** What is waited for, for the timeout's message, e.g. `microceph active on machine 3`. */
  what?: string;
}

// ---------------------------------------------------------------------------------------
// The port

export interface JujuWatchStats {
  /** RPC requests sent (login, FullStatus, WatchAll, Next, Stop, Ping). */
  requests: number;
  bytesSent: number;
  bytesReceived: number;
  /** Delta batches (Next answers) applied. */
  batches: number;
  /** Individual deltas applied. */
  deltas: number;
  reconnects: number;
}

export interface JujuWatchPort {
  /**
   * Connects to the first endpoint that answers, logs in, reads FullStatus as the initial
   * view, then starts the AllWatcher (its first Next brings the complete model and replaces
   * the view). Resolves when the view is complete. Rejects with JUJU_CONNECT (no endpoint
   * reachable), JUJU_AUTH (login refused), JUJU_INCOMPATIBLE (client version), JUJU_API
   * (a call refused), JUJU_BAD_ANSWER (an answer of the wrong shape), JUJU_CLOSED.
   * Calling it twice is JUJU_STATE.
   */
  connect(opts: JujuConnectOptions): Promise<void>;
  /** The current snapshot (throws JUJU_STATE before connect resolved). */
  view(): JujuView;
  /**
   * Resolves with the view on which `predicate` held for the `consecutive`-th time in a row.
   * Rejects with JUJU_WAIT_TIMEOUT, JUJU_ABORTED, JUJU_CLOSED (close() was called) or
   * JUJU_DISCONNECTED (reconnecting gave up). A predicate that throws rejects the wait with
   * that error as `cause` (JUJU_PREDICATE).
   */
  waitFor(predicate: (v: JujuView) => boolean, opts: WaitOptions): Promise<JujuView>;
  /**
   * Subscribes to events; returns the unsubscribe function. `unit-error` fires once each
   * time a unit's workload status becomes `error` (again after it left error), including
   * for units already in error in the first view.
   */
  on(listener: JujuWatchListener): () => void;
  stats(): JujuWatchStats;
  /** Stops the watcher, closes the connection; pending and later waits reject with JUJU_CLOSED. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Errors

export const JUJU_WATCH_ERROR_CODES = [
  /** No endpoint could be reached (refused, timeout, TLS). */
  "JUJU_CONNECT",
  /** The controller refused the login (wrong user or password; the password is not in the message). */
  "JUJU_AUTH",
  /** The controller refuses this client version (another major version). */
  "JUJU_INCOMPATIBLE",
  /** A call answered with an error (Juju's message and code kept). */
  "JUJU_API",
  /** An answer did not have the shape the facade schema gives. */
  "JUJU_BAD_ANSWER",
  /** The connection was lost and reconnecting gave up. */
  "JUJU_DISCONNECTED",
  /** A wait's deadline passed. */
  "JUJU_WAIT_TIMEOUT",
  /** A wait's signal aborted it. */
  "JUJU_ABORTED",
  /** The watch was closed. */
  "JUJU_CLOSED",
  /** A wait's predicate threw. */
  "JUJU_PREDICATE",
  /** Called out of order (view before connect, connect twice). */
  "JUJU_STATE",
] as const;
export type JujuWatchErrorCode = (typeof JUJU_WATCH_ERROR_CODES)[number];

export interface JujuWatchErrorDetails {
  /** The controller address involved, when one is. */
  endpoint?: string;
  modelUuid?: string;
  /** Juju's own error code (`unauthorized access`, `not found`, …) for JUJU_API/JUJU_AUTH. */
  jujuCode?: string;
  /** The facade call, e.g. `AllWatcher.Next`. */
  call?: string;
}

export class JujuWatchError extends MetalwaveError<JujuWatchErrorCode> {
  readonly code: JujuWatchErrorCode;
  readonly endpoint: string | undefined;
  readonly modelUuid: string | undefined;
  readonly jujuCode: string | undefined;
  readonly call: string | undefined;
  /** The message without the location. */
  readonly reason: string;
  constructor(code: JujuWatchErrorCode, d: JujuWatchErrorDetails, message: string, options?: { cause?: unknown }) {
    const where = [d.endpoint ? `controller ${d.endpoint}` : "", d.modelUuid ? `model ${d.modelUuid}` : "", d.call ? `call ${d.call}` : ""].filter(Boolean).join(", ");
    super(`juju watch${where ? ` (${where})` : ""}: ${message}`, options);
    this.code = code;
    this.reason = message;
    this.endpoint = d.endpoint;
    this.modelUuid = d.modelUuid;
    this.jujuCode = d.jujuCode;
    this.call = d.call;
  }
}
