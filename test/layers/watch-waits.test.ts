/**
 * The layers' unit waits on the Juju watch (src/layers/model-watches.ts, watch-waits.ts)
 * against the simulated controller API, through jujulib: one watch per model shared by the
 * hosts, its access read from `show-controller --show-password` (never logged); waiting costs
 * no `juju status` poll while the units settle; a unit in error fails its host with
 * LAYER_UNIT_ERROR naming the unit, its status and message; a unit blocked past its timeout
 * fails it with LAYER_NOT_READY naming the unit.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import pino from "pino";
import { LayerError } from "../../src/layers/index.ts";
import type { SshPort } from "../../src/ssh/index.ts";
import type { JujuModel } from "../../src/sim/juju/types.ts";
import { startLayerFleet } from "./helpers.ts";
import type { LayerFleet } from "./helpers.ts";
import { until } from "../fakes/until.ts";

const fleet = [
  { prefix: "juju", count: 1, tags: ["juju-controller"] },
  { prefix: "sto", count: 3, tags: ["storage"] },
];
/** Units take a while to settle, so a polling wait would read `juju status` many times meanwhile. */
const SLOW_UNITS = { juju: { timings: { machineStartMs: 0, unitSettleMs: 400, haVoteMs: 0 } } };
const WATCH = { security: "plain", coalesceMs: 20, intervalMs: 20 } as const;

let lf: LayerFleet | undefined;
afterEach(async () => {
  await lf?.f.close();
  lf = undefined;
});

const machineModel = (f: LayerFleet): JujuModel => f.f.hosts.cloud.jujuWorld.controller("metalwave").models.get("openstack-machines")!;

/** The unit of `app` on the host at `address`, once it exists. */
function unitOn(m: JujuModel | undefined, app: string, address: string): string | undefined {
  const id = [...(m?.machines.values() ?? [])].find((x) => x.host?.address === address)?.id;
  return [...(m?.apps.get(app)?.units.values() ?? [])].find((u) => u.machine === id && id !== undefined)?.name;
}

/** After every command, `act` may change the simulated model (as a charm or a failing hook would). */
function after(inner: SshPort, act: () => void): SshPort {
  return {
    exec: async (target, command, opts) => {
      const r = await inner.exec(target, command, opts);
      act();
      return r;
    },
    noteDeployed: (id) => inner.noteDeployed(id),
    close: () => inner.close(),
  };
}

const statusReads = (f: LayerFleet) => f.history().get("juju-0001")?.filter((c) => /juju status -m \S+:openstack-machines/.test(c)).length ?? 0;

describe("the layers' waits on the Juju watch", { timeout: 120_000 }, () => {
  it("the storage barrier waits on one shared watch of the machine model: no juju status poll while units settle, far fewer reads than polling", async () => {
    lf = await startLayerFleet(SLOW_UNITS, fleet);
    const polling = lf.layering({ pollMs: 10 });
    await polling.clusterBarrier("juju-controller", lf.hosts.juju);
    expect((await polling.clusterBarrier("storage", lf.hosts.storage)).failed).toEqual([]);
    expect(polling.jujuWatchStats?.()).toBeUndefined();
    const polled = statusReads(lf);
    polling.close();
    await lf.f.close();

    const logs: string[] = [];
    const logger = pino({ level: "debug" }, new Writable({ write: (c: Buffer, _e, cb) => void (logs.push(c.toString()), cb()) }));
    lf = await startLayerFleet(SLOW_UNITS, fleet);
    const watched = lf.layering({ pollMs: 10, jujuWatch: WATCH, logger });
    await watched.clusterBarrier("juju-controller", lf.hosts.juju);
    const r = await watched.clusterBarrier("storage", lf.hosts.storage);
    expect(r.failed).toEqual([]);
    expect(r.ready).toHaveLength(3);
    const reads = statusReads(lf);
    const stats = watched.jujuWatchStats?.();
    // One watch (the machine model) served every host's waits, fed by deltas.
    expect(stats?.models).toBe(1);
    expect(stats?.batches).toBeGreaterThan(1);
    // The check-then-act reads remain; the waits' polls are gone.
    expect(reads).toBeLessThan(polled / 2);
    // The controller's password went to the watch only, never to the log.
    const password = machineModelPassword(lf);
    expect(logs.join("")).toContain("watching the Juju model through the controller API");
    expect(logs.join("")).not.toContain(password);
    watched.close();
  });

  it("a unit in error fails its host at once with LAYER_UNIT_ERROR naming the unit, its status and message; the others make it", async () => {
    lf = await startLayerFleet(SLOW_UNITS, fleet);
    const bad = lf.hosts.storage[1]!;
    const f = lf;
    let failed = false;
    const ssh = after(f.f.ssh(), () => {
      const m = f.f.hosts.cloud.jujuWorld.controllers.get("metalwave")?.models.get("openstack-machines");
      const u = unitOn(m, "microceph", bad.address);
      if (u === undefined || failed || m === undefined) return;
      failed = true;
      f.f.hosts.cloud.jujuWorld.failHook(m, u, "install", f.f.hosts.cloud.now());
    });
    const layering = lf.layering({ ssh, pollMs: 10, jujuWatch: WATCH });
    await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    const r = await layering.clusterBarrier("storage", lf.hosts.storage);
    expect(failed).toBe(true);
    expect(r.failed.map((x) => x.hostname)).toEqual([bad.hostname]);
    const e = r.failed[0]?.error as LayerError;
    expect(e).toBeInstanceOf(LayerError);
    expect(e.code).toBe("LAYER_UNIT_ERROR");
    expect(e.unit).toEqual({ name: unitOn(machineModel(lf), "microceph", bad.address), status: "error", message: 'hook failed: "install"' });
    expect(r.ready).toHaveLength(2);
    expect(layering.jujuWatchStats?.()?.models).toBe(1);
    layering.close();
  });

  it("a unit still blocked at its timeout fails its host with LAYER_NOT_READY naming the unit and its message", async () => {
    lf = await startLayerFleet(SLOW_UNITS, fleet);
    const bad = lf.hosts.storage[0]!;
    const f = lf;
    const ssh = after(f.f.ssh(), () => {
      const m = f.f.hosts.cloud.jujuWorld.controllers.get("metalwave")?.models.get("openstack-machines");
      const u = unitOn(m, "microceph", bad.address);
      if (u !== undefined && m !== undefined) f.f.hosts.cloud.jujuWorld.setWorkloadStatus(m, u, "blocked", "(ceph) integration missing", f.f.hosts.cloud.now());
    });
    const layering = lf.layering({ ssh, pollMs: 10, unitTimeoutMs: 1500, jujuWatch: WATCH });
    await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    const r = await layering.clusterBarrier("storage", lf.hosts.storage);
    expect(r.failed.map((x) => x.hostname)).toEqual([bad.hostname]);
    const e = r.failed[0]?.error as LayerError;
    expect(e.code).toBe("LAYER_NOT_READY");
    expect(e.unit).toEqual({ name: unitOn(machineModel(lf), "microceph", bad.address), status: "blocked", message: "(ceph) integration missing" });
    expect(e.message).toContain("not settled after");
    // 1.5 s blocked cost no `juju status` poll: only the check-then-act reads (a polling wait reads every 10 ms).
    expect(statusReads(lf)).toBeLessThan(40);
    layering.close();
  });

  it("a run stopped in the middle of the control plane and resumed by a new engine, both on the watch, finishes without waiting out a timeout and adds nothing twice", async () => {
    lf = await startLayerFleet(undefined, [
      { prefix: "juju", count: 1, tags: ["juju-controller"] },
      { prefix: "ctl", count: 1, tags: ["control"] },
      { prefix: "sto", count: 1, tags: ["storage"] },
      { prefix: "cmp", count: 1, tags: ["compute"] },
    ]);
    const f = lf;
    const all = () => [...f.history().values()].flat();
    // Long timeouts: a wait stuck on a closed or stale watch would show as this test timing out.
    const engine = () => f.layering({ pollMs: 10, jujuWatch: WATCH, controlPlaneTimeoutMs: 600_000, unitTimeoutMs: 600_000 });
    const first = engine();
    await first.clusterBarrier("juju-controller", lf.hosts.juju);
    await first.clusterBarrier("kubernetes", lf.hosts.control);
    await first.clusterBarrier("storage", lf.hosts.storage);
    const cp = first.clusterBarrier("control-plane", lf.hosts.control).catch((e: unknown) => e);
    await until("the control plane's deploys sent", () => all().filter((c) => /juju deploy -m metalwave:openstack /.test(c)).length >= 4);
    first.close();
    const stopped = await cp;
    expect(stopped).toBeInstanceOf(LayerError);
    expect((stopped as LayerError).code).toBe("LAYER_STOPPED");

    const resumed = engine();
    const started = Date.now();
    await resumed.clusterBarrier("juju-controller", lf.hosts.juju);
    await resumed.clusterBarrier("kubernetes", lf.hosts.control);
    await resumed.clusterBarrier("storage", lf.hosts.storage);
    await resumed.clusterBarrier("control-plane", lf.hosts.control);
    await Promise.all([...lf.hosts.control, ...lf.hosts.storage, ...lf.hosts.compute].map((h) => resumed.layerHost(h)));
    expect(Date.now() - started).toBeLessThan(60_000);
    const cmds = all();
    for (const re of [/juju add-machine/, /juju deploy /, /juju integrate /, /juju offer /, /juju add-unit /]) {
      const seen = cmds.filter((c) => re.test(c));
      expect(new Set(seen).size).toBe(seen.length);
    }
    const cloud = await resumed.report();
    expect(cloud.applications.filter((a) => a.status !== "active")).toEqual([]);
    expect(cloud.hypervisors.computeServicesUp).toEqual(lf.hosts.compute.map((h) => h.hostname));
    // Both models' waits were on the watch.
    expect(resumed.jujuWatchStats?.()?.models).toBe(2);
    resumed.close();
  });
});

function machineModelPassword(f: LayerFleet): string {
  return f.f.hosts.cloud.jujuWorld.controller("metalwave").adminSecret;
}
