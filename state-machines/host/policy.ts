/**
 * The host's retry policy: how many attempts each retry budget allows, how long it
 * backs off between them, and when a phase times out. Pure functions of the policy.
 */
import type { HostPhase, HostPolicy, RetryPhase } from "./contract.ts";

const MINUTE = 60_000;

/**
 * Commission and deploy time out a little after MAAS's own 30-minute node timeout,
 * so in the normal case MAAS reports "Failed ..." first and we read its reason; our
 * timer only catches a region that never reports at all.
 */
export const defaultHostPolicy: HostPolicy = {
  maxAttempts: { commission: 3, deploy: 3, layer: 3, release: 3 },
  backoffMs: { base: 30_000, max: 10 * MINUTE },
  timeoutsMs: { commission: 35 * MINUTE, deploy: 35 * MINUTE, release: 10 * MINUTE, layer: 45 * MINUTE },
};

/** Which retry budget a top-level phase spends. */
export function retryPhaseOf(phase: HostPhase): RetryPhase | null {
  switch (phase) {
    case "commissioning":
      return "commission";
    case "tagging":
    case "allocating":
    case "deploying":
    case "deployed":
      return "deploy";
    case "layering":
      return "layer";
    case "releasing":
      return "release";
    default:
      return null;
  }
}

/** Exponential back-off before attempt `attempt + 1`: base·2^(attempt-1), capped at max. */
export function backoffDelayMs(policy: HostPolicy, attempt: number): number {
  const exp = policy.backoffMs.base * 2 ** Math.max(0, attempt - 1);
  return Math.min(exp, policy.backoffMs.max);
}
