import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SimHandle, SimStats } from "../../src/sim/index.ts";
import { startSimulator } from "../../src/sim/index.ts";
import { Maas, manualSim, oauthHeader } from "./helpers.ts";

let sim: SimHandle;
let maas: Maas;

beforeEach(async () => {
  ({ sim, maas } = await manualSim());
});
afterEach(async () => {
  await sim.close();
});

describe("URL scheme", () => {
  it("serves version/ anonymously with the three keys gomaasapi requires", async () => {
    const r = await maas.call("GET", "version/", { auth: null });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.json).toMatchObject({ version: expect.stringMatching(/^3\./), subversion: "" });
    expect(r.json.capabilities).toContain("networks-management");
  });

  it("gives a base URL ending in /MAAS on loopback", () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/MAAS$/);
  });

  it("accepts the op in the query, in the body, and as an op-NAME path suffix", async () => {
    const sid = sim.region.machines[0]!.systemId;
    expect((await maas.call("GET", `machines/${sid}/`, { query: { op: "query_power_state" } })).json).toEqual({ state: "off" });
    expect((await maas.call("GET", `machines/${sid}/op-query_power_state`)).json).toEqual({ state: "off" });
    const byBody = await maas.call("POST", `machines/${sid}/`, { form: { op: "commission" } });
    expect(byBody.json.status_name).toBe("Commissioning");
  });

  it("accepts the op-NAME suffix on a collection too", async () => {
    const r = await maas.call("POST", "machines/op-allocate", { form: { dry_run: "true" } });
    // All machines are New: the allocate op was found and ran (an unrouted op would be a 400 or 404).
    expect(r.status).toBe(409);
    expect(r.text).toBe("No machine available.");
  });

  it("treats an empty op as no op", async () => {
    const r = await maas.get("machines/", { op: "" });
    expect(r.status).toBe(200);
    expect(r.json).toHaveLength(6);
  });

  it("answers an unknown op or a wrong method with 400 Unrecognised signature", async () => {
    const sid = sim.region.machines[0]!.systemId;
    const r = await maas.op(sid, "foo");
    expect(r.status).toBe(400);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(r.text).toBe("Unrecognised signature: method=POST op=foo");
    const wrongMethod = await maas.call("GET", `machines/${sid}/`, { query: { op: "deploy" } });
    expect(wrongMethod.text).toBe("Unrecognised signature: method=GET op=deploy");
    const noOp = await maas.get("events/");
    expect(noOp.text).toBe("Unrecognised signature: method=GET op=None");
  });

  it("redirects a path without its trailing slash, as Django's APPEND_SLASH does", async () => {
    const r = await maas.get("machines");
    expect(r.status).toBe(301);
    expect(r.headers.get("location")).toBe("/MAAS/api/2.0/machines/");
  });

  it("answers 404 for unknown resources", async () => {
    expect((await maas.get("nonsense/")).status).toBe(404);
  });

  it("parses multipart bodies with repeated keys like form-urlencoded ones", async () => {
    await maas.post("tags/", { name: "gpu" });
    const ids = sim.region.machines.slice(0, 3).map((m) => m.systemId);
    const r = await maas.call("POST", "tags/gpu/", { query: { op: "update_nodes" }, form: { add: ids }, multipart: true });
    expect(r.json).toEqual({ added: 3, removed: 0 });
  });
});

describe("OAuth PLAINTEXT", () => {
  it("refuses a request without credentials with 401 and WWW-Authenticate", async () => {
    const r = await maas.call("GET", "users/", { query: { op: "whoami" }, auth: null });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('OAuth realm="OAuth"');
  });

  it("refuses a wrong consumer key with MAAS's text", async () => {
    const r = await maas.call("GET", "machines/", { auth: oauthHeader(sim.apiKey, { consumer: "nope" }) });
    expect(r.status).toBe(401);
    expect(r.text).toBe("Authorization Error: Invalid API key.");
    expect(r.headers.get("www-authenticate")).toBe('OAuth realm="OAuth"');
  });

  it("refuses a wrong signature (token secret)", async () => {
    const r = await maas.call("GET", "machines/", { auth: oauthHeader(sim.apiKey, { secret: "wrong" }) });
    expect(r.status).toBe(401);
  });

  it("refuses a replayed nonce but accepts a fresh one", async () => {
    const header = oauthHeader(sim.apiKey, { nonce: "same" });
    expect((await maas.call("GET", "users/", { query: { op: "whoami" }, auth: header })).status).toBe(200);
    expect((await maas.call("GET", "users/", { query: { op: "whoami" }, auth: header })).status).toBe(401);
    expect((await maas.call("GET", "users/", { query: { op: "whoami" } })).status).toBe(200);
  });

  it("refuses a timestamp outside the 300 s window", async () => {
    const stale = oauthHeader(sim.apiKey, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect((await maas.call("GET", "machines/", { auth: stale })).status).toBe(401);
  });

  it("whoami names the admin user", async () => {
    const r = await maas.get("users/", { op: "whoami" });
    expect(r.json).toMatchObject({ username: "admin", is_superuser: true });
  });

  it("accepts an explicit API key and derives a reproducible one from the seed", async () => {
    const a = await startSimulator({ machines: 0, seed: 9 });
    const b = await startSimulator({ machines: 0, seed: 9, apiKey: "aaa:bbb:ccc" });
    try {
      expect(a.apiKey).toMatch(/^[A-Za-z0-9]{18}:[A-Za-z0-9]{18}:[A-Za-z0-9]{32}$/);
      const again = await startSimulator({ machines: 0, seed: 9 });
      expect(again.apiKey).toBe(a.apiKey);
      await again.close();
      expect(b.apiKey).toBe("aaa:bbb:ccc");
      const r = await new Maas(b).get("users/", { op: "whoami" });
      expect(r.status).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe("binding", () => {
  it("refuses a non-loopback host", async () => {
    await expect(startSimulator({ host: "0.0.0.0" })).rejects.toMatchObject({ code: "SIM_OPTIONS", where: "host" });
    await expect(startSimulator({ host: "10.1.2.3" })).rejects.toThrow(/not a loopback address/);
  });
});

describe("/sim/stats", () => {
  it("counts requests by operation and status, and machines' operations", async () => {
    const sid = sim.region.machines[0]!.systemId;
    await maas.get("machines/");
    await maas.op(sid, "commission");
    await maas.op(sid, "deploy");
    sim.advance(Infinity);
    await maas.get("events/", { op: "query" });
    await maas.post("tags/", { name: "t1" });
    await maas.post("tags/t1/?op=update_nodes", { add: sid });
    const r = await fetch(`${sim.url.replace(/\/MAAS$/, "")}/sim/stats`);
    const stats = (await r.json()) as SimStats;
    expect(stats.requests.byOperation["machines.list"]).toEqual({ total: 1, byStatus: { "200": 1 } });
    expect(stats.requests.byOperation["machine.commission"]!.byStatus["200"]).toBe(1);
    expect(stats.requests.byOperation["machine.deploy"]!.byStatus["409"]).toBe(1);
    expect(stats.requests.byOperation["events.query"]!.total).toBe(1);
    expect(stats.requests.byOperation["tags.create"]!.total).toBe(1);
    expect(stats.requests.byOperation["tags.update_nodes"]!.total).toBe(1);
    expect(stats.requests.total).toBe(6);
    expect(stats.requests.byStatus).toEqual({ "200": 5, "409": 1 });
    expect(stats.statusCounts).toEqual({ Ready: 1, New: 5 });
    expect(stats.machines![0]).toEqual({ system_id: sid, hostname: sim.region.machines[0]!.hostname, status_name: "Ready", commissioned: 1, deployed: 0, released: 0, erased: 0, allocated: 0 });
    const reset = await fetch(`${sim.url.replace(/\/MAAS$/, "")}/sim/reset-stats`, { method: "POST" });
    expect(reset.status).toBe(204);
    const after = sim.stats();
    expect(after.requests.total).toBe(0);
    expect(after.machines?.[0]?.commissioned).toBe(0);
  });
});
