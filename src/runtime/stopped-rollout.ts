/** Acting on a rollout that no process runs. */
import type { Store } from "../store/index.ts";
import { RolloutError } from "./rollout-error.ts";

/**
 * Aborts a rollout that no process runs (paused, or left running or failed by a stopped
 * process) when none of its hosts is in flight: there is no machine to act on, so only its
 * record changes (aborted, journaled with who and why). A finished rollout is
 * NOTHING_TO_ABORT; one with hosts in flight is HOSTS_IN_FLIGHT, since their machines may
 * be busy in MAAS and only a live run can abort them. The caller holds the store's lock.
 */
export function abortStoppedRollout(store: Store, id: string, reason: string, by: string): void {
  const record = store.getRollout(id);
  if (!record) throw new RolloutError("NOTHING_TO_ABORT", `no rollout ${id} in the store`);
  if (record.status === "completed" || record.status === "aborted") throw new RolloutError("NOTHING_TO_ABORT", `rollout ${id} is ${record.status}; there is nothing to abort`);
  store.flush();
  const { unsettled } = store.hostCounts(id);
  if (unsettled > 0) {
    throw new RolloutError(
      "HOSTS_IN_FLIGHT",
      `rollout ${id} is ${record.status} with ${unsettled} host(s) in flight, whose machines may be busy in MAAS: resume it and abort the live run (the service's POST /api/v1/rollouts/${id}/abort)`,
    );
  }
  store.setRolloutStatus(id, "aborted", reason);
  store.appendJournal({ rolloutId: id, kind: "rollout", data: { event: "aborted", reason, by, whilePaused: record.status === "paused" } });
  store.flush();
}
