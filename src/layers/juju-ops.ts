/**
 * Juju, check then act, through the juju CLI on the client machine (templates/layers/juju.yaml):
 * every change reads Juju first (`juju status`, `machines`, `config`, `models`, `spaces`) and
 * acts only on what is missing, so a re-run, or a rollout resumed after kill -9, reconciles
 * instead of redoing. Waits on units need consecutive good reads (waits.ts); a unit in error
 * ends a wait at once with LAYER_UNIT_ERROR naming it (juju-layering.md §2, §3e, §4a).
 *
 * `juju status` reads of one model are shared by the callers that ask while one is in
 * flight (many hosts waiting on the same model cost one read per poll, not one each); a read
 * started before a change is never used after it.
 */
import type { Logger } from "pino";
import { LayerError } from "./errors.ts";
import type { HostNetwork, LayerHost } from "./host.ts";
import { addressesOf } from "./host.ts";
import type { KeyedLock, Lane } from "./lane.ts";
import type { LayerTemplate, MachineApp, RelationSpec, Values } from "./render.ts";
import type { ModelWatches } from "./model-watches.ts";
import { isJujuChangeOp, targetOf, type JujuChange, type JujuChangeLog, type JujuChangeOp } from "./juju-journal.ts";
import { GOOD_READS, waitUntil, type WaitOptions } from "./waits.ts";
import { waitUnitsOnView, type ViewUnitWait } from "./watch-waits.ts";
import { JujuWatchError } from "../juju/port.ts";
import type { SshTarget } from "../ssh/port.ts";

export interface StatusValue {
  current?: string;
  message?: string;
}
export interface UnitJson {
  "workload-status"?: StatusValue;
  "juju-status"?: StatusValue;
  machine?: string;
  leader?: boolean;
  subordinates?: Record<string, UnitJson>;
}
export interface AppJson {
  charm?: string;
  "charm-name"?: string;
  scale?: number;
  "application-status"?: StatusValue;
  relations?: Record<string, { "related-application"?: string; interface?: string }[]>;
  units?: Record<string, UnitJson>;
  "subordinate-to"?: string[];
}
export interface MachineJson {
  "dns-name"?: string;
  "ip-addresses"?: string[];
  "instance-id"?: string;
  "juju-status"?: StatusValue;
}
export interface StatusJson {
  machines?: Record<string, MachineJson>;
  applications?: Record<string, AppJson>;
  "application-endpoints"?: Record<string, { url?: string; "application-status"?: StatusValue }>;
  offers?: Record<string, { application?: string; "total-connected-count"?: number }>;
}

/** A unit with the machine it runs on (a subordinate: its principal's). */
export interface UnitRef {
  name: string;
  app: string;
  machine: string | undefined;
  status: string;
  message: string;
  leader: boolean;
}

/** Every unit of an application, subordinates found under their principals. */
export function unitsOf(st: StatusJson, app: string): UnitRef[] {
  const out: UnitRef[] = [];
  const ref = (name: string, u: UnitJson, machine: string | undefined): UnitRef => ({ name, app: name.split("/")[0] ?? "", machine, status: u["workload-status"]?.current ?? "unknown", message: u["workload-status"]?.message ?? "", leader: u.leader === true });
  for (const a of Object.values(st.applications ?? {})) {
    for (const [name, u] of Object.entries(a.units ?? {})) {
      if (name.startsWith(`${app}/`)) out.push(ref(name, u, u.machine));
      for (const [sn, su] of Object.entries(u.subordinates ?? {})) if (sn.startsWith(`${app}/`)) out.push(ref(sn, su, u.machine));
    }
  }
  return out;
}

/** The application an end names: `app:ep` → app; an offer URL → its alias in the consuming model (the offer's name). */
export function endApp(end: string): string {
  if (end.includes("/")) return end.slice(end.lastIndexOf(".") + 1);
  return end.split(":")[0] ?? end;
}

/** Replaces `{{name}}` in a bundle's data (charm config) with the engine's values. */
export function fill(text: string, values: Values, where: string): string {
  return text.replace(/\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new LayerError("LAYER_PRECONDITION", { layer: where, step: "config" }, `no value for {{${key}}} in ${where}`);
    return String(v);
  });
}

export interface JujuShared {
  client: LayerHost;
  tpl: LayerTemplate<"juju">;
  logger: Logger;
  locks: KeyedLock;
  /** The engine's lane: shared reads go through it. */
  main: Lane;
  waitOptions(lane: Lane, layer: string, step: string, host: LayerHost, timeoutMs: number): WaitOptions;
  /** Status reads per model, with the change count they started at and when they ended (undefined: in flight). */
  reads: Map<string, { gen: number; p: Promise<StatusJson>; doneAt?: number }>;
  /** A finished read of an unchanged model is reused this long (the waits' poll interval): the waits poll no faster anyway. */
  reuseMs?: number;
  /** Monotonic milliseconds (the layering's clock). */
  now: () => number;
  gen: Map<string, number>;
  /** Models known to exist (a model is never removed by the layers). */
  models: Set<string>;
  /** The models' live views (model-watches.ts): the unit waits read them instead of polling `juju status`. */
  watches?: ModelWatches;
  /** The layers' poll interval (the polling waits', and the floor of a quiet watch's reads). */
  pollMs?: number;
  /** Every change is journaled ahead through it (juju-journal.ts). */
  changes: JujuChangeLog;
  /**
   * Addresses whose add-machine may have been cut short (an intent reconciled as not taken
   * effect, or a command that failed): before the next add-machine, the host is checked for a
   * half-installed agent (`enlist`).
   */
  suspect: Set<string>;
}

/** What a unit wait waits for: one description for the watch and the polling fallback. */
export type UnitWait = ViewUnitWait;

/** Juju operations through one lane (the engine's, or one host's). */
export class JujuOps {
  readonly s: JujuShared;
  readonly lane: Lane;
  /** The host whose work this is (its changes' intents name it), when it is one host's. */
  readonly host: LayerHost | undefined;

  constructor(s: JujuShared, lane: Lane, host?: LayerHost) {
    this.s = s;
    this.lane = lane;
    this.host = host;
  }

  /** The same operations for `h`'s part of a barrier: its changes' intents name it. */
  for(h: LayerHost): JujuOps {
    return new JujuOps(this.s, this.lane, h);
  }

  /** The intent of a change of `model` by `step` with `values`, for this ops' host (or `h`). */
  private intent(model: string, op: JujuChangeOp, values: Values, h: LayerHost | undefined = this.host): JujuChange {
    return { op, model, target: targetOf(values), ...(h ? { host: { systemId: h.systemId, hostname: h.hostname } } : {}) };
  }

  private get c(): LayerHost {
    return this.s.client;
  }

  private changed(model: string): void {
    this.s.gen.set(model, (this.s.gen.get(model) ?? 0) + 1);
  }

  /**
   * `juju status` of a model, shared with the callers asking while it is in flight, and for
   * `reuseMs` after it ended unless this engine changed the model since (a check after an
   * action always reads afresh).
   */
  status(model: string): Promise<StatusJson> {
    this.lane.ensureOpen("status");
    const gen = this.s.gen.get(model) ?? 0;
    const now = this.s.now();
    let r = this.s.reads.get(model);
    const fresh = r !== undefined && r.gen === gen && (r.doneAt === undefined || now - r.doneAt < (this.s.reuseMs ?? 0));
    if (r === undefined || !fresh) {
      const p = this.s.main.steps.queryJson<StatusJson>(this.c, this.s.tpl, "status", { model });
      const entry: { gen: number; p: Promise<StatusJson>; doneAt?: number } = { gen, p };
      this.s.reads.set(model, entry);
      p.then(
        () => (entry.doneAt = this.s.now()),
        () => {
          if (this.s.reads.get(model) === entry) this.s.reads.delete(model);
        },
      );
      r = entry;
    }
    return this.lane.until(r.p, "status");
  }

  /**
   * Runs a change step once, journaled ahead (its intent committed before the command is sent);
   * the model's cached reads are dropped (a check after it reads afresh).
   */
  async act(model: string, step: JujuChangeOp, values: Values, opts: { stdin?: string } = {}): Promise<void> {
    try {
      await this.s.changes.change(this.intent(model, step, values), () => this.lane.steps.run(this.c, this.s.tpl, step, { model, ...values }, opts));
    } finally {
      this.changed(model);
    }
  }

  /**
   * Whether a change journaled by an earlier run took effect, read from Juju (the same reads
   * the steps check with). Actions leave nothing `juju status` shows: they count as not taken
   * effect, and their steps (safe to run again: disabling a disabled hypervisor, setting a pool
   * size it has, add-osd after list-disks showed the disk free) redo them. So does the cleanup
   * of a half-installed agent: its host is marked, and `enlist` lists its services again.
   */
  async tookEffect(c: JujuChange): Promise<boolean> {
    const t = (k: string) => String(c.target[k] ?? "");
    const model = c.model;
    switch (c.op) {
      case "addMachineModel":
      case "addCloudModel":
        return (await this.models()).includes(model);
      case "addK8s":
        return t("cloud") in (await this.lane.steps.queryJson<Record<string, unknown>>(this.c, this.s.tpl, "clouds", {}));
      case "addMachine": {
        const took = Object.values((await this.status(model)).machines ?? {}).some((m) => [m["dns-name"], ...(m["ip-addresses"] ?? [])].includes(t("address")));
        // Not in Juju: the command may still have installed the agent on the host before it was cut short.
        if (!took) this.s.suspect.add(t("address"));
        return took;
      }
      case "cleanManualAgent":
        // Not read here (the host may not answer, and every model's reconcile waits on this one): the host is
        // marked, and its enlist lists its services again before add-machine, cleaning only what is still there.
        this.s.suspect.add(t("address"));
        return false;
      case "removeMachine":
      case "removeEmptyMachine":
        return (await this.status(model)).machines?.[t("id")] === undefined;
      case "removeUnit":
        return !unitsOf(await this.status(model), t("unit").split("/")[0] ?? "").some((u) => u.name === t("unit"));
      case "addSpace":
      case "moveToSpace": {
        const j = await this.lane.steps.queryJson<{ spaces?: { name?: string; subnets?: Record<string, unknown> }[] }>(this.c, this.s.tpl, "spaces", { model });
        return (j.spaces ?? []).some((sp) => sp.name === t("space") && t("cidr") in (sp.subnets ?? {}));
      }
      case "deployMachine":
      case "deployBound":
      case "deploySubordinate":
      case "deployK8s":
        return (await this.status(model)).applications?.[t("app")] !== undefined;
      case "addUnit":
        return unitsOf(await this.status(model), t("app")).some((u) => u.machine === t("to"));
      case "scale":
        return (await this.status(model)).applications?.[t("app")]?.scale === Number(t("scale"));
      case "setConfig": {
        const [k = "", ...v] = t("setting").split("=");
        const cur = (await this.lane.steps.queryJson<{ settings?: Record<string, { value?: unknown }> }>(this.c, this.s.tpl, "config", { model, app: t("app") })).settings ?? {};
        return String(cur[k]?.value ?? "") === v.join("=");
      }
      case "integrate":
        return JujuOps.related(await this.status(model), t("a"), t("b"));
      case "offer":
        return (await this.status(model)).offers?.[t("name")] !== undefined;
      case "disableHypervisor":
      case "setPoolSize":
      case "addOsd":
      case "addOsdWipe":
        return false;
      case "bootstrap":
      case "controllerAddMachine":
      case "enableHa":
        throw new LayerError("LAYER_PRECONDITION", { layer: "juju", step: c.op }, `${c.op} is the controller's change: reconciled by the controller barrier`);
    }
  }

  private ensure(model: string, step: JujuChangeOp, values: Values, satisfied: () => Promise<boolean>, act?: () => Promise<void>): Promise<unknown> {
    return this.lane.steps.ensure(this.c, this.s.tpl, step, { model, ...values }, { satisfied, act: act ?? (() => this.act(model, step, values)) });
  }

  async models(): Promise<string[]> {
    const j = await this.lane.steps.queryJson<{ models?: { "short-name"?: string; name?: string }[] }>(this.c, this.s.tpl, "models", {});
    return (j.models ?? []).map((m) => m["short-name"] ?? (m.name ?? "").split("/").pop() ?? "");
  }

  /** A model on the controller's cloud (`cloud` undefined) or on a registered cloud. */
  async ensureModel(model: string, cloud?: string): Promise<void> {
    if (this.s.models.has(model)) return;
    const step = cloud === undefined ? "addMachineModel" : "addCloudModel";
    await this.s.locks.run(`model/${model}`, () => this.ensure(model, step, cloud === undefined ? {} : { cloud }, async () => (await this.models()).includes(model)));
    this.s.models.add(model);
  }

  /** The machine id of a host in a model (matched by any of its addresses: manual machines' ids say nothing else). */
  async machineOf(model: string, h: LayerHost): Promise<string | undefined> {
    const addrs = addressesOf(h);
    const st = await this.status(model);
    for (const [id, m] of Object.entries(st.machines ?? {})) {
      if ([m["dns-name"], ...(m["ip-addresses"] ?? [])].some((a) => a !== undefined && addrs.includes(a))) return id;
    }
    return undefined;
  }

  /** Manual provisioning (`add-machine ssh:ubuntu@ADDR`) unless the host is a machine of the model; its id. */
  async enlist(model: string, h: LayerHost): Promise<string> {
    // The host answers (it is being layered) but its machine's agent is down: MAAS redeployed it, and the
    // new installation has no agent. A re-provisioning takes the host out of Juju before its release
    // (removal.ts), so this is the fallback for a host redeployed otherwise (by hand in MAAS, or a removal
    // that could not run): the stale machine goes (with its units) so the host is added afresh.
    const stale = await this.machineOf(model, h);
    const agent = stale === undefined ? undefined : (await this.status(model)).machines?.[stale]?.["juju-status"]?.current;
    if (stale !== undefined && agent === "down") {
      this.s.logger.warn({ systemId: h.systemId, hostname: h.hostname, machine: stale }, "host's Juju machine is down though the host answers (redeployed): removing it to enlist the host again");
      await this.ensure(model, "removeMachine", { id: stale }, async () => (await this.status(model)).machines?.[stale] === undefined);
    }
    await this.ensure(model, "addMachine", { address: h.address }, async () => (await this.machineOf(model, h)) !== undefined, async () => {
      // The host is not a machine of the model (checked just before): an earlier add-machine cut short may have left its agent.
      if (this.s.suspect.has(h.address)) await this.cleanHalfProvisioned(model, h);
      try {
        await this.act(model, "addMachine", { address: h.address });
      } catch (e) {
        // A provisioning that failed part-way can leave the agent installed and the machine gone (the next attempt checks).
        this.s.suspect.add(h.address);
        throw e;
      }
    });
    const id = await this.machineOf(model, h);
    if (id === undefined) throw new LayerError("LAYER_NOT_VERIFIED", { layer: "machines", step: "addMachine", systemId: h.systemId, hostname: h.hostname }, `${h.hostname} is not a machine of ${model} after add-machine`);
    return id;
  }

  /**
   * The host's Juju machine agent services (`jujud-machine-N.service`): what `add-machine ssh:`
   * calls already provisioned (JJ:environs/manual/sshprovisioner/sshprovisioner.go checkProvisioned:
   * the host's service list names a jujud-machine service).
   */
  async agentUnits(h: SshTarget): Promise<string[]> {
    const out = await this.lane.steps.query(h, this.s.tpl, "agentServices", {});
    return [...out.matchAll(/^\s*(jujud-machine-\S+)/gm)].map((m) => m[1] as string);
  }

  /**
   * A host whose add-machine was cut short and whose machine Juju does not know: an agent the
   * provisioning script installed would make the next add-machine fail with "machine is already
   * provisioned", so it is taken off first, as Juju's own teardown of a manual machine does
   * (templates/layers/juju.yaml `cleanManualAgent`), journaled ahead like every change.
   */
  private async cleanHalfProvisioned(model: string, h: LayerHost): Promise<void> {
    for (const unit of await this.agentUnits(h)) {
      this.s.logger.warn({ systemId: h.systemId, hostname: h.hostname, unit }, "host has a Juju machine agent but no machine in Juju (an add-machine cut short): removing the agent to enlist the host again");
      await this.s.changes.change(this.intent(model, "cleanManualAgent", { address: h.address, unit }, h), () => this.lane.steps.run(h, this.s.tpl, "cleanManualAgent", { unit }));
    }
    this.s.suspect.delete(h.address);
  }

  /**
   * Juju spaces from MAAS's: each MAAS space gets the subnets its hosts have addresses on, once
   * the model knows the subnet (it learns subnets from its machines). Check then act: `juju spaces`
   * first; a subnet in the wrong space is moved.
   */
  async ensureSpaces(model: string, networks: readonly HostNetwork[]): Promise<Set<string>> {
    return this.s.locks.run(`${model}/spaces`, async () => {
      const read = async () => {
        const j = await this.lane.steps.queryJson<{ spaces?: { name?: string; subnets?: Record<string, unknown> }[] }>(this.c, this.s.tpl, "spaces", { model });
        const where = new Map<string, string>();
        for (const sp of j.spaces ?? []) for (const cidr of Object.keys(sp.subnets ?? {})) where.set(cidr, sp.name ?? "");
        return { names: new Set((j.spaces ?? []).map((x) => x.name ?? "")), where };
      };
      let cur = await read();
      const wanted = new Map<string, string>();
      for (const n of networks) if (n.space !== null) wanted.set(n.cidr, n.space);
      for (const [cidr, space] of wanted) {
        if (!cur.where.has(cidr) || cur.where.get(cidr) === space) continue;
        const step = cur.names.has(space) ? "moveToSpace" : "addSpace";
        await this.lane.steps.ensure(this.c, this.s.tpl, step, { model, space, cidr }, {
          satisfied: async () => (cur = await read()).where.get(cidr) === space,
          act: () => this.act(model, step, { space, cidr }),
        });
      }
      return cur.names;
    });
  }

  /** The `--bind` of an application: its bindings to spaces the model has (none: Juju's default space). */
  bindOf(app: MachineApp, spaces: ReadonlySet<string>): string | undefined {
    const def = app.bindings[""];
    const parts = Object.entries(app.bindings).filter(([ep, sp]) => ep !== "" && spaces.has(sp)).map(([ep, sp]) => `${ep}=${sp}`);
    if (def !== undefined && spaces.has(def)) parts.unshift(def);
    return parts.length > 0 ? parts.join(" ") : undefined;
  }

  /** A machine application with its first unit on `to` (none for a subordinate), then its config. */
  async ensureApp(model: string, app: MachineApp, to: string | undefined, spaces: ReadonlySet<string>, values: Values): Promise<void> {
    await this.s.locks.run(`${model}/${app.app}`, async () => {
      const bind = this.bindOf(app, spaces);
      const base = { app: app.app, charm: app.charm, channel: app.channel, base: app.base };
      const exists = async () => (await this.status(model)).applications?.[app.app] !== undefined;
      if (app.subordinate || to === undefined) await this.ensure(model, "deploySubordinate", base, exists);
      else if (bind === undefined) await this.ensure(model, "deployMachine", { ...base, to }, exists);
      else await this.ensure(model, "deployBound", { ...base, to, bind }, exists);
    });
    await this.ensureConfig(model, app.app, Object.fromEntries(Object.entries(app.config).map(([k, v]) => [k, fill(v, values, app.app)])));
  }

  /** A unit of `app` on machine `to` unless one is there. */
  async ensureUnit(model: string, app: string, to: string): Promise<void> {
    await this.s.locks.run(`${model}/${app}`, () => this.ensure(model, "addUnit", { app, to }, async () => unitsOf(await this.status(model), app).some((u) => u.machine === to)));
  }

  /** Each setting whose value differs (read with `juju config` first), one `juju config app k=v` each. */
  async ensureConfig(model: string, app: string, settings: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(settings).length === 0) return;
    // One check-then-act per application's config at a time: two hosts joining at once would both read the old value and both set it.
    await this.s.locks.run(`${model}/${app}/config`, () => this.setConfig(model, app, settings));
  }

  private async setConfig(model: string, app: string, settings: Readonly<Record<string, string>>): Promise<void> {
    const read = async () => (await this.lane.steps.queryJson<{ settings?: Record<string, { value?: unknown }> }>(this.c, this.s.tpl, "config", { model, app })).settings ?? {};
    let cur = await read();
    for (const [k, v] of Object.entries(settings)) {
      if (String(cur[k]?.value ?? "") === v) continue;
      await this.lane.steps.ensure(this.c, this.s.tpl, "setConfig", { model, app, setting: `${k}=${v}` }, {
        satisfied: async () => String((cur = await read())[k]?.value ?? "") === v,
        act: () => this.act(model, "setConfig", { app, setting: `${k}=${v}` }),
      });
    }
  }

  /** Whether `a` (app:endpoint) is related to `b`'s application (or offer alias). */
  static related(st: StatusJson, a: string, b: string): boolean {
    const [app = "", ep = ""] = a.split(":");
    return (st.applications?.[app]?.relations?.[ep] ?? []).some((r) => r["related-application"] === endApp(b));
  }

  async ensureRelation(model: string, rel: RelationSpec): Promise<void> {
    const [a, b] = rel;
    await this.s.locks.run(`${model}/rel/${a}`, () => this.ensure(model, "integrate", { a, b }, async () => JujuOps.related(await this.status(model), a, b)));
  }

  /**
   * Several relations of a model with one read first: those Juju lacks are made, then one read
   * verifies them; a relation still missing goes through the retried check-then-act.
   */
  async ensureRelations(model: string, rels: readonly RelationSpec[]): Promise<void> {
    const st = await this.status(model);
    const missing = rels.filter(([a, b]) => !JujuOps.related(st, a, b));
    if (missing.length === 0) return;
    for (const [a, b] of missing) await this.act(model, "integrate", { a, b }).catch(() => undefined);
    const after = await this.status(model);
    for (const rel of missing) if (!JujuOps.related(after, rel[0], rel[1])) await this.ensureRelation(model, rel);
  }

  async ensureOffer(model: string, o: { app: string; endpoints: readonly string[]; name: string }): Promise<void> {
    await this.s.locks.run(`${model}/offer/${o.name}`, () => this.ensure(model, "offer", { app: o.app, endpoints: o.endpoints.join(","), name: o.name }, async () => (await this.status(model)).offers?.[o.name] !== undefined));
  }

  /** An action on a unit: its results when `completed`, else LAYER_COMMAND_FAILED with the action's message. */
  async action(model: string, step: string, unit: string, values: Values = {}): Promise<Record<string, unknown>> {
    const send = () => this.lane.steps.run(this.c, this.s.tpl, step, { model, unit, ...values }, { allowNonZero: true });
    // Actions that change something are journaled ahead like any change; the reads (list-disks, get-kubeconfig) are not.
    const r = isJujuChangeOp(step) ? await this.s.changes.change(this.intent(model, step, { unit, ...values }), send) : await send();
    this.changed(model);
    let j: Record<string, { status?: string; message?: string; results?: Record<string, unknown> }>;
    try {
      j = JSON.parse(r.stdout) as typeof j;
    } catch {
      throw new LayerError("LAYER_COMMAND_FAILED", { layer: "juju", step, systemId: this.c.systemId, hostname: this.c.hostname, exitCode: r.exitCode, outputTail: r.stderr.slice(-2000) }, `action on ${unit} did not run: ${(r.stderr.trim().split("\n")[0] ?? "").slice(0, 300)}`);
    }
    const res = Object.values(j)[0];
    if (res?.status !== "completed") throw new LayerError("LAYER_COMMAND_FAILED", { layer: "juju", step, systemId: this.c.systemId, hostname: this.c.hostname, exitCode: r.exitCode }, `action on ${unit} ${res?.status ?? "did not report"}: ${res?.message ?? ""}`);
    return res.results ?? {};
  }

  /**
   * Waits until every unit of `apps` (on `machines` when given) shows an accepted workload
   * status in consecutive reads. A unit in error ends the wait at once (LAYER_UNIT_ERROR);
   * one still blocked or waiting at the deadline is named in the LAYER_NOT_READY error.
   */
  async waitUnits(model: string, apps: readonly string[], w: UnitWait): Promise<void> {
    const started = this.s.now();
    const watch = await this.lane.until(this.s.watches?.get(model) ?? Promise.resolve(undefined), w.step);
    if (watch !== undefined && this.s.watches !== undefined) {
      try {
        await this.lane.until(
          waitUnitsOnView(watch, model, apps, w, {
            goodReads: GOOD_READS,
            intervalMs: this.s.watches.intervalMs(this.s.pollMs ?? 5000),
            ...(this.lane.signal ? { signal: this.lane.signal } : {}),
            stopped: (step) => {
              try {
                this.lane.ensureOpen(step);
                return undefined;
              } catch (e) {
                return e instanceof LayerError ? e : undefined;
              }
            },
          }),
          w.step,
        );
        return;
      } catch (e) {
        if (!(e instanceof JujuWatchError)) throw e;
        // The watch itself failed (gave up reconnecting): poll for the rest of the wait.
        this.s.logger.warn({ model, code: e.code, err: e.message }, "the Juju watch failed: polling `juju status` for the rest of this wait");
        this.s.watches.forget(model, watch);
        const left = Math.max(0, w.timeoutMs - ((this.s.now()) - started));
        return this.pollUnits(model, apps, { ...w, timeoutMs: left });
      }
    }
    return this.pollUnits(model, apps, w);
  }

  /** The same wait by polling `juju status` (no watch for the model). */
  private async pollUnits(model: string, apps: readonly string[], w: UnitWait): Promise<void> {
    const accept = w.accept ?? ["active"];
    await waitUntil(async () => {
      const st = await this.status(model);
      const bad: UnitRef[] = [];
      const missing: string[] = [];
      for (const app of apps) {
        const us = unitsOf(st, app).filter((u) => w.machines === undefined || (u.machine !== undefined && w.machines.has(u.machine)));
        if (us.length === 0) missing.push(app);
        for (const u of us) {
          if (u.status === "error") throw new LayerError("LAYER_UNIT_ERROR", { layer: w.layer, step: w.step, systemId: w.host.systemId, hostname: w.host.hostname, unit: { name: u.name, status: u.status, message: u.message } }, `unit ${u.name} is in error`);
          if (!accept.includes(u.status)) bad.push(u);
        }
      }
      const first = bad[0];
      const detail = [...missing.map((a) => `${a}: no unit`), ...bad.map((u) => `${u.name} ${u.status}${u.message ? ` (${u.message})` : ""}`)].join(", ");
      return { ok: bad.length === 0 && missing.length === 0, detail: `units not ready in ${model}: ${detail}`, ...(first ? { unit: { name: first.name, status: first.status, message: first.message } } : {}) };
    }, this.s.waitOptions(this.lane, w.layer, w.step, w.host, w.timeoutMs));
  }
}
