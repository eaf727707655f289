import { MetalwaveError } from "../errors.ts";

export type SimErrorCode =
  /** An option of `startSimulator` or `metalwave sim` is invalid (names the option). */
  | "SIM_OPTIONS"
  /** The `--faults` spec does not parse (names the bad item). */
  | "SIM_FAULT_SPEC"
  /** A fleet file fails validation (names the YAML path). */
  | "SIM_FLEET_INVALID"
  /** A control request for a simulated host (stop a service, make it unreachable) names no such host or service. */
  | "SIM_HOST_CONTROL";

/** Raised by the simulator while starting up, and by the simulated hosts' controls; never by the MAAS API. */
export class SimError extends MetalwaveError<SimErrorCode> {
  readonly code: SimErrorCode;
  readonly where: string;
  constructor(code: SimErrorCode, where: string, message: string, options?: { cause?: unknown }) {
    super(`${where}: ${message}`, options);
    this.code = code;
    this.where = where;
  }
}

/**
 * A MAAS error response, raised by the region model and turned into HTTP by the server:
 * the status code, body and content type are exactly what the client will see.
 */
export class SimulatedFailure extends MetalwaveError<"SIM_MAAS_RESPONSE"> {
  readonly code = "SIM_MAAS_RESPONSE" as const;
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, body: string, contentType = "text/plain; charset=utf-8", headers: Record<string, string> = {}) {
    super(`MAAS ${status}: ${body}`);
    this.status = status;
    this.body = body;
    this.contentType = contentType;
    this.headers = headers;
  }
}

/** MAAS's plain-text errors (409 state conflicts, 404, 400 MAASAPIBadRequest). */
export function textFailure(status: number, message: string, headers: Record<string, string> = {}): SimulatedFailure {
  return new SimulatedFailure(status, message, "text/plain; charset=utf-8", headers);
}

/** MAAS's form validation errors: 400 with a JSON map of field → messages. */
export function formFailure(errors: Record<string, string[]>): SimulatedFailure {
  return new SimulatedFailure(400, JSON.stringify(errors), "application/json");
}
