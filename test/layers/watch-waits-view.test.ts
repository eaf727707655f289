/**
 * The layers' unit wait on a Juju view (src/layers/watch-waits.ts), driven by hand through
 * the fake watch (test/fakes/juju-watch.ts, the real waits of src/juju/waits.ts): a status
 * that is good once between bad reads does not end it, three consecutive good reads do; only
 * the host's machine counts, and its agent must be started; a subordinate counts on its
 * principal's machine; a unit in error ends it at once with LAYER_UNIT_ERROR; the deadline
 * gives LAYER_NOT_READY naming the unit; a stopped lane ends it with its LAYER_STOPPED; a
 * closed watch is handed back as the watch's own error (the caller then polls).
 */
import { describe, expect, it } from "vitest";
import { JujuWatchError } from "../../src/juju/port.ts";
import { LayerError } from "../../src/layers/index.ts";
import { waitUnitsOnView, type ViewUnitWait, type ViewWaitOptions } from "../../src/layers/watch-waits.ts";
import { FakeJujuWatch } from "../fakes/juju-watch.ts";

const host = { systemId: "abc123", hostname: "cmp-1", address: "10.0.0.11", roles: ["compute"], cephDisks: [] };
const wait = (over: Partial<ViewUnitWait> = {}): ViewUnitWait => ({ layer: "hypervisor", step: "unitsActive", host, timeoutMs: 5000, machines: new Set(["1"]), ...over });
/** No quiet-watcher ticks within a test: only committed batches are reads. */
const opts = (over: Partial<ViewWaitOptions> = {}): ViewWaitOptions => ({ goodReads: 3, intervalMs: 3_600_000, stopped: () => undefined, ...over });

async function connected(): Promise<FakeJujuWatch> {
  const f = new FakeJujuWatch();
  f.machine("0").machine("1").unit("openstack-hypervisor/0", { machine: "0", workload: "active" }).unit("openstack-hypervisor/1", { machine: "1", workload: "maintenance", message: "installing" }).commit();
  await f.port().connect({ endpoints: ["10.0.0.1:17070"], modelUuid: "00000000-0000-4000-8000-000000000001", credentials: { username: "admin", password: "pw" }, security: { kind: "plain" } });
  return f;
}

const settled = (p: Promise<unknown>) => {
  const s = { done: false, error: undefined as unknown };
  p.then(
    () => (s.done = true),
    (e: unknown) => ((s.done = true), (s.error = e)),
  );
  return s;
};
const flush = () => new Promise<void>((r) => setTimeout(r, 0));

describe("unit waits on the Juju view", () => {
  it("needs three consecutive good reads of the host's machine: a flicker to active does not end it, and another machine's units do not count", async () => {
    const f = await connected();
    const s = settled(waitUnitsOnView(f.port(), "openstack-machines", ["openstack-hypervisor"], wait(), opts()));
    await flush();
    f.unit("openstack-hypervisor/1", { workload: "active" }).commit();
    f.unit("openstack-hypervisor/1", { workload: "maintenance" }).commit();
    f.unit("openstack-hypervisor/1", { workload: "active" }).commit();
    f.unit("openstack-hypervisor/0", { workload: "blocked", message: "on machine 0: not ours" }).commit();
    await flush();
    expect(s.done).toBe(false);
    f.machine("1").commit();
    await flush();
    expect(s).toEqual({ done: true, error: undefined });
  });

  it("the machine's agent must be started, and a subordinate counts on its principal's machine", async () => {
    const f = await connected();
    f.unit("openstack-hypervisor/1", { workload: "active" }).unit("epa-orchestrator/1", { machine: "1", principal: "openstack-hypervisor/1", subordinate: true, workload: "waiting" }).machine("1", { agentStatus: { current: "down", reported: "down", message: "agent is not communicating with the server", since: "" } }).commit();
    const s = settled(waitUnitsOnView(f.port(), "openstack-machines", ["openstack-hypervisor", "epa-orchestrator"], wait({ timeoutMs: 100 }), opts()));
    for (let i = 0; i < 4; i++) f.commit();
    await new Promise((r) => setTimeout(r, 150));
    expect(s.error).toBeInstanceOf(LayerError);
    expect((s.error as LayerError).code).toBe("LAYER_NOT_READY");
    expect((s.error as LayerError).message).toContain("machine 1: agent down (agent is not communicating with the server), epa-orchestrator/1 waiting");
    expect((s.error as LayerError).unit).toEqual({ name: "epa-orchestrator/1", status: "waiting", message: "" });
  });

  it("a unit of the host's machine in error ends it at once with LAYER_UNIT_ERROR naming the unit, status and message", async () => {
    const f = await connected();
    const s = settled(waitUnitsOnView(f.port(), "openstack-machines", ["openstack-hypervisor"], wait(), opts()));
    await flush();
    f.failUnit("openstack-hypervisor/1", "install");
    await flush();
    const e = s.error as LayerError;
    expect(e).toBeInstanceOf(LayerError);
    expect(e.code).toBe("LAYER_UNIT_ERROR");
    expect({ systemId: e.systemId, hostname: e.hostname, unit: e.unit }).toEqual({ systemId: host.systemId, hostname: host.hostname, unit: { name: "openstack-hypervisor/1", status: "error", message: 'hook failed: "install"' } });
  });

  it("a stopped lane ends it with its LAYER_STOPPED; a closed watch is handed back as the watch's error", async () => {
    const f = await connected();
    const ac = new AbortController();
    const stop = new LayerError("LAYER_STOPPED", { layer: "any", step: "unitsActive" }, "stopped");
    const s = settled(waitUnitsOnView(f.port(), "openstack-machines", ["openstack-hypervisor"], wait(), opts({ signal: ac.signal, stopped: () => (ac.signal.aborted ? stop : undefined) })));
    await flush();
    ac.abort();
    await flush();
    expect(s.error).toBe(stop);
    expect(f.waiting).toBe(0);

    const c = settled(waitUnitsOnView(f.port(), "openstack-machines", ["openstack-hypervisor"], wait(), opts()));
    await f.port().close();
    await flush();
    expect(c.error).toBeInstanceOf(JujuWatchError);
    expect((c.error as JujuWatchError).code).toBe("JUJU_CLOSED");
  });
});
