// Every lifecycle path a MaasClient call can take, against the simulated region over HTTP.
import { describe, expect, it } from "vitest";
import { MINUTE, SECOND, maasError, rigPerTest, simCounts, simOp } from "./helpers.ts";
import type { Rig } from "./helpers.ts";

const setup = rigPerTest();

describe("create and commission", () => {
  it("create(commission=false) → New; commission → Commissioning; MAAS's 5–10 min later → Ready with its hardware discovered", async () => {
    const { client, sim } = await setup();
    const created = await client.createMachine({
      architecture: "amd64/generic",
      mac_addresses: ["52:54:00:aa:bb:01"],
      hostname: "fresh-01",
      power_type: "ipmi",
      power_parameters: { power_address: "10.0.0.9" },
      commission: false,
      zone: "az2",
      pool: "storage",
    });
    expect(created).toMatchObject({ hostname: "fresh-01", status_name: "New", status: 0, cpu_count: 0, memory: 0, zone: { name: "az2" }, pool: { name: "storage" } });
    expect(created.interface_set.map((i) => i.mac_address)).toEqual(["52:54:00:aa:bb:01"]);

    const commissioning = await client.commission(created.system_id, { enable_ssh: true, skip_storage: false });
    expect(commissioning.status_name).toBe("Commissioning");
    sim.advance(4 * MINUTE);
    expect((await client.readMachine(created.system_id)).status_name).toBe("Commissioning");
    sim.advance(7 * MINUTE);
    const ready = await client.readMachine(created.system_id);
    expect(ready).toMatchObject({ status_name: "Ready", status: 4, power_state: "off", cpu_count: 16 });
    expect(ready.memory).toBe(64 * 1024);
    expect(ready.blockdevice_set).toHaveLength(2);
    expect(simCounts(sim, created.system_id).commissioned).toBe(1);
  });

  it("create without commission=false starts commissioning at once (MAAS's default for admins)", async () => {
    const { client, sim } = await setup();
    const created = await client.createMachine({ architecture: "amd64/generic", mac_addresses: ["52:54:00:aa:bb:02"] });
    expect(created.status_name).toBe("Commissioning");
    sim.advance(Infinity);
    expect((await client.readMachine(created.system_id)).status_name).toBe("Ready");
  });

  it("createMachine is sent exactly once (never retried): the sim saw one machines.create", async () => {
    const { client, sim } = await setup();
    await client.createMachine({ architecture: "amd64/generic", mac_addresses: ["52:54:00:aa:bb:03"], commission: false });
    expect(simOp(sim, "machines.create")).toEqual({ "200": 1 });
  });
});

describe("allocate", () => {
  it("by system_id: that machine becomes Allocated, owned by the caller, with the agent_name kept", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0003");
    const m = await client.allocate({ system_id: id, agent_name: "metalwave-wave-1", comment: "wave 1" });
    expect(m).toMatchObject({ system_id: id, status_name: "Allocated", owner: "admin", constraints_by_type: {} });
    expect(sim.region.get(id).agentName).toBe("metalwave-wave-1");
    expect((await client.listMachines({ agent_name: ["metalwave-wave-1"] })).map((x) => x.system_id)).toEqual([id]);
  });

  it("tags must all match and not_tags exclude: repeated keys reach MAAS as lists", async () => {
    const { client, sid } = await setup();
    const gpu = await client.allocate({ tags: ["rack-b", "gpu"] });
    expect(gpu.system_id).toBe(sid("big-b-0001"));
    const notGpu = await client.allocate({ tags: ["rack-b"], not_tags: ["gpu"] });
    expect(notGpu.system_id).toBe(sid("sm-b-0001"));
    expect((await client.readMachine(notGpu.system_id)).tag_names).not.toContain("gpu");
  });

  it("zone and pool pick only machines there", async () => {
    const { client } = await setup();
    const inAz2 = await client.readMachine((await client.allocate({ zone: "az2", pool: "storage" })).system_id);
    expect(inAz2).toMatchObject({ zone: { name: "az2" }, pool: { name: "storage" } });
    const notAz1 = await client.readMachine((await client.allocate({ not_in_zone: ["az1"], pool: "compute" })).system_id);
    expect(notAz1).toMatchObject({ zone: { name: "az2" }, pool: { name: "compute" } });
  });

  it("cpu_count and mem (MB) are lower bounds", async () => {
    const { client } = await setup();
    const big = await client.readMachine((await client.allocate({ cpu_count: 32 })).system_id);
    expect(big.cpu_count).toBe(64);
    const bigMem = await client.readMachine((await client.allocate({ mem: 100_000 })).system_id);
    expect(bigMem.memory).toBeGreaterThanOrEqual(100_000);
    expect(bigMem.system_id).not.toBe(big.system_id);
    // Both big machines are taken: nothing else has 32 CPUs.
    const err = await maasError(client.allocate({ cpu_count: 32 }), "MAAS_CONFLICT");
    expect(err.conflictKind).toBe("no_match");
  });

  it("nothing matches → 409 MAAS_CONFLICT no_match carrying MAAS's text; nothing was allocated", async () => {
    const { client, sim } = await setup();
    const err = await maasError(client.allocate({ zone: "az1", tags: ["gpu"] }), "MAAS_CONFLICT");
    expect(err).toMatchObject({ status: 409, conflictKind: "no_match", operation: "allocate" });
    expect(err.maasMessage).toMatch(/^No available machine matches constraints: /);
    expect(sim.stats().statusCounts.Allocated ?? 0).toBe(0);
  });

  it("dry_run shows the match without allocating it", async () => {
    const { client, sim } = await setup();
    const m = await client.allocate({ tags: ["gpu"], dry_run: true });
    expect(sim.region.get(m.system_id).status).toBe(4);
  });
});

describe("deploy", () => {
  it("user_data given as text reaches MAAS base64-encoded, byte for byte, and decodes back to the text", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0001");
    const userData = "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: \"héllo wörld ✓\"\nruncmd: [echo ok]\n";
    await client.allocate({ system_id: id });
    const m = await client.deploy(id, { user_data: userData, distro_series: "noble", hwe_kernel: "ga-24.04", comment: "wave 1" });
    expect(m).toMatchObject({ status_name: "Deploying", power_state: "on" });
    expect(await client.readMachine(id)).toMatchObject({ osystem: "ubuntu", distro_series: "noble", hwe_kernel: "ga-24.04" });
    const stored = sim.region.get(id).userData;
    expect(stored).toBe(Buffer.from(userData, "utf8").toString("base64"));
    expect(Buffer.from(stored ?? "", "base64").toString("utf8")).toBe(userData);
  });

  it("Deploying → Deployed after MAAS's 10–20 min, with the machine's own IP on ip_addresses and its boot NIC's link", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0002");
    await client.allocate({ system_id: id });
    expect((await client.deploy(id)).status_name).toBe("Deploying");
    // MAAS claims addresses when deployment starts.
    expect((await client.readMachine(id)).ip_addresses).toHaveLength(1);
    sim.advance(9 * MINUTE);
    expect((await client.readMachine(id)).status_name).toBe("Deploying");
    sim.advance(12 * MINUTE);
    const deployed = await client.readMachine(id);
    const ip = sim.region.ipFor(sim.region.get(id));
    expect(deployed).toMatchObject({ status_name: "Deployed", status: 6, power_state: "on", ip_addresses: [ip], distro_series: "jammy" });
    expect(deployed.interface_set[0]?.links[0]?.ip_address).toBe(ip);
    expect(simCounts(sim, id)).toMatchObject({ allocated: 1, deployed: 1 });
  });

  it("deploy straight from Ready allocates to the caller on the way", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0004");
    const m = await client.deploy(id, { agent_name: "mw" });
    expect(m).toMatchObject({ status_name: "Deploying", owner: "admin" });
    expect(simCounts(sim, id)).toMatchObject({ allocated: 1, deployed: 1 });
  });
});

describe("zeroDuration on the real clock", () => {
  it("busy states finish at once but never inside the request: the client sees Deploying, then Deployed", async () => {
    const { client, sim, sid } = await setup({ zeroDuration: true, clock: "real" });
    const id = sid("sm-a-0001");
    const deployedSeen = new Promise<void>((resolve) => {
      const stop = sim.region.watch((m, _from, to) => {
        if (m.systemId === id && to === 6) {
          stop();
          resolve();
        }
      });
    });
    expect((await client.deploy(id)).status_name).toBe("Deploying");
    await deployedSeen;
    expect((await client.readMachine(id)).status_name).toBe("Deployed");
  });
});

describe("release", () => {
  async function deployed(rg: Rig, hostname: string): Promise<string> {
    const id = rg.sid(hostname);
    await rg.client.deploy(id);
    rg.sim.advance(Infinity);
    expect((await rg.client.readMachine(id)).status_name).toBe("Deployed");
    return id;
  }

  it("plain release of a powered-on machine: Releasing, then Ready within MAAS's 45–90 s; owner, OS and IPs are cleared at once", async () => {
    const rg = await setup();
    const id = await deployed(rg, "sm-a-0001");
    const m = await rg.client.release(id, { comment: "done" });
    expect(m).toMatchObject({ status_name: "Releasing", owner: null });
    expect(await rg.client.readMachine(id)).toMatchObject({ owner: null, osystem: "", distro_series: "", ip_addresses: [] });
    rg.sim.advance(91 * SECOND);
    expect(await rg.client.readMachine(id)).toMatchObject({ status_name: "Ready", power_state: "off" });
    expect(simCounts(rg.sim, id)).toMatchObject({ released: 1, erased: 0 });
  });

  it("release of an Allocated (powered-off) machine goes straight to Ready", async () => {
    const { client, sid } = await setup();
    const id = sid("sm-a-0002");
    await client.allocate({ system_id: id });
    expect((await client.release(id)).status_name).toBe("Ready");
  });

  it("releasing a Ready machine is a no-op success, as in MAAS (and counts as no release)", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0003");
    expect((await client.release(id)).status_name).toBe("Ready");
    expect(simCounts(sim, id).released).toBe(0);
  });

  it("quick_erase: Disk erasing, Ready within 90 s", async () => {
    const rg = await setup();
    const id = await deployed(rg, "sm-a-0001");
    expect((await rg.client.release(id, { quick_erase: true, erase: true })).status_name).toBe("Disk erasing");
    rg.sim.advance(91 * SECOND);
    expect((await rg.client.readMachine(id)).status_name).toBe("Ready");
    expect(simCounts(rg.sim, id).erased).toBe(1);
  });

  it("secure_erase: still Disk erasing after 90 s, Ready within MAAS's 10–20 min", async () => {
    const rg = await setup();
    const id = await deployed(rg, "sm-a-0002");
    expect((await rg.client.release(id, { secure_erase: true, erase: true })).status_name).toBe("Disk erasing");
    rg.sim.advance(91 * SECOND);
    expect((await rg.client.readMachine(id)).status_name).toBe("Disk erasing");
    rg.sim.advance(20 * MINUTE);
    expect((await rg.client.readMachine(id)).status_name).toBe("Ready");
  });

  it("full erase: still Disk erasing after 19 min, Ready within MAAS's 20–40 min", async () => {
    const rg = await setup();
    const id = await deployed(rg, "sm-a-0003");
    expect((await rg.client.release(id, { erase: true })).status_name).toBe("Disk erasing");
    rg.sim.advance(19 * MINUTE);
    expect((await rg.client.readMachine(id)).status_name).toBe("Disk erasing");
    rg.sim.advance(22 * MINUTE);
    expect((await rg.client.readMachine(id)).status_name).toBe("Ready");
    expect(simCounts(rg.sim, id)).toMatchObject({ released: 1, erased: 1 });
  });

  it("releaseMany releases several machines in one request and returns their system_ids", async () => {
    const { client, sim, sid } = await setup();
    const ids = [sid("dep-a-0001"), sid("dep-a-0002"), sid("sm-a-0001")];
    await client.allocate({ system_id: ids[2] });
    const released = await client.releaseMany(ids, "end of test");
    expect(released.sort()).toEqual([...ids].sort());
    expect(simOp(sim, "machines.release")).toEqual({ "200": 1 });
    const after = await client.listMachines({ id: ids });
    // Powered-on Deployed machines go through Releasing; the powered-off Allocated one is Ready at once.
    expect(Object.fromEntries(after.map((m) => [m.system_id, m.status_name]))).toEqual({ [ids[0]!]: "Releasing", [ids[1]!]: "Releasing", [ids[2]!]: "Ready" });
    sim.advance(Infinity);
    expect((await client.listMachines({ id: ids })).every((m) => m.status_name === "Ready")).toBe(true);
  });

  it("releaseMany with unknown ids → MAAS_BAD_REQUEST naming them; nothing is released", async () => {
    const { client, sim, sid } = await setup();
    const err = await maasError(client.releaseMany([sid("dep-a-0001"), "nope01", "nope02"]), "MAAS_BAD_REQUEST");
    expect(err).toMatchObject({ status: 400, maasMessage: "Unknown machine(s): nope01, nope02." });
    expect(sim.region.get(sid("dep-a-0001")).status).toBe(6);
  });
});

describe("abort", () => {
  it("from Commissioning → New, and the cancelled commissioning never completes", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("new-a-0001");
    await client.commission(id);
    const m = await client.abort(id, "wrong machine");
    expect(m.status_name).toBe("New");
    sim.advance(Infinity);
    expect((await client.readMachine(id)).status_name).toBe("New");
  });

  it("from Deploying → Allocated, still owned, and the cancelled deployment never completes", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0001");
    await client.deploy(id);
    const m = await client.abort(id);
    expect(m).toMatchObject({ status_name: "Allocated", owner: "admin" });
    sim.advance(Infinity);
    expect((await client.readMachine(id)).status_name).toBe("Allocated");
  });

  it("from a settled state → MAAS_CONFLICT wrong_state with MAAS's text", async () => {
    const { client, sid } = await setup();
    const id = sid("sm-a-0001");
    const err = await maasError(client.abort(id), "MAAS_CONFLICT");
    expect(err.conflictKind).toBe("wrong_state");
    expect(err.maasMessage).toBe(`Cannot abort in current state: node ${id} is in state Ready.`);
  });
});

describe("mark broken / fixed", () => {
  it("Deployed → Broken → back to Deployed; Ready → Broken → back to Ready", async () => {
    const { client, sid } = await setup();
    const dep = sid("dep-a-0001");
    expect((await client.markBroken(dep, "disk smart errors")).status_name).toBe("Broken");
    expect((await client.markFixed(dep, "replaced")).status_name).toBe("Deployed");
    const ready = sid("sm-a-0001");
    expect((await client.markBroken(ready)).status_name).toBe("Broken");
    expect((await client.markFixed(ready)).status_name).toBe("Ready");
  });

  it("mark_broken cancels a busy phase; mark_fixed of a non-broken machine → MAAS_CONFLICT wrong_state", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0002");
    await client.deploy(id);
    await client.markBroken(id);
    sim.advance(Infinity);
    expect((await client.readMachine(id)).status_name).toBe("Broken");
    // Fixed back to Ready, it is free and blank again: no owner, no OS, no IPs.
    expect(await client.markFixed(id)).toMatchObject({ status_name: "Ready", owner: null });
    expect(await client.readMachine(id)).toMatchObject({ status_name: "Ready", owner: null, osystem: "", distro_series: "", ip_addresses: [] });
    const err = await maasError(client.markFixed(sid("sm-a-0003")), "MAAS_CONFLICT");
    expect(err).toMatchObject({ conflictKind: "wrong_state", maasMessage: "Can't mark a non-broken node as 'Ready'." });
  });

  it("markBroken of a Broken machine → MAAS_CONFLICT with MAAS's invalid-transition text", async () => {
    const { client, sid } = await setup();
    const id = sid("sm-a-0001");
    await client.markBroken(id);
    const err = await maasError(client.markBroken(id), "MAAS_CONFLICT");
    expect(err.maasMessage).toBe("Invalid transition: Broken -> Broken.");
  });
});

describe("power", () => {
  it("power on / query / power off of an allocated machine", async () => {
    const { client, sid } = await setup();
    const id = sid("sm-a-0001");
    await client.allocate({ system_id: id });
    expect(await client.queryPowerState(id)).toBe("off");
    expect((await client.powerOn(id, "bring up")).power_state).toBe("on");
    expect(await client.queryPowerState(id)).toBe("on");
    expect((await client.powerOff(id, "soft")).power_state).toBe("off");
    expect(await client.queryPowerState(id)).toBe("off");
  });

  it("power on of an unallocated machine → MAAS_CONFLICT with MAAS's text", async () => {
    const { client, sid } = await setup();
    const err = await maasError(client.powerOn(sid("sm-a-0001")), "MAAS_CONFLICT");
    expect(err.maasMessage).toBe("Can't start node: it hasn't been allocated.");
  });
});

describe("locked machines", () => {
  it("a locked machine answers 403 → MAAS_FORBIDDEN to state changes, and allocation never picks it", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("dep-a-0001");
    // The port has no lock operation (metalwave never locks machines): lock it the way an operator would.
    const res = await fetch(`${sim.url}/api/2.0/machines/${id}/?op=lock`, { method: "POST", headers: { Authorization: operatorAuth(sim.apiKey) } });
    expect(res.status).toBe(200);

    for (const call of [() => client.release(id), () => client.markBroken(id), () => client.powerOff(id), () => client.commission(id)]) {
      const err = await maasError(call(), "MAAS_FORBIDDEN");
      expect(err).toMatchObject({ status: 403, systemId: id });
    }
    expect((await client.readMachine(id)).locked).toBe(true);

    const ready = sid("sm-a-0001");
    await fetch(`${sim.url}/api/2.0/machines/${ready}/?op=lock`, { method: "POST", headers: { Authorization: operatorAuth(sim.apiKey) } });
    await maasError(client.deploy(ready), "MAAS_FORBIDDEN");
    const err = await maasError(client.allocate({ system_id: ready }), "MAAS_CONFLICT");
    expect(err.conflictKind).toBe("no_match");
  });
});

let operatorNonce = 0;
function operatorAuth(apiKey: string): string {
  const [ck = "", tk = "", secret = ""] = apiKey.split(":");
  return `OAuth oauth_consumer_key="${ck}", oauth_token="${tk}", oauth_signature_method="PLAINTEXT", oauth_signature="%26${secret}", oauth_timestamp="${Math.floor(Date.now() / 1000)}", oauth_nonce="operator-${operatorNonce++}", oauth_version="1.0"`;
}
