/**
 * The simulated controller API over WebSocket (ws), served from each controller
 * machine's own address once it runs the controller (bootstrap, then the HA members
 * that have their vote): `ws://<address>:<port>/api` for the controller and
 * `ws://<address>:<port>/model/<uuid>/api` for a model, port 17070 as on a real
 * controller (0 = ephemeral, tests). Plain ws: the real controller's TLS is left out.
 * Requests are Juju's RPC frames `{request-id, type, version, request, id, params}`;
 * answers `{request-id, response}` or `{request-id, error, error-code, response: {}}`.
 * An AllWatcher.Next with nothing new waits here (re-asked every `pollMs`) until
 * something changes, the watcher is stopped, or the connection closes.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { JujuApi } from "../juju/api.ts";
import type { ApiRequest, ApiSession } from "../juju/api.ts";
import { JujuError } from "../juju/controller.ts";
import type { SimLogger } from "../server.ts";
import { reconcileCharms } from "./charm-effects.ts";
import type { SimCloud } from "./model.ts";

export interface JujuApiServerOptions {
  /** Default 17070; 0 = an ephemeral port per address. */
  port?: number;
  /** How often a blocked AllWatcher.Next looks again. Default 100 ms. */
  pollMs?: number;
  logger?: SimLogger;
}

interface Listener {
  server: WebSocketServer;
  ready: Promise<void>;
}

export class JujuApiServer {
  private readonly cloud: SimCloud;
  private readonly api: JujuApi;
  /** The port each controller machine's API listens on (0: ephemeral, see endpoint()). */
  readonly port: number;
  private readonly pollMs: number;
  private readonly logger: SimLogger | undefined;
  /** By listening address. */
  private readonly listeners = new Map<string, Listener>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly sessions = new Set<ApiSession>();
  private closed = false;
  requests = 0;

  constructor(cloud: SimCloud, opts: JujuApiServerOptions = {}) {
    this.cloud = cloud;
    this.api = new JujuApi(cloud.jujuWorld, cloud.jujuEnv, cloud.now);
    this.port = opts.port ?? 17070;
    this.pollMs = opts.pollMs ?? 100;
    this.logger = opts.logger;
  }

  /** Listens on every controller machine's address that runs the controller and is not served yet. Idempotent. */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    for (const c of this.cloud.jujuWorld.controllers.values()) {
      const cm = c.models.get("controller");
      for (const mm of cm?.machines.values() ?? []) {
        const addr = mm.host?.address;
        if (addr === undefined || mm.wantsVoteSince === undefined || this.listeners.has(addr)) continue;
        if (mm.id !== "0" && !this.cloud.jujuWorld.hasVote(mm, this.cloud.now(), this.cloud.jujuEnv.agentAlive(mm))) continue;
        this.listen(c.name, addr);
      }
    }
    return Promise.all([...this.listeners.values()].map((l) => l.ready)).then(() => undefined);
  }

  /** Where a controller machine's API listens, once it does. */
  endpoint(address: string): { host: string; port: number } | undefined {
    const port = this.cloud.jujuApiPorts.get(address);
    return port === undefined ? undefined : { host: address, port };
  }

  private listen(controller: string, address: string): void {
    const server = new WebSocketServer({ host: address, port: this.port });
    const l: Listener = {
      server,
      ready: new Promise<void>((resolve) => {
        server.on("listening", () => {
          this.cloud.jujuApiPorts.set(address, (server.address() as AddressInfo).port);
          resolve();
        });
        server.on("error", (e: Error) => {
          this.logger?.warn({ address, port: this.port, err: e.message }, "simulated Juju controller cannot listen for its API");
          resolve();
        });
      }),
    };
    server.on("connection", (ws, req) => this.onConnection(controller, ws, req.url ?? "/"));
    this.listeners.set(address, l);
  }

  private onConnection(controller: string, ws: WebSocket, url: string): void {
    const path = url.split("?")[0] ?? "/";
    const model = /^\/model\/([0-9a-f-]+)\/api$/.exec(path);
    if (path !== "/api" && !model) {
      ws.close(1008, `unknown path ${path}`);
      return;
    }
    const session = this.api.newSession(controller, model?.[1]);
    this.sessions.add(session);
    let open = true;
    ws.on("close", () => {
      open = false;
      this.sessions.delete(session);
      for (const w of session.watchers.values()) w.stopped = true;
    });
    ws.on("error", () => undefined);
    ws.on("message", (data: Buffer) => {
      let req: ApiRequest & { "request-id"?: number };
      try {
        req = JSON.parse(data.toString("utf8")) as typeof req;
      } catch {
        ws.close(1003, "not JSON");
        return;
      }
      this.answer(ws, session, req, () => open);
    });
  }

  private answer(ws: WebSocket, s: ApiSession, req: ApiRequest & { "request-id"?: number }, open: () => boolean): void {
    this.requests++;
    const id = req["request-id"] ?? 0;
    const send = (body: Record<string, unknown>) => {
      if (open()) ws.send(JSON.stringify({ "request-id": id, ...body }));
    };
    const attempt = () => {
      if (this.closed || !open()) return;
      let result: unknown;
      try {
        result = this.api.call(s, req);
        // A Next with nothing new changed nothing: the charms' effects follow the same statuses.
        if (result !== undefined) {
          reconcileCharms(this.cloud);
          void this.sync();
        }
      } catch (e) {
        if (!(e instanceof JujuError)) throw e;
        send({ error: e.message, "error-code": e.code, response: {} });
        return;
      }
      if (result === undefined) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          attempt();
        }, this.pollMs);
        t.unref();
        this.timers.add(t);
        return;
      }
      send({ response: result });
    };
    attempt();
  }

  /**
   * Stops every AllWatcher, as a controller sometimes does (a restart, a lost lease): their
   * next Next answers "watcher was stopped" and clients must WatchAll again (juju-layering.md §4b).
   */
  stopWatchers(): number {
    let n = 0;
    for (const s of this.sessions) {
      for (const w of s.watchers.values()) {
        if (!w.stopped) n++;
        w.stopped = true;
      }
    }
    return n;
  }

  /**
   * Drops every client connection, as a controller restart or a network cut does (clients
   * reconnect and watch again: juju-layering.md §4b). The listeners stay up. Returns how many.
   */
  dropConnections(): number {
    let n = 0;
    for (const l of this.listeners.values()) {
      for (const c of l.server.clients) {
        c.terminate();
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(
      [...this.listeners.values()].map(async (l) => {
        await l.ready;
        for (const c of l.server.clients) c.terminate();
        await new Promise<void>((r) => l.server.close(() => r()));
      }),
    );
  }
}
