/**
 * The juju CLI's JSON outputs, in the shapes the reference lists (juju-layering.md §4a:
 * keys as jubilant's statustypes.py parses `juju status --format json`; show-controller
 * as JJ:cmd/juju/controller/showcontroller.go; clouds as cmd/juju/cloud/list.go).
 */
import type { JujuWorld } from "./controller.ts";
import { JUJU_VERSION } from "./controller.ts";
import type { StatusReader, StatusValue, UnitView } from "./status.ts";
import { jujuTime } from "./status.ts";
import type { CloudDef, JujuApplication, JujuController, JujuMachine, JujuModel } from "./types.ts";

const st = (s: StatusValue, version?: string) => ({ current: s.current, ...(s.message ? { message: s.message } : {}), since: jujuTime(s.since), ...(version ? { version } : {}) });

const baseOf = (b: string) => {
  const [name = "ubuntu", channel = "24.04"] = b.split("@");
  return { name, channel };
};

export function machineJson(r: StatusReader, m: JujuModel, mm: JujuMachine): Record<string, unknown> {
  const h = mm.host;
  const space = (cidr: string) => [...m.spaces.values()].find((s) => s.cidrs.includes(cidr))?.name ?? "";
  const out: Record<string, unknown> = {
    "juju-status": st(r.machineAgent(mm), mm.host ? JUJU_VERSION : undefined),
    hostname: h?.hostname ?? "",
    "dns-name": h?.address ?? "",
    "ip-addresses": h ? h.interfaces.map((i) => i.address) : [],
    "instance-id": mm.instanceId || "pending",
    "machine-status": st(r.machineInstance(mm)),
    "modification-status": { current: "idle", since: jujuTime(mm.createdAt) },
    base: baseOf(mm.base),
    "network-interfaces": Object.fromEntries((h?.interfaces ?? []).map((i) => [i.name, { "ip-addresses": [i.address], "mac-address": i.mac, space: space(i.cidr), "is-up": true }])),
    constraints: mm.constraints,
    hardware: h ? "arch=amd64 cores=16 mem=65536M" : "",
  };
  const member = r.memberStatus(mm);
  if (member !== undefined) out["controller-member-status"] = member;
  if (mm.life !== "alive") out["life"] = mm.life;
  return out;
}

function unitJson(u: UnitView, m: JujuModel, subs: Record<string, unknown>): Record<string, unknown> {
  return {
    "workload-status": st(u.workload),
    "juju-status": st(u.agent, JUJU_VERSION),
    ...(u.leader ? { leader: true } : {}),
    ...(u.unit.machine !== undefined ? { machine: u.unit.machine } : {}),
    ...(m.type === "caas" ? { address: u.unit.address } : { "public-address": u.unit.address }),
    ...(Object.keys(subs).length ? { subordinates: subs } : {}),
  };
}

/** `relations` of an application in status: endpoint → related applications. */
function relationsOf(m: JujuModel, app: string): Record<string, { "related-application": string; interface: string; scope: string }[]> {
  const out: Record<string, { "related-application": string; interface: string; scope: string }[]> = {};
  for (const r of m.relations) {
    for (const [mine, other] of [
      [r.ends[0], r.ends[1]],
      [r.ends[1], r.ends[0]],
    ] as const) {
      if (mine.app !== app) continue;
      (out[mine.endpoint] ??= []).push({ "related-application": other.app, interface: mine.interface, scope: r.scope });
    }
  }
  return out;
}

/** Every application's unit views, read once for a whole render (a unit's view is the same throughout one read). */
function unitViews(r: StatusReader, m: JujuModel): Map<string, UnitView[]> {
  return new Map([...m.apps.values()].map((a) => [a.name, r.units(m, a)]));
}

export function applicationJson(r: StatusReader, m: JujuModel, app: JujuApplication, all: ReadonlyMap<string, UnitView[]> = unitViews(r, m)): Record<string, unknown> {
  const views = all.get(app.name) ?? r.units(m, app);
  const subordinateTo = [...new Set(m.relations.filter((x) => x.scope === "container" && x.ends.some((e) => e.app === app.name)).map((x) => (x.ends[0].app === app.name ? x.ends[1].app : x.ends[0].app)))];
  const units: Record<string, unknown> = {};
  if (!app.charm.subordinate) {
    for (const v of views) {
      const subs: Record<string, unknown> = {};
      for (const a of m.apps.values()) {
        if (!a.charm.subordinate) continue;
        for (const su of all.get(a.name) ?? []) if (su.unit.principal === v.unit.name) subs[su.unit.name] = unitJson(su, m, {});
      }
      units[v.unit.name] = unitJson(v, m, subs);
    }
  }
  return {
    charm: app.charm.name,
    "charm-origin": "charmhub",
    "charm-name": app.charm.name,
    "charm-rev": app.revision,
    "charm-channel": app.channel,
    base: baseOf(app.base),
    exposed: false,
    ...(m.type === "caas" ? { scale: app.units.size, address: kubeServiceAddress(m, app.name) } : {}),
    "application-status": st(r.application(m, app, views)),
    relations: relationsOf(m, app.name),
    ...(app.charm.subordinate ? { "subordinate-to": subordinateTo } : {}),
    ...(Object.keys(units).length ? { units } : {}),
    "endpoint-bindings": app.bindings,
    "workload-version": app.charm.version,
    ...(app.life !== "alive" ? { life: app.life } : {}),
  };
}

/** The ClusterIP Juju reports for a Kubernetes application (stable per model and app). */
export function kubeServiceAddress(m: JujuModel, app: string): string {
  const i = [...m.apps.keys()].indexOf(app);
  return `10.152.183.${20 + Math.max(0, i)}`;
}

export function statusJson(w: JujuWorld, r: StatusReader, c: JujuController, m: JujuModel): Record<string, unknown> {
  const views = unitViews(r, m);
  const endpoints: Record<string, unknown> = {};
  for (const ra of m.remoteApps.values()) {
    const src = w.modelByUuid(ra.modelUuid);
    const offer = src?.m.offers.get(ra.offer);
    const app = offer ? src?.m.apps.get(offer.app) : undefined;
    endpoints[ra.alias] = {
      url: `${c.name}:${ra.url}`,
      endpoints: Object.fromEntries((offer?.endpoints ?? []).map((e) => [e, { interface: app?.charm.endpoints.find((x) => x.name === e)?.interface ?? "", role: app?.charm.endpoints.find((x) => x.name === e)?.role ?? "" }])),
      "application-status": st(r.remote(m, ra.alias)),
      relations: Object.fromEntries(Object.entries(relationsOf(m, ra.alias)).map(([ep, l]) => [ep, l.map((x) => x["related-application"])])),
    };
  }
  const offers: Record<string, unknown> = {};
  for (const o of m.offers.values()) {
    const app = m.apps.get(o.app);
    const conns = w.offerConnections(c, m, o.name).length;
    offers[o.name] = { application: o.app, charm: app?.charm.name ?? "", endpoints: Object.fromEntries(o.endpoints.map((e) => [e, { interface: app?.charm.endpoints.find((x) => x.name === e)?.interface ?? "", role: app?.charm.endpoints.find((x) => x.name === e)?.role ?? "" }])), "total-connected-count": conns, "active-connected-count": conns };
  }
  return {
    model: { name: m.name, type: m.type, controller: c.name, cloud: m.cloud, region: m.region, version: JUJU_VERSION, "model-status": { current: "available", since: jujuTime(m.createdAt) }, sla: "unsupported" },
    machines: Object.fromEntries([...m.machines.values()].map((mm) => [mm.id, machineJson(r, m, mm)])),
    applications: Object.fromEntries([...m.apps.values()].map((a) => [a.name, applicationJson(r, m, a, views)])),
    ...(Object.keys(endpoints).length ? { "application-endpoints": endpoints } : {}),
    ...(Object.keys(offers).length ? { offers } : {}),
    storage: {},
    controller: { timestamp: jujuTime(r.now).slice(12) },
  };
}

/**
 * `juju show-controller --format json`: `controller-machines` lists only the controller
 * model's machines that want a vote (a machine added with add-machine does not; one
 * enable-ha just converted or added does, at once). `ha-status` is omitted with one
 * controller; a machine not yet provisioned shows instance-id `(unprovisioned)`.
 */
export function showControllerJson(r: StatusReader, c: JujuController, ports: ReadonlyMap<string, number> = new Map(), showPassword = false): Record<string, unknown> {
  const cm = c.models.get("controller") as JujuModel;
  const voters = [...cm.machines.values()].filter((mm) => mm.wantsVoteSince !== undefined && mm.life === "alive");
  const machines: Record<string, unknown> = {};
  for (const mm of voters) {
    const entry: Record<string, unknown> = { "instance-id": mm.instanceId || "(unprovisioned)" };
    if (voters.length > 1) entry["ha-status"] = !r.agentAlive(mm) && mm.host ? "down, lost connection" : r.hasVote(mm) ? "ha-enabled" : "ha-pending";
    if (mm.id === "0" && voters.length > 1) entry["ha-primary"] = true;
    machines[mm.id] = entry;
  }
  const endpoints = voters.filter((mm) => mm.host).map((mm) => `${mm.host?.address ?? ""}:${ports.get(mm.host?.address ?? "") ?? 17070}`);
  return {
    [c.name]: {
      details: { uuid: c.uuid, "controller-uuid": c.uuid, "api-endpoints": endpoints, cloud: c.cloud, region: "default", "agent-version": JUJU_VERSION, "agent-git-commit": "0000000000000000000000000000000000000000", "controller-model-version": JUJU_VERSION, "mongo-version": "", "ca-fingerprint": "", "ca-cert": c.caCert },
      "controller-machines": machines,
      models: Object.fromEntries([...c.models.values()].map((m) => [m.name, { uuid: m.uuid, "machine-count": m.machines.size, "core-count": m.machines.size * 16 }])),
      "current-model": "admin/controller",
      account: { user: "admin", access: "superuser", ...(showPassword ? { password: c.adminSecret } : {}) },
    },
  };
}

export function cloudJson(cl: CloudDef): Record<string, unknown> {
  // `juju clouds` prints type kubernetes as k8s (JJ:cmd/juju/cloud/list.go).
  return { defined: "local", type: cl.type === "kubernetes" ? "k8s" : cl.type, description: "", "auth-types": cl.authTypes, ...(cl.endpoint ? { endpoint: cl.endpoint } : {}), regions: Object.fromEntries(cl.regions.map((x) => [x, {}])) };
}

export function modelsJson(c: JujuController): Record<string, unknown> {
  return {
    models: [...c.models.values()].map((m) => ({ name: `admin/${m.name}`, "short-name": m.name, "model-uuid": m.uuid, "controller-uuid": c.uuid, "controller-name": c.name, owner: "admin", cloud: m.cloud, region: m.region, "model-type": m.type, life: "alive", status: { current: "available" } })),
    "current-model": "controller",
  };
}
