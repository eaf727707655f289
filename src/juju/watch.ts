/**
 * JujuWatchPort on @canonical/jujulib (Canonical's JavaScript client): one model
 * connection (`/model/<uuid>/api`), login as a 3.6 client, Client.FullStatus for the
 * first view, then Client.WatchAll and AllWatcher.Next in a loop: the first Next brings
 * the whole model, each later one blocks on the controller until something changed and
 * carries only that (../shared/reference/juju-layering.md §4b, §4c). So the cost is one
 * request per batch of changes, whatever the model's size, and nothing while it is quiet.
 *
 * Recovery: a dropped connection (jujulib does not fail a request in flight when its
 * socket closes, so the watch races each Next against the socket's close) or a stopped
 * watcher ("watcher was stopped") is followed by a reconnect with backoff through the
 * endpoints in order and a new WatchAll, whose first Next replaces the view (a resync).
 * Clients need not ping: Juju's API server only times out agents' connections
 * (JJ:apiserver pinger tests, TestClientNoNeedToPing).
 *
 * Secrets: jujulib puts a failed request's JSON in its error text; for Login that holds
 * the password. Every cause kept here is a copy with the password replaced.
 */
import { connect } from "@canonical/jujulib";
import AllWatcherV3 from "@canonical/jujulib/dist/api/facades/all-watcher/AllWatcherV3.js";
import ClientV7 from "@canonical/jujulib/dist/api/facades/client/ClientV7.js";
import { WebSocket as WsSocket } from "ws";
import type { Logger } from "../log.ts";
import { JujuWatchError } from "./port.ts";
import type { JujuConnectOptions, JujuView, JujuWatchEvent, JujuWatchListener, JujuWatchPort, JujuWatchStats, UnitErrorEvent, WaitOptions } from "./port.ts";
import { applyDeltas, emptyState, errorsBetween, fromFullStatus, snapshot } from "./view.ts";
import { REAL_TIMERS, Waits } from "./waits.ts";
import type { WatchTimers } from "./waits.ts";

export type { WatchTimers };
import type { ViewState } from "./view.ts";

export const DEFAULT_CLIENT_VERSION = "3.6.4";

export interface JujulibWatchOptions {
  timers?: WatchTimers;
  logger?: Pick<Logger, "info" | "warn" | "debug">;
  /** Opening the WebSocket and logging in, per endpoint. Default 15 s. */
  connectTimeoutMs?: number;
}

type Connection = NonNullable<Awaited<ReturnType<Awaited<ReturnType<typeof connect>>["login"]>>>;
interface Facades {
  client: ClientV7;
  allWatcher: AllWatcherV3;
}

/** One open model connection. */
interface Link {
  endpoint: string;
  facades: Facades;
  logout: () => void;
  /** Rejects when the socket closes. */
  dropped: Promise<never>;
  drop(reason: string): void;
  gone: boolean;
}

type Phase = "new" | "connecting" | "watching" | "reconnecting" | "failed" | "closed";

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class JujulibJujuWatch implements JujuWatchPort {
  private readonly timers: WatchTimers;
  private readonly log: JujulibWatchOptions["logger"];
  private readonly connectTimeoutMs: number;
  private opts: JujuConnectOptions | undefined;
  private phase: Phase = "new";
  private failure: JujuWatchError | undefined;
  private link: Link | undefined;
  private state: ViewState | undefined;
  private cached: JujuView | undefined;
  private readonly listeners = new Set<JujuWatchListener>();
  private readonly waits: Waits;
  private readonly pending = new Set<unknown>();
  /** Resolvers of pending pauses, called by close() so no loop is left hanging. */
  private readonly wake = new Set<() => void>();
  private readonly counters: JujuWatchStats = { requests: 0, bytesSent: 0, bytesReceived: 0, batches: 0, deltas: 0, reconnects: 0 };

  constructor(o: JujulibWatchOptions = {}) {
    this.timers = o.timers ?? REAL_TIMERS;
    this.log = o.logger;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 15_000;
    this.waits = new Waits({ timers: this.timers, view: () => this.view(), live: () => this.phase === "watching", where: () => this.where() });
  }

  async connect(opts: JujuConnectOptions): Promise<void> {
    if (this.phase !== "new") throw new JujuWatchError("JUJU_STATE", { modelUuid: opts.modelUuid }, `connect() was already called (the watch is ${this.phase})`);
    if (opts.endpoints.length === 0) throw new JujuWatchError("JUJU_CONNECT", { modelUuid: opts.modelUuid }, "no controller endpoint given");
    this.opts = opts;
    this.phase = "connecting";
    try {
      const link = await this.open();
      const fs = await this.call(link, "Client.FullStatus", () => link.facades.client.fullStatus({ patterns: [] }));
      this.setState(fromFullStatus(opts.modelUuid, fs));
      this.emitAll(errorsBetween(undefined, this.state as ViewState));
      const id = await this.startWatch(link, false);
      if (this.phase !== "connecting") {
        // close() came while connecting.
        link.logout();
        throw new JujuWatchError("JUJU_CLOSED", this.where(link.endpoint), "the watch was closed while connecting");
      }
      this.link = link;
      this.phase = "watching";
      void this.loop(link, id);
    } catch (e) {
      if (this.phase === "connecting") this.phase = "failed";
      throw e;
    }
  }

  view(): JujuView {
    if (this.state === undefined) throw new JujuWatchError("JUJU_STATE", {}, "the watch has no view yet: connect() has not resolved");
    this.cached ??= snapshot(this.state);
    return this.cached;
  }

  on(listener: JujuWatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): JujuWatchStats {
    return { ...this.counters };
  }

  waitFor(predicate: (v: JujuView) => boolean, o: WaitOptions): Promise<JujuView> {
    const what = o.what ?? "the condition";
    if (this.phase === "closed") return Promise.reject(this.closedError(what));
    if (this.phase === "failed") return Promise.reject(this.failure ?? new JujuWatchError("JUJU_DISCONNECTED", this.where(), `cannot wait for ${what}: the watch failed`));
    if (this.state === undefined) return Promise.reject(new JujuWatchError("JUJU_STATE", {}, `cannot wait for ${what}: connect() has not resolved`));
    return this.waits.add(predicate, o);
  }

  async close(): Promise<void> {
    if (this.phase === "closed") return;
    this.phase = "closed";
    for (const h of this.pending) this.timers.clearTimeout(h);
    for (const done of [...this.wake]) done();
    this.waits.failAll(this.closedError("the condition"));
    const link = this.link;
    this.link = undefined;
    if (link) {
      link.gone = true;
      try {
        link.logout();
      } catch {
        // The socket is already closed.
      }
    }
  }

  // ------------------------------------------------------------------------------------

  private where(endpoint?: string) {
    return { ...(endpoint ? { endpoint } : {}), ...(this.opts ? { modelUuid: this.opts.modelUuid } : {}) };
  }

  private closedError(what: string): JujuWatchError {
    return new JujuWatchError("JUJU_CLOSED", this.where(), `the watch was closed while waiting for ${what}`);
  }

  /** A copy of a jujulib error with the password removed (jujulib echoes failed requests). */
  private scrub(e: unknown): Error {
    const pw = this.opts?.credentials.password ?? "";
    const text = errText(e);
    return new Error(pw ? text.split(pw).join("***") : text);
  }

  private setState(s: ViewState): void {
    this.state = s;
    this.cached = undefined;
  }

  private emit(e: JujuWatchEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.log?.warn({ event: e.type, err: errText(err) }, "a Juju watch listener threw; the watch goes on");
      }
    }
  }

  private emitAll(es: readonly UnitErrorEvent[]): void {
    for (const e of es) this.emit(e);
  }

  /** A WebSocket class for jujulib: TLS as configured, bytes and requests counted. */
  private socketClass(): typeof WebSocket {
    const sec = this.opts?.security ?? { kind: "plain" };
    const tls = sec.kind === "ca" ? { ca: sec.caCert } : sec.kind === "insecure" ? { rejectUnauthorized: false } : {};
    const counters = this.counters;
    const handshakeTimeout = this.connectTimeoutMs;
    class CountingSocket extends WsSocket {
      constructor(url: string) {
        super(url, { ...tls, handshakeTimeout });
        this.on("message", (d: Buffer) => {
          counters.bytesReceived += d.length;
        });
      }
      override send(data: string, ...rest: unknown[]): void {
        counters.bytesSent += Buffer.byteLength(data);
        counters.requests++;
        (super.send as (...a: unknown[]) => void)(data, ...rest);
      }
    }
    return CountingSocket as unknown as typeof WebSocket;
  }

  /** Connects to the first endpoint that answers and logs in. */
  private async open(): Promise<Link> {
    const o = this.opts as JujuConnectOptions;
    let last: unknown;
    for (const ep of o.endpoints) {
      try {
        return await this.openOne(ep);
      } catch (e) {
        if (e instanceof JujuWatchError && (e.code === "JUJU_AUTH" || e.code === "JUJU_INCOMPATIBLE")) throw e;
        last = e;
        this.log?.debug({ endpoint: ep, err: errText(e) }, "Juju controller endpoint did not answer");
      }
    }
    if (last instanceof JujuWatchError && o.endpoints.length === 1) throw last;
    throw new JujuWatchError("JUJU_CONNECT", this.where(), `no controller endpoint answered (${o.endpoints.join(", ")})`, { cause: last });
  }

  private async openOne(endpoint: string): Promise<Link> {
    const o = this.opts as JujuConnectOptions;
    const url = `${o.security.kind === "plain" ? "ws" : "wss"}://${endpoint}/model/${o.modelUuid}/api`;
    let drop: (reason: string) => void = () => undefined;
    const dropped = new Promise<never>((_, reject) => {
      drop = (reason) => reject(new JujuWatchError("JUJU_DISCONNECTED", this.where(endpoint), reason));
    });
    dropped.catch(() => undefined);
    let socket: WebSocket | undefined;
    const timeout = <T>(p: Promise<T>, step: string) =>
      new Promise<T>((resolve, reject) => {
        const h = this.timers.setTimeout(() => {
          socket?.close();
          reject(new JujuWatchError("JUJU_CONNECT", this.where(endpoint), `${step} took longer than ${this.connectTimeoutMs} ms`));
        }, this.connectTimeoutMs);
        p.then(resolve, reject).finally(() => this.timers.clearTimeout(h));
      });
    let client: Awaited<ReturnType<typeof connect>>;
    try {
      client = await timeout(
        connect(url, {
          facades: [ClientV7, AllWatcherV3],
          wsclass: this.socketClass(),
          closeCallback: (code: number) => drop(`connection closed (code ${code})`),
          // jujulib prints socket errors to the console; its close handling reports them.
          onWSCreated: (ws) => {
            socket = ws;
            ws.onerror = () => undefined;
          },
        }),
        "opening the WebSocket",
      );
    } catch (e) {
      if (e instanceof JujuWatchError) throw e;
      throw new JujuWatchError("JUJU_CONNECT", this.where(endpoint), `cannot open the WebSocket: ${this.scrub(e).message}`, { cause: this.scrub(e) });
    }
    let conn: Connection | undefined;
    try {
      conn = await timeout(client.login({ username: o.credentials.username, password: o.credentials.password }, o.clientVersion ?? DEFAULT_CLIENT_VERSION), "logging in");
    } catch (e) {
      client.logout();
      if (e instanceof JujuWatchError) throw e;
      const msg = this.scrub(e).message;
      if (/client incompatible/.test(msg)) throw new JujuWatchError("JUJU_INCOMPATIBLE", this.where(endpoint), `the controller refuses client version ${o.clientVersion ?? DEFAULT_CLIENT_VERSION}: ${msg}`, { cause: this.scrub(e) });
      if (/invalid entity name or password|permission|unauthorized/i.test(msg)) throw new JujuWatchError("JUJU_AUTH", this.where(endpoint), `login as ${o.credentials.username} refused: ${msg}`, { cause: this.scrub(e) });
      throw new JujuWatchError("JUJU_API", { ...this.where(endpoint), call: "Admin.Login" }, msg, { cause: this.scrub(e) });
    }
    const facades = conn?.facades as Partial<Facades> | undefined;
    if (facades?.client === undefined || facades.allWatcher === undefined) {
      client.logout();
      throw new JujuWatchError("JUJU_BAD_ANSWER", this.where(endpoint), "the controller does not offer the Client and AllWatcher facades (versions 7 and 3)");
    }
    const link: Link = { endpoint, facades: facades as Facades, logout: () => client.logout(), dropped, drop: (r) => drop(r), gone: false };
    this.log?.info({ endpoint, modelUuid: o.modelUuid }, "watching the Juju model");
    return link;
  }

  /** A facade call, failing with JUJU_API (Juju's message) or JUJU_DISCONNECTED if the socket closes first. */
  private async call<T>(link: Link, name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await Promise.race([fn(), link.dropped]);
    } catch (e) {
      if (e instanceof JujuWatchError) throw e;
      const msg = this.scrub(e).message;
      // A client one major version away may log in, then most calls are refused (§4e).
      const code = /client incompatible/.test(msg) ? "JUJU_INCOMPATIBLE" : "JUJU_API";
      throw new JujuWatchError(code, { ...this.where(link.endpoint), call: name }, msg, { cause: this.scrub(e) });
    }
  }

  /** WatchAll, then the first Next (the whole model), which replaces the view. */
  private async startWatch(link: Link, resync: boolean): Promise<string> {
    const r = await this.call(link, "Client.WatchAll", () => link.facades.client.watchAll(null));
    const id = (r as { "watcher-id"?: unknown })["watcher-id"];
    if (typeof id !== "string" || id === "") throw new JujuWatchError("JUJU_BAD_ANSWER", { ...this.where(link.endpoint), call: "Client.WatchAll" }, 'no "watcher-id" in the answer');
    const first = await this.call(link, "AllWatcher.Next", () => link.facades.allWatcher.next({ id }));
    const prev = this.state;
    const next = emptyState((this.opts as JujuConnectOptions).modelUuid);
    applyDeltas(next, (first as { deltas?: unknown }).deltas);
    next.revision = (prev?.revision ?? 0) + 1;
    this.count(first);
    this.setState(next);
    this.emitAll(errorsBetween(prev, next));
    if (resync) this.emit({ type: "resynced", endpoint: link.endpoint, reconnects: this.counters.reconnects });
    this.waits.readAll();
    return id;
  }

  private count(r: unknown): void {
    this.counters.batches++;
    const d = (r as { deltas?: unknown }).deltas;
    if (Array.isArray(d)) this.counters.deltas += d.length;
  }

  private async loop(link: Link, id: string): Promise<void> {
    let watcher = id;
    for (;;) {
      if (this.link !== link || this.phase !== "watching") return;
      let r: unknown;
      try {
        r = await this.call(link, "AllWatcher.Next", () => link.facades.allWatcher.next({ id: watcher }));
      } catch (e) {
        if (this.link !== link || this.phase !== "watching") return;
        const stopped = e instanceof JujuWatchError && e.code === "JUJU_API" && /watcher was stopped/.test(e.reason);
        if (stopped) {
          // The connection is fine: watch again on it (the first Next is a full snapshot).
          this.emit({ type: "connection-lost", reason: "watcher was stopped" });
          try {
            watcher = await this.startWatch(link, true);
            continue;
          } catch (e2) {
            return this.lost(link, errText(e2));
          }
        }
        return this.lost(link, e instanceof JujuWatchError ? e.reason : errText(e));
      }
      if (this.link !== link || this.phase !== "watching") return;
      const state = this.state as ViewState;
      let events: UnitErrorEvent[];
      try {
        events = applyDeltas(state, (r as { deltas?: unknown }).deltas);
      } catch (e) {
        return this.fail(e instanceof JujuWatchError ? e : new JujuWatchError("JUJU_BAD_ANSWER", this.where(link.endpoint), errText(e), { cause: e }));
      }
      this.count(r);
      this.cached = undefined;
      this.emitAll(events);
      this.waits.readAll();
      const coalesce = this.opts?.coalesceMs ?? 1000;
      if (coalesce > 0) await this.pause(coalesce);
    }
  }

  /** The watch cannot go on: every wait fails with `err`. */
  private fail(err: JujuWatchError): void {
    this.phase = "failed";
    this.failure = err;
    const link = this.link;
    this.link = undefined;
    if (link) {
      link.gone = true;
      link.logout();
    }
    this.log?.warn({ code: err.code, err: err.message }, "the Juju watch stopped");
    this.waits.failAll(err);
  }

  private lost(link: Link, reason: string): void {
    if (this.phase !== "watching" || this.link !== link) return;
    link.gone = true;
    this.link = undefined;
    try {
      link.logout();
    } catch {
      // Already closed.
    }
    this.emit({ type: "connection-lost", reason });
    this.waits.resetCounts();
    const p = this.opts?.reconnect ?? {};
    if (p.enabled === false) return this.fail(new JujuWatchError("JUJU_DISCONNECTED", this.where(link.endpoint), `${reason}; reconnecting is off`));
    this.phase = "reconnecting";
    void this.reconnect(reason, 1);
  }

  /** A delay that close() cuts short (the caller then sees the phase changed). */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const done = () => {
        this.pending.delete(h);
        this.wake.delete(done);
        r();
      };
      const h = this.timers.setTimeout(done, ms);
      this.pending.add(h);
      this.wake.add(done);
    });
  }

  private async reconnect(reason: string, attempt: number): Promise<void> {
    const p = this.opts?.reconnect ?? {};
    const max = p.maxAttempts ?? 20;
    const delay = Math.min((p.initialDelayMs ?? 500) * 2 ** (attempt - 1), p.maxDelayMs ?? 30_000);
    await this.pause(delay);
    if (this.phase !== "reconnecting") return;
    let link: Link | undefined;
    try {
      link = await this.open();
      if (this.phase !== "reconnecting") return void link.logout();
      this.counters.reconnects++;
      // Watching again before the first Next, so the resync's reads count (the view is current).
      this.link = link;
      this.phase = "watching";
      const id = await this.startWatch(link, true);
      if (this.link !== link || this.phase !== "watching") return void link.logout();
      void this.loop(link, id);
    } catch (e) {
      link?.logout();
      if (link !== undefined && this.link === link && this.phase === "watching") {
        this.link = undefined;
        this.phase = "reconnecting";
      }
      if (this.phase !== "reconnecting") return;
      if (e instanceof JujuWatchError && (e.code === "JUJU_AUTH" || e.code === "JUJU_INCOMPATIBLE" || e.code === "JUJU_BAD_ANSWER")) return this.fail(e);
      if (attempt >= max) return this.fail(new JujuWatchError("JUJU_DISCONNECTED", this.where(), `${reason}; ${attempt} reconnect attempt${attempt === 1 ? "" : "s"} failed`, { cause: e }));
      this.log?.debug({ attempt, err: errText(e) }, "Juju watch reconnect failed; trying again");
      return this.reconnect(reason, attempt + 1);
    }
  }
}

/** A JujuWatchPort on @canonical/jujulib. */
export function createJujuWatch(o: JujulibWatchOptions = {}): JujuWatchPort {
  return new JujulibJujuWatch(o);
}
