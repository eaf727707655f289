/**
 * The layers' unit waits read from the model's live Juju view (src/juju: the controller's
 * AllWatcher deltas) instead of polling `juju status`: every host waiting on the same model
 * shares one watch, so a wait costs nothing on the wire while the model is quiet and one
 * delta batch per change however many hosts wait (docs/juju-watch.md, docs/layering.md).
 *
 * Same rules as the polling wait (waits.ts): the reference's consecutive good reads (a read is
 * a delta batch applied, or the quiet watcher's tick), a unit of the awaited applications on
 * the awaited machines in `error` ends the wait at once with LAYER_UNIT_ERROR naming the unit,
 * its status and message, and at the deadline LAYER_NOT_READY names what is missing and the
 * first unit still blocked or waiting. A machine awaited must be `started` (its agent up).
 */
import type { JujuView, JujuWatchPort, WatchedUnit } from "../juju/port.ts";
import { JujuWatchError } from "../juju/port.ts";
import { LayerError } from "./errors.ts";
import type { LayerHost } from "./host.ts";

export interface ViewUnitWait {
  layer: string;
  step: string;
  host: LayerHost;
  timeoutMs: number;
  /** Only units on these machines; all units of the applications when absent. */
  machines?: ReadonlySet<string>;
  /** Workload statuses that count as ready (default active). */
  accept?: readonly string[];
}

export interface ViewRead {
  ok: boolean;
  detail: string;
  /** The first unit not ready. */
  unit?: { name: string; status: string; message: string };
  /** A unit in error: the wait ends with it. */
  error?: { name: string; status: string; message: string };
}

/**
 * The view's units by machine, built once per view (a view is immutable): every host waiting
 * on the model reads its own machine's units on each batch, so a batch costs the waits what
 * their units are, not hosts × the model's units.
 */
const byMachine = new WeakMap<JujuView, Map<string, WatchedUnit[]>>();
function unitsOn(v: JujuView, machine: string): readonly WatchedUnit[] {
  let idx = byMachine.get(v);
  if (idx === undefined) {
    idx = new Map();
    for (const u of v.units.values()) {
      const l = idx.get(u.machine);
      if (l === undefined) idx.set(u.machine, [u]);
      else l.push(u);
    }
    byMachine.set(v, idx);
  }
  return idx.get(machine) ?? [];
}

/** Whether every unit of `apps` (on `machines`) shows an accepted workload status in `v`. */
export function readUnits(v: JujuView, model: string, apps: readonly string[], w: Pick<ViewUnitWait, "machines" | "accept">): ViewRead {
  const accept = w.accept ?? ["active"];
  const missing: string[] = [];
  const bad: { name: string; status: string; message: string }[] = [];
  for (const id of w.machines ?? []) {
    const m = v.machines.get(id);
    if (m === undefined) missing.push(`machine ${id}: not in the model`);
    else if (m.agentStatus.current !== "started") missing.push(`machine ${id}: agent ${m.agentStatus.reported}${m.agentStatus.message ? ` (${m.agentStatus.message})` : ""}`);
  }
  const units = w.machines === undefined ? [...v.units.values()] : [...w.machines].flatMap((m) => unitsOn(v, m));
  for (const app of apps) {
    const us = units.filter((u) => u.application === app && u.life === "alive");
    if (us.length === 0) missing.push(`${app}: no unit`);
    for (const u of us) {
      const s = { name: u.name, status: u.workload.reported, message: u.workload.message };
      if (u.workload.current === "error") return { ok: false, detail: `unit ${u.name} is in error`, error: s };
      if (!accept.includes(u.workload.current)) bad.push(s);
    }
  }
  const first = bad[0];
  const detail = [...missing, ...bad.map((u) => `${u.name} ${u.status}${u.message ? ` (${u.message})` : ""}`)].join(", ");
  return { ok: missing.length === 0 && bad.length === 0, detail: `units not ready in ${model}: ${detail}`, ...(first ? { unit: first } : {}) };
}

/**
 * The predicate's fast path, run by every waiting host on every batch: whether the wait holds,
 * or the unit in error; no strings are built (the deadline's message is made from the last
 * view with readUnits, once).
 */
export function unitsHold(v: JujuView, apps: readonly string[], w: Pick<ViewUnitWait, "machines" | "accept">): true | false | WatchedUnit {
  const accept = w.accept ?? ["active"];
  let ok = true;
  if (w.machines === undefined) {
    for (const app of apps) {
      let any = false;
      for (const u of v.units.values()) {
        if (u.application !== app || u.life !== "alive") continue;
        any = true;
        if (u.workload.current === "error") return u;
        if (!accept.includes(u.workload.current)) ok = false;
      }
      if (!any) ok = false;
    }
    return ok;
  }
  for (const id of w.machines) if (v.machines.get(id)?.agentStatus.current !== "started") ok = false;
  for (const app of apps) {
    let any = false;
    for (const id of w.machines) {
      for (const u of unitsOn(v, id)) {
        if (u.application !== app || u.life !== "alive") continue;
        any = true;
        if (u.workload.current === "error") return u;
        if (!accept.includes(u.workload.current)) ok = false;
      }
    }
    if (!any) ok = false;
  }
  return ok;
}

export interface ViewWaitOptions {
  /** Consecutive good reads (the reference's 3). */
  goodReads: number;
  /** A quiet watcher's view is read again this often. */
  intervalMs: number;
  /** Ends the wait (LAYER_STOPPED comes from `stopped`). */
  signal?: AbortSignal;
  /** The LAYER_STOPPED error of the caller's work, once it was stopped. */
  stopped: (step: string) => LayerError | undefined;
}

/**
 * Waits on the watch's view. Rejects with LAYER_UNIT_ERROR, LAYER_NOT_READY, LAYER_STOPPED, or
 * the watch's own JujuWatchError when the watch itself failed (JUJU_DISCONNECTED, JUJU_CLOSED):
 * the caller may then poll instead.
 */
export async function waitUnitsOnView(watch: JujuWatchPort, model: string, apps: readonly string[], w: ViewUnitWait, o: ViewWaitOptions): Promise<void> {
  let lastView: JujuView | undefined;
  const where = { layer: w.layer, step: w.step, systemId: w.host.systemId, hostname: w.host.hostname };
  try {
    await watch.waitFor(
      (v) => {
        lastView = v;
        const r = unitsHold(v, apps, w);
        if (typeof r !== "boolean") throw new LayerError("LAYER_UNIT_ERROR", { ...where, unit: { name: r.name, status: r.workload.reported, message: r.workload.message } }, `unit ${r.name} is in error`);
        return r;
      },
      { consecutive: o.goodReads, intervalMs: o.intervalMs, timeoutMs: w.timeoutMs, ...(o.signal ? { signal: o.signal } : {}), what: `${apps.join(", ")} ready in ${model}` },
    );
  } catch (e) {
    const stopped = o.stopped(w.step);
    if (stopped) throw stopped;
    if (!(e instanceof JujuWatchError)) throw e;
    switch (e.code) {
      case "JUJU_PREDICATE":
        throw e.cause instanceof LayerError ? e.cause : e;
      case "JUJU_WAIT_TIMEOUT": {
        const last: ViewRead = lastView ? readUnits(lastView, model, apps, w) : { ok: false, detail: `units not ready in ${model}: nothing read yet` };
        const unit = last.unit;
        throw new LayerError("LAYER_NOT_READY", { ...where, ...(unit ? { unit } : {}) }, `not settled after ${Math.round(w.timeoutMs / 1000)} s: ${last.detail}`);
      }
      case "JUJU_ABORTED":
        throw o.stopped(w.step) ?? new LayerError("LAYER_STOPPED", where, "the wait was aborted");
      case "JUJU_CONNECT":
      case "JUJU_AUTH":
      case "JUJU_INCOMPATIBLE":
      case "JUJU_API":
      case "JUJU_BAD_ANSWER":
      case "JUJU_DISCONNECTED":
      case "JUJU_CLOSED":
      case "JUJU_STATE":
        throw e;
    }
  }
}
