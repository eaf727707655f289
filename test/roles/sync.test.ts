import { describe, expect, it } from "vitest";
import type { Machine, Tag } from "../../src/maas/schemas.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { RolesError } from "../../src/roles/errors.ts";
import { planRoles } from "../../src/roles/plan.ts";
import type { RolesConfigInput } from "../../src/roles/schema.ts";
import { syncTags } from "../../src/roles/sync.ts";
import type { RolePlan } from "../../src/roles/types.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas, type FakeMaasOp } from "../fakes/maas.ts";
import { config, rack, tag } from "./factory.ts";

const SCOPE = "metalwave-cloud";
const CFG: RolesConfigInput = { definitions: { compute: { spares: 2 } } };

function planFrom(fake: FakeMaas, cfg: RolesConfigInput = CFG): RolePlan {
  return planRoles({ machines: [...fake.machines.values()], tags: [...fake.tags.values()], config: config(cfg), deployment: "cloud", maasUser: "metalwave" });
}

/** A region holding these machines and tags. */
function region(machines: readonly Machine[], tags: readonly Tag[] = []): FakeMaas {
  const fake = new FakeMaas(machines.map((m) => structuredClone(m))) satisfies MaasPort;
  for (const t of tags) fake.tags.set(t.name, t);
  return fake;
}

/** Fails the calls `fail` picks (after they are recorded, before they take effect). */
function failing(fake: FakeMaas, fail: (op: FakeMaasOp, args: readonly unknown[]) => Error | undefined): void {
  fake.before = (op, args) => {
    const e = fail(op, args);
    if (e) throw e;
  };
}

function smallFleet(): Machine[] {
  return [...rack("cmp", "computeStd", 12), ...rack("sto", "storageDense", 3), ...rack("ctl", "controlSmall", 6)].map((m) =>
    m.hostname === "cmp-0001" ? { ...m, tag_names: ["rack-a"] } : m,
  );
}

const ops = (fake: FakeMaas, op: FakeMaasOp) => fake.calls.filter((c) => c.op === op);

describe("syncTags", () => {
  it("creates missing tags with a comment, then sends one update_nodes per changed tag", async () => {
    const fake = region(smallFleet(), [tag("rack-a")]);
    const plan = planFrom(fake);
    const r = await syncTags(fake, plan);
    expect(r.created).toEqual([SCOPE, "juju-controller", "control", "storage", "compute", "metalwave-spare-compute"]);
    expect(fake.tags.get("control")?.comment).toBe("metalwave: control for deployment cloud");
    expect(r.updateCalls).toBe(6);
    expect(ops(fake, "updateTagNodes").map((c) => c.args[0])).toEqual(r.created);
    expect(r.blockDeviceCalls).toBe(30);
    // The foreign tag is exactly where it was.
    expect(fake.machines.get(plan.members.find((m) => m.hostname === "cmp-0001")?.systemId ?? "")?.tag_names).toContain("rack-a");
    expect(ops(fake, "updateTagNodes").some((c) => c.args[0] === "rack-a")).toBe(false);
  });

  it("is idempotent: a plan computed after a sync has no changes and the second sync makes no calls", async () => {
    const fake = region(smallFleet());
    await syncTags(fake, planFrom(fake));
    const before = fake.calls.length;
    const again = planFrom(fake);
    expect(again.tagChanges).toEqual([]);
    expect(again.blockDeviceTags).toEqual([]);
    expect(await syncTags(fake, again)).toEqual({ created: [], updateCalls: 0, blockDeviceCalls: 0 });
    expect(fake.calls.length).toBe(before);
  });

  it("makes O(roles) update_nodes calls for 5,000 machines", async () => {
    const fleet = [...rack("cmp", "computeStd", 3700), ...rack("sto", "storageDense", 1200), ...rack("ctl", "controlSmall", 100)];
    const fake = region(fleet);
    const plan = planFrom(fake);
    const r = await syncTags(fake, plan, { blockDeviceConcurrency: 8 });
    expect(r.updateCalls).toBe(plan.tagChanges.length);
    expect(r.updateCalls).toBeLessThanOrEqual(1 + 2 * Object.keys(plan.byRole).length);
    expect(ops(fake, "listTags")).toHaveLength(1);
    expect(r.blockDeviceCalls).toBe(1200 * 10);
    const tagged = [...fake.machines.values()].filter((m) => m.tag_names.includes(SCOPE));
    expect(tagged).toHaveLength(5000);
    expect(planFrom(fake).tagChanges).toEqual([]);
    // Planning 5,000 machines twice is CPU work: about a second alone, past vitest's 5 s default at load ~15.
  }, 30_000);

  it("removes role tags from machines that leave a role", async () => {
    const fake = region(smallFleet());
    await syncTags(fake, planFrom(fake));
    const shrink: RolesConfigInput = { definitions: { compute: { count: "rest", max: 4, spares: 0 } } };
    const plan = planFrom(fake, shrink);
    expect(plan.tagChanges.find((c) => c.tag === "compute")?.remove.length).toBeGreaterThan(0);
    await syncTags(fake, plan);
    const computes = [...fake.machines.values()].filter((m) => m.tag_names.includes("compute"));
    expect(computes).toHaveLength(4);
    expect(planFrom(fake, shrink).tagChanges).toEqual([]);
  });

  it("says which tags and machines were done and which were not when a call fails midway", async () => {
    const fake = region(smallFleet());
    failing(fake, (op, args) => (op === "updateTagNodes" && args[0] === "storage" ? new Error("MAAS answered 503 after 4 attempts") : undefined));
    const plan = planFrom(fake);
    const err = await syncTags(fake, plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RolesError);
    const e = err as RolesError;
    expect(e.code).toBe("ROLES_SYNC_PARTIAL");
    expect(e.failed).toMatchObject({ kind: "update-nodes", tag: "storage" });
    expect(e.done.filter((s) => s.kind === "update-nodes").map((s) => s.tag)).toEqual([SCOPE, "juju-controller", "control"]);
    expect(e.pending.map((s) => s.tag).slice(0, 3)).toEqual(["storage", "compute", "metalwave-spare-compute"]);
    expect(e.pending.filter((s) => s.kind === "block-device-tag")).toHaveLength(30);
    const storageIds = plan.tagChanges.find((c) => c.tag === "storage")?.add ?? [];
    expect(e.message).toContain('tag sync failed at "tag storage: add 3 (');
    expect(e.message).toContain(storageIds[0]);
    expect(e.message).toContain("MAAS answered 503 after 4 attempts");
    expect(e.message).toMatch(/Done: .*tag control: add 3/);
    expect(e.message).toMatch(/Not done: tag storage: add 3 .*tag compute: add \d+/);
    expect(e.message).toContain("30 block-device tag change(s) on 3 machine(s)");

    // Planning and syncing again finishes the job.
    fake.before = () => undefined;
    await syncTags(fake, planFrom(fake));
    expect(planFrom(fake).tagChanges).toEqual([]);
  });

  it("reports block-device tags done and pending when one fails", async () => {
    const fake = region(smallFleet());
    let n = 0;
    failing(fake, (op) => (op === "addBlockDeviceTag" && ++n === 11 ? new Error("409 conflict") : undefined));
    const e = (await syncTags(fake, planFrom(fake), { blockDeviceConcurrency: 1 }).catch((x: unknown) => x)) as RolesError;
    expect(e.code).toBe("ROLES_SYNC_PARTIAL");
    expect(e.failed?.kind).toBe("block-device-tag");
    expect(e.done.filter((s) => s.kind === "block-device-tag")).toHaveLength(10);
    expect(e.pending.filter((s) => s.kind === "block-device-tag")).toHaveLength(20);
    expect(e.message).toContain(`on block device ${e.failed?.device}`);
  });

  it("refuses, before any call, a change to a tag metalwave does not own", async () => {
    const fake = region(smallFleet());
    const plan = planFrom(fake);
    const tampered: RolePlan = { ...plan, tagChanges: [...plan.tagChanges, { tag: "rack-a", create: false, comment: "", add: ["x"], remove: [] }] };
    await expect(syncTags(fake, tampered)).rejects.toMatchObject({ code: "ROLES_TAG_NOT_OWNED", message: expect.stringContaining("tag rack-a") });
    expect(fake.calls).toEqual([]);
  });

  it("refuses a tag that gained an XPath definition since the plan, and changes nothing", async () => {
    const fake = region(smallFleet());
    const plan = planFrom(fake);
    const xpath: Tag = tag("compute", "//node[@class='system']");
    fake.tags.set("compute", xpath);
    await expect(syncTags(fake, plan)).rejects.toMatchObject({ code: "ROLES_TAG_NOT_OWNED" });
    expect(fake.calls.map((c) => c.op)).toEqual(["listTags"]);
  });

  it("does not create a tag that appeared since the plan", async () => {
    const fake = region(smallFleet());
    const plan = planFrom(fake);
    fake.tags.set("compute", tag("compute"));
    const r = await syncTags(fake, plan);
    expect(r.created).not.toContain("compute");
  });

  it("replaces a broken control member without moving any compute member (the compute spare fills in)", async () => {
    const fake = region(smallFleet());
    await syncTags(fake, planFrom(fake));
    const first = planFrom(fake);
    const computeBefore = Object.values(first.byRole.compute?.zones ?? {}).flat().map((m) => m.systemId).sort();
    const brokenId = first.byRole.control?.zones["zone-1"]?.[0]?.systemId ?? "";
    fake.setStatus(brokenId, NodeStatus.BROKEN);

    const next = planFrom(fake);
    const computeAfter = Object.values(next.byRole.compute?.zones ?? {}).flat().map((m) => m.systemId).sort();
    expect(computeAfter).toEqual(computeBefore);
    expect(next.tagChanges.find((c) => c.tag === "compute")).toBeUndefined();
    expect(next.byRole.control?.count).toBe(3);
    expect(next.tagChanges.find((c) => c.tag === "control")?.remove).toEqual([brokenId]);
    expect(next.findings.map((f) => f.code)).toEqual(expect.arrayContaining(["MACHINE_UNHEALTHY"]));
  });

  it("keeps one role on a machine tagged with two roles that may not share it", async () => {
    const fleet = smallFleet().map((m) => (m.hostname === "cmp-0005" ? { ...m, tag_names: [SCOPE, "control", "compute"] } : m));
    const fake = region(fleet);
    const plan = planFrom(fake);
    const a = plan.assignments.find((x) => x.hostname === "cmp-0005");
    expect(a?.roles).toHaveLength(1);
    await syncTags(fake, plan);
    expect(planFrom(fake).tagChanges).toEqual([]);
  });
});
