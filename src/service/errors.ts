/**
 * Errors of the `metalwave serve` API. Each code maps to one HTTP status, and every
 * error leaves the service as `{ "error": { "code", "message", "details"? } }`.
 * Messages never hold the API token or the MAAS key.
 */
import { assertNever, MetalwaveError } from "../errors.ts";

export type ServiceErrorCode =
  | "UNAUTHORIZED"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "BAD_REQUEST"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "PAYLOAD_TOO_LARGE"
  | "ROLLOUT_NOT_FOUND"
  | "HOST_NOT_FOUND"
  | "ROLLOUT_ACTIVE"
  | "ROLLOUT_NOT_ACTIVE"
  | "ROLLOUT_FINISHED"
  | "NOT_LATEST"
  | "REGION_EPHEMERAL"
  | "PREFLIGHT_FAILED"
  | "EMPTY_FLEET"
  | "MAAS_ERROR"
  | "SHUTTING_DOWN"
  | "SERVICE_DEGRADED"
  /** This process is a standby on a shared PostgreSQL store: changes go to the leader. */
  | "STANDBY"
  | "INTERNAL";

export function httpStatusOf(code: ServiceErrorCode): number {
  switch (code) {
    case "BAD_REQUEST":
      return 400;
    case "UNAUTHORIZED":
      return 401;
    case "NOT_FOUND":
    case "ROLLOUT_NOT_FOUND":
    case "HOST_NOT_FOUND":
      return 404;
    case "METHOD_NOT_ALLOWED":
      return 405;
    case "ROLLOUT_ACTIVE":
    case "ROLLOUT_NOT_ACTIVE":
    case "ROLLOUT_FINISHED":
    case "NOT_LATEST":
    case "REGION_EPHEMERAL":
      return 409;
    case "PAYLOAD_TOO_LARGE":
      return 413;
    case "UNSUPPORTED_MEDIA_TYPE":
      return 415;
    case "PREFLIGHT_FAILED":
    case "EMPTY_FLEET":
      return 422;
    case "INTERNAL":
      return 500;
    case "MAAS_ERROR":
      return 502;
    case "SHUTTING_DOWN":
    case "SERVICE_DEGRADED":
    case "STANDBY":
      return 503;
    default:
      return assertNever(code, "service error code");
  }
}

export class ServiceError extends MetalwaveError<ServiceErrorCode> {
  readonly code: ServiceErrorCode;
  /** Machine-readable detail for the client: the fields at fault, the pre-flight findings. */
  readonly details: unknown;
  constructor(code: ServiceErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
  get status(): number {
    return httpStatusOf(this.code);
  }
}

/** The service cannot listen where it was told (`--listen`): the address in use, not this machine's, or a port it may not bind. */
export class ListenError extends MetalwaveError<"LISTEN_FAILED"> {
  readonly code = "LISTEN_FAILED" as const;
  readonly address: string;
  constructor(address: string, cause: unknown) {
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(`cannot listen on ${address} (--listen): ${listenReason(errno, cause)}`, { cause });
    this.address = address;
  }
}

function listenReason(errno: string | undefined, cause: unknown): string {
  switch (errno) {
    case "EADDRINUSE":
      return "the address is already in use (another process listens there, perhaps another metalwave serve); stop it or give another --listen";
    case "EADDRNOTAVAIL":
      return "the address is not one of this machine's (EADDRNOTAVAIL); give one it has, e.g. 127.0.0.1";
    case "EACCES":
      return "permission denied (EACCES): ports below 1024 need privileges; use a higher port";
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}
