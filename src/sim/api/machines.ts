/**
 * Handlers for machines, tags, events, users, zones, resource pools and version
 * (maas-api.md; maas-network-storage.md §7 for set_owner_data, power_parameters,
 * details and restore_*). Handlers parse parameters, call the region model and render
 * JSON; MAAS's errors come from the model as SimulatedFailure.
 */
import { NodeStatus } from "../../maas/status.ts";
import { formFailure, textFailure } from "../errors.ts";
import type { MachineRecord, Region } from "../region.ts";
import { API, renderEvent, renderMachine, renderPool, renderTag, renderUser, renderZone } from "../render.ts";
import type { Call, HandlerDef, Reply } from "../routes.ts";
import { admin, machineOf, ok } from "./common.ts";
import { setStorageLayout } from "./storage.ts";


const LIST_CHUNK_CHARS = 256 * 1024;

/**
 * A list of machines as JSON, the same text `JSON.stringify` gives the array of rendered
 * machines, made one machine at a time into chunks of about 256 KB as they are written
 * (chunked transfer encoding, src/sim/server.ts): neither every rendered machine, nor the
 * whole text, nor every chunk of it is ever held (100,000 commissioned machines are about
 * 1.2 GB of JSON, past V8's longest string), and the first bytes leave at once, so a client
 * reading a 33,333-machine zone sees the answer coming instead of a silent socket. Each
 * machine is rendered as it is when its turn comes; the list of machines is the one
 * asked for when the request came.
 */
function machineList(region: Region, list: readonly MachineRecord[]): Reply {
  function* chunks(): Generator<Buffer> {
    let text = "[";
    for (let i = 0; i < list.length; i++) {
      text += (i === 0 ? "" : ",") + JSON.stringify(renderMachine(region, list[i] as MachineRecord));
      if (text.length >= LIST_CHUNK_CHARS) {
        yield Buffer.from(text);
        text = "";
      }
    }
    yield Buffer.from(text + "]");
  }
  return { status: 200, raw: { contentType: "application/json", body: chunks } };
}

function comment(c: Call): string {
  return c.body.get("comment") ?? "";
}

/** A machine op that changes the machine and answers with it. */
function machineOp(change: (c: Call, m: MachineRecord) => void): (c: Call) => Reply {
  return (c) => {
    const m = machineOf(c);
    change(c, m);
    return ok(renderMachine(c.region, m));
  };
}

const requireAdmin = admin;

/** The BMC parameters MAAS keeps for a machine (power_parameters, admin only). */
function powerParameters(region: Region, m: MachineRecord): Record<string, string> {
  if (m.powerType === "manual") return {};
  return {
    power_address: region.bmcAddress(m),
    power_user: "maas",
    power_pass: `sim-${region.diskSerial(m, 96).toLowerCase()}`,
    power_driver: "LAN_2_0",
    power_boot_type: "auto",
    privilege_level: "OPERATOR",
    cipher_suite_id: "3",
    k_g: "",
    mac_address: "",
  };
}

/** A BSON document of binary (or null) values, as `details` answers (`application/bson`, §7). */
export function bsonDocument(values: Record<string, Buffer | null>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(values)) {
    const name = Buffer.concat([Buffer.from(k, "utf8"), Buffer.from([0])]);
    if (v === null) parts.push(Buffer.from([0x0a]), name);
    else {
      const len = Buffer.alloc(4);
      len.writeInt32LE(v.length);
      parts.push(Buffer.from([0x05]), name, len, Buffer.from([0x00]), v);
    }
  }
  const body = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32LE(body.length + 5);
  return Buffer.concat([size, body, Buffer.from([0])]);
}

function lshw(region: Region, m: MachineRecord): Buffer {
  const hw = m.hw;
  if (hw === null) return Buffer.from('<?xml version="1.0" standalone="yes" ?>\n<list/>\n');
  return Buffer.from(
    `<?xml version="1.0" standalone="yes" ?>\n<list>\n<node id="${m.hostname}" class="system">\n <vendor>${hw.vendor}</vendor>\n <product>${hw.product}</product>\n <serial>${region.diskSerial(m, 99)}</serial>\n` +
      ` <node id="core" class="bus">\n  <node id="cpu" class="processor"><product>${hw.cpuModel}</product><size units="Hz">${hw.cpuSpeedMhz * 1e6}</size></node>\n  <node id="memory" class="memory"><size units="bytes">${hw.memoryMib * 1048576}</size></node>\n </node>\n</node>\n</list>\n`,
  );
}

// §4: restore_* need Ready or Failed testing.
function restore(what: "networking" | "storage" | "default"): (c: Call) => Reply {
  const text = { networking: "restore networking configuration", storage: "restore storage configuration.", default: "restore default networking and storage configuration." }[what];
  return machineOp((c, m) => {
    requireAdmin(c);
    if (m.status !== NodeStatus.READY && m.status !== NodeStatus.FAILED_TESTING) throw textFailure(409, `Machine must be in a ready or failed testing state to ${text}`);
    if (what !== "storage") c.region.resetNetworking(m);
    if (what !== "networking") c.region.resetStorage(m);
  });
}

export const versionHandler: HandlerDef = {
  name: "VersionHandler",
  doc: "Information about this MAAS instance.",
  path: "version/",
  stats: "version",
  collection: false,
  anonymous: true,
  actions: [
    {
      method: "GET",
      op: null,
      doc: "Version and capabilities of this MAAS instance.",
      // No `authenticate-api`: the simulator serves no accounts/authenticate/ (maas-api.md "URLs and operations").
      handler: () =>
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
          ],
          version: "3.5.3",
          subversion: "",
        }),
    },
  ],
};

export const machinesHandler: HandlerDef = {
  name: "MachinesHandler",
  doc: "Manage the collection of all the machines in the MAAS.",
  path: "machines/",
  stats: "machines",
  collection: true,
  actions: [
    { method: "GET", op: null, doc: "List machines visible to the user, optionally filtered by criteria.", handler: (c) => machineList(c.region, c.region.list(c.query)) },
    { method: "GET", op: "list_allocated", doc: "Fetch machines that were allocated to the user/oauth token.", handler: (c) => machineList(c.region, c.region.machines.filter((m) => m.owner === c.user)) },
    { method: "POST", op: null, doc: "Create a new machine.", handler: (c) => ok(renderMachine(c.region, c.region.create(c.body))) },
    {
      method: "POST",
      op: "allocate",
      doc: "Allocate an available machine for deployment.",
      handler: (c) => {
        const r = c.region.allocate(c.body, c.user);
        return ok({ ...renderMachine(c.region, r.machine), constraints_by_type: r.constraintsByType });
      },
    },
    {
      method: "POST",
      op: "release",
      doc: "Release multiple machines.",
      handler: (c) => {
        const ids = c.body.all("machines");
        if (ids.length === 0) throw formFailure({ machines: ["This field is required."] });
        return ok(c.region.releaseMany(ids, c.body, c.user));
      },
    },
    {
      method: "GET",
      op: "power_parameters",
      doc: "Get power parameters for multiple machines.",
      handler: (c) => {
        requireAdmin(c);
        const ids = c.query.all("id");
        const list = ids.length > 0 ? ids.map((id) => c.region.bySystemId.get(id)).filter((m): m is MachineRecord => m !== undefined && !m.deleted) : c.region.machines;
        return ok(Object.fromEntries(list.map((m) => [m.systemId, powerParameters(c.region, m)])));
      },
    },
  ],
};

export const machineHandler: HandlerDef = {
  name: "MachineHandler",
  doc: "Manage an individual machine.",
  path: "machines/{system_id}/",
  stats: "machine",
  collection: false,
  actions: [
    { method: "GET", op: null, doc: "Reads a node with the given system_id.", handler: (c) => ok(renderMachine(c.region, machineOf(c))) },
    { method: "PUT", op: null, doc: "Updates a machine with the given system_id.", handler: machineOp((c, m) => c.region.update(m, c.body)) },
    {
      method: "DELETE",
      op: null,
      doc: "Deletes a machine with the given system_id.",
      handler: (c) => {
        c.region.remove(machineOf(c));
        return { status: 204 };
      },
    },
    { method: "POST", op: "commission", doc: "Begin commissioning process for a machine.", handler: machineOp((c, m) => c.region.commission(m, c.body)) },
    { method: "POST", op: "deploy", doc: "Deploy an operating system to a machine.", handler: machineOp((c, m) => c.region.deploy(m, c.body, c.user)) },
    { method: "POST", op: "release", doc: "Release a machine.", handler: machineOp((c, m) => void c.region.release(m, c.body, c.user)) },
    { method: "POST", op: "abort", doc: "Abort a machine's current operation.", handler: machineOp((c, m) => c.region.abort(m, comment(c), c.user)) },
    { method: "POST", op: "mark_broken", doc: "Mark a machine as 'Broken'.", handler: machineOp((c, m) => c.region.markBroken(m, comment(c), c.user)) },
    { method: "POST", op: "mark_fixed", doc: "Mark a broken machine as fixed.", handler: machineOp((c, m) => c.region.markFixed(m, comment(c), c.user)) },
    { method: "POST", op: "test", doc: "Begin testing process for a machine.", handler: machineOp((c, m) => c.region.test(m, comment(c), c.user)) },
    { method: "POST", op: "power_on", doc: "Turn on a machine.", handler: machineOp((c, m) => c.region.powerOn(m)) },
    { method: "POST", op: "power_off", doc: "Power off a machine.", handler: machineOp((c, m) => c.region.powerOff(m)) },
    { method: "GET", op: "query_power_state", doc: "Query the power state of a machine.", handler: (c) => ok({ state: c.region.queryPowerState(machineOf(c)) }) },
    { method: "POST", op: "lock", doc: "Mark a machine as 'Locked' to prevent changes.", handler: machineOp((c, m) => c.region.lock(m, true)) },
    { method: "POST", op: "unlock", doc: "Mark a machine as 'Unlocked' to allow changes.", handler: machineOp((c, m) => c.region.lock(m, false)) },
    {
      method: "POST",
      op: "set_owner_data",
      doc: "Deprecated, use set-workload-annotations instead.",
      handler: machineOp((c, m) => setOwnerData(c, m)),
    },
    {
      method: "POST",
      op: "set_workload_annotations",
      doc: "Set key=value data for the current owner.",
      handler: machineOp((c, m) => setOwnerData(c, m)),
    },
    {
      method: "GET",
      op: "power_parameters",
      doc: "Get power parameters",
      handler: (c) => {
        requireAdmin(c);
        return ok(powerParameters(c.region, machineOf(c)));
      },
    },
    {
      method: "GET",
      op: "details",
      doc: "Get system details",
      handler: (c) => {
        const m = machineOf(c);
        return { status: 200, raw: { contentType: "application/bson", body: bsonDocument({ lshw: lshw(c.region, m), lldp: null }) } };
      },
    },
    { method: "POST", op: "restore_networking_configuration", doc: "Restore networking options to their initial state.", handler: restore("networking") },
    { method: "POST", op: "restore_storage_configuration", doc: "Restore storage configuration to its initial state.", handler: restore("storage") },
    { method: "POST", op: "restore_default_configuration", doc: "Restore machine configuration to its initial state.", handler: restore("default") },
    { method: "POST", op: "set_storage_layout", doc: "Changes the storage layout on machine.", handler: machineOp((c, m) => setStorageLayout(c, m)) },
  ],
};

/** set_owner_data: the owner's key=value pairs, an empty value deletes the key (§7, §4). */
function setOwnerData(c: Call, m: MachineRecord): void {
  if (m.owner === null || m.owner !== c.user) throw textFailure(409, "Cannot set workload annotation: it hasn't been acquired.");
  for (const k of c.body.keys()) {
    if (k === "op") continue;
    const v = c.body.get(k) ?? "";
    if (v === "") delete m.ownerData[k];
    else m.ownerData[k] = v;
  }
}

const tagOf = (c: Call) => c.region.getTag(c.args[0] ?? "");

export const tagsHandler: HandlerDef = {
  name: "TagsHandler",
  doc: "Manage all tags known to MAAS.",
  path: "tags/",
  stats: "tags",
  collection: true,
  actions: [
    { method: "GET", op: null, doc: "List all tags.", handler: (c) => ok([...c.region.tags.values()].map(renderTag)) },
    { method: "POST", op: null, doc: "Create a new tag.", handler: (c) => ok(renderTag(c.region.createTag(c.body))) },
  ],
};

export const tagHandler: HandlerDef = {
  name: "TagHandler",
  doc: "Tags are properties that can be associated with a Node and serve as criteria for selecting and allocating nodes.",
  path: "tags/{name}/",
  stats: "tags",
  collection: false,
  actions: [
    { method: "GET", op: null, doc: "Read a specific Tag.", handler: (c) => ok(renderTag(tagOf(c))) },
    { method: "PUT", op: null, doc: "Update elements of a given tag.", handler: (c) => ok(renderTag(c.region.updateTag(tagOf(c), c.body))) },
    {
      method: "DELETE",
      op: null,
      doc: "Deletes a tag by name.",
      handler: (c) => {
        c.region.deleteTag(tagOf(c));
        return { status: 204 };
      },
    },
    { method: "POST", op: "update_nodes", doc: "Add or remove nodes being associated with this tag.", handler: (c) => ok(c.region.updateTagNodes(tagOf(c), c.body.all("add"), c.body.all("remove"))) },
    { method: "GET", op: "machines", doc: "Get a JSON list containing machine objects that match the given tag name.", handler: (c) => machineList(c.region, c.region.machinesWithTag(tagOf(c))) },
    { method: "GET", op: "nodes", doc: "Get a JSON list containing node objects that match the given tag name.", handler: (c) => machineList(c.region, c.region.machinesWithTag(tagOf(c))) },
  ],
};

export const eventsHandler: HandlerDef = {
  name: "EventsHandler",
  doc: "Retrieve filtered node events.",
  path: "events/",
  stats: "events",
  collection: true,
  actions: [
    {
      method: "GET",
      op: "query",
      doc: "List node events, optionally filtered by various criteria via URL query parameters.",
      handler: (c) => {
        const r = c.region.queryEvents(c.query);
        const uri = (q: Record<string, string | string[]>) => {
          const s = new URLSearchParams();
          for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : [v]) s.append(k, x);
          return `${API}/events/?${s.toString()}`;
        };
        return ok({ count: r.events.length, events: r.events.map(renderEvent), next_uri: uri(r.next), prev_uri: r.prev === null ? null : uri(r.prev) });
      },
    },
  ],
};

export const usersHandler: HandlerDef = {
  name: "UsersHandler",
  doc: "Manage the user accounts of this MAAS.",
  path: "users/",
  stats: "users",
  collection: true,
  actions: [
    { method: "GET", op: null, doc: "List users.", handler: () => ok([renderUser()]) },
    { method: "GET", op: "whoami", doc: "Returns the currently logged in user.", handler: () => ok(renderUser()) },
  ],
};

export const zonesHandler: HandlerDef = {
  name: "ZonesHandler",
  doc: "Manage physical zones.",
  path: "zones/",
  stats: "zones",
  collection: true,
  actions: [{ method: "GET", op: null, doc: "List all zones.", handler: (c) => ok([...c.region.zones.values()].map(renderZone)) }],
};

export const zoneHandler: HandlerDef = {
  name: "ZoneHandler",
  doc: "Manage a physical zone.",
  path: "zones/{name}/",
  stats: "zones",
  collection: false,
  actions: [
    {
      method: "GET",
      op: null,
      doc: "Get a specific zone.",
      handler: (c) => {
        const z = c.region.zones.get(c.args[0] ?? "");
        if (z === undefined) throw textFailure(404, "No Zone matches the given query.");
        return ok(renderZone(z));
      },
    },
  ],
};

export const poolsHandler: HandlerDef = {
  name: "ResourcePoolsHandler",
  doc: "Manage resource pools.",
  path: "resourcepools/",
  stats: "resourcepools",
  collection: true,
  actions: [{ method: "GET", op: null, doc: "Get a listing of all resource pools.", handler: (c) => ok([...c.region.pools.values()].map(renderPool)) }],
};

export const poolHandler: HandlerDef = {
  name: "ResourcePoolHandler",
  doc: "Manage a resource pool.",
  path: "resourcepool/{id}/",
  stats: "resourcepool",
  collection: false,
  actions: [
    {
      method: "GET",
      op: null,
      doc: "Returns a resource pool.",
      handler: (c) => {
        const key = c.args[0] ?? "";
        const p = [...c.region.pools.values()].find((x) => String(x.id) === key || x.name === key);
        if (p === undefined) throw textFailure(404, "No ResourcePool matches the given query.");
        return ok(renderPool(p));
      },
    },
  ],
};
