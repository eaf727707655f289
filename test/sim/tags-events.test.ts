import { afterEach, describe, expect, it } from "vitest";
import type { SimHandle } from "../../src/sim/index.ts";
import { maasDate } from "../../src/sim/render.ts";
import { manualSim } from "./helpers.ts";
import type { Maas } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function setup(opts = {}): Promise<{ maas: Maas; s: SimHandle }> {
  const r = await manualSim(opts);
  sim = r.sim;
  return { maas: r.maas, s: r.sim };
}

describe("tags", () => {
  it("creates, lists, reads and deletes (204) tags", async () => {
    const { maas } = await setup();
    const c = await maas.post("tags/", { name: "ceph-osd", comment: "storage", definition: "//node[@class='disk']" });
    expect(c.json).toEqual({ name: "ceph-osd", comment: "storage", definition: "//node[@class='disk']", kernel_opts: "", resource_uri: "/MAAS/api/2.0/tags/ceph-osd/" });
    expect((await maas.get("tags/")).json.map((t: { name: string }) => t.name)).toEqual(["ceph-osd"]);
    expect((await maas.get("tags/ceph-osd/")).json.comment).toBe("storage");
    expect((await maas.delete("tags/ceph-osd/")).status).toBe(204);
    const gone = await maas.get("tags/ceph-osd/");
    expect(gone.status).toBe(404);
    expect(gone.text).toBe("No Tag matches the given query.");
  });

  it("validates tag names and refuses duplicates", async () => {
    const { maas } = await setup();
    expect((await maas.post("tags/", { name: "bad name" })).status).toBe(400);
    expect((await maas.post("tags/", { name: "x".repeat(257) })).status).toBe(400);
    await maas.post("tags/", { name: "dup" });
    const d = await maas.post("tags/", { name: "dup" });
    expect(d.status).toBe(400);
    expect(d.json).toEqual({ name: ["Tag with this Name already exists."] });
  });

  it("update_nodes adds and removes many machines, ignores unknown ids and counts real changes", async () => {
    const { maas, s } = await setup();
    const [a, b, c] = s.region.machines.map((m) => m.systemId);
    await maas.post("tags/", { name: "role-compute" });
    expect((await maas.post("tags/role-compute/?op=update_nodes", { add: [a!, b!, "nope99"] })).json).toEqual({ added: 2, removed: 0 });
    expect((await maas.post("tags/role-compute/?op=update_nodes", { add: [a!, c!], remove: [b!] })).json).toEqual({ added: 1, removed: 1 });
    const tagged = await maas.get("tags/role-compute/", { op: "machines" });
    expect(tagged.json.map((m: { system_id: string }) => m.system_id)).toEqual([a, c]);
    expect((await maas.machine(a!)).tag_names).toEqual(["role-compute"]);
    await maas.delete("tags/role-compute/");
    expect((await maas.machine(a!)).tag_names).toEqual([]);
  });

  it("tags block devices with add_tag and remove_tag", async () => {
    const { maas, s } = await setup();
    const sid = s.region.machines[0]!.systemId;
    const disk = (await maas.machine(sid)).blockdevice_set[1];
    const path = `nodes/${sid}/blockdevices/${disk.id}/`;
    const added = await maas.call("POST", path, { query: { op: "add_tag" }, form: { tag: "ceph" } });
    expect(added.json.tags).toEqual(["ssd", "ceph"]);
    expect((await maas.machine(sid)).blockdevice_set[1].tags).toEqual(["ssd", "ceph"]);
    const removed = await maas.call("POST", path, { query: { op: "remove_tag" }, form: { tag: "ceph" } });
    expect(removed.json.tags).toEqual(["ssd"]);
    expect((await maas.get(`nodes/${sid}/blockdevices/999999/`)).status).toBe(404);
  });
});

describe("zones, pools, users", () => {
  it("lists the zones and pools of the fleet with resource URIs", async () => {
    const { maas } = await setup();
    const zones = (await maas.get("zones/")).json.map((z: { name: string }) => z.name);
    expect(zones).toEqual(["default", "az1", "az2", "az3"]);
    expect((await maas.get("zones/az1/")).json.resource_uri).toBe("/MAAS/api/2.0/zones/az1/");
    const pools = (await maas.get("resourcepools/")).json;
    expect(pools[0]).toMatchObject({ name: "default", id: 0, resource_uri: "/MAAS/api/2.0/resourcepool/0/" });
    expect((await maas.get("resourcepool/0/")).json.name).toBe("default");
    expect((await maas.get("users/")).json[0].username).toBe("admin");
  });
});

describe("events", () => {
  async function busyRegion(): Promise<{ maas: Maas; s: SimHandle; ids: string[] }> {
    const r = await setup();
    const ids = r.s.region.machines.map((m) => m.systemId);
    for (const sid of ids) await r.maas.op(sid, "commission", { comment: `c-${sid}` });
    r.s.advance(Infinity);
    return { ...r, ids };
  }

  it("records each status change as an event typed with the new status, newest first, ids increasing", async () => {
    const { maas, ids } = await busyRegion();
    const r = await maas.get("events/", { op: "query" });
    expect(r.json.count).toBe(12);
    const events = r.json.events as { id: number; type: string; node: string; description: string; created: string; level: string; username: string; hostname: string }[];
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => b - a));
    expect(events.filter((e) => e.type === "Commissioning")).toHaveLength(6);
    const first = events.find((e) => e.type === "Commissioning" && e.node === ids[0])!;
    expect(first.description).toBe(`c-${ids[0]}`);
    expect(first.created).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2}\. \d{4} \d{2}:\d{2}:\d{2}$/);
  });

  it("formats dates like MAAS", () => {
    expect(maasDate(Date.UTC(2018, 11, 7, 20, 11, 8))).toBe("Fri, 07 Dec. 2018 20:11:08");
  });

  it("filters by id, hostname and zone, and by level (this or higher)", async () => {
    const { maas, s, ids } = await busyRegion();
    expect((await maas.get("events/", { op: "query", id: ids[0]! })).json.count).toBe(2);
    expect((await maas.get("events/", { op: "query", hostname: s.region.machines[1]!.hostname })).json.count).toBe(2);
    const inAz1 = s.region.machines.filter((m) => m.zone === "az1").length;
    expect((await maas.get("events/", { op: "query", zone: "az1" })).json.count).toBe(2 * inAz1);
    expect((await maas.get("events/", { op: "query", level: "ERROR" })).json.count).toBe(0);
    await maas.op(ids[0]!, "mark_broken");
    expect((await maas.get("events/", { op: "query", level: "WARNING" })).json.count).toBe(1);
  });

  it("pages with after (O(changes) cursor) and before, with next_uri and prev_uri", async () => {
    const { maas } = await busyRegion();
    const page = await maas.get("events/", { op: "query", limit: 5 });
    expect(page.json.events.map((e: { id: number }) => e.id)).toEqual([12, 11, 10, 9, 8]);
    expect(page.json.next_uri).toBe("/MAAS/api/2.0/events/?limit=5&op=query&after=12");
    expect(page.json.prev_uri).toBe("/MAAS/api/2.0/events/?limit=5&op=query&before=8");
    const older = await maas.get("events/", { op: "query", limit: 5, before: 8 });
    expect(older.json.events.map((e: { id: number }) => e.id)).toEqual([7, 6, 5, 4, 3]);
    // `after` returns the oldest `limit` events after the cursor, shown newest first.
    const newer = await maas.get("events/", { op: "query", limit: 3, after: 4 });
    expect(newer.json.events.map((e: { id: number }) => e.id)).toEqual([7, 6, 5]);
    const none = await maas.get("events/", { op: "query", after: 12 });
    expect(none.json).toMatchObject({ count: 0, events: [], next_uri: "/MAAS/api/2.0/events/?op=query&after=12", prev_uri: "/MAAS/api/2.0/events/?op=query&before=13" });
  });

  it("validates limit, level, and after with before", async () => {
    const { maas } = await busyRegion();
    const big = await maas.get("events/", { op: "query", limit: 1001 });
    expect(big.status).toBe(400);
    expect(big.text).toBe("Requested number of events 1001 is greater than limit: 1000");
    expect((await maas.get("events/", { op: "query", limit: 1000 })).status).toBe(200);
    expect((await maas.get("events/", { op: "query", after: 1, before: 5 })).status).toBe(400);
    expect((await maas.get("events/", { op: "query", level: "LOUD" })).text).toBe("Unrecognised log level: LOUD");
  });
});
