/**
 * The controller API's views of a model: FullStatus (Client facade, in the shapes of the
 * facade schema's FullStatus definitions) and the AllWatcher's entities (kinds and keys of
 * the multiwatcher, juju-layering.md §4b: machine, unit, application, relation,
 * remoteApplication, applicationOffer, model).
 */
import { JUJU_VERSION } from "./controller.ts";
import type { JujuWorld } from "./controller.ts";
import type { EndpointRole } from "./charms.ts";
import { kubeServiceAddress } from "./render.ts";
import type { StatusReader, StatusValue } from "./status.ts";
import type { JujuController, JujuMachine, JujuModel } from "./types.ts";

export type Entity = Record<string, unknown>;

const iso = (ms: number) => new Date(ms).toISOString();

/** A DetailedStatus (FullStatus). */
function detailed(s: StatusValue, kind: string, version = "", life = ""): Record<string, unknown> {
  return { status: s.current, info: s.message, data: {}, since: iso(s.since), kind, version, life };
}

/** A status as the multiwatcher carries it. */
function watched(s: StatusValue, version = ""): Record<string, unknown> {
  return { current: s.current, message: s.message, since: iso(s.since), version };
}

const baseOf = (b: string) => {
  const [name = "ubuntu", channel = "24.04"] = b.split("@");
  return { name, channel };
};

/**
 * An endpoint's role as the API carries it: Juju's charm RelationRole values `requirer`,
 * `provider`, `peer` (charm metadata's sections are `requires`/`provides`/`peers`).
 */
export function apiRole(r: EndpointRole | undefined): string {
  switch (r) {
    case "requires":
      return "requirer";
    case "provides":
      return "provider";
    case "peers":
      return "peer";
    case undefined:
      return "";
  }
}

const charmUrl = (name: string, rev: number) => `ch:amd64/${name}-${rev}`;

function relationKey(r: JujuModel["relations"][number]): string {
  return r.ends.map((e) => `${e.app}:${e.endpoint}`).sort().join(" ");
}

function machineStatus(r: StatusReader, m: JujuModel, mm: JujuMachine): Record<string, unknown> {
  const h = mm.host;
  const space = (cidr: string) => [...m.spaces.values()].find((s) => s.cidrs.includes(cidr))?.name ?? "";
  return {
    "agent-status": detailed(r.machineAgent(mm), "machine", h ? JUJU_VERSION : "", mm.life),
    "instance-status": detailed(r.machineInstance(mm), "instance"),
    "modification-status": detailed({ current: "idle", message: "", since: mm.createdAt }, "machine"),
    "dns-name": h?.address ?? "",
    "ip-addresses": (h?.interfaces ?? []).map((i) => i.address),
    "instance-id": mm.instanceId || "pending",
    "display-name": "",
    base: baseOf(mm.base),
    id: mm.id,
    containers: {},
    constraints: mm.constraints,
    hardware: h ? "arch=amd64 cores=16 mem=65536M" : "",
    jobs: [...mm.jobs],
    "has-vote": r.hasVote(mm),
    "wants-vote": mm.wantsVoteSince !== undefined,
    hostname: h?.hostname ?? "",
    "network-interfaces": Object.fromEntries((h?.interfaces ?? []).map((i) => [i.name, { "ip-addresses": [i.address], "mac-address": i.mac, gateway: "", "dns-nameservers": [], space: space(i.cidr), "is-up": true }])),
  };
}

export function fullStatus(w: JujuWorld, r: StatusReader, c: JujuController, m: JujuModel): Record<string, unknown> {
  const applications: Record<string, unknown> = {};
  for (const app of m.apps.values()) {
    const views = r.units(m, app);
    const unitStatus = (v: (typeof views)[number], subs: Record<string, unknown>) => ({
      "agent-status": detailed(v.agent, "agent", JUJU_VERSION),
      "workload-status": detailed(v.workload, "workload"),
      "workload-version": app.charm.version,
      machine: v.unit.machine ?? "",
      "opened-ports": [],
      "public-address": m.type === "iaas" ? v.unit.address : "",
      ...(m.type === "caas" ? { address: v.unit.address } : {}),
      charm: "",
      subordinates: subs,
      leader: v.leader,
    });
    const units: Record<string, unknown> = {};
    if (!app.charm.subordinate) {
      for (const v of views) {
        const subs: Record<string, unknown> = {};
        for (const a of m.apps.values()) if (a.charm.subordinate) for (const su of r.units(m, a)) if (su.unit.principal === v.unit.name) subs[su.unit.name] = unitStatus(su, {});
        units[v.unit.name] = unitStatus(v, subs);
      }
    }
    const relations: Record<string, string[]> = {};
    for (const rel of m.relations) for (const [mine, other] of [[rel.ends[0], rel.ends[1]], [rel.ends[1], rel.ends[0]]] as const) if (mine.app === app.name) (relations[mine.endpoint] ??= []).push(other.app);
    applications[app.name] = {
      charm: charmUrl(app.charm.name, app.revision),
      "charm-version": "",
      "charm-profile": "",
      "charm-channel": app.channel,
      base: baseOf(app.base),
      exposed: false,
      life: "",
      relations,
      "can-upgrade-to": "",
      "subordinate-to": app.charm.subordinate ? [...new Set(m.relations.filter((x) => x.scope === "container" && x.ends.some((e) => e.app === app.name)).map((x) => (x.ends[0].app === app.name ? x.ends[1].app : x.ends[0].app)))] : [],
      units,
      "meter-statuses": {},
      status: detailed(r.application(m, app), "application"),
      "workload-version": app.charm.version,
      "endpoint-bindings": app.bindings,
      "public-address": m.type === "caas" ? kubeServiceAddress(m, app.name) : "",
      ...(m.type === "caas" ? { int: app.units.size } : {}),
    };
  }
  const remote: Record<string, unknown> = {};
  for (const ra of m.remoteApps.values()) {
    const src = w.modelByUuid(ra.modelUuid);
    const offer = src?.m.offers.get(ra.offer);
    const app = offer ? src?.m.apps.get(offer.app) : undefined;
    const relations: Record<string, string[]> = {};
    for (const rel of m.relations) for (const [mine, other] of [[rel.ends[0], rel.ends[1]], [rel.ends[1], rel.ends[0]]] as const) if (mine.app === ra.alias) (relations[mine.endpoint] ??= []).push(other.app);
    remote[ra.alias] = {
      "offer-url": ra.url,
      "offer-name": ra.offer,
      endpoints: (offer?.endpoints ?? []).map((e) => ({ name: e, role: apiRole(app?.charm.endpoints.find((x) => x.name === e)?.role), interface: app?.charm.endpoints.find((x) => x.name === e)?.interface ?? "", limit: 0 })),
      life: "",
      relations,
      status: detailed(r.remote(m, ra.alias), "saas"),
    };
  }
  const offers: Record<string, unknown> = {};
  for (const o of m.offers.values()) {
    const app = m.apps.get(o.app);
    const n = w.offerConnections(c, m, o.name).length;
    offers[o.name] = { "offer-name": o.name, "application-name": o.app, charm: app ? charmUrl(app.charm.name, app.revision) : "", endpoints: Object.fromEntries(o.endpoints.map((e) => [e, { name: e, role: apiRole(app?.charm.endpoints.find((x) => x.name === e)?.role), interface: app?.charm.endpoints.find((x) => x.name === e)?.interface ?? "", limit: 0 }])), "active-connected-count": n, "total-connected-count": n };
  }
  return {
    model: { name: m.name, type: m.type, "cloud-tag": `cloud-${m.cloud}`, region: m.region, version: JUJU_VERSION, "available-version": "", "model-status": detailed({ current: "available", message: "", since: m.createdAt }, "model"), "meter-status": { color: "", message: "" }, sla: "unsupported" },
    machines: Object.fromEntries([...m.machines.values()].map((mm) => [mm.id, machineStatus(r, m, mm)])),
    applications,
    "remote-applications": remote,
    offers,
    relations: m.relations.map((rel) => ({ id: rel.id, key: relationKey(rel), interface: rel.ends[0].interface, scope: rel.scope, endpoints: rel.ends.map((e) => ({ application: e.app, name: e.endpoint, role: apiRole(e.role), subordinate: m.apps.get(e.app)?.charm.subordinate === true })), status: detailed({ current: "joined", message: "", since: rel.createdAt }, "relation") })),
    "controller-timestamp": iso(r.now),
    branches: {},
  };
}

/** Every entity of a model as the AllWatcher carries it, by `<kind>|<id>`. */
export function entities(w: JujuWorld, r: StatusReader, c: JujuController, m: JujuModel): Map<string, { kind: string; entity: Entity }> {
  const out = new Map<string, { kind: string; entity: Entity }>();
  const put = (kind: string, id: string, entity: Entity) => out.set(`${kind}|${id}`, { kind, entity: { "model-uuid": m.uuid, ...entity } });
  put("model", m.uuid, { name: m.name, life: "alive", owner: "admin", "controller-uuid": c.uuid, "is-controller": m.name === "controller", type: m.type, cloud: m.cloud, "cloud-region": m.region, version: JUJU_VERSION, status: watched({ current: "available", message: "", since: m.createdAt }) });
  for (const mm of m.machines.values()) {
    put("machine", mm.id, { id: mm.id, "instance-id": mm.instanceId, "agent-status": watched(r.machineAgent(mm), JUJU_VERSION), "instance-status": watched(r.machineInstance(mm)), life: mm.life, base: mm.base, jobs: [...mm.jobs], addresses: (mm.host?.interfaces ?? []).map((i) => ({ value: i.address, type: "ipv4", scope: "local-cloud" })), "has-vote": r.hasVote(mm), "wants-vote": mm.wantsVoteSince !== undefined, hostname: mm.host?.hostname ?? "" });
  }
  for (const app of m.apps.values()) {
    put("application", app.name, { name: app.name, exposed: false, "charm-url": charmUrl(app.charm.name, app.revision), "owner-tag": "user-admin", life: app.life, "min-units": 0, constraints: {}, config: { ...app.config }, subordinate: app.charm.subordinate, status: watched(r.application(m, app)), "workload-version": app.charm.version });
    for (const v of r.units(m, app)) {
      put("unit", v.unit.name, { name: v.unit.name, application: app.name, base: app.base, "charm-url": charmUrl(app.charm.name, app.revision), life: v.unit.life, "public-address": v.unit.address, "private-address": v.unit.address, "machine-id": r.machineOf(m, v.unit)?.id ?? "", principal: v.unit.principal ?? "", subordinate: app.charm.subordinate, "workload-status": watched(v.workload), "agent-status": watched(v.agent, JUJU_VERSION) });
    }
  }
  for (const rel of m.relations) put("relation", relationKey(rel), { key: relationKey(rel), id: rel.id, endpoints: rel.ends.map((e) => ({ "application-name": e.app, relation: { name: e.endpoint, role: apiRole(e.role), interface: e.interface, optional: false, limit: 0, scope: rel.scope } })) });
  for (const ra of m.remoteApps.values()) put("remoteApplication", ra.alias, { name: ra.alias, "offer-uuid": "", "offer-url": ra.url, life: "alive", status: watched(r.remote(m, ra.alias)) });
  for (const o of m.offers.values()) {
    const n = w.offerConnections(c, m, o.name).length;
    put("applicationOffer", o.name, { "offer-uuid": "", "offer-name": o.name, "offer-url": o.url, "application-name": o.app, "charm-name": m.apps.get(o.app)?.charm.name ?? "", "total-connected-count": n, "active-connected-count": n });
  }
  return out;
}

/** The entity a `remove` delta carries: its model and id keys. */
export function statusOf(kind: string, modelUuid: string, id: string): Entity {
  switch (kind) {
    case "machine":
      return { "model-uuid": modelUuid, id };
    case "relation":
      return { "model-uuid": modelUuid, key: id };
    case "model":
      return { "model-uuid": modelUuid };
    case "applicationOffer":
      return { "model-uuid": modelUuid, "offer-name": id };
    default:
      return { "model-uuid": modelUuid, name: id };
  }
}
