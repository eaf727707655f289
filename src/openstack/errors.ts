/**
 * Typed failures of the OpenStack API client (src/openstack/client.ts). Each names the
 * service (identity, compute, network), the operation and, when the API answered, its HTTP
 * status and the message of its fault body (nova's `{<fault>: {code, message}}`, neutron's
 * `{NeutronError: {type, message}}`, keystone's `{error: {code, title, message}}`). Never a
 * token or a password: requests are described by method and path only.
 */
import { MetalwaveError } from "../errors.ts";

export const OPENSTACK_ERROR_CODES = [
  /** 401: no token, a token the service no longer accepts, or credentials keystone refused. */
  "OPENSTACK_UNAUTHORIZED",
  /** 403: the account may not do this (policy). */
  "OPENSTACK_FORBIDDEN",
  /** 404: no such resource (a service or agent id that is gone). */
  "OPENSTACK_NOT_FOUND",
  /** 409: the resource is busy (a compute service still hosting instances or migrations). */
  "OPENSTACK_CONFLICT",
  /** 400: the request was refused as malformed (a bad id, body or field). */
  "OPENSTACK_BAD_REQUEST",
  /** 406: the microversion asked for is outside what the service supports. */
  "OPENSTACK_VERSION_NOT_ACCEPTABLE",
  /** The API could not be reached, timed out, or answered 5xx (or through a proxy with no backend). */
  "OPENSTACK_UNAVAILABLE",
  /** The answer could not be understood (not JSON, no token header, a missing field). */
  "OPENSTACK_BAD_RESPONSE",
  /** Keystone's catalog has no endpoint of that type for the interface and region asked for. */
  "OPENSTACK_NO_ENDPOINT",
] as const;
export type OpenStackErrorCode = (typeof OPENSTACK_ERROR_CODES)[number];

export type OpenStackService = "identity" | "compute" | "network";

export class OpenStackError extends MetalwaveError<OpenStackErrorCode> {
  readonly code: OpenStackErrorCode;
  readonly service: OpenStackService;
  /** `METHOD /path` (no query holding anything secret: the client sends none). */
  readonly operation: string;
  /** The HTTP status, when the API answered. */
  readonly status: number | undefined;
  /** The fault's own message, when the API gave one. */
  readonly apiMessage: string | undefined;
  constructor(code: OpenStackErrorCode, d: { service: OpenStackService; operation: string; status?: number; apiMessage?: string }, message: string, options?: { cause?: unknown }) {
    super(`${d.service} ${d.operation}${d.status !== undefined ? ` → HTTP ${d.status}` : ""}: ${message}`, options);
    this.code = code;
    this.service = d.service;
    this.operation = d.operation;
    this.status = d.status;
    this.apiMessage = d.apiMessage;
  }
}

/** The error code an HTTP status means (undefined: success). */
export function codeForStatus(status: number): OpenStackErrorCode | undefined {
  if (status < 400) return undefined;
  switch (status) {
    case 400:
      return "OPENSTACK_BAD_REQUEST";
    case 401:
      return "OPENSTACK_UNAUTHORIZED";
    case 403:
      return "OPENSTACK_FORBIDDEN";
    case 404:
      return "OPENSTACK_NOT_FOUND";
    case 406:
      return "OPENSTACK_VERSION_NOT_ACCEPTABLE";
    case 409:
      return "OPENSTACK_CONFLICT";
    default:
      return status >= 500 ? "OPENSTACK_UNAVAILABLE" : "OPENSTACK_BAD_REQUEST";
  }
}
