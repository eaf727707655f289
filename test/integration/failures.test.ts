// Machines that fail or hang in a busy phase, as the client sees them: the failed status,
// MAAS's reason in status_message and an ERROR event, and MAAS's own 30-minute timeout.
import { describe, expect, it } from "vitest";
import { MINUTE, SECOND, rigPerTest } from "./helpers.ts";

const setup = rigPerTest();

describe("commissioning failure", () => {
  it("commission.fail=1: the client sees Commissioning, then Failed commissioning with the script's reason and an ERROR event", async () => {
    const { client, sim, sid } = await setup({ faults: "commission.fail=1" });
    const id = sid("new-a-0001");
    expect((await client.commission(id)).status_name).toBe("Commissioning");
    // A failure comes part-way through the 5–10 minutes commissioning would take.
    sim.advance(10 * MINUTE);
    const m = await client.readMachine(id);
    expect(m).toMatchObject({ status: 2, status_name: "Failed commissioning", power_state: "off", commissioning_status_name: "Failed" });
    expect(m.status_message).toMatch(/Commissioning script .* failed/);
    const ev = await client.queryEvents({ id: [id], limit: 1 });
    expect(ev.events[0]).toMatchObject({ type: "Failed commissioning", level: "ERROR" });

    // Failed commissioning is a state commission is allowed from: the client can retry it.
    expect((await client.commission(id)).status_name).toBe("Commissioning");
  });

  it("a machine-targeted commission.fail fails that machine only", async () => {
    const { client, sim, sid } = await setup({ faults: "commission.fail@new-a-0002=1" });
    await client.commission(sid("new-a-0001"));
    await client.commission(sid("new-a-0002"));
    sim.advance(Infinity);
    const ms = await client.listMachines({ hostname: ["new-a-0001", "new-a-0002"] });
    expect(ms.map((m) => [m.hostname, m.status_name])).toEqual([
      ["new-a-0001", "Ready"],
      ["new-a-0002", "Failed commissioning"],
    ]);
  });
});

describe("deployment hang and MAAS's timeout", () => {
  it("deploy.hang: Deploying until MAAS's 30 minutes are up, then Failed deployment saying it timed out (manual clock)", async () => {
    const { client, sim, sid } = await setup({ faults: "deploy.hang@sm-a-0001=1" });
    const id = sid("sm-a-0001");
    await client.deploy(id);
    // Far past the 10–20 minutes a deployment takes: a hung one is still Deploying.
    sim.advance(29 * MINUTE + 59 * SECOND);
    expect((await client.readMachine(id)).status_name).toBe("Deploying");
    sim.advance(1 * SECOND);
    const m = await client.readMachine(id);
    expect(m).toMatchObject({ status: 11, status_name: "Failed deployment", owner: "admin" });
    expect(m.status_message).toBe("Machine operation 'Deploying' timed out after 30 minutes.");
    const ev = await client.queryEvents({ id: [id], level: "ERROR" });
    expect(ev.events.map((e) => e.type)).toEqual(["Failed deployment"]);

    // A failed deployment can be released, back to Ready.
    await client.release(id);
    sim.advance(Infinity);
    expect((await client.readMachine(id)).status_name).toBe("Ready");
  });

  it("with speed 60 the timeout is scaled too: 30 simulated minutes are 30 real seconds", async () => {
    const { client, sim, sid } = await setup({ speed: 60, faults: "deploy.hang@sm-a-0002=1" });
    const id = sid("sm-a-0002");
    await client.deploy(id);
    sim.advance(29 * SECOND);
    expect((await client.readMachine(id)).status_name).toBe("Deploying");
    sim.advance(1 * SECOND);
    expect((await client.readMachine(id)).status_name).toBe("Failed deployment");
  });

  it("a deployment aborted before the timeout never times out", async () => {
    const { client, sim, sid } = await setup({ faults: "deploy.hang@sm-a-0001=1" });
    const id = sid("sm-a-0001");
    await client.deploy(id);
    sim.advance(10 * MINUTE);
    expect((await client.abort(id)).status_name).toBe("Allocated");
    sim.advance(Infinity);
    expect((await client.readMachine(id)).status_name).toBe("Allocated");
  });
});
