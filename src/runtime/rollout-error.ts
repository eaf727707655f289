/** The errors a rollout run refuses or fails with. */
import { MetalwaveError } from "../errors.ts";

export type RolloutErrorCode = "NOTHING_TO_RESUME" | "EMPTY_FLEET" | "PLAN_MISMATCH" | "NOTHING_TO_ABORT" | "HOSTS_IN_FLIGHT" | "RUNNER_CLOSED";

export class RolloutError extends MetalwaveError<RolloutErrorCode> {
  readonly code: RolloutErrorCode;
  constructor(code: RolloutErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
