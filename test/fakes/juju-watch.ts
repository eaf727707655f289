/**
 * A JujuWatchPort for the layers' unit tests: the test edits a model by hand (machines,
 * applications, units, relations) and `commit()`s the edits as one delta batch, which is
 * one read for every wait and fires `unit-error` for units that entered error, as the
 * jujulib watch does. Waits are the real ones (src/juju/waits.ts), so consecutive reads,
 * intervals, deadlines, aborts and close behave exactly as in production. `drop()` plays a
 * lost connection and its resync. Calls are counted so a test can see what was asked.
 */
import { JujuWatchError } from "../../src/juju/port.ts";
import type { JujuConnectOptions, JujuView, JujuWatchEvent, JujuWatchListener, JujuWatchPort, JujuWatchStats, WaitOptions, WatchedApplication, WatchedMachine, WatchedRelation, WatchedUnit } from "../../src/juju/port.ts";
import { emptyState, errorsBetween, snapshot, unitErrors } from "../../src/juju/view.ts";
import type { ViewState } from "../../src/juju/view.ts";
import { REAL_TIMERS, Waits } from "../../src/juju/waits.ts";
import type { WatchTimers } from "../../src/juju/waits.ts";

const status = <S extends string>(current: S, message = "") => ({ current, reported: current, message, since: "2026-01-01T00:00:00.000Z" });

export class FakeJujuWatch {
  readonly calls = { connect: 0, waitFor: 0, close: 0 };
  /** The options of the last connect() (the password included: do not print them). */
  connected: JujuConnectOptions | undefined;
  /** connect() rejects with this, once set. */
  connectError: JujuWatchError | undefined;
  private readonly state: ViewState;
  /** Unit names edited since the last commit, with their workload status before. */
  private readonly touched = new Map<string, string>();
  private cached: JujuView | undefined;
  private phase: "new" | "watching" | "closed" = "new";
  private readonly listeners = new Set<JujuWatchListener>();
  private readonly waits: Waits;
  private readonly counters: JujuWatchStats = { requests: 0, bytesSent: 0, bytesReceived: 0, batches: 0, deltas: 0, reconnects: 0 };

  constructor(modelUuid = "00000000-0000-4000-8000-000000000001", timers: WatchTimers = REAL_TIMERS) {
    this.state = emptyState(modelUuid);
    this.state.modelName = "openstack-machines";
    this.waits = new Waits({ timers, view: () => this.view(), live: () => this.phase === "watching", where: () => ({ modelUuid }) });
  }

  // --- editing the model (applied by commit) -------------------------------------------

  machine(id: string, m: Partial<WatchedMachine> = {}): this {
    this.state.machines.set(id, { id, instanceId: `manual:10.0.0.${Number(id) + 10}`, agentStatus: status("started"), instanceStatus: { current: "running", message: "Manually provisioned machine", since: "" }, life: "alive", addresses: [`10.0.0.${Number(id) + 10}`], hostname: `node-${id}`, hasVote: false, wantsVote: false, ...this.state.machines.get(id), ...m });
    return this.edited();
  }

  application(name: string, a: Partial<WatchedApplication> = {}): this {
    this.state.applications.set(name, { name, charmUrl: `ch:amd64/${name}-1`, life: "alive", subordinate: false, status: status("active"), ...this.state.applications.get(name), ...a });
    return this.edited();
  }

  /** Adds or changes a unit (`app/N`); `workload`/`agent` given as plain status strings. */
  unit(name: string, u: Partial<Omit<WatchedUnit, "workload" | "agent">> & { workload?: WatchedUnit["workload"]["current"]; message?: string; agent?: WatchedUnit["agent"]["current"] } = {}): this {
    const prev = this.state.units.get(name);
    if (!this.touched.has(name)) this.touched.set(name, prev?.workload.current ?? "");
    const { workload, message, agent, ...rest } = u;
    const app = name.split("/")[0] ?? "";
    if (!this.state.applications.has(app)) this.application(app);
    this.state.units.set(name, {
      name,
      application: app,
      machine: "",
      principal: "",
      subordinate: false,
      life: "alive",
      publicAddress: "",
      ...prev,
      ...rest,
      workload: workload !== undefined || message !== undefined ? status(workload ?? prev?.workload.current ?? "active", message ?? "") : (prev?.workload ?? status("active")),
      agent: agent !== undefined ? status(agent) : (prev?.agent ?? status("idle")),
    });
    return this.edited();
  }

  relation(a: string, b: string, r: Partial<WatchedRelation> = {}): this {
    const [aa = "", ae = ""] = a.split(":");
    const [ba = "", be = ""] = b.split(":");
    const key = [a, b].sort().join(" ");
    this.state.relations.set(key, { key, id: this.state.relations.size, scope: "global", endpoints: [{ application: aa, endpoint: ae, role: "requirer", interface: ae }, { application: ba, endpoint: be, role: "provider", interface: be }], ...r });
    return this.edited();
  }

  remove(kind: "machine" | "application" | "unit" | "relation", id: string): this {
    if (kind === "unit" && !this.touched.has(id)) this.touched.set(id, this.state.units.get(id)?.workload.current ?? "");
    ({ machine: this.state.machines, application: this.state.applications, unit: this.state.units, relation: this.state.relations })[kind].delete(id);
    return this.edited();
  }

  /** The edits so far as one delta batch: one read for every wait; unit-error events. */
  commit(): JujuView {
    this.state.revision++;
    this.counters.batches++;
    this.counters.deltas += Math.max(1, this.touched.size);
    const events = unitErrors(this.state, this.touched);
    this.touched.clear();
    this.cached = undefined;
    for (const e of events) this.emit(e);
    if (this.phase === "watching") this.waits.readAll();
    return this.view();
  }

  /** A unit's hook fails (workload error, as Juju reports it), committed. */
  failUnit(name: string, hook = "install"): JujuView {
    return this.unit(name, { workload: "error", message: `hook failed: "${hook}"`, agent: "idle" }).commit();
  }

  /**
   * The connection is lost and comes back: counts restart, and the resync applies the
   * uncommitted edits (what changed during the outage) as one read.
   */
  drop(reason = "connection closed (code 1006)"): JujuView {
    this.emit({ type: "connection-lost", reason });
    this.waits.resetCounts();
    this.counters.reconnects++;
    this.state.revision++;
    const events = unitErrors(this.state, this.touched);
    this.touched.clear();
    this.cached = undefined;
    for (const e of events) this.emit(e);
    this.emit({ type: "resynced", endpoint: this.connected?.endpoints[0] ?? "", reconnects: this.counters.reconnects });
    if (this.phase === "watching") this.waits.readAll();
    return this.view();
  }

  /** How many waits are pending. */
  get waiting(): number {
    return this.waits.size;
  }

  private edited(): this {
    this.cached = undefined;
    return this;
  }

  private emit(e: JujuWatchEvent): void {
    for (const l of [...this.listeners]) l(e);
  }

  private view(): JujuView {
    this.cached ??= snapshot(this.state);
    return this.cached;
  }

  port(): JujuWatchPort {
    return {
      connect: async (opts: JujuConnectOptions) => {
        this.calls.connect++;
        if (this.phase !== "new") throw new JujuWatchError("JUJU_STATE", { modelUuid: opts.modelUuid }, "connect() was already called");
        if (this.connectError) throw this.connectError;
        this.connected = opts;
        this.phase = "watching";
        this.counters.requests += 4;
        // The first view: units already in error are reported, as the real watch does.
        this.touched.clear();
        for (const e of errorsBetween(undefined, this.state)) this.emit(e);
      },
      view: () => {
        if (this.phase === "new") throw new JujuWatchError("JUJU_STATE", {}, "the watch has no view yet: connect() has not resolved");
        return this.view();
      },
      waitFor: (predicate: (v: JujuView) => boolean, o: WaitOptions) => {
        this.calls.waitFor++;
        if (this.phase === "closed") return Promise.reject(new JujuWatchError("JUJU_CLOSED", {}, `the watch was closed while waiting for ${o.what ?? "the condition"}`));
        if (this.phase === "new") return Promise.reject(new JujuWatchError("JUJU_STATE", {}, "connect() has not resolved"));
        return this.waits.add(predicate, o);
      },
      on: (l: JujuWatchListener) => {
        this.listeners.add(l);
        return () => this.listeners.delete(l);
      },
      stats: () => ({ ...this.counters }),
      close: async () => {
        this.calls.close++;
        if (this.phase === "closed") return;
        this.phase = "closed";
        this.waits.failAll(new JujuWatchError("JUJU_CLOSED", {}, "the watch was closed while waiting for the condition"));
      },
    } satisfies JujuWatchPort;
  }
}
