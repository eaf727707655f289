/**
 * What a failed request means for sending it again, and how long to wait.
 *
 * Every failure falls in one of three classes:
 * - `unsent`: MAAS certainly did not apply the request (the connection was never
 *   made, or MAAS said so with Retry-After on a 503/409). Safe to send again.
 * - `unknown`: the request may or may not have been applied (connection reset or
 *   timeout after sending, 502/504 from a proxy or RPC timeout, 503 without
 *   Retry-After). Only idempotent requests are sent again blindly.
 * - `final`: MAAS answered and the answer stands (4xx, other 5xx).
 */

export interface RetryOptions {
  /** Sends per call, the first included; >= 1. */
  attempts: number;
  baseDelayMs: number;
  /** Upper bound of any single wait, Retry-After included. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

export type Failure =
  | { kind: "http"; status: number; body: string; retryAfterS: number | undefined; location?: string | undefined }
  | { kind: "network"; code: string; message: string };

export type FailureClass = "unsent" | "unknown" | "final";

/** The connection was never established, so nothing reached MAAS. */
const UNSENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);

export function classifyFailure(f: Failure): FailureClass {
  if (f.kind === "network") return UNSENT_CODES.has(f.code) ? "unsent" : "unknown";
  switch (f.status) {
    case 409:
      // MAAS's database-conflict answer: its transaction was rolled back.
      return f.retryAfterS !== undefined ? "unsent" : "final";
    case 503:
      return f.retryAfterS !== undefined ? "unsent" : "unknown";
    case 502:
    case 504:
      return "unknown";
    default:
      return "final";
  }
}

/** Seconds from a Retry-After header (delta-seconds or HTTP-date); undefined if absent or unreadable. */
export function parseRetryAfter(value: unknown, nowEpochMs: number): number | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowEpochMs) / 1000));
}

/**
 * The wait before send number `failures + 1`. Retry-After wins when present (MAAS
 * knows when it will be ready); otherwise exponential backoff with full jitter, so
 * that many clients failing together do not come back together.
 */
export function retryDelayMs(failures: number, f: Failure, opts: RetryOptions, random: () => number): number {
  if (f.kind === "http" && f.retryAfterS !== undefined) return Math.min(f.retryAfterS * 1000, opts.maxDelayMs);
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * ceiling);
}
