/**
 * `metalwave serve`: one process that holds the store's lock, runs at most one
 * rollout at a time and serves a JSON API over node:http (docs/service.md). The
 * route table below is what the server serves; openapi.ts describes the same routes
 * and a test holds the two together.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { hostname as osHostname } from "node:os";
import type { Logger } from "pino";
import { systemClock, type Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { MaasPort } from "../maas/port.ts";
import { regionsOf } from "../runtime/regions.ts";
import { apiRootOf, type MaasClientStats } from "../maas/client.ts";
import type { RolloutRegion, Store } from "../store/index.ts";
import { TokenCheck } from "./auth.ts";
import { RolloutController, toServiceError, type RunLayering } from "./controller.ts";
import { ListenError, ServiceError } from "./errors.ts";
import { EventHub } from "./events.ts";
import { readBody, sendError, sendJson } from "./http.ts";
import { Leadership, followFromStore, type Role } from "./leader.ts";
import { ServiceMetrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import { EmptyBody, ReasonBody, ReprovisionBody, StartBody } from "./api-schemas.ts";
import { Readiness, StandbyProbe, type ProbeAnswer } from "./readiness.ts";

export interface ServiceOptions {
  store: Store;
  maas: MaasPort;
  /** The MAAS client's counters (requests, retries, by operation). */
  maasStats: () => MaasClientStats;
  /** Adds a hook called after each HTTP exchange with MAAS (MaasClient.observeRequests), for the latency metric. */
  observeMaasRequests?: (observer: (info: { operation: string; durationMs: number }) => void) => void;
  config: Config;
  logger: Logger;
  /** Time for the whole service: runs, passes, readiness, events (src/clock.ts). Default: the system clock. */
  clock?: Clock;
  /** The bearer token every request but /healthz must carry. */
  token: string;
  /** Default 127.0.0.1:8640; port 0 picks a free one. */
  host?: string;
  port?: number;
  /** As for `metalwave rollout`: 1 against a real region, the speed against the embedded simulator. */
  timeScale?: number;
  observerPollMs?: number;
  /** Layering for each run (none: hosts are in service once Deployed). */
  layering?: () => RunLayering | undefined;
  /** The region is the embedded simulator, gone when the process ends. */
  regionIsEphemeral?: boolean;
  /**
   * The region's kind and URL, recorded with every rollout the service creates so its
   * answers (and `metalwave status`) say "simulated" of one on the embedded simulator.
   */
  region?: RolloutRegion;
  heartbeatMs?: number;
  /** What the lock row says this process runs. */
  lockCommand?: string;
  /**
   * A leader that lost the store's lease (PostgreSQL) must stop acting at once; `metalwave
   * serve` exits here. Without it the service only logs (the store and the MAAS client
   * refuse everything already).
   */
  onLeadershipLost?: (why: string) => void;
  /** How often a standby tries to take the lease (default 2 s). */
  standbyRetryMs?: number;
  /** prom-client's process and Node.js metrics (default on). */
  defaultMetrics?: boolean;
  /**
   * The readiness probe of MAAS (default: `maas.whoami()`). `metalwave serve` gives one on a
   * client of its own (one attempt, short timeout), so probes neither wait out retries nor
   * count among a run's MAAS requests.
   */
  probeMaas?: () => Promise<ProbeAnswer>;
  /** Time between readiness probes of MAAS (default 15 s). */
  readyProbeMs?: number;
  /** The region's URL, for the dashboard's links to its web UI (none for the embedded simulator: it has no UI). */
  maasUrl?: string | undefined;
  /** Several regions: each region's URL by name, for the dashboard's links to each region's web UI. */
  regionUrls?: ReadonlyMap<string, string> | undefined;
}

/**
 * A machine's page in the MAAS web UI: the UI is served under `<region>/r` and a
 * machine's summary at `/machine/<system_id>/summary` (canonical/maas-ui,
 * src/app/machines/urls.ts; its generateNewURL tests give the `/MAAS/r` base).
 */
export function maasMachineUrl(regionUrl: string): string {
  return `${apiRootOf(regionUrl).replace(/api\/2\.0\/$/, "")}r/machine/{systemId}/summary`;
}

export type Method = "GET" | "POST";

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
}

export interface Route {
  method: Method;
  /** An OpenAPI path template, e.g. /api/v1/rollouts/{id}. */
  path: string;
  auth: boolean;
  handle: (ctx: Context) => Promise<void> | void;
}

/** How long requests still being answered get when the server closes. */
const CLOSE_GRACE_MS = 5_000;

/**
 * The dashboard's files (src/service/dashboard/), read once when first asked for. They
 * are served without the token: they hold no data, and the page asks the operator for
 * the token and sends it as a header on every API call.
 */
const DASHBOARD_FILES = {
  "index.html": "text/html; charset=utf-8",
  "dashboard.js": "text/javascript; charset=utf-8",
  // The modules dashboard.js imports (relative to it, so served beside it).
  "constants.js": "text/javascript; charset=utf-8",
  "sse.js": "text/javascript; charset=utf-8",
  "cells.js": "text/javascript; charset=utf-8",
  "page.js": "text/javascript; charset=utf-8",
  "panels.js": "text/javascript; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
} as const;
const dashboardCache = new Map<keyof typeof DASHBOARD_FILES, Buffer>();

function sendDashboardFile(res: ServerResponse, name: keyof typeof DASHBOARD_FILES): void {
  let body = dashboardCache.get(name);
  if (!body) {
    try {
      body = readFileSync(new URL(`./dashboard/${name}`, import.meta.url));
    } catch (e) {
      throw new ServiceError("INTERNAL", `the dashboard file ${name} cannot be read`, { cause: e });
    }
    dashboardCache.set(name, body);
  }
  res.writeHead(200, {
    "content-type": DASHBOARD_FILES[name],
    "content-length": body.length,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    // Only its own script, style and API: no inline code, no other origin, no framing.
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  });
  res.end(body);
}

/** `?after=N` of the hosts route: a journal position (a non-negative integer), or absent. */
function afterParam(req: IncomingMessage): number | undefined {
  let raw: string | null = null;
  try {
    raw = new URL(req.url ?? "/", "http://localhost").searchParams.get("after");
  } catch {
    // An unparseable target never reaches a route.
  }
  if (raw === null) return undefined;
  const n = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new ServiceError("BAD_REQUEST", "after: expected a journal position (a non-negative integer, the cursor of an earlier answer)", { details: [{ field: "after", message: "expected a non-negative integer" }] });
  }
  return n;
}

export interface ServiceHandle {
  /** e.g. http://127.0.0.1:8640 */
  url: string;
  host: string;
  port: number;
  controller: RolloutController;
  metrics: ServiceMetrics;
  /** "leader" while this process holds the store's lock; "standby" while another does (PostgreSQL stores). */
  role(): Role;
  /** Method and path template of every route served. */
  routes(): { method: Method; path: string }[];
  /**
   * Graceful stop: refuses new runs, pauses the live rollout and waits until its hosts
   * in flight have settled, ends the event streams, closes the server, releases the lock.
   * The store stays open (its owner closes it). Idempotent.
   */
  stop(reason?: string): Promise<void>;
}

/** Each run's layering with the metrics' observer on its SSH port (every command the layers run goes through it). */
function observedLayering(factory: ServiceOptions["layering"], metrics: ServiceMetrics): ServiceOptions["layering"] {
  if (!factory) return undefined;
  return () => {
    const layering = factory();
    layering?.ssh.observeCommands?.((end) => metrics.observeSsh(end));
    return layering;
  };
}

/** Splits a path into segments; a template's `{name}` segment matches any one segment. */
function matchTemplate(template: string, path: string): Record<string, string> | undefined {
  const t = template.split("/");
  const p = path.split("/");
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const ts = t[i]!;
    const ps = p[i]!;
    if (ts.startsWith("{") && ts.endsWith("}")) {
      if (ps === "") return undefined;
      try {
        params[ts.slice(1, -1)] = decodeURIComponent(ps);
      } catch {
        return undefined;
      }
    } else if (ts !== ps) return undefined;
  }
  return params;
}

export async function startService(opts: ServiceOptions): Promise<ServiceHandle> {
  const { store, logger } = opts;
  const log = logger.child({ component: "service" });
  const tokens = new TokenCheck(opts.token);
  const clock = opts.clock ?? systemClock;

  const events = new EventHub({ heartbeatMs: opts.heartbeatMs ?? 15_000, logger: log, clock });
  const metrics = new ServiceMetrics({ store, logger: log, defaultMetrics: opts.defaultMetrics ?? true });
  opts.observeMaasRequests?.((info) => metrics.observeMaas(info));
  const controller = new RolloutController({
    store,
    maas: opts.maas,
    maasStats: opts.maasStats,
    config: opts.config,
    logger: logger.child({ component: "runner" }),
    events,
    metrics,
    timeScale: opts.timeScale ?? 1,
    observerPollMs: opts.observerPollMs ?? opts.config.maas.pollIntervalMs,
    clock,
    layering: observedLayering(opts.layering, metrics),
    regionIsEphemeral: opts.regionIsEphemeral ?? false,
    region: opts.region,
    maasMachineUrl: opts.maasUrl ? maasMachineUrl(opts.maasUrl) : null,
    regionMachineUrls: Object.fromEntries([...(opts.regionUrls ?? [])].map(([name, url]) => [name, maasMachineUrl(url)])),
  });
  const probeMaas = opts.probeMaas ?? (async (): Promise<ProbeAnswer> => (await opts.maas.whoami(), {}));
  // Probes start once listening, after `leadership` below exists.
  const readiness = new Readiness({ probeMaas: () => (leadership.role === "leader" ? probeMaas() : Promise.reject(new StandbyProbe())), intervalMs: opts.readyProbeMs ?? 15_000, logger: log, clock });
  metrics.bind({
    phaseCounts: () => controller.phaseCounts(),
    liveRolloutId: () => controller.liveRolloutId(),
    currentRolloutId: () => controller.liveRolloutId() ?? store.listRollouts()[0]?.id,
    planning: () => controller.planning(),
    maasStats: opts.maasStats,
    eventClients: () => events.size,
    maasUp: () => (leadership.role === "leader" ? readiness.maas?.ok : undefined),
    budgetRemaining: () => controller.budgetRemaining(),
    // A region is up when the last readiness probe reached it and its runs' calls do not find it down.
    regionsUp: () => {
      const probed = new Map((readiness.maas?.regions ?? []).map((a) => [a.region, a.ok]));
      return [...(regionsOf(opts.maas)?.links.values() ?? [])].map((l) => ({ region: l.name, up: l.isUp && probed.get(l.name) !== false }));
    },
  });

  // Leading: holding the store's lock. On SQLite a refusal throws (STORE_LOCKED) as it
  // always did; on PostgreSQL this process waits as a standby and takes over later.
  let listening = false;
  let elected: { takeover: boolean } | undefined;
  let stopFollowing: (() => void) | undefined;
  const act = (e: { takeover: boolean }): void => {
    stopFollowing?.();
    stopFollowing = undefined;
    controller.startRemediationTimer();
    // A successor resumes what its predecessor was running, as `metalwave rollout --resume` would.
    const latest = store.backend === "postgres" && e.takeover ? store.latestRollout() : undefined;
    if (latest?.status === "running") {
      log.warn({ rolloutId: latest.id }, "resuming the rollout the previous leader was running");
      controller.resume(latest.id).catch((err: unknown) => log.error({ rolloutId: latest.id, err: err instanceof Error ? err.message : String(err) }, "resuming the previous leader's rollout failed"));
    }
  };
  const leadership = new Leadership({
    store,
    owner: { pid: process.pid, hostname: osHostname(), command: opts.lockCommand ?? "serve" },
    logger: log,
    registry: metrics.registry,
    retryMs: opts.standbyRetryMs,
    onElected: (e) => {
      if (listening) act(e);
      else elected = e;
    },
    onLost: (why) => opts.onLeadershipLost?.(why),
  });
  leadership.start();

  const reason = (r: { reason?: string | undefined }, fallback: string) => r.reason ?? fallback;
  // Known once listening (requests come only after that): the document's `servers` is this address.
  let url = "";
  let openapi: ReturnType<typeof openApiDocument> | undefined;
  const routes: Route[] = [
    {
      method: "GET",
      path: "/healthz",
      auth: false,
      handle: ({ res }) => {
        const role = leadership.role;
        if (controller.stopping) sendJson(res, 503, { status: "stopping", role });
        else if (controller.degraded) sendJson(res, 503, { status: "degraded", role });
        else sendJson(res, 200, { status: "ok", role });
      },
    },
    {
      method: "GET",
      path: "/readyz",
      auth: false,
      handle: async ({ req, res }) => {
        const maas = await readiness.current();
        // Without the token the answer says what is down, not the region's address or its words.
        const detailed = tokens.allows(req.headers.authorization);
        const shown = (error: { code: string; message: string }) => (detailed ? error : { code: error.code });
        // Several regions: each region's answer (ready while one answers; the others' hosts wait).
        const regions = maas.regions?.map((a) => ({ region: a.region, ok: a.ok, ...(a.error ? { error: shown(a.error) } : {}) }));
        const checks = { maas: { ok: maas.ok, checkedAt: maas.checkedAt, latencyMs: maas.latencyMs, ...(maas.error ? { error: shown(maas.error) } : {}), ...(regions ? { regions } : {}) } };
        const status = controller.stopping ? "stopping" : controller.degraded ? "degraded" : maas.ok ? "ready" : "not ready";
        sendJson(res, status === "ready" ? 200 : 503, { status, unreachable: maas.ok ? [] : ["maas"], checks });
      },
    },
    {
      method: "GET",
      path: "/metrics",
      auth: true,
      handle: async ({ res }) => {
        const m = await metrics.text();
        res.writeHead(200, { "content-type": m.contentType, "cache-control": "no-store" });
        res.end(m.body);
      },
    },
    { method: "GET", path: "/", auth: false, handle: ({ res }) => sendDashboardFile(res, "index.html") },
    ...(Object.keys(DASHBOARD_FILES) as (keyof typeof DASHBOARD_FILES)[])
      .filter((name) => name !== "index.html")
      .map((name) => ({ method: "GET", path: `/${name}`, auth: false, handle: ({ res }: { res: ServerResponse }) => sendDashboardFile(res, name) }) as const),
    { method: "GET", path: "/api/v1/openapi.json", auth: true, handle: ({ res }) => sendJson(res, 200, (openapi ??= openApiDocument(url))) },
    {
      method: "GET",
      path: "/api/v1/events",
      auth: true,
      handle: ({ req, res }) => {
        const current = controller.currentView();
        const live = controller.liveProgress();
        const maintenance = controller.maintenanceView();
        events.connect(req, res, [
          ...(current ? [{ type: "rollout" as const, data: current }] : []),
          ...(live ? [{ type: "progress" as const, data: { ...live, inFlight: live.total - live.settled - (live.byPhase["waiting"] ?? 0) } }] : []),
          ...(maintenance.running || maintenance.last ? [{ type: "maintenance" as const, data: maintenance }] : []),
        ]);
      },
    },
    { method: "GET", path: "/api/v1/rollouts", auth: true, handle: ({ res }) => sendJson(res, 200, controller.list()) },
    { method: "GET", path: "/api/v1/maintenance", auth: true, handle: ({ res }) => sendJson(res, 200, controller.maintenanceView()) },
    {
      method: "POST",
      path: "/api/v1/reprovision",
      auth: true,
      handle: async ({ req, res }) => {
        const body = await readBody(req, ReprovisionBody);
        sendJson(
          res,
          202,
          controller.startReprovision({ hosts: body.hosts, reason: body.reason ?? "re-provisioned through the API", erase: body.erase ?? "quick", recommission: body.recommission ?? false, spares: body.spares ?? true }),
        );
      },
    },
    {
      method: "POST",
      path: "/api/v1/remediation",
      auth: true,
      handle: async ({ req, res }) => {
        await readBody(req, EmptyBody);
        sendJson(res, 202, controller.startRemediation());
      },
    },
    {
      method: "POST",
      path: "/api/v1/rollouts",
      auth: true,
      handle: async ({ req, res }) => {
        const body = await readBody(req, StartBody);
        const detail = await controller.start({ overrides: body.overrides ?? [] });
        sendJson(res, 201, detail, detail.rollout.id ? { location: `/api/v1/rollouts/${encodeURIComponent(detail.rollout.id)}` } : {});
      },
    },
    { method: "GET", path: "/api/v1/rollouts/{id}", auth: true, handle: ({ res, params }) => sendJson(res, 200, controller.detail(params["id"]!)) },
    {
      method: "GET",
      path: "/api/v1/rollouts/{id}/hosts",
      auth: true,
      handle: async ({ req, res, params }) => sendJson(res, 200, await controller.hosts(params["id"]!, afterParam(req))),
    },
    {
      method: "GET",
      path: "/api/v1/rollouts/{id}/hosts/{systemId}",
      auth: true,
      handle: ({ res, params }) => sendJson(res, 200, controller.host(params["id"]!, params["systemId"]!)),
    },
    {
      method: "POST",
      path: "/api/v1/rollouts/{id}/pause",
      auth: true,
      handle: async ({ req, res, params }) => {
        const body = await readBody(req, ReasonBody);
        sendJson(res, 202, controller.pause(params["id"]!, reason(body, "paused by operator (API)")));
      },
    },
    {
      method: "POST",
      path: "/api/v1/rollouts/{id}/resume",
      auth: true,
      handle: async ({ req, res, params }) => {
        await readBody(req, EmptyBody);
        sendJson(res, 202, await controller.resume(params["id"]!));
      },
    },
    {
      method: "POST",
      path: "/api/v1/rollouts/{id}/abort",
      auth: true,
      handle: async ({ req, res, params }) => {
        const body = await readBody(req, ReasonBody);
        sendJson(res, 202, await controller.abort(params["id"]!, reason(body, "aborted by operator (API)")));
      },
    },
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = clock.now();
    let routeLabel = "unmatched";
    const method = req.method ?? "GET";
    let path = "/";
    try {
      path = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch {
      // Left as "/": an unparseable target never matches a route.
    }
    if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    try {
      const candidates = routes.map((r) => ({ r, params: matchTemplate(r.path, path) })).filter((c) => c.params !== undefined);
      if (candidates[0]) routeLabel = candidates[0].r.path;
      const needsAuth = candidates.length === 0 || candidates.some((c) => c.r.auth);
      // Authentication comes first: without the token, not even the route table is revealed.
      if (needsAuth && !tokens.allows(req.headers.authorization)) {
        throw new ServiceError("UNAUTHORIZED", "missing or wrong bearer token (Authorization: Bearer <token>)");
      }
      if (candidates.length === 0) throw new ServiceError("NOT_FOUND", `no route ${path}`);
      const hit = candidates.find((c) => c.r.method === method);
      if (!hit) {
        const allow = candidates.map((c) => c.r.method).join(", ");
        res.setHeader("allow", allow);
        throw new ServiceError("METHOD_NOT_ALLOWED", `${method} is not allowed on ${candidates[0]!.r.path} (allowed: ${allow})`);
      }
      routeLabel = hit.r.path;
      if (hit.r.method === "POST" && controller.stopping) throw new ServiceError("SHUTTING_DOWN", "the service is stopping");
      if (hit.r.method === "POST" && leadership.role !== "leader") {
        const leader = leadership.leader();
        throw new ServiceError(
          "STANDBY",
          `this metalwave is a standby and serves reads only; send changes to the leader${leader ? ` (pid ${leader.pid} on ${leader.hostname})` : " (none holds the store's lease right now; one takes over within the lease)"}`,
          { details: { leader: leader ?? null } },
        );
      }
      await hit.r.handle({ req, res, params: hit.params! });
    } catch (e) {
      const se = toServiceError(e);
      if (se.code === "INTERNAL") log.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e), method, route: routeLabel }, "request failed");
      sendError(res, se, se.code === "UNAUTHORIZED" ? { "www-authenticate": 'Bearer realm="metalwave"' } : {});
    } finally {
      const methodLabel = method === "GET" || method === "POST" ? method : "other";
      metrics.http.inc({ route: routeLabel, method: methodLabel, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route: routeLabel, method: methodLabel }, (clock.now() - t0) / 1000);
      log.debug({ method, route: routeLabel, status: res.statusCode, ms: Math.round(clock.now() - t0) }, "request");
    }
  };

  // Connections are tracked so a stop can close each one as soon as it has no request in
  // flight (Node's own idle sweep misses a connection that never sent a request).
  const connections = new Map<Socket, { busy: number }>();
  let closing = false;
  const server: Server = createServer((req, res) => {
    const conn = connections.get(req.socket);
    if (conn) conn.busy++;
    res.once("close", () => {
      if (conn) conn.busy--;
      if (closing && conn?.busy === 0) req.socket.end();
    });
    void handle(req, res);
  });
  server.on("connection", (socket: Socket) => {
    connections.set(socket, { busy: 0 });
    socket.once("close", () => connections.delete(socket));
  });
  // Both bound how long a client may take to *send* a request; an event stream's
  // response runs for as long as its client wants.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  const host = opts.host ?? "127.0.0.1";
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 8640, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    events.close();
    leadership.stop();
    store.releaseLock();
    throw new ListenError(`${host.includes(":") ? `[${host}]` : host}:${opts.port ?? 8640}`, e);
  }
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  url = `http://${urlHost}:${addr.port}`;
  log.info({ url }, "metalwave service listening");
  // Only now: a maintenance pass a killed process left is finished (and timed passes begin)
  // once the service is reachable. Had listening failed, nothing would run against a store
  // the caller then closes.
  listening = true;
  if (elected) act(elected);
  else if (leadership.role === "standby") stopFollowing = followFromStore({ store, events, currentView: () => controller.currentView(), logger: log });
  readiness.start();

  let stopped: Promise<void> | undefined;
  const stop = (why = "paused: the service is stopping"): Promise<void> => {
    stopped ??= (async () => {
      leadership.stop();
      stopFollowing?.();
      await controller.stop(why);
      readiness.stop();
      events.close();
      // Each connection closes as soon as it has no request in flight; a request still
      // being answered after the grace period is cut.
      await new Promise<void>((resolve) => {
        closing = true;
        const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        for (const [socket, conn] of connections) if (conn.busy === 0) socket.end();
      });
      store.flush();
      store.releaseLock();
      log.info({}, "metalwave service stopped");
    })();
    return stopped;
  };

  return {
    url,
    host: addr.address,
    port: addr.port,
    controller,
    metrics,
    role: () => leadership.role,
    routes: () => routes.map((r) => ({ method: r.method, path: r.path })),
    stop,
  };
}
