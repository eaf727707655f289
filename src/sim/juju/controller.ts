/**
 * The simulated Juju controller's rules: every change the juju CLI or the controller API
 * makes, refused in the real words where the real Juju refuses it (the messages are the
 * CLI's, without its "ERROR " prefix). Pure: state in, state out, time from the caller;
 * nothing here touches a host, a socket or a timer. Facts: ../shared/reference/juju-layering.md
 * §4a (grammar, manual provisioning), §4e (traps), §6 (what a faithful simulator does).
 */
import { JujuChanges } from "./changes.ts";
import { charmFor, endpointOf } from "./charms.ts";
import type { CharmEndpoint } from "./charms.ts";
import type { CloudDef, JujuApplication, JujuController, JujuMachine, JujuModel, JujuRelation, JujuSpace, JujuTimings, JujuUnit, MachineHost, RelationEnd } from "./types.ts";
import { DEFAULT_TIMINGS } from "./types.ts";

export type JujuErrorCode = "not found" | "already exists" | "not valid" | "not supported" | "quota limit exceeded" | "not provisioned" | "unauthorized access" | "incompatible client";

/** A refusal of the simulated Juju: `message` is what the CLI prints after "ERROR ", `code` what the API carries. */
export class JujuError extends Error {
  readonly code: JujuErrorCode;
  constructor(code: JujuErrorCode, message: string) {
    super(message);
    this.name = "JujuError";
    this.code = code;
  }
}

const notFound = (m: string) => new JujuError("not found", m);
const invalid = (m: string) => new JujuError("not valid", m);

export const JUJU_VERSION = "3.6.4";
/** The manual provider cannot create instances (JJ:provider/manual/environ.go). */
export const MANUAL_NO_START = "manual provider cannot start instances";

export interface DeployOptions {
  app?: string;
  n?: number;
  to?: string[];
  channel?: string;
  base?: string;
  config?: Record<string, string>;
  bind?: Record<string, string>;
  trust?: boolean;
}

/** A deterministic UUID-looking id from a seed and a counter (no randomness: runs replay). */
function uuidFrom(seed: number, n: number): string {
  const h = (k: number) => (((seed * 2654435761) ^ (n * 40503 + k * 69069)) >>> 0).toString(16).padStart(8, "0");
  const s = `${h(1)}${h(2)}${h(3)}${h(4)}`;
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

export class JujuWorld {
  readonly controllers = new Map<string, JujuController>();
  readonly timings: JujuTimings;
  private readonly seed: number;
  private ids = 0;
  /** Every change that took effect (/sim/stats `juju`). */
  readonly changes = new JujuChanges();

  constructor(seed: number, timings: Partial<JujuTimings> = {}) {
    this.seed = seed;
    this.timings = { ...DEFAULT_TIMINGS, ...timings };
  }

  uuid(): string {
    return uuidFrom(this.seed, ++this.ids);
  }

  controller(name: string): JujuController {
    const c = this.controllers.get(name);
    if (c === undefined) throw notFound(`controller ${name} not found`);
    return c;
  }

  /** A model by `[owner/]name` on a controller. */
  model(c: JujuController, spec: string): JujuModel {
    const name = spec.replace(/^[a-z0-9-]+\//, "");
    const m = c.models.get(name);
    if (m === undefined) throw notFound(`model ${c.name}:admin/${name} not found`);
    return m;
  }

  modelByUuid(uuid: string): { c: JujuController; m: JujuModel } | undefined {
    for (const c of this.controllers.values()) for (const m of c.models.values()) if (m.uuid === uuid) return { c, m };
    return undefined;
  }

  // ------------------------------------------------------------------ controllers

  /**
   * `juju bootstrap manual/[user@]<addr> <name>`: the controller model's machine 0 is the
   * host itself, with the manual provider's bootstrap instance id `manual:` (no address in
   * it: the address is the machine's dns-name) [JJ:provider/manual/environ.go].
   */
  bootstrap(name: string, host: MachineHost, now: number): JujuController {
    if (this.controllers.has(name)) throw new JujuError("already exists", `controller "${name}" already exists`);
    const c: JujuController = { name, uuid: this.uuid(), cloud: "manual", createdAt: now, caCert: `sim-ca:${this.seed}:${name}`, models: new Map(), clouds: new Map(), credentials: new Map(), adminSecret: uuidFrom(this.seed, 9000 + this.controllers.size) };
    c.clouds.set("manual", { name: "manual", type: "manual", authTypes: ["empty"], endpoint: host.address, regions: ["default"] });
    const m = this.newModel(c, "controller", "manual", "default", now);
    const machine = this.newMachine(m, now, { instanceId: "manual:", host, jobs: ["JobManageModel", "JobHostUnits"] });
    machine.wantsVoteSince = now - this.timings.haVoteMs;
    const app = this.newApp(m, "juju-controller", "controller", now, {});
    this.newUnit(m, app, now, machine.id);
    this.controllers.set(name, c);
    this.changes.note("bootstrap", undefined, name);
    return c;
  }

  /**
   * `juju enable-ha -n N [--to id,...]`: returns at once (maintained, converted, added);
   * converted and added machines want a vote from now and get it `haVoteMs` later. On the
   * manual cloud an added machine cannot be created and stays unprovisioned.
   */
  enableHa(c: JujuController, n: number, to: readonly string[], now: number): { maintained: string[]; converted: string[]; added: string[]; removed: string[] } {
    if (!Number.isInteger(n) || n < 0 || (n > 0 && n % 2 === 0)) throw invalid("must specify a number of controllers odd and non-negative");
    const m = this.model(c, "controller");
    const want = n === 0 ? 3 : n;
    const voting = [...m.machines.values()].filter((x) => x.wantsVoteSince !== undefined && x.life === "alive");
    if (want < voting.length) throw invalid(`cannot remove controllers with enable-ha, use remove-machine and chose the controller(s) to remove`);
    const app = m.apps.get("controller") as JujuApplication;
    const converted: string[] = [];
    const added: string[] = [];
    const targets = [...to];
    while (voting.length + converted.length + added.length < want) {
      const placement = targets.shift();
      if (placement !== undefined) {
        const mm = m.machines.get(placement);
        if (mm === undefined) throw notFound(`machine ${placement} not found`);
        if (mm.wantsVoteSince !== undefined) throw invalid(`machine ${placement} is already a controller`);
        mm.wantsVoteSince = now;
        mm.jobs = ["JobManageModel", "JobHostUnits"];
        this.newUnit(m, app, now, mm.id);
        converted.push(mm.id);
      } else {
        const mm = this.newMachine(m, now, { instanceId: "", provisioningError: MANUAL_NO_START, jobs: ["JobManageModel", "JobHostUnits"] });
        mm.wantsVoteSince = now;
        this.newUnit(m, app, now, mm.id);
        added.push(mm.id);
      }
    }
    if (converted.length + added.length > 0) this.changes.note("enable-ha", m, `to ${want} (${[...converted, ...added].join(",")})`);
    return { maintained: voting.map((x) => x.id), converted, added, removed: [] };
  }

  /** A controller machine has its vote: it wants one, its agent started, and `haVoteMs` passed. */
  hasVote(m: JujuMachine, now: number, alive: boolean): boolean {
    return m.wantsVoteSince !== undefined && m.host !== undefined && alive && now >= m.wantsVoteSince + this.timings.haVoteMs;
  }

  // ------------------------------------------------------------------ clouds and models

  addCloud(c: JujuController, cloud: CloudDef): void {
    if (c.clouds.has(cloud.name)) throw new JujuError("already exists", `cloud "${cloud.name}" already exists`);
    c.clouds.set(cloud.name, cloud);
    this.changes.note("add-cloud", undefined, `${c.name}/${cloud.name}`);
  }

  addModel(c: JujuController, name: string, cloudName: string | undefined, now: number, config: Record<string, string> = {}): JujuModel {
    if (c.models.has(name)) throw new JujuError("already exists", `model "admin/${name}" already exists`);
    const cloud = c.clouds.get(cloudName ?? c.cloud);
    if (cloud === undefined) throw notFound(`cloud ${cloudName ?? ""} not found`);
    const m = this.newModel(c, name, cloud.name, cloud.regions[0] ?? "default", now);
    m.type = cloud.type === "kubernetes" ? "caas" : "iaas";
    m.config = { ...config };
    this.changes.note("add-model", undefined, `${c.name}/${name}`);
    return m;
  }

  private newModel(c: JujuController, name: string, cloud: string, region: string, now: number): JujuModel {
    const m: JujuModel = { uuid: this.uuid(), name, owner: "admin", type: "iaas", cloud, region, credential: cloud, createdAt: now, machines: new Map(), nextMachine: 0, apps: new Map(), remoteApps: new Map(), relations: [], nextRelation: 0, offers: new Map(), spaces: new Map(), config: {} };
    m.spaces.set("alpha", { id: "0", name: "alpha", cidrs: [] });
    c.models.set(name, m);
    return m;
  }

  // ------------------------------------------------------------------ machines

  private newMachine(m: JujuModel, now: number, p: Partial<JujuMachine>): JujuMachine {
    const id = String(m.nextMachine++);
    const host = p.host;
    const mm: JujuMachine = { id, instanceId: "", host: undefined, provisioningError: undefined, base: "ubuntu@24.04", constraints: "", jobs: ["JobHostUnits"], createdAt: now, wantsVoteSince: undefined, life: "alive", nonce: `manual:${host?.address ?? ""}:${this.uuid()}`, ...p };
    m.machines.set(id, mm);
    // A machine's subnets become known to the model (the manual provider discovers them from the machine).
    for (const i of host?.interfaces ?? []) if (![...m.spaces.values()].some((s) => s.cidrs.includes(i.cidr))) m.spaces.get("alpha")?.cidrs.push(i.cidr);
    return mm;
  }

  /**
   * `juju add-machine ssh:[user@]host` once the client's SSH checks passed: instance id
   * `manual:<host>` [JJ:environs/manual/sshprovisioner]. Placement other than ssh: and a
   * `tags` constraint are refused on a manual cloud; the caller checks the host itself
   * (reachable, no jujud-machine service yet).
   */
  addManualMachine(m: JujuModel, host: MachineHost, now: number, opts: { base?: string; constraints?: string } = {}): JujuMachine {
    if (m.type === "caas") throw new JujuError("not supported", `adding machines to a Kubernetes model is not supported`);
    if (/\btags=/.test(opts.constraints ?? "")) throw new JujuError("not supported", `invalid constraint value: tags=...: manual provider does not support constraint "tags"`);
    const machine = this.newMachine(m, now, { instanceId: `manual:${host.address}`, host, base: opts.base ?? "ubuntu@24.04", constraints: opts.constraints ?? "" });
    this.changes.note("add-machine", m, machine.instanceId);
    return machine;
  }

  /** `juju add-machine` without ssh: placement on a manual cloud: recorded, then stuck in provisioning error. */
  addUnprovisionedMachine(m: JujuModel, now: number, constraints = ""): JujuMachine {
    if (m.type === "caas") throw new JujuError("not supported", `adding machines to a Kubernetes model is not supported`);
    if (/\btags=/.test(constraints)) throw new JujuError("not supported", `invalid constraint value: tags=...: manual provider does not support constraint "tags"`);
    return this.newMachine(m, now, { provisioningError: MANUAL_NO_START, constraints });
  }

  /**
   * `juju remove-machine <id> [--force]`: a machine hosting units is refused unless forced
   * (its units go with it). Without --force the machine is dying until its agent cleans
   * up; an agent that is gone never does, so it stays dying (`agentAlive` false).
   */
  removeMachine(m: JujuModel, id: string, force: boolean, agentAlive: boolean): void {
    const mm = m.machines.get(id);
    if (mm === undefined) throw notFound(`machine ${id} not found`);
    if (mm.jobs.includes("JobManageModel") && m.name === "controller" && [...m.machines.values()].filter((x) => x.wantsVoteSince !== undefined).length === 1) throw invalid(`machine ${id} is the only controller machine`);
    const units = this.unitsOn(m, id);
    if (units.length > 0 && !force) throw invalid(`machine ${id} has unit "${units[0]?.name ?? ""}" assigned`);
    for (const u of units) this.dropUnit(m, u);
    if (force || agentAlive) m.machines.delete(id);
    else mm.life = "dying";
    this.changes.note("remove-machine", m, id);
  }

  unitsOn(m: JujuModel, machineId: string): JujuUnit[] {
    return [...m.apps.values()].flatMap((a) => [...a.units.values()]).filter((u) => u.machine === machineId);
  }

  // ------------------------------------------------------------------ applications

  private newApp(m: JujuModel, charmName: string, name: string, now: number, o: DeployOptions): JujuApplication {
    const charm = charmFor(charmName, m.type) ?? { name: charmName, kind: "machine" as const, subordinate: false, family: "plain" as const, channel: "3.6/stable", version: JUJU_VERSION, base: "ubuntu@24.04", endpoints: [], actions: [] };
    const app: JujuApplication = { name, charm, channel: o.channel ?? charm.channel, base: o.base ?? charm.base, revision: 1 + (charmName.length % 7) * 37, trust: o.trust ?? false, config: { ...o.config }, bindings: { "": "alpha", ...o.bind }, units: new Map(), nextUnit: 0, createdAt: now, life: "alive" };
    m.apps.set(name, app);
    return app;
  }

  private newUnit(m: JujuModel, app: JujuApplication, now: number, machine: string | undefined, principal?: string): JujuUnit {
    const n = app.nextUnit++;
    const host = machine === undefined ? undefined : m.machines.get(machine)?.host;
    const u: JujuUnit = { name: `${app.name}/${n}`, app: app.name, machine, principal, createdAt: now, life: "alive", address: host?.address ?? `10.1.${(m.apps.size * 7) % 250}.${10 + n}` };
    app.units.set(u.name, u);
    return u;
  }

  deploy(m: JujuModel, charmName: string, now: number, o: DeployOptions = {}): JujuApplication {
    const charm = charmFor(charmName, m.type);
    if (charm === undefined) throw notFound(`cannot resolve charm or bundle "${charmName}": charm or bundle not found`);
    const name = o.app ?? charmName;
    if (!/^[a-z][a-z0-9]*(-[a-z0-9]*[a-z][a-z0-9]*)*$/.test(name)) throw invalid(`invalid application name "${name}"`);
    if (m.apps.has(name) || m.remoteApps.has(name)) throw new JujuError("already exists", `cannot add application "${name}": application already exists`);
    if (charm.kind === "k8s" && m.type === "iaas") throw new JujuError("not supported", `cannot deploy charm "${charmName}": charm requires a Kubernetes model, model "${m.name}" is not`);
    if (charm.kind === "machine" && m.type === "caas") throw new JujuError("not supported", `cannot deploy charm "${charmName}" to a Kubernetes model: it is a machine charm`);
    for (const [ep, space] of Object.entries(o.bind ?? {})) {
      if (!m.spaces.has(space)) throw notFound(`space "${space}" not found`);
      if (ep !== "" && endpointOf(charm, ep) === undefined) throw invalid(`endpoint "${ep}" not found in charm "${charmName}"`);
    }
    const n = o.n ?? (charm.subordinate ? 0 : 1);
    if (charm.subordinate && (n > 0 || (o.to ?? []).length > 0)) throw invalid("subordinate application must be deployed without units");
    if (m.type === "caas" && (o.to ?? []).length > 0) throw new JujuError("not supported", "--to placement is not supported on Kubernetes models");
    for (const t of o.to ?? []) this.placementMachine(m, t, o.bind);
    const app = this.newApp(m, charmName, name, now, o);
    this.changes.note("deploy", m, name);
    this.addUnits(m, name, n, o.to ?? [], now);
    return app;
  }

  /** A `--to` machine: must exist and be alive; with bindings, it must have an address in every bound space. */
  private placementMachine(m: JujuModel, t: string, bind: Record<string, string> | undefined): JujuMachine {
    const mm = m.machines.get(t);
    if (mm === undefined || mm.life !== "alive") throw notFound(`machine ${t} not found`);
    for (const space of new Set(Object.values(bind ?? {}))) {
      const cidrs = m.spaces.get(space)?.cidrs ?? [];
      if (!(mm.host?.interfaces ?? []).some((i) => cidrs.includes(i.cidr))) throw invalid(`cannot assign unit to machine ${t}: machine ${t} has no address in space "${space}"`);
    }
    return mm;
  }

  /** `juju add-unit app [-n N] [--to m,...]`; Kubernetes apps scale instead. New machines on a manual cloud never provision. */
  addUnits(m: JujuModel, appName: string, n: number, to: readonly string[], now: number): JujuUnit[] {
    const app = this.app(m, appName);
    if (!Number.isInteger(n) || n < 0) throw invalid(`--num-units must be a positive integer`);
    if (app.charm.subordinate && n > 0) throw invalid(`cannot add units to subordinate application "${appName}"`);
    const out: JujuUnit[] = [];
    const placements = [...to];
    for (let i = 0; i < n; i++) {
      if (m.type === "caas") {
        const u = this.newUnit(m, app, now, undefined);
        out.push(u);
        this.changes.note("add-unit", m, u.name);
        continue;
      }
      const t = placements.shift();
      const mm = t !== undefined ? this.placementMachine(m, t, app.bindings) : this.addUnprovisionedMachine(m, now);
      out.push(this.newUnit(m, app, now, mm.id));
      this.changes.note("add-unit", m, `${appName} on machine ${mm.id}`);
      this.attachSubordinates(m, now);
    }
    return out;
  }

  /** `juju scale-application` (Kubernetes models only). */
  scale(m: JujuModel, appName: string, n: number, now: number): void {
    const app = this.app(m, appName);
    if (m.type !== "caas") throw new JujuError("not supported", `scaling applications is not supported on IaaS models, use add-unit and remove-unit`);
    if (!Number.isInteger(n) || n < 0) throw invalid(`scale must be a positive integer`);
    const live = [...app.units.values()];
    if (n > live.length) this.addUnits(m, appName, n - live.length, [], now);
    for (const u of live.slice(n).reverse()) {
      this.dropUnit(m, u);
      this.changes.note("remove-unit", m, u.name);
    }
  }

  removeUnit(m: JujuModel, unitName: string): void {
    const app = this.app(m, unitName.split("/")[0] ?? "");
    const u = app.units.get(unitName);
    if (u === undefined) throw notFound(`unit "${unitName}" does not exist`);
    if (app.charm.subordinate) throw invalid(`unit "${unitName}" is a subordinate, remove the relation instead`);
    if (m.type === "caas") throw new JujuError("not supported", `removing units by name is not supported on Kubernetes models, use "juju remove-unit ${app.name} --num-units N" or scale-application`);
    this.dropUnit(m, u);
    this.changes.note("remove-unit", m, unitName);
  }

  /** A unit's hook fails (install, config-changed, a relation hook …): it stays in error until resolved. */
  failHook(m: JujuModel, unitName: string, hook: string, now: number): void {
    this.unit(m, unitName).hookError = { hook, since: now };
  }

  /** `juju resolved <unit>`: marks the unit's error resolved (the hook is not re-run here; a unit not in error is left as is). */
  resolved(m: JujuModel, unitName: string): void {
    this.unit(m, unitName).hookError = undefined;
  }

  /** What a charm's `status-set <status> <message>` does: its workload status, until it sets another. */
  setWorkloadStatus(m: JujuModel, unitName: string, current: "active" | "blocked" | "maintenance" | "waiting", message: string, now: number): void {
    this.unit(m, unitName).charmStatus = { current, message, since: now };
  }

  private unit(m: JujuModel, unitName: string): JujuUnit {
    const u = m.apps.get(unitName.split("/")[0] ?? "")?.units.get(unitName);
    if (u === undefined) throw new JujuError("not found", `unit "${unitName}" not found`);
    return u;
  }

  removeApplication(m: JujuModel, name: string): void {
    const app = this.app(m, name);
    for (const o of m.offers.values()) if (o.app === name) throw invalid(`application "${name}" has an offer "${o.name}": remove the offer first`);
    for (const u of [...app.units.values()]) this.dropUnit(m, u);
    m.relations = m.relations.filter((r) => !r.ends.some((e) => e.app === name));
    m.apps.delete(name);
    this.pruneSubordinates(m);
  }

  private dropUnit(m: JujuModel, u: JujuUnit): void {
    m.apps.get(u.app)?.units.delete(u.name);
    for (const a of m.apps.values()) for (const s of [...a.units.values()]) if (s.principal === u.name) a.units.delete(s.name);
  }

  app(m: JujuModel, name: string): JujuApplication {
    const a = m.apps.get(name);
    if (a === undefined) throw notFound(`application "${name}" not found`);
    return a;
  }

  setConfig(m: JujuModel, appName: string, kv: Record<string, string>): void {
    Object.assign(this.app(m, appName).config, kv);
    for (const [k, v] of Object.entries(kv)) this.changes.note("config", m, `${appName} ${k}=${v}`);
  }

  // ------------------------------------------------------------------ relations

  /** An end spec: `app[:endpoint]`, or a remote application / offer URL already consumed. */
  private endpointsOf(c: JujuController, m: JujuModel, appName: string): CharmEndpoint[] {
    const local = m.apps.get(appName);
    if (local) return local.charm.endpoints;
    const remote = m.remoteApps.get(appName);
    if (remote) {
      const src = this.modelByUuid(remote.modelUuid);
      const offer = src?.m.offers.get(remote.offer);
      const app = offer ? src?.m.apps.get(offer.app) : undefined;
      return (app?.charm.endpoints ?? []).filter((e) => offer?.endpoints.includes(e.name));
    }
    void c;
    throw notFound(`application "${appName}" not found`);
  }

  /**
   * `juju integrate a[:ep] b[:ep]` (`b` may be an offer URL: consumed under the offer's
   * name first). Interfaces must match (requires ↔ provides, or peers); an endpoint at its
   * `limit` refuses another relation; duplicates are refused.
   */
  integrate(c: JujuController, m: JujuModel, a: string, b: string, now: number): JujuRelation {
    const resolve = (spec: string): [string, string | undefined] => {
      if (spec.includes("/") && spec.includes(".")) {
        const [url, ep] = splitUrlEndpoint(spec);
        const alias = this.consume(c, m, url, undefined).alias;
        return [alias, ep];
      }
      const [app, ep] = spec.split(":") as [string, string | undefined];
      return [app, ep];
    };
    const [aa, ae] = resolve(a);
    const [ba, be] = resolve(b);
    const ea = this.endpointsOf(c, m, aa);
    const eb = this.endpointsOf(c, m, ba);
    for (const [app, ep, list] of [
      [aa, ae, ea],
      [ba, be, eb],
    ] as const) {
      if (ep !== undefined && !list.some((e) => e.name === ep)) throw invalid(`application "${app}" has no "${ep}" relation`);
    }
    const pairs: [CharmEndpoint, CharmEndpoint][] = [];
    for (const x of ea) {
      if (ae !== undefined && x.name !== ae) continue;
      for (const y of eb) {
        if (be !== undefined && y.name !== be) continue;
        if (x.interface !== y.interface) continue;
        const roles = `${x.role}/${y.role}`;
        if (roles !== "requires/provides" && roles !== "provides/requires") continue;
        // juju-info is only picked when asked for, or for a subordinate's container relation.
        if (x.interface === "juju-info" && ae === undefined && be === undefined && !this.isSubordinate(m, aa) && !this.isSubordinate(m, ba)) continue;
        pairs.push([x, y]);
      }
    }
    if (pairs.length === 0) throw notFound(`no relations found`);
    if (pairs.length > 1) throw invalid(`ambiguous relation: "${a} ${b}" could refer to ${pairs.map(([x, y]) => `"${aa}:${x.name} ${ba}:${y.name}"`).join("; ")}`);
    const [x, y] = pairs[0] as [CharmEndpoint, CharmEndpoint];
    const key = (p: string, q: string) => [p, q].sort().join(" ");
    const label = `${aa}:${x.name} ${ba}:${y.name}`;
    if (m.relations.some((r) => key(`${r.ends[0].app}:${r.ends[0].endpoint}`, `${r.ends[1].app}:${r.ends[1].endpoint}`) === key(`${aa}:${x.name}`, `${ba}:${y.name}`))) throw new JujuError("already exists", `cannot add relation "${label}": relation ${label} already exists`);
    for (const [app, ep] of [
      [aa, x],
      [ba, y],
    ] as const) {
      if (ep.limit !== undefined && this.relationsOf(m, app, ep.name).length >= ep.limit) throw new JujuError("quota limit exceeded", `cannot add relation "${label}": establishing a new relation for ${app}:${ep.name} would exceed its maximum relation limit of ${ep.limit} (quota limit exceeded)`);
    }
    const container = x.scope === "container" || y.scope === "container" || ((this.isSubordinate(m, aa) || this.isSubordinate(m, ba)) && x.interface === "juju-info");
    const ends: [RelationEnd, RelationEnd] = [
      { app: aa, endpoint: x.name, role: x.role, interface: x.interface },
      { app: ba, endpoint: y.name, role: y.role, interface: y.interface },
    ];
    const r: JujuRelation = { id: m.nextRelation++, ends, scope: container ? "container" : "global", createdAt: now };
    m.relations.push(r);
    this.changes.note("integrate", m, key(`${aa}:${x.name}`, `${ba}:${y.name}`));
    this.attachSubordinates(m, now);
    return r;
  }

  private isSubordinate(m: JujuModel, app: string): boolean {
    return m.apps.get(app)?.charm.subordinate === true;
  }

  relationsOf(m: JujuModel, app: string, endpoint?: string): JujuRelation[] {
    return m.relations.filter((r) => r.ends.some((e) => e.app === app && (endpoint === undefined || e.endpoint === endpoint)));
  }

  removeRelation(m: JujuModel, a: string, b: string): void {
    const [aa, ae] = a.split(":");
    const [ba, be] = b.split(":");
    const match = (e: RelationEnd, app?: string, ep?: string) => e.app === app && (ep === undefined || e.endpoint === ep);
    const i = m.relations.findIndex((r) => (match(r.ends[0], aa, ae) && match(r.ends[1], ba, be)) || (match(r.ends[1], aa, ae) && match(r.ends[0], ba, be)));
    if (i < 0) throw notFound(`relation "${a} ${b}" not found`);
    m.relations.splice(i, 1);
    this.pruneSubordinates(m);
  }

  /** Subordinate units follow their principals through container-scoped relations: one per principal unit. */
  private attachSubordinates(m: JujuModel, now: number): void {
    for (const r of m.relations) {
      if (r.scope !== "container") continue;
      const [p, s] = this.isSubordinate(m, r.ends[0].app) ? [r.ends[1], r.ends[0]] : [r.ends[0], r.ends[1]];
      const subApp = m.apps.get(s.app);
      const principal = m.apps.get(p.app);
      if (!subApp || !principal || !subApp.charm.subordinate) continue;
      for (const pu of principal.units.values()) {
        if ([...subApp.units.values()].some((u) => u.principal === pu.name)) continue;
        const u = this.newUnit(m, subApp, now, undefined, pu.name);
        u.address = pu.address;
      }
    }
  }

  private pruneSubordinates(m: JujuModel): void {
    for (const a of m.apps.values()) {
      if (!a.charm.subordinate) continue;
      for (const u of [...a.units.values()]) {
        const pApp = u.principal?.split("/")[0] ?? "";
        const still = m.relations.some((r) => r.scope === "container" && r.ends.some((e) => e.app === a.name) && r.ends.some((e) => e.app === pApp));
        const principalThere = [...m.apps.values()].some((x) => x.units.has(u.principal ?? ""));
        if (!still || !principalThere) a.units.delete(u.name);
      }
    }
  }

  // ------------------------------------------------------------------ offers and consumers

  /** `juju offer [model.]app:ep[,ep] [name]` → URL `admin/<model>.<name>`. */
  offer(m: JujuModel, app: string, endpoints: readonly string[], name: string | undefined, now: number): string {
    const a = this.app(m, app);
    for (const ep of endpoints) if (endpointOf(a.charm, ep) === undefined) throw notFound(`application "${app}" has no "${ep}" relation`);
    const offerName = name ?? app;
    const existing = m.offers.get(offerName);
    if (existing && (existing.app !== app || existing.endpoints.join(",") !== endpoints.join(","))) throw new JujuError("already exists", `offer "${offerName}" already exists for a different application or endpoints`);
    const url = `${m.owner}/${m.name}.${offerName}`;
    m.offers.set(offerName, { name: offerName, app, endpoints: [...endpoints], url, createdAt: existing?.createdAt ?? now });
    this.changes.note("offer", m, offerName);
    return url;
  }

  /** The offer a URL names, or "application offer ... not found" (it may not exist yet: offers come first). */
  findOffer(c: JujuController, url: string): { m: JujuModel; offer: NonNullable<ReturnType<JujuModel["offers"]["get"]>> } {
    const u = url.replace(/^[^:/]+:/, "");
    const mm = /^([a-z0-9-]+)\/([a-z0-9-]+)\.([a-z0-9-]+)$/.exec(u);
    if (!mm) throw invalid(`application offer URL "${url}" is not valid (want [<controller>:]<owner>/<model>.<offer>)`);
    const m = c.models.get(mm[2] as string);
    const offer = m?.offers.get(mm[3] as string);
    if (m === undefined || offer === undefined) throw notFound(`application offer "${mm[1]}/${mm[2]}.${mm[3]}" not found`);
    return { m, offer };
  }

  /** `juju consume <url> [alias]`: a remote application in `m`. Consuming the same offer again is a no-op. */
  consume(c: JujuController, m: JujuModel, url: string, alias: string | undefined): { alias: string } {
    const { m: src, offer } = this.findOffer(c, url);
    if (src === m) throw invalid(`cannot consume an offer in its own model "${m.name}"`);
    const name = alias ?? offer.name;
    const have = m.remoteApps.get(name);
    if (have) {
      if (have.url !== offer.url) throw new JujuError("already exists", `saas application "${name}" already exists for a different offer`);
      return { alias: name };
    }
    if (m.apps.has(name)) throw new JujuError("already exists", `cannot add saas application "${name}": application already exists`);
    m.remoteApps.set(name, { alias: name, url: offer.url, modelUuid: src.uuid, offer: offer.name });
    this.changes.note("consume", m, name);
    return { alias: name };
  }

  /** Consumers of an offer, across the controller's models. */
  offerConnections(c: JujuController, srcModel: JujuModel, offerName: string): { model: JujuModel; relation: JujuRelation }[] {
    const out: { model: JujuModel; relation: JujuRelation }[] = [];
    for (const m of c.models.values()) {
      for (const ra of m.remoteApps.values()) {
        if (ra.modelUuid !== srcModel.uuid || ra.offer !== offerName) continue;
        for (const r of m.relations) if (r.ends.some((e) => e.app === ra.alias)) out.push({ model: m, relation: r });
      }
    }
    return out;
  }

  removeOffer(c: JujuController, url: string, force: boolean): void {
    const { m, offer } = this.findOffer(c, url);
    const live = this.offerConnections(c, m, offer.name);
    if (live.length > 0 && !force) throw invalid(`cannot delete application offer "${offer.name}": offer has ${live.length} relations`);
    for (const l of live) l.model.relations = l.model.relations.filter((r) => r !== l.relation);
    m.offers.delete(offer.name);
  }

  removeSaas(m: JujuModel, alias: string): void {
    if (!m.remoteApps.has(alias)) throw notFound(`remote application "${alias}" not found`);
    m.relations = m.relations.filter((r) => !r.ends.some((e) => e.app === alias));
    m.remoteApps.delete(alias);
  }

  // ------------------------------------------------------------------ spaces

  /** `juju add-space <name> <cidr>...`: the subnets must be known to the model (from its machines) and not in another space but alpha. */
  addSpace(m: JujuModel, name: string, cidrs: readonly string[]): JujuSpace {
    if (m.spaces.has(name)) throw new JujuError("already exists", `cannot add space "${name}": space "${name}" already exists`);
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) throw invalid(`"${name}" is not a valid space name`);
    this.takeSubnets(m, name, cidrs, "cannot add space");
    const s: JujuSpace = { id: String(m.spaces.size), name, cidrs: [...cidrs] };
    m.spaces.set(name, s);
    this.changes.note("add-space", m, name);
    return s;
  }

  /** `juju move-to-space <space> <cidr>...`. */
  moveToSpace(m: JujuModel, name: string, cidrs: readonly string[]): void {
    const s = m.spaces.get(name);
    if (s === undefined) throw notFound(`space "${name}" not found`);
    this.takeSubnets(m, name, cidrs, "cannot move subnets");
    s.cidrs.push(...cidrs.filter((x) => !s.cidrs.includes(x)));
    this.changes.note("move-to-space", m, `${cidrs.join(",")} to ${name}`);
  }

  private takeSubnets(m: JujuModel, into: string, cidrs: readonly string[], what: string): void {
    for (const cidr of cidrs) {
      const owner = [...m.spaces.values()].find((s) => s.cidrs.includes(cidr));
      if (owner === undefined) throw notFound(`${what} "${into}": subnet "${cidr}" not found`);
      if (owner.name !== into) owner.cidrs = owner.cidrs.filter((x) => x !== cidr);
    }
  }
}

/** `admin/model.offer:endpoint` → [url, endpoint]. */
export function splitUrlEndpoint(spec: string): [string, string | undefined] {
  const i = spec.lastIndexOf(":");
  if (i > 0 && !spec.slice(i + 1).includes("/") && spec.slice(0, i).includes("/")) return [spec.slice(0, i), spec.slice(i + 1)];
  return [spec, undefined];
}
