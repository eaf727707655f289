/**
 * One Juju watch per model, shared by every host the layers wait on (src/juju: the
 * controller's AllWatcher through @canonical/jujulib). Where to connect and as whom comes from
 * the controller itself: `juju show-controller --show-password --format json` on the juju
 * client machine (templates/layers/juju.yaml step `controllerAccess`, `secret: true`: its
 * output is never logged or kept in an error), which gives the API endpoints, the CA
 * certificate, the admin account's password and each model's UUID. The password is handed to
 * the watch only; nothing here logs it or puts it in an error.
 *
 * A model whose watch cannot be opened (the controller API unreachable from here, a template
 * without the step) is watched by polling `juju status` instead, as before: a warning says so
 * once, and the waits keep their meaning.
 */
import type { Logger } from "pino";
import type { JujuTransportSecurity, JujuWatchPort, JujuWatchStats } from "../juju/port.ts";
import { createJujuWatch } from "../juju/watch.ts";
import type { LayerHost } from "./host.ts";
import type { Lane } from "./lane.ts";
import type { LayerTemplate } from "./render.ts";

/** How the layers reach the controller API. */
export interface LayerWatchOptions {
  /**
   * `plain`: ws:// (the simulated controller, which serves no TLS); `controller-ca`: wss://
   * checked against show-controller's `ca-cert`; `insecure`: wss:// unchecked (a lab only).
   */
  security: "plain" | "controller-ca" | "insecure";
  /** Makes a watch (default: the jujulib one). */
  create?: () => JujuWatchPort;
  /** The watch's batching delay (JujuConnectOptions.coalesceMs). Default 1000 ms. */
  coalesceMs?: number;
  /** A quiet watcher's view counts as a fresh read this often. Default: the layers' poll interval, at least coalesceMs. */
  intervalMs?: number;
}

/** The step that reads the controller's access; a template without it means polling. */
export const ACCESS_STEP = "controllerAccess";

interface Access {
  endpoints: string[];
  caCert: string;
  user: string;
  password: string;
  /** Model name → UUID. */
  models: Map<string, string>;
}

/** Parses show-controller's JSON without ever echoing it (it holds the password). */
export function parseAccess(out: string): Access | undefined {
  let j: unknown;
  try {
    j = JSON.parse(out);
  } catch {
    return undefined;
  }
  const entry = typeof j === "object" && j !== null ? (Object.values(j)[0] as Record<string, unknown> | undefined) : undefined;
  const details = (entry?.["details"] ?? {}) as { "api-endpoints"?: unknown; "ca-cert"?: unknown };
  const account = (entry?.["account"] ?? {}) as { user?: unknown; password?: unknown };
  const endpoints = Array.isArray(details["api-endpoints"]) ? details["api-endpoints"].filter((e): e is string => typeof e === "string") : [];
  if (endpoints.length === 0 || typeof account.password !== "string" || account.password === "") return undefined;
  const models = new Map<string, string>();
  for (const [name, m] of Object.entries((entry?.["models"] ?? {}) as Record<string, { uuid?: unknown; "model-uuid"?: unknown }>)) {
    const uuid = m.uuid ?? m["model-uuid"];
    // Keys are model names, possibly qualified by their owner (`admin/openstack`).
    if (typeof uuid === "string") models.set(name.split("/").pop() ?? name, uuid);
  }
  return { endpoints, caCert: typeof details["ca-cert"] === "string" ? details["ca-cert"] : "", user: typeof account.user === "string" ? account.user : "admin", password: account.password, models };
}

export class ModelWatches {
  private readonly o: LayerWatchOptions;
  private readonly client: LayerHost;
  private readonly tpl: LayerTemplate<"juju">;
  private readonly lane: Lane;
  private readonly logger: Logger;
  private readonly watches = new Map<string, Promise<JujuWatchPort | undefined>>();
  private readonly open = new Set<JujuWatchPort>();
  private closed = false;
  private warned = false;

  constructor(o: LayerWatchOptions, d: { client: LayerHost; tpl: LayerTemplate<"juju">; lane: Lane; logger: Logger }) {
    this.o = o;
    this.client = d.client;
    this.tpl = d.tpl;
    this.lane = d.lane;
    this.logger = d.logger;
  }

  get coalesceMs(): number {
    return this.o.coalesceMs ?? 1000;
  }

  /** The read interval of a quiet watch, given the layers' poll interval. */
  intervalMs(pollMs: number): number {
    return this.o.intervalMs ?? Math.max(pollMs, this.coalesceMs);
  }

  /** The model's watch, connected (shared); undefined when it cannot be opened (the caller polls). */
  get(model: string): Promise<JujuWatchPort | undefined> {
    let w = this.watches.get(model);
    if (w === undefined) {
      w = this.connect(model);
      this.watches.set(model, w);
      // A failed connect is tried again by the next wait.
      void w.then((x) => {
        if (x === undefined && this.watches.get(model) === w) this.watches.delete(model);
      });
    }
    return w;
  }

  /** A watch that failed (gave up reconnecting) is dropped; the next wait opens a new one. */
  forget(model: string, w: JujuWatchPort): void {
    void this.watches.get(model)?.then((x) => {
      if (x === w) this.watches.delete(model);
    });
    this.open.delete(w);
    void w.close();
  }

  /** Costs so far, summed over the models' watches. */
  stats(): JujuWatchStats & { models: number } {
    const s = { requests: 0, bytesSent: 0, bytesReceived: 0, batches: 0, deltas: 0, reconnects: 0, models: this.open.size };
    for (const w of this.open) {
      const x = w.stats();
      s.requests += x.requests;
      s.bytesSent += x.bytesSent;
      s.bytesReceived += x.bytesReceived;
      s.batches += x.batches;
      s.deltas += x.deltas;
      s.reconnects += x.reconnects;
    }
    return s;
  }

  close(): void {
    this.closed = true;
    for (const w of this.open) void w.close();
    this.open.clear();
    this.watches.clear();
  }

  private fallback(model: string, why: string): undefined {
    if (!this.warned) this.logger.warn({ model, reason: why }, "cannot watch Juju through the controller API: the layers poll `juju status` for their waits instead");
    this.warned = true;
    return undefined;
  }

  private async connect(model: string): Promise<JujuWatchPort | undefined> {
    if (this.tpl.steps[ACCESS_STEP] === undefined) return this.fallback(model, `templates/layers/juju.yaml has no step ${ACCESS_STEP}`);
    let access: Access | undefined;
    try {
      access = parseAccess(await this.lane.steps.query(this.client, this.tpl, ACCESS_STEP, {}));
    } catch (e) {
      // The step is secret: its error carries no output.
      return this.fallback(model, e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e));
    }
    if (access === undefined) return this.fallback(model, "show-controller gave no API endpoint or no password");
    const uuid = access.models.get(model);
    if (uuid === undefined) return this.fallback(model, `show-controller lists no model ${model}`);
    const security: JujuTransportSecurity = this.o.security === "controller-ca" ? { kind: "ca", caCert: access.caCert } : { kind: this.o.security };
    const w = (this.o.create ?? (() => createJujuWatch({ logger: this.logger })))();
    try {
      await w.connect({ endpoints: access.endpoints, modelUuid: uuid, credentials: { username: access.user, password: access.password }, security, coalesceMs: this.coalesceMs });
    } catch (e) {
      void w.close();
      // JujuWatchError messages never hold the password.
      return this.fallback(model, e instanceof Error ? e.message : String(e));
    }
    if (this.closed) {
      void w.close();
      return undefined;
    }
    this.open.add(w);
    this.logger.info({ model, endpoints: access.endpoints }, "watching the Juju model through the controller API");
    return w;
  }
}
