/**
 * Typed errors of the MAAS client. Callers switch on `code` (and, for 409s, on
 * `conflictKind`), never on message text. Messages and every field are built so
 * that they never hold the API key: MAAS's own body text is redacted before it is
 * stored, and transport errors are reduced to name/code/message (an HTTP client's error
 * may carry the request, Authorization header included).
 */
import { MetalwaveError } from "../errors.ts";

export type MaasErrorCode =
  | "MAAS_AUTH"
  | "MAAS_FORBIDDEN"
  | "MAAS_NOT_FOUND"
  | "MAAS_CONFLICT"
  | "MAAS_BAD_REQUEST"
  | "MAAS_UNAVAILABLE"
  | "MAAS_BAD_RESPONSE"
  | "MAAS_NETWORK"
  | "MAAS_OUTCOME_UNKNOWN"
  | "MAAS_INVALID_KEY";

/**
 * The meanings a 409 can have. MAAS uses one status for all three and they call for
 * different reactions: `wrong_state` (the machine is not in a state that allows the
 * op: re-read it), `no_match` (an allocation found no machine: wait for capacity or
 * relax constraints), `db_conflict` (MAAS's own database retries ran out and it sent
 * Retry-After: the request was not applied and can be sent again later).
 */
export type ConflictKind = "wrong_state" | "no_match" | "db_conflict";

export interface MaasErrorInit {
  operation: string;
  status?: number | undefined;
  maasMessage?: string | undefined;
  systemId?: string | undefined;
  /** MAAS's per-field messages of a 400 (`{"field": ["msg"]}`), or client-side validation. */
  fields?: Readonly<Record<string, readonly string[]>> | undefined;
  conflictKind?: ConflictKind | undefined;
  /** Seconds, when MAAS sent Retry-After. */
  retryAfterS?: number | undefined;
  /** How many requests were sent for this call before giving up. */
  attempts?: number | undefined;
  cause?: unknown;
}

export class MaasError extends MetalwaveError<MaasErrorCode> {
  readonly code: MaasErrorCode;
  readonly operation: string;
  readonly status: number | undefined;
  readonly maasMessage: string | undefined;
  readonly systemId: string | undefined;
  readonly fields: Readonly<Record<string, readonly string[]>> | undefined;
  readonly conflictKind: ConflictKind | undefined;
  readonly retryAfterS: number | undefined;
  readonly attempts: number | undefined;

  constructor(code: MaasErrorCode, message: string, init: MaasErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.operation = init.operation;
    this.status = init.status;
    this.maasMessage = init.maasMessage;
    this.systemId = init.systemId;
    this.fields = init.fields;
    this.conflictKind = init.conflictKind;
    this.retryAfterS = init.retryAfterS;
    this.attempts = init.attempts;
  }

  /** A plain view for structured logs; `cause` is reduced to its name/code/message. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      operation: this.operation,
      status: this.status,
      systemId: this.systemId,
      maasMessage: this.maasMessage,
      fields: this.fields,
      conflictKind: this.conflictKind,
      retryAfterS: this.retryAfterS,
      attempts: this.attempts,
      cause: describeCause(this.cause),
    };
  }
}

export function isMaasError(e: unknown, code?: MaasErrorCode): e is MaasError {
  return e instanceof MaasError && (code === undefined || e.code === code);
}

/** True for the 409 an allocation gets when no machine matches its constraints. */
export function isNoMatchingMachine(e: unknown): boolean {
  return isMaasError(e, "MAAS_CONFLICT") && e.conflictKind === "no_match";
}

/** True for a 409 that means "the machine is not in a state that allows this". */
export function isWrongState(e: unknown): boolean {
  return isMaasError(e, "MAAS_CONFLICT") && e.conflictKind === "wrong_state";
}

const NO_MATCH = /^No (available )?machine(s)? (available|matches|matching)/i;

/**
 * Tells the 409 meanings apart. Retry-After marks MAAS's database-conflict answer;
 * an allocation's 409 (or its known texts) means nothing matched; the rest are
 * state conflicts (`Can't deploy a machine that is in the 'New' state`, ...).
 */
export function classifyConflict(operation: string, body: string, retryAfterPresent: boolean): ConflictKind {
  if (retryAfterPresent) return "db_conflict";
  if (operation === "allocate" || NO_MATCH.test(body.trim())) return "no_match";
  return "wrong_state";
}

/**
 * A transport error stripped to what is safe to keep: an HTTP client's error may hold the
 * request (headers with the OAuth signature, i.e. the token secret) and the socket.
 */
export class TransportError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = "TransportError";
    this.code = code;
  }
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message };
  }
}

function describeCause(cause: unknown): unknown {
  if (cause === undefined) return undefined;
  if (cause instanceof MaasError) return cause.toJSON();
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return { name: cause.name, message: cause.message, ...(typeof code === "string" ? { code } : {}) };
  }
  return String(cause);
}

/** Parses MAAS's form-error body `{"field": ["msg", ...]}`; undefined when it is not one. */
export function parseFieldErrors(body: string): Record<string, string[]> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
  const out: Record<string, string[]> = {};
  for (const [field, msgs] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(msgs)) out[field] = msgs.map((m) => (typeof m === "string" ? m : JSON.stringify(m)));
    else if (typeof msgs === "string") out[field] = [msgs];
    else return undefined;
  }
  return out;
}

/** "field: msg; other: msg" for messages. */
export function formatFieldErrors(fields: Readonly<Record<string, readonly string[]>>): string {
  return Object.entries(fields)
    .map(([f, msgs]) => `${f}: ${msgs.join(" ")}`)
    .join("; ");
}
