/** The host machine's policy for a run, from the configuration and the simulator's time scale. */
import type { Config } from "../config.ts";
import { defaultHostPolicy, type HostPolicy } from "../../state-machines/host.ts";

/**
 * Our own phase timeouts never go below this, even time-scaled: they are a backstop
 * for a region that never reports, and a scaled region times its hung machines out
 * itself (scaled). Scaling them down to seconds would time out hosts whose requests
 * are merely queued behind the client's in-flight cap.
 */
export const MIN_PHASE_TIMEOUT_MS = 60_000;

/**
 * The layering phase's floor when time-scaled: layering is real work (commands over SSH,
 * Juju's units settling, consecutive good reads) that a faster MAAS region does not speed up.
 */
export const MIN_LAYER_TIMEOUT_MS = 15 * 60_000;

export function hostPolicyFrom(config: Config, timeScale: number): HostPolicy {
  const scale = (ms: number) => Math.max(1, Math.round(ms / timeScale));
  const timeout = (ms: number) => Math.max(Math.min(ms, MIN_PHASE_TIMEOUT_MS), scale(ms));
  const d = defaultHostPolicy;
  return {
    maxAttempts: { ...config.rollout.maxAttempts },
    backoffMs: { base: scale(config.rollout.backoffMs.base), max: scale(config.rollout.backoffMs.max) },
    timeoutsMs: {
      commission: timeout(d.timeoutsMs.commission),
      deploy: timeout(d.timeoutsMs.deploy),
      release: timeout(d.timeoutsMs.release),
      layer: Math.max(Math.min(d.timeoutsMs.layer, MIN_LAYER_TIMEOUT_MS), scale(d.timeoutsMs.layer)),
    },
  };
}
