/**
 * The OpenStack API over HTTP: keystone v3 password authentication, then nova and neutron
 * through the endpoints keystone's catalog gives.
 *
 * - Keystone: `POST {authUrl}/auth/tokens` with a password identity scoped to the project; the
 *   token is the `X-Subject-Token` header of the 201 answer, its body holds `expires_at` and the
 *   catalog (openstack/keystone api-ref/source/v3/authenticate-v3.inc,
 *   api-ref/source/v3/samples/admin/auth-password-project-scoped-response.json). The token is
 *   kept until a minute before it expires; a 401 from nova or neutron (a revoked token) gets one
 *   fresh token and one retry.
 * - Nova at microversion 2.53 (`OpenStack-API-Version: compute 2.53`): from 2.53 service ids
 *   are UUIDs and `PUT /os-services/{id}` takes `{"status": "disabled", "disabled_reason"}`
 *   (openstack/nova nova/api/openstack/compute/services.py `_update_v253`, `delete`;
 *   doc/api_samples/os-services/v2.53/). Faults are `{<name>: {code, message}}`
 *   (nova/api/openstack/wsgi.py Fault).
 * - Neutron `GET /v2.0/agents?host=`, `DELETE /v2.0/agents/{id}`; faults are
 *   `{NeutronError: {type, message, detail}}` (openstack/neutron neutron/api/api_common.py).
 *
 * Errors are OpenStackError with the service, `METHOD path` and status; no token, password or
 * request body ever goes into a message.
 */
import { systemClock, type Clock } from "../clock.ts";
import { codeForStatus, OpenStackError, type OpenStackService } from "./errors.ts";
import type { ComputeService, NetworkAgent, OpenStackCredentials, OpenStackPort } from "./port.ts";

/** The compute microversion asked for: the first with UUID service ids and the status body. */
export const COMPUTE_MICROVERSION = "2.53";

export interface OpenStackClientOptions {
  credentials: OpenStackCredentials;
  /** The catalog interface to use. Default "public" (what the reference's admin client uses). */
  interface?: "public" | "internal" | "admin";
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  /** Token expiry is judged by its wall time. Default: the system clock. */
  clock?: Clock;
}

interface CatalogEntry {
  type?: string;
  endpoints?: { interface?: string; region?: string; region_id?: string; url?: string }[];
}

interface Token {
  value: string;
  /** Wall milliseconds after which it is not used. */
  until: number;
  catalog: CatalogEntry[];
}

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The message of an OpenStack fault body, whichever service's shape it has. */
export function faultMessage(body: unknown): string | undefined {
  if (body === null || typeof body !== "object") return undefined;
  const b = body as Json;
  const ne = b["NeutronError"];
  if (ne && typeof ne === "object") return str((ne as Json)["message"]);
  const e = b["error"];
  if (e && typeof e === "object") return str((e as Json)["message"]);
  // Nova: one key, the fault's name (itemNotFound, badRequest, conflictingRequest, computeFault...).
  const only = Object.values(b);
  if (only.length === 1 && only[0] && typeof only[0] === "object") return str((only[0] as Json)["message"]);
  return undefined;
}

export class OpenStackClient implements OpenStackPort {
  private readonly creds: OpenStackCredentials;
  private readonly iface: "public" | "internal" | "admin";
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private token: Promise<Token> | undefined;

  constructor(o: OpenStackClientOptions) {
    this.creds = o.credentials;
    this.iface = o.interface ?? "public";
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.clock = o.clock ?? systemClock;
  }

  async computeServices(filter: { host?: string; binary?: string }): Promise<ComputeService[]> {
    const q = new URLSearchParams();
    if (filter.binary !== undefined) q.set("binary", filter.binary);
    if (filter.host !== undefined) q.set("host", filter.host);
    const body = await this.call("compute", "GET", "/os-services", { query: q });
    const list = (body as Json | undefined)?.["services"];
    if (!Array.isArray(list)) throw this.badResponse("compute", "GET /os-services", "no services list");
    return list.map((s) => computeService(s as Json));
  }

  async disableComputeService(id: string, reason: string): Promise<ComputeService> {
    const path = `/os-services/${encodeURIComponent(id)}`;
    const body = await this.call("compute", "PUT", path, { body: { status: "disabled", disabled_reason: reason.slice(0, 255) } });
    const s = (body as Json | undefined)?.["service"];
    if (s === null || typeof s !== "object") throw this.badResponse("compute", "PUT /os-services/{id}", "no service in the answer");
    return computeService(s as Json);
  }

  async deleteComputeService(id: string): Promise<void> {
    await this.call("compute", "DELETE", `/os-services/${encodeURIComponent(id)}`, {});
  }

  async networkAgents(filter: { host?: string }): Promise<NetworkAgent[]> {
    const q = new URLSearchParams();
    if (filter.host !== undefined) q.set("host", filter.host);
    const body = await this.call("network", "GET", "/v2.0/agents", { query: q });
    const list = (body as Json | undefined)?.["agents"];
    if (!Array.isArray(list)) throw this.badResponse("network", "GET /v2.0/agents", "no agents list");
    return list.map((a) => {
      const j = a as Json;
      return { id: str(j["id"]) ?? "", agentType: str(j["agent_type"]) ?? "", binary: str(j["binary"]) ?? "", host: str(j["host"]) ?? "", alive: j["alive"] === true, adminStateUp: j["admin_state_up"] !== false };
    });
  }

  async deleteNetworkAgent(id: string): Promise<void> {
    await this.call("network", "DELETE", `/v2.0/agents/${encodeURIComponent(id)}`, {});
  }

  // ------------------------------------------------------------------ transport

  /** One call to nova or neutron with the current token; a 401 gets a fresh token and one retry. */
  private async call(service: "compute" | "network", method: string, path: string, o: { query?: URLSearchParams; body?: unknown }): Promise<unknown> {
    // The operation as errors name it: ids are not secrets, but paths with them vary; keep the shape.
    const op = `${method} ${path.replace(/\/os-services\/[^/]+$/, "/os-services/{id}").replace(/\/agents\/[^/]+$/, "/agents/{id}")}`;
    for (let attempt = 0; ; attempt++) {
      const t = await this.currentToken();
      const base = this.endpoint(t, service);
      const url = `${base}${service === "network" && !/\/v2\.0$/.test(base) ? "/v2.0" : ""}${path.replace(/^\/v2\.0/, "")}${o.query && [...o.query].length > 0 ? `?${o.query.toString()}` : ""}`;
      const headers: Record<string, string> = { "X-Auth-Token": t.value, Accept: "application/json" };
      if (service === "compute") headers["OpenStack-API-Version"] = `compute ${COMPUTE_MICROVERSION}`;
      if (o.body !== undefined) headers["Content-Type"] = "application/json";
      const res = await this.send(service, op, url, { method, headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) });
      if (res.status === 401 && attempt === 0) {
        this.token = undefined;
        continue;
      }
      return this.answer(service, op, res);
    }
  }

  private async send(service: OpenStackService, op: string, url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs), redirect: "error" });
    } catch (e) {
      const why = e instanceof Error && e.name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : `cannot reach ${new URL(url).host}: ${causeText(e)}`;
      throw new OpenStackError("OPENSTACK_UNAVAILABLE", { service, operation: op }, why, { cause: e });
    }
  }

  /** The JSON body of a success (undefined for 204), or the typed error of a failure. */
  private async answer(service: OpenStackService, op: string, res: Response): Promise<unknown> {
    const text = await res.text().catch(() => "");
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    const code = codeForStatus(res.status);
    if (code !== undefined) {
      const apiMessage = faultMessage(body);
      throw new OpenStackError(code, { service, operation: op, status: res.status, ...(apiMessage !== undefined ? { apiMessage } : {}) }, apiMessage ?? (res.statusText || "refused"));
    }
    if (text !== "" && body === undefined) throw this.badResponse(service, op, "the answer is not JSON");
    return body;
  }

  private currentToken(): Promise<Token> {
    const cur = this.token;
    if (cur !== undefined) {
      return cur.then((t) => {
        if (this.clock.wallNow() < t.until) return t;
        if (this.token === cur) this.token = undefined;
        return this.currentToken();
      });
    }
    const p = this.authenticate();
    this.token = p;
    p.catch(() => {
      if (this.token === p) this.token = undefined;
    });
    return p;
  }

  private async authenticate(): Promise<Token> {
    const c = this.creds;
    const op = "POST /v3/auth/tokens";
    const body = {
      auth: {
        identity: { methods: ["password"], password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } } },
        scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
      },
    };
    const res = await this.send("identity", op, `${c.authUrl.replace(/\/+$/, "")}/auth/tokens`, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) });
    const answer = (await this.answer("identity", op, res)) as Json | undefined;
    const value = res.headers.get("x-subject-token");
    const token = answer?.["token"] as Json | undefined;
    if (!value || token === undefined) throw this.badResponse("identity", op, "no X-Subject-Token header or token body");
    const expires = Date.parse(str(token["expires_at"]) ?? "");
    const catalog = Array.isArray(token["catalog"]) ? (token["catalog"] as CatalogEntry[]) : [];
    // Used until a minute before it expires (an unreadable expiry: five minutes).
    const until = Number.isFinite(expires) ? expires - 60_000 : this.clock.wallNow() + 300_000;
    return { value, until, catalog };
  }

  private endpoint(t: Token, type: "compute" | "network"): string {
    const eps = t.catalog.filter((e) => e.type === type).flatMap((e) => e.endpoints ?? []);
    const ep = eps.find((e) => e.interface === this.iface && (this.creds.region === undefined || e.region_id === this.creds.region || e.region === this.creds.region));
    if (ep?.url === undefined) throw new OpenStackError("OPENSTACK_NO_ENDPOINT", { service: type, operation: "catalog" }, `keystone's catalog has no ${this.iface} ${type} endpoint${this.creds.region ? ` in ${this.creds.region}` : ""}`);
    return ep.url.replace(/\/+$/, "");
  }

  private badResponse(service: OpenStackService, op: string, why: string): OpenStackError {
    return new OpenStackError("OPENSTACK_BAD_RESPONSE", { service, operation: op }, why);
  }
}

function computeService(j: Json): ComputeService {
  return {
    id: String(j["id"] ?? ""),
    binary: str(j["binary"]) ?? "",
    host: str(j["host"]) ?? "",
    status: j["status"] === "disabled" ? "disabled" : "enabled",
    state: j["state"] === "up" ? "up" : "down",
    zone: str(j["zone"]) ?? "",
    disabledReason: str(j["disabled_reason"]) ?? null,
    forcedDown: j["forced_down"] === true,
    updatedAt: str(j["updated_at"]) ?? null,
  };
}

function causeText(e: unknown): string {
  const c = (e instanceof Error ? (e.cause ?? e) : undefined) as { code?: string; message?: string } | undefined;
  return c?.code ?? c?.message ?? String(e);
}
