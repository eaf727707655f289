/**
 * `hostMachine`: the life of one physical machine during a rollout, from whatever
 * MAAS says it is now to in service (or quarantined). Pure: every side effect is a
 * named actor the runtime provides (`hostMachine.provide({ actors })`), every timer is
 * a named delay, and everything the outside world needs to know leaves through `emit`.
 * See docs/pipeline.md for the diagram, the retry rules and what happens on restore.
 */
import { setup, assign, emit, enqueueActions, fromPromise } from "xstate";
import { NodeStatus, STATUS_LABEL, type NodeStatusCode } from "../src/model/maas/status.ts";
import type { RoleRecheck } from "../src/roles/recheck.ts";

// ---------------------------------------------------------------------------
// Public types (the contract with src/runtime)
// ---------------------------------------------------------------------------

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
  "failed",
];

/** Phases whose concurrency the rollout caps; the host asks for a slot before working. */
export type CappedPhase = "commissioning" | "deploying" | "layering";
export const CAPPED_PHASES: readonly CappedPhase[] = ["commissioning", "deploying", "layering"];

export function isCappedPhase(phase: string): phase is CappedPhase {
  return phase === "commissioning" || phase === "deploying" || phase === "layering";
}

/** How a host ended. Each is a final state of the same name. */
export type HostOutcome = "inService" | "quarantined" | "aborted" | "failed";

/** The retry budgets. tagging and allocating count against `deploy`. */
export type RetryPhase = "commission" | "deploy" | "layer" | "release";

export interface HostPolicy {
  maxAttempts: { commission: number; deploy: number; layer: number; release: number };
  /** Exponential back-off between attempts: base·2^(attempt-1), capped at max. */
  backoffMs: { base: number; max: number };
  timeoutsMs: { commission: number; deploy: number; release: number; layer: number };
}

const MINUTE = 60_000;

/**
 * Commission and deploy time out a little after MAAS's own 30-minute node timeout,
 * so in the normal case MAAS reports "Failed ..." first and we read its reason; our
 * timer only catches a region that never reports at all.
 */
export const defaultHostPolicy: HostPolicy = {
  maxAttempts: { commission: 3, deploy: 3, layer: 3, release: 3 },
  backoffMs: { base: 30_000, max: 10 * MINUTE },
  timeoutsMs: { commission: 35 * MINUTE, deploy: 35 * MINUTE, release: 10 * MINUTE, layer: 45 * MINUTE },
};

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
   * With `recommission`: the role rules the host was planned with, so the tagging after
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
  /** With `reprovision.recommission`: the new commissioning ended Ready. */
  reprovisionCommissioned?: boolean;
}

export type HostEvent =
  | { type: "MAAS_STATUS"; status: NodeStatusCode; message?: string }
  | { type: "SLOT_GRANTED"; phase: CappedPhase }
  | { type: "ABORT"; reason?: string }
  /** Sent by the runtime right after starting an actor from a persisted snapshot: restarts timers. */
  | { type: "RESTORED" };

export type HostEmitted =
  | { type: "host.phase"; systemId: string; phase: HostPhase; attempt: number }
  | { type: "host.slotRequest"; systemId: string; phase: CappedPhase }
  | { type: "host.slotRelease"; systemId: string; phase: CappedPhase }
  | { type: "host.settled"; systemId: string; outcome: HostOutcome; reason?: string };

export interface HostOutput {
  outcome: HostOutcome;
  reason: string | null;
}

/** Error codes this machine writes itself; actor rejections bring their own codes. */
export type HostErrorCode = "MAAS_FAILED_STATUS" | "PHASE_TIMEOUT" | "UNEXPECTED_STATUS" | "UNKNOWN_ERROR";

export const FAILURE_HISTORY = 10;
const MAX_MESSAGE = 500;

// ---------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------

const S = NodeStatus;

/** Which retry budget a top-level phase spends. */
export function retryPhaseOf(phase: HostPhase): RetryPhase | null {
  switch (phase) {
    case "commissioning":
      return "commission";
    case "tagging":
    case "allocating":
    case "deploying":
    case "deployed":
      return "deploy";
    case "layering":
      return "layer";
    case "releasing":
      return "release";
    default:
      return null;
  }
}

export function backoffDelayMs(policy: HostPolicy, attempt: number): number {
  const exp = policy.backoffMs.base * 2 ** Math.max(0, attempt - 1);
  return Math.min(exp, policy.backoffMs.max);
}

/** Turns whatever an actor rejected with into { code, message }; unknown shapes get UNKNOWN_ERROR. */
export function describeError(error: unknown): { code: string; message: string } {
  let code: string = "UNKNOWN_ERROR" satisfies HostErrorCode;
  let message: string;
  if (error !== null && typeof error === "object") {
    const e = error as { code?: unknown; message?: unknown };
    if (typeof e.code === "string" && e.code.length > 0) code = e.code;
    message = typeof e.message === "string" ? e.message : JSON.stringify(error) ?? String(error);
  } else {
    message = String(error);
  }
  return { code, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message };
}

function label(status: NodeStatusCode): string {
  return STATUS_LABEL[status] ?? `status ${String(status)}`;
}

function withFailure(context: HostContext, error: HostError): Pick<HostContext, "lastError" | "failures"> {
  const retry = retryPhaseOf(error.phase);
  const attempt = retry ? context.attempts[retry] : 0;
  const failures = [...context.failures, { ...error, attempt }].slice(-FAILURE_HISTORY);
  return { lastError: error, failures };
}

function errorText(error: HostError | null): string {
  return error ? `${error.code}: ${error.message}` : "no error recorded";
}

/** A re-commissioning was asked for, the release before it is done, and it has not ended Ready yet. */
export function recommissionPending(context: HostContext): boolean {
  return !!context.reprovision?.recommission && !!context.reprovisionReleased && !context.reprovisionCommissioned;
}

/** The top-level state name of a (persisted or live) host snapshot value. */
export function topLevelPhase(value: unknown): HostPhase {
  const key = typeof value === "string" ? value : Object.keys(value as object)[0];
  if (key === undefined || !(HOST_PHASES as readonly string[]).includes(key)) {
    throw new Error(`not a host state value: ${JSON.stringify(value)}`);
  }
  return key as HostPhase;
}

function notProvided<I extends { systemId: string }, O = void>(name: string) {
  return fromPromise<O, I>(async ({ input }) => {
    throw new Error(`hostMachine actor "${name}" is not provided (runtime must supply it with .provide()); machine ${input.systemId}`);
  });
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

type StatusParams = { statuses: readonly NodeStatusCode[] };

/** What the abortMachine actor may tell: where the machine ended up. */
export type AbortOutput = { status: NodeStatusCode } | undefined;

function abortOutputStatus(event: unknown): NodeStatusCode | undefined {
  const out = (event as { output?: AbortOutput }).output;
  return out?.status;
}

const hostSetup = setup({
  types: {
    context: {} as HostContext,
    events: {} as HostEvent,
    input: {} as HostInput,
    emitted: {} as HostEmitted,
    output: {} as HostOutput,
  },
  actors: {
    /** `recommission`: the machine was commissioned before and is Ready, so Ready is no proof the request took effect. */
    commissionMachine: notProvided<{ systemId: string; recommission?: true }>("commissionMachine"),
    /** `recheck`: after a re-commissioning, judge the machine's new facts and set its disk tags from them. */
    tagMachine: notProvided<{ systemId: string; roles: readonly string[]; recheck?: RoleRecheck }>("tagMachine"),
    allocateMachine: notProvided<{ systemId: string }>("allocateMachine"),
    deployMachine: notProvided<{ systemId: string; hostname: string; roles: readonly string[] }>("deployMachine"),
    releaseMachine: notProvided<{ systemId: string; erase: EraseMode }>("releaseMachine"),
    /** Resolves with the machine's status after the abort, when the runtime knows it. */
    abortMachine: notProvided<{ systemId: string }, AbortOutput>("abortMachine"),
    markBroken: notProvided<{ systemId: string; reason: string }>("markBroken"),
    layerHost: notProvided<{ systemId: string; hostname: string; roles: readonly string[] }>("layerHost"),
  },
  delays: {
    commissionTimeout: ({ context }) => context.policy.timeoutsMs.commission,
    deployTimeout: ({ context }) => context.policy.timeoutsMs.deploy,
    releaseTimeout: ({ context }) => context.policy.timeoutsMs.release,
    layerTimeout: ({ context }) => context.policy.timeoutsMs.layer,
    commissionBackoff: ({ context }) => backoffDelayMs(context.policy, context.attempts.commission),
    deployBackoff: ({ context }) => backoffDelayMs(context.policy, context.attempts.deploy),
    releaseBackoff: ({ context }) => backoffDelayMs(context.policy, context.attempts.release),
    layerBackoff: ({ context }) => backoffDelayMs(context.policy, context.attempts.layer),
  },
  guards: {
    /** The last known MAAS status is one of these (used to route, not to detect change). */
    statusIs: ({ context }, params: StatusParams) => params.statuses.includes(context.maasStatus),
    statusIsNot: ({ context }, params: StatusParams) => !params.statuses.includes(context.maasStatus),
    /** A MAAS_STATUS event reports a CHANGE to one of these; a repeat of the known status is a duplicate. */
    statusChangedTo: ({ context, event }, params: StatusParams) =>
      event.type === "MAAS_STATUS" && event.status !== context.maasStatus && params.statuses.includes(event.status),
    /** This attempt's request was accepted, or MAAS is already busy with the phase. */
    alreadyUnderway: ({ context }, params: StatusParams) => context.requestSent || params.statuses.includes(context.maasStatus),
    mustReleaseToReprovision: ({ context }) =>
      !!context.reprovision && !context.reprovisionReleased && REPROVISION_RELEASABLE.includes(context.maasStatus),
    mustReleaseToRecommission: ({ context }) =>
      !!context.reprovision?.recommission && !context.reprovisionReleased && REPROVISION_RELEASABLE.includes(context.maasStatus),
    /** A re-commissioning was asked for and has not ended Ready yet. */
    recommissionPending: ({ context }) => recommissionPending(context),
    /** The re-commissioning's request is still to be sent: MAAS shows the machine Ready from its release. */
    recommissionFromReady: ({ context }) => recommissionPending(context) && !context.requestSent && context.maasStatus === S.READY,
    canRetry: ({ context }, params: { retry: RetryPhase }) =>
      context.attempts[params.retry] < context.policy.maxAttempts[params.retry],
    grantIs: ({ event }, params: { phase: CappedPhase }) => event.type === "SLOT_GRANTED" && event.phase === params.phase,
    notTagged: ({ context }) => !context.tagged,
    /**
     * After a phase timed out and its abort ran, MAAS shows the phase finished after
     * all (it raced our timer): the phase succeeded, and the attempt is not lost.
     */
    abortFoundStatus: ({ event }, params: StatusParams) => {
      const status = abortOutputStatus(event);
      return status !== undefined && params.statuses.includes(status);
    },
    holdsGrantedSlot: ({ context, event }) => event.type === "SLOT_GRANTED" && context.slot === event.phase,
  },
  actions: {
    recordStatus: assign(({ context, event }) => ({
      maasStatus: event.type === "MAAS_STATUS" ? event.status : context.maasStatus,
    })),
    recordAbortStatus: assign(({ context, event }) => ({ maasStatus: abortOutputStatus(event) ?? context.maasStatus })),
    beginAttempt: assign(({ context }, params: { retry: RetryPhase }) => ({
      attempts: { ...context.attempts, [params.retry]: context.attempts[params.retry] + 1 },
      requestSent: false,
    })),
    resetReleaseAttempts: assign(({ context }) => ({ attempts: { ...context.attempts, release: 0 }, reprovisionReleased: context.reprovision ? true : (context.reprovisionReleased ?? false) })),
    markRequestSent: assign({ requestSent: true }),
    /** Each phase's request is its own: a release accepted on the retry path says nothing about the deploy. */
    clearRequest: assign({ requestSent: false }),
    markTagged: assign({ tagged: true }),
    /** Commissioning ended Ready: a re-commissioning asked for is done. */
    markCommissioned: assign(({ context }) => (context.reprovision?.recommission ? { reprovisionCommissioned: true } : {})),
    emitPhase: emit(({ context }, params: { phase: HostPhase }) => {
      const retry = retryPhaseOf(params.phase);
      return {
        type: "host.phase" as const,
        systemId: context.systemId,
        phase: params.phase,
        attempt: retry ? context.attempts[retry] : 0,
      };
    }),
    requestSlot: emit(({ context }, params: { phase: CappedPhase }) => ({
      type: "host.slotRequest" as const,
      systemId: context.systemId,
      phase: params.phase,
    })),
    takeSlot: assign((_, params: { phase: CappedPhase }) => ({ slot: params.phase })),
    releaseSlot: enqueueActions(({ context, enqueue }, params: { phase: CappedPhase }) => {
      enqueue.emit({ type: "host.slotRelease", systemId: context.systemId, phase: params.phase });
      enqueue.assign({ slot: null });
    }),
    /**
     * A grant the host is not waiting for (stale, duplicated, or handed out after a restore)
     * is handed straight back, so the rollout's slot count can never leak.
     */
    returnUnwantedSlot: emit(({ context, event }) => {
      const phase = event.type === "SLOT_GRANTED" ? event.phase : "commissioning";
      return { type: "host.slotRelease" as const, systemId: context.systemId, phase };
    }),
    recordActorError: assign(({ context, event }, params: { phase: HostPhase }) => {
      const { code, message } = describeError((event as unknown as { error?: unknown }).error);
      return withFailure(context, { phase: params.phase, code, message });
    }),
    recordStatusFailure: assign(({ context, event }, params: { phase: HostPhase }) => {
      if (event.type !== "MAAS_STATUS") return {};
      const detail = event.message ? `: ${event.message}` : "";
      const message = `MAAS reports "${label(event.status)}"${detail}`.slice(0, MAX_MESSAGE);
      return withFailure(context, { phase: params.phase, code: "MAAS_FAILED_STATUS", message });
    }),
    recordTimeout: assign(({ context }, params: { phase: HostPhase; retry: RetryPhase }) => {
      const ms = context.policy.timeoutsMs[params.retry];
      const message = `${params.phase} did not finish within ${ms} ms (MAAS status "${label(context.maasStatus)}")`;
      return withFailure(context, { phase: params.phase, code: "PHASE_TIMEOUT", message });
    }),
    recordUnexpectedStatus: assign(({ context }) => {
      const message = `MAAS status "${label(context.maasStatus)}" is not one a rollout can start from`;
      return {
        ...withFailure(context, { phase: "enlisted", code: "UNEXPECTED_STATUS", message }),
        reason: message,
      };
    }),
    setQuarantineReason: assign(({ context }, params: { phase: HostPhase; retry: RetryPhase }) => ({
      reason: `${params.phase} failed ${context.attempts[params.retry]} time(s); last error ${errorText(context.lastError)}`,
    })),
    setReason: assign((_, params: { reason: string }) => ({ reason: params.reason })),
    noteAbort: assign(({ event }) => ({
      reason: event.type === "ABORT" && event.reason ? event.reason : "aborted on request",
    })),
    noteMarkBrokenFailure: assign(({ context }) => ({
      reason: `could not mark the machine Broken (${errorText(context.lastError)}); it needed quarantine because ${context.reason ?? "of an earlier failure"}`,
    })),
    noteAbortFailure: assign(({ context }) => ({
      reason: `could not abort the MAAS operation in flight (${errorText(context.lastError)}); ${context.reason ?? "aborted on request"}`,
    })),
    settle: enqueueActions(({ context, enqueue }, params: { outcome: HostOutcome }) => {
      const reason = params.outcome === "failed" && context.reason === null ? errorText(context.lastError) : context.reason;
      enqueue.assign({ outcome: params.outcome, reason });
      enqueue.emit({
        type: "host.settled",
        systemId: context.systemId,
        outcome: params.outcome,
        ...(reason !== null ? { reason } : {}),
      });
    }),
  },
});

/** MAAS states an abort can stop (Commissioning → New, Deploying → Allocated, Disk erasing → Failed disk erasing). */
const ABORTABLE: readonly NodeStatusCode[] = [S.COMMISSIONING, S.DEPLOYING, S.DISK_ERASING];

/**
 * Where a deploy retry (after its back-off) starts: a release first unless MAAS says
 * Ready (Failed deployment and Allocated both need one), then tags if they were never
 * applied, then allocation.
 */
const deployRetry = [
  {
    guard: { type: "statusIsNot", params: { statuses: [S.READY] } },
    target: "#host.releasing",
    actions: { type: "beginAttempt", params: { retry: "deploy" } },
  },
  { guard: "notTagged", target: "#host.tagging", actions: { type: "beginAttempt", params: { retry: "deploy" } } },
  { target: "#host.allocating", actions: { type: "beginAttempt", params: { retry: "deploy" } } },
] as const;

/** Statuses a re-provisioning releases from (MAAS releases these; Deploying must be aborted first). */
export const REPROVISION_RELEASABLE: readonly NodeStatusCode[] = [S.DEPLOYED, S.ALLOCATED, S.FAILED_DEPLOYMENT, S.FAILED_RELEASING, S.FAILED_DISK_ERASING];

const toDeployCycle = { type: "beginAttempt", params: { retry: "deploy" } } as const;

export const hostMachine = hostSetup.createMachine({
  id: "host",
  context: ({ input }) => ({
    systemId: input.systemId,
    hostname: input.hostname,
    wave: input.wave,
    roles: [...input.roles],
    maasStatus: input.maasStatus,
    policy: input.policy,
    attempts: { commission: 0, deploy: 0, layer: 0, release: 0 },
    requestSent: false,
    tagged: false,
    slot: null,
    lastError: null,
    failures: [],
    outcome: null,
    reason: null,
    reprovision: input.reprovision ?? null,
    reprovisionReleased: false,
    reprovisionCommissioned: false,
  }),
  output: ({ context }) => ({ outcome: context.outcome ?? "failed", reason: context.reason }),
  initial: "enlisted",
  on: {
    MAAS_STATUS: { actions: "recordStatus" },
    SLOT_GRANTED: [
      // A repeat of the grant it holds (e.g. a rebuilt rollout re-granting): already counted once.
      { guard: "holdsGrantedSlot" },
      { actions: "returnUnwantedSlot" },
    ],
    ABORT: [
      { guard: { type: "statusIs", params: { statuses: ABORTABLE } }, target: "#host.aborting", actions: "noteAbort" },
      { target: "#host.aborted", actions: "noteAbort" },
    ],
  },
  states: {
    enlisted: {
      entry: { type: "emitPhase", params: { phase: "enlisted" } },
      always: [
        // Re-provisioning a machine MAAS holds: release it (erasing as asked), then the deploy
        // cycle; with a re-commissioning the deploy cycle begins after it, in commissioning.
        { guard: "mustReleaseToRecommission", target: "releasing" },
        { guard: "mustReleaseToReprovision", target: "releasing", actions: toDeployCycle },
        {
          guard: { type: "statusIs", params: { statuses: [S.NEW, S.FAILED_COMMISSIONING, S.COMMISSIONING] } },
          target: "commissioning",
        },
        { guard: { type: "statusIs", params: { statuses: [S.READY] } }, target: "tagging", actions: toDeployCycle },
        {
          guard: { type: "statusIs", params: { statuses: [S.ALLOCATED, S.DEPLOYING] } },
          target: "deploying",
          actions: toDeployCycle,
        },
        { guard: { type: "statusIs", params: { statuses: [S.DEPLOYED] } }, target: "deployed" },
        {
          guard: { type: "statusIs", params: { statuses: [S.FAILED_DEPLOYMENT] } },
          target: "releasing",
          actions: toDeployCycle,
        },
        {
          guard: { type: "statusIs", params: { statuses: [S.BROKEN] } },
          target: "quarantined",
          actions: { type: "setReason", params: { reason: "already Broken in MAAS: out of service before the rollout" } },
        },
        { target: "failed", actions: "recordUnexpectedStatus" },
      ],
    },

    commissioning: {
      entry: [
        { type: "beginAttempt", params: { retry: "commission" } },
        { type: "emitPhase", params: { phase: "commissioning" } },
      ],
      initial: "slotted",
      states: {
        slotted: {
          entry: { type: "requestSlot", params: { phase: "commissioning" } },
          exit: { type: "releaseSlot", params: { phase: "commissioning" } },
          on: {
            MAAS_STATUS: [
              {
                guard: { type: "statusChangedTo", params: { statuses: [S.READY] } },
                target: "#host.tagging",
                actions: ["recordStatus", toDeployCycle, "markCommissioned"],
              },
              {
                guard: { type: "statusChangedTo", params: { statuses: [S.FAILED_COMMISSIONING] } },
                target: "#host.commissioning.failedAttempt",
                actions: [{ type: "recordStatusFailure", params: { phase: "commissioning" } }, "recordStatus"],
              },
            ],
          },
          initial: "awaitingSlot",
          states: {
            awaitingSlot: {
              on: {
                SLOT_GRANTED: {
                  guard: { type: "grantIs", params: { phase: "commissioning" } },
                  target: "working",
                  actions: { type: "takeSlot", params: { phase: "commissioning" } },
                },
              },
            },
            working: {
              on: {
                RESTORED: { target: "working", reenter: true },
                ABORT: { target: "#host.aborting", actions: "noteAbort" },
              },
              after: {
                commissionTimeout: {
                  target: "timingOut",
                  actions: { type: "recordTimeout", params: { phase: "commissioning", retry: "commission" } },
                },
              },
              initial: "deciding",
              states: {
                deciding: {
                  always: [
                    // A re-commissioning starts from the Ready its release left.
                    { guard: "recommissionFromReady", target: "requesting" },
                    // Ready already (MAAS finished while we waited for a slot): nothing to do.
                    { guard: { type: "statusIs", params: { statuses: [S.READY] } }, target: "#host.tagging", actions: [toDeployCycle, "markCommissioned"] },
                    { guard: { type: "alreadyUnderway", params: { statuses: [S.COMMISSIONING] } }, target: "waiting" },
                    { target: "requesting" },
                  ],
                },
                requesting: {
                  invoke: {
                    src: "commissionMachine",
                    input: ({ context }) => ({ systemId: context.systemId, ...(recommissionPending(context) ? { recommission: true as const } : {}) }),
                    onDone: { target: "waiting", actions: "markRequestSent" },
                    onError: {
                      target: "#host.commissioning.failedAttempt",
                      actions: { type: "recordActorError", params: { phase: "commissioning" } },
                    },
                  },
                },
                waiting: {},
              },
            },
            timingOut: {
              on: { ABORT: { target: "#host.aborting", actions: "noteAbort" }, RESTORED: { target: "timingOut", reenter: true } },
              invoke: {
                src: "abortMachine",
                input: ({ context }) => ({ systemId: context.systemId }),
                onDone: [
                  {
                    guard: { type: "abortFoundStatus", params: { statuses: [S.READY] } },
                    target: "#host.tagging",
                    actions: ["recordAbortStatus", toDeployCycle, "markCommissioned"],
                  },
                  { target: "#host.commissioning.failedAttempt", actions: "recordAbortStatus" },
                ],
                onError: { target: "#host.commissioning.failedAttempt" },
              },
            },
          },
        },
        failedAttempt: {
          always: [
            { guard: { type: "canRetry", params: { retry: "commission" } }, target: "backingOff" },
            {
              target: "#host.quarantining",
              actions: { type: "setQuarantineReason", params: { phase: "commissioning", retry: "commission" } },
            },
          ],
        },
        backingOff: {
          on: { RESTORED: { target: "backingOff", reenter: true } },
          after: { commissionBackoff: { target: "#host.commissioning", reenter: true } },
        },
      },
    },

    tagging: {
      entry: { type: "emitPhase", params: { phase: "tagging" } },
      initial: "working",
      states: {
        working: {
          on: { RESTORED: { target: "working", reenter: true } },
          invoke: {
            src: "tagMachine",
            input: ({ context }) => ({
              systemId: context.systemId,
              roles: context.roles,
              ...(context.reprovisionCommissioned && context.reprovision?.recheck ? { recheck: context.reprovision.recheck } : {}),
            }),
            onDone: { target: "#host.allocating", actions: "markTagged" },
            onError: {
              target: "failedAttempt",
              actions: { type: "recordActorError", params: { phase: "tagging" } },
            },
          },
        },
        failedAttempt: {
          always: [
            { guard: { type: "canRetry", params: { retry: "deploy" } }, target: "backingOff" },
            {
              target: "#host.quarantining",
              actions: { type: "setQuarantineReason", params: { phase: "tagging", retry: "deploy" } },
            },
          ],
        },
        backingOff: {
          on: { RESTORED: { target: "backingOff", reenter: true } },
          after: { deployBackoff: deployRetry },
        },
      },
    },

    allocating: {
      entry: { type: "emitPhase", params: { phase: "allocating" } },
      initial: "working",
      states: {
        working: {
          on: { RESTORED: { target: "working", reenter: true } },
          invoke: {
            src: "allocateMachine",
            input: ({ context }) => ({ systemId: context.systemId }),
            onDone: { target: "#host.deploying" },
            onError: {
              target: "failedAttempt",
              actions: { type: "recordActorError", params: { phase: "allocating" } },
            },
          },
        },
        failedAttempt: {
          always: [
            { guard: { type: "canRetry", params: { retry: "deploy" } }, target: "backingOff" },
            {
              target: "#host.quarantining",
              actions: { type: "setQuarantineReason", params: { phase: "allocating", retry: "deploy" } },
            },
          ],
        },
        backingOff: {
          on: { RESTORED: { target: "backingOff", reenter: true } },
          after: { deployBackoff: deployRetry },
        },
      },
    },

    deploying: {
      // The deploy attempt was begun by the transition into the deploy cycle (tagging,
      // releasing, allocating or straight here), so entry only reports it.
      entry: ["clearRequest", { type: "emitPhase", params: { phase: "deploying" } }],
      initial: "slotted",
      states: {
        slotted: {
          entry: { type: "requestSlot", params: { phase: "deploying" } },
          exit: { type: "releaseSlot", params: { phase: "deploying" } },
          on: {
            MAAS_STATUS: [
              {
                guard: { type: "statusChangedTo", params: { statuses: [S.DEPLOYED] } },
                target: "#host.deployed",
                actions: "recordStatus",
              },
              {
                guard: { type: "statusChangedTo", params: { statuses: [S.FAILED_DEPLOYMENT] } },
                target: "#host.deploying.failedAttempt",
                actions: [{ type: "recordStatusFailure", params: { phase: "deploying" } }, "recordStatus"],
              },
            ],
          },
          initial: "awaitingSlot",
          states: {
            awaitingSlot: {
              on: {
                SLOT_GRANTED: {
                  guard: { type: "grantIs", params: { phase: "deploying" } },
                  target: "working",
                  actions: { type: "takeSlot", params: { phase: "deploying" } },
                },
              },
            },
            working: {
              on: {
                RESTORED: { target: "working", reenter: true },
                ABORT: { target: "#host.aborting", actions: "noteAbort" },
              },
              after: {
                deployTimeout: {
                  target: "timingOut",
                  actions: { type: "recordTimeout", params: { phase: "deploying", retry: "deploy" } },
                },
              },
              initial: "deciding",
              states: {
                deciding: {
                  always: [
                    { guard: { type: "statusIs", params: { statuses: [S.DEPLOYED] } }, target: "#host.deployed" },
                    { guard: { type: "alreadyUnderway", params: { statuses: [S.DEPLOYING] } }, target: "waiting" },
                    { target: "requesting" },
                  ],
                },
                requesting: {
                  invoke: {
                    src: "deployMachine",
                    input: ({ context }) => ({ systemId: context.systemId, hostname: context.hostname, roles: context.roles }),
                    onDone: { target: "waiting", actions: "markRequestSent" },
                    onError: {
                      target: "#host.deploying.failedAttempt",
                      actions: { type: "recordActorError", params: { phase: "deploying" } },
                    },
                  },
                },
                waiting: {},
              },
            },
            timingOut: {
              on: { ABORT: { target: "#host.aborting", actions: "noteAbort" }, RESTORED: { target: "timingOut", reenter: true } },
              invoke: {
                src: "abortMachine",
                input: ({ context }) => ({ systemId: context.systemId }),
                onDone: [
                  {
                    guard: { type: "abortFoundStatus", params: { statuses: [S.DEPLOYED] } },
                    target: "#host.deployed",
                    actions: "recordAbortStatus",
                  },
                  { target: "#host.deploying.failedAttempt", actions: "recordAbortStatus" },
                ],
                onError: { target: "#host.deploying.failedAttempt" },
              },
            },
          },
        },
        failedAttempt: {
          always: [
            { guard: { type: "canRetry", params: { retry: "deploy" } }, target: "backingOff" },
            {
              target: "#host.quarantining",
              actions: { type: "setQuarantineReason", params: { phase: "deploying", retry: "deploy" } },
            },
          ],
        },
        backingOff: {
          on: { RESTORED: { target: "backingOff", reenter: true } },
          after: { deployBackoff: deployRetry },
        },
      },
    },

    deployed: {
      entry: { type: "emitPhase", params: { phase: "deployed" } },
      always: "layering",
    },

    layering: {
      entry: [
        { type: "beginAttempt", params: { retry: "layer" } },
        { type: "emitPhase", params: { phase: "layering" } },
      ],
      initial: "slotted",
      states: {
        slotted: {
          entry: { type: "requestSlot", params: { phase: "layering" } },
          exit: { type: "releaseSlot", params: { phase: "layering" } },
          initial: "awaitingSlot",
          states: {
            awaitingSlot: {
              on: {
                SLOT_GRANTED: {
                  guard: { type: "grantIs", params: { phase: "layering" } },
                  target: "working",
                  actions: { type: "takeSlot", params: { phase: "layering" } },
                },
              },
            },
            working: {
              on: { RESTORED: { target: "working", reenter: true } },
              after: {
                layerTimeout: {
                  target: "#host.layering.failedAttempt",
                  actions: { type: "recordTimeout", params: { phase: "layering", retry: "layer" } },
                },
              },
              invoke: {
                src: "layerHost",
                input: ({ context }) => ({ systemId: context.systemId, hostname: context.hostname, roles: context.roles }),
                onDone: { target: "#host.inService" },
                onError: {
                  target: "#host.layering.failedAttempt",
                  actions: { type: "recordActorError", params: { phase: "layering" } },
                },
              },
            },
          },
        },
        failedAttempt: {
          always: [
            { guard: { type: "canRetry", params: { retry: "layer" } }, target: "backingOff" },
            {
              target: "#host.quarantining",
              actions: { type: "setQuarantineReason", params: { phase: "layering", retry: "layer" } },
            },
          ],
        },
        backingOff: {
          on: { RESTORED: { target: "backingOff", reenter: true } },
          after: { layerBackoff: { target: "#host.layering", reenter: true } },
        },
      },
    },

    inService: {
      type: "final",
      entry: [{ type: "emitPhase", params: { phase: "inService" } }, { type: "settle", params: { outcome: "inService" } }],
    },

    releasing: {
      entry: [
        { type: "beginAttempt", params: { retry: "release" } },
        { type: "emitPhase", params: { phase: "releasing" } },
      ],
      initial: "working",
      states: {
        working: {
          on: {
            RESTORED: { target: "working", reenter: true },
            MAAS_STATUS: [
              {
                guard: { type: "statusChangedTo", params: { statuses: [S.READY] } },
                target: "#host.releasing.released",
                actions: "recordStatus",
              },
              {
                guard: { type: "statusChangedTo", params: { statuses: [S.FAILED_RELEASING, S.FAILED_DISK_ERASING] } },
                target: "#host.releasing.failedAttempt",
                actions: [{ type: "recordStatusFailure", params: { phase: "releasing" } }, "recordStatus"],
              },
            ],
          },
          after: {
            releaseTimeout: {
              target: "#host.releasing.failedAttempt",
              actions: { type: "recordTimeout", params: { phase: "releasing", retry: "release" } },
            },
          },
          initial: "deciding",
          states: {
            deciding: {
              always: [
                { guard: { type: "statusIs", params: { statuses: [S.READY] } }, target: "#host.releasing.released" },
                { guard: { type: "alreadyUnderway", params: { statuses: [S.RELEASING, S.DISK_ERASING] } }, target: "waiting" },
                { target: "requesting" },
              ],
            },
            requesting: {
              invoke: {
                src: "releaseMachine",
                // No erase on a retry after a failed deployment: it only needs the machine back to
                // Ready. A re-provisioning erases as it was asked to.
                input: ({ context }) => ({
                  systemId: context.systemId,
                  erase: context.reprovision && !context.reprovisionReleased ? context.reprovision.erase : ("none" as EraseMode),
                }),
                onDone: { target: "waiting", actions: "markRequestSent" },
                onError: {
                  target: "#host.releasing.failedAttempt",
                  actions: { type: "recordActorError", params: { phase: "releasing" } },
                },
              },
            },
            waiting: {},
          },
        },
        released: {
          entry: "resetReleaseAttempts",
          always: [
            // A re-commissioning asked for: commission the released machine, then the deploy cycle.
            { guard: "recommissionPending", target: "#host.commissioning" },
            { guard: "notTagged", target: "#host.tagging" },
            { target: "#host.allocating" },
          ],
        },
        failedAttempt: {
          always: [
            { guard: { type: "canRetry", params: { retry: "release" } }, target: "backingOff" },
            {
              target: "#host.quarantining",
              actions: { type: "setQuarantineReason", params: { phase: "releasing", retry: "release" } },
            },
          ],
        },
        backingOff: {
          on: { RESTORED: { target: "backingOff", reenter: true } },
          after: { releaseBackoff: { target: "#host.releasing", reenter: true } },
        },
      },
    },

    quarantining: {
      entry: { type: "emitPhase", params: { phase: "quarantining" } },
      // Marking Broken is short and is what tells people the machine is bad: an ABORT
      // does not interrupt it.
      on: { ABORT: {}, RESTORED: { target: "quarantining", reenter: true } },
      invoke: {
        src: "markBroken",
        input: ({ context }) => ({ systemId: context.systemId, reason: context.reason ?? "quarantined by metalwave" }),
        onDone: { target: "quarantined" },
        onError: {
          target: "failed",
          actions: [{ type: "recordActorError", params: { phase: "quarantining" } }, "noteMarkBrokenFailure"],
        },
      },
    },

    quarantined: {
      type: "final",
      entry: [{ type: "emitPhase", params: { phase: "quarantined" } }, { type: "settle", params: { outcome: "quarantined" } }],
    },

    aborting: {
      entry: { type: "emitPhase", params: { phase: "aborting" } },
      on: { ABORT: {}, RESTORED: { target: "aborting", reenter: true } },
      invoke: {
        src: "abortMachine",
        input: ({ context }) => ({ systemId: context.systemId }),
        onDone: { target: "aborted" },
        onError: {
          target: "failed",
          actions: [{ type: "recordActorError", params: { phase: "aborting" } }, "noteAbortFailure"],
        },
      },
    },

    aborted: {
      type: "final",
      entry: [{ type: "emitPhase", params: { phase: "aborted" } }, { type: "settle", params: { outcome: "aborted" } }],
    },

    failed: {
      type: "final",
      entry: [{ type: "emitPhase", params: { phase: "failed" } }, { type: "settle", params: { outcome: "failed" } }],
    },
  },
});

export type HostMachine = typeof hostMachine;
