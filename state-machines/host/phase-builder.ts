/**
 * The shapes the host's phases share, built once. A newcomer looking for "a machine
 * failed deploying and is retried" finds it here by name:
 *
 * - `failedAttemptThenRetry`: every phase with a retry budget ends a failed attempt in
 *   `failedAttempt`, then either `backingOff` (attempts left; the back-off delay, then
 *   the phase's retry) or `quarantining` (attempts spent, with a reason naming the phase).
 *   While the rollout is paused the retry waits in `retryHeld`.
 * - `maasOperationPhase`: commissioning and deploying, a long MAAS operation under a phase
 *   slot: `slotted` (`awaitingSlot`, then `working`: `deciding` / `requesting` / `waiting`,
 *   then `timingOut`, which aborts the MAAS operation), ended by MAAS's status.
 * - `actorStepPhase`: tagging and allocating, one actor call, `working` only.
 *
 * The builders return plain state configs; the machine (../host.ts) is assembled from
 * them and type-checked against `hostSetup` there.
 */
import type { NodeStatusCode } from "../../src/model/maas/status.ts";
import type { CappedPhase, HostContext, HostPhase, RetryPhase } from "./contract.ts";
import type { hostSetup } from "./setup.ts";

/** A state of the host machine, typed by its setup (actors, guards, actions, delays). */
export type HostStateConfig = NonNullable<Parameters<typeof hostSetup.createMachine>[0]["states"]>[string];
/** A transition (or a list of guarded ones), as `always`, `on` and `after` take it. */
export type HostTransition = NonNullable<HostStateConfig["always"]>;
type SingleTransition = Exclude<HostTransition, readonly unknown[]>;
type AfterConfig = NonNullable<HostStateConfig["after"]>;
/** What happens when a delay (a back-off, a timeout) has elapsed. */
export type DelayedTransition = NonNullable<AfterConfig[BackoffDelay]>;
type HostAction = Exclude<NonNullable<HostStateConfig["entry"]>, readonly unknown[]>;
type HostInvoke = Exclude<NonNullable<HostStateConfig["invoke"]>, readonly unknown[]>;
/** An invoke without its outcomes: `{ src, input }` (distributed over the actors, so each src keeps its input). */
export type HostRequest = HostInvoke extends infer I ? (I extends unknown ? Omit<I, "onDone" | "onError"> : never) : never;
/** What reaching a phase's success may also do (an action named in setup.ts). */
export type SuccessAction = "markCommissioned" | "markTagged" | { type: "beginAttempt"; params: { retry: RetryPhase } };

export type BackoffDelay = "commissionBackoff" | "deployBackoff" | "releaseBackoff" | "layerBackoff";
export type TimeoutDelay = "commissionTimeout" | "deployTimeout" | "releaseTimeout" | "layerTimeout";

/**
 * The tail of a phase with a retry budget: `failedAttempt`, then `backingOff` and the
 * phase's `retry` transition, or `quarantining` once `budget`'s attempts are spent.
 * `backingOff` re-enters itself on RESTORED (a restored actor has no timers).
 */
export function failedAttemptThenRetry(p: { phase: HostPhase; budget: RetryPhase; backoff: BackoffDelay; retry: DelayedTransition }) {
  const after: AfterConfig = {};
  after[p.backoff] = p.retry;
  return {
    failedAttempt: {
      always: [
        { guard: { type: "canRetry", params: { retry: p.budget } }, target: "backingOff" },
        {
          target: "#host.quarantining",
          actions: { type: "setQuarantineReason", params: { phase: p.phase, retry: p.budget } },
        },
      ],
    },
    backingOff: {
      // Paused (now, or when the attempt failed): the retry waits in retryHeld.
      always: { guard: "retriesHeld", target: "retryHeld" },
      on: { RESTORED: { target: "backingOff", reenter: true } },
      after,
    },
    retryHeld: {
      entry: { type: "emitRetryHeld", params: { phase: p.phase } },
      // Resumed: back off again from the full delay, then retry.
      on: { ROLLOUT_RESUMED: { target: "backingOff", actions: "unhold" } },
    },
  } as const;
}

/** Retry a phase from its start after the back-off (re-entering it begins the next attempt). */
export function reenter(phase: HostPhase): DelayedTransition {
  return { target: `#host.${phase}`, reenter: true };
}

/**
 * A MAAS operation under a phase slot (commissioning, deploying). The host asks for the
 * phase's slot, decides from MAAS's status whether to send the request, waits for MAAS to
 * report `succeeded` or `failedStatus`, and on its own timeout aborts the MAAS operation
 * before the attempt counts as failed. `succeeded.actions` run on every way to success.
 */
export function maasOperationPhase(p: {
  phase: CappedPhase;
  budget: RetryPhase;
  entry: readonly HostAction[];
  /** MAAS says the operation finished: the status, the next state, the actions it takes. */
  succeeded: { status: NodeStatusCode; target: string; actions: readonly SuccessAction[] };
  failedStatus: NodeStatusCode;
  /** MAAS is already doing it (the request was accepted before, or by someone else). */
  busyStatus: NodeStatusCode;
  /** Choices `deciding` weighs before the usual ones. */
  decideFirst: readonly SingleTransition[];
  request: HostRequest;
  timeout: TimeoutDelay;
  backoff: BackoffDelay;
  retry: DelayedTransition;
}) {
  const failedAttempt = `#host.${p.phase}.failedAttempt`;
  const timeout: AfterConfig = {};
  timeout[p.timeout] = { target: "timingOut", actions: { type: "recordTimeout", params: { phase: p.phase, retry: p.budget } } };
  return {
    entry: p.entry,
    initial: "slotted",
    states: {
      slotted: {
        entry: { type: "requestSlot", params: { phase: p.phase } },
        exit: { type: "releaseSlot", params: { phase: p.phase } },
        on: {
          MAAS_STATUS: [
            {
              guard: { type: "statusChangedTo", params: { statuses: [p.succeeded.status] } },
              target: p.succeeded.target,
              actions: ["recordStatus", ...p.succeeded.actions],
            },
            {
              guard: { type: "statusChangedTo", params: { statuses: [p.failedStatus] } },
              target: failedAttempt,
              actions: [{ type: "recordStatusFailure", params: { phase: p.phase } }, "recordStatus"],
            },
          ],
        },
        initial: "awaitingSlot",
        states: {
          awaitingSlot: {
            on: {
              SLOT_GRANTED: {
                guard: { type: "grantIs", params: { phase: p.phase } },
                target: "working",
                actions: { type: "takeSlot", params: { phase: p.phase } },
              },
            },
          },
          working: {
            on: {
              RESTORED: { target: "working", reenter: true },
              ABORT: { target: "#host.aborting", actions: "noteAbort" },
            },
            after: timeout,
            initial: "deciding",
            states: {
              deciding: {
                always: [
                  ...p.decideFirst,
                  // Done already (MAAS finished while we waited for a slot): nothing to send.
                  { guard: { type: "statusIs", params: { statuses: [p.succeeded.status] } }, target: p.succeeded.target, actions: [...p.succeeded.actions] },
                  { guard: { type: "alreadyUnderway", params: { statuses: [p.busyStatus] } }, target: "waiting" },
                  { target: "requesting" },
                ],
              },
              requesting: {
                invoke: {
                  ...p.request,
                  onDone: { target: "waiting", actions: "markRequestSent" },
                  onError: { target: failedAttempt, actions: { type: "recordActorError", params: { phase: p.phase } } },
                } as HostInvoke,
              },
              waiting: {},
            },
          },
          timingOut: {
            on: { ABORT: { target: "#host.aborting", actions: "noteAbort" }, RESTORED: { target: "timingOut", reenter: true } },
            invoke: {
              src: "abortMachine",
              input: ({ context }: { context: HostContext }) => ({ systemId: context.systemId }),
              onDone: [
                // MAAS finished after all (it raced our timer): the attempt is not lost.
                {
                  guard: { type: "abortFoundStatus", params: { statuses: [p.succeeded.status] } },
                  target: p.succeeded.target,
                  actions: ["recordAbortStatus", ...p.succeeded.actions],
                },
                { target: failedAttempt, actions: "recordAbortStatus" },
              ],
              onError: { target: failedAttempt },
            },
          },
        },
      },
      ...failedAttemptThenRetry({ phase: p.phase, budget: p.budget, backoff: p.backoff, retry: p.retry }),
    },
  } as const;
}

/**
 * One actor call (tagging, allocating): `working` invokes it and moves on to `next`; a
 * rejection is a failed attempt of `budget`.
 */
export function actorStepPhase(p: {
  phase: HostPhase;
  budget: RetryPhase;
  request: HostRequest;
  next: SingleTransition;
  backoff: BackoffDelay;
  retry: DelayedTransition;
}) {
  return {
    entry: { type: "emitPhase", params: { phase: p.phase } },
    initial: "working",
    states: {
      working: {
        on: { RESTORED: { target: "working", reenter: true } },
        invoke: {
          ...p.request,
          onDone: p.next,
          onError: { target: "failedAttempt", actions: { type: "recordActorError", params: { phase: p.phase } } },
        } as HostInvoke,
      },
      ...failedAttemptThenRetry({ phase: p.phase, budget: p.budget, backoff: p.backoff, retry: p.retry }),
    },
  } as const;
}
