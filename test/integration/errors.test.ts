// How the client maps the simulated region's real answers to typed errors, how it rides
// out injected 503 bursts and power faults, and how it keeps to its in-flight cap.
import { describe, expect, it } from "vitest";
import type { MachineFilter } from "../../src/maas/port.ts";
import { maasError, rigPerTest, simCounts, simOp, uniformFleet } from "./helpers.ts";

const setup = rigPerTest();

describe("error mapping of the region's answers", () => {
  it("a key the region does not know → MAAS_AUTH on the first answer, not retried, key parts never in the error", async () => {
    const { clientWith, sim } = await setup();
    const key = { ck: "Zx9consumerKeyZx9q", tk: "Yw8tokenKeyYw8tokq", ts: "Vu7tokenSecretVu7tokenSecretVu7q" };
    const wrong = clientWith({ apiKey: `${key.ck}:${key.tk}:${key.ts}` });
    const err = await maasError(wrong.listMachines({ status: ["ready"] }), "MAAS_AUTH");
    expect(err).toMatchObject({ status: 401, attempts: 1, maasMessage: "Authorization Error: Invalid API key." });
    expect(simOp(sim, "machines.list")).toEqual({ "401": 1 });
    const text = JSON.stringify(err.toJSON()) + err.message;
    for (const part of Object.values(key)) expect(text).not.toContain(part);
  });

  it("a right key with the wrong secret → MAAS_AUTH (the region checks the PLAINTEXT signature)", async () => {
    const { clientWith, sim } = await setup();
    const [ck, tk] = sim.apiKey.split(":");
    const err = await maasError(clientWith({ apiKey: `${ck}:${tk}:notTheSecretAtAll` }).whoami(), "MAAS_AUTH");
    expect(err.status).toBe(401);
  });

  it("an unknown system_id → MAAS_NOT_FOUND with MAAS's text, for reads and for state changes", async () => {
    const { client } = await setup();
    const read = await maasError(client.readMachine("xyz999"), "MAAS_NOT_FOUND");
    expect(read).toMatchObject({ status: 404, systemId: "xyz999", maasMessage: "No Machine matches the given query." });
    await maasError(client.deploy("xyz999"), "MAAS_NOT_FOUND");
    await maasError(client.queryPowerState("xyz999"), "MAAS_NOT_FOUND");
  });

  it("deploy of a New machine → MAAS_CONFLICT wrong_state with MAAS's text; nothing changed", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("new-a-0001");
    const err = await maasError(client.deploy(id), "MAAS_CONFLICT");
    expect(err).toMatchObject({ status: 409, conflictKind: "wrong_state", maasMessage: "Can't deploy a machine that is in the 'New' state" });
    expect(simCounts(sim, id).deployed).toBe(0);
  });

  it("commission of a Deployed machine → MAAS_BAD_REQUEST carrying MAAS's __all__ form message", async () => {
    const { client, sid } = await setup();
    const err = await maasError(client.commission(sid("dep-a-0001")), "MAAS_BAD_REQUEST");
    expect(err.status).toBe(400);
    expect(err.fields).toEqual({ __all__: ["Commission is not available because of the current state of the node."] });
    expect(err.message).toContain("__all__: Commission is not available");
  });

  it("an unknown list filter → MAAS_BAD_REQUEST naming the field; an unknown tag → the tags field", async () => {
    const { client } = await setup();
    const unknown = { rack: ["r1"] } as unknown as MachineFilter;
    const err = await maasError(client.listMachines(unknown), "MAAS_BAD_REQUEST");
    expect(err.fields).toEqual({ rack: ["No such constraint."] });
    expect(err.message).toContain("rack: No such constraint.");
    const tag = await maasError(client.listMachines({ tags: ["nope"] }), "MAAS_BAD_REQUEST");
    expect(tag.fields).toEqual({ tags: ["No such tag(s): 'nope'."] });
  });

  it("a bad status name in a filter → MAAS_BAD_REQUEST on the status field", async () => {
    const { client } = await setup();
    const err = await maasError(client.listMachines({ status: ["deploying-ish"] }), "MAAS_BAD_REQUEST");
    expect(Object.keys(err.fields ?? {})).toEqual(["status"]);
  });

  it("a bad deploy parameter → MAAS_BAD_REQUEST on that field (distro_series)", async () => {
    const { client, sid } = await setup();
    const err = await maasError(client.deploy(sid("sm-a-0001"), { distro_series: "bionic" }), "MAAS_BAD_REQUEST");
    expect(Object.keys(err.fields ?? {})).toEqual(["distro_series"]);
  });
});

describe("503 bursts with Retry-After", () => {
  // Seeded: with this seed and this exact request sequence the region starts bursts of two
  // 503s on several requests; what matters is that every call still succeeds.
  const faults = "burst503=0.25:len=2:retry-after=7";

  it("the client waits Retry-After and retries; every call succeeds and the sim counts exactly the retried requests", async () => {
    const { client, sim, clock } = await setup({ faults });
    const ids = sim.region.machines.map((m) => m.systemId);
    for (const id of ids) await client.readMachine(id);
    await client.whoami();
    await client.listZones();

    const s = sim.stats().requests;
    const busy = s.byStatus["503"] ?? 0;
    expect(busy).toBeGreaterThan(0);
    expect(client.stats().retries).toBe(busy);
    expect(s.total).toBe(ids.length + 2 + busy);
    expect(s.byOperation["machine.read"]?.byStatus["200"]).toBe(ids.length);
    // Every wait was MAAS's Retry-After: 7 s, never a shorter backoff.
    expect(clock.sleeps).toEqual(Array.from({ length: busy }, () => 7000));
  });

  it("a deploy that meets a burst is re-sent (the region said it did nothing) and takes effect exactly once", async () => {
    const { client, sim, sid } = await setup({ faults: "burst503=0.05:len=3:retry-after=3" });
    // Probe with anonymous reads until one opens a burst: the next two requests, the deploy's
    // first two sends, are then certain to get 503 + Retry-After.
    let probes = 0;
    while ((await fetch(`${sim.url}/api/2.0/version/`)).status !== 503) expect(++probes).toBeLessThan(500);
    const id = sid("sm-a-0001");
    const m = await client.deploy(id);
    expect(m.status_name).toBe("Deploying");
    expect(simOp(sim, "machine.deploy")).toEqual({ "503": 2, "200": 1 });
    expect(simCounts(sim, id)).toMatchObject({ deployed: 1, allocated: 1 });
    // "Unsent" failures need no read-back.
    expect(client.stats().reconciliations).toBe(0);
  });

  it("a burst longer than the retry budget → MAAS_UNAVAILABLE with the attempts and Retry-After", async () => {
    const { clientWith } = await setup({ faults: "burst503=1:len=10:retry-after=2" });
    const err = await maasError(clientWith({ retry: { attempts: 3 } }).whoami(), "MAAS_UNAVAILABLE");
    expect(err).toMatchObject({ status: 503, attempts: 3, retryAfterS: 2 });
  });
});

describe("database conflicts (409 with Retry-After)", () => {
  it("allocations that meet seeded 409s are re-sent after Retry-After and each takes effect exactly once", async () => {
    const { client, sim, clock } = await setup({ fleet: uniformFleet(12), faults: "conflict409=0.3:retry-after=5" });
    const ids = sim.region.machines.map((m) => m.systemId);
    for (const id of ids) expect((await client.allocate({ system_id: id })).status_name).toBe("Allocated");
    const conflicts = simOp(sim, "machines.allocate")["409"] ?? 0;
    expect(conflicts).toBeGreaterThan(0);
    expect(simOp(sim, "machines.allocate")["200"]).toBe(ids.length);
    expect(client.stats().retries).toBe(conflicts);
    expect(clock.sleeps).toEqual(Array.from({ length: conflicts }, () => 5000));
    for (const id of ids) expect(simCounts(sim, id).allocated).toBe(1);
  });

  it("conflicts past the retry budget → MAAS_CONFLICT db_conflict (not wrong_state), nothing applied; reads are unaffected", async () => {
    const { client, sim, sid } = await setup({ faults: "conflict409=1:retry-after=5" });
    const id = sid("sm-a-0001");
    const err = await maasError(client.deploy(id), "MAAS_CONFLICT");
    expect(err).toMatchObject({ conflictKind: "db_conflict", attempts: 5, retryAfterS: 5, status: 409 });
    expect(simCounts(sim, id).deployed).toBe(0);
    expect((await client.readMachine(id)).status_name).toBe("Ready");
  });
});

describe("release-many of a machine in a bad state", () => {
  it("→ MAAS_CONFLICT wrong_state naming the machine, and none of the listed machines is released", async () => {
    const { client, sim, sid } = await setup();
    const ids = [sid("dep-a-0001"), sid("new-a-0001")];
    const err = await maasError(client.releaseMany(ids), "MAAS_CONFLICT");
    expect(err.conflictKind).toBe("wrong_state");
    expect(err.maasMessage).toContain(`${ids[1]} ('New')`);
    expect(sim.region.get(ids[0]!).status).toBe(6);
  });
});

describe("power faults", () => {
  it("BMC unreachable (503 without Retry-After) on power_on → read back each time, sent again, then MAAS_UNAVAILABLE; state unchanged", async () => {
    const { client, sim, sid } = await setup({ faults: "power.error@sm-a-0001=1" });
    const id = sid("sm-a-0001");
    await client.allocate({ system_id: id });
    const err = await maasError(client.powerOn(id), "MAAS_UNAVAILABLE");
    expect(err).toMatchObject({ status: 503, attempts: 5, systemId: id });
    expect(err.maasMessage).toMatch(/unable to connect to the BMC/);
    expect(simOp(sim, "machine.power_on")).toEqual({ "503": 5 });
    // Outcome unknown after each 503: the client read the machine back before every re-send.
    expect(simOp(sim, "machine.read")).toEqual({ "200": 5 });
    expect(sim.region.get(id).powerState).toBe("off");
  });

  it("query_power_state (idempotent) is retried blindly, then MAAS_UNAVAILABLE; RPC timeouts (504) too", async () => {
    const { client, sim, sid } = await setup({ faults: "power.error@sm-a-0001=1,power.timeout@sm-a-0002=1" });
    const e503 = await maasError(client.queryPowerState(sid("sm-a-0001")), "MAAS_UNAVAILABLE");
    expect(e503.status).toBe(503);
    const e504 = await maasError(client.queryPowerState(sid("sm-a-0002")), "MAAS_UNAVAILABLE");
    expect(e504.status).toBe(504);
    expect(simOp(sim, "machine.query_power_state")).toEqual({ "503": 5, "504": 5 });
    expect(simOp(sim, "machine.read")).toEqual({});
  });

  it("deploy meeting RPC timeouts (504, outcome unknown): read back before every re-send, applied exactly once", async () => {
    // Seeded (seed 7): this machine's first three power-ons time out, the fourth works.
    const { client, sim, sid } = await setup({ faults: "power.timeout@sm-a-0001=0.6" });
    const id = sid("sm-a-0001");
    expect((await client.deploy(id)).status_name).toBe("Deploying");
    expect(simOp(sim, "machine.deploy")).toEqual({ "504": 3, "200": 1 });
    // One read-back per unknown outcome, plus one whoami to learn who "we" are for the ownership check.
    expect(simOp(sim, "machine.read")).toEqual({ "200": 3 });
    expect(simOp(sim, "users.whoami")).toEqual({ "200": 1 });
    expect(simCounts(sim, id)).toMatchObject({ deployed: 1, allocated: 1 });
  });

  it("a power fault during deploy refuses the deploy and changes nothing", async () => {
    const { client, sim, sid } = await setup({ faults: "power.error@sm-a-0003=1" });
    const id = sid("sm-a-0003");
    await maasError(client.deploy(id), "MAAS_UNAVAILABLE");
    expect(sim.region.get(id).status).toBe(4);
    expect(simCounts(sim, id).deployed).toBe(0);
  });
});

describe("load: latency, the region's cap and the client's cap", () => {
  it("with a region serving 2 at once and a client capped at 3, the region never holds more than 3 of its requests (2 served + 1 queued)", async () => {
    const { clientWith, sim } = await setup({ fleet: uniformFleet(30), faults: "latency=3ms..8ms,inflight=2" });
    const client = clientWith({ maxInFlight: 3 });
    const ids = sim.region.machines.map((m) => m.systemId);
    const all = await Promise.all(ids.map((id) => client.readMachine(id)));
    expect(all.map((m) => m.system_id)).toEqual(ids);
    const f = sim.stats().inFlight;
    expect(f.limit).toBe(2);
    expect(f.peak).toBeLessThanOrEqual(2);
    expect(f.peak + f.peakQueued).toBeLessThanOrEqual(3);
    expect(client.load()).toEqual({ inFlight: 0, queued: 0 });
  });

  it("with an uncapped region, the region sees at most the client's maxInFlight at once", async () => {
    const { clientWith, sim } = await setup({ fleet: uniformFleet(30), faults: "latency=3ms..8ms" });
    const client = clientWith({ maxInFlight: 4 });
    const ids = sim.region.machines.map((m) => m.systemId);
    await Promise.all([...ids.map((id) => client.readMachine(id)), ...ids.map((id) => client.queryPowerState(id))]);
    const f = sim.stats().inFlight;
    expect(f.limit).toBeNull();
    expect(f.peak).toBeLessThanOrEqual(4);
    expect(f.peakQueued).toBe(0);
    expect(sim.stats().requests.total).toBe(60);
  });
});
