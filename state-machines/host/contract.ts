/**
 * The host machine's contract with src/runtime: its states (phases), input, context,
 * events in and events out. Data only; the machine is in ../host.ts.
 */
import type { NodeStatusCode } from "../../src/model/maas/status.ts";
import type { RoleRecheck } from "../../src/roles/recheck.ts";

/** Top-level states. Busy ones end in -ing, settled ones are past tense. */
export type HostPhase =
  | "enlisted"
  | "commissioning"
  | "tagging"
  | "allocating"
  | "deploying"
  | "deployed"
  | "layering"
  | "inService"
  | "releasing"
  | "quarantining"
  | "quarantined"
  | "aborting"
  | "aborted"
  | "refused"
  | "failed";

export const HOST_PHASES: readonly HostPhase[] = [
  "enlisted",
  "commissioning",
  "tagging",
  "allocating",
  "deploying",
  "deployed",
  "layering",
  "inService",
  "releasing",
  "quarantining",
  "quarantined",
  "aborting",
  "aborted",
  "refused",
  "failed",
];

/** Phases whose concurrency the rollout caps; the host asks for a slot before working. */
export type CappedPhase = "commissioning" | "deploying" | "layering";
export const CAPPED_PHASES: readonly CappedPhase[] = ["commissioning", "deploying", "layering"];

export function isCappedPhase(phase: string): phase is CappedPhase {
  return phase === "commissioning" || phase === "deploying" || phase === "layering";
}

/**
 * How a host ended. Each is a final state of the same name. `refused`: its re-provisioning was
 * refused before anything was changed (REFUSAL_CODES); the host is as it was, not a failure.
 */
export type HostOutcome = "inService" | "quarantined" | "aborted" | "refused" | "failed";

/**
 * Actor rejections that are a refusal, not a failed attempt: the re-provisioning's removal from
 * Juju checked a rule the operator may override (src/layers/errors.ts LAYER_REFUSED) before it
 * changed anything. The host ends `refused` with the rejection's message as its reason; no retry,
 * no release, no quarantine.
 */
export const REFUSAL_CODES: readonly string[] = ["LAYER_REFUSED"];

/** The retry budgets. tagging and allocating count against `deploy`. */
export type RetryPhase = "commission" | "deploy" | "layer" | "release";

export interface HostPolicy {
  maxAttempts: { commission: number; deploy: number; layer: number; release: number };
  /** Exponential back-off between attempts: base·2^(attempt-1), capped at max. */
  backoffMs: { base: number; max: number };
  timeoutsMs: { commission: number; deploy: number; release: number; layer: number };
}

/** How the disks are wiped when a host is released to be provisioned again. */
export type EraseMode = "none" | "quick" | "secure";

/** Asked to provision a machine that MAAS already holds (Deployed, Allocated, Failed deployment) anew. */
export interface Reprovision {
  erase: EraseMode;
  /**
   * Commission the machine again once it is released (Ready): its hardware may have
   * changed. The commission retry budget and quarantine rules apply as to any commissioning.
   */
  recommission?: boolean;
  /**
   * Leave Juju even when a mysql-k8s or rabbitmq-k8s pod runs on the host's Kubernetes node
   * (the reference's `sunbeam cluster remove --force`; src/layers/drain.ts). Read by the runner's
   * leave step only; the machine does not branch on it.
   */
  force?: boolean;
  /**
   * The machine is Broken in MAAS and never commissioned successfully (quarantined while
   * commissioning): commission it from Broken (MAAS takes `commission` there) instead of
   * marking it fixed, which would leave it Ready without the storage layout and facts a
   * deploy needs. Then the deploy cycle, as after any commissioning.
   */
  commissionFromBroken?: boolean;
  /**
   * With `recommission` or `commissionFromBroken`: the role rules the host was planned with, so the tagging after
   * the new commissioning judges the machine again (role match, ceph disks) and sets its
   * block-device tags from the disks MAAS found. Data only; the tagMachine actor applies it.
   */
  recheck?: RoleRecheck;
}

export interface HostInput {
  systemId: string;
  hostname: string;
  wave: number;
  roles: string[];
  maasStatus: NodeStatusCode;
  policy: HostPolicy;
  /** Release (with erase), redeploy and re-layer a machine already in use. */
  reprovision?: Reprovision;
}

export interface HostError {
  phase: HostPhase;
  code: string;
  message: string;
}

export interface HostFailure extends HostError {
  attempt: number;
}

/** Serializable (ids, counters, strings): it is persisted after every transition. */
export interface HostContext {
  systemId: string;
  hostname: string;
  wave: number;
  roles: string[];
  /** Last status MAAS reported (or the one the host was enlisted with). */
  maasStatus: NodeStatusCode;
  policy: HostPolicy;
  /** Attempts started per retry budget; the one in progress is counted. */
  attempts: Record<RetryPhase, number>;
  /** MAAS accepted this attempt's request (commission/deploy/release): never send it again. */
  requestSent: boolean;
  /** The role tags were applied (a deploy retry after a release re-tags only if not). */
  tagged: boolean;
  /** The capped phase whose slot this host holds right now, if any. */
  slot: CappedPhase | null;
  lastError: HostError | null;
  /** The last FAILURE_HISTORY failed attempts, oldest first. */
  failures: HostFailure[];
  outcome: HostOutcome | null;
  /** Why the host settled as it did (quarantine, abort, failure). */
  reason: string | null;
  /** Set for a re-provisioning; `reprovisionReleased` once its release (and erase) is done. */
  reprovision?: Reprovision | null;
  reprovisionReleased?: boolean;
  /** With `reprovision.recommission` or `commissionFromBroken`: the new commissioning ended Ready. */
  reprovisionCommissioned?: boolean;
  /** The rollout is paused: no retry starts (a failed attempt waits in `retryHeld` until it resumes). */
  held?: boolean;
}

export type HostEvent =
  | { type: "MAAS_STATUS"; status: NodeStatusCode; message?: string }
  | { type: "SLOT_GRANTED"; phase: CappedPhase }
  | { type: "ABORT"; reason?: string }
  /** Sent by the runtime right after starting an actor from a persisted snapshot: restarts timers. */
  | { type: "RESTORED" }
  /** The rollout paused: retries wait (in-flight requests finish). */
  | { type: "ROLLOUT_PAUSED" }
  /** The rollout resumed: a held retry backs off again, then runs. */
  | { type: "ROLLOUT_RESUMED" };

export type HostEmitted =
  | { type: "host.phase"; systemId: string; phase: HostPhase; attempt: number }
  | { type: "host.slotRequest"; systemId: string; phase: CappedPhase }
  | { type: "host.slotRelease"; systemId: string; phase: CappedPhase }
  | { type: "host.settled"; systemId: string; outcome: HostOutcome; reason?: string }
  /** A retry is held because the rollout is paused: the host waits, doing nothing, until it resumes. */
  | { type: "host.retryHeld"; systemId: string; phase: HostPhase };

export interface HostOutput {
  outcome: HostOutcome;
  reason: string | null;
}

/** What the abortMachine actor may tell: where the machine ended up. */
export type AbortOutput = { status: NodeStatusCode } | undefined;

/** Error codes this machine writes itself; actor rejections bring their own codes. */
export type HostErrorCode = "MAAS_FAILED_STATUS" | "PHASE_TIMEOUT" | "UNEXPECTED_STATUS" | "UNKNOWN_ERROR";

/** The host waits in a phase's `retryHeld` (its rollout is paused). */
export function isRetryHeld(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return Object.values(value as Record<string, unknown>)[0] === "retryHeld";
}

/** The top-level state name of a (persisted or live) host snapshot value. */
export function topLevelPhase(value: unknown): HostPhase {
  const key = typeof value === "string" ? value : Object.keys(value as object)[0];
  if (key === undefined || !(HOST_PHASES as readonly string[]).includes(key)) {
    throw new Error(`not a host state value: ${JSON.stringify(value)}`);
  }
  return key as HostPhase;
}
