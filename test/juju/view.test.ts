// The watch's view from AllWatcher deltas (src/juju/view.ts): changes and removals by key,
// unit-error only on entering error, Juju's statuses as closed unions that keep what was
// reported, and a malformed answer refused with JUJU_BAD_ANSWER naming the kind and key.
import { describe, expect, it } from "vitest";
import { applyDeltas, emptyState } from "../../src/juju/view.ts";

const unit = (name: string, wl: string, msg = "") => ["unit", "change", { "model-uuid": "u", name, application: name.split("/")[0], "machine-id": "4", "workload-status": { current: wl, message: msg, since: "t" }, "agent-status": { current: "idle", message: "", since: "t" }, life: "alive" }];

describe("the view from AllWatcher deltas", () => {
  it("applies changes and removals by key, and reports a unit entering error once", () => {
    const s = emptyState("u");
    applyDeltas(s, [["machine", "change", { id: "4", "instance-id": "manual:10.0.0.4", "agent-status": { current: "started" }, life: "alive", addresses: [{ value: "10.0.0.4" }] }], unit("ceph/0", "active")]);
    expect(s.revision).toBe(1);
    const e1 = applyDeltas(s, [unit("ceph/0", "error", 'hook failed: "install"')]);
    expect(e1).toEqual([{ type: "unit-error", unit: "ceph/0", application: "ceph", machine: "4", instanceId: "manual:10.0.0.4", status: "error", message: 'hook failed: "install"', since: "t" }]);
    expect(applyDeltas(s, [unit("ceph/0", "error", 'hook failed: "install"')])).toEqual([]);
    applyDeltas(s, [["unit", "remove", { "model-uuid": "u", name: "ceph/0" }], ["annotation", "change", { tag: "x" }]]);
    expect(s.units.size).toBe(0);
  });

  it("keeps a status value it does not know in `reported`", () => {
    const s = emptyState("u");
    applyDeltas(s, [unit("a/0", "suspended")]);
    expect(s.units.get("a/0")?.workload).toMatchObject({ current: "unknown", reported: "suspended" });
  });

  it("refuses a malformed answer, naming the kind and the key", () => {
    const s = emptyState("u");
    expect(() => applyDeltas(s, [["unit", "change", { application: "a" }]])).toThrow(expect.objectContaining({ code: "JUJU_BAD_ANSWER", message: expect.stringMatching(/AllWatcher unit delta: missing "name"/) }));
    expect(() => applyDeltas(s, [["unit", "upsert", {}]])).toThrow(expect.objectContaining({ code: "JUJU_BAD_ANSWER" }));
    expect(() => applyDeltas(s, { deltas: [] })).toThrow(/"deltas" is not an array/);
    expect(() => applyDeltas(s, [["relation", "change", { key: "a:x b:y", endpoints: [{ "application-name": "a", relation: { name: "x", role: "requires" } }] }]])).toThrow(/relation role "requires" is not provider, requirer or peer/);
  });
});
