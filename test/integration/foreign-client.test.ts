// A strict client written elsewhere (foreign-client.ts: fetch, its own gomaasapi-style
// OAuth header, its own field-by-field checker) drives the simulated region through a
// whole lifecycle and must find nothing to tell it from a real region.
import { afterEach, describe, expect, it } from "vitest";
import { MaasClient } from "../../src/maas/client.ts";
import { startSimulator } from "../../src/sim/index.ts";
import type { SimHandle } from "../../src/sim/index.ts";
import { ForeignMaasClient, machineProblems } from "./foreign-client.ts";
import { mixedFleet } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup(): Promise<{ sim: SimHandle; maas: ForeignMaasClient; checked: { count: number }; check: (v: unknown, where: string) => void }> {
  sim = await startSimulator({ fleet: mixedFleet(), seed: 11, clock: "manual" });
  const checked = { count: 0 };
  const check = (v: unknown, where: string): void => {
    expect(machineProblems(v, where)).toEqual([]);
    checked.count++;
  };
  return { sim, maas: new ForeignMaasClient(sim.url, sim.apiKey), checked, check };
}

describe("a strict foreign client", () => {
  it("the checker itself catches what a strict client would refuse (so an empty report means something)", () => {
    const good = {
      resource_uri: "/MAAS/api/2.0/machines/abc123/",
      system_id: "abc123",
      hostname: "h",
      fqdn: "h.maas",
      tag_names: [],
      owner_data: {},
      osystem: "",
      distro_series: "",
      power_state: "off",
      status_name: "Ready",
      memory: 1024,
      cpu_count: 2,
      ip_addresses: [],
      interface_set: [],
      physicalblockdevice_set: [],
      blockdevice_set: [],
      zone: { name: "default", description: "", resource_uri: "/MAAS/api/2.0/zones/default/" },
      architecture: "amd64/generic",
      hardware_info: null,
      status_message: null,
      boot_interface: null,
      pool: null,
      status: 4,
      owner: null,
      locked: false,
      netboot: true,
      storage: 0,
      domain: { name: "maas", id: 0, resource_uri: "/MAAS/api/2.0/domains/0/" },
      description: "",
      power_type: "ipmi",
      commissioning_status: 2,
      commissioning_status_name: "Passed",
      testing_status: -1,
      testing_status_name: "None",
      numanode_set: [],
      hwe_kernel: null,
      min_hwe_kernel: "",
      boot_disk: null,
      node_type_name: "Machine",
    };
    expect(machineProblems(good)).toEqual([]);
    expect(machineProblems({ ...good, memory: 1024.5 })).toEqual(["machine.memory: expected int, got number 1024.5"]);
    expect(machineProblems({ ...good, tag_names: "a,b" })).toEqual(["machine.tag_names: expected array, got string"]);
    const { pool: _pool, ...noPool } = good;
    expect(machineProblems(noPool)).toEqual(["machine.pool: missing"]);
    expect(machineProblems({ ...good, status: 6 })).toEqual(["machine: status 6 does not match status_name 'Ready'"]);
    expect(machineProblems({ ...good, resource_uri: "/MAAS/api/2.0/machines/abc123" })[0]).toMatch(/resource_uri/);
    expect(machineProblems({ ...good, zone: { name: "z", resource_uri: "/MAAS/api/2.0/zones/z/" } })).toEqual(["machine.zone.description: missing"]);
  });

  it("speaks to the region with its own OAuth header and finds every machine object well-formed through list → allocate → deploy → Deployed → release", async () => {
    const { sim, maas, check, checked } = await setup();

    // gomaasapi reads the version first and requires all three keys.
    const version = (await maas.ok("GET", "version/", undefined, {}, true)) as Record<string, unknown>;
    expect(Array.isArray(version.capabilities) && typeof version.version === "string" && typeof version.subversion === "string").toBe(true);
    expect((await maas.ok("GET", "users/", "whoami")) as object).toMatchObject({ username: "admin" });

    const all = (await maas.ok("GET", "machines/")) as unknown[];
    expect(all).toHaveLength(sim.region.machines.length);
    all.forEach((m, i) => check(m, `machines[${i}]`));

    const filtered = (await maas.ok("GET", "machines/", undefined, { status: ["ready"], zone: "az2" })) as { system_id: string }[];
    expect(filtered.length).toBe(4);
    filtered.forEach((m, i) => check(m, `ready-az2[${i}]`));

    const allocated = (await maas.ok("POST", "machines/", "allocate", { tags: "gpu", zone: "az2", agent_name: "juju-1234" })) as Record<string, unknown>;
    const { constraints_by_type, ...machineOnly } = allocated;
    expect(typeof constraints_by_type).toBe("object");
    check(machineOnly, "allocate");
    expect(allocated).toMatchObject({ status_name: "Allocated", owner: "admin" });
    const sid = allocated.system_id as string;

    const userData = Buffer.from("#!/bin/sh\necho from-the-foreign-client\n").toString("base64");
    const deploying = await maas.ok("POST", `machines/${sid}/`, "deploy", { user_data: userData, distro_series: "jammy" });
    check(deploying, "deploy");
    expect(deploying).toMatchObject({ status_name: "Deploying", distro_series: "jammy" });
    expect(sim.region.get(sid).userData).toBe(userData);

    sim.advance(Infinity);
    const deployed = (await maas.ok("GET", `machines/${sid}/`)) as { ip_addresses: string[]; status_name: string };
    check(deployed, "deployed");
    expect(deployed.status_name).toBe("Deployed");
    expect(deployed.ip_addresses).toHaveLength(1);

    const tagged = (await maas.ok("GET", "tags/gpu/", "machines")) as unknown[];
    tagged.forEach((m, i) => check(m, `tags/gpu machines[${i}]`));

    const releasing = await maas.ok("POST", `machines/${sid}/`, "release", { erase: "true", quick_erase: "true" });
    check(releasing, "release");
    expect(releasing).toMatchObject({ status_name: "Disk erasing" });
    sim.advance(Infinity);
    check(await maas.ok("GET", `machines/${sid}/`), "released");

    // Release many, as gomaasapi's ReleaseMachines does it: a list of system_ids back.
    const many = (await maas.ok("GET", "machines/", undefined, { status: "deployed" })) as { system_id: string }[];
    const released = await maas.ok("POST", "machines/", "release", { machines: many.map((m) => m.system_id), comment: "bye" });
    expect(released).toEqual(many.map((m) => m.system_id));
    sim.advance(Infinity);
    const after = (await maas.ok("GET", "machines/", undefined, { id: many.map((m) => m.system_id) })) as { status_name: string }[];
    after.forEach((m, i) => check(m, `after-release[${i}]`));
    expect(after.every((m) => m.status_name === "Ready")).toBe(true);

    // The header order changed between requests (Go map order) and the region never minded.
    expect(new Set(maas.headersSent.map((h) => h.slice(6, 20))).size).toBeGreaterThan(1);
    expect(checked.count).toBeGreaterThan(sim.region.machines.length);
  });

  it("finds every machine well-formed in every state metalwave's client can put one in", async () => {
    const { sim, check } = await setup();
    const client = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0 });
    const maas = new ForeignMaasClient(sim.url, sim.apiKey);
    const sid = (h: string) => sim.region.byHostname.get(h)?.systemId ?? "";
    const seen = new Set<string>();
    const tour = async (when: string): Promise<void> => {
      const all = (await maas.ok("GET", "machines/")) as { hostname: string; status_name: string }[];
      for (const m of all) {
        check(m, `${when} ${m.hostname} (${m.status_name})`);
        seen.add(m.status_name);
      }
    };
    // Created over the API: no hardware known until commissioning.
    await client.createMachine({ architecture: "amd64/generic", mac_addresses: ["52:54:00:12:34:56"], commission: false });
    await client.commission(sid("new-a-0001"));
    await client.allocate({ system_id: sid("sm-a-0001") });
    await client.deploy(sid("sm-a-0002"));
    await client.deploy(sid("sm-a-0003"));
    await client.markBroken(sid("sm-a-0003"));
    await client.markBroken(sid("sm-a-0004"));
    await client.release(sid("dep-a-0001"), { erase: true });
    await client.release(sid("dep-a-0002"));
    await tour("busy");
    sim.advance(Infinity);
    await client.markFixed(sid("sm-a-0003"));
    await tour("settled");
    expect([...seen].sort()).toEqual(["Allocated", "Broken", "Commissioning", "Deployed", "Deploying", "Disk erasing", "New", "Ready", "Releasing"]);
  });

  it("gets MAAS's error formats: text/plain 409 for no match and wrong state, JSON field errors for 400, 401 with WWW-Authenticate", async () => {
    const { sim, maas } = await setup();
    const noMatch = await maas.request("POST", "machines/", "allocate", { tags: "gpu", zone: "az1" });
    expect(noMatch.status).toBe(409);
    expect(noMatch.contentType).toMatch(/^text\/plain/);
    expect(noMatch.text).toMatch(/^No available machine matches constraints: /);

    const newSid = sim.region.byHostname.get("new-a-0001")?.systemId ?? "";
    const wrongState = await maas.request("POST", `machines/${newSid}/`, "deploy");
    expect([wrongState.status, wrongState.text]).toEqual([409, "Can't deploy a machine that is in the 'New' state"]);

    const badFilter = await maas.request("GET", "machines/", undefined, { colour: "red" });
    expect(badFilter.status).toBe(400);
    expect(badFilter.contentType).toMatch(/^application\/json/);
    expect(badFilter.json).toEqual({ colour: ["No such constraint."] });

    const stranger = new ForeignMaasClient(sim.url, "aaaa:bbbb:cccc");
    const r = await fetch(`${sim.url}/api/2.0/users/?op=whoami`, { headers: { Authorization: 'OAuth oauth_consumer_key="aaaa"' } });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('OAuth realm="OAuth"');
    expect((await stranger.request("GET", "users/", "whoami")).status).toBe(401);
  });
});
