/**
 * The simulated controller API (what a Juju 3.6 controller serves over its WebSocket, in
 * the facade versions of ../shared/reference/juju-api-schema, Juju 3.3's schema): Admin
 * Login with the client-version restriction, Client FullStatus and WatchAll, the
 * AllWatcher (first Next = everything, later ones only changes, as `[kind, change|remove,
 * entity]`), Application Deploy/AddUnits/AddRelation/DestroyUnit/ScaleApplications,
 * ApplicationOffers Offer, HighAvailability EnableHA, Spaces ListSpaces, Pinger Ping.
 * Pure: requests in, results or JujuError out; the WebSocket server (hosts/juju-api-server.ts)
 * does the I/O and the waiting of a blocked Next. Facts: juju-layering.md §4b, §4c.
 */
import { JujuError, JUJU_VERSION } from "./controller.ts";
import type { JujuWorld } from "./controller.ts";
import { apiRole, entities, statusOf } from "./entities.ts";
import type { Entity } from "./entities.ts";
import { fullStatus } from "./entities.ts";
import { StatusReader } from "./status.ts";
import type { JujuController, JujuEnv, JujuModel } from "./types.ts";

/** Facades and versions served (Juju 3.3 schema versions; jujulib 9.1.0 has a class for each). */
export const FACADES: Readonly<Record<string, number>> = { Admin: 3, Client: 7, AllWatcher: 3, Application: 19, ApplicationOffers: 4, HighAvailability: 2, MachineManager: 10, ModelManager: 9, Spaces: 6, Pinger: 1 };

export interface ApiRequest {
  type: string;
  request: string;
  version?: number;
  id?: string;
  params?: Record<string, unknown>;
}

export interface ApiSession {
  controller: string;
  /** Set for a model connection (`/model/<uuid>/api`). */
  modelUuid: string | undefined;
  user: string | undefined;
  clientMajor: number;
  watchers: Map<string, { modelUuid: string; seen: Map<string, string> | undefined; stopped: boolean }>;
}

/** Calls a client of another major version may make (JJ:apiserver/restrict_newer_client.go). */
const DIFFERENT_MAJOR_ALLOWED = new Set(["Client.FullStatus", "Pinger.Ping", "Client.SetModelAgentVersion", "Client.FindTools", "Client.AbortCurrentUpgrade", "ModelManager.ValidateModelUpgrades", "ModelConfig.ModelGet", "Controller.ModelConfig", "Controller.ControllerConfig", "Controller.CloudSpec", "UserManager.UserInfo", "Controller.InitiateMigration", "Controller.IdentityProviderURL"]);

const bad = (m: string) => new JujuError("not valid", m);
const tagName = (tag: unknown, kind: string) => (typeof tag === "string" && tag.startsWith(`${kind}-`) ? tag.slice(kind.length + 1) : undefined);

export class JujuApi {
  private readonly w: JujuWorld;
  private readonly env: JujuEnv;
  private readonly now: () => number;
  private watcherIds = 0;

  constructor(world: JujuWorld, env: JujuEnv, now: () => number) {
    this.w = world;
    this.env = env;
    this.now = now;
  }

  newSession(controller: string, modelUuid: string | undefined): ApiSession {
    return { controller, modelUuid, user: undefined, clientMajor: 0, watchers: new Map() };
  }

  private ctl(s: ApiSession): JujuController {
    return this.w.controller(s.controller);
  }

  private model(s: ApiSession, tag?: unknown): JujuModel {
    const uuid = tagName(tag, "model") ?? s.modelUuid;
    const found = uuid ? this.w.modelByUuid(uuid) : undefined;
    if (found === undefined) throw new JujuError("not found", uuid ? `model "${uuid}" not found` : "this connection is not to a model: connect to /model/<uuid>/api");
    return found.m;
  }

  /**
   * One request. Returns the response body, or `undefined` for an AllWatcher.Next that has
   * nothing new yet (the server asks again later). Throws JujuError for an error response.
   */
  call(s: ApiSession, req: ApiRequest): unknown {
    const served = FACADES[req.type];
    if (served === undefined) throw new JujuError("not supported", `unknown object type "${req.type}"`);
    if (req.version !== undefined && req.version !== served) throw new JujuError("not supported", `unknown version (${req.version}) of interface "${req.type}"`);
    const p = req.params ?? {};
    // The refusals below are Juju's own words for a facade or method it does not serve
    // (juju/juju rpc/rpcreflect: CallNotImplementedError, code "not implemented"), not stubs.
    if (req.type === "Admin") {
      if (req.request !== "Login") throw new JujuError("not supported", `no such request - method Admin.${req.request} is not implemented`);
      return this.login(s, p);
    }
    if (s.user === undefined) throw new JujuError("unauthorized access", "not logged in");
    const method = `${req.type}.${req.request}`;
    const serverMajor = Number(JUJU_VERSION.split(".")[0]);
    if (s.clientMajor !== serverMajor && !DIFFERENT_MAJOR_ALLOWED.has(method)) throw new JujuError("incompatible client", `client incompatible with server ${JUJU_VERSION}`);
    const now = this.now();
    const r = new StatusReader(this.w, this.env, now);
    switch (method) {
      case "Pinger.Ping":
        return {};
      case "Client.FullStatus": {
        const m = this.model(s);
        return fullStatus(this.w, r, this.ctl(s), m);
      }
      case "Client.WatchAll": {
        const m = this.model(s);
        const id = String(++this.watcherIds);
        s.watchers.set(id, { modelUuid: m.uuid, seen: undefined, stopped: false });
        return { "watcher-id": id };
      }
      case "AllWatcher.Next":
        return this.next(s, req.id ?? "", r);
      case "AllWatcher.Stop": {
        const wt = s.watchers.get(req.id ?? "");
        if (wt === undefined) throw new JujuError("not found", `watcher "${req.id ?? ""}" not found`);
        wt.stopped = true;
        s.watchers.delete(req.id ?? "");
        return {};
      }
      case "Application.Deploy": {
        const m = this.model(s);
        const apps = (p["applications"] ?? []) as Record<string, unknown>[];
        return {
          results: apps.map((a) => this.guard(() => {
            const charm = String(a["charm-url"] ?? "").replace(/^ch:(?:[a-z0-9]+\/)?/, "").replace(/-\d+$/, "");
            const placement = ((a["placement"] ?? []) as { scope?: string; directive?: string }[]).map((x) => (x.scope === "#" ? String(x.directive) : String(x.directive ?? "")));
            const config = typeof a["config"] === "object" && a["config"] !== null ? Object.fromEntries(Object.entries(a["config"] as Record<string, unknown>).map(([k, v]) => [k, String(v)])) : undefined;
            const bind = (a["endpoint-bindings"] as Record<string, string> | undefined) ?? undefined;
            this.w.deploy(m, charm, now, { app: String(a["application"] ?? charm), n: Number(a["num-units"] ?? 0), to: placement, channel: typeof a["channel"] === "string" && a["channel"] ? a["channel"] : undefined, config, bind });
          })),
        };
      }
      case "Application.AddUnits": {
        const m = this.model(s);
        const placement = ((p["placement"] ?? []) as { directive?: string }[]).map((x) => String(x.directive ?? ""));
        return { units: this.w.addUnits(m, String(p["application"] ?? ""), Number(p["num-units"] ?? 1), placement, now).map((u) => u.name) };
      }
      case "Application.DestroyUnit": {
        const m = this.model(s);
        const units = (p["units"] ?? []) as { "unit-tag"?: string }[];
        return { results: units.map((u) => this.guard(() => this.w.removeUnit(m, (tagName(u["unit-tag"], "unit") ?? "").replace(/-(\d+)$/, "/$1")), { info: {} })) };
      }
      case "Application.ScaleApplications": {
        const m = this.model(s);
        const apps = (p["applications"] ?? []) as { "application-tag"?: string; scale?: number }[];
        return { results: apps.map((a) => this.guard(() => this.w.scale(m, tagName(a["application-tag"], "application") ?? "", Number(a.scale ?? 0), now), { info: { scale: a.scale ?? 0 } })) };
      }
      case "Application.AddRelation": {
        const m = this.model(s);
        const eps = (p["endpoints"] ?? []) as string[];
        if (eps.length !== 2) throw bad("a relation must involve two applications");
        const rel = this.w.integrate(this.ctl(s), m, eps[0] as string, eps[1] as string, now);
        return { endpoints: Object.fromEntries(rel.ends.map((e) => [e.app, { name: e.endpoint, role: apiRole(e.role), interface: e.interface, optional: false, limit: 0, scope: rel.scope }])) };
      }
      case "ApplicationOffers.Offer": {
        const offers = (p["Offers"] ?? []) as Record<string, unknown>[];
        return { results: offers.map((o) => this.guard(() => this.w.offer(this.model(s, o["model-tag"]), String(o["application-name"] ?? ""), Object.keys((o["endpoints"] ?? {}) as object), String(o["offer-name"] ?? ""), now))) };
      }
      case "HighAvailability.EnableHA": {
        const specs = (p["specs"] ?? []) as { "num-controllers"?: number; placement?: string[] }[];
        return { results: specs.map((sp) => ({ result: this.w.enableHa(this.ctl(s), Number(sp["num-controllers"] ?? 0), sp.placement ?? [], now) })) };
      }
      case "Spaces.ListSpaces": {
        const m = this.model(s);
        return { results: [...m.spaces.values()].map((x) => ({ id: x.id, name: x.name, subnets: x.cidrs.map((cidr) => ({ cidr, "provider-id": "", "provider-network-id": "", "provider-space-id": "", "vlan-tag": 0, life: "alive", "space-tag": `space-${x.name}`, zones: ["default"], "space-id": x.id })) })) };
      }
      case "ModelManager.ListModels": {
        const c = this.ctl(s);
        return { "user-models": [...c.models.values()].map((m) => ({ model: { name: m.name, uuid: m.uuid, type: m.type, "owner-tag": "user-admin" }, "last-connection": "" })) };
      }
      default:
        throw new JujuError("not supported", `no such request - method ${method} is not implemented`);
    }
  }

  /** A per-item call's ErrorResult (`{}` on success, `{error}` on a refusal). */
  private guard(fn: () => unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
    try {
      fn();
      return { ...extra };
    } catch (e) {
      if (e instanceof JujuError) return { ...extra, error: { message: e.message, code: e.code } };
      throw e;
    }
  }

  private login(s: ApiSession, p: Record<string, unknown>): unknown {
    const c = this.ctl(s);
    const user = tagName(p["auth-tag"], "user");
    if (user !== "admin" || p["credentials"] !== c.adminSecret) throw new JujuError("unauthorized access", "invalid entity name or password");
    const version = String(p["client-version"] ?? "");
    const major = Number(version.split(".")[0]);
    const serverMajor = Number(JUJU_VERSION.split(".")[0]);
    if (!Number.isInteger(major) || major < serverMajor - 1 || major > serverMajor + 1) throw new JujuError("incompatible client", `client incompatible with server ${JUJU_VERSION}`);
    s.user = user;
    s.clientMajor = major;
    const m = s.modelUuid ? this.w.modelByUuid(s.modelUuid) : undefined;
    if (s.modelUuid && m === undefined) throw new JujuError("not found", `model "${s.modelUuid}" not found`);
    const voters = [...(c.models.get("controller")?.machines.values() ?? [])].filter((x) => x.wantsVoteSince !== undefined && x.host);
    return {
      servers: voters.map((x) => [{ value: x.host?.address ?? "", port: 17070, type: "ipv4", scope: "local-cloud" }]),
      "controller-tag": `controller-${c.uuid}`,
      ...(m ? { "model-tag": `model-${m.m.uuid}` } : {}),
      "user-info": { "display-name": "admin", identity: "user-admin", "controller-access": "superuser", "model-access": m ? "admin" : "" },
      facades: Object.entries(FACADES).map(([name, v]) => ({ name, versions: [v] })),
      "server-version": JUJU_VERSION,
    };
  }

  /** The first Next is everything; later ones only what changed, or undefined when nothing did. */
  private next(s: ApiSession, id: string, r: StatusReader): unknown {
    const wt = s.watchers.get(id);
    if (wt === undefined || wt.stopped) throw new JujuError("not found", "watcher was stopped");
    const found = this.w.modelByUuid(wt.modelUuid);
    if (found === undefined) {
      wt.stopped = true;
      throw new JujuError("not found", "watcher was stopped");
    }
    const current = entities(this.w, r, found.c, found.m);
    const deltas: [string, "change" | "remove", Entity][] = [];
    const seen = wt.seen ?? new Map<string, string>();
    for (const [key, e] of current) {
      const text = JSON.stringify(e.entity);
      if (seen.get(key) !== text) deltas.push([e.kind, "change", e.entity]);
      seen.set(key, text);
    }
    for (const key of [...seen.keys()]) {
      if (current.has(key)) continue;
      const [kind = "", ...rest] = key.split("|");
      deltas.push([kind, "remove", statusOf(kind, found.m.uuid, rest.join("|"))]);
      seen.delete(key);
    }
    const first = wt.seen === undefined;
    wt.seen = seen;
    if (deltas.length === 0 && !first) return undefined;
    return { deltas };
  }
}
