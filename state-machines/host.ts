/**
 * `hostMachine`: the life of one physical machine during a rollout, from whatever
 * MAAS says it is now to in service (or quarantined). Pure: every side effect is a
 * named actor the runtime provides (`hostMachine.provide({ actors })`), every timer is
 * a named delay, and everything the outside world needs to know leaves through `emit`.
 * See docs/pipeline.md for the diagram, the retry rules and what happens on restore.
 *
 * The machine is assembled here from its parts, one file each in ./host/:
 * `contract.ts` (states, input, context, events), `policy.ts` (retry budgets, back-off,
 * timeouts), `failures.ts` (how a failure is recorded), `setup.ts` (actors, delays,
 * guards, actions) and `phase-builder.ts` (the shapes phases share: a MAAS operation under
 * a slot, one actor step, and the failed attempt → back-off → retry tail).
 */
import { NodeStatus, type NodeStatusCode } from "../src/model/maas/status.ts";
import type { EraseMode } from "./host/contract.ts";
import { hostSetup, recommissionPending } from "./host/setup.ts";
import { actorStepPhase, failedAttemptThenRetry, maasOperationPhase, reenter } from "./host/phase-builder.ts";

export * from "./host/contract.ts";
export { defaultHostPolicy, backoffDelayMs, retryPhaseOf } from "./host/policy.ts";
export { describeError, FAILURE_HISTORY } from "./host/failures.ts";
export { REPROVISION_RELEASABLE, recommissionPending } from "./host/setup.ts";

const S = NodeStatus;

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
    ROLLOUT_PAUSED: { actions: "hold" },
    ROLLOUT_RESUMED: { actions: "unhold" },
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
        // Broken and never commissioned successfully, planned to be commissioned again (remediation).
        { guard: "commissionFromBroken", target: "commissioning" },
        {
          guard: { type: "statusIs", params: { statuses: [S.BROKEN] } },
          target: "quarantined",
          actions: { type: "setReason", params: { reason: "already Broken in MAAS: out of service before the rollout" } },
        },
        { target: "failed", actions: "recordUnexpectedStatus" },
      ],
    },

    commissioning: maasOperationPhase({
        phase: "commissioning",
        budget: "commission",
        entry: [
          { type: "beginAttempt", params: { retry: "commission" } },
          { type: "emitPhase", params: { phase: "commissioning" } },
        ],
        // Ready ends commissioning and begins the deploy cycle (and a re-commissioning asked for).
        succeeded: { status: S.READY, target: "#host.tagging", actions: [toDeployCycle, "markCommissioned"] },
        failedStatus: S.FAILED_COMMISSIONING,
        busyStatus: S.COMMISSIONING,
        // A re-commissioning starts from the Ready its release left: Ready is no proof here.
        decideFirst: [{ guard: "recommissionFromReady", target: "requesting" }],
        request: {
          src: "commissionMachine",
          input: ({ context }) => ({ systemId: context.systemId, ...(recommissionPending(context) ? { recommission: true as const } : {}) }),
        },
        timeout: "commissionTimeout",
        backoff: "commissionBackoff",
        retry: reenter("commissioning"),
      }),

    tagging: actorStepPhase({
      phase: "tagging",
      budget: "deploy",
      request: {
        src: "tagMachine",
        input: ({ context }) => ({
          systemId: context.systemId,
          roles: context.roles,
          ...(context.reprovisionCommissioned && context.reprovision?.recheck ? { recheck: context.reprovision.recheck } : {}),
        }),
      },
      next: { target: "#host.allocating", actions: "markTagged" },
      backoff: "deployBackoff",
      retry: deployRetry,
    }),

    allocating: actorStepPhase({
      phase: "allocating",
      budget: "deploy",
      request: { src: "allocateMachine", input: ({ context }) => ({ systemId: context.systemId }) },
      next: { target: "#host.deploying" },
      backoff: "deployBackoff",
      retry: deployRetry,
    }),

    deploying: maasOperationPhase({
      phase: "deploying",
      budget: "deploy",
      // The deploy attempt was begun by the transition into the deploy cycle (tagging,
      // releasing, allocating or straight here), so entry only reports it.
      entry: ["clearRequest", { type: "emitPhase", params: { phase: "deploying" } }],
      succeeded: { status: S.DEPLOYED, target: "#host.deployed", actions: [] },
      failedStatus: S.FAILED_DEPLOYMENT,
      busyStatus: S.DEPLOYING,
      decideFirst: [],
      request: {
        src: "deployMachine",
        input: ({ context }) => ({ systemId: context.systemId, hostname: context.hostname, roles: context.roles }),
      },
      timeout: "deployTimeout",
      backoff: "deployBackoff",
      // A failed deployment is retried through a release (MAAS not Ready), tags, allocation.
      retry: deployRetry,
    }),

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
        ...failedAttemptThenRetry({ phase: "layering", budget: "layer", backoff: "layerBackoff", retry: reenter("layering") }),
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
                // A re-provisioning takes the host out of Juju first (the actor's `leave`).
                input: ({ context }) => ({
                  systemId: context.systemId,
                  erase: context.reprovision && !context.reprovisionReleased ? context.reprovision.erase : ("none" as EraseMode),
                  leave: !!context.reprovision && !context.reprovisionReleased,
                }),
                onDone: { target: "waiting", actions: "markRequestSent" },
                onError: [
                  // The removal from Juju refused before it changed anything (REFUSAL_CODES): not a
                  // failed attempt. Nothing was released; the host ends refused, as it was.
                  {
                    guard: "isRefusal",
                    target: "#host.refused",
                    actions: [{ type: "recordActorError", params: { phase: "releasing" } }, "noteRefusal"],
                  },
                  {
                    target: "#host.releasing.failedAttempt",
                    actions: { type: "recordActorError", params: { phase: "releasing" } },
                  },
                ],
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
        ...failedAttemptThenRetry({ phase: "releasing", budget: "release", backoff: "releaseBackoff", retry: reenter("releasing") }),
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

    // A re-provisioning refused before anything was changed (its removal from Juju checked a rule
    // only --force overrides): the machine is as it was, in MAAS and in Juju.
    refused: {
      type: "final",
      entry: [{ type: "emitPhase", params: { phase: "refused" } }, { type: "settle", params: { outcome: "refused" } }],
    },

    failed: {
      type: "final",
      entry: [{ type: "emitPhase", params: { phase: "failed" } }, { type: "settle", params: { outcome: "failed" } }],
    },
  },
});

export type HostMachine = typeof hostMachine;
