/**
 * The HTTP side of the simulated region: URL scheme, body parsing, OAuth, the cap on
 * requests served at once, injected faults, stats, and turning replies and
 * SimulatedFailures into responses.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { STATUS_LABEL } from "../maas/status.ts";
import { DESCRIPTION, router, unrecognised } from "./api.ts";
import type { Reply } from "./api.ts";
import { withUris } from "./routes.ts";
import type { StreamedBody } from "./routes.ts";
import { verifyOAuth, NonceStore } from "./auth.ts";
import type { ApiKey } from "./auth.ts";
import { SimError, SimulatedFailure } from "./errors.ts";
import type { SimLogger } from "./logger.ts";
import type { FaultSpec } from "./faults.ts";
import { Params } from "./params.ts";
import { ADMIN_USER } from "./region.ts";
import type { Region } from "./region.ts";
import { unit } from "./rng.ts";
import { systemClock, type Clock } from "../clock.ts";

const PREFIX = "/MAAS/api/2.0/";
const MAX_BODY = 16 * 1024 * 1024;

export type { SimLogger } from "./logger.ts";

/**
 * What `/sim/hosts/...` needs of the simulated hosts (hosts/server.ts's HostFleet
 * provides it); the region's server knows no more of them, so the two servers do not
 * import each other.
 */
export interface HostControls {
  resolve(host: string): string | undefined;
  view(host: string): unknown;
  stopService(host: string, service: string): unknown;
  startService(host: string, service?: string): unknown;
  setReachable(host: string, reachable: boolean): unknown;
  /** The simulated Juju's record of changes, for `/sim/stats` `juju`. */
  jujuChanges(): SimJujuStats;
}

/** `/sim/stats` `juju` (with simulated hosts): Juju changes by operation, and any object changed more than once. */
export interface SimJujuStats {
  changes: Record<string, number>;
  repeated: Record<string, number>;
}

export interface OperationStats {
  total: number;
  byStatus: Record<string, number>;
}

/** The JSON `GET /sim/stats` returns; documented in docs/simulator.md. */
export interface SimStats {
  since: string;
  requests: OperationStats & { byOperation: Record<string, OperationStats> };
  inFlight: { current: number; queued: number; peak: number; peakQueued: number; limit: number | null };
  statusCounts: Record<string, number>;
  events: { lastId: number; stored: number };
  machines?: { system_id: string; hostname: string; status_name: string; commissioned: number; deployed: number; released: number; erased: number; allocated: number }[];
  /** Only with simulated hosts (`--hosts`). */
  juju?: SimJujuStats;
}

/** Caps requests served at once; the rest wait in arrival order, as in a region's worker pool. */
class Gate {
  current = 0;
  peak = 0;
  peakQueued = 0;
  private readonly waiting: (() => void)[] = [];
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  get queued(): number {
    return this.waiting.length;
  }
  async enter(): Promise<void> {
    if (this.current < this.limit) {
      this.current++;
      this.peak = Math.max(this.peak, this.current);
      return;
    }
    await new Promise<void>((res) => {
      this.waiting.push(res);
      this.peakQueued = Math.max(this.peakQueued, this.waiting.length);
    });
    // The slot was handed over by leave(): `current` already counts us.
  }
  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.current--;
  }
}

export interface ServerOptions {
  region: Region;
  apiKey: ApiKey;
  faults: FaultSpec;
  maxInFlight: number | undefined;
  seed: number;
  logger: SimLogger | undefined;
  /** Wall clock for OAuth timestamps (always real time: clients sign with it). */
  /** Wall time for OAuth timestamps and the stats window (src/clock.ts). Default: the system clock, as a real region's, whatever clock the region's own phases run on. */
  clock?: Clock;
}

export class SimServer {
  readonly server: Server;
  private readonly region: Region;
  private readonly apiKey: ApiKey;
  private readonly faults: FaultSpec;
  private readonly seed: number;
  private readonly logger: SimLogger | undefined;
  private readonly nonces = new NonceStore();
  private readonly gate: Gate;
  private readonly clock: Clock;
  private requestSeq = 0;
  private burstLeft = 0;
  /** The simulated hosts, once started: `/sim/hosts/...` controls them. */
  hosts: HostControls | undefined;
  /** `POST /sim/outage?ms=N`: the region stops listening for N ms (set by index.ts, which owns the listener). */
  outage: ((ms: number) => void) | undefined;
  private stats: { since: number; total: number; byStatus: Record<string, number>; byOperation: Record<string, OperationStats> };

  constructor(opts: ServerOptions) {
    this.region = opts.region;
    this.apiKey = opts.apiKey;
    this.faults = opts.faults;
    this.seed = opts.seed;
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.stats = { since: this.clock.wallNow(), total: 0, byStatus: {}, byOperation: {} };
    this.gate = new Gate(opts.maxInFlight ?? opts.faults.maxInFlight ?? Infinity);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger?.warn({ err }, "simulator request failed");
        if (!res.headersSent) this.send(res, 500, "text/plain; charset=utf-8", "Internal server error.");
        else res.destroy();
      });
    });
    // Clients keep connections alive between polls; do not let an idle socket hold close() up.
    this.server.keepAliveTimeout = 5000;
  }

  snapshot(includeMachines = true): SimStats {
    const out: SimStats = {
      since: new Date(this.stats.since).toISOString(),
      requests: { total: this.stats.total, byStatus: { ...this.stats.byStatus }, byOperation: structuredClone(this.stats.byOperation) },
      inFlight: { current: this.gate.current, queued: this.gate.queued, peak: this.gate.peak, peakQueued: this.gate.peakQueued, limit: Number.isFinite(this.gate.limit) ? this.gate.limit : null },
      statusCounts: this.region.statusCounts(),
      events: { lastId: this.region.events.at(-1)?.id ?? 0, stored: this.region.events.length },
      ...(this.hosts ? { juju: this.hosts.jujuChanges() } : {}),
    };
    if (includeMachines) {
      out.machines = this.region.machines.map((m) => ({
        system_id: m.systemId,
        hostname: m.hostname,
        status_name: STATUS_LABEL[m.status],
        ...m.counts,
      }));
    }
    return out;
  }

  resetStats(): void {
    this.stats = { since: this.clock.wallNow(), total: 0, byStatus: {}, byOperation: {} };
    this.gate.peak = this.gate.current;
    this.gate.peakQueued = this.gate.queued;
    for (const m of this.region.machines) m.counts = { commissioned: 0, deployed: 0, released: 0, erased: 0, allocated: 0 };
  }

  private record(operation: string, status: number): void {
    const key = String(status);
    this.stats.total++;
    this.stats.byStatus[key] = (this.stats.byStatus[key] ?? 0) + 1;
    const op = (this.stats.byOperation[operation] ??= { total: 0, byStatus: {} });
    op.total++;
    op.byStatus[key] = (op.byStatus[key] ?? 0) + 1;
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    res.writeHead(status, { "Content-Type": contentType, "Content-Length": String(bytes.length), Vary: "Authorization,Cookie", ...headers });
    res.end(bytes);
  }

  /** A streamed body (a machine list): chunked, each chunk made once the socket has taken the one before. */
  private async sendStreamed(res: ServerResponse, status: number, contentType: string, body: StreamedBody, headers: Record<string, string> = {}): Promise<void> {
    res.writeHead(status, { "Content-Type": contentType, Vary: "Authorization,Cookie", ...headers });
    const chunks = body();
    for (let next = chunks.next(); !next.done; next = chunks.next()) {
      if (res.destroyed) return;
      if (!res.write(next.value)) await drainedOrClosed(res);
    }
    res.end();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim.invalid");
    const method = (req.method ?? "GET").toUpperCase();
    if (url.pathname === "/sim/stats" && method === "GET") {
      this.send(res, 200, "application/json", JSON.stringify(this.snapshot(url.searchParams.get("machines") !== "0")));
      return;
    }
    if (url.pathname === "/sim/reset-stats" && method === "POST") {
      this.resetStats();
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === "/sim/outage" && method === "POST") {
      await drain(req);
      const ms = Number(url.searchParams.get("ms"));
      if (!Number.isFinite(ms) || ms <= 0 || ms > 3_600_000 || !this.outage) {
        this.send(res, 400, "text/plain; charset=utf-8", "ms must be a number of milliseconds in (0, 3600000]");
        return;
      }
      // Answer first: the listener closes once this response is out.
      res.on("finish", () => this.outage?.(ms));
      this.send(res, 202, "application/json", JSON.stringify({ awayForMs: ms }));
      return;
    }
    if (url.pathname.startsWith("/sim/hosts/")) {
      await drain(req);
      const r = this.hostControl(url, method);
      this.send(res, r.status, r.status === 200 ? "application/json" : "text/plain; charset=utf-8", r.body);
      return;
    }
    if (!url.pathname.startsWith(PREFIX) && url.pathname !== PREFIX.slice(0, -1)) {
      await drain(req);
      this.send(res, 404, "text/plain; charset=utf-8", "Not Found");
      return;
    }
    await this.gate.enter();
    let operation = "unknown";
    let status = 500;
    try {
      const reply = await this.serveApi(req, url, method);
      operation = reply.operation;
      status = reply.status;
      if (typeof reply.body === "function") await this.sendStreamed(res, reply.status, reply.contentType, reply.body, reply.headers);
      else this.send(res, reply.status, reply.contentType, reply.body, reply.headers);
    } finally {
      this.gate.leave();
      this.record(operation, status);
    }
  }

  /**
   * `GET /sim/hosts/{host}`, `POST /sim/hosts/{host}/stop?service=S`,
   * `POST .../start[?service=S]`, `POST .../unreachable`, `POST .../reachable`
   * (docs/simulator.md). Answers the host's view as JSON, or a text error.
   */
  private hostControl(url: URL, method: string): { status: number; body: string } {
    const fleet = this.hosts;
    if (fleet === undefined) return { status: 404, body: "This simulator runs without simulated hosts (start it with --hosts)." };
    const m = /^\/sim\/hosts\/([^/]+)(?:\/(stop|start|unreachable|reachable))?\/?$/.exec(url.pathname);
    if (!m) return { status: 404, body: "Not Found" };
    const [, rawHost = "", action] = m;
    if (method !== (action === undefined ? "GET" : "POST")) return { status: 405, body: `Method ${method} not allowed here.` };
    const host = decodeURIComponent(rawHost);
    if (fleet.resolve(host) === undefined) return { status: 404, body: `No deployed simulated host has the hostname or system_id '${host}'.` };
    const service = url.searchParams.get("service") ?? undefined;
    try {
      switch (action) {
        case undefined:
          return { status: 200, body: JSON.stringify(fleet.view(host)) };
        case "stop":
          if (service === undefined) return { status: 400, body: "stop needs ?service=SNAP.SERVICE (or jujud)." };
          return { status: 200, body: JSON.stringify(fleet.stopService(host, service)) };
        case "start":
          return { status: 200, body: JSON.stringify(fleet.startService(host, service)) };
        case "unreachable":
        case "reachable":
          return { status: 200, body: JSON.stringify(fleet.setReachable(host, action === "reachable")) };
        default:
          return { status: 404, body: "Not Found" };
      }
    } catch (e) {
      if (e instanceof SimError && e.code === "SIM_HOST_CONTROL") return { status: 400, body: e.message };
      throw e;
    }
  }

  private async serveApi(
    req: IncomingMessage,
    url: URL,
    method: string,
  ): Promise<{ operation: string; status: number; contentType: string; body: string | Buffer | StreamedBody; headers?: Record<string, string> }> {
    const raw = await readBody(req);
    if (raw === null) return { operation: "unknown", status: 413, contentType: "text/plain; charset=utf-8", body: "Request body too large." };
    const query = Params.fromSearch(url.searchParams);
    const body = method === "GET" || method === "HEAD" ? new Params() : await parseBody(raw, req.headers["content-type"]);

    let rest = url.pathname.slice(PREFIX.length);
    let pathOp: string | undefined;
    // Since MAAS 3.3 an operation may be a path suffix: machines/op-allocate (no trailing slash).
    const suffix = /(?:^|\/)op-([A-Za-z0-9_]+)$/.exec(rest);
    if (suffix) {
      pathOp = suffix[1];
      rest = rest.slice(0, rest.length - suffix[0].length + (suffix[0].startsWith("/") ? 1 : 0));
    } else if (!url.pathname.endsWith("/") && router.resolve(rest) === null) {
      // (Partitions are the exception MAAS routes without a slash: .../partition/{id}, §1.)
      // Django's APPEND_SLASH: a client that forgets the slash gets redirected, as by a real region.
      return { operation: "unknown", status: 301, contentType: "text/html; charset=utf-8", body: "", headers: { Location: `${url.pathname}/${url.search}` } };
    }
    const hash = { "X-MAAS-API-Hash": DESCRIPTION.hash };
    if (rest === "describe/" && method === "GET") {
      // §1: a plain view, anonymous, `Content-Type: application/json` exactly, uris for this request's host.
      const origin = `http://${req.headers.host ?? "localhost"}`;
      return { operation: "describe.read", status: 200, contentType: "application/json", body: JSON.stringify(withUris(DESCRIPTION, origin)), headers: hash };
    }
    // A subnet may be named by its CIDR, slash included: subnets/10.0.0.0/24/ (§2.1).
    rest = rest.replace(/^subnets\/(\d+\.\d+\.\d+\.\d+)\/(\d+)\//, "subnets/$1%2F$2/");
    const resolved = router.resolve(rest);
    if (resolved === null) return { operation: "unknown", status: 404, contentType: "text/plain; charset=utf-8", body: "Not Found" };
    const op = pathOp ?? query.get("op") ?? body.get("op") ?? "";
    const endpoint = router.endpoint(resolved, method, op);
    const operation = endpoint?.name ?? `${resolved.def.stats}.unrecognised`;

    if (!endpoint?.anonymous) {
      const auth = verifyOAuth(req.headers.authorization, this.apiKey, this.nonces, this.clock.wallNow());
      if (!auth.ok) {
        this.logger?.debug({ reason: auth.reason, path: url.pathname }, "simulator refused a request");
        // With no credentials a real region has nothing to name; with wrong ones it says so.
        const text = auth.reason === "missing" ? "Authorization Error: No credentials were provided." : "Authorization Error: Invalid API key.";
        return { operation, status: 401, contentType: "text/plain; charset=utf-8", body: text, headers: { "WWW-Authenticate": 'OAuth realm="OAuth"' } };
      }
    }
    if (endpoint === undefined) return { operation, status: 400, contentType: "text/plain; charset=utf-8", body: unrecognised(method, op) };

    const fault = this.injectedFault(method);
    await this.latency();
    if (fault) return { operation, status: fault.status, contentType: fault.contentType, body: fault.body, headers: { ...fault.headers } };

    try {
      const reply: Reply = endpoint.handler({ region: this.region, query, body, args: resolved.args, user: ADMIN_USER });
      if (reply.raw !== undefined) return { operation, status: reply.status, contentType: reply.raw.contentType, body: reply.raw.body, headers: hash };
      if (reply.json === undefined) return { operation, status: reply.status, contentType: "text/plain; charset=utf-8", body: "", headers: hash };
      return { operation, status: reply.status, contentType: "application/json", body: JSON.stringify(reply.json), headers: hash };
    } catch (err) {
      if (err instanceof SimulatedFailure) return { operation, status: err.status, contentType: err.contentType, body: err.body, headers: { ...err.headers, ...hash } };
      throw err;
    }
  }

  /** Region-wide faults, decided by the request's sequence number so a replayed run sees the same ones. */
  private injectedFault(method: string): SimulatedFailure | undefined {
    const seq = this.requestSeq++;
    const burst = this.faults.burst503;
    if (burst) {
      if (this.burstLeft === 0 && unit(this.seed, "burst503", seq) < burst.rate) this.burstLeft = burst.length;
      if (this.burstLeft > 0) {
        this.burstLeft--;
        return new SimulatedFailure(503, "Unable to connect to any rack controller (simulated outage).", "text/plain; charset=utf-8", {
          "Retry-After": String(burst.retryAfterS),
        });
      }
    }
    const conflict = this.faults.conflict409;
    if (conflict && method !== "GET" && unit(this.seed, "conflict409", seq) < conflict.rate) {
      return new SimulatedFailure(409, "Unable to complete the request: the database is busy, retries exhausted (simulated serialization failure).", "text/plain; charset=utf-8", {
        "Retry-After": String(conflict.retryAfterS),
      });
    }
    return undefined;
  }

  private async latency(): Promise<void> {
    const l = this.faults.latencyMs;
    if (!l || l.max <= 0) return;
    const ms = l.min + (l.max - l.min) * unit(this.seed, "latency", this.requestSeq);
    await new Promise((res) => setTimeout(res, ms));
  }
}

/** Resolves when `res` can take more (drain) or will take nothing more (close). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // discard
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) return null;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Form-urlencoded and multipart bodies, with repeated keys kept (Django's QueryDict). */
async function parseBody(raw: Buffer, contentType: string | undefined): Promise<Params> {
  if (raw.length === 0) return new Params();
  const ct = contentType ?? "application/x-www-form-urlencoded";
  if (ct.startsWith("multipart/form-data")) {
    const map = new Map<string, string[]>();
    try {
      const form = await new Response(new Uint8Array(raw), { headers: { "content-type": ct } }).formData();
      for (const [k, v] of form.entries()) {
        const text = typeof v === "string" ? v : await v.text();
        const list = map.get(k);
        if (list) list.push(text);
        else map.set(k, [text]);
      }
    } catch {
      return new Params();
    }
    return new Params(map);
  }
  if (ct.startsWith("application/x-www-form-urlencoded") || !ct.includes("/")) return Params.fromSearch(new URLSearchParams(raw.toString("utf8")));
  return new Params();
}

export type { Server };
