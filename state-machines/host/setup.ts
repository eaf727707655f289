/**
 * The host machine's vocabulary: the named actors the runtime provides, the delays, the
 * guards and the actions its states are built from (`setup`). Guards are pure; actions
 * only assign and emit.
 */
import { setup, assign, emit, enqueueActions, fromPromise } from "xstate";
import { NodeStatus, type NodeStatusCode } from "../../src/model/maas/status.ts";
import type { RoleRecheck } from "../../src/roles/recheck.ts";
import type {
  AbortOutput,
  CappedPhase,
  EraseMode,
  HostContext,
  HostEmitted,
  HostEvent,
  HostInput,
  HostOutcome,
  HostOutput,
  HostPhase,
  RetryPhase,
} from "./contract.ts";
import { REFUSAL_CODES } from "./contract.ts";
import { backoffDelayMs, retryPhaseOf } from "./policy.ts";
import { describeError, errorText, MAX_MESSAGE, statusLabel, withFailure } from "./failures.ts";

const S = NodeStatus;

/** Statuses a re-provisioning releases from (MAAS releases these; Deploying must be aborted first). */
export const REPROVISION_RELEASABLE: readonly NodeStatusCode[] = [S.DEPLOYED, S.ALLOCATED, S.FAILED_DEPLOYMENT, S.FAILED_RELEASING, S.FAILED_DISK_ERASING];

/** A re-commissioning was asked for, the release before it is done, and it has not ended Ready yet. */
export function recommissionPending(context: HostContext): boolean {
  return !!context.reprovision?.recommission && !!context.reprovisionReleased && !context.reprovisionCommissioned;
}

function notProvided<I extends { systemId: string }, O = void>(name: string) {
  return fromPromise<O, I>(async ({ input }) => {
    throw new Error(`hostMachine actor "${name}" is not provided (runtime must supply it with .provide()); machine ${input.systemId}`);
  });
}

type StatusParams = { statuses: readonly NodeStatusCode[] };

function abortOutputStatus(event: unknown): NodeStatusCode | undefined {
  const out = (event as { output?: AbortOutput }).output;
  return out?.status;
}

export const hostSetup = setup({
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
    /** A Broken machine that never commissioned successfully is to be commissioned from there (remediation). */
    commissionFromBroken: ({ context }) => !!context.reprovision?.commissionFromBroken && !context.reprovisionCommissioned && context.maasStatus === S.BROKEN,
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
    /** An actor rejected with a refusal (REFUSAL_CODES): the operator's rule, not a failed attempt. */
    isRefusal: ({ event }) => REFUSAL_CODES.includes(describeError((event as unknown as { error?: unknown }).error).code),
    /** The rollout is paused: a retry must not start. */
    retriesHeld: ({ context }) => !!context.held,
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
    hold: assign({ held: true }),
    unhold: assign({ held: false }),
    emitRetryHeld: emit(({ context }, params: { phase: HostPhase }) => ({ type: "host.retryHeld" as const, systemId: context.systemId, phase: params.phase })),
    /** Each phase's request is its own: a release accepted on the retry path says nothing about the deploy. */
    clearRequest: assign({ requestSent: false }),
    markTagged: assign({ tagged: true }),
    /** Commissioning ended Ready: a re-commissioning asked for is done. */
    markCommissioned: assign(({ context }) => (context.reprovision?.recommission || context.reprovision?.commissionFromBroken ? { reprovisionCommissioned: true } : {})),
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
      const message = `MAAS reports "${statusLabel(event.status)}"${detail}`.slice(0, MAX_MESSAGE);
      return withFailure(context, { phase: params.phase, code: "MAAS_FAILED_STATUS", message });
    }),
    recordTimeout: assign(({ context }, params: { phase: HostPhase; retry: RetryPhase }) => {
      const ms = context.policy.timeoutsMs[params.retry];
      const message = `${params.phase} did not finish within ${ms} ms (MAAS status "${statusLabel(context.maasStatus)}")`;
      return withFailure(context, { phase: params.phase, code: "PHASE_TIMEOUT", message });
    }),
    recordUnexpectedStatus: assign(({ context }) => {
      const message = `MAAS status "${statusLabel(context.maasStatus)}" is not one a rollout can start from`;
      return {
        ...withFailure(context, { phase: "enlisted", code: "UNEXPECTED_STATUS", message }),
        reason: message,
      };
    }),
    setQuarantineReason: assign(({ context }, params: { phase: HostPhase; retry: RetryPhase }) => ({
      reason: `${params.phase} failed ${context.attempts[params.retry]} time(s); last error ${errorText(context.lastError)}`,
    })),
    setReason: assign((_, params: { reason: string }) => ({ reason: params.reason })),
    /** The refusal's message (what refused, why, how to go on) is the reason the host settles with. */
    noteRefusal: assign(({ context }) => ({ reason: `re-provisioning refused, nothing changed: ${context.lastError?.message ?? "no reason given"}` })),
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

