/**
 * What a stopped (killed, crashed) process left of a maintenance pass, and finishing it
 * before anything else: the step the service takes on start and first in every pass, and
 * `metalwave remediate` first in its pass (one code path for both).
 *
 * - The latest rollout is a maintenance rollout (`reprovision`, `remediation`,
 *   `replacement`) left unfinished: it is resumed from the store (never planned again),
 *   and when it is a `reprovision` whose pass asked for spares, spares then take the roles
 *   of the hosts it leaves quarantined, as the original pass would have done.
 * - The latest rollout is a `reprovision` that ended with hosts quarantined, asked for
 *   spares, and neither journaled `sparesPromoted` nor was followed by its `replacement`
 *   rollout (the process died in between): the spares step is taken now.
 * - The latest rollout is a deployment rollout left unfinished (paused by its budget or an
 *   operator, or stopped with hosts in flight): no pass may act (its rollout would stop that
 *   one being the latest, the only one resumable); the operator resumes or aborts it first.
 */
import { MetalwaveError } from "../errors.ts";
import type { Store } from "../store/index.ts";
import type { RolloutPlan } from "./deployment-plan.ts";
import { RolloutRunner, type RolloutSummary, type RunnerDeps } from "./rollout-runner.ts";
import { onRegionsOf, replaceQuarantined, withoutBudget, type Replacement } from "./reprovision.ts";
import { planKind, readRolloutPlan, type StoredPlan } from "./documents/rollout-plan.ts";
import { hasRolloutEvent } from "./documents/journal-entry.ts";

type RolloutKind = NonNullable<RolloutPlan["kind"]>;

/** The kind of pass a maintenance rollout belongs to. */
export type PassKind = "reprovision" | "remediation";

/** Rollouts a maintenance pass runs: a stopped process's unfinished one is finished by the next pass, first. */
export const MAINTENANCE_ROLLOUTS: readonly RolloutKind[] = ["reprovision", "remediation", "replacement"];

export type LeftBehind =
  /** A maintenance rollout left unfinished: resumed, then (a `reprovision` with spares) its spares step. */
  | { step: "resume"; rolloutId: string; rolloutKind: RolloutKind; unsettled: number; pass: PassKind }
  /** A finished `reprovision` rollout whose spares step never ran. */
  | { step: "spares"; rolloutId: string; pass: "reprovision" }
  /**
   * A deployment rollout left unfinished (running, paused or failed, not live in this
   * process): the operator resumes or aborts it; no pass runs meanwhile, because a pass's
   * rollout would become the latest, and only the latest rollout can be resumed.
   */
  | { step: "blocked"; rolloutId: string; status: string; unsettled: number };

export type LeftToFinish = Exclude<LeftBehind, { step: "blocked" }>;

export interface FinishedLeftBehind {
  /** The maintenance rollout a stopped process left unfinished, finished now. */
  resumed?: RolloutSummary;
  /** Spares that took the roles of the hosts a re-provisioning left quarantined, and the rollout that deployed them. */
  resumedSpares?: { replacements: Replacement[]; replacement: RolloutSummary | null };
}

export class MaintenanceError extends MetalwaveError<"MAINTENANCE_BLOCKED"> {
  readonly code = "MAINTENANCE_BLOCKED" as const;
  readonly rolloutId: string;
  readonly unsettled: number;
  constructor(left: { rolloutId: string; status: string; unsettled: number }, resumeHint: string) {
    super(`rollout ${left.rolloutId} is ${left.status} in the store with ${left.unsettled} host(s) in flight, not finished and not running here: ${resumeHint}`);
    this.rolloutId = left.rolloutId;
    this.unsettled = left.unsettled;
  }
}

function planOf(store: Store, rolloutId: string): StoredPlan | undefined {
  const record = store.getRollout(rolloutId);
  return record ? readRolloutPlan(record.plan, rolloutId) : undefined;
}

function kindOf(plan: StoredPlan | undefined): RolloutKind {
  return plan ? planKind(plan) : "rollout";
}

function sparesPromoted(store: Store, rolloutId: string): boolean {
  return hasRolloutEvent(store.journal(rolloutId, { kind: "rollout" }), "sparesPromoted");
}

/** What the latest rollout in the store leaves for a pass to do first, if anything. */
export function leftBehind(store: Store): LeftBehind | undefined {
  const [latest, before] = store.listRollouts();
  if (!latest) return undefined;
  const plan = planOf(store, latest.id);
  const kind = kindOf(plan);
  store.flush();
  if (latest.status === "completed" || latest.status === "aborted") {
    if (kind !== "reprovision" || !plan?.spares) return undefined;
    if ((store.hostCounts(latest.id).byOutcome["quarantined"] ?? 0) === 0 || sparesPromoted(store, latest.id)) return undefined;
    return { step: "spares", rolloutId: latest.id, pass: "reprovision" };
  }
  const unsettled = store.hostCounts(latest.id).unsettled;
  if (!MAINTENANCE_ROLLOUTS.includes(kind)) return { step: "blocked", rolloutId: latest.id, status: latest.status, unsettled };
  const byReprovision = kind === "reprovision" || (kind === "replacement" && before !== undefined && kindOf(planOf(store, before.id)) === "reprovision");
  return { step: "resume", rolloutId: latest.id, rolloutKind: kind, unsettled, pass: byReprovision ? "reprovision" : "remediation" };
}

/** Finishes what `leftBehind` found: the rollout resumed from the store, then the spares step it still owes. */
export async function finishLeftBehind(deps: RunnerDeps, left: LeftToFinish): Promise<FinishedLeftBehind> {
  const config = withoutBudget(deps.config);
  // Resuming a finished rollout (the spares step) only reads its summary from the store.
  // Several regions: the resumed run talks to the regions of its own hosts only.
  const run = await new RolloutRunner({ ...onRegionsOf(deps, planOf(deps.store, left.rolloutId)?.hosts ?? []), config }).run({ resume: true });
  const out: FinishedLeftBehind = left.step === "resume" ? { resumed: run } : {};
  if (left.step === "resume" && left.rolloutKind !== "reprovision") return out;
  const plan = planOf(deps.store, run.rolloutId);
  if (!plan?.spares) return out;
  out.resumedSpares = await replaceQuarantined(deps, run, plan.reason ?? "re-provisioning");
  return out;
}

/** The resume-first step of a pass: what a stopped process left, finished; MaintenanceError when a deployment rollout blocks. */
export async function finishLeftMaintenance(deps: RunnerDeps, resumeHint: string): Promise<FinishedLeftBehind> {
  const left = leftBehind(deps.store);
  if (!left) return {};
  if (left.step === "blocked") throw new MaintenanceError(left, resumeHint);
  deps.logger.warn({ rolloutId: left.rolloutId, step: left.step }, "finishing the maintenance pass a stopped process left");
  return finishLeftBehind(deps, left);
}
