/**
 * The Juju watch (src/juju/watch.ts, on @canonical/jujulib) against the simulated
 * controller API: the first view is FullStatus's, changes made through the simulated
 * juju CLI arrive as AllWatcher deltas, a unit entering error fires `unit-error` with its
 * unit, status and message, waits need N consecutive good reads, close ends waits with
 * JUJU_CLOSED, and a dropped connection or a stopped watcher is recovered by a resync.
 * The simulator's clock is driven by hand; the API server answers a blocked Next within
 * its 10 ms poll.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectAndLogin } from "@canonical/jujulib";
import ClientV7 from "@canonical/jujulib/dist/api/facades/client/ClientV7.js";
import { JujuWatchError } from "../../src/juju/port.ts";
import type { JujuView, JujuWatchEvent, JujuWatchPort } from "../../src/juju/port.ts";
import { fromFullStatus, snapshot } from "../../src/juju/view.ts";
import { createJujuWatch } from "../../src/juju/watch.ts";
import { JujuApiServer } from "../../src/sim/hosts/juju-api-server.ts";
import { checkResult } from "../sim-hosts/facade-schema.ts";
import { jujuWorld } from "../sim-hosts/juju-world.ts";

const MODEL = "mw:openstack-machines";
/** Waits here count only delta batches: the quiet-watcher tick is pushed out of the test's time. */
const NO_TICK = 3_600_000;

describe("Juju watch through jujulib against the simulated controller", () => {
  const w = jujuWorld(6);
  const a = w.hosts[0]!;
  const server = new JujuApiServer(w.cloud, { port: 0, pollMs: 10 });
  let endpoint = "";
  let password = "";
  let uuid = "";
  const open: JujuWatchPort[] = [];
  const ok = (line: string) => {
    const r = w.run(a, line);
    if (r.code !== 0) throw new Error(`${line}: ${r.err}`);
    return r;
  };
  const model = () => w.cloud.jujuWorld.controller("mw").models.get("openstack-machines")!;
  const watch = async (extra: { password?: string; clientVersion?: string; endpoints?: string[]; reconnect?: { enabled?: boolean; initialDelayMs?: number; maxAttempts?: number } } = {}) => {
    const jw = createJujuWatch({ connectTimeoutMs: 5000 });
    open.push(jw);
    await jw.connect({
      endpoints: extra.endpoints ?? [endpoint],
      modelUuid: uuid,
      credentials: { username: "admin", password: extra.password ?? password },
      security: { kind: "plain" },
      ...(extra.clientVersion ? { clientVersion: extra.clientVersion } : {}),
      // Each Next at once: the tests wait on single changes.
      coalesceMs: 0,
      reconnect: { initialDelayMs: 20, ...extra.reconnect },
    });
    return jw;
  };
  const events = (jw: JujuWatchPort) => {
    const seen: JujuWatchEvent[] = [];
    jw.on((e) => seen.push(e));
    return seen;
  };
  const until = (jw: JujuWatchPort, p: (v: JujuView) => boolean, what: string) => jw.waitFor(p, { timeoutMs: 5000, intervalMs: NO_TICK, what });

  beforeAll(async () => {
    ok(`juju bootstrap manual/ubuntu@${a.address} mw`);
    ok("juju add-model openstack-machines");
    for (const h of w.hosts.slice(1, 4)) ok(`juju add-machine ssh:ubuntu@${h.address}`);
    ok(`juju deploy -m ${MODEL} sunbeam-machine --to 0`);
    ok(`juju add-unit -m ${MODEL} sunbeam-machine --to 1`);
    w.advance(10_000);
    await server.sync();
    const ep = server.endpoint(a.address)!;
    endpoint = `${ep.host}:${ep.port}`;
    const show = JSON.parse(ok("juju show-controller mw --show-password --format json").out) as Record<string, { account: { password: string } }>;
    password = show["mw"]!.account.password;
    uuid = model().uuid;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((x) => x.close()));
  });
  afterAll(async () => server.close());

  it("the first view is the model as FullStatus gives it (machines, applications, units, relations)", async () => {
    const jw = await watch();
    const r = await connectAndLogin(`ws://${endpoint}/model/${uuid}/api`, { facades: [ClientV7], wsclass: WebSocket, closeCallback: () => undefined }, { username: "admin", password }, "3.6.4");
    try {
      const fs = await r.conn!.facades.client.fullStatus({ patterns: [] });
      expect(checkResult("Client", 7, "FullStatus", fs)).toEqual([]);
      const expected = snapshot(fromFullStatus(uuid, fs));
      const v = jw.view();
      expect(v.modelName).toBe("openstack-machines");
      expect([...v.machines.values()]).toEqual([...expected.machines.values()]);
      expect([...v.applications.values()]).toEqual([...expected.applications.values()]);
      expect([...v.units.values()]).toEqual([...expected.units.values()]);
      expect([...v.relations.values()]).toEqual([...expected.relations.values()]);
      // And it is the simulated model's real content.
      expect(v.machines.get("1")).toMatchObject({ instanceId: `manual:${w.hosts[2]!.address}`, agentStatus: { current: "started" }, addresses: [w.hosts[2]!.address] });
      expect(v.units.get("sunbeam-machine/1")).toMatchObject({ application: "sunbeam-machine", machine: "1", workload: { current: "active" }, agent: { current: "idle" } });
    } finally {
      r.logout();
    }
    // One login, one FullStatus, one WatchAll and the first Next, then one Next in flight.
    expect(jw.stats()).toMatchObject({ requests: 5, batches: 1, reconnects: 0 });
  });

  it("a deploy, an add-unit and a relation made through juju arrive as deltas", async () => {
    const jw = await watch();
    const start = jw.view().revision;
    ok(`juju deploy -m ${MODEL} epa-orchestrator`);
    ok(`juju integrate -m ${MODEL} epa-orchestrator sunbeam-machine`);
    const v = await until(jw, (x) => x.relations.size === 1 && x.units.has("epa-orchestrator/1"), "the subordinate relation and its units");
    expect(v.revision).toBeGreaterThan(start);
    expect([...v.relations.values()][0]).toMatchObject({ scope: "container", endpoints: expect.arrayContaining([{ application: "epa-orchestrator", endpoint: "sunbeam-machine", role: "requirer", interface: "sunbeam-machine" }]) });
    expect(v.units.get("epa-orchestrator/0")).toMatchObject({ subordinate: true, principal: "sunbeam-machine/0", machine: "0" });
    ok(`juju add-unit -m ${MODEL} sunbeam-machine --to 2`);
    const v2 = await until(jw, (x) => x.units.has("sunbeam-machine/2"), "sunbeam-machine/2");
    expect(v2.units.get("sunbeam-machine/2")).toMatchObject({ machine: "2", workload: { current: "maintenance", message: "installing charm software" }, agent: { current: "executing" } });
    w.advance(5000);
    const v3 = await until(jw, (x) => x.units.get("sunbeam-machine/2")?.workload.current === "active", "sunbeam-machine/2 active");
    expect(v3.units.get("sunbeam-machine/2")?.agent.current).toBe("idle");
    ok(`juju remove-application -m ${MODEL} epa-orchestrator`);
    const v4 = await until(jw, (x) => !x.applications.has("epa-orchestrator"), "epa-orchestrator gone");
    expect([...v4.units.keys()].filter((u) => u.startsWith("epa-orchestrator/"))).toEqual([]);
    expect(v4.relations.size).toBe(0);
  });

  it("a unit whose hook fails fires unit-error with the unit, its machine, status and message, once", async () => {
    const jw = await watch();
    const seen = events(jw);
    w.cloud.jujuWorld.failHook(model(), "sunbeam-machine/1", "install", Date.UTC(2026, 0, 1));
    await until(jw, (x) => x.units.get("sunbeam-machine/1")?.workload.current === "error", "sunbeam-machine/1 in error");
    const errs = seen.filter((e) => e.type === "unit-error");
    expect(errs).toEqual([{ type: "unit-error", unit: "sunbeam-machine/1", application: "sunbeam-machine", machine: "1", instanceId: `manual:${w.hosts[2]!.address}`, status: "error", message: 'hook failed: "install"', since: expect.any(String) }]);
    // FullStatus shows it as Juju does (workload error, agent idle: state/unit.go, unitagent.go), in the schema's shape.
    const r = await connectAndLogin(`ws://${endpoint}/model/${uuid}/api`, { facades: [ClientV7], wsclass: WebSocket, closeCallback: () => undefined }, { username: "admin", password }, "3.6.4");
    try {
      const fs = (await r.conn!.facades.client.fullStatus({ patterns: [] })) as { applications: Record<string, { units: Record<string, { "workload-status": { status: string; info: string }; "agent-status": { status: string } }> }> };
      expect(checkResult("Client", 7, "FullStatus", fs)).toEqual([]);
      const u = fs.applications["sunbeam-machine"]!.units["sunbeam-machine/1"]!;
      expect([u["workload-status"].status, u["workload-status"].info, u["agent-status"].status]).toEqual(["error", 'hook failed: "install"', "idle"]);
    } finally {
      r.logout();
    }
    // Another change elsewhere does not repeat it; a watch opened now reports the unit already in error.
    w.cloud.jujuWorld.setWorkloadStatus(model(), "sunbeam-machine/0", "maintenance", "reconfiguring", Date.UTC(2026, 0, 1));
    await until(jw, (x) => x.units.get("sunbeam-machine/0")?.workload.current === "maintenance", "sunbeam-machine/0 maintenance");
    expect(seen.filter((e) => e.type === "unit-error")).toHaveLength(1);
    const late = createJujuWatch();
    open.push(late);
    const lateSeen = events(late);
    await late.connect({ endpoints: [endpoint], modelUuid: uuid, credentials: { username: "admin", password }, security: { kind: "plain" }, coalesceMs: 0 });
    expect(lateSeen.filter((e) => e.type === "unit-error").map((e) => (e.type === "unit-error" ? e.unit : ""))).toEqual(["sunbeam-machine/1"]);
    // Resolved, then failing again: a second event.
    w.cloud.jujuWorld.resolved(model(), "sunbeam-machine/1");
    await until(jw, (x) => x.units.get("sunbeam-machine/1")?.workload.current === "active", "sunbeam-machine/1 resolved");
    w.cloud.jujuWorld.failHook(model(), "sunbeam-machine/1", "config-changed", Date.UTC(2026, 0, 1));
    await until(jw, (x) => x.units.get("sunbeam-machine/1")?.workload.current === "error", "sunbeam-machine/1 in error again");
    expect(seen.filter((e) => e.type === "unit-error").map((e) => (e.type === "unit-error" ? e.message : ""))).toEqual(['hook failed: "install"', 'hook failed: "config-changed"']);
    w.cloud.jujuWorld.resolved(model(), "sunbeam-machine/1");
    w.cloud.jujuWorld.setWorkloadStatus(model(), "sunbeam-machine/0", "active", "", Date.UTC(2026, 0, 1));
    await until(jw, (x) => x.units.get("sunbeam-machine/0")?.workload.current === "active" && x.units.get("sunbeam-machine/1")?.workload.current === "active", "both active again");
  });

  it("waitFor needs N consecutive good reads; a bad read in between starts the count again", async () => {
    const jw = await watch();
    const m = model();
    const good = (x: JujuView) => x.units.get("sunbeam-machine/0")?.workload.current === "active";
    let resolved = false;
    const wait = jw.waitFor(good, { consecutive: 3, timeoutMs: 10_000, intervalMs: NO_TICK, what: "sunbeam-machine/0 active" }).then((v) => ((resolved = true), v));
    // Read 1 was the view at the call. Each status-set on another unit is one more batch (one read).
    const bump = async (unit: string, status: "active" | "maintenance", msg: string) => {
      const rev = jw.view().revision;
      w.cloud.jujuWorld.setWorkloadStatus(m, unit, status, msg, Date.UTC(2026, 0, 1));
      await until(jw, (x) => x.revision > rev, `a batch after ${unit} ${status}`);
    };
    await bump("sunbeam-machine/1", "maintenance", "one"); // read 2: good
    expect(resolved).toBe(false);
    await bump("sunbeam-machine/0", "maintenance", "flap"); // bad: count 0
    await bump("sunbeam-machine/0", "active", ""); // good: 1
    await bump("sunbeam-machine/1", "active", ""); // good: 2
    expect(resolved).toBe(false);
    await bump("sunbeam-machine/1", "maintenance", "three"); // good: 3
    const v = await wait;
    expect(good(v)).toBe(true);
    w.cloud.jujuWorld.setWorkloadStatus(m, "sunbeam-machine/1", "active", "", Date.UTC(2026, 0, 1));
  });

  it("a quiet watcher's view is read again every intervalMs; the deadline ends a wait with JUJU_WAIT_TIMEOUT", async () => {
    const jw = await watch();
    const before = jw.stats().requests;
    const v = await jw.waitFor((x) => x.applications.has("sunbeam-machine"), { consecutive: 3, intervalMs: 5, timeoutMs: 5000 });
    expect(v.applications.has("sunbeam-machine")).toBe(true);
    // The re-reads cost nothing on the wire.
    expect(jw.stats().requests).toBe(before);
    const err = await jw.waitFor(() => false, { timeoutMs: 30, intervalMs: 5, what: "never" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JujuWatchError);
    expect(err).toMatchObject({ code: "JUJU_WAIT_TIMEOUT", modelUuid: uuid });
    expect((err as Error).message).toMatch(/never did not hold on 1 consecutive read within 30 ms/);
    const ac = new AbortController();
    const aborted = jw.waitFor(() => false, { timeoutMs: 5000, signal: ac.signal }).catch((e: unknown) => e);
    ac.abort();
    expect(await aborted).toMatchObject({ code: "JUJU_ABORTED" });
    const threw = await jw.waitFor(() => { throw new Error("bad predicate"); }, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(threw).toMatchObject({ code: "JUJU_PREDICATE" });
  });

  it("with coalesceMs, the changes made while the watch pauses come in one Next", async () => {
    const jw = createJujuWatch();
    open.push(jw);
    await jw.connect({ endpoints: [endpoint], modelUuid: uuid, credentials: { username: "admin", password }, security: { kind: "plain" }, coalesceMs: 300 });
    const m = model();
    const before = jw.stats();
    // The first change wakes the Next in flight; the next two are made during the pause after it.
    w.cloud.jujuWorld.setWorkloadStatus(m, "sunbeam-machine/0", "maintenance", "a", Date.UTC(2026, 0, 1));
    await until(jw, (x) => x.units.get("sunbeam-machine/0")?.workload.message === "a", "the first change");
    w.cloud.jujuWorld.setWorkloadStatus(m, "sunbeam-machine/0", "maintenance", "b", Date.UTC(2026, 0, 1));
    w.cloud.jujuWorld.setWorkloadStatus(m, "sunbeam-machine/1", "maintenance", "c", Date.UTC(2026, 0, 1));
    await until(jw, (x) => x.units.get("sunbeam-machine/1")?.workload.message === "c", "the later changes");
    const after = jw.stats();
    expect(jw.view().units.get("sunbeam-machine/0")?.workload.message).toBe("b");
    expect(after.batches - before.batches).toBe(2);
    for (const u of ["sunbeam-machine/0", "sunbeam-machine/1"]) w.cloud.jujuWorld.setWorkloadStatus(m, u, "active", "", Date.UTC(2026, 0, 1));
    await until(jw, (x) => x.units.get("sunbeam-machine/1")?.workload.current === "active" && x.units.get("sunbeam-machine/0")?.workload.current === "active", "both active");
  });

  it("close ends pending and later waits with JUJU_CLOSED", async () => {
    const jw = await watch();
    const pending = jw.waitFor(() => false, { timeoutMs: 60_000, what: "something that never happens" }).catch((e: unknown) => e);
    await jw.close();
    const err = await pending;
    expect(err).toBeInstanceOf(JujuWatchError);
    expect(err).toMatchObject({ code: "JUJU_CLOSED" });
    await expect(jw.waitFor(() => true, { timeoutMs: 1000 })).rejects.toMatchObject({ code: "JUJU_CLOSED" });
    await jw.close();
    // Closed while connecting: connect rejects and nothing stays open.
    const early = createJujuWatch();
    const connecting = early.connect({ endpoints: [endpoint], modelUuid: uuid, credentials: { username: "admin", password }, security: { kind: "plain" } });
    await early.close();
    await expect(connecting).rejects.toMatchObject({ code: "JUJU_CLOSED" });
  });

  it("reconnects after the controller drops the connection, and the resync brings what changed meanwhile", async () => {
    const jw = await watch();
    const seen = events(jw);
    const wait = jw.waitFor((x) => x.units.has("sunbeam-machine/3"), { timeoutMs: 10_000, intervalMs: NO_TICK });
    expect(server.dropConnections()).toBeGreaterThan(0);
    ok(`juju add-unit -m ${MODEL} sunbeam-machine --to 2`);
    const v = await wait;
    expect(v.units.get("sunbeam-machine/3")?.machine).toBe("2");
    expect(seen.map((e) => e.type)).toEqual(["connection-lost", "resynced"]);
    expect(seen[0]).toMatchObject({ reason: expect.stringMatching(/connection closed/) });
    expect(jw.stats().reconnects).toBe(1);
    // Still live after the resync.
    ok(`juju remove-unit -m ${MODEL} sunbeam-machine/3`);
    await until(jw, (x) => !x.units.has("sunbeam-machine/3"), "sunbeam-machine/3 removed");
  });

  it("a stopped watcher is replaced on the same connection", async () => {
    const jw = await watch();
    const seen = events(jw);
    await until(jw, () => true, "a first read");
    await new Promise((r) => setTimeout(r, 30));
    expect(server.stopWatchers()).toBeGreaterThan(0);
    const before = jw.view().revision;
    await until(jw, (x) => x.revision > before, "the resync");
    expect(seen.map((e) => e.type)).toEqual(["connection-lost", "resynced"]);
    expect(seen[0]).toMatchObject({ reason: "watcher was stopped" });
    expect(jw.stats().reconnects).toBe(0);
  });

  it("without reconnecting, a dropped connection fails waits with JUJU_DISCONNECTED", async () => {
    const jw = await watch({ reconnect: { enabled: false } });
    const wait = jw.waitFor(() => false, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    server.dropConnections();
    expect(await wait).toMatchObject({ code: "JUJU_DISCONNECTED" });
  });

  it("refusals are typed and never carry the password", async () => {
    const wrong = "s3cret-not-the-password";
    const e1 = await watch({ password: wrong }).catch((e: unknown) => e);
    expect(e1).toMatchObject({ code: "JUJU_AUTH", endpoint });
    expect(JSON.stringify({ m: (e1 as Error).message, c: String((e1 as Error).cause) })).not.toContain(wrong);
    // jujulib's default client version (4.x) logs in to 3.6 but may not watch.
    const e2 = await watch({ clientVersion: "4.0.12" }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: "JUJU_INCOMPATIBLE" });
    expect((e2 as Error).message).not.toContain(password);
    const e3 = await watch({ endpoints: ["127.9.0.250:1"] }).catch((e: unknown) => e);
    expect(e3).toMatchObject({ code: "JUJU_CONNECT" });
    // A second endpoint that answers is used when the first does not.
    const jw = await watch({ endpoints: ["127.9.0.250:1", endpoint] });
    expect(jw.view().applications.has("sunbeam-machine")).toBe(true);
    await expect(jw.connect({ endpoints: [endpoint], modelUuid: uuid, credentials: { username: "admin", password }, security: { kind: "plain" } })).rejects.toMatchObject({ code: "JUJU_STATE" });
  });
});
