/**
 * The wiring between hostMachine and rolloutMachine, as pure functions: what a host's
 * emitted event means to the rollout, what a rollout's emitted event asks of a host, and
 * what a host's persisted snapshot tells a rebuilt rollout. The runtime and the seeded
 * simulation both use these, so the simulation tests the glue the product runs.
 */
import { assertNever } from "../src/errors.ts";
import { topLevelPhase, type HostContext, type HostEmitted, type HostEvent, type HostOutcome } from "./host.ts";
import type { ResumeHostRecord, RolloutEmitted, RolloutEvent } from "./rollout.ts";

/** The rollout event a host's emitted event becomes; `null` when the rollout need not know. */
export function hostToRollout(e: HostEmitted): RolloutEvent | null {
  switch (e.type) {
    case "host.phase":
      // The runtime journals it; the rollout decides by slots and outcomes alone, and
      // hearing every phase change cost it a copy of its in-flight map each (docs/bench.md).
      return null;
    case "host.slotRequest":
      return { type: "HOST_SLOT_REQUEST", systemId: e.systemId, phase: e.phase };
    case "host.slotRelease":
      return { type: "HOST_SLOT_RELEASE", systemId: e.systemId, phase: e.phase };
    case "host.settled":
      return {
        type: "HOST_SETTLED",
        systemId: e.systemId,
        outcome: e.outcome,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
      };
    case "host.retryHeld":
      return null;
    default:
      return assertNever(e, "host emitted event");
  }
}

/** What the runtime must do for a rollout emitted event; `null` when no host is concerned. */
export type HostCommand =
  | { kind: "start"; systemId: string; wave: number }
  | { kind: "send"; systemId: string; event: HostEvent }
  /** To every host in flight. */
  | { kind: "broadcast"; event: HostEvent };

export function rolloutToHost(e: RolloutEmitted): HostCommand | null {
  switch (e.type) {
    case "rollout.startHost":
      return { kind: "start", systemId: e.systemId, wave: e.wave };
    case "rollout.grantSlot":
      return { kind: "send", systemId: e.systemId, event: { type: "SLOT_GRANTED", phase: e.phase } };
    case "rollout.abortHost":
      return { kind: "send", systemId: e.systemId, event: { type: "ABORT", reason: "rollout aborted" } };
    case "rollout.paused":
      return { kind: "broadcast", event: { type: "ROLLOUT_PAUSED" } };
    case "rollout.resumed":
      return { kind: "broadcast", event: { type: "ROLLOUT_RESUMED" } };
    case "rollout.waveStarted":
    case "rollout.waveSettled":
    case "rollout.completed":
    case "rollout.aborted":
      return null;
    default:
      return assertNever(e, "rollout emitted event");
  }
}

/** The emitted event types a runtime subscribes to with `actor.on(type, ...)`. */
export const HOST_EMITTED_TYPES = ["host.phase", "host.slotRequest", "host.slotRelease", "host.settled", "host.retryHeld"] as const;
export const ROLLOUT_EMITTED_TYPES = [
  "rollout.startHost",
  "rollout.grantSlot",
  "rollout.abortHost",
  "rollout.waveStarted",
  "rollout.waveSettled",
  "rollout.paused",
  "rollout.resumed",
  "rollout.completed",
  "rollout.aborted",
] as const;

const OUTCOMES: readonly string[] = ["inService", "quarantined", "aborted", "refused", "failed"];

/**
 * The resume record of one host, from its live or persisted snapshot
 * (`actor.getPersistedSnapshot()` read back from the store).
 */
export function resumeRecordOf(snapshot: { status: string; value: unknown; context: HostContext }): ResumeHostRecord {
  const phase = topLevelPhase(snapshot.value);
  const record: ResumeHostRecord = { phase };
  if (snapshot.status === "done" && OUTCOMES.includes(phase)) record.settled = phase as HostOutcome;
  else if (snapshot.context.slot) record.holdsSlot = snapshot.context.slot;
  return record;
}
