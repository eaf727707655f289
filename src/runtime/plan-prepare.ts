/**
 * What a maintenance plan changes in MAAS before its first host starts (mark_fixed of a
 * quarantined host, a spare's role tags), done after the plan is in the store and again
 * on resume until journaled `prepared`: a kill in between leaves an unfinished rollout
 * that says what was meant, and the steps are idempotent.
 */
import type { Logger } from "pino";
import type { MaasPort } from "../maas/port.ts";
import { MaasError, type MaasErrorCode } from "../maas/errors.ts";
import { isStatusCode, NodeStatus, STATUS_LABEL, type NodeStatusCode } from "../model/maas/status.ts";
import type { Store } from "../store/index.ts";
import type { RolloutPlan } from "./deployment-plan.ts";

export interface PlanPrepare {
  /** Broken (quarantined) machines to mark fixed; one no longer Broken is left as it is. */
  markFixed?: { systemId: string; hostname: string; comment: string }[];
  /** Tag membership changes (spares taking roles), one `update_nodes` per tag. */
  tags?: { tag: string; add: string[]; remove: string[] }[];
  /** Journaled (kind `rollout`) once the steps are done; with `alsoUnder`, under that rollout too (with this one's id). */
  done?: { data: Record<string, unknown>; alsoUnder?: string };
}

/** A rollout plan with steps to take before its hosts start. */
export type PreparedPlan = RolloutPlan & { prepare?: PlanPrepare };

/** MAAS answered and refused: the call did not take effect, and sending it again would not change that. */
const MAAS_REFUSALS: readonly MaasErrorCode[] = ["MAAS_CONFLICT", "MAAS_FORBIDDEN", "MAAS_NOT_FOUND", "MAAS_BAD_REQUEST"];

export interface PrepareDeps {
  store: Store;
  maas: MaasPort;
  log: Logger;
  rolloutId: string;
  /** What the run knows of each machine's status; updated with what the steps learn. */
  knownStatus: Map<string, NodeStatusCode>;
  /** Reads machines' statuses from MAAS into `knownStatus`. */
  readStatuses: (systemIds: string[]) => Promise<void>;
  /** The run has journaled `prepared` before (a resume after the steps). */
  alreadyPrepared: () => boolean;
}

/**
 * The plan's steps before any host starts, skipped once journaled `prepared`. Hosts start
 * only after that entry is on disk, so a resume that does not find it has no host under
 * way and may repeat the steps.
 */
export async function preparePlan(deps: PrepareDeps, prep: PlanPrepare | undefined): Promise<void> {
  if (!prep) return;
  const { store, maas, log, rolloutId, knownStatus } = deps;
  if (deps.alreadyPrepared()) return;
  const journal = (data: Record<string, unknown>) => store.appendJournal({ rolloutId, kind: "rollout", data });
  // Under the host too, so its history (GET …/hosts/{systemId}) shows it.
  const hostJournal = (systemId: string, data: Record<string, unknown>) => store.appendJournal({ rolloutId, systemId, kind: "rollout", data });
  for (const h of prep.markFixed ?? []) {
    const before = knownStatus.get(h.systemId);
    if (before !== NodeStatus.BROKEN) {
      // Marked fixed before a kill (or by an operator): the host goes on from where MAAS has it.
      hostJournal(h.systemId, { event: "markFixedSkipped", systemId: h.systemId, hostname: h.hostname, status: before === undefined ? null : (STATUS_LABEL[before] ?? before), reason: "not Broken in MAAS" });
      continue;
    }
    try {
      const after = await maas.markFixed(h.systemId, h.comment);
      if (isStatusCode(after.status)) knownStatus.set(h.systemId, after.status);
      hostJournal(h.systemId, { event: "markedFixed", systemId: h.systemId, hostname: h.hostname, status: after.status_name });
      log.info({ systemId: h.systemId, hostname: h.hostname, status: after.status_name }, "marked fixed");
    } catch (e) {
      // An outcome not known (network, a lost answer) fails the run before any host starts:
      // the next pass resumes the rollout and reads MAAS again. A refusal MAAS answered
      // (locked, no longer Broken…) is this host's: it starts from what MAAS says now
      // (still Broken, it ends quarantined again, the refusal journaled).
      if (!(e instanceof MaasError) || !MAAS_REFUSALS.includes(e.code)) throw e;
      hostJournal(h.systemId, { event: "markFixedFailed", systemId: h.systemId, hostname: h.hostname, error: `${e.code}: ${e.message}` });
      log.warn({ systemId: h.systemId, hostname: h.hostname, err: e.message }, "mark_fixed refused");
      await deps.readStatuses([h.systemId]);
    }
  }
  for (const t of prep.tags ?? []) {
    if (t.add.length === 0 && t.remove.length === 0) continue;
    await maas.updateTagNodes(t.tag, { add: t.add, remove: t.remove });
  }
  if (prep.tags?.length) journal({ event: "tagsMoved", tags: prep.tags });
  if (prep.done) {
    journal(prep.done.data);
    if (prep.done.alsoUnder) store.appendJournal({ rolloutId: prep.done.alsoUnder, kind: "rollout", data: { ...prep.done.data, rolloutId } });
  }
  journal({ event: "prepared" });
  store.flush();
}
