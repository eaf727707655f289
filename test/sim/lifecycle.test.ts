import { afterEach, describe, expect, it } from "vitest";
import type { SimHandle } from "../../src/sim/index.ts";
import { MINUTE, manualSim } from "./helpers.ts";
import type { Maas } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup(faults?: string): Promise<{ maas: Maas; s: SimHandle; sid: string }> {
  const r = await manualSim({ faults });
  sim = r.sim;
  return { maas: r.maas, s: r.sim, sid: r.sim.region.machines[0]!.systemId };
}

async function statusOf(maas: Maas, sid: string): Promise<string> {
  return (await maas.machine(sid)).status_name;
}

async function eventTypes(maas: Maas, sid: string): Promise<string[]> {
  const r = await maas.get("events/", { op: "query", id: sid, level: "DEBUG" });
  return (r.json.events as { type: string }[]).map((e) => e.type).reverse();
}

describe("the happy path", () => {
  it("goes New → Commissioning → Ready → Allocated → Deploying → Deployed → Releasing → Ready over realistic time", async () => {
    const { maas, s, sid } = await setup();
    expect((await maas.op(sid, "commission")).json.status_name).toBe("Commissioning");
    s.advance(4 * MINUTE);
    expect(await statusOf(maas, sid)).toBe("Commissioning"); // commissioning takes 5–10 minutes
    s.advance(7 * MINUTE);
    expect(await statusOf(maas, sid)).toBe("Ready");

    const alloc = await maas.post("machines/?op=allocate", { system_id: sid, agent_name: "metalwave" });
    expect(alloc.status).toBe(200);
    expect(alloc.json).toMatchObject({ system_id: sid, status_name: "Allocated", owner: "admin", constraints_by_type: {} });

    const userData = Buffer.from("#cloud-config\n").toString("base64");
    const dep = await maas.op(sid, "deploy", { user_data: userData, distro_series: "noble" });
    expect(dep.json).toMatchObject({ status_name: "Deploying", osystem: "ubuntu", distro_series: "noble", power_state: "on" });
    expect(s.region.get(sid).userData).toBe(userData);
    s.advance(9 * MINUTE);
    expect(await statusOf(maas, sid)).toBe("Deploying"); // deploying takes 10–20 minutes
    s.advance(12 * MINUTE);
    const deployed = await maas.machine(sid);
    expect(deployed.status_name).toBe("Deployed");
    expect(deployed.ip_addresses).toEqual([s.region.ipFor(s.region.get(sid))]);
    expect(deployed.ip_addresses[0]).toMatch(/^127\.\d+\.\d+\.\d+$/);

    expect((await maas.op(sid, "release", { comment: "done" })).json.status_name).toBe("Releasing");
    s.advance(2 * MINUTE);
    const released = await maas.machine(sid);
    expect(released).toMatchObject({ status_name: "Ready", owner: null, ip_addresses: [], osystem: "", distro_series: "", power_state: "off" });
    expect(await eventTypes(maas, sid)).toEqual(["Commissioning", "Ready", "Allocated", "Deploying", "Deployed", "Releasing", "Ready"]);
  });

  it("deploy from Ready allocates automatically", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    s.advance(Infinity);
    const r = await maas.op(sid, "deploy");
    expect(r.json).toMatchObject({ status_name: "Deploying", owner: "admin", distro_series: "jammy" });
  });

  it("release with erase goes through Disk erasing; quick erase is quicker than a full one", async () => {
    const { maas, s } = await setup();
    const [a, b] = s.region.machines.map((m) => m.systemId);
    for (const sid of [a!, b!]) {
      await maas.op(sid, "commission");
    }
    s.advance(Infinity);
    for (const sid of [a!, b!]) await maas.op(sid, "deploy");
    s.advance(Infinity);
    expect((await maas.op(a!, "release", { erase: "true", quick_erase: "true" })).json.status_name).toBe("Disk erasing");
    expect((await maas.op(b!, "release", { erase: "true" })).json.status_name).toBe("Disk erasing");
    s.advance(2 * MINUTE);
    expect(await statusOf(maas, a!)).toBe("Ready");
    expect(await statusOf(maas, b!)).toBe("Disk erasing");
    s.advance(60 * MINUTE);
    expect(await statusOf(maas, b!)).toBe("Ready");
    expect(s.stats().machines?.find((m) => m.system_id === b)?.erased).toBe(1);
  });

  it("releases an Allocated, powered-off machine straight to Ready", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.post("machines/?op=allocate", { system_id: sid });
    expect((await maas.op(sid, "release")).json.status_name).toBe("Ready");
  });

  it("treats release of a Ready or Releasing machine as a 200 no-op", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    s.advance(Infinity);
    const r = await maas.op(sid, "release");
    expect(r.status).toBe(200);
    expect(r.json.status_name).toBe("Ready");
    expect(s.stats().machines?.[0]?.released).toBe(0);
  });

  it("finishes busy states at once, asynchronously, with zero durations", async () => {
    const { startSimulator } = await import("../../src/sim/index.ts");
    sim = await startSimulator({ machines: 1, zeroDuration: true });
    const sid = sim.region.machines[0]!.systemId;
    const done = new Promise<string>((resolve) => {
      sim!.region.watch((m, _from, to) => {
        if (m.systemId === sid && to === 4) resolve("Ready");
      });
    });
    const { Maas } = await import("./helpers.ts");
    const r = await new Maas(sim).op(sid, "commission");
    expect(r.json.status_name).toBe("Commissioning");
    expect(await done).toBe("Ready");
  });
});

describe("state errors, with MAAS's codes and messages", () => {
  it("refuses deploy from New with 409", async () => {
    const { maas, sid } = await setup();
    const r = await maas.op(sid, "deploy");
    expect(r.status).toBe(409);
    expect(r.text).toBe("Can't deploy a machine that is in the 'New' state");
  });

  it("refuses commission from a bad state with the 400 form error", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    const r = await maas.op(sid, "commission");
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ __all__: ["Commission is not available because of the current state of the node."] });
    s.advance(Infinity);
  });

  it("refuses release from New with 409", async () => {
    const { maas, sid } = await setup();
    const r = await maas.op(sid, "release");
    expect(r.status).toBe(409);
    expect(r.text).toBe("Machine cannot be released in its current state ('New').");
  });

  it("refuses abort when nothing is in progress", async () => {
    const { maas, sid } = await setup();
    const r = await maas.op(sid, "abort");
    expect(r.status).toBe(409);
    expect(r.text).toBe(`Cannot abort in current state: node ${sid} is in state New.`);
  });

  it("refuses mark_fixed on a machine that is not broken", async () => {
    const { maas, sid } = await setup();
    const r = await maas.op(sid, "mark_fixed");
    expect(r.status).toBe(409);
    expect(r.text).toBe("Can't mark a non-broken node as 'Ready'.");
  });

  it("refuses power_on of an unowned machine", async () => {
    const { maas, sid } = await setup();
    const r = await maas.op(sid, "power_on");
    expect(r.status).toBe(409);
    expect(r.text).toBe("Can't start node: it hasn't been allocated.");
  });

  it("answers 404 for an unknown machine", async () => {
    const { maas } = await setup();
    const r = await maas.get("machines/zzzzzz/");
    expect(r.status).toBe(404);
    expect(r.text).toBe("No Machine matches the given query.");
  });

  it("reports Invalid transition for marking a broken machine broken", async () => {
    const { maas, sid } = await setup();
    await maas.op(sid, "mark_broken");
    const r = await maas.op(sid, "mark_broken");
    expect(r.status).toBe(409);
    expect(r.text).toBe("Invalid transition: Broken -> Broken.");
  });

  it("refuses changes to a locked machine with 403 until unlocked", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    s.advance(Infinity);
    expect((await maas.op(sid, "lock")).json.locked).toBe(true);
    expect((await maas.op(sid, "deploy")).status).toBe(403);
    expect((await maas.put(`machines/${sid}/`, { description: "x" })).status).toBe(403);
    expect((await maas.post("machines/?op=allocate", { system_id: sid })).status).toBe(409);
    await maas.op(sid, "unlock");
    expect((await maas.op(sid, "deploy")).status).toBe(200);
  });
});

describe("abort, broken and fixed", () => {
  it("abort moves Commissioning → New, Deploying → Allocated, Disk erasing → Failed disk erasing", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    expect((await maas.op(sid, "abort")).json.status_name).toBe("New");
    s.advance(Infinity); // the cancelled completion must not fire
    expect(await statusOf(maas, sid)).toBe("New");
    await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.op(sid, "deploy");
    expect((await maas.op(sid, "abort")).json.status_name).toBe("Allocated");
    await maas.op(sid, "deploy");
    s.advance(Infinity);
    await maas.op(sid, "release", { erase: "1" });
    expect((await maas.op(sid, "abort")).json.status_name).toBe("Failed disk erasing");
    s.advance(Infinity);
    expect(await statusOf(maas, sid)).toBe("Failed disk erasing");
  });

  it("abort of Testing returns to the status before testing", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    s.advance(Infinity);
    expect((await maas.op(sid, "test")).json.status_name).toBe("Testing");
    expect((await maas.op(sid, "abort")).json.status_name).toBe("Ready");
  });

  it("mark_fixed returns a broken Deployed machine to Deployed, otherwise Ready", async () => {
    const { maas, s } = await setup();
    const [a, b] = s.region.machines.map((m) => m.systemId);
    for (const sid of [a!, b!]) await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.op(a!, "deploy");
    s.advance(Infinity);
    expect((await maas.op(a!, "mark_broken", { comment: "disk smoke" })).json.status_name).toBe("Broken");
    expect((await maas.op(a!, "mark_fixed")).json.status_name).toBe("Deployed");
    await maas.op(b!, "mark_broken");
    expect((await maas.op(b!, "mark_fixed")).json.status_name).toBe("Ready");
    const ev = await maas.get("events/", { op: "query", id: a!, level: "ERROR" });
    expect(ev.json.events[0]).toMatchObject({ type: "Broken", description: "disk smoke", level: "ERROR" });
  });

  it("mark_fixed of a machine that never commissioned successfully: the API takes it to Ready, a deploy is then refused, and commissioning from Broken makes it deployable", async () => {
    // MAAS's API op calls node.mark_fixed, which checks only Broken (api/machines.py, models/node.py);
    // the commissioning check ("Unable to be mark fixed because it has not been commissioned
    // successfully.") belongs to the web UI's MarkFixed node action (node_action.py), not the API.
    const { maas, s, sid } = await setup("commission.fail=1:first=1");
    await maas.op(sid, "commission");
    s.advance(Infinity);
    expect((await maas.get(`machines/${sid}/`)).json).toMatchObject({ status_name: "Failed commissioning", commissioning_status: 3, commissioning_status_name: "Failed" });
    await maas.op(sid, "mark_broken", { comment: "quarantined while commissioning" });
    const fixed = (await maas.op(sid, "mark_fixed")).json;
    expect(fixed).toMatchObject({ status_name: "Ready", commissioning_status: 3 });
    const refused = await maas.op(sid, "deploy");
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({ storage: ["Mount the root '/' filesystem to be able to deploy this node."] });
    // Commissioned again (here from Broken, as a remediation pass does): Ready with a layout, and deployable.
    await maas.op(sid, "mark_broken");
    expect((await maas.op(sid, "commission")).json.status_name).toBe("Commissioning");
    s.advance(Infinity);
    expect((await maas.get(`machines/${sid}/`)).json).toMatchObject({ status_name: "Ready", commissioning_status: 2 });
    expect((await maas.op(sid, "deploy")).status).toBe(200);
    s.advance(Infinity);
    expect(await statusOf(maas, sid)).toBe("Deployed");
  });
});

describe("failures and MAAS's timeouts", () => {
  it("a failing deployment ends in Failed deployment with an ERROR event", async () => {
    const { maas, s, sid } = await setup("deploy.fail=1");
    await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.op(sid, "deploy");
    s.advance(Infinity);
    expect(await statusOf(maas, sid)).toBe("Failed deployment");
    const ev = await maas.get("events/", { op: "query", id: sid, limit: 1 });
    expect(ev.json.events[0]).toMatchObject({ type: "Failed deployment", level: "ERROR" });
    // From Failed deployment the machine can be released, then deployed again.
    expect((await maas.op(sid, "release")).status).toBe(200);
  });

  it("a hung deployment fails after MAAS's 30-minute timeout, not before", async () => {
    const { maas, s, sid } = await setup("deploy.hang=1");
    await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.op(sid, "deploy");
    s.advance(29 * MINUTE);
    expect(await statusOf(maas, sid)).toBe("Deploying");
    s.advance(2 * MINUTE);
    const m = await maas.machine(sid);
    expect(m.status_name).toBe("Failed deployment");
    expect(m.status_message).toBe("Machine operation 'Deploying' timed out after 30 minutes.");
  });

  it("speed divides durations and timeouts alike", async () => {
    const r = await manualSim({ faults: "commission.hang=1", speed: 60 });
    sim = r.sim;
    const sid = sim.region.machines[0]!.systemId;
    await r.maas.op(sid, "commission");
    sim.advance(29_000); // 29 s of real time = 29 simulated minutes
    expect(await statusOf(r.maas, sid)).toBe("Commissioning");
    sim.advance(2_000);
    expect(await statusOf(r.maas, sid)).toBe("Failed commissioning");
  });

  it("a hung release fails after the 5-minute timeout into Releasing failed", async () => {
    const { maas, s, sid } = await setup("release.hang=1");
    await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.op(sid, "deploy");
    s.advance(Infinity);
    await maas.op(sid, "release");
    s.advance(4 * MINUTE);
    expect(await statusOf(maas, sid)).toBe("Releasing");
    s.advance(2 * MINUTE);
    expect(await statusOf(maas, sid)).toBe("Releasing failed");
  });

  it("failed commissioning lands in Failed commissioning", async () => {
    const { maas, s, sid } = await setup("commission.fail=1");
    await maas.op(sid, "commission");
    s.advance(Infinity);
    expect(await statusOf(maas, sid)).toBe("Failed commissioning");
    expect((await maas.machine(sid)).commissioning_status_name).toBe("Failed");
    // Failed commissioning may be commissioned again.
    expect((await maas.op(sid, "commission")).status).toBe(200);
  });

  it("failed erasing lands in Failed disk erasing, which can be released again", async () => {
    const { maas, s, sid } = await setup("erase.fail=1");
    await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.op(sid, "deploy");
    s.advance(Infinity);
    await maas.op(sid, "release", { erase: "true" });
    s.advance(Infinity);
    expect(await statusOf(maas, sid)).toBe("Failed disk erasing");
    expect((await maas.op(sid, "release")).status).toBe(200);
  });
});

describe("create, update, delete", () => {
  it("creates a machine that commissions by default and discovers its hardware", async () => {
    const { maas, s } = await setup();
    const r = await maas.post("machines/", { architecture: "amd64/generic", mac_addresses: "52:54:00:aa:bb:cc", hostname: "newbie", power_type: "ipmi", power_parameters_power_address: "10.0.0.9" });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ hostname: "newbie", status_name: "Commissioning", cpu_count: 0, memory: 0 });
    s.advance(Infinity);
    const m = await maas.machine(r.json.system_id);
    expect(m.status_name).toBe("Ready");
    expect(m.cpu_count).toBeGreaterThan(0);
    expect(m.interface_set[0].mac_address).toBe("52:54:00:aa:bb:cc");
    const stay = await maas.post("machines/", { architecture: "amd64/generic", mac_addresses: "52:54:00:aa:bb:cd", commission: "false" });
    expect(stay.json.status_name).toBe("New");
  });

  it("validates create with form errors", async () => {
    const { maas } = await setup();
    const r = await maas.post("machines/", { hostname: "x" });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ architecture: ["This field is required."], mac_addresses: ["This field is required."] });
  });

  it("updates hostname, zone, pool and description, refusing unknown zones", async () => {
    const { maas, s, sid } = await setup();
    const r = await maas.put(`machines/${sid}/`, { hostname: "renamed", zone: "az2", description: "rack 4" });
    expect(r.json).toMatchObject({ hostname: "renamed", fqdn: "renamed.maas", zone: { name: "az2" }, description: "rack 4" });
    expect((await maas.get("machines/", { hostname: "renamed" })).json).toHaveLength(1);
    const bad = await maas.put(`machines/${sid}/`, { zone: "nowhere" });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json)).toEqual(["zone"]);
    expect(s.region.get(sid).zone).toBe("az2");
  });

  it("deletes a machine with 204", async () => {
    const { maas, sid } = await setup();
    expect((await maas.delete(`machines/${sid}/`)).status).toBe(204);
    expect((await maas.get(`machines/${sid}/`)).status).toBe(404);
    expect((await maas.get("machines/")).json).toHaveLength(5);
  });
});

describe("release many", () => {
  it("releases several machines and names unknown ones with 400", async () => {
    const { maas, s } = await setup();
    const ids = s.region.machines.slice(0, 2).map((m) => m.systemId);
    for (const sid of ids) await maas.op(sid, "commission");
    s.advance(Infinity);
    for (const sid of ids) await maas.op(sid, "deploy");
    s.advance(Infinity);
    const bad = await maas.post("machines/?op=release", { machines: [...ids, "nope01", "nope02"] });
    expect(bad.status).toBe(400);
    expect(bad.text).toBe("Unknown machine(s): nope01, nope02.");
    expect(await statusOf(maas, ids[0]!)).toBe("Deployed");
    const r = await maas.post("machines/?op=release", { machines: ids, comment: "bye" });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(ids);
    s.advance(Infinity);
    expect(await statusOf(maas, ids[1]!)).toBe("Ready");
  });

  it("refuses with 409 when one of them cannot be released", async () => {
    const { maas, s } = await setup();
    const ids = s.region.machines.slice(0, 2).map((m) => m.systemId);
    const r = await maas.post("machines/?op=release", { machines: ids });
    expect(r.status).toBe(409);
  });
});

describe("power", () => {
  it("powers an owned machine on and off and reports the state", async () => {
    const { maas, s, sid } = await setup();
    await maas.op(sid, "commission");
    s.advance(Infinity);
    await maas.post("machines/?op=allocate", { system_id: sid });
    expect((await maas.op(sid, "power_on")).json.power_state).toBe("on");
    expect((await maas.get(`machines/${sid}/`, { op: "query_power_state" })).json).toEqual({ state: "on" });
    expect((await maas.op(sid, "power_off", { stop_mode: "soft" })).json.power_state).toBe("off");
  });
});
