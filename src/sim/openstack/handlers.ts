/**
 * The simulated cloud's Keystone, Nova and Neutron answers, as pure functions of the state
 * (state.ts) and one request; api-server.ts routes to them. Shapes and refusals, each in the
 * real service's words (sources at each):
 *
 * - Keystone `POST /v3/auth/tokens`: a password identity scoped to a project; 201 with the
 *   token in `X-Subject-Token` and `{token: {methods, user, project, roles, catalog, expires_at,
 *   issued_at, audit_ids, is_domain}}`; wrong credentials 401 `{error: {code, title, message}}`
 *   (openstack/keystone api-ref/source/v3/samples/admin/auth-password-project-scoped-response.json,
 *   keystone/exception.py Unauthorized, ValidationError).
 * - A request to nova or neutron without a valid token: keystonemiddleware's 401 with
 *   `WWW-Authenticate: Keystone uri="..."` (openstack/keystonemiddleware
 *   keystonemiddleware/auth_token/__init__.py).
 * - Nova os-services (openstack/nova nova/api/openstack/compute/services.py,
 *   schemas/services.py, nova/api/openstack/wsgi.py Fault and set_api_version_request,
 *   api_version_request.py: 2.1 to 2.104 at the commit read).
 * - Neutron agents (openstack/neutron neutron/plugins/ml2/drivers/ovn/mech_driver/mech_driver.py
 *   get_agents/delete_agent, agent/neutron_agent.py as_dict; neutron-lib AgentNotFound;
 *   neutron/api/api_common.py NeutronError).
 */
import type { AgentRecord, ComputeRecord, SimOpenStack } from "./state.ts";
import { NOVA_COMPUTE } from "./state.ts";

export interface SimRequest {
  method: string;
  /** The path below the service's prefix, e.g. `/os-services/<id>`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON body (undefined: none, e.g. 204). */
  json?: unknown;
  /** A plain-text body instead (traefik's own answers). */
  text?: string;
}

export const NOVA_MIN_VERSION: readonly [number, number] = [2, 1];
export const NOVA_MAX_VERSION: readonly [number, number] = [2, 104];

/** The admin account keystone-k8s's `get-admin-account` gives (src/sim/hosts/charm-effects.ts). */
export interface AdminAccount {
  username: string;
  password: string;
  userDomainName: string;
  projectName: string;
  projectDomainName: string;
}

export interface IssuedToken {
  value: string;
  expiresAt: number;
  issuedAt: number;
}

const keystoneFault = (status: number, title: string, message: string): SimResponse => ({ status, json: { error: { code: status, message, title } } });

/** Keystone's timestamps: ISO 8601 with microseconds and Z (the api-ref samples). */
export function keystoneTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Nova's: microseconds, no zone (doc/api_samples/os-services). */
export function novaTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000");
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined);

/** `POST /v3/auth/tokens`: the account's checks; the token and catalog are the caller's. */
export function authenticate(req: SimRequest, account: AdminAccount, issue: () => IssuedToken, catalog: unknown[], ids: { user: string; project: string; domain: string }): SimResponse {
  let doc: unknown;
  try {
    doc = JSON.parse(req.body);
  } catch {
    return keystoneFault(400, "Bad Request", "Expecting to find auth in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.");
  }
  const auth = obj(obj(doc)?.["auth"]);
  const identity = obj(auth?.["identity"]);
  if (auth === undefined || identity === undefined) return keystoneFault(400, "Bad Request", `Expecting to find ${auth === undefined ? "auth" : "identity"} in ${auth === undefined ? "request body" : "auth"}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);
  const methods = identity["methods"];
  const user = obj(obj(identity["password"])?.["user"]);
  const project = obj(obj(auth["scope"])?.["project"]);
  const ok =
    Array.isArray(methods) &&
    methods.includes("password") &&
    user?.["name"] === account.username &&
    obj(user["domain"])?.["name"] === account.userDomainName &&
    user["password"] === account.password &&
    (project === undefined || (project["name"] === account.projectName && obj(project["domain"])?.["name"] === account.projectDomainName));
  if (!ok) return keystoneFault(401, "Unauthorized", "The request you have made requires authentication.");
  const t = issue();
  const domain = { id: ids.domain, name: account.userDomainName };
  return {
    status: 201,
    headers: { "X-Subject-Token": t.value },
    json: {
      token: {
        methods: ["password"],
        user: { domain, id: ids.user, name: account.username, password_expires_at: null },
        audit_ids: [t.value.slice(-22)],
        expires_at: keystoneTime(t.expiresAt),
        issued_at: keystoneTime(t.issuedAt),
        ...(project ? { project: { domain: { id: ids.domain, name: account.projectDomainName }, id: ids.project, name: account.projectName }, is_domain: false, roles: [{ id: ids.user.slice(0, 8) + "role", name: "admin" }], catalog } : {}),
      },
    },
  };
}

/** keystonemiddleware's refusal of a request without a valid token. */
export function unauthenticated(keystoneUri: string): SimResponse {
  return { status: 401, headers: { "WWW-Authenticate": `Keystone uri="${keystoneUri}"` }, json: { error: { code: 401, title: "Unauthorized", message: "The request you have made requires authentication." } } };
}

// ------------------------------------------------------------------ nova

const FAULT_NAMES: Record<number, string> = { 400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 415: "badMediaType", 429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable" };

type Version = readonly [number, number];
const atLeast = (v: Version, major: number, minor: number) => v[0] > major || (v[0] === major && v[1] >= minor);
const vstr = (v: Version) => `${v[0]}.${v[1]}`;

function versionHeaders(v: Version | undefined): Record<string, string> {
  return v === undefined ? {} : { "OpenStack-API-Version": `compute ${vstr(v)}`, "X-OpenStack-Nova-API-Version": vstr(v), Vary: "OpenStack-API-Version, X-OpenStack-Nova-API-Version" };
}

function novaFault(status: number, message: string, v?: Version): SimResponse {
  return { status, headers: versionHeaders(v), json: { [FAULT_NAMES[status] ?? "computeFault"]: { code: status, message } } };
}

/** The requested microversion (nova's set_api_version_request), or the refusal. */
export function novaVersion(headers: SimRequest["headers"]): Version | SimResponse {
  const one = (h: string | string[] | undefined) => (Array.isArray(h) ? h.join(",") : h);
  const modern = one(headers["openstack-api-version"]);
  let want: string | undefined;
  if (modern !== undefined) {
    for (const part of modern.split(",")) {
      const [svc, ver] = part.trim().split(/\s+/);
      if (svc?.toLowerCase() === "compute") want = ver;
    }
  }
  want ??= one(headers["x-openstack-nova-api-version"]);
  if (want === undefined) return NOVA_MIN_VERSION;
  if (want === "latest") return NOVA_MAX_VERSION;
  const m = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(want);
  if (!m) return novaFault(400, `API Version String ${want} is of invalid format. Must be of format MajorNum.MinorNum.`);
  const v: Version = [Number(m[1]), Number(m[2])];
  if (!atLeast(v, ...NOVA_MIN_VERSION) || atLeast(v, NOVA_MAX_VERSION[0], NOVA_MAX_VERSION[1] + 1)) {
    return novaFault(406, `Version ${vstr(v)} is not supported by the API. Minimum is ${vstr(NOVA_MIN_VERSION)} and maximum is ${vstr(NOVA_MAX_VERSION)}.`);
  }
  return v;
}

function serviceDetail(os: SimOpenStack, r: ComputeRecord, v: Version): Json {
  return {
    id: atLeast(v, 2, 53) ? r.uuid : r.id,
    binary: r.binary,
    disabled_reason: r.disabledReason,
    host: r.host,
    state: os.isUp(r) ? "up" : "down",
    status: r.disabled ? "disabled" : "enabled",
    updated_at: novaTime(r.updatedAt),
    ...(atLeast(v, 2, 11) ? { forced_down: r.forcedDown } : {}),
    zone: "nova",
  };
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** `/os-services[/{id}]` of nova's compute API. */
export function novaServices(os: SimOpenStack, req: SimRequest): SimResponse {
  const ver = novaVersion(req.headers);
  if (!Array.isArray(ver)) return ver as SimResponse;
  const v = ver as Version;
  const ok = (status: number, json?: unknown): SimResponse => ({ status, headers: versionHeaders(v), ...(json !== undefined ? { json } : {}) });
  const m = /^\/os-services(?:\/([^/]+))?$/.exec(req.path);
  if (!m) return novaFault(404, "The resource could not be found.", v);
  const id = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
  if (id === undefined) {
    if (req.method !== "GET") return novaFault(405, "The server could not comply with the request since it is either malformed or otherwise incorrect.", v);
    const host = req.query.get("host");
    const binary = req.query.get("binary");
    const list = [...os.services.values()].filter((r) => (!host || r.host === host) && (!binary || r.binary === binary));
    return ok(200, { services: list.map((r) => serviceDetail(os, r, v)) });
  }
  const find = (): ComputeRecord | undefined => (atLeast(v, 2, 53) ? os.services.get(id.toLowerCase()) : [...os.services.values()].find((r) => String(r.id) === id));
  if (req.method === "DELETE") {
    if (atLeast(v, 2, 53) && !UUID.test(id)) return novaFault(400, `Invalid uuid ${id}`, v);
    if (!atLeast(v, 2, 53) && !/^-?\d+$/.test(id)) return novaFault(400, "Invalid input received: id must be an integer", v);
    const r = find();
    if (r === undefined) return novaFault(404, `Service ${id} not found.`, v);
    if (r.binary === NOVA_COMPUTE && r.instances.length > 0) return novaFault(409, "Unable to delete compute service that is hosting instances. Migrate or delete the instances first.", v);
    os.services.delete(r.uuid);
    return ok(204);
  }
  if (req.method !== "PUT") return novaFault(405, "The server could not comply with the request since it is either malformed or otherwise incorrect.", v);
  let body: Json | undefined;
  try {
    body = obj(JSON.parse(req.body));
  } catch {
    body = undefined;
  }
  if (body === undefined) return novaFault(400, "The request body is not a JSON object.", v);
  if (!atLeast(v, 2, 53)) return legacyUpdate(os, id, body, v);
  if (!UUID.test(id)) return novaFault(400, `Invalid uuid ${id}`, v);
  const extra = Object.keys(body).filter((k) => !["status", "disabled_reason", "forced_down"].includes(k));
  if (extra.length > 0) return novaFault(400, `Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(", ")} ${extra.length === 1 ? "was" : "were"} unexpected)`, v);
  const status = body["status"];
  if (status !== undefined && status !== "enabled" && status !== "disabled") return novaFault(400, `Invalid input for field/attribute status. Value: ${String(status)}. '${String(status)}' is not one of ['enabled', 'disabled']`, v);
  const reason = body["disabled_reason"];
  if (reason !== undefined && (typeof reason !== "string" || reason.length < 1 || reason.length > 255)) return novaFault(400, `Invalid input for field/attribute disabled_reason. Value: ${String(reason)}. '${String(reason)}' is not a valid disabled_reason`, v);
  const r = find();
  if (r === undefined) return novaFault(404, `Service ${id} could not be found.`, v);
  if (status === "enabled" && reason) return novaFault(400, "Specifying 'disabled_reason' with status 'enabled' is invalid.", v);
  if (status === undefined && body["forced_down"] === undefined) return novaFault(400, "No updates were requested. Fields 'status' or 'forced_down' should be specified.", v);
  if (status === "enabled") {
    r.disabled = false;
    r.disabledReason = null;
  } else if (status === "disabled") {
    r.disabled = true;
    r.disabledReason = typeof reason === "string" ? reason : null;
  }
  if (body["forced_down"] !== undefined) r.forcedDown = body["forced_down"] === true || body["forced_down"] === "true";
  return ok(200, { service: serviceDetail(os, r, v) });
}

/** Before 2.53: `PUT /os-services/{action}` with host and binary in the body. */
function legacyUpdate(os: SimOpenStack, action: string, body: Json, v: Version): SimResponse {
  const actions = ["enable", "disable", "disable-log-reason", ...(atLeast(v, 2, 11) ? ["force-down"] : [])];
  if (!actions.includes(action)) return novaFault(404, "Unknown action", v);
  const host = body["host"];
  const binary = body["binary"];
  if (typeof host !== "string" || typeof binary !== "string") return novaFault(400, `'${typeof host !== "string" ? "host" : "binary"}' is a required property`, v);
  if (binary !== NOVA_COMPUTE) return novaFault(400, `Updating a ${binary} service is not supported. Only nova-compute services can be updated.`, v);
  const r = os.computeOf(host);
  if (r === undefined) return novaFault(404, `Compute host ${host} could not be found.`, v);
  if (action === "force-down") {
    r.forcedDown = body["forced_down"] === true || body["forced_down"] === "true";
    return { status: 200, headers: versionHeaders(v), json: { service: { host, binary, forced_down: r.forcedDown } } };
  }
  if (action === "disable-log-reason" && typeof body["disabled_reason"] !== "string") return novaFault(400, "Missing disabled reason field", v);
  r.disabled = action !== "enable";
  r.disabledReason = action === "disable-log-reason" ? String(body["disabled_reason"]) : null;
  return { status: 200, headers: versionHeaders(v), json: { service: { host, binary, status: r.disabled ? "disabled" : "enabled", ...(r.disabledReason ? { disabled_reason: r.disabledReason } : {}) } } };
}

// ------------------------------------------------------------------ neutron

function neutronFault(status: number, type: string, message: string): SimResponse {
  return { status, json: { NeutronError: { type, message, detail: "" } } };
}

function agentDetail(os: SimOpenStack, a: AgentRecord): Json {
  return {
    binary: a.binary,
    host: a.host,
    heartbeat_timestamp: new Date(a.updatedAt).toISOString().replace(/\.\d{3}Z$/, ""),
    availability_zone: "",
    topic: "n/a",
    description: "",
    configurations: { chassis_name: a.chassis, "bridge-mappings": "" },
    start_flag: true,
    agent_type: a.agentType,
    id: a.id,
    alive: os.isAlive(a),
    admin_state_up: true,
  };
}

/** `/v2.0/agents[/{id}]` of neutron's API with the OVN mechanism driver. */
export function neutronAgents(os: SimOpenStack, req: SimRequest): SimResponse {
  const m = /^\/v2\.0\/agents(?:\/([^/]+))?$/.exec(req.path);
  if (!m) return neutronFault(404, "HTTPNotFound", "The resource could not be found.");
  const id = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
  if (id === undefined) {
    if (req.method !== "GET") return neutronFault(405, "HTTPMethodNotAllowed", "The server could not comply with the request since it is either malformed or otherwise incorrect.");
    const filters: [string, (a: AgentRecord) => string][] = [["host", (a) => a.host], ["agent_type", (a) => a.agentType], ["binary", (a) => a.binary], ["id", (a) => a.id]];
    const list = [...os.agents.values()].filter((a) => filters.every(([k, f]) => req.query.getAll(k).length === 0 || req.query.getAll(k).includes(f(a))));
    return { status: 200, json: { agents: list.map((a) => agentDetail(os, a)) } };
  }
  const a = os.agents.get(id);
  if (a === undefined) return neutronFault(404, "AgentNotFound", `Agent ${id} could not be found.`);
  if (req.method === "GET") return { status: 200, json: { agent: agentDetail(os, a) } };
  if (req.method === "DELETE") {
    os.deleteAgent(id);
    return { status: 204 };
  }
  return neutronFault(405, "HTTPMethodNotAllowed", "The server could not comply with the request since it is either malformed or otherwise incorrect.");
}
