/**
 * The MAAS transport: one HTTP exchange per attempt (http.ts, node:http), OAuth 1.0a PLAINTEXT
 * signing, the limiter (requests in flight and per second), retries with backoff,
 * read-back reconciliation of state-changing calls whose outcome is unknown, response
 * parsing with zod, and the mapping of failures to typed `MaasError`s. It knows no
 * MAAS operation: those are the files in src/maas/ops/, each a family of calls built
 * as a `CallSpec` (what to send, how to parse the answer, whether it is safe to send
 * again). docs/maas-client.md explains the rules.
 */
import type { Logger } from "pino";
import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { OAuthSigner, parseApiKey } from "./auth.ts";
import type { ApiCredentials } from "./auth.ts";
import { systemClock } from "../clock.ts";
import type { Clock } from "../clock.ts";
import { MaasError, TransportError, classifyConflict, formatFieldErrors, parseFieldErrors } from "./errors.ts";
import type { MaasErrorCode } from "./errors.ts";
import { encodeParams } from "./form.ts";
import type { ParamValue } from "./form.ts";
import { RequestLimiter } from "./limiter.ts";
import { DEFAULT_RETRY, classifyFailure, parseRetryAfter, retryDelayMs } from "./retry.ts";
import type { Failure, RetryOptions } from "./retry.ts";
import { describeIssues } from "./schemas.ts";
import { SinkError, exchange } from "./http.ts";
import { JsonArrayError, JsonArrayStream } from "./json-array.ts";
import { JsonPickError, pickFields } from "./json-pick.ts";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

/** One HTTP exchange (one attempt), reported to `onRequest` and counted in `stats()`. */
export interface RequestInfo {
  operation: string;
  method: HttpMethod;
  /** Path under the API root, e.g. `machines/abc123/`. */
  path: string;
  systemId: string | undefined;
  /** HTTP status, or undefined when no response arrived. */
  status: number | undefined;
  /** Network error code (ECONNRESET, ETIMEDOUT, ...) when no response arrived. */
  errorCode: string | undefined;
  durationMs: number;
  /** 1 for the first send of a call, 2 for the first retry, ... */
  attempt: number;
}

export interface MaasClientStats {
  requests: number;
  /** Sends after the first, for any reason. */
  retries: number;
  /** Read-backs done to settle an unknown outcome. */
  reconciliations: number;
  /** operation → status (HTTP code or network error code) → count. */
  byOperation: Record<string, Record<string, number>>;
}

export interface TransportOptions {
  /** Region URL, e.g. `http://maas.example:5240/MAAS` (a trailing `/api/2.0` is accepted too). */
  url: string;
  /** `consumer_key:token_key:token_secret`. */
  apiKey: string;
  /** Requests in flight at once (default 4, what one region process serves). */
  maxInFlight?: number;
  /** Request starts per second (default 50; 0 = unlimited). */
  requestsPerSecond?: number;
  /** Starts allowed back to back after a quiet period (default maxInFlight). */
  burst?: number;
  retry?: Partial<RetryOptions>;
  /**
   * Per-request timeout in ms (default 30 000): how long to wait for the answer to start,
   * and then for each further part of it (a list of 30,000 machines streams for longer
   * than that and is not stuck). A timeout counts as an unknown outcome.
   */
  timeoutMs?: number;
  logger?: Logger;
  onRequest?: (info: RequestInfo) => void;
  /** Called before every attempt is sent, retries included; if it throws, nothing is sent (the service's lease check). */
  beforeSend?: () => void;
  /** Test seams. */
  clock?: Clock;
  random?: () => number;
  nonce?: () => string;
}

const DEFAULTS = { maxInFlight: 4, requestsPerSecond: 50, timeoutMs: 30_000 } as const;
/** Enough of MAAS's body text to explain an error; bodies can be whole HTML pages. */
const MAX_MESSAGE_CHARS = 2000;

/** What to do when a send fails in a way that leaves the outcome unknown. */
export type Safety<T> =
  | { kind: "idempotent"; /** Statuses that mean "already done" once an earlier send may have applied. */ doneAfterUncertain?: readonly number[] }
  | { kind: "reconcile"; check: (signal: AbortSignal | undefined) => Promise<T | undefined> }
  | { kind: "never" };

/** One MAAS call as an operation file describes it. */
export interface CallSpec<T> {
  operation: string;
  method: HttpMethod;
  path: string;
  /** MAAS named operation, sent as `?op=`. */
  op?: string;
  params?: Readonly<Record<string, ParamValue>>;
  systemId?: string;
  anonymous?: boolean;
  /** null: the body is not read (204s, or answers we do not use). */
  schema: z.ZodType<T> | null;
  /**
   * For array answers: parse and validate element by element, so a list of 10,000
   * machines is never held whole as parsed JSON (src/maas/json-array.ts).
   */
  itemSchema?: z.ZodType<unknown>;
  /** With itemSchema: what each validated element becomes as it is read (e.g. a machine's facts), so the full element is dropped at once. */
  eachItem?: (item: unknown) => unknown;
  /**
   * The only top-level fields of the answer (of each element, for a list) the schema
   * reads: the others are skipped without being parsed (src/maas/json-pick.ts). For
   * answers that carry a whole machine of which the caller reads its state.
   */
  fields?: ReadonlySet<string>;
  safety: Safety<T>;
}

/** `items`: a list answer already read element by element as it arrived. */
type SendResult = { ok: true; status: number; body: string; items?: unknown[] } | { ok: false; failure: Failure };

interface Shared {
  stats: MaasClientStats;
  me: Promise<string> | undefined;
  /** Added with observeRequests; shared by every view of the transport. */
  observers: Set<(info: RequestInfo) => void>;
}

export class MaasTransport {
  private readonly apiRoot: string;
  private readonly credentials: ApiCredentials;
  private readonly signer: OAuthSigner;
  private readonly limiter: RequestLimiter;
  private readonly retry: RetryOptions;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  private readonly onRequest: ((info: RequestInfo) => void) | undefined;
  private readonly beforeSend: (() => void) | undefined;
  private readonly shared: Shared;
  /** The signal this view's calls stop on (undefined for the root transport). */
  readonly signal: AbortSignal | undefined;

  constructor(options: TransportOptions) {
    this.credentials = parseApiKey(options.apiKey);
    this.apiRoot = apiRootOf(options.url);
    this.clock = options.clock ?? systemClock;
    this.signer = new OAuthSigner(this.credentials, { clock: this.clock, ...(options.nonce ? { nonce: options.nonce } : {}) });
    this.random = options.random ?? Math.random;
    this.retry = { ...DEFAULT_RETRY, ...definedOnly(options.retry ?? {}) };
    if (!Number.isInteger(this.retry.attempts) || this.retry.attempts < 1) {
      throw new RangeError(`retry.attempts must be an integer >= 1 (got ${this.retry.attempts})`);
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0 (got ${this.timeoutMs})`);
    const maxInFlight = options.maxInFlight ?? DEFAULTS.maxInFlight;
    this.limiter = new RequestLimiter({
      maxInFlight,
      requestsPerSecond: options.requestsPerSecond ?? DEFAULTS.requestsPerSecond,
      burst: options.burst ?? maxInFlight,
      clock: this.clock,
    });
    this.logger = options.logger;
    this.onRequest = options.onRequest;
    this.beforeSend = options.beforeSend;
    this.shared = { stats: { requests: 0, retries: 0, reconciliations: 0, byOperation: {} }, me: undefined, observers: new Set() };
    this.signal = undefined;
  }

  /**
   * A view whose calls stop when `signal` aborts (queued calls leave the queue,
   * in-flight requests are cancelled, waits end). It shares the limiter, stats and
   * connection with this transport.
   */
  withSignal(signal: AbortSignal): MaasTransport {
    const view = Object.create(MaasTransport.prototype) as MaasTransport;
    Object.assign(view, this, { signal });
    return view;
  }

  /** A copy of the request counters. */
  stats(): MaasClientStats {
    const s = this.shared.stats;
    return {
      requests: s.requests,
      retries: s.retries,
      reconciliations: s.reconciliations,
      byOperation: Object.fromEntries(Object.entries(s.byOperation).map(([op, by]) => [op, { ...by }])),
    };
  }

  observeRequests(observer: (info: RequestInfo) => void): void {
    this.shared.observers.add(observer);
  }

  /** Requests running and queued right now. */
  load(): { inFlight: number; queued: number } {
    return this.limiter.load;
  }

  /** The API user's name, read once with `read` and shared by every view (a failure is not kept). */
  identity(read: () => Promise<string>): Promise<string> {
    if (this.shared.me === undefined) {
      const p = read();
      this.shared.me = p;
      p.catch(() => {
        if (this.shared.me === p) this.shared.me = undefined;
      });
    }
    return this.shared.me;
  }

  /** Runs a read-back (counted in stats); any failure becomes MAAS_OUTCOME_UNKNOWN for the op being settled. */
  async readBack<R>(operation: string, systemId: string | undefined, read: () => Promise<R>): Promise<R> {
    this.shared.stats.reconciliations++;
    try {
      return await read();
    } catch (e) {
      if (this.signal?.aborted) throw e;
      const why = e instanceof Error ? e.message : String(e);
      throw new MaasError(
        "MAAS_OUTCOME_UNKNOWN",
        `${label(operation, systemId)}: the request may or may not have been applied, and reading the result back failed (${why})`,
        { operation, systemId, cause: e, status: e instanceof MaasError ? e.status : undefined },
      );
    }
  }

  /** This transport, or a view of it bound to `signal` (for read-backs that run under a caller's signal). */
  scoped(signal: AbortSignal | undefined): MaasTransport {
    return signal === undefined || signal === this.signal ? this : this.withSignal(signal);
  }

  /** One call: sends, retries and reconciles per `spec.safety`, parses the answer. */
  async call<T>(spec: CallSpec<T>): Promise<T> {
    const signal = this.signal;
    // True once a send may have been applied: later "wrong state" answers are then
    // checked against the machine, since they may be our own earlier send showing.
    let uncertain = false;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) this.shared.stats.retries++;
      const res = await this.sendOnce(spec, attempt, signal);
      if (res.ok) return res.items !== undefined ? (res.items as T) : this.parse(spec, res.body);
      const f = res.failure;
      const cls = classifyFailure(f);
      const more = attempt < this.retry.attempts;

      if (cls === "final") {
        if (uncertain && f.kind === "http") {
          if (spec.safety.kind === "reconcile" && (f.status === 400 || f.status === 409)) {
            const done = await spec.safety.check(signal);
            if (done !== undefined) return done;
          }
          if (spec.safety.kind === "idempotent" && spec.safety.doneAfterUncertain?.includes(f.status)) return undefined as T;
        }
        throw this.toError(spec, f, attempt);
      }

      if (cls === "unknown" && spec.safety.kind === "never") {
        throw new MaasError(
          "MAAS_OUTCOME_UNKNOWN",
          `${label(spec.operation, spec.systemId)}: ${describeFailure(f)}; the request may have been applied and is not safe to send again, so it was not retried`,
          { operation: spec.operation, systemId: spec.systemId, status: f.kind === "http" ? f.status : undefined, attempts: attempt, cause: this.failureCause(f) },
        );
      }

      const delay = retryDelayMs(attempt, f, this.retry, this.random);
      if (cls === "unknown" && spec.safety.kind === "reconcile") {
        uncertain = true;
        // Wait first: after a 504 MAAS may still be applying the request.
        this.logger?.warn({ operation: spec.operation, systemId: spec.systemId, attempt, delayMs: delay, reason: describeFailure(f) }, "maas outcome unknown; reading back");
        await this.clock.sleep(delay, signal);
        const done = await spec.safety.check(signal);
        if (done !== undefined) return done;
        if (!more) throw this.toError(spec, f, attempt);
        continue;
      }

      if (cls === "unknown") uncertain = true;
      if (!more) throw this.toError(spec, f, attempt);
      this.logger?.warn({ operation: spec.operation, systemId: spec.systemId, attempt, delayMs: delay, reason: describeFailure(f) }, "maas request failed; retrying");
      await this.clock.sleep(delay, signal);
    }
  }

  private async sendOnce<T>(spec: CallSpec<T>, attempt: number, signal: AbortSignal | undefined): Promise<SendResult> {
    const query = new URLSearchParams();
    if (spec.op !== undefined) query.append("op", spec.op);
    const params = encodeParams(spec.params ?? {});
    const isQuery = spec.method === "GET" || spec.method === "DELETE";
    if (isQuery) params.forEach((v, k) => query.append(k, v));
    const qs = query.toString();
    const url = `${this.apiRoot}${spec.path}${qs === "" ? "" : `?${qs}`}`;

    return this.limiter.run(async () => {
      this.beforeSend?.();
      const headers: Record<string, string> = { Accept: "application/json" };
      // Signed per send: MAAS refuses a nonce it has seen, so retries need a fresh one.
      if (!spec.anonymous) headers.Authorization = this.signer.header(spec.method, url);
      if (!isQuery) headers["Content-Type"] = "application/x-www-form-urlencoded";

      const timeout = new AbortController();
      // Counted again from each part of the answer that arrives (onProgress).
      const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
      const started = this.clock.now();
      // A list is read element by element as its bytes arrive (src/maas/json-array.ts).
      const list = spec.itemSchema ? this.listReader(spec, spec.itemSchema) : undefined;
      let result: SendResult;
      // A malformed answer (MAAS_BAD_RESPONSE) found while it streamed in: counted like any answer, then thrown.
      let malformed: unknown;
      try {
        // The body is kept as text: we parse it ourselves, so that bad JSON becomes MAAS_BAD_RESPONSE.
        const res = await exchange({
          method: spec.method,
          url,
          headers,
          body: isQuery ? undefined : params.toString(),
          signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
          sink: list?.push,
          onProgress: () => timer.refresh(),
        });
        const body = res.body;
        if (res.status >= 200 && res.status < 300) {
          const read = list?.finish();
          result = read === undefined || !read.array ? { ok: true, status: res.status, body: read?.text ?? body } : { ok: true, status: res.status, body: "", items: read.items };
        } else {
          const location = res.headers.location;
          result = {
            ok: false,
            failure: {
              kind: "http",
              status: res.status,
              body,
              retryAfterS: parseRetryAfter(res.headers["retry-after"], this.clock.wallNow()),
              location: typeof location === "string" ? location : undefined,
            },
          };
        }
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        // The answer came and is malformed (MAAS_BAD_RESPONSE): not a network failure, not retried.
        if (e instanceof SinkError || e instanceof MaasError) {
          malformed = e instanceof SinkError ? e.cause : e;
          result = { ok: true, status: 200, body: "" };
        } else {
          const code = timeout.signal.aborted ? "ETIMEDOUT" : networkCode(e);
          const message = timeout.signal.aborted ? `no response, or no further part of it, within ${this.timeoutMs} ms` : errorMessage(e);
          result = { ok: false, failure: { kind: "network", code, message } };
        }
      } finally {
        clearTimeout(timer);
      }
      this.record({
        operation: spec.operation,
        method: spec.method,
        path: spec.path,
        systemId: spec.systemId,
        status: result.ok ? result.status : result.failure.kind === "http" ? result.failure.status : undefined,
        errorCode: !result.ok && result.failure.kind === "network" ? result.failure.code : undefined,
        durationMs: Math.round(this.clock.now() - started),
        attempt,
      });
      if (malformed !== undefined) throw malformed;
      return result;
    }, signal);
  }

  private record(info: RequestInfo): void {
    const s = this.shared.stats;
    s.requests++;
    const key = info.status !== undefined ? String(info.status) : (info.errorCode ?? "network");
    const by = (s.byOperation[info.operation] ??= {});
    by[key] = (by[key] ?? 0) + 1;
    this.logger?.debug(
      { operation: info.operation, method: info.method, path: info.path, systemId: info.systemId, status: info.status ?? info.errorCode, durationMs: info.durationMs, attempt: info.attempt },
      "maas request",
    );
    for (const hook of [this.onRequest, ...this.shared.observers]) {
      try {
        hook?.(info);
      } catch (e) {
        // A metrics hook must not break a MAAS call.
        this.logger?.warn({ err: errorMessage(e) }, "maas onRequest hook threw");
      }
    }
  }

  private parse<T>(spec: CallSpec<T>, body: string): T {
    if (spec.schema === null) return undefined as T;
    const json = this.readJson(spec, body);
    const r = spec.schema.safeParse(json);
    if (!r.success) throw this.badShape(spec, r.error, r.error);
    return r.data;
  }

  /** MAAS_BAD_RESPONSE for an answer its schema refuses; `shown` names the issues (with a list element's index, and its machine's system_id). */
  private badShape<T>(spec: CallSpec<T>, shown: z.ZodError, cause: z.ZodError, systemId = spec.systemId): MaasError {
    const which = systemId !== undefined && systemId !== spec.systemId ? ` (machine ${systemId})` : "";
    return new MaasError("MAAS_BAD_RESPONSE", `${spec.operation}: ${describeIssues(shown)}${which}`, { operation: spec.operation, systemId, status: 200, cause });
  }

  /** The JSON of an answer (or of a list's element): only `spec.fields` of an object when given. */
  private readJson<T>(spec: CallSpec<T>, text: string): unknown {
    try {
      if (spec.fields !== undefined) {
        const picked = pickFields(text, spec.fields);
        if (picked !== undefined) return picked;
      }
      return JSON.parse(text) as unknown;
    } catch (e) {
      if (e instanceof SyntaxError || e instanceof JsonPickError) throw this.notJson(spec, text);
      throw e;
    }
  }

  /**
   * Reads an array answer element by element as its chunks arrive: each is parsed,
   * validated (and mapped by `eachItem`) at once, so neither the answer's text nor the
   * whole parsed array is ever held. An answer that is not an array is kept as text
   * for `parse` to judge whole.
   */
  private listReader<T>(spec: CallSpec<T>, itemSchema: z.ZodType<unknown>) {
    const items: unknown[] = [];
    let preview = "";
    const stream = new JsonArrayStream((text) => {
      const json = this.readJson(spec, text);
      const item = itemSchema.safeParse(json);
      if (!item.success) {
        const i = items.length;
        const sid = (json as { system_id?: unknown } | null)?.system_id;
        throw this.badShape(spec, new z.ZodError(item.error.issues.map((issue) => ({ ...issue, path: [i, ...issue.path] }))), item.error, typeof sid === "string" ? sid : undefined);
      }
      items.push(spec.eachItem ? spec.eachItem(item.data) : item.data);
    });
    const malformed = (e: unknown) => (e instanceof JsonArrayError ? this.notJson(spec, preview) : e);
    return {
      push: (chunk: Buffer): void => {
        if (preview === "") preview = chunk.toString("utf8", 0, Math.min(chunk.length, 100));
        try {
          stream.push(chunk);
        } catch (e) {
          throw malformed(e);
        }
      },
      finish: (): { array: true; items: unknown[] } | { array: false; text: string } => {
        try {
          const end = stream.end();
          return end.array ? { array: true, items } : end;
        } catch (e) {
          throw malformed(e);
        }
      },
    };
  }

  private notJson<T>(spec: CallSpec<T>, body: string): MaasError {
    const preview = body.length > 80 ? `${body.slice(0, 80)}...` : body;
    return new MaasError("MAAS_BAD_RESPONSE", `${label(spec.operation, spec.systemId)}: response is not JSON: ${JSON.stringify(this.redact(preview))}`, {
      operation: spec.operation,
      systemId: spec.systemId,
      status: 200,
    });
  }

  private toError<T>(spec: CallSpec<T>, f: Failure, attempts: number): MaasError {
    const where = label(spec.operation, spec.systemId);
    const base = { operation: spec.operation, systemId: spec.systemId, attempts };
    if (f.kind === "network") {
      return new MaasError("MAAS_NETWORK", `${where}: cannot reach MAAS at ${this.apiRoot} (${f.code}: ${f.message})${tries(attempts)}`, {
        ...base,
        cause: this.failureCause(f),
      });
    }
    const text = this.redact(f.body.trim()).slice(0, MAX_MESSAGE_CHARS);
    const init = { ...base, status: f.status, maasMessage: text, retryAfterS: f.retryAfterS };
    const said = text === "" ? "" : `: ${text}`;
    const code = codeForStatus(f.status);
    switch (code) {
      case "MAAS_AUTH":
        return new MaasError(code, `${where}: MAAS refused the API key (HTTP 401)${said}`, init);
      case "MAAS_FORBIDDEN":
        return new MaasError(code, `${where}: permission denied (HTTP 403)${said}`, init);
      case "MAAS_NOT_FOUND":
        return new MaasError(code, `${where}: not found (HTTP 404)${said}${/^[a-z-]+\/$/.test(spec.path) ? wrongUrlHint(this.apiRoot) : ""}`, init);
      case "MAAS_CONFLICT": {
        const conflictKind = classifyConflict(spec.operation, text, f.retryAfterS !== undefined);
        return new MaasError(code, `${where}: conflict (HTTP 409, ${conflictKind})${said}${tries(attempts)}`, { ...init, conflictKind });
      }
      case "MAAS_BAD_REQUEST": {
        const fields = parseFieldErrors(text);
        const detail = fields ? `: ${formatFieldErrors(fields)}` : said;
        return new MaasError(code, `${where}: MAAS rejected the request (HTTP ${f.status})${detail}`, { ...init, fields });
      }
      case "MAAS_UNAVAILABLE":
        return new MaasError(code, `${where}: MAAS unavailable (HTTP ${f.status})${said}${tries(attempts)}`, init);
      case "MAAS_BAD_RESPONSE":
        return new MaasError(code, `${where}: unexpected HTTP ${f.status}${f.location ? ` redirect to ${f.location} (check the MAAS URL)` : ""}`, init);
      default:
        return new MaasError(code, `${where}: HTTP ${f.status}${said}`, init);
    }
  }

  private failureCause(f: Failure): unknown {
    return f.kind === "network" ? new TransportError(f.message, f.code) : undefined;
  }

  /** MAAS echoes the token key in some 401 texts; no part of the key leaves the client. */
  private redact(text: string): string {
    let out = text;
    for (const part of [this.credentials.tokenSecret, this.credentials.tokenKey, this.credentials.consumerKey]) {
      out = out.split(part).join("<redacted>");
    }
    return out;
  }
}


/** Safe to send again as is: a read, or a change that converges (adding a tag that is there). */
export const IDEMPOTENT = { kind: "idempotent" } as const;
/** Never sent twice once it may have reached MAAS (creates something anonymous). */
export const NEVER = { kind: "never" } as const;

/**
 * A 404 on a collection (machines/, zones/, version/: a path of one segment) says the API
 * is not where the URL points; the usual cause is a region URL without its `/MAAS` path
 * (http://maas:5240 for http://maas:5240/MAAS).
 */
function wrongUrlHint(apiRoot: string): string {
  if (/\/MAAS\/api\/2\.0\/?$/.test(apiRoot)) return ` at ${apiRoot}: is this the MAAS region's URL? (check maas.url / --maas-url)`;
  return ` at ${apiRoot}: the MAAS URL usually ends in /MAAS (try ${apiRoot.replace(/\/api\/2\.0\/?$/, "/MAAS")}; maas.url / --maas-url)`;
}

function codeForStatus(status: number): MaasErrorCode {
  if (status === 401) return "MAAS_AUTH";
  if (status === 403) return "MAAS_FORBIDDEN";
  if (status === 404) return "MAAS_NOT_FOUND";
  if (status === 409) return "MAAS_CONFLICT";
  if (status >= 500) return "MAAS_UNAVAILABLE";
  if (status >= 400) return "MAAS_BAD_REQUEST";
  return "MAAS_BAD_RESPONSE";
}

/** `http://h:5240/MAAS` → `http://h:5240/MAAS/api/2.0/`. */
export function apiRootOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError("maas.url", "not a valid URL (expected e.g. http://maas.example:5240/MAAS)");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError("maas.url", `must be http or https (got ${u.protocol})`);
  }
  // Credentials in the URL would end up in messages; a MAAS URL never needs them.
  u.username = "";
  u.password = "";
  u.search = "";
  u.hash = "";
  const path = u.pathname.replace(/\/+$/, "").replace(/\/api\/2\.0$/, "");
  return `${u.origin}${path}/api/2.0/`;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** One URL path segment. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}

/** `operation systemId`, as error messages name a call. */
export function label(operation: string, systemId: string | undefined): string {
  return systemId === undefined ? operation : `${operation} ${systemId}`;
}

function tries(attempts: number): string {
  return attempts > 1 ? ` after ${attempts} attempts` : "";
}

function describeFailure(f: Failure): string {
  return f.kind === "network" ? `${f.code} (${f.message})` : `HTTP ${f.status}`;
}

function networkCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code !== "") {
    // Some clients (axios) report their own response timeout as ECONNABORTED.
    return code === "ECONNABORTED" ? "ETIMEDOUT" : code;
  }
  return /socket hang up/i.test(errorMessage(e)) ? "ECONNRESET" : "ENETWORK";
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
