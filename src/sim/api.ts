/**
 * The MAAS REST API 2.0 surface: which (resource, method, op) exists, what operation
 * name /sim/stats counts it under, and the handler. Handlers parse parameters, call the
 * region model and render JSON; MAAS's errors come from the model as SimulatedFailure.
 */
import { formFailure, textFailure } from "./errors.ts";
import { Params } from "./params.ts";
import { ADMIN_USER } from "./region.ts";
import type { MachineRecord, Region } from "./region.ts";
import { API, renderBlockDevice, renderEvent, renderMachine, renderPool, renderTag, renderUser, renderZone } from "./render.ts";

export interface Reply {
  status: number;
  /** Serialised as JSON; undefined means an empty body (204). */
  json?: unknown;
}

export interface Call {
  region: Region;
  query: Params;
  body: Params;
  /** Path parameters (system_id, tag name, ...). */
  args: readonly string[];
  user: string;
}

type Handler = (call: Call) => Reply;

export interface Endpoint {
  /** Name counted in /sim/stats, e.g. "machine.deploy". */
  name: string;
  anonymous?: boolean;
  handler: Handler;
}

interface Resource {
  /** Prefix of operation names in /sim/stats. */
  prefix: string;
  /** Keyed by `${METHOD} ${op}`; plain CRUD has op "". */
  endpoints: Map<string, Endpoint>;
}

export interface Resolved {
  resource: Resource;
  args: string[];
}

const ok = (json: unknown): Reply => ({ status: 200, json });

function resource(prefix: string, defs: Record<string, Handler | [Handler, "anonymous"]>): Resource {
  const endpoints = new Map<string, Endpoint>();
  for (const [sig, def] of Object.entries(defs)) {
    const [method = "", op = ""] = sig.split(" ");
    const name = op !== "" ? op : ({ GET: prefix.endsWith("s") ? "list" : "read", POST: "create", PUT: "update", DELETE: "delete" } as Record<string, string>)[method] ?? method;
    const handler = Array.isArray(def) ? def[0] : def;
    endpoints.set(`${method} ${op}`, { name: `${prefix}.${name}`, anonymous: Array.isArray(def), handler });
  }
  return { prefix, endpoints };
}

function machineList(region: Region, list: readonly MachineRecord[]): unknown[] {
  return list.map((m) => renderMachine(region, m));
}

function comment(c: Call): string {
  return c.body.get("comment") ?? "";
}

const machine = (c: Call): MachineRecord => c.region.get(c.args[0] ?? "");

const versionRes = resource("version", {
  "GET ": [
    () =>
      ok({
        capabilities: [
          "networks-management",
          "static-ipaddresses",
          "ipv6-deployment-ubuntu",
          "devices-management",
          "storage-deployment-ubuntu",
          "network-deployment-ubuntu",
          "bridging-interface-ubuntu",
          "bridging-automatic-ubuntu",
          "authenticate-api",
        ],
        version: "3.5.3",
        subversion: "",
      }),
    "anonymous",
  ],
});
// `version.read` reads better than `version.list` in stats.
for (const e of versionRes.endpoints.values()) e.name = "version.read";

const machinesRes = resource("machines", {
  "GET ": (c) => ok(machineList(c.region, c.region.list(c.query))),
  "GET list_allocated": (c) => ok(machineList(c.region, c.region.machines.filter((m) => m.owner === c.user))),
  "POST ": (c) => ok(renderMachine(c.region, c.region.create(c.body))),
  "POST allocate": (c) => {
    const r = c.region.allocate(c.body, c.user);
    return ok({ ...renderMachine(c.region, r.machine), constraints_by_type: r.constraintsByType });
  },
  "POST release": (c) => {
    const ids = c.body.all("machines");
    if (ids.length === 0) throw formFailure({ machines: ["This field is required."] });
    return ok(c.region.releaseMany(ids, c.body, c.user));
  },
});

const machineRes = resource("machine", {
  "GET ": (c) => ok(renderMachine(c.region, machine(c))),
  "PUT ": (c) => {
    const m = machine(c);
    c.region.update(m, c.body);
    return ok(renderMachine(c.region, m));
  },
  "DELETE ": (c) => {
    c.region.remove(machine(c));
    return { status: 204 };
  },
  "POST commission": (c) => {
    const m = machine(c);
    c.region.commission(m, c.body);
    return ok(renderMachine(c.region, m));
  },
  "POST deploy": (c) => {
    const m = machine(c);
    c.region.deploy(m, c.body, c.user);
    return ok(renderMachine(c.region, m));
  },
  "POST release": (c) => {
    const m = machine(c);
    c.region.release(m, c.body, c.user);
    return ok(renderMachine(c.region, m));
  },
  "POST abort": (c) => {
    const m = machine(c);
    c.region.abort(m, comment(c), c.user);
    return ok(renderMachine(c.region, m));
  },
  "POST mark_broken": (c) => {
    const m = machine(c);
    c.region.markBroken(m, comment(c), c.user);
    return ok(renderMachine(c.region, m));
  },
  "POST mark_fixed": (c) => {
    const m = machine(c);
    c.region.markFixed(m, comment(c), c.user);
    return ok(renderMachine(c.region, m));
  },
  "POST test": (c) => {
    const m = machine(c);
    c.region.test(m, comment(c), c.user);
    return ok(renderMachine(c.region, m));
  },
  "POST power_on": (c) => {
    const m = machine(c);
    c.region.powerOn(m);
    return ok(renderMachine(c.region, m));
  },
  "POST power_off": (c) => {
    const m = machine(c);
    c.region.powerOff(m);
    return ok(renderMachine(c.region, m));
  },
  "GET query_power_state": (c) => ok({ state: c.region.queryPowerState(machine(c)) }),
  "POST lock": (c) => {
    const m = machine(c);
    c.region.lock(m, true);
    return ok(renderMachine(c.region, m));
  },
  "POST unlock": (c) => {
    const m = machine(c);
    c.region.lock(m, false);
    return ok(renderMachine(c.region, m));
  },
});

const tagsRes = resource("tags", {
  "GET ": (c) => ok([...c.region.tags.values()].map(renderTag)),
  "POST ": (c) => ok(renderTag(c.region.createTag(c.body))),
});

const tag = (c: Call) => c.region.getTag(c.args[0] ?? "");

const tagRes = resource("tags", {
  "GET ": (c) => ok(renderTag(tag(c))),
  "PUT ": (c) => ok(renderTag(c.region.updateTag(tag(c), c.body))),
  "DELETE ": (c) => {
    c.region.deleteTag(tag(c));
    return { status: 204 };
  },
  "POST update_nodes": (c) => ok(c.region.updateTagNodes(tag(c), c.body.all("add"), c.body.all("remove"))),
  "GET machines": (c) => ok(machineList(c.region, c.region.machinesWithTag(tag(c)))),
  "GET nodes": (c) => ok(machineList(c.region, c.region.machinesWithTag(tag(c)))),
});
// Instance reads are "read", not "list", even though the prefix is plural.
for (const e of tagRes.endpoints.values()) if (e.name === "tags.list") e.name = "tags.read";

const eventsRes = resource("events", {
  "GET query": (c) => {
    const r = c.region.queryEvents(c.query);
    const uri = (q: Record<string, string | string[]>) => {
      const s = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : [v]) s.append(k, x);
      return `${API}/events/?${s.toString()}`;
    };
    return ok({ count: r.events.length, events: r.events.map(renderEvent), next_uri: uri(r.next), prev_uri: r.prev === null ? null : uri(r.prev) });
  },
});

const usersRes = resource("users", {
  "GET ": () => ok([renderUser()]),
  "GET whoami": () => ok(renderUser()),
});

const zonesRes = resource("zones", { "GET ": (c) => ok([...c.region.zones.values()].map(renderZone)) });
const zoneRes = resource("zones", {
  "GET ": (c) => {
    const z = c.region.zones.get(c.args[0] ?? "");
    if (z === undefined) throw textFailure(404, "No Zone matches the given query.");
    return ok(renderZone(z));
  },
});
for (const e of zoneRes.endpoints.values()) e.name = "zones.read";

const poolsRes = resource("resourcepools", { "GET ": (c) => ok([...c.region.pools.values()].map(renderPool)) });
const poolRes = resource("resourcepool", {
  "GET ": (c) => {
    const key = c.args[0] ?? "";
    const p = [...c.region.pools.values()].find((x) => String(x.id) === key || x.name === key);
    if (p === undefined) throw textFailure(404, "No ResourcePool matches the given query.");
    return ok(renderPool(p));
  },
});

const blockDevicesRes = resource("blockdevices", {
  "GET ": (c) => {
    const m = machine(c);
    const out: unknown[] = [];
    for (let i = 0; i < (m.hw?.disks.length ?? 0); i++) out.push(renderBlockDevice(c.region, m, i));
    return ok(out);
  },
});

function diskOp(present: boolean | null): Handler {
  return (c) => {
    const m = machine(c);
    const slot = c.region.diskSlot(m, Number(c.args[1]));
    if (present !== null) {
      const t = c.body.get("tag");
      if (t === undefined || t === "") throw formFailure({ tag: ["This field is required."] });
      c.region.setDiskTag(m, slot, t, present);
    }
    return ok(renderBlockDevice(c.region, m, slot));
  };
}

const blockDeviceRes = resource("blockdevices", {
  "GET ": diskOp(null),
  "POST add_tag": diskOp(true),
  "POST remove_tag": diskOp(false),
});
for (const e of blockDeviceRes.endpoints.values()) if (e.name === "blockdevices.list") e.name = "blockdevices.read";

/** Maps the path segments after /MAAS/api/2.0/ to a resource and its path parameters. */
export function resolve(segments: readonly string[]): Resolved | null {
  const [a, b, c, d, ...rest] = segments;
  if (rest.length > 0) return null;
  if (a === "version" && b === undefined) return { resource: versionRes, args: [] };
  if (a === "machines" && b === undefined) return { resource: machinesRes, args: [] };
  if (a === "machines" && b !== undefined && c === undefined) return { resource: machineRes, args: [b] };
  if (a === "tags" && b === undefined) return { resource: tagsRes, args: [] };
  if (a === "tags" && b !== undefined && c === undefined) return { resource: tagRes, args: [b] };
  if (a === "events" && b === undefined) return { resource: eventsRes, args: [] };
  if (a === "users" && b === undefined) return { resource: usersRes, args: [] };
  if (a === "zones" && b === undefined) return { resource: zonesRes, args: [] };
  if (a === "zones" && b !== undefined && c === undefined) return { resource: zoneRes, args: [b] };
  if (a === "resourcepools" && b === undefined) return { resource: poolsRes, args: [] };
  if (a === "resourcepool" && b !== undefined && c === undefined) return { resource: poolRes, args: [b] };
  if (a === "nodes" && b !== undefined && c === "blockdevices" && d === undefined) return { resource: blockDevicesRes, args: [b] };
  if (a === "nodes" && b !== undefined && c === "blockdevices" && d !== undefined) return { resource: blockDeviceRes, args: [b, d] };
  return null;
}

export function findEndpoint(resolved: Resolved, method: string, op: string): Endpoint | undefined {
  return resolved.resource.endpoints.get(`${method} ${op}`);
}

/** The body MAAS sends for a method/op the resource does not have. */
export function unrecognised(method: string, op: string): string {
  return `Unrecognised signature: method=${method} op=${op === "" ? "None" : op}`;
}

export { ADMIN_USER, Params };
