import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MaasClient, apiRootOf } from "../../src/maas/client.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { API, API_KEY, EVENTS_PAGE, ORIGIN, harness, maas, machineJson, multi } from "./helpers.ts";

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

/** Replies 200 with `body` and keeps the request's query/body for the test to inspect. */
function capture(body: unknown): { seen: { query: Record<string, string[]>; form: Record<string, string[]>; contentType: string | null }[]; reply: (req: Request) => Promise<[number, unknown]> } {
  const seen: { query: Record<string, string[]>; form: Record<string, string[]>; contentType: string | null }[] = [];
  return {
    seen,
    reply: async (req: Request) => {
      const u = new URL(req.url);
      seen.push({ query: multi(u.search), form: multi(await req.text()), contentType: req.headers.get("content-type") });
      return [200, body];
    },
  };
}

describe("URLs", () => {
  it.each([
    ["http://maas.test:5240/MAAS", "http://maas.test:5240/MAAS/api/2.0/"],
    ["http://maas.test:5240/MAAS/", "http://maas.test:5240/MAAS/api/2.0/"],
    ["http://maas.test:5240/MAAS/api/2.0/", "http://maas.test:5240/MAAS/api/2.0/"],
    ["https://maas.test/", "https://maas.test/api/2.0/"],
  ])("%s → %s", (url, root) => {
    expect(apiRootOf(url)).toBe(root);
  });

  it("reads one machine at machines/<id>/ and parses the realistic fixture", async () => {
    maas().get(`${API}/machines/4y3h7n/`).reply(200, machineJson());
    const { client } = harness();
    const m = await client.readMachine("4y3h7n");
    expect(m.status).toBe(NodeStatus.READY);
    expect(m.interface_set[0]?.links[0]?.subnet?.cidr).toBe("10.12.0.0/20");
    expect(m.interface_set[1]?.vlan).toBeNull();
    expect(m.physicalblockdevice_set[1]?.tags).toContain("ceph");
    expect(m.pool?.name).toBe("default");
    // Unknown fields are kept, not stripped.
    expect(m.bios_boot_method).toBe("uefi");
  });
});

describe("listMachines", () => {
  it("sends each filter value as a repeated key", async () => {
    const c = capture([machineJson({ system_id: "a" }), machineJson({ system_id: "b" })]);
    maas().get(`${API}/machines/`).query(true).reply(c.reply);
    const { client } = harness();
    const ms = await client.listMachines({ id: ["a", "b"], status: ["ready", "failed_deployment"], tags: ["ceph", "rack12"], not_zone: ["az3"] });
    expect(ms.map((m) => m.system_id)).toEqual(["a", "b"]);
    expect(c.seen[0]?.query).toEqual({ id: ["a", "b"], status: ["ready", "failed_deployment"], tags: ["ceph", "rack12"], not_zone: ["az3"] });
  });

  it("returns [] for an empty id filter without asking MAAS for the whole fleet", async () => {
    const { client, requests } = harness();
    expect(await client.listMachines({ id: [] })).toEqual([]);
    expect(requests).toHaveLength(0);
  });
});

describe("machine state: what operations and status polls read of MAAS's whole-machine answers", () => {
  const STATE_KEYS = ["current_commissioning_result_id", "hostname", "locked", "owner", "power_state", "status", "status_message", "status_name", "system_id"];

  it("an operation's answer is read as the machine's state only; interfaces, disks and the rest are not kept", async () => {
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "commission" }).reply(200, machineJson({ status: NodeStatus.COMMISSIONING }));
    const { client } = harness();
    const m = await client.commission("4y3h7n");
    expect(Object.keys(m).sort()).toEqual(STATE_KEYS.filter((k) => k in machineJson()).sort());
    expect(m).toMatchObject({ system_id: "4y3h7n", status: NodeStatus.COMMISSIONING, status_name: "Commissioning" });
  });

  it("listMachineStates sends the same filtered list request as listMachines and keeps each machine's state", async () => {
    const c = capture([machineJson(), machineJson({ system_id: "b2", hostname: "b2" })]);
    maas().get(`${API}/machines/`).query(true).reply(c.reply);
    const { client } = harness();
    const states = await client.listMachineStates({ id: ["4y3h7n", "b2"] });
    expect(c.seen[0]?.query).toEqual({ id: ["4y3h7n", "b2"] });
    expect(states.map((m) => [m.system_id, Object.keys(m).length <= STATE_KEYS.length, "interface_set" in m])).toEqual([
      ["4y3h7n", true, false],
      ["b2", true, false],
    ]);
  });

  it("a state missing its status is MAAS_BAD_RESPONSE naming the field", async () => {
    const bad: Record<string, unknown> = { ...machineJson() };
    delete bad["status"];
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "deploy" }).reply(200, bad);
    const { client } = harness();
    await expect(client.deploy("4y3h7n")).rejects.toMatchObject({ code: "MAAS_BAD_RESPONSE", message: expect.stringMatching(/status/) });
  });
});

describe("machine operations", () => {
  it("deploy sends op=deploy in the query and user_data base64-encoded in a form body", async () => {
    const c = capture(machineJson({ status: NodeStatus.DEPLOYING, owner: "metalwave" }));
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "deploy" }).reply(c.reply);
    const { client } = harness();
    const userData = "#cloud-config\npackages: [chrony]\n";
    const m = await client.deploy("4y3h7n", { user_data: userData, distro_series: "jammy", hwe_kernel: "ga-22.04" });
    expect(m.status).toBe(NodeStatus.DEPLOYING);
    const s = c.seen[0];
    expect(s?.contentType).toBe("application/x-www-form-urlencoded");
    expect(s?.form).toEqual({ user_data: [Buffer.from(userData).toString("base64")], distro_series: ["jammy"], hwe_kernel: ["ga-22.04"] });
  });

  it("release sends its flags as true/false", async () => {
    const c = capture(machineJson({ status: NodeStatus.DISK_ERASING, owner: "metalwave" }));
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "release" }).reply(c.reply);
    const { client } = harness();
    await client.release("4y3h7n", { erase: true, quick_erase: true, secure_erase: false, comment: "wave 3 rollback" });
    expect(c.seen[0]?.form).toEqual({ erase: ["true"], quick_erase: ["true"], secure_erase: ["false"], comment: ["wave 3 rollback"] });
  });

  it("commission sends repeated script names", async () => {
    const c = capture(machineJson({ status: NodeStatus.COMMISSIONING }));
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "commission" }).reply(c.reply);
    const { client } = harness();
    await client.commission("4y3h7n", { skip_networking: true, testing_scripts: ["smartctl-validate", "fio"] });
    expect(c.seen[0]?.form).toEqual({ skip_networking: ["true"], testing_scripts: ["smartctl-validate", "fio"] });
  });

  it("createMachine flattens power parameters to power_parameters_<key> and repeats mac_addresses", async () => {
    const c = capture(machineJson({ status: NodeStatus.COMMISSIONING }));
    maas().post(`${API}/machines/`).reply(c.reply);
    const { client } = harness();
    await client.createMachine({
      architecture: "amd64/generic",
      mac_addresses: ["b4:96:91:3a:0c:10", "b4:96:91:3a:0c:11"],
      hostname: "r12-u07",
      power_type: "ipmi",
      power_parameters: { power_address: "10.99.12.7", power_user: "root" },
      commission: true,
    });
    expect(c.seen[0]?.form).toEqual({
      architecture: ["amd64/generic"],
      mac_addresses: ["b4:96:91:3a:0c:10", "b4:96:91:3a:0c:11"],
      hostname: ["r12-u07"],
      power_type: ["ipmi"],
      commission: ["true"],
      power_parameters_power_address: ["10.99.12.7"],
      power_parameters_power_user: ["root"],
    });
  });

  it("allocate returns constraints_by_type and sends list constraints repeated", async () => {
    const c = capture({ ...machineJson({ status: NodeStatus.ALLOCATED, owner: "metalwave" }), constraints_by_type: { storage: {} } });
    maas().post(`${API}/machines/`).query({ op: "allocate" }).reply(c.reply);
    const { client } = harness();
    const m = await client.allocate({ tags: ["ceph", "nvme"], not_in_zone: ["az3"], mem: 65536, agent_name: "metalwave" });
    expect(m.constraints_by_type).toEqual({ storage: {} });
    expect(c.seen[0]?.form).toEqual({ tags: ["ceph", "nvme"], not_in_zone: ["az3"], mem: ["65536"], agent_name: ["metalwave"] });
  });

  it("releaseMany posts repeated machines= and returns the ids", async () => {
    const c = capture(["a", "b"]);
    maas().post(`${API}/machines/`).query({ op: "release" }).reply(c.reply);
    const { client } = harness();
    expect(await client.releaseMany(["a", "b"], "done")).toEqual(["a", "b"]);
    expect(c.seen[0]?.form).toEqual({ machines: ["a", "b"], comment: ["done"] });
  });

  it("powerOff sends stop_mode; queryPowerState is a GET returning the state", async () => {
    const c = capture(machineJson({ power_state: "off" }));
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "power_off" }).reply(c.reply);
    maas().get(`${API}/machines/4y3h7n/`).query({ op: "query_power_state" }).reply(200, { state: "off" });
    const { client } = harness();
    await client.powerOff("4y3h7n", "soft");
    expect(c.seen[0]?.form).toEqual({ stop_mode: ["soft"] });
    expect(await client.queryPowerState("4y3h7n")).toBe("off");
  });
});

describe("tags", () => {
  it("updateTagNodes splits 1,200 ids into 3 calls of at most 500 repeated add= keys and sums the answers", async () => {
    const ids = Array.from({ length: 1200 }, (_, i) => `m${String(i).padStart(5, "0")}`);
    const bodies: Record<string, string[]>[] = [];
    maas()
      .post(`${API}/tags/ceph/`)
      .query({ op: "update_nodes" })
      .times(3)
      .reply(async (req: Request) => {
        const form = multi(await req.text());
        bodies.push(form);
        return [200, { added: form.add?.length ?? 0, removed: 0 }];
      });
    const { client } = harness();
    expect(await client.updateTagNodes("ceph", { add: ids })).toEqual({ added: 1200, removed: 0 });
    expect(bodies.map((b) => b.add?.length)).toEqual([500, 500, 200]);
    expect(bodies.flatMap((b) => b.add)).toEqual(ids);
  });

  it("puts adds and removes in the same batches, honouring a configured batch size", async () => {
    const bodies: Record<string, string[]>[] = [];
    maas()
      .post(`${API}/tags/ceph/`)
      .query({ op: "update_nodes" })
      .times(2)
      .reply(async (req: Request) => {
        const form = multi(await req.text());
        bodies.push(form);
        return [200, { added: form.add?.length ?? 0, removed: form.remove?.length ?? 0 }];
      });
    const { client } = harness({ tagBatchSize: 3 });
    expect(await client.updateTagNodes("ceph", { add: ["a", "b"], remove: ["c", "d"] })).toEqual({ added: 2, removed: 2 });
    expect(bodies).toEqual([{ add: ["a", "b"], remove: ["c"] }, { remove: ["d"] }]);
  });

  it("block-device tags go to nodes/<sid>/blockdevices/<id>/ with op add_tag/remove_tag and tag=", async () => {
    const add = capture({});
    const rm = capture({});
    maas().post(`${API}/nodes/4y3h7n/blockdevices/202/`).query({ op: "add_tag" }).reply(add.reply);
    maas().post(`${API}/nodes/4y3h7n/blockdevices/202/`).query({ op: "remove_tag" }).reply(rm.reply);
    const { client } = harness();
    await client.addBlockDeviceTag("4y3h7n", 202, "ceph");
    await client.removeBlockDeviceTag("4y3h7n", 202, "ceph");
    expect(add.seen[0]?.form).toEqual({ tag: ["ceph"] });
    expect(rm.seen[0]?.form).toEqual({ tag: ["ceph"] });
  });

  it("creates, lists, lists machines of and deletes tags", async () => {
    const tag = { name: "ceph", definition: "", comment: "storage role", kernel_opts: null, resource_uri: `${API}/tags/ceph/` };
    maas().post(`${API}/tags/`).reply(200, tag);
    maas().get(`${API}/tags/`).reply(200, [tag]);
    maas().get(`${API}/tags/ceph/`).query({ op: "machines" }).reply(200, [machineJson()]);
    maas().delete(`${API}/tags/ceph/`).reply(204);
    const { client } = harness();
    expect(await client.createTag({ name: "ceph", comment: "storage role" })).toMatchObject({ name: "ceph" });
    expect(await client.listTags()).toHaveLength(1);
    expect(await client.machinesByTag("ceph")).toHaveLength(1);
    await expect(client.deleteTag("ceph")).resolves.toBeUndefined();
  });
});

describe("zones, pools, events", () => {
  it("lists zones and resource pools", async () => {
    maas().get(`${API}/zones/`).reply(200, [{ id: 1, name: "default", description: "", resource_uri: `${API}/zones/default/` }]);
    maas().get(`${API}/resourcepools/`).reply(200, [{ id: 0, name: "default", description: "Default pool", resource_uri: `${API}/resourcepool/0/` }]);
    const { client } = harness();
    expect((await client.listZones())[0]?.name).toBe("default");
    expect((await client.listResourcePools())[0]?.id).toBe(0);
  });

  it("queryEvents sends op=query with repeated id= and the cursor", async () => {
    const c = capture(EVENTS_PAGE);
    maas().get(`${API}/events/`).query(true).reply(c.reply);
    const { client } = harness();
    const page = await client.queryEvents({ id: ["4y3h7n", "8kq2pd"], level: "INFO", limit: 1000, after: 90400 });
    expect(page.events[0]?.type).toBe("Deploying");
    expect(c.seen[0]?.query).toEqual({ op: ["query"], id: ["4y3h7n", "8kq2pd"], level: ["INFO"], limit: ["1000"], after: ["90400"] });
  });

  it.each([
    [{ limit: 1001 }, /limit: must be an integer from 1 to 1000/],
    [{ limit: 0 }, /limit/],
    [{ after: 1, before: 5 }, /either after or before/],
  ])("refuses %j before sending it", async (query, why) => {
    const { client, requests } = harness();
    await expect(client.queryEvents(query)).rejects.toMatchObject({ code: "MAAS_BAD_REQUEST", status: undefined, message: expect.stringMatching(why) });
    expect(requests).toHaveLength(0);
  });
});

describe("stats and onRequest", () => {
  it("count requests by operation and status", async () => {
    maas().get(`${API}/machines/x/`).reply(404, "No Machine matches the given query.");
    maas().get(`${API}/machines/4y3h7n/`).times(2).reply(200, machineJson());
    const { client, requests } = harness();
    await client.readMachine("4y3h7n");
    await client.readMachine("4y3h7n");
    await expect(client.readMachine("x")).rejects.toThrow();
    expect(client.stats().byOperation).toEqual({ readMachine: { "200": 2, "404": 1 } });
    expect(client.stats().requests).toBe(3);
    expect(requests.map((r) => [r.operation, r.method, r.status, r.attempt])).toEqual([
      ["readMachine", "GET", 200, 1],
      ["readMachine", "GET", 200, 1],
      ["readMachine", "GET", 404, 1],
    ]);
  });

  it("a throwing onRequest hook does not break the call", async () => {
    maas().get(`${API}/machines/4y3h7n/`).reply(200, machineJson());
    const client = new MaasClient({
      url: `${ORIGIN}/MAAS`,
      apiKey: API_KEY,
      onRequest: () => {
        throw new Error("metrics down");
      },
    });
    await expect(client.readMachine("4y3h7n")).resolves.toMatchObject({ system_id: "4y3h7n" });
  });
});
