/**
 * The simulator's route table as MAAS's piston handlers define it: each handler has its
 * class name, docstring, URI template and actions (CRUD or named ops). The router, the
 * /sim/stats operation names and the describe document (`GET describe/`,
 * maas-network-storage.md §1) are all read from this one table, so they cannot drift.
 */
import { createHash } from "node:crypto";
import type { Params } from "./params.ts";
import type { Region } from "./region.ts";

export interface Reply {
  status: number;
  /** Serialised as JSON; undefined means an empty body (204). */
  json?: unknown;
  /**
   * A body already serialised, with its content type: set_boot_disk's `OK`, details' BSON,
   * or a machine list's JSON made chunk by chunk as it is written (see api/machines.ts).
   */
  raw?: { contentType: string; body: string | Buffer | StreamedBody };
}

/**
 * A body written as it is made, with chunked transfer encoding: each chunk is made once
 * the one before it has left (the socket drained), so only about one chunk is held.
 */
export type StreamedBody = () => Iterator<Buffer>;

export interface Call {
  region: Region;
  query: Params;
  body: Params;
  /** Path parameters in template order (system_id, id, ...). */
  args: readonly string[];
  user: string;
}

export type Handler = (call: Call) => Reply;
export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface ActionDef {
  method: Method;
  /** null for the CRUD action of the method (read, create, update, delete). */
  op: string | null;
  doc: string | null;
  handler: Handler;
}

export interface HandlerDef {
  /** MAAS's class name, e.g. `MachinesHandler`, `InterfaceHandler`. */
  name: string;
  doc: string;
  /** URI template under /MAAS/api/2.0/, e.g. `nodes/{system_id}/interfaces/{id}/`. */
  path: string;
  /** Prefix of operation names in /sim/stats, e.g. `machine` → `machine.deploy`. */
  stats: string;
  /** CRUD GET counts as `list` on collections, `read` on instances. */
  collection: boolean;
  /** Served without OAuth (VersionHandler, the describe document). */
  anonymous?: boolean;
  /** Routed but not listed in describe (MAAS's alias routes, e.g. `vlans/{vlan_id}/`). */
  hidden?: boolean;
  actions: ActionDef[];
}

export interface Endpoint {
  /** Name counted in /sim/stats, e.g. "machine.deploy". */
  name: string;
  anonymous: boolean;
  handler: Handler;
}

export interface Resolved {
  def: HandlerDef;
  args: string[];
}

export const API_PREFIX = "/MAAS/api/2.0/";

const CRUD_NAME: Record<Method, string> = { GET: "read", POST: "create", PUT: "update", DELETE: "delete" };

export function actionName(a: ActionDef): string {
  return a.op ?? CRUD_NAME[a.method];
}

export function paramsOf(path: string): string[] {
  return [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1] ?? "");
}

interface Compiled {
  def: HandlerDef;
  re: RegExp;
  endpoints: Map<string, Endpoint>;
}

export class Router {
  readonly defs: readonly HandlerDef[];
  private readonly compiled: Compiled[];

  constructor(defs: readonly HandlerDef[]) {
    this.defs = defs;
    this.compiled = defs.map((def) => {
      const re = new RegExp(`^${def.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[a-z_]+\}/g, "([^/]+)")}$`);
      const endpoints = new Map<string, Endpoint>();
      for (const a of def.actions) {
        const n = a.op ?? (a.method === "GET" ? (def.collection ? "list" : "read") : CRUD_NAME[a.method]);
        endpoints.set(`${a.method} ${a.op ?? ""}`, { name: `${def.stats}.${n}`, anonymous: def.anonymous === true, handler: a.handler });
      }
      return { def, re, endpoints };
    });
  }

  /** The handler for a path under /MAAS/api/2.0/ (decoded args), or null. */
  resolve(rest: string): Resolved | null {
    for (const c of this.compiled) {
      const m = c.re.exec(rest);
      if (m) return { def: c.def, args: m.slice(1).map((s) => decodeURIComponent(s)) };
    }
    return null;
  }

  endpoint(r: Resolved, method: string, op: string): Endpoint | undefined {
    return this.compiled.find((c) => c.def === r.def)?.endpoints.get(`${method} ${op}`);
  }
}

/** The body MAAS sends for a method/op the resource does not have. */
export function unrecognised(method: string, op: string): string {
  return `Unrecognised signature: method=${method} op=${op === "" ? "None" : op}`;
}

interface HandlerDoc {
  name: string;
  doc: string;
  params: string[];
  path: string;
  uri?: string;
  actions: { method: Method; name: string; op: string | null; restful: boolean; doc: string | null }[];
}

function handlerDoc(def: HandlerDef): HandlerDoc {
  const actions = def.actions
    .map((a) => ({ method: a.method, name: actionName(a), op: a.op, restful: a.op === null, doc: a.doc }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { name: def.name, doc: def.doc, params: paramsOf(def.path), path: `${API_PREFIX}${def.path}`, actions };
}

/** JSON with keys sorted at every level, as Python's `json.dumps(..., sort_keys=True)`. */
export function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}: ${sortedJson(o[k])}`)
      .join(", ")}}`;
  }
  return JSON.stringify(v);
}

export interface Description {
  doc: string;
  resources: { name: string; anon: HandlerDoc | null; auth: HandlerDoc | null }[];
  handlers: HandlerDoc[];
  hash: string;
}

/**
 * The describe document (§1): resources sorted by name, each `{name, anon, auth}`; the
 * `handlers` alias lists the anon handlers then the auth ones; `hash` is the SHA-1 of the
 * sorted rendering without `uri` (added per request by `withUris`).
 */
export function describe(defs: readonly HandlerDef[]): Description {
  const shown = defs.filter((d) => d.hidden !== true);
  const resources = shown
    .map((d) => ({ name: d.name, anon: d.anonymous ? handlerDoc(d) : null, auth: d.anonymous ? null : handlerDoc(d) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const handlers = [...resources.flatMap((r) => (r.anon ? [r.anon] : [])), ...resources.flatMap((r) => (r.auth ? [r.auth] : []))];
  const body = { doc: "MAAS API", resources, handlers };
  const hash = createHash("sha1").update(sortedJson(body)).digest("hex");
  return { ...body, hash };
}

/** The description with each handler's absolute `uri` for this request's scheme and host. */
export function withUris(d: Description, origin: string): Description {
  const add = (h: HandlerDoc | null): HandlerDoc | null => (h === null ? null : { ...h, uri: `${origin}${h.path}` });
  return {
    doc: d.doc,
    resources: d.resources.map((r) => ({ name: r.name, anon: add(r.anon), auth: add(r.auth) })),
    handlers: d.handlers.map((h) => add(h) as HandlerDoc),
    hash: d.hash,
  };
}
