// A MAAS client written "elsewhere": plain fetch, its own OAuth 1.0 PLAINTEXT header
// built the way gomaasapi builds it (parameters in no fixed order, values query-escaped,
// a UUID nonce), form bodies encoded with sorted keys as Go's url.Values.Encode does, and
// a strict, hand-written checker for every machine object it receives (the required-field
// list of maas-api.md's "Machine JSON", type-checked field by field). It shares no code
// with src/maas or src/sim on purpose: it is how a real region's other clients see us.
import { randomUUID } from "node:crypto";

export type Values = Record<string, string | readonly string[]>;

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

/** What MAAS documents as the status enum (maas-api.md), independent of src/maas/status.ts. */
export const STATUS_NAMES: readonly string[] = [
  "New",
  "Commissioning",
  "Failed commissioning",
  "Missing",
  "Ready",
  "Reserved",
  "Deployed",
  "Retired",
  "Broken",
  "Deploying",
  "Allocated",
  "Failed deployment",
  "Releasing",
  "Releasing failed",
  "Disk erasing",
  "Failed disk erasing",
  "Rescue mode",
  "Entering rescue mode",
  "Failed to enter rescue mode",
  "Exiting rescue mode",
  "Failed to exit rescue mode",
  "Testing",
  "Failed testing",
];

/** Go's url.QueryEscape: spaces as '+', everything but unreserved characters escaped. */
function queryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, "+");
}

/** Go's url.Values.Encode: keys sorted, repeated keys kept in order. */
function encodeValues(values: Values): string {
  const parts: string[] = [];
  for (const key of Object.keys(values).sort()) {
    const v = values[key];
    for (const x of typeof v === "string" ? [v] : (v ?? [])) parts.push(`${queryEscape(key)}=${queryEscape(x)}`);
  }
  return parts.join("&");
}

export class ForeignMaasClient {
  private readonly base: string;
  private readonly consumerKey: string;
  private readonly tokenKey: string;
  private readonly tokenSecret: string;
  private turn = 0;
  /** Every Authorization header sent, for checks on the wire format. */
  readonly headersSent: string[] = [];

  constructor(url: string, apiKey: string) {
    this.base = `${url.replace(/\/+$/, "")}/api/2.0/`;
    const parts = apiKey.split(":");
    if (parts.length !== 3) throw new Error("api key must be consumer:token:secret");
    [this.consumerKey, this.tokenKey, this.tokenSecret] = parts as [string, string, string];
  }

  private authorization(): string {
    const data: [string, string][] = [
      ["realm", ""],
      ["oauth_consumer_key", this.consumerKey],
      ["oauth_token", this.tokenKey],
      ["oauth_signature_method", "PLAINTEXT"],
      ["oauth_signature", `&${this.tokenSecret}`],
      ["oauth_timestamp", String(Math.floor(Date.now() / 1000))],
      ["oauth_nonce", randomUUID()],
      ["oauth_version", "1.0"],
    ];
    // Go ranges over a map: the order differs from one request to the next.
    const k = this.turn++ % data.length;
    const rotated = [...data.slice(k), ...data.slice(0, k)];
    if (this.turn % 2 === 0) rotated.reverse();
    const header = `OAuth ${rotated.map(([key, v]) => `${key}="${queryEscape(v)}"`).join(", ")}`;
    this.headersSent.push(header);
    return header;
  }

  async request(method: "GET" | "POST" | "PUT" | "DELETE", path: string, op?: string, values: Values = {}, anonymous = false): Promise<Answer> {
    const query: Values = {};
    if (op !== undefined) query.op = op;
    const isGet = method === "GET" || method === "DELETE";
    if (isGet) Object.assign(query, values);
    const qs = encodeValues(query);
    const url = `${this.base}${path}${qs === "" ? "" : `?${qs}`}`;
    const headers: Record<string, string> = {};
    if (!anonymous) headers.Authorization = this.authorization();
    let body: string | undefined;
    if (!isGet) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = encodeValues(values);
    }
    const res = await fetch(url, { method, headers, body, redirect: "manual" });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", text, json };
  }

  /** Fails loudly unless the answer is a 200 application/json. */
  async ok(method: "GET" | "POST", path: string, op?: string, values: Values = {}, anonymous = false): Promise<unknown> {
    const a = await this.request(method, path, op, values, anonymous);
    if (a.status !== 200 || !a.contentType.startsWith("application/json")) {
      throw new Error(`${method} ${path} op=${op ?? ""}: HTTP ${a.status} ${a.contentType}: ${a.text.slice(0, 200)}`);
    }
    return a.json;
  }
}

// ---------------------------------------------------------------- the strict checker

type Check = (v: unknown, path: string, errors: string[]) => void;

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

const str: Check = (v, p, e) => {
  if (typeof v !== "string") e.push(`${p}: expected string, got ${typeName(v)}`);
};
const int: Check = (v, p, e) => {
  if (typeof v !== "number" || !Number.isInteger(v)) e.push(`${p}: expected int, got ${typeName(v)} ${String(v)}`);
};
const num: Check = (v, p, e) => {
  if (typeof v !== "number" || !Number.isFinite(v)) e.push(`${p}: expected number, got ${typeName(v)}`);
};
const bool: Check = (v, p, e) => {
  if (typeof v !== "boolean") e.push(`${p}: expected bool, got ${typeName(v)}`);
};
const oneOf =
  (...allowed: string[]): Check =>
  (v, p, e) => {
    if (typeof v !== "string" || !allowed.includes(v)) e.push(`${p}: expected one of ${allowed.join("|")}, got ${JSON.stringify(v)}`);
  };
const matches =
  (re: RegExp): Check =>
  (v, p, e) => {
    if (typeof v !== "string" || !re.test(v)) e.push(`${p}: expected a string matching ${re}, got ${JSON.stringify(v)}`);
  };
const nullable =
  (c: Check): Check =>
  (v, p, e) => {
    if (v !== null) c(v, p, e);
  };
const arrayOf =
  (c: Check): Check =>
  (v, p, e) => {
    if (!Array.isArray(v)) {
      e.push(`${p}: expected array, got ${typeName(v)}`);
      return;
    }
    v.forEach((x, i) => c(x, `${p}[${i}]`, e));
  };
const mapOf =
  (c: Check): Check =>
  (v, p, e) => {
    if (typeName(v) !== "object") {
      e.push(`${p}: expected object, got ${typeName(v)}`);
      return;
    }
    for (const [k, x] of Object.entries(v as object)) c(x, `${p}.${k}`, e);
  };
/** Required fields must be present (a missing key is an error even where null is allowed); optional ones are checked when present. */
const obj =
  (required: Record<string, Check>, optional: Record<string, Check> = {}): Check =>
  (v, p, e) => {
    if (typeName(v) !== "object") {
      e.push(`${p}: expected object, got ${typeName(v)}`);
      return;
    }
    const o = v as Record<string, unknown>;
    for (const [k, c] of Object.entries(required)) {
      if (!(k in o)) e.push(`${p}.${k}: missing`);
      else c(o[k], `${p}.${k}`, e);
    }
    for (const [k, c] of Object.entries(optional)) if (k in o && o[k] !== undefined) c(o[k], `${p}.${k}`, e);
  };

const API = "/MAAS/api/2.0/";
const uri = matches(/^\/MAAS\/api\/2\.0\/.+\/$/);

const vlan = obj({ id: int, resource_uri: uri, fabric: str, vid: int, mtu: int, dhcp_on: bool }, { name: nullable(str), fabric_id: int });
const subnet = obj(
  { resource_uri: uri, id: int, name: str, space: str, cidr: matches(/^[0-9a-f.:]+\/\d+$/), vlan },
  { gateway_ip: nullable(str), dns_servers: arrayOf(str) },
);
const link = obj({ id: int, mode: oneOf("auto", "dhcp", "static", "link_up") }, { subnet, ip_address: nullable(matches(/^[0-9a-f.:]+$/)) });
const iface = obj(
  {
    resource_uri: uri,
    id: int,
    name: str,
    type: oneOf("physical", "bond", "bridge", "vlan"),
    enabled: bool,
    links: arrayOf(link),
    effective_mtu: int,
    parents: arrayOf(str),
    children: arrayOf(str),
    vlan: nullable(vlan),
    mac_address: matches(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
  },
  { tags: arrayOf(str) },
);
const blockDevice = obj(
  {
    resource_uri: uri,
    id: int,
    name: str,
    path: str,
    used_for: str,
    tags: arrayOf(str),
    block_size: int,
    used_size: int,
    size: int,
    partitions: arrayOf(obj({ id: int, size: int, path: str, resource_uri: str })),
  },
  { uuid: nullable(str), model: nullable(str), serial: nullable(str), id_path: nullable(str), filesystem: nullable(mapOf(() => undefined)) },
);
const namedRef = obj({ name: str, description: str, resource_uri: uri });

const machineShape = obj(
  {
    // Required by a strict client (maas-api.md, "Machine JSON").
    resource_uri: uri,
    system_id: matches(/^[a-z0-9]+$/),
    hostname: str,
    fqdn: str,
    tag_names: arrayOf(str),
    owner_data: mapOf(str),
    osystem: str,
    distro_series: str,
    power_state: oneOf("on", "off", "unknown", "error"),
    status_name: oneOf(...STATUS_NAMES),
    memory: int,
    cpu_count: int,
    ip_addresses: arrayOf(matches(/^[0-9a-f.:]+$/)),
    interface_set: arrayOf(iface),
    physicalblockdevice_set: arrayOf(blockDevice),
    blockdevice_set: arrayOf(blockDevice),
    zone: namedRef,
    // Nullable, but present.
    architecture: nullable(matches(/^[a-z0-9]+\/[a-z0-9]+$/)),
    hardware_info: nullable(mapOf(str)),
    status_message: nullable(str),
    boot_interface: nullable(iface),
    pool: nullable(namedRef),
    // Also present on real MAAS.
    status: int,
    owner: nullable(str),
    locked: bool,
    netboot: bool,
    storage: num,
    domain: obj({ name: str, id: int, resource_uri: uri }),
    description: str,
    power_type: str,
    commissioning_status: int,
    commissioning_status_name: str,
    testing_status: int,
    testing_status_name: str,
    numanode_set: arrayOf(obj({ index: int, memory: int, cores: arrayOf(int) })),
    hwe_kernel: nullable(str),
    min_hwe_kernel: nullable(str),
    boot_disk: nullable(blockDevice),
    node_type_name: oneOf("Machine"),
  },
  { agent_name: str },
);

/**
 * Every problem a strict client would have with `v` as a machine: shape and types field by
 * field, then the cross-field facts such a client relies on. Empty means indistinguishable.
 */
export function machineProblems(v: unknown, where = "machine"): string[] {
  const errors: string[] = [];
  machineShape(v, where, errors);
  if (errors.length > 0) return errors;
  const m = v as Record<string, unknown> & {
    system_id: string;
    hostname: string;
    fqdn: string;
    status: number;
    status_name: string;
    distro_series: string;
    osystem: string;
    ip_addresses: string[];
    domain: { name: string };
    zone: { name: string; resource_uri: string };
    pool: { resource_uri: string } | null;
    interface_set: { id: number; resource_uri: string; links: { ip_address?: string | null }[] }[];
    boot_interface: { id: number } | null;
    blockdevice_set: { id: number; resource_uri: string; size: number; used_size: number }[];
    physicalblockdevice_set: { id: number }[];
  };
  const sid = m.system_id;
  const fact = (ok: boolean, msg: string) => {
    if (!ok) errors.push(`${where}: ${msg}`);
  };
  fact(m.resource_uri === `${API}machines/${sid}/`, `resource_uri ${String(m.resource_uri)} is not ${API}machines/${sid}/`);
  fact(m.fqdn === `${m.hostname}.${m.domain.name}`, `fqdn ${m.fqdn} is not hostname.domain`);
  fact(STATUS_NAMES[m.status] === m.status_name, `status ${m.status} does not match status_name '${m.status_name}'`);
  // Nothing is installed on a machine nobody has deployed yet; a deployed one says what it runs.
  if (["New", "Commissioning", "Failed commissioning", "Ready", "Allocated"].includes(m.status_name)) {
    fact(m.osystem === "" && m.distro_series === "", `osystem/distro_series '${m.osystem}/${m.distro_series}' on a machine that is ${m.status_name}`);
    fact(m.ip_addresses.length === 0, `ip_addresses on a machine that is ${m.status_name}`);
  }
  if (m.status_name === "Deployed") {
    fact(m.osystem !== "" && m.distro_series !== "", "a Deployed machine without osystem/distro_series");
    fact(m.ip_addresses.length > 0, "a Deployed machine without ip_addresses");
  }
  const linked = m.interface_set.flatMap((i) => i.links.map((l) => l.ip_address)).filter((x): x is string => typeof x === "string");
  fact(m.ip_addresses.every((ip) => linked.includes(ip)), "an ip_address that no interface link carries");
  fact(m.zone.resource_uri === `${API}zones/${encodeURIComponent(m.zone.name)}/`, `zone resource_uri ${m.zone.resource_uri}`);
  fact(m.pool === null || /^\/MAAS\/api\/2\.0\/resourcepool\/\d+\/$/.test(m.pool.resource_uri), "pool resource_uri is not resourcepool/<id>/");
  for (const i of m.interface_set) fact(i.resource_uri === `${API}nodes/${sid}/interfaces/${i.id}/`, `interface ${i.id} resource_uri ${i.resource_uri}`);
  fact(m.boot_interface === null || m.interface_set.some((i) => i.id === m.boot_interface?.id), "boot_interface is not one of interface_set");
  for (const d of m.blockdevice_set) {
    fact(d.resource_uri === `${API}nodes/${sid}/blockdevices/${d.id}/`, `block device ${d.id} resource_uri ${d.resource_uri}`);
    fact(d.used_size >= 0 && d.used_size <= d.size, `block device ${d.id} used_size ${d.used_size} outside 0..size`);
  }
  const all = new Set(m.blockdevice_set.map((d) => d.id));
  fact(
    m.physicalblockdevice_set.every((d) => all.has(d.id)),
    "a physical block device missing from blockdevice_set",
  );
  return errors;
}
