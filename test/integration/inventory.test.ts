// Listing, tags, block-device tags, zones, pools, events, identity and version:
// the read side of the client against the simulated region over HTTP.
import { describe, expect, it } from "vitest";
import { MINUTE, maasError, rigPerTest, simOp, uniformFleet } from "./helpers.ts";

const setup = rigPerTest();

describe("identity and version", () => {
  it("whoami proves the key: the region's admin, a superuser", async () => {
    const { client } = await setup();
    expect(await client.whoami()).toMatchObject({ username: "admin", is_superuser: true });
  });

  it("version is anonymous: it answers even for a client whose key the region refuses", async () => {
    const { clientWith } = await setup();
    const stranger = clientWith({ apiKey: "aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc" });
    const v = await stranger.version();
    expect(v.version).toMatch(/^3\.\d+\.\d+$/);
    expect(v.subversion).toBe("");
    expect(v.capabilities).toEqual(expect.arrayContaining(["networks-management", "storage-deployment-ubuntu"]));
    // No accounts/authenticate/ is served, so the capability is not advertised (docs/simulator.md).
    expect(v.capabilities).not.toContain("authenticate-api");
    await maasError(stranger.whoami(), "MAAS_AUTH");
  });
});

describe("listMachines filters", () => {
  it("a repeated id= filter returns exactly those machines, in MAAS's order, in one request", async () => {
    const { client, sim, sid } = await setup();
    const ids = [sid("big-b-0002"), sid("sm-a-0001"), sid("dep-a-0001")];
    const ms = await client.listMachines({ id: ids });
    expect(ms.map((m) => m.hostname)).toEqual(["sm-a-0001", "big-b-0002", "dep-a-0001"]);
    expect(simOp(sim, "machines.list")).toEqual({ "200": 1 });
  });

  it("an empty id list returns [] without asking for the whole fleet", async () => {
    const { client, sim } = await setup();
    expect(await client.listMachines({ id: [] })).toEqual([]);
    expect(sim.stats().requests.total).toBe(0);
  });

  it("status filters are match-any over lower-case names; not_* and zone/pool/tags combine", async () => {
    const { client } = await setup();
    const byStatus = await client.listMachines({ status: ["new", "deployed"] });
    expect(byStatus.map((m) => m.hostname).sort()).toEqual(["dep-a-0001", "dep-a-0002", "new-a-0001", "new-a-0002"]);
    const readyAz2 = await client.listMachines({ status: ["ready"], zone: ["az2"], not_tags: ["gpu"] });
    expect(readyAz2.map((m) => m.hostname)).toEqual(["sm-b-0001", "sm-b-0002"]);
    const storage = await client.listMachines({ pool: ["storage"], tags: ["rack-b", "gpu"] });
    expect(storage.map((m) => m.hostname)).toEqual(["big-b-0001", "big-b-0002"]);
    const hostnames = await client.listMachines({ hostname: ["sm-a-0002", "new-a-0001"], not_id: [] });
    expect(hostnames.map((m) => m.hostname)).toEqual(["sm-a-0002", "new-a-0001"]);
  });

  it("the full unfiltered list parses for every machine (every state the fleet starts in)", async () => {
    const { client, sim } = await setup();
    const all = await client.listMachines();
    expect(all).toHaveLength(sim.region.machines.length);
    expect(new Set(all.map((m) => m.status_name))).toEqual(new Set(["Ready", "New", "Deployed"]));
  });
});

describe("tags", () => {
  it("create, list, machinesByTag, delete", async () => {
    const { client, sid } = await setup();
    const t = await client.createTag({ name: "ceph-osd", comment: "storage role" });
    expect(t).toMatchObject({ name: "ceph-osd", comment: "storage role", definition: "", resource_uri: "/MAAS/api/2.0/tags/ceph-osd/" });
    expect((await client.listTags()).map((x) => x.name)).toEqual(expect.arrayContaining(["ceph-osd", "rack-a", "rack-b", "gpu"]));

    const ids = [sid("big-b-0001"), sid("big-b-0002")];
    expect(await client.updateTagNodes("ceph-osd", { add: [...ids, "not-a-machine"] })).toEqual({ added: 2, removed: 0 });
    const tagged = await client.machinesByTag("ceph-osd");
    expect(tagged.map((m) => m.system_id).sort()).toEqual([...ids].sort());
    expect(tagged.every((m) => m.tag_names.includes("ceph-osd"))).toBe(true);
    expect(await client.updateTagNodes("ceph-osd", { remove: [ids[0]!] })).toEqual({ added: 0, removed: 1 });
    expect((await client.machinesByTag("ceph-osd")).map((m) => m.system_id)).toEqual([ids[1]]);

    await client.deleteTag("ceph-osd");
    expect((await client.listTags()).map((x) => x.name)).not.toContain("ceph-osd");
    expect((await client.readMachine(ids[1]!)).tag_names).not.toContain("ceph-osd");
    await maasError(client.machinesByTag("ceph-osd"), "MAAS_NOT_FOUND");
    await maasError(client.deleteTag("ceph-osd"), "MAAS_NOT_FOUND");
  });

  it("a duplicate or badly named tag → MAAS_BAD_REQUEST with MAAS's field message", async () => {
    const { client } = await setup();
    const dup = await maasError(client.createTag({ name: "gpu" }), "MAAS_BAD_REQUEST");
    expect(dup.fields).toEqual({ name: ["Tag with this Name already exists."] });
    const bad = await maasError(client.createTag({ name: "has space" }), "MAAS_BAD_REQUEST");
    expect(bad.fields?.name).toHaveLength(1);
  });

  it("tagging 1,200 machines is three update_nodes calls of at most 500 ids (the sim counts them), and every machine is tagged", async () => {
    const { client, sim } = await setup({ fleet: uniformFleet(1200) });
    const ids = sim.region.machines.map((m) => m.systemId);
    await client.createTag({ name: "wave-1" });
    expect(await client.updateTagNodes("wave-1", { add: ids })).toEqual({ added: 1200, removed: 0 });
    expect(simOp(sim, "tags.update_nodes")).toEqual({ "200": 3 });
    expect(sim.region.machines.every((m) => m.tags.includes("wave-1"))).toBe(true);

    // Removing 700 (and re-adding 100 already there) is 800 entries: two calls, counts summed.
    const change = { add: ids.slice(0, 100), remove: ids.slice(500) };
    expect(await client.updateTagNodes("wave-1", change)).toEqual({ added: 0, removed: 700 });
    expect(simOp(sim, "tags.update_nodes")).toEqual({ "200": 5 });
    expect(sim.region.machines.filter((m) => m.tags.includes("wave-1"))).toHaveLength(500);
    expect((await client.listMachines({ tags: ["wave-1"], id: ids.slice(495, 505) })).map((m) => m.hostname)).toEqual([
      "n-0496",
      "n-0497",
      "n-0498",
      "n-0499",
      "n-0500",
    ]);
  });
});

describe("block-device tags", () => {
  it("add_tag and remove_tag change the tags MAAS shows on that disk only", async () => {
    const { client, sid } = await setup();
    const id = sid("big-b-0001");
    const before = await client.readMachine(id);
    const hdd = before.blockdevice_set.find((d) => d.tags.includes("rotary"));
    const nvme = before.blockdevice_set.find((d) => d.tags.includes("ssd"));
    expect(hdd && nvme).toBeTruthy();

    await client.addBlockDeviceTag(id, hdd!.id, "ceph");
    // Adding it again changes nothing (idempotent, as MAAS).
    await client.addBlockDeviceTag(id, hdd!.id, "ceph");
    const tagged = await client.readMachine(id);
    expect(tagged.blockdevice_set.find((d) => d.id === hdd!.id)?.tags).toEqual(["rotary", "ceph"]);
    expect(tagged.physicalblockdevice_set.find((d) => d.id === hdd!.id)?.tags).toEqual(["rotary", "ceph"]);
    expect(tagged.blockdevice_set.find((d) => d.id === nvme!.id)?.tags).toEqual(["ssd"]);

    await client.removeBlockDeviceTag(id, hdd!.id, "ceph");
    expect((await client.readMachine(id)).blockdevice_set.find((d) => d.id === hdd!.id)?.tags).toEqual(["rotary"]);
  });

  it("an unknown block device → MAAS_NOT_FOUND", async () => {
    const { client, sid } = await setup();
    const err = await maasError(client.addBlockDeviceTag(sid("sm-a-0001"), 999_999, "ceph"), "MAAS_NOT_FOUND");
    expect(err.maasMessage).toBe("No BlockDevice matches the given query.");
  });
});

describe("zones and pools", () => {
  it("list the fleet's zones and pools, default included, with resource_uris", async () => {
    const { client } = await setup();
    const zones = await client.listZones();
    expect(zones.map((z) => z.name).sort()).toEqual(["az1", "az2", "default"]);
    expect(zones.find((z) => z.name === "az1")?.resource_uri).toBe("/MAAS/api/2.0/zones/az1/");
    const pools = await client.listResourcePools();
    expect(pools.map((p) => p.name).sort()).toEqual(["compute", "default", "storage"]);
    for (const p of pools) expect(p.resource_uri).toBe(`/MAAS/api/2.0/resourcepool/${p.id}/`);
  });
});

describe("events", () => {
  it("an after= cursor sees each status change of a full lifecycle once, in order", async () => {
    const { client, sim, sid } = await setup();
    const id = sid("sm-a-0001");
    const start = (await client.queryEvents({ limit: 1 })).events[0]?.id ?? 0;

    const seen: string[] = [];
    let cursor = start;
    // Reads everything new since the cursor, a page of two at a time, oldest first.
    const drain = async (): Promise<void> => {
      for (;;) {
        const page = await client.queryEvents({ id: [id], after: cursor, limit: 2 });
        if (page.events.length === 0) return;
        const ids = page.events.map((e) => e.id);
        expect(ids).toEqual([...ids].sort((a, b) => b - a)); // newest first, as MAAS
        for (const e of [...page.events].reverse()) seen.push(e.type);
        cursor = Math.max(...ids);
        expect(page.next_uri).toContain(`after=${cursor}`);
      }
    };

    await client.allocate({ system_id: id, comment: "wave 1" });
    await drain();
    expect(seen).toEqual(["Allocated"]);
    // Another machine changing state in between must not show up under this id filter.
    const other = sid("sm-a-0002");
    await client.deploy(id);
    await client.deploy(other);
    sim.advance(Infinity);
    await client.release(id);
    await client.release(other);
    sim.advance(Infinity);
    // Four new events for this machine, read in pages of two.
    const before = client.stats().byOperation.queryEvents?.["200"] ?? 0;
    await drain();
    expect(seen).toEqual(["Allocated", "Deploying", "Deployed", "Releasing", "Ready"]);
    expect((client.stats().byOperation.queryEvents?.["200"] ?? 0) - before).toBe(3);
    const whole = await client.queryEvents({ id: [id], after: start });
    expect(whole.events.map((e) => e.type).reverse()).toEqual(seen);
  });

  it("failures are ERROR events carrying the reason; level=ERROR filters to them", async () => {
    const { client, sim, sid } = await setup({ faults: "deploy.fail@sm-a-0002=1" });
    const id = sid("sm-a-0002");
    await client.deploy(id);
    sim.advance(30 * MINUTE);
    const errors = await client.queryEvents({ id: [id], level: "ERROR" });
    expect(errors.events.map((e) => [e.type, e.level])).toEqual([["Failed deployment", "ERROR"]]);
    expect(errors.events[0]?.description).toMatch(/curtin/);
    expect(errors.events[0]).toMatchObject({ node: id, hostname: "sm-a-0002", username: "admin" });
  });

  it("a limit over MAAS's 1000 is refused before sending", async () => {
    const { client, sim } = await setup();
    const err = await maasError(client.queryEvents({ limit: 1001 }), "MAAS_BAD_REQUEST");
    expect(err.fields?.limit).toBeDefined();
    expect(sim.stats().requests.total).toBe(0);
  });
});
