/**
 * How the host machine records what went wrong: an actor's rejection, a failed MAAS
 * status or a timeout becomes a `HostError` (code, message, phase), kept as `lastError`
 * and in a short history of failed attempts.
 */
import { STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";
import type { HostContext, HostError, HostErrorCode } from "./contract.ts";
import { retryPhaseOf } from "./policy.ts";

/** Failed attempts kept in `context.failures`, oldest first. */
export const FAILURE_HISTORY = 10;
export const MAX_MESSAGE = 500;

/** Turns whatever an actor rejected with into { code, message }; unknown shapes get UNKNOWN_ERROR. */
export function describeError(error: unknown): { code: string; message: string } {
  let code: string = "UNKNOWN_ERROR" satisfies HostErrorCode;
  let message: string;
  if (error !== null && typeof error === "object") {
    const e = error as { code?: unknown; message?: unknown };
    if (typeof e.code === "string" && e.code.length > 0) code = e.code;
    message = typeof e.message === "string" ? e.message : JSON.stringify(error) ?? String(error);
  } else {
    message = String(error);
  }
  return { code, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message };
}

export function statusLabel(status: NodeStatusCode): string {
  return STATUS_LABEL[status] ?? `status ${String(status)}`;
}

/** The context change that records `error` as the latest failure of the attempt in progress. */
export function withFailure(context: HostContext, error: HostError): Pick<HostContext, "lastError" | "failures"> {
  const retry = retryPhaseOf(error.phase);
  const attempt = retry ? context.attempts[retry] : 0;
  const failures = [...context.failures, { ...error, attempt }].slice(-FAILURE_HISTORY);
  return { lastError: error, failures };
}

export function errorText(error: HostError | null): string {
  return error ? `${error.code}: ${error.message}` : "no error recorded";
}
