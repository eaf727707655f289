/**
 * Judging a re-commissioned machine again by the rules it was planned with: the rule data
 * a host of given roles carries, the role match and ceph disk findings, and the disk tag
 * changes, which are the planner's own for the same machine and roles.
 */
import { describe, expect, it } from "vitest";
import { planRoles, recheckMachine, roleRecheckFor } from "../../src/roles/index.ts";
import { CLASSES, config, machine } from "./factory.ts";

const archive = { count: 0, cephDisks: { tag: "archive", kind: "hdd" as const, minSizeGiB: 100 } };
const rules = config({ definitions: { archive } });

describe("roleRecheckFor", () => {
  it("takes the host's roles' match and disk rules, and every tag any role's disk rule manages", () => {
    const r = roleRecheckFor(rules, ["storage"]);
    expect(r.diskTags).toEqual(["archive", "ceph"]);
    expect(r.match).toEqual([{ role: "storage", rule: rules.definitions["storage"]!.match }]);
    expect(r.cephDisks).toEqual([{ role: "storage", rule: { tag: "ceph", nonBoot: true, minSizeGiB: 1000 } }]);
    expect(roleRecheckFor(rules, ["compute", "no-such-role"])).toMatchObject({ cephDisks: [], match: [{ role: "compute" }] });
  });

  it("is plain data: it survives JSON as the stored plan and the host snapshot keep it", () => {
    const r = roleRecheckFor(rules, ["storage", "compute"]);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe("recheckMachine", () => {
  it("tags the disks the rules select now and untags those that no longer pass, as the planner does", () => {
    const m = machine({
      hostname: "sto-1",
      tags: ["storage"],
      ...CLASSES.storageDense,
      disks: [
        { gb: 480, kind: "ssd" },
        { gb: 480, kind: "ssd", tags: ["ssd", "ceph"] },
        ...Array.from({ length: 3 }, () => ({ gb: 16000, kind: "hdd" as const, tags: ["rotary", "ceph"] })),
        { gb: 500, kind: "hdd", tags: ["rotary", "ceph"] },
        { gb: 20000, kind: "hdd" },
        { gb: 16000, kind: "hdd", tags: ["rotary", "archive"] },
      ],
    });
    const judged = recheckMachine(m, roleRecheckFor(rules, ["storage"]));
    expect(judged.problems).toEqual([]);
    const dev = (i: number) => m.physicalblockdevice_set[i]!;
    expect(judged.disks).toEqual([
      { deviceId: dev(1).id, deviceName: "sdb", tag: "ceph", action: "remove" },
      { deviceId: dev(5).id, deviceName: "sdf", tag: "ceph", action: "remove" },
      { deviceId: dev(6).id, deviceName: "sdg", tag: "ceph", action: "add" },
      { deviceId: dev(7).id, deviceName: "sdh", tag: "archive", action: "remove" },
      { deviceId: dev(7).id, deviceName: "sdh", tag: "ceph", action: "add" },
    ]);
    // The planner, given only storage to hand out, makes the same changes.
    const storageOnly = config({ definitions: { archive, storage: { count: 1 }, "juju-controller": { count: 0 }, control: { count: 0 }, network: { count: 0 }, compute: { count: 0 } } });
    const planned = planRoles({ machines: [m], tags: [], config: storageOnly, deployment: "d1" }).blockDeviceTags.map(({ deviceId, deviceName, tag, action }) => ({ deviceId, deviceName, tag, action }));
    expect(judged.disks).toEqual(planned);
  });

  it("names what no longer fits: the role's match rule, and a disk rule that selects no disk", () => {
    const m = machine({ hostname: "sto-2", tags: ["storage"], ...CLASSES.storageDense, disks: [{ gb: 480, kind: "ssd" }, { gb: 800, kind: "hdd" }] });
    const judged = recheckMachine(m, roleRecheckFor(rules, ["storage"]));
    expect(judged.problems).toEqual([
      expect.stringMatching(/^no longer matches the rule of role storage \(.*"minSizeGiB":1000.*; has 32 cores, 262144 MiB, 0 of 2 disks pass its disk filter\)$/),
      'no disk for role storage\'s "ceph" tag (rule {"tag":"ceph","nonBoot":true,"minSizeGiB":1000})',
    ]);
  });

  it("refuses a machine MAAS reports without CPU or memory", () => {
    const m = machine({ hostname: "c-1", tags: ["compute"], ...CLASSES.computeStd, cores: 0 });
    expect(recheckMachine(m, roleRecheckFor(rules, ["compute"])).problems).toContain("MAAS reports no CPU or memory (no commissioning data)");
  });
});
