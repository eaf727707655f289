/**
 * The simulated controller API through @canonical/jujulib's own calls (login as a 3.6
 * client, FullStatus, the AllWatcher, deploy, add units, integrate, offers, enable-ha),
 * each answer checked against the real controller's facade schema read at test time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAndLogin } from "@canonical/jujulib";
import AllWatcherV3 from "@canonical/jujulib/dist/api/facades/all-watcher/AllWatcherV3.js";
import ApplicationOffersV4 from "@canonical/jujulib/dist/api/facades/application-offers/ApplicationOffersV4.js";
import ApplicationV19 from "@canonical/jujulib/dist/api/facades/application/ApplicationV19.js";
import ClientV7 from "@canonical/jujulib/dist/api/facades/client/ClientV7.js";
import HighAvailabilityV2 from "@canonical/jujulib/dist/api/facades/high-availability/HighAvailabilityV2.js";
import { JujuApiServer } from "../../src/sim/hosts/juju-api-server.ts";
import { checkResult } from "./facade-schema.ts";
import { jujuWorld } from "./juju-world.ts";

const FACADES = [ClientV7, AllWatcherV3, ApplicationV19, ApplicationOffersV4, HighAvailabilityV2];
type Delta = [string, "change" | "remove", Record<string, unknown>];

describe("simulated controller API through jujulib", () => {
  const w = jujuWorld(5);
  const a = w.hosts[0]!;
  const server = new JujuApiServer(w.cloud, { port: 0, pollMs: 10 });
  let base = "";
  let password = "";
  let uuid = "";
  const ok = (line: string) => {
    const r = w.run(a, line);
    if (r.code !== 0) throw new Error(`${line}: ${r.err}`);
    return r;
  };
  // Node's own WebSocket (the W3C API jujulib expects).
  const login = async (path: string, version: string | null = "3.6.4") => {
    // null: jujulib's default client version (4.0.12).
    const r = await connectAndLogin(`${base}${path}`, { facades: FACADES, wsclass: WebSocket, closeCallback: () => undefined }, { username: "admin", password }, ...(version === null ? [] : [version]));
    if (r.conn === undefined) throw new Error("jujulib returned no connection");
    return { conn: r.conn, logout: r.logout };
  };

  beforeAll(async () => {
    ok(`juju bootstrap manual/ubuntu@${a.address} mw`);
    ok("juju add-model openstack-machines");
    for (const h of w.hosts.slice(1, 3)) ok(`juju add-machine ssh:ubuntu@${h.address}`);
    w.advance(5000);
    await server.sync();
    const ep = server.endpoint(a.address);
    base = `ws://${ep?.host ?? ""}:${ep?.port ?? 0}`;
    const show = JSON.parse(ok("juju show-controller mw --show-password --format json").out) as Record<string, { account: { password: string }; details: { "api-endpoints": string[] } }>;
    password = show["mw"]?.account.password ?? "";
    expect(show["mw"]?.details["api-endpoints"]).toEqual([`${a.address}:${ep?.port ?? 0}`]);
    uuid = w.cloud.jujuWorld.controller("mw").models.get("openstack-machines")?.uuid ?? "";
  });
  afterAll(async () => server.close());

  it("logs in as a 3.6 client; FullStatus and its machines conform to the schema", async () => {
    const { conn, logout } = await login(`/model/${uuid}/api`);
    try {
      expect(conn.info.serverVersion).toBe("3.6.4");
      const st = (await conn.facades.client.fullStatus({ patterns: [] })) as { machines: Record<string, { "instance-id": string; "agent-status": { status: string } }> };
      expect(checkResult("Client", 7, "FullStatus", st)).toEqual([]);
      expect(Object.values(st.machines).map((m) => [m["instance-id"], m["agent-status"].status])).toEqual([
        [`manual:${w.hosts[1]!.address}`, "started"],
        [`manual:${w.hosts[2]!.address}`, "started"],
      ]);
    } finally {
      logout();
    }
  });

  it("deploys, adds units and integrates through the Application facade, as the schema says", async () => {
    const { conn, logout } = await login(`/model/${uuid}/api`);
    try {
      const app = conn.facades.application;
      const deploy = await app.deploy({ applications: [{ application: "sunbeam-machine", "charm-url": "ch:sunbeam-machine", channel: "2026.1/stable", "num-units": 1, "config-yaml": "", constraints: {}, Force: false, placement: [{ scope: "#", directive: "0" }] }] });
      expect(checkResult("Application", 19, "Deploy", deploy)).toEqual([]);
      expect(deploy.results).toEqual([{}]);
      const again = await app.deploy({ applications: [{ application: "sunbeam-machine", "charm-url": "ch:sunbeam-machine", channel: "", "num-units": 1, "config-yaml": "", constraints: {}, Force: false }] });
      expect(again.results[0]?.error?.message).toBe('cannot add application "sunbeam-machine": application already exists');
      const units = await app.addUnits({ application: "sunbeam-machine", "num-units": 1, placement: [{ scope: "#", directive: "1" }] });
      expect(checkResult("Application", 19, "AddUnits", units)).toEqual([]);
      expect(units.units).toEqual(["sunbeam-machine/1"]);
      await app.deploy({ applications: [{ application: "epa-orchestrator", "charm-url": "ch:epa-orchestrator", channel: "", "num-units": 0, "config-yaml": "", constraints: {}, Force: false }] });
      const rel = await app.addRelation({ endpoints: ["epa-orchestrator", "sunbeam-machine"] });
      expect(checkResult("Application", 19, "AddRelation", rel)).toEqual([]);
      expect(rel.endpoints["epa-orchestrator"]).toMatchObject({ name: "sunbeam-machine", role: "requirer", scope: "container" });
      await expect(app.addRelation({ endpoints: ["epa-orchestrator", "sunbeam-machine"] })).rejects.toThrow(/already exists/);
      const offer = await conn.facades.applicationOffers.offer({ Offers: [{ "model-tag": `model-${uuid}`, "offer-name": "machines", "application-name": "sunbeam-machine", "application-description": "", endpoints: { "sunbeam-machine": "sunbeam-machine" } }] });
      expect(checkResult("ApplicationOffers", 4, "Offer", offer)).toEqual([]);
      expect(w.json<{ offers: Record<string, unknown> }>(a, "juju status -m mw:openstack-machines --format json").offers["machines"]).toMatchObject({ application: "sunbeam-machine" });
    } finally {
      logout();
    }
  });

  it("the AllWatcher's first Next is the whole model; the next one blocks until something changes and carries only that", async () => {
    const { conn, logout } = await login(`/model/${uuid}/api`);
    try {
      const id = (await conn.facades.client.watchAll(null))["watcher-id"];
      const first = (await conn.facades.allWatcher.next({ id })) as { deltas: Delta[] };
      expect(checkResult("AllWatcher", 3, "Next", { deltas: [] })).toEqual([]);
      const kinds = new Set(first.deltas.map((d) => d[0]));
      expect([...kinds].sort()).toEqual(expect.arrayContaining(["application", "machine", "model", "unit"]));
      expect(first.deltas.find((d) => d[0] === "machine" && d[2]["id"] === "0")?.[2]).toMatchObject({ "instance-id": `manual:${w.hosts[1]!.address}`, "has-vote": false, "wants-vote": false });
      const pending = conn.facades.allWatcher.next({ id }) as Promise<{ deltas: Delta[] }>;
      let settled = false;
      void pending.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false);
      ok("juju deploy -m mw:openstack-machines microceph --to 1");
      const next = await pending;
      expect(next.deltas.map((d) => [d[0], d[1], d[2]["name"]])).toEqual([
        ["application", "change", "microceph"],
        ["unit", "change", "microceph/0"],
      ]);
      ok("juju remove-application -m mw:openstack-machines microceph");
      const gone = (await conn.facades.allWatcher.next({ id })) as { deltas: Delta[] };
      expect(gone.deltas.map((d) => [d[0], d[1], d[2]["name"]])).toEqual([
        ["application", "remove", "microceph"],
        ["unit", "remove", "microceph/0"],
      ]);
      await conn.facades.allWatcher.stop({ id });
      await expect(conn.facades.allWatcher.next({ id })).rejects.toThrow("watcher was stopped");
      // A controller that stops its watchers: the client watches again and gets a full snapshot.
      const again = (await conn.facades.client.watchAll(null))["watcher-id"];
      await conn.facades.allWatcher.next({ id: again });
      const blocked = conn.facades.allWatcher.next({ id: again });
      expect(server.stopWatchers()).toBe(1);
      await expect(blocked).rejects.toThrow("watcher was stopped");
      const fresh = (await conn.facades.client.watchAll(null))["watcher-id"];
      expect(((await conn.facades.allWatcher.next({ id: fresh })) as { deltas: Delta[] }).deltas.some((d) => d[0] === "model")).toBe(true);
    } finally {
      logout();
    }
  });

  it("EnableHA on the controller connection returns at once with the converted machines", async () => {
    for (const h of w.hosts.slice(3)) ok(`juju add-machine -m mw:controller ssh:ubuntu@${h.address}`);
    const { conn, logout } = await login("/api");
    try {
      const r = await conn.facades.highAvailability.enableHA({ specs: [{ "num-controllers": 3, placement: ["1", "2"], constraints: {} }] });
      expect(checkResult("HighAvailability", 2, "EnableHA", r)).toEqual([]);
      expect(r.results[0]?.result).toEqual({ maintained: ["0"], converted: ["1", "2"], added: [], removed: [] });
      const show = w.json<Record<string, { "controller-machines": Record<string, { "ha-status": string }> }>>(a, "juju show-controller mw --format json");
      expect(show["mw"]?.["controller-machines"]["1"]?.["ha-status"]).toBe("ha-pending");
    } finally {
      logout();
    }
  });

  it("jujulib's default client version (4.x) gets only FullStatus from a 3.6 controller", async () => {
    const { conn, logout } = await login(`/model/${uuid}/api`, null);
    try {
      expect(checkResult("Client", 7, "FullStatus", await conn.facades.client.fullStatus({ patterns: [] }))).toEqual([]);
      await expect(conn.facades.client.watchAll(null)).rejects.toThrow("client incompatible with server 3.6.4");
    } finally {
      logout();
    }
  });

  it("refuses a wrong password", async () => {
    await expect(connectAndLogin(`${base}/api`, { facades: FACADES, wsclass: WebSocket, closeCallback: () => undefined }, { username: "admin", password: "nope" }, "3.6.4")).rejects.toThrow(/permission to a model|invalid entity name or password/);
  });
});
