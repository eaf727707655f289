/**
 * The simulated cloud's OpenStack API over HTTP, where the real cloud publishes it: on the
 * load-balancer address of the control-plane model's traefik (its ingress), each service
 * under its ingress path `/<model>-<app>` as the sunbeam charms' ingress names them
 * (`http://<traefik>/openstack-keystone/v3`, `/openstack-nova/v2.1`, `/openstack-neutron`).
 * It listens once traefik has an announced address (the load balancer on, in L2 or BGP mode)
 * and a keystone-k8s application exists in that model; port 80 as on the real ingress
 * (0 = ephemeral, tests; the published URLs then carry the port).
 *
 * A service answers only while its application has an active unit; otherwise traefik's own
 * 503 "no available server". Tokens are keystone's: issued by `POST /v3/auth/tokens` for the
 * model's admin account (the one keystone-k8s's `get-admin-account` gives), valid for an hour,
 * checked by nova and neutron (keystonemiddleware's 401 without one).
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StatusReader } from "../juju/status.ts";
import type { JujuModel } from "../juju/types.ts";
import type { SimLogger } from "../logger.ts";
import type { SimCloud } from "../hosts/model.ts";
import { authenticate, neutronAgents, novaServices, unauthenticated, type AdminAccount, type SimRequest, type SimResponse } from "./handlers.ts";
import { seededUuid } from "./state.ts";

export interface OpenStackApiServerOptions {
  /** Default 80; 0 = an ephemeral port per address. */
  port?: number;
  logger?: SimLogger;
}

/** Keystone's default token lifetime ([token] expiration = 3600 s). */
export const TOKEN_LIFETIME_MS = 3_600_000;

interface Listener {
  server: Server;
  ready: Promise<void>;
}

type Service = "keystone" | "nova" | "neutron";
const CHARMS: Record<Service, string> = { keystone: "keystone-k8s", nova: "nova-k8s", neutron: "neutron-k8s" };

/** The model's admin account, as keystone-k8s's `get-admin-account` reports it. */
export function adminAccount(cloud: SimCloud, model: string): AdminAccount {
  return { username: "admin", password: cloud.stableSecret("keystone", model, "admin"), userDomainName: "admin_domain", projectName: "admin", projectDomainName: "admin_domain" };
}

export class OpenStackApiServer {
  private readonly cloud: SimCloud;
  readonly port: number;
  private readonly logger: SimLogger | undefined;
  private readonly listeners = new Map<string, Listener>();
  private readonly tokens = new Map<string, { model: string; expiresAt: number }>();
  private closed = false;
  private issued = 0;
  requests = 0;

  constructor(cloud: SimCloud, opts: OpenStackApiServerOptions = {}) {
    this.cloud = cloud;
    this.port = opts.port ?? 80;
    this.logger = opts.logger;
  }

  /** Listens on every control-plane traefik address not served yet. Idempotent. */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    for (const m of this.keystoneModels()) {
      const addr = this.ingressAddress(m);
      if (addr !== undefined && !this.listeners.has(addr)) this.listen(addr);
    }
    return Promise.all([...this.listeners.values()].map((l) => l.ready)).then(() => undefined);
  }

  /**
   * Revokes every token, as keystone does when its fernet keys rotate past a token's key or an
   * operator revokes them: the next call with one answers 401 (tests of a client's re-auth).
   */
  revokeTokens(): number {
    const n = this.tokens.size;
    this.tokens.clear();
    return n;
  }

  /** Tokens issued so far (tests: how often a client authenticated). */
  get tokensIssued(): number {
    return this.issued;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.listeners.values()].map(async (l) => {
        await l.ready;
        await new Promise<void>((r) => {
          l.server.close(() => r());
          l.server.closeAllConnections();
        });
      }),
    );
  }

  private keystoneModels(): JujuModel[] {
    const out: JujuModel[] = [];
    for (const c of this.cloud.jujuWorld.controllers.values()) for (const m of c.models.values()) if (m.type === "caas" && [...m.apps.values()].some((a) => a.charm.name === CHARMS.keystone)) out.push(m);
    return out;
  }

  private ingressAddress(m: JujuModel): string | undefined {
    const traefik = [...m.apps.values()].find((a) => a.charm.name === "traefik-k8s");
    return traefik === undefined ? undefined : this.cloud.kube.externalAddress(m.name, traefik.name);
  }

  private listen(address: string): void {
    const server = createServer((req, res) => this.handle(address, req, res));
    const l: Listener = {
      server,
      ready: new Promise<void>((resolve) => {
        server.once("listening", () => {
          this.cloud.openstackApiPorts.set(address, (server.address() as AddressInfo).port);
          resolve();
        });
        server.once("error", (e: Error) => {
          this.logger?.warn({ address, port: this.port, err: e.message }, "simulated OpenStack API cannot listen on the ingress address");
          resolve();
        });
      }),
    };
    server.listen(this.port, address);
    this.listeners.set(address, l);
  }

  private handle(address: string, req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let r: SimResponse;
      try {
        r = this.route(address, req, Buffer.concat(chunks).toString("utf8"));
      } catch (e) {
        r = { status: 500, json: { error: { code: 500, title: "Internal Server Error", message: (e as Error).message } } };
      }
      const text = r.json !== undefined ? JSON.stringify(r.json) : (r.text ?? "");
      const type = r.json !== undefined ? "application/json" : "text/plain; charset=utf-8";
      res.writeHead(r.status, { ...(text ? { "Content-Type": type } : {}), "Content-Length": Buffer.byteLength(text), ...r.headers });
      res.end(text);
    });
  }

  private route(address: string, req: IncomingMessage, body: string): SimResponse {
    const url = new URL(req.url ?? "/", "http://sim");
    const [, prefix = "", ...rest] = url.pathname.split("/");
    // The ingress path names the model and the application: `<model>-<app>`.
    for (const m of this.keystoneModels()) {
      if (this.ingressAddress(m) !== address || !prefix.startsWith(`${m.name}-`)) continue;
      const app = m.apps.get(prefix.slice(m.name.length + 1));
      const service = (Object.keys(CHARMS) as Service[]).find((s) => CHARMS[s] === app?.charm.name);
      if (app === undefined || service === undefined) continue;
      // Traefik with no healthy server behind the route.
      const r = new StatusReader(this.cloud.jujuWorld, this.cloud.jujuEnv, this.cloud.now());
      if (!r.units(m, app).some((v) => v.workload.current === "active")) return { status: 503, text: "no available server" };
      const sub = `/${rest.join("/")}`;
      const sreq: SimRequest = { method: req.method ?? "GET", path: sub, query: url.searchParams, headers: req.headers, body };
      const base = `http://${address}${this.portPart(address)}/${m.name}-`;
      switch (service) {
        case "keystone":
          if (sreq.method === "POST" && sub === "/v3/auth/tokens") return authenticate(sreq, adminAccount(this.cloud, m.name), () => this.issue(m.name), this.catalog(m, base), this.ids(m.name));
          return { status: 404, json: { error: { code: 404, title: "Not Found", message: "The resource could not be found." } } };
        case "nova":
        case "neutron": {
          const token = req.headers["x-auth-token"];
          const t = typeof token === "string" ? this.tokens.get(token) : undefined;
          if (t === undefined || t.model !== m.name || t.expiresAt <= this.cloud.now()) return unauthenticated(`${base}${this.appOf(m, "keystone") ?? "keystone"}`);
          if (service === "nova") return sub.startsWith("/v2.1/") ? novaServices(this.cloud.openstack, { ...sreq, path: sub.slice("/v2.1".length) }) : { status: 404, json: { itemNotFound: { code: 404, message: "The resource could not be found." } } };
          return neutronAgents(this.cloud.openstack, sreq);
        }
      }
    }
    // No router for the path: traefik's own answer.
    return { status: 404, text: "404 page not found\n" };
  }

  private portPart(address: string): string {
    const p = this.cloud.openstackApiPorts.get(address) ?? this.port;
    return p === 80 ? "" : `:${p}`;
  }

  private appOf(m: JujuModel, service: Service): string | undefined {
    return [...m.apps.values()].find((a) => a.charm.name === CHARMS[service])?.name;
  }

  private issue(model: string): { value: string; expiresAt: number; issuedAt: number } {
    const issuedAt = this.cloud.now();
    this.issued++;
    const value = `gAAAAA${this.cloud.newToken("keystone").replace(/[^A-Za-z0-9]/g, "")}`;
    this.tokens.set(value, { model, expiresAt: issuedAt + TOKEN_LIFETIME_MS });
    return { value, expiresAt: issuedAt + TOKEN_LIFETIME_MS, issuedAt };
  }

  private ids(model: string): { user: string; project: string; domain: string } {
    const hex = (k: string) => seededUuid(this.cloud.seed, "keystone", model, k).replace(/-/g, "");
    return { user: hex("admin-user"), project: hex("admin-project"), domain: hex("admin-domain") };
  }

  /** Identity, compute and network, each on every interface (one ingress here serves them all). */
  private catalog(m: JujuModel, base: string): unknown[] {
    const entry = (service: Service, type: string, suffix: string) => {
      const app = this.appOf(m, service);
      if (app === undefined) return [];
      const url = `${base}${app}${suffix}`;
      const id = (k: string) => seededUuid(this.cloud.seed, "endpoint", m.name, app, k).replace(/-/g, "");
      return [{ endpoints: (["public", "internal", "admin"] as const).map((i) => ({ id: id(i), interface: i, region: "RegionOne", region_id: "RegionOne", url })), id: id("service"), type, name: service }];
    };
    return [...entry("keystone", "identity", "/v3"), ...entry("nova", "compute", "/v2.1"), ...entry("neutron", "network", "")];
  }
}
