/**
 * The watch's view of a model, built purely from the controller's answers: from a
 * Client.FullStatus result (the schema's FullStatus: machines, applications with nested
 * units and subordinates, relations, remote-applications) and from AllWatcher deltas
 * (`[kind, "change"|"remove", entity]`, entity keys of Juju's multiwatcher:
 * ../shared/reference/juju-layering.md §4b). No I/O. A malformed answer throws
 * JUJU_BAD_ANSWER naming the kind and the key at fault; kinds the view does not keep
 * (annotation, block, action, charm, applicationOffer) are skipped.
 */
import { JujuWatchError, MACHINE_AGENT_STATUSES, UNIT_AGENT_STATUSES, WORKLOAD_STATUSES } from "./port.ts";
import type { JujuStatusValue, JujuView, Life, UnitErrorEvent, WatchedApplication, WatchedMachine, WatchedRelation, WatchedRelationEnd, WatchedRemoteApplication, WatchedUnit } from "./port.ts";

type Obj = Record<string, unknown>;

/** A mutable view under construction; frozen into a JujuView by `snapshot`. */
export interface ViewState {
  modelUuid: string;
  modelName: string;
  machines: Map<string, WatchedMachine>;
  applications: Map<string, WatchedApplication>;
  units: Map<string, WatchedUnit>;
  relations: Map<string, WatchedRelation>;
  remoteApplications: Map<string, WatchedRemoteApplication>;
  revision: number;
}

export function emptyState(modelUuid: string): ViewState {
  return { modelUuid, modelName: "", machines: new Map(), applications: new Map(), units: new Map(), relations: new Map(), remoteApplications: new Map(), revision: 0 };
}

export function snapshot(s: ViewState): JujuView {
  return Object.freeze({
    modelUuid: s.modelUuid,
    modelName: s.modelName,
    machines: new Map(s.machines),
    applications: new Map(s.applications),
    units: new Map(s.units),
    relations: new Map(s.relations),
    remoteApplications: new Map(s.remoteApplications),
    revision: s.revision,
  });
}

export function cloneState(v: JujuView): ViewState {
  return { modelUuid: v.modelUuid, modelName: v.modelName, machines: new Map(v.machines), applications: new Map(v.applications), units: new Map(v.units), relations: new Map(v.relations), remoteApplications: new Map(v.remoteApplications), revision: v.revision };
}

const bad = (what: string, why: string) => new JujuWatchError("JUJU_BAD_ANSWER", {}, `${what}: ${why}`);

function obj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(what, `expected an object, got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v as Obj;
}

function str(o: Obj, key: string, what: string, required = false): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw bad(what, `missing "${key}"`);
    return "";
  }
  if (typeof v !== "string") throw bad(what, `"${key}" is not a string`);
  return v;
}

function bool(o: Obj, key: string, what: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw bad(what, `"${key}" is not a boolean`);
  return v;
}

function life(o: Obj, key: string, what: string): Life {
  const v = str(o, key, what);
  // FullStatus leaves life empty for a live entity.
  if (v === "" || v === "alive") return "alive";
  if (v === "dying" || v === "dead") return v;
  throw bad(what, `"${key}" is ${JSON.stringify(v)}, not alive, dying or dead`);
}

function closed<S extends string>(known: readonly S[], fallback: S, reported: string): S {
  return (known as readonly string[]).includes(reported) ? (reported as S) : fallback;
}

/** A multiwatcher status `{current, message, since}`. */
function watched<S extends string>(v: unknown, known: readonly S[], fallback: S, what: string): JujuStatusValue<S> {
  const o = obj(v ?? {}, what);
  const reported = str(o, "current", what);
  return { current: closed(known, fallback, reported), reported, message: str(o, "message", what), since: str(o, "since", what) };
}

/** A FullStatus DetailedStatus `{status, info, since}`. */
function detailed<S extends string>(v: unknown, known: readonly S[], fallback: S, what: string): JujuStatusValue<S> {
  const o = obj(v ?? {}, what);
  const reported = str(o, "status", what);
  return { current: closed(known, fallback, reported), reported, message: str(o, "info", what), since: str(o, "since", what) };
}

const ROLES: Record<string, WatchedRelationEnd["role"]> = { provider: "provider", requirer: "requirer", peer: "peer" };
function role(v: string, what: string): WatchedRelationEnd["role"] {
  const r = ROLES[v];
  if (r === undefined) throw bad(what, `relation role ${JSON.stringify(v)} is not provider, requirer or peer`);
  return r;
}

function scope(v: string, what: string): WatchedRelation["scope"] {
  if (v === "" || v === "global") return "global";
  if (v === "container") return v;
  throw bad(what, `relation scope ${JSON.stringify(v)} is not global or container`);
}

// ---------------------------------------------------------------------------------------
// FullStatus

/** The view of a Client.FullStatus result. */
export function fromFullStatus(modelUuid: string, fs: unknown): ViewState {
  const s = emptyState(modelUuid);
  const root = obj(fs, "FullStatus");
  s.modelName = str(obj(root["model"] ?? {}, "FullStatus.model"), "name", "FullStatus.model");
  for (const [id, raw] of Object.entries(obj(root["machines"] ?? {}, "FullStatus.machines"))) {
    const what = `FullStatus machine ${id}`;
    const m = obj(raw, what);
    const agent = obj(m["agent-status"] ?? {}, what);
    const ips = m["ip-addresses"];
    const addresses = Array.isArray(ips) ? ips.map(String) : [];
    const dns = str(m, "dns-name", what);
    if (dns !== "" && !addresses.includes(dns)) addresses.unshift(dns);
    const inst = detailed(m["instance-status"], [] as string[], "", what);
    s.machines.set(id, {
      id,
      instanceId: str(m, "instance-id", what) === "pending" ? "" : str(m, "instance-id", what),
      agentStatus: detailed(agent, MACHINE_AGENT_STATUSES, "pending", what),
      instanceStatus: { current: inst.reported, message: inst.message, since: inst.since },
      life: life(agent, "life", what),
      addresses,
      hostname: str(m, "hostname", what),
      hasVote: bool(m, "has-vote", what),
      wantsVote: bool(m, "wants-vote", what),
    });
  }
  for (const [name, raw] of Object.entries(obj(root["applications"] ?? {}, "FullStatus.applications"))) {
    const what = `FullStatus application ${name}`;
    const a = obj(raw, what);
    const subTo = a["subordinate-to"];
    const subordinate = Array.isArray(subTo) && subTo.length > 0;
    s.applications.set(name, { name, charmUrl: str(a, "charm", what), life: life(a, "life", what), subordinate, status: detailed(a["status"], WORKLOAD_STATUSES, "unknown", what) });
    for (const [un, uraw] of Object.entries(obj(a["units"] ?? {}, `${what}.units`))) {
      const u = obj(uraw, `FullStatus unit ${un}`);
      const machine = str(u, "machine", `FullStatus unit ${un}`);
      s.units.set(un, unitFromStatus(un, u, machine, "", subordinate));
      for (const [sn, sraw] of Object.entries(obj(u["subordinates"] ?? {}, `FullStatus unit ${un}.subordinates`))) {
        s.units.set(sn, unitFromStatus(sn, obj(sraw, `FullStatus unit ${sn}`), machine, un, true));
      }
    }
  }
  for (const [name, raw] of Object.entries(obj(root["remote-applications"] ?? {}, "FullStatus.remote-applications"))) {
    const what = `FullStatus remote application ${name}`;
    const r = obj(raw, what);
    s.remoteApplications.set(name, { name, offerUrl: str(r, "offer-url", what), life: life(r, "life", what), status: detailed(r["status"], WORKLOAD_STATUSES, "unknown", what) });
  }
  const rels = root["relations"] ?? [];
  if (!Array.isArray(rels)) throw bad("FullStatus.relations", "expected an array");
  for (const raw of rels) {
    const r = obj(raw, "FullStatus relation");
    const key = str(r, "key", "FullStatus relation", true);
    const what = `FullStatus relation ${key}`;
    const eps = Array.isArray(r["endpoints"]) ? (r["endpoints"] as unknown[]) : [];
    const iface = str(r, "interface", what);
    s.relations.set(key, {
      key,
      id: Number(r["id"] ?? 0),
      scope: scope(str(r, "scope", what), what),
      endpoints: eps.map((e) => {
        const o = obj(e, what);
        return { application: str(o, "application", what), endpoint: str(o, "name", what), role: role(str(o, "role", what), what), interface: iface };
      }),
    });
  }
  return s;
}

function unitFromStatus(name: string, u: Obj, machine: string, principal: string, subordinate: boolean): WatchedUnit {
  const what = `FullStatus unit ${name}`;
  const wl = obj(u["workload-status"] ?? {}, what);
  return {
    name,
    application: name.split("/")[0] ?? "",
    machine,
    principal,
    subordinate,
    life: life(wl, "life", what),
    publicAddress: str(u, "public-address", what) || str(u, "address", what),
    workload: detailed(wl, WORKLOAD_STATUSES, "unknown", what),
    agent: detailed(u["agent-status"], UNIT_AGENT_STATUSES, "allocating", what),
  };
}

// ---------------------------------------------------------------------------------------
// AllWatcher deltas

/**
 * Applies one Next answer's deltas to `s` (in place, one revision). Returns the unit-error
 * events it causes: a unit whose workload status became `error` (it was not before).
 */
export function applyDeltas(s: ViewState, deltas: unknown): UnitErrorEvent[] {
  if (!Array.isArray(deltas)) throw bad("AllWatcher.Next", '"deltas" is not an array');
  const before = new Map<string, string>();
  for (const d of deltas) {
    if (!Array.isArray(d) || d.length !== 3 || typeof d[0] !== "string" || (d[1] !== "change" && d[1] !== "remove")) throw bad("AllWatcher delta", `expected [kind, "change"|"remove", entity], got ${JSON.stringify(d)?.slice(0, 120)}`);
    const [kind, op] = d as [string, "change" | "remove", unknown];
    const e = obj(d[2], `AllWatcher ${kind} delta`);
    applyOne(s, kind, op, e, before);
  }
  s.revision++;
  return unitErrors(s, before);
}

function applyOne(s: ViewState, kind: string, op: "change" | "remove", e: Obj, before: Map<string, string>): void {
  const what = `AllWatcher ${kind} delta`;
  switch (kind) {
    case "model":
      if (op === "change") s.modelName = str(e, "name", what);
      return;
    case "machine": {
      const id = str(e, "id", what, true);
      if (op === "remove") return void s.machines.delete(id);
      const inst = obj(e["instance-status"] ?? {}, what);
      const addrs = Array.isArray(e["addresses"]) ? (e["addresses"] as unknown[]) : [];
      s.machines.set(id, {
        id,
        instanceId: str(e, "instance-id", what),
        agentStatus: watched(e["agent-status"], MACHINE_AGENT_STATUSES, "pending", what),
        instanceStatus: { current: str(inst, "current", what), message: str(inst, "message", what), since: str(inst, "since", what) },
        life: life(e, "life", what),
        addresses: addrs.map((a) => str(obj(a, what), "value", what)),
        hostname: str(e, "hostname", what),
        hasVote: bool(e, "has-vote", what),
        wantsVote: bool(e, "wants-vote", what),
      });
      return;
    }
    case "application": {
      const name = str(e, "name", what, true);
      if (op === "remove") return void s.applications.delete(name);
      s.applications.set(name, { name, charmUrl: str(e, "charm-url", what), life: life(e, "life", what), subordinate: bool(e, "subordinate", what), status: watched(e["status"], WORKLOAD_STATUSES, "unknown", what) });
      return;
    }
    case "unit": {
      const name = str(e, "name", what, true);
      if (!before.has(name)) before.set(name, s.units.get(name)?.workload.current ?? "");
      if (op === "remove") return void s.units.delete(name);
      s.units.set(name, {
        name,
        application: str(e, "application", what) || (name.split("/")[0] ?? ""),
        machine: str(e, "machine-id", what),
        principal: str(e, "principal", what),
        subordinate: bool(e, "subordinate", what),
        life: life(e, "life", what),
        publicAddress: str(e, "public-address", what),
        workload: watched(e["workload-status"], WORKLOAD_STATUSES, "unknown", what),
        agent: watched(e["agent-status"], UNIT_AGENT_STATUSES, "allocating", what),
      });
      return;
    }
    case "relation": {
      const key = str(e, "key", what, true);
      if (op === "remove") return void s.relations.delete(key);
      const eps = Array.isArray(e["endpoints"]) ? (e["endpoints"] as unknown[]) : [];
      let sc: WatchedRelation["scope"] = "global";
      const endpoints = eps.map((x) => {
        const o = obj(x, what);
        const rel = obj(o["relation"] ?? {}, what);
        sc = scope(str(rel, "scope", what), what);
        return { application: str(o, "application-name", what), endpoint: str(rel, "name", what), role: role(str(rel, "role", what), what), interface: str(rel, "interface", what) };
      });
      s.relations.set(key, { key, id: Number(e["id"] ?? 0), scope: sc, endpoints });
      return;
    }
    case "remoteApplication": {
      const name = str(e, "name", what, true);
      if (op === "remove") return void s.remoteApplications.delete(name);
      s.remoteApplications.set(name, { name, offerUrl: str(e, "offer-url", what), life: life(e, "life", what), status: watched(e["status"], WORKLOAD_STATUSES, "unknown", what) });
      return;
    }
    default:
      // Kinds the view does not keep (annotation, block, action, charm, applicationOffer),
      // and any kind a newer controller adds.
      return;
  }
}

/** Units in error now whose workload status before (by name; "" = absent) was not error. */
export function unitErrors(s: ViewState, before: ReadonlyMap<string, string>): UnitErrorEvent[] {
  const out: UnitErrorEvent[] = [];
  for (const [name, was] of before) {
    const u = s.units.get(name);
    if (u === undefined || u.workload.current !== "error" || was === "error") continue;
    out.push(errorEvent(s, u));
  }
  return out;
}

export function errorEvent(s: ViewState, u: WatchedUnit): UnitErrorEvent {
  return { type: "unit-error", unit: u.name, application: u.application, machine: u.machine, instanceId: s.machines.get(u.machine)?.instanceId ?? "", status: "error", message: u.workload.message, since: u.workload.since };
}

/** Unit-error events between two whole views (a resync): units in error in `next` that were not in `prev`. */
export function errorsBetween(prev: ViewState | undefined, next: ViewState): UnitErrorEvent[] {
  const before = new Map<string, string>();
  for (const name of next.units.keys()) before.set(name, prev?.units.get(name)?.workload.current ?? "");
  return unitErrors(next, before);
}
