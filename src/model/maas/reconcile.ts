/**
 * "Did it take effect?" for each state-changing machine operation, judged from the
 * machine read back after a request whose outcome is unknown. Pure: the client does
 * the reading, these only decide. A predicate must be false for the state the
 * machine was in before the op could apply, so that a lost request is sent again
 * rather than reported as done. Part of the pure MAAS model (src/model/maas/): no I/O,
 * so state machines and the runtime may use it as well as the adapter.
 */
import { NodeStatus as S, ALLOWED_FROM } from "./status.ts";
import type { NodeStatusCode } from "./status.ts";

/** What the predicates read of a machine: the adapter's `MachineState` has this shape. */
export interface ObservedMachine {
  status: NodeStatusCode;
  owner: string | null;
  power_state: string;
  current_commissioning_result_id?: number | null | undefined;
}

/**
 * A commission sent from a state it can start from again (Failed commissioning, Failed
 * testing, Ready) and already over leaves the machine where it was, so its status cannot
 * tell; its script set can: MAAS makes a new one for every commissioning run (maas:
 * src/maasserver/models/node.py start_commissioning). `before` is the set's id read before
 * the request (null: none yet; undefined: not known, and then nothing is proved).
 */
export function commissionedSince(before: number | null | undefined, m: ObservedMachine): boolean {
  if (before === undefined) return false;
  const now = m.current_commissioning_result_id;
  return typeof now === "number" && now !== before;
}

export type ReconciledOp = "commission" | "allocate" | "deploy" | "release" | "abort" | "markBroken" | "markFixed" | "powerOn" | "powerOff";

export interface ReconcileContext {
  /** The API user's name (whoami), for ops that make the caller the owner. */
  me: string;
}

const RELEASED: readonly NodeStatusCode[] = [S.RELEASING, S.DISK_ERASING, S.READY];
const ABORTABLE: readonly NodeStatusCode[] = ALLOWED_FROM.abort;

export function tookEffect(op: ReconciledOp, m: ObservedMachine, ctx: ReconcileContext): boolean {
  switch (op) {
    case "commission":
      // Commissioning runs its tests right after, so Testing also means it started.
      // Ready/failed states are not counted: they are also where commission starts from.
      return m.status === S.COMMISSIONING || m.status === S.TESTING;
    case "allocate":
      return m.status === S.ALLOCATED && m.owner === ctx.me;
    case "deploy":
      return (m.status === S.DEPLOYING || m.status === S.DEPLOYED) && m.owner === ctx.me;
    case "release":
      // MAAS answers release of a Ready machine with a no-op success, so Ready counts.
      return RELEASED.includes(m.status);
    case "abort":
      // Out of every abortable state: either the abort applied or the work ended on its
      // own, and in both cases sending abort again could only fail with a 409.
      return !ABORTABLE.includes(m.status);
    case "markBroken":
      return m.status === S.BROKEN;
    case "markFixed":
      return m.status !== S.BROKEN;
    case "powerOn":
      return m.power_state === "on";
    case "powerOff":
      return m.power_state === "off";
  }
}

/** Ops whose predicate needs the caller's user name. */
export function needsIdentity(op: ReconciledOp): boolean {
  return op === "allocate" || op === "deploy";
}
