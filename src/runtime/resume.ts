/**
 * Resuming a rollout from the store. The hosts' own records are the truth: settled ones
 * are counted, unsettled ones are restored from their snapshots, and the rollout
 * controller is rebuilt from what they say rather than from a snapshot of its own
 * (docs/architecture.md, "Hosts' own records are the truth on resume").
 */
import type { SnapshotFrom } from "xstate";
import type { HostRecord } from "../store/index.ts";
import type { hostMachine, HostOutcome } from "../../state-machines/host.ts";
import type { RolloutInput } from "../../state-machines/rollout.ts";
import { resumeRecordOf } from "../../state-machines/glue.ts";

export type HostSnapshot = SnapshotFrom<typeof hostMachine>;

export interface ResumePoint {
  /** The rebuilt rollout's resume input. */
  resume: NonNullable<RolloutInput["resume"]>;
  /** Hosts settled before the restart, with their outcome. */
  settled: { record: HostRecord; outcome: HostOutcome; snapshot: HostSnapshot }[];
  /** Hosts in flight at the restart, to restore from their snapshots. */
  restorable: { record: HostRecord; snapshot: HostSnapshot }[];
}

/**
 * Reads the resume point from the hosts' records. `wasPaused`: the operator resumes a
 * paused rollout, which means "go on": the failures so far are acknowledged (the budgets
 * count only new ones), as a RESUME does in a running process.
 */
export function resumePointOf(records: readonly HostRecord[], wasPaused: boolean): ResumePoint {
  const point: ResumePoint = { resume: { hosts: {} }, settled: [], restorable: [] };
  for (const h of records) {
    if (!h.snapshot) continue;
    const snapshot = h.snapshot as unknown as HostSnapshot;
    const record = resumeRecordOf(snapshot);
    point.resume.hosts[h.systemId] = record;
    if (record.settled) point.settled.push({ record: h, outcome: record.settled, snapshot });
    else point.restorable.push({ record: h, snapshot });
  }
  if (wasPaused) point.resume.acknowledge = true;
  return point;
}

/**
 * A snapshot to restore a host from, without its children: a request that was in flight
 * is not restarted by start(), but once, by RESTORED re-entering the state that makes it
 * (every state that invokes work re-enters on RESTORED), after the host has heard what
 * MAAS says now.
 */
export function withoutChildren(snapshot: HostSnapshot): HostSnapshot {
  return { ...snapshot, children: {} } as HostSnapshot;
}
