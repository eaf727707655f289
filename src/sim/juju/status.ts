/**
 * What the simulated Juju reports: each unit's workload status by its charm's rules
 * (juju-layering.md §3e), application status as Juju derives it, machine and controller
 * membership status (§4e), all as pure functions of the model, the clock and the
 * read-only environment (agents alive, load-balancer addresses).
 */
import { parse as parseYaml } from "yaml";
import { mandatoryRequires } from "./charms.ts";
import type { JujuWorld } from "./controller.ts";
import type { JujuApplication, JujuEnv, JujuMachine, JujuModel, JujuRelation, JujuUnit, RelationEnd } from "./types.ts";

export interface StatusValue {
  current: string;
  message: string;
  /** When it last changed (ms); the clock's time of the change the rules know of. */
  since: number;
}

export interface UnitView {
  unit: JujuUnit;
  workload: StatusValue;
  agent: StatusValue;
  leader: boolean;
}

/** Juju's status severities (core/status DeriveStatus): the worst unit's status is the application's. */
const SEVERITY: Record<string, number> = { error: 100, blocked: 90, maintenance: 80, waiting: 70, active: 60, terminated: 50, unknown: 40 };

export function worst(statuses: readonly StatusValue[]): StatusValue {
  let w: StatusValue | undefined;
  for (const s of statuses) if (w === undefined || (SEVERITY[s.current] ?? 0) > (SEVERITY[w.current] ?? 0)) w = s;
  return w ?? { current: "unknown", message: "", since: 0 };
}

type RoleMapping = Record<string, Record<string, { machines?: Record<string, { roles?: string[] }> }>> | null;

/**
 * Parsed `role-mapping` documents by their text (undefined: not YAML). Every unit's status
 * read asks for its machine's roles, and a microovn unit's asks for every unit's: parsing
 * the text each time made the YAML parser most of a 50-machine layered rollout's CPU. The
 * config changes only when a machine is added, so a few texts are ever live; the cache is
 * emptied past a bound rather than kept in order.
 */
const roleMappings = new Map<string, RoleMapping | undefined>();
const ROLE_MAPPINGS_KEPT = 64;

function roleMapping(text: string): RoleMapping | undefined {
  if (roleMappings.has(text)) return roleMappings.get(text);
  let doc: RoleMapping | undefined;
  try {
    doc = parseYaml(text) as RoleMapping;
  } catch {
    doc = undefined;
  }
  if (roleMappings.size >= ROLE_MAPPINGS_KEPT) roleMappings.clear();
  roleMappings.set(text, doc);
  return doc;
}

export class StatusReader {
  private readonly w: JujuWorld;
  private readonly env: JujuEnv;
  readonly now: number;

  constructor(world: JujuWorld, env: JujuEnv, now: number) {
    this.w = world;
    this.env = env;
    this.now = now;
  }

  private get settle(): number {
    return this.w.timings.unitSettleMs;
  }

  /** The machine a unit runs on (a subordinate: its principal's). */
  machineOf(m: JujuModel, u: JujuUnit): JujuMachine | undefined {
    if (u.machine !== undefined) return m.machines.get(u.machine);
    if (u.principal === undefined) return undefined;
    const p = m.apps.get(u.principal.split("/")[0] ?? "")?.units.get(u.principal);
    return p ? this.machineOf(m, p) : undefined;
  }

  agentAlive(m: JujuMachine): boolean {
    return m.host !== undefined && this.env.agentAlive(m);
  }

  machineAgent(m: JujuMachine): StatusValue {
    if (m.provisioningError !== undefined || m.host === undefined) return { current: "pending", message: "", since: m.createdAt };
    if (!this.agentAlive(m)) return { current: "down", message: "agent is not communicating with the server", since: m.createdAt };
    if (this.now < m.createdAt + this.w.timings.machineStartMs) return { current: "pending", message: "", since: m.createdAt };
    return { current: "started", message: "", since: m.createdAt + this.w.timings.machineStartMs };
  }

  machineInstance(m: JujuMachine): StatusValue {
    if (m.provisioningError !== undefined) return { current: "provisioning error", message: m.provisioningError, since: m.createdAt };
    // The manual provider reports what it cannot observe as running (JJ:provider/manual).
    return { current: "running", message: "Manually provisioned machine", since: m.createdAt };
  }

  machineStarted(m: JujuMachine): boolean {
    return this.machineAgent(m).current === "started";
  }

  hasVote(m: JujuMachine): boolean {
    return this.w.hasVote(m, this.now, this.agentAlive(m));
  }

  /** `controller-member-status` (JJ:cmd/juju/status/formatter.go makeHAStatus). */
  memberStatus(m: JujuMachine): string | undefined {
    if (!m.jobs.includes("JobManageModel")) return undefined;
    if (m.wantsVoteSince === undefined) return "no-vote";
    return this.hasVote(m) ? "has-vote" : "adding-vote";
  }

  private readonly leaders = new Map<JujuApplication, { size: number; unit: JujuUnit | undefined }>();

  /**
   * The leader: the oldest alive unit (lowest number). Kept per application for this
   * reader (unit numbers only grow, so it stays right while the leader is still there and
   * the count is the same); a read of thousands of units is linear, not quadratic.
   */
  leader(app: JujuApplication): JujuUnit | undefined {
    const known = this.leaders.get(app);
    if (known && known.size === app.units.size && (known.unit === undefined || app.units.get(known.unit.name) === known.unit)) return known.unit;
    let best: JujuUnit | undefined;
    let bestN = Infinity;
    for (const u of app.units.values()) {
      const n = Number(u.name.split("/")[1]);
      if (n < bestN) {
        best = u;
        bestN = n;
      }
    }
    this.leaders.set(app, { size: app.units.size, unit: best });
    return best;
  }

  /** The other end's remote data has arrived: its application has a settled unit, and the relation settled. */
  private dataReady(m: JujuModel, r: JujuRelation, other: RelationEnd): boolean {
    if (this.now < r.createdAt + this.settle) return false;
    const remote = m.remoteApps.get(other.app);
    let srcModel = m;
    let app = m.apps.get(other.app);
    if (remote) {
      const src = this.w.modelByUuid(remote.modelUuid);
      const offer = src?.m.offers.get(remote.offer);
      if (!src || !offer) return false;
      srcModel = src.m;
      app = src.m.apps.get(offer.app);
      // A machine consumer reaches a Kubernetes application only through its load balancer.
      if (src.m.type === "caas" && m.type === "iaas" && this.env.externalAddress(src.m, offer.app) === undefined) return false;
    }
    if (app === undefined) return false;
    // A router hands its consumers a database only once its own backend gave it one (it bootstraps against mysql first).
    if (app.charm.family === "mysql-router" && other.endpoint === "database" && !this.routerBackendReady(srcModel, app)) return false;
    return [...app.units.values()].some((u) => this.now >= u.createdAt + this.settle && this.unitRunning(srcModel, u));
  }

  /** A mysql-router's `backend-database` relation exists and mysql's data has arrived on it. */
  private routerBackendReady(m: JujuModel, app: JujuApplication): boolean {
    return this.relationsOn(m, app.name, "backend-database").some((r) => this.dataReady(m, r, farEnd(r, app.name)));
  }

  private relationsOn(m: JujuModel, app: string, ep: string): JujuRelation[] {
    return m.relations.filter((r) => r.ends.some((e) => e.app === app && e.endpoint === ep));
  }

  /**
   * The consumers of an application's endpoint: its relations in its own model and, through
   * its offers, those in the consuming models (each with the model it lives in and the consumer's end).
   */
  private consumersOf(m: JujuModel, app: string, ep: string): { model: JujuModel; relation: JujuRelation; consumer: RelationEnd }[] {
    const out = this.relationsOn(m, app, ep).map((relation) => ({ model: m, relation, consumer: farEnd(relation, app) }));
    const c = this.w.modelByUuid(m.uuid)?.c;
    if (c === undefined) return out;
    for (const o of m.offers.values()) {
      if (o.app !== app || !o.endpoints.includes(ep)) continue;
      for (const x of this.w.offerConnections(c, m, o.name)) {
        const mine = x.relation.ends.find((e) => x.model.remoteApps.get(e.app)?.offer === o.name && e.endpoint === ep);
        if (mine !== undefined) out.push({ model: x.model, relation: x.relation, consumer: farEnd(x.relation, mine.app) });
      }
    }
    return out;
  }

  /**
   * The status a mysql-router leader sets on its application (canonical/mysql-router-k8s-operator
   * src/abstract_charm.py _determine_app_status: blocked before waiting, the backend's before the consumers').
   */
  private routerAppStatus(m: JujuModel, app: JujuApplication, since: number): StatusValue {
    const out: StatusValue[] = [];
    const backend = this.relationsOn(m, app.name, "backend-database");
    if (backend.length === 0) out.push({ current: "blocked", message: "Missing relation: backend-database", since });
    else if (!this.routerBackendReady(m, app)) out.push({ current: "waiting", message: `Waiting for ${farEnd(backend[0] as JujuRelation, app.name).app} app on backend-database endpoint`, since });
    const consumers = this.consumersOf(m, app.name, "database");
    if (consumers.length === 0) out.push({ current: "blocked", message: "Missing relation: database", since });
    else if (!consumers.some((x) => this.dataReady(x.model, x.relation, x.consumer))) out.push({ current: "waiting", message: `Waiting for ${(consumers[0] as (typeof consumers)[number]).consumer.app} app on database endpoint`, since });
    return out.find((x) => x.current === "blocked") ?? out.find((x) => x.current === "waiting") ?? { current: "active", message: "", since };
  }

  private unitRunning(m: JujuModel, u: JujuUnit): boolean {
    if (m.type === "caas") return true;
    const mm = this.machineOf(m, u);
    return mm !== undefined && this.machineStarted(mm);
  }

  unit(m: JujuModel, app: JujuApplication, u: JujuUnit): UnitView {
    const leader = this.leader(app)?.name === u.name;
    const since = u.createdAt;
    const mk = (current: string, message: string, at = since): StatusValue => ({ current, message, since: at });
    const mm = this.machineOf(m, u);
    if (m.type === "iaas") {
      if (mm === undefined || mm.provisioningError !== undefined || !this.machineStarted(mm)) {
        if (mm !== undefined && mm.host !== undefined && !this.agentAlive(mm)) return { unit: u, leader, workload: mk("unknown", `agent lost, see 'juju show-status-log ${u.name}'`), agent: mk("lost", "agent is not communicating with the server") };
        return { unit: u, leader, workload: mk("waiting", "waiting for machine"), agent: mk("allocating", "") };
      }
    }
    if (u.hookError) return { unit: u, leader, workload: mk("error", `hook failed: "${u.hookError.hook}"`, u.hookError.since), agent: mk("idle", "", u.hookError.since) };
    const start = Math.max(u.createdAt, mm ? mm.createdAt + this.w.timings.machineStartMs : 0);
    if (this.now < start + this.settle) return { unit: u, leader, workload: mk("maintenance", "installing charm software"), agent: mk("executing", "running install hook") };
    const settled = start + this.settle;
    const idle = mk("idle", "", settled);
    const wl = u.charmStatus ?? this.workload(m, app, u, mm, leader, settled);
    return { unit: u, leader, workload: wl, agent: idle };
  }

  private workload(m: JujuModel, app: JujuApplication, u: JujuUnit, mm: JujuMachine | undefined, leader: boolean, since: number): StatusValue {
    const mk = (current: string, message: string): StatusValue => ({ current, message, since });
    const rels = (ep: string) => m.relations.filter((r) => r.ends.some((e) => e.app === app.name && e.endpoint === ep));
    const other = (r: JujuRelation) => (r.ends[0].app === app.name ? r.ends[1] : r.ends[0]);
    const c = app.charm;
    if (app.name === "controller" && m.name === "controller") return mm && this.hasVote(mm) ? mk("active", "") : mk("waiting", "waiting for vote");
    switch (c.family) {
      case "plain":
        return mk("active", "");
      case "k8s": {
        if (leader) return mk("active", "Ready");
        const l = this.leader(app);
        const lm = l ? this.machineOf(m, l) : undefined;
        const leaderReady = lm !== undefined && this.machineStarted(lm) && this.now >= Math.max(l?.createdAt ?? 0, lm.createdAt + this.w.timings.machineStartMs) + this.settle;
        return leaderReady ? mk("active", "Ready") : mk("waiting", "Waiting for k8sd");
      }
      case "microovn": {
        const cluster = rels("cluster");
        if (cluster.length === 0 || !cluster.some((r) => this.dataReady(m, r, other(r)))) return mk("maintenance", "Waiting for token distrbutor relation");
        const ra = rels("role-assignment");
        if (ra.length > 0) {
          const roles = this.assignedRoles(m, app, u, ra.map(other));
          if (roles === undefined || roles.length === 0) return mk("waiting", "Waiting for role assignment");
          if (roles.includes("gateway") && !roles.includes("chassis")) return mk("blocked", "gateway role requires the chassis role");
          const anyCentral = [...app.units.values()].some((x) => (this.assignedRoles(m, app, x, ra.map(other)) ?? []).includes("central"));
          if (!anyCentral) return mk("blocked", "microovn has no central nodes, assign the central role to at least one node");
        }
        return mk("active", "");
      }
      case "mysql-router":
        // src/workload.py Workload.status: WaitingStatus() until the router is bootstrapped against its backend.
        return this.routerBackendReady(m, app) ? mk("active", "") : mk("waiting", "");
      case "glance":
      case "ops-sunbeam": {
        for (const ep of mandatoryRequires(c)) {
          if (rels(ep.name).length === 0) return mk("blocked", c.family === "glance" && ep.name === "ceph" ? "(ceph) ceph integration and local storage are not available" : `(${ep.name}) integration missing`);
        }
        for (const ep of mandatoryRequires(c)) if (!rels(ep.name).some((r) => this.dataReady(m, r, other(r)))) return mk("waiting", "(workload) Not all relations are ready");
        // cinder-volume needs a backend subordinate on its `cinder-volume` endpoint (the explicit storage backend).
        if (c.name === "cinder-volume" && rels("cinder-volume").length === 0) return mk("blocked", "(storage-backend) integration missing");
        if (c.subordinate && u.principal === undefined) return mk("blocked", "no principal");
        return mk("active", "");
      }
    }
  }

  /** The roles a role-distributor assigns a microovn unit's machine (config `role-mapping`, §2e), if any. */
  private assignedRoles(m: JujuModel, app: JujuApplication, u: JujuUnit, distributors: readonly RelationEnd[]): string[] | undefined {
    for (const d of distributors) {
      const dist = m.apps.get(d.app);
      const yaml = dist?.config["role-mapping"];
      if (!yaml) continue;
      const doc = roleMapping(yaml);
      if (doc === undefined) continue;
      const roles = doc?.[m.name]?.[app.name]?.machines?.[u.machine ?? ""]?.roles;
      if (Array.isArray(roles)) return roles.map(String);
    }
    return undefined;
  }

  units(m: JujuModel, app: JujuApplication): UnitView[] {
    return [...app.units.values()].map((u) => this.unit(m, app, u));
  }

  /** `us`: the application's unit views when the caller has them already (one render reads each unit once). */
  application(m: JujuModel, app: JujuApplication, us: readonly UnitView[] = this.units(m, app)): StatusValue {
    if (us.length === 0) return { current: app.charm.subordinate ? "unknown" : m.type === "caas" ? "waiting" : "unknown", message: m.type === "caas" && !app.charm.subordinate ? "waiting for units" : "", since: app.createdAt };
    // A leader-set application status wins over the derived one (§3e); the router's leader sets one once installed.
    const lead = us.find((x) => x.leader);
    if (app.charm.family === "mysql-router" && lead !== undefined && lead.workload.current !== "maintenance" && lead.workload.current !== "error") return this.routerAppStatus(m, app, lead.workload.since);
    return worst(us.map((x) => x.workload));
  }

  /** A remote application's status: its offer's application's, seen from the consumer. */
  remote(m: JujuModel, alias: string): StatusValue {
    const ra = m.remoteApps.get(alias);
    const src = ra ? this.w.modelByUuid(ra.modelUuid) : undefined;
    const offer = ra ? src?.m.offers.get(ra.offer) : undefined;
    const app = offer ? src?.m.apps.get(offer.app) : undefined;
    if (!src || !app) return { current: "terminated", message: "offer has been removed", since: 0 };
    return this.application(src.m, app);
  }
}

/** The other end of a relation, seen from `app`. */
function farEnd(r: JujuRelation, app: string): RelationEnd {
  return r.ends[0].app === app ? r.ends[1] : r.ends[0];
}

/** Juju's time format in status (`02 Jan 2006 15:04:05Z07:00`). */
export function jujuTime(ms: number): string {
  const d = new Date(ms);
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()] as string;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())} ${mon} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}Z`;
}
