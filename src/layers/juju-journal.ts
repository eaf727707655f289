/**
 * Write-ahead records of the Juju changes the layers make, as for MAAS calls
 * (src/runtime/call-journal.ts): before a change is sent, its intent (the operation, the
 * model, the object it changes, the host it is for) is written and committed; once the
 * command has ended, its outcome. After a crash, an intent never ended is a change whose
 * outcome is unknown: it is reconciled by reading Juju (did it take effect? then it is
 * marked done) before the layer steps go on, and the steps' own checks then act only on
 * what is missing, so no change is applied twice (a second `add-machine ssh:` for a host
 * would enlist it twice, a second `add-unit` adds a second unit).
 *
 * The layers own the port and the reconciliation (which Juju read proves which change);
 * the runtime keeps the records in the rollout's store (src/runtime/juju-journal.ts).
 */
import type { Logger } from "pino";
import { SshError } from "../ssh/errors.ts";
import { LayerError } from "./errors.ts";

/** Every Juju change the layers journal ahead: the juju template's change steps, and the controller's. */
export const JUJU_CHANGE_OPS = [
  "addMachineModel",
  "addCloudModel",
  "addK8s",
  "addMachine",
  "cleanManualAgent",
  "removeMachine",
  "removeEmptyMachine",
  "removeUnit",
  "addSpace",
  "moveToSpace",
  "deployMachine",
  "deployBound",
  "deploySubordinate",
  "deployK8s",
  "addUnit",
  "scale",
  "setConfig",
  "integrate",
  "offer",
  "disableHypervisor",
  "setPoolSize",
  "addOsd",
  "addOsdWipe",
  "bootstrap",
  "controllerAddMachine",
  "enableHa",
] as const;

/** The controller's own changes: reconciled by the controller barrier (controller.ts), not from a model's status. */
export function isControllerChange(c: { op: JujuChangeOp }): boolean {
  return c.op === "bootstrap" || c.op === "controllerAddMachine" || c.op === "enableHa";
}
export type JujuChangeOp = (typeof JUJU_CHANGE_OPS)[number];

export function isJujuChangeOp(s: string): s is JujuChangeOp {
  return (JUJU_CHANGE_OPS as readonly string[]).includes(s);
}

/** One change, as journaled ahead: what, where, on which object, for which host. */
export interface JujuChange {
  op: JujuChangeOp;
  /** The model it changes ("controller" for the controller's own changes). */
  model: string;
  /** The object: the step's values (application, unit, machine, address, relation ends, setting key…); never a secret. */
  target: Record<string, string | number>;
  /** The host it is for, when it is one host's work. */
  host?: { systemId: string; hostname: string };
}

export type JujuChangeOutcome = "ok" | "error" | "unknown";

/** Where the intents are kept (the runtime's store); the layers never read it but through `open`. */
export interface JujuJournal {
  /** Writes the intent; resolves once it is committed (only then may the change be sent). Rejects when the write fails. */
  begin(c: JujuChange): Promise<number>;
  /** The change's outcome once its command ended (may be buffered: a lost end leaves the intent open, which a resume reconciles). */
  end(id: number, outcome: JujuChangeOutcome, detail?: string): void;
  /** Intents an earlier process left open, oldest first. */
  open(): readonly { id: number; change: JujuChange }[];
  /** An open intent settled by reading Juju: it took effect (done), or it had not (dropped: the step redoes it). */
  reconciled(id: number, tookEffect: boolean, detail: string): void;
}

/** No store (tests, `plan`): nothing is kept, nothing is left open. */
export const NO_JUJU_JOURNAL: JujuJournal = {
  begin: () => Promise.resolve(0),
  end: () => undefined,
  open: () => [],
  reconciled: () => undefined,
};

/** A change's values as journaled: the step's values without the model (recorded apart). */
export function targetOf(values: Readonly<Record<string, unknown>>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(values)) {
    if (k === "model" || v === undefined) continue;
    out[k] = typeof v === "number" ? v : String(v);
  }
  return out;
}

/** `a` names the same change as `b` (same operation on the same object of the same model). */
export function sameChange(a: JujuChange, b: JujuChange): boolean {
  if (a.op !== b.op || a.model !== b.model) return false;
  const ka = Object.keys(a.target);
  return ka.length === Object.keys(b.target).length && ka.every((k) => String(a.target[k]) === String(b.target[k]));
}

/**
 * The engine's side of the journal: every change goes through `change` (intent, command,
 * outcome); `reconcile` settles the intents an earlier process left open, by the reads the
 * caller gives per operation, before anything else changes Juju.
 */
export class JujuChangeLog {
  private readonly journal: JujuJournal;
  private readonly logger: Logger;
  /** Open intents of an earlier process not reconciled yet. */
  private pending: { id: number; change: JujuChange }[];

  constructor(journal: JujuJournal, logger: Logger) {
    this.journal = journal;
    this.logger = logger;
    this.pending = [...journal.open()];
  }

  /** Open intents of an earlier process that `which` selects, not reconciled yet. */
  unreconciled(which: (c: JujuChange) => boolean = () => true): { id: number; change: JujuChange }[] {
    return this.pending.filter((p) => which(p.change));
  }

  /**
   * Settles each open intent `which` selects: `tookEffect` reads Juju. A change that took
   * effect is marked done; one that had not is dropped (its step, check then act, redoes it).
   * A read that fails leaves the intent open (the next reconcile tries again) and rethrows.
   */
  async reconcile(which: (c: JujuChange) => boolean, tookEffect: (c: JujuChange) => Promise<boolean>): Promise<number> {
    let n = 0;
    for (const p of this.unreconciled(which)) {
      const took = await tookEffect(p.change);
      this.journal.reconciled(p.id, took, `reconciled after restart: ${took ? "it had taken effect" : "it had not taken effect (the step redoes it)"}`);
      this.pending = this.pending.filter((q) => q.id !== p.id);
      this.logger.info({ op: p.change.op, model: p.change.model, target: p.change.target, ...(p.change.host ? { systemId: p.change.host.systemId } : {}), tookEffect: took }, "Juju change left open by the earlier run reconciled");
      n++;
    }
    return n;
  }

  /**
   * Runs one change: its intent committed first, then `run`, then its outcome. A change the
   * earlier run left open and nobody reconciled yet is refused (LAYER_PRECONDITION): its
   * outcome is unknown, and sending it again could apply it twice.
   */
  async change<T>(c: JujuChange, run: () => Promise<T>): Promise<T> {
    if (this.pending.some((p) => sameChange(p.change, c))) {
      throw new LayerError("LAYER_PRECONDITION", { layer: "juju", step: c.op, ...(c.host ? { systemId: c.host.systemId, hostname: c.host.hostname } : {}) }, `the earlier run's ${c.op} on ${c.model} has an unknown outcome and was not reconciled: not sent again`);
    }
    const id = await this.journal.begin(c);
    let r: T;
    try {
      r = await run();
    } catch (e) {
      // LAYER_STOPPED from the gate: never sent. A command that failed: Juju refused it. Anything else
      // (the connection dropped, a timeout) may have taken effect: unknown, checked again by the step.
      const known = (e instanceof LayerError && (e.code === "LAYER_STOPPED" || e.code === "LAYER_COMMAND_FAILED")) || (e instanceof SshError && e.code === "SSH_EXIT");
      this.journal.end(id, known ? "error" : "unknown", e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300));
      throw e;
    }
    this.journal.end(id, "ok");
    return r;
  }
}
