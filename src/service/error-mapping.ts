/** Maps what a run can throw (pre-flight, runner, MAAS, other metalwave errors) to the API's errors. */
import { MaasError } from "../maas/errors.ts";
import { RolloutError } from "../runtime/rollout-runner.ts";
import { PreflightError } from "../runtime/deployment-plan.ts";
import { assertNever, MetalwaveError } from "../errors.ts";
import { ServiceError } from "./errors.ts";

export function toServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (e instanceof PreflightError) {
    return new ServiceError("PREFLIGHT_FAILED", e.message, {
      cause: e,
      details: { findings: e.findings.map((f) => ({ severity: f.severity, code: f.code, role: f.role, message: f.message })) },
    });
  }
  if (e instanceof RolloutError) {
    switch (e.code) {
      case "EMPTY_FLEET":
        return new ServiceError("EMPTY_FLEET", e.message, { cause: e });
      case "NOTHING_TO_RESUME":
        return new ServiceError("ROLLOUT_NOT_FOUND", e.message, { cause: e });
      case "PLAN_MISMATCH":
      case "RUNNER_CLOSED":
        return new ServiceError("INTERNAL", e.message, { cause: e });
      case "NOTHING_TO_ABORT":
        return new ServiceError("ROLLOUT_FINISHED", e.message, { cause: e });
      case "HOSTS_IN_FLIGHT":
        return new ServiceError("ROLLOUT_NOT_ACTIVE", e.message, { cause: e });
      default:
        return assertNever(e.code, "rollout error code");
    }
  }
  if (e instanceof MaasError) return new ServiceError("MAAS_ERROR", `MAAS: ${e.message} [${e.code}]`, { cause: e });
  if (e instanceof MetalwaveError) return new ServiceError("INTERNAL", `${e.message} [${e.code}]`, { cause: e });
  return new ServiceError("INTERNAL", "internal error (see the service log)", { cause: e });
}

/** A thrown value's message, for a log line. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
