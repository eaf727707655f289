/**
 * The side effects of the host state machine: one function per named actor of
 * state-machines/host.ts, each a "check, then act" MAAS call. They are safe to
 * run again after a crash (XState restarts a promise that was in flight when
 * its snapshot was saved): a request MAAS refuses because the machine is
 * already where the request would take it counts as done, and a state-changing
 * call whose outcome the store recorded as unknown is reconciled by reading the
 * machine before anything is sent again.
 */
import { MetalwaveError } from "../errors.ts";
import type { EraseMode } from "../../state-machines/host.ts";
import type { DiskTagChange } from "./deployment-plan.ts";
import { recheckMachine, type RoleRecheck } from "../roles/index.ts";
import { fromPromise } from "xstate";
import type { Logger } from "pino";
import type { MaasPort, MachineState } from "../maas/port.ts";
import { MaasError } from "../maas/errors.ts";
import { NodeStatus, STATUS_LABEL, type NodeStatusCode } from "../model/maas/status.ts";
import { commissionedSince, tookEffect, type ReconciledOp } from "../model/maas/reconcile.ts";
import type { StatusObserver } from "./observer.ts";
import type { TagBatcher } from "./tag-batcher.ts";
import type { CallJournal } from "./call-journal.ts";
import { renderUserData } from "../layers/templates.ts";
import type { AbortOutput } from "../../state-machines/host.ts";
import type { HostLayout } from "../roles/layout-plan.ts";
import { applyHostLayout } from "./host-layout.ts";

export type HostOperation = ReconciledOp;

const HOST_OPERATIONS: readonly HostOperation[] = ["commission", "allocate", "deploy", "release", "abort", "markBroken", "markFixed", "powerOn", "powerOff"];

export function isHostOperation(op: string): op is HostOperation {
  return (HOST_OPERATIONS as readonly string[]).includes(op);
}

/**
 * The host's step is done when its request took effect, or when the machine is already
 * past where the step leads (a snapshot restored after a crash can be a step behind
 * MAAS): a commission whose machine is Ready or further on, an allocation whose machine
 * is being, or has been, deployed for us. A re-commissioning (which starts from Ready)
 * is the exception: the commissionMachine actor judges it by the client's rule alone.
 */
export function operationTookEffect(op: HostOperation, m: MachineState, me: string): boolean {
  if (tookEffect(op, m, { me })) return true;
  switch (op) {
    case "commission":
      return BEYOND_COMMISSIONING.includes(m.status);
    case "allocate":
      return (m.status === NodeStatus.DEPLOYING || m.status === NodeStatus.DEPLOYED) && m.owner === me;
    default:
      return false;
  }
}

const BEYOND_COMMISSIONING: readonly number[] = [NodeStatus.READY, NodeStatus.ALLOCATED, NodeStatus.DEPLOYING, NodeStatus.DEPLOYED];

export interface HostActorDeps {
  maas: MaasPort;
  observer: Pick<StatusObserver, "note" | "poke" | "commissioningResultId">;
  tags: TagBatcher;
  calls: CallJournal;
  logger: Logger;
  agentName: string;
  /** The MAAS user we act as (whoami): allocate and deploy make it the owner. */
  me: string;
  distroSeries: string;
  scopeTag: string;
  sshAuthorizedKeys: readonly string[];
  proxy?: { http?: string | undefined; https?: string | undefined };
  eraseOnRelease: boolean;
  /**
   * What a host's tagging phase still has to do: its machine tags (scope and roles),
   * unless they were written in bulk before the rollout, its block-device tags, and its
   * network and storage layout (docs/roles.md).
   */
  taggingFor: (systemId: string) => { machineTags: boolean; disks: readonly DiskTagChange[]; hostname?: string | undefined; layout?: HostLayout | undefined };
  /** True once for a host restored from a snapshot in this process: its first request reads the machine first. */
  restoredFirstCall: (systemId: string) => boolean;
  /** Runs before every deploy request: the SSH port expects the machine's new host key. */
  beforeDeploy: (systemId: string) => Promise<void>;
  /**
   * Runs when a host reaches its layering phase (src/runtime/layer-coordinator.ts). `signal`
   * aborts when the attempt ends without it (the layering state timed out, the host was
   * aborted): the host's layer work then stops, so a retry of it runs alone.
   */
  layer: (host: { systemId: string; hostname: string; roles: readonly string[] }, signal: AbortSignal) => Promise<void>;
  /**
   * Runs before a re-provisioning's release: the host leaves Juju cleanly first (its units, its
   * MicroCeph member, its machine: src/layers/removal.ts). Idempotent, so a release resumed after
   * a crash finishes what was left. When `signal` aborts (the host or the rollout is aborted), it
   * stops at its next command or wait (LAYER_STOPPED); every change it made was journaled ahead,
   * so a resumed release finishes it.
   */
  leave: (systemId: string, signal: AbortSignal) => Promise<void>;
  /**
   * Runs as each of a host's steps ends, before its result reaches the host machine: the
   * runner tells the host the MAAS status it held back (held-statuses.ts), so the
   * host decides its next step on the status MAAS reports now. Absent: nothing is held back.
   */
  beforeResult?: (systemId: string) => void;
}

/**
 * A rejection the host machine can record: a code and a message, never a secret. The
 * code is the underlying error's (a MaasError's, a layer's) or UNEXPECTED, so the set is
 * open here; the host machine records it as given.
 */
export class HostStepError extends MetalwaveError {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

function asStepError(op: string, systemId: string, e: unknown): HostStepError {
  if (e instanceof HostStepError) return e;
  if (e instanceof MaasError) return new HostStepError(e.code, `${op} ${systemId}: ${e.message}`, { cause: e });
  // A layer's error already names the host, the step, the command, its exit code and output tail.
  if (e instanceof MetalwaveError) return new HostStepError(e.code, e.message, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new HostStepError("UNEXPECTED", `${op} ${systemId}: ${msg}`, { cause: e });
}

/**
 * What a call's intent records of the machine before the request, for an operation whose
 * effect its status alone cannot show after a crash (a commission that already failed
 * again), and how a read-back judges the request by it.
 */
interface CallEvidence {
  before: () => Promise<Record<string, unknown>>;
  tookEffectSince: (params: unknown, m: MachineState) => boolean;
}

function commissionEvidence(deps: HostActorDeps, systemId: string): CallEvidence {
  return {
    // The id the observer last saw; when it has seen none (a host restored before the
    // observer's first read), the machine is read: recording null ("no script set yet") for
    // an id merely not known would make any existing set look new, and a commission lost in a
    // crash would pass for one that ran.
    before: async () => {
      const seen = deps.observer.commissioningResultId(systemId);
      const id = seen !== undefined ? seen : (await deps.maas.readMachine(systemId)).current_commissioning_result_id;
      return id === undefined ? {} : { commissioningResultId: id };
    },
    tookEffectSince: commissionedSinceIntent,
  };
}

/** A commission's intent recorded the machine's commissioning script set: a new one since proves the request ran. */
function commissionedSinceIntent(params: unknown, m: MachineState): boolean {
  const before = (params as { commissioningResultId?: unknown } | undefined)?.commissioningResultId;
  return commissionedSince(typeof before === "number" || before === null ? before : undefined, m);
}

/**
 * Whether a call an earlier process left with an unknown outcome took effect, from the machine
 * read now and what its intent recorded before the request (`params`): the rule the runner
 * settles open calls by on resume, before any host decides, and the one a host applies to a
 * call still open when it acts. A commission sent from Failed commissioning that ran and
 * failed again leaves the status as it was; only the script set shows it ran.
 */
export function unknownCallTookEffect(op: HostOperation, m: MachineState, me: string, params: unknown): boolean {
  return operationTookEffect(op, m, me) || (op === "commission" && commissionedSinceIntent(params, m));
}

/**
 * Sends one state-changing request with its intent written ahead to the store.
 * When MAAS refuses it because of the machine's state, the machine is read
 * back: if it is already where the request leads, the step is done.
 */
async function guardedCall(
  deps: HostActorDeps,
  op: HostOperation,
  systemId: string,
  send: () => Promise<MachineState>,
  tookEffectOn: (m: MachineState) => boolean = (m) => operationTookEffect(op, m, deps.me),
  evidence?: CallEvidence,
): Promise<NodeStatusCode> {
  const pending = deps.calls.unknownOutcome(systemId, op);
  if (pending) {
    // A crash left this call's outcome unknown: read, don't repeat blindly.
    const m = await deps.maas.readMachine(systemId);
    if (tookEffectOn(m) || (evidence?.tookEffectSince(deps.calls.paramsOf(pending), m) ?? false)) {
      deps.calls.reconciled(pending, true);
      deps.observer.note(m);
      return m.status;
    }
    deps.calls.reconciled(pending, false);
  }
  if (pending === undefined && deps.restoredFirstCall(systemId)) {
    // The first request of a host restored from a snapshot: the snapshot may be older than
    // the last request it sent (saved just before the answer came back), so look first.
    // The runner may have settled this host's open call as taken (by the evidence its intent
    // recorded) before the host was restored: a commission that ran and failed again shows only there.
    const m = await deps.maas.readMachine(systemId);
    if (tookEffectOn(m) || deps.calls.tookEffectOnResume(systemId, op)) {
      deps.logger.debug({ systemId, op, status: m.status_name }, "restored host: request already took effect, not sent again");
      deps.observer.note(m);
      return m.status;
    }
  }
  const callId = await deps.calls.begin(systemId, op, evidence ? await evidence.before() : undefined);
  try {
    const m = await send();
    deps.calls.end(callId, "ok");
    deps.observer.note(m);
    return m.status;
  } catch (e) {
    if (e instanceof MaasError && (e.code === "MAAS_CONFLICT" || e.code === "MAAS_BAD_REQUEST")) {
      const m = await deps.maas.readMachine(systemId).catch(() => undefined);
      if (m && tookEffectOn(m)) {
        deps.calls.end(callId, "ok", `already done: machine is ${m.status_name}`);
        deps.observer.note(m);
        return m.status;
      }
    }
    deps.calls.end(callId, e instanceof MaasError && e.code === "MAAS_OUTCOME_UNKNOWN" ? "unknown" : "error", e instanceof Error ? e.message : String(e));
    throw asStepError(op, systemId, e);
  } finally {
    deps.observer.poke(systemId);
  }
}

/** The named actors, ready for `hostMachine.provide({ actors })`. */
export function createHostActors(deps: HostActorDeps) {
  /** One of a host's steps (an XState promise actor): its result reaches the host after `beforeResult`. */
  const step = <O, I extends { systemId: string }>(run: (args: { input: I; signal: AbortSignal }) => Promise<O>) =>
    fromPromise<O, I>(async ({ input, signal }) => {
      try {
        return await run({ input, signal });
      } finally {
        deps.beforeResult?.(input.systemId);
      }
    });
  return {
    commissionMachine: step<void, { systemId: string; recommission?: true }>(async ({ input }) => {
      // A re-commissioning starts from Ready, so only Commissioning or Testing shows that it
      // began; a Ready machine found after a crash is commissioned again rather than skipped.
      const proof = input.recommission ? (m: MachineState) => tookEffect("commission", m, { me: deps.me }) : undefined;
      const status = await guardedCall(deps, "commission", input.systemId, () => deps.maas.commission(input.systemId), proof, commissionEvidence(deps, input.systemId));
      // A commission an earlier process sent that ran and failed while it was down (its script
      // set proves it ran): the machine is back in the failed status the host already holds, so
      // no status change will ever tell the host; the attempt ended, and failed, here.
      if (status === NodeStatus.FAILED_COMMISSIONING || status === NodeStatus.FAILED_TESTING) {
        throw new HostStepError("MAAS_FAILED_STATUS", `commission ${input.systemId}: the commissioning sent before the restart ran and failed: MAAS reports "${STATUS_LABEL[status]}"`);
      }
    }),
    tagMachine: step<void, { systemId: string; roles: readonly string[]; recheck?: RoleRecheck }>(async ({ input }) => {
      try {
        const todo = deps.taggingFor(input.systemId);
        let disks: readonly DiskTagChange[] = todo.disks;
        if (input.recheck) {
          // Re-commissioned: judge the hardware MAAS found now, before anything is tagged.
          const m = await deps.maas.readMachine(input.systemId);
          const judged = recheckMachine(m, input.recheck);
          if (judged.problems.length > 0) {
            throw new HostStepError("RECOMMISSION_ROLE_MISMATCH", `${m.hostname} (${input.systemId}) after re-commissioning: ${judged.problems.join("; ")}`);
          }
          disks = judged.disks;
          deps.logger.info({ systemId: input.systemId, disks: disks.map((d) => `${d.action} ${d.tag} ${d.deviceName}`) }, "re-commissioned host: disk tags recomputed");
        }
        if (todo.machineTags) await deps.tags.add(input.systemId, [deps.scopeTag, ...input.roles]);
        // One call per disk (MAAS has no batch for block-device tags); each is idempotent.
        for (const d of disks) {
          if (d.action === "add") await deps.maas.addBlockDeviceTag(input.systemId, d.deviceId, d.tag);
          else await deps.maas.removeBlockDeviceTag(input.systemId, d.deviceId, d.tag);
        }
        // The network and storage layout, while the machine is Ready (src/runtime/host-layout.ts).
        if (todo.layout) await applyHostLayout(deps, { systemId: input.systemId, hostname: todo.hostname ?? input.systemId }, todo.layout);
      } catch (e) {
        throw asStepError("tag", input.systemId, e);
      }
    }),
    allocateMachine: step<void, { systemId: string }>(async ({ input }) => {
      await guardedCall(deps, "allocate", input.systemId, () =>
        deps.maas.allocate({ system_id: input.systemId, agent_name: deps.agentName, comment: "metalwave rollout" }),
      );
    }),
    deployMachine: step<void, { systemId: string; hostname: string; roles: readonly string[] }>(async ({ input }) => {
      const userData = renderUserData({
        hostname: input.hostname,
        systemId: input.systemId,
        roles: input.roles,
        sshAuthorizedKeys: deps.sshAuthorizedKeys,
        ...(deps.proxy ? { proxy: deps.proxy } : {}),
      });
      await deps.beforeDeploy(input.systemId);
      await guardedCall(deps, "deploy", input.systemId, () =>
        deps.maas.deploy(input.systemId, { user_data: userData, distro_series: deps.distroSeries, agent_name: deps.agentName }),
      );
    }),
    // XState aborts `signal` when it stops this actor (an abort of the host or the rollout): the removal stops at its next command or wait.
    releaseMachine: step<void, { systemId: string; erase: EraseMode; leave?: boolean }>(async ({ input, signal }) => {
      if (input.leave) {
        try {
          await deps.leave(input.systemId, signal);
        } catch (e) {
          throw asStepError("leave Juju", input.systemId, e);
        }
      }
      const mode: EraseMode = input.erase === "none" && deps.eraseOnRelease ? "quick" : input.erase;
      await guardedCall(deps, "release", input.systemId, () =>
        deps.maas.release(input.systemId, {
          erase: mode !== "none",
          ...(mode === "quick" ? { quick_erase: true } : {}),
          ...(mode === "secure" ? { secure_erase: true } : {}),
          comment: mode === "none" ? "metalwave: release for retry" : `metalwave: release with ${mode} erase`,
        }),
      );
    }),
    abortMachine: step<AbortOutput, { systemId: string }>(async ({ input }) => {
      const status = await guardedCall(deps, "abort", input.systemId, () => deps.maas.abort(input.systemId, "metalwave: abort"));
      return { status };
    }),
    markBroken: step<void, { systemId: string; reason: string }>(async ({ input }) => {
      await guardedCall(deps, "markBroken", input.systemId, () => deps.maas.markBroken(input.systemId, `metalwave quarantine: ${input.reason}`));
    }),
    // XState aborts `signal` when it stops this actor (the layering state's timeout, an abort).
    layerHost: step<void, { systemId: string; hostname: string; roles: readonly string[] }>(async ({ input, signal }) => {
      try {
        await deps.layer(input, signal);
      } catch (e) {
        throw asStepError("layer", input.systemId, e);
      }
    }),
  };
}
