import { describe, expect, it } from "vitest";
import type { Machine, Tag } from "../../src/maas/schemas.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { RolesError } from "../../src/roles/errors.ts";
import { planRoles } from "../../src/roles/plan.ts";
import { renderPlanText } from "../../src/roles/render.ts";
import type { RolesConfigInput } from "../../src/roles/schema.ts";
import type { RolePlan } from "../../src/roles/types.ts";
import { CLASSES, config, machine, rack, shuffled, tag } from "./factory.ts";

const SCOPE = "metalwave-cloud";

function plan(machines: readonly Machine[], cfg: RolesConfigInput = {}, tags: readonly Tag[] = [], maasUser = "metalwave"): RolePlan {
  return planRoles({ machines, tags, config: config(cfg), deployment: "cloud", maasUser });
}

const hosts = (p: RolePlan, role: string) =>
  Object.values(p.byRole[role]?.zones ?? {})
    .flat()
    .map((m) => m.hostname)
    .sort();
const zoneCounts = (p: RolePlan, role: string) => Object.fromEntries(Object.entries(p.byRole[role]?.zones ?? {}).map(([z, ms]) => [z, ms.length]));
const changeOf = (p: RolePlan, t: string) => p.tagChanges.find((c) => c.tag === t);
const codes = (p: RolePlan) => p.findings.map((f) => f.code);

/** Only the named roles take machines; the built-ins are switched off. */
function only(defs: RolesConfigInput["definitions"], extra: Omit<RolesConfigInput, "definitions"> = {}): RolesConfigInput {
  const off = { count: 0 } as const;
  return { definitions: { "juju-controller": off, control: off, storage: off, network: off, compute: off, ...defs }, ...extra };
}

describe("counts", () => {
  const fleet = rack("cmp", "computeStd", 10);

  it("exact: takes exactly count machines", () => {
    expect(plan(fleet, only({ control: { count: 3 } })).byRole.control?.count).toBe(3);
  });

  it("min/max: takes every match up to max", () => {
    expect(plan(fleet, only({ compute: { min: 2, max: 4 } })).byRole.compute?.count).toBe(4);
    const short = plan(fleet.slice(0, 1), only({ compute: { min: 2, max: 4 } }));
    expect(short.byRole.compute?.count).toBe(1);
    expect(codes(short)).toContain("COUNT_SHORT");
  });

  it("a percentage max is a share of the eligible machines, rounded down", () => {
    const p = plan(fleet, only({ compute: { max: "25%" } }));
    expect(p.byRole.compute).toMatchObject({ max: 2, count: 2 });
  });

  it("rest: every remaining match, after the sized roles; machines matching nothing are not claimed", () => {
    const tiny = rack("tiny", "tiny", 2);
    const p = plan([...fleet, ...tiny], only({ control: { count: 3 }, compute: { count: "rest", match: { cores: { min: 16 } } } }));
    expect(p.byRole.control?.count).toBe(3);
    expect(p.byRole.compute?.count).toBe(7);
    expect(p.claimed.map((m) => m.hostname)).not.toContain("tiny-0001");
    expect(p.unassigned).toEqual([]);
  });

  it("count 0: the role takes nothing", () => {
    expect(plan(fleet, only({ compute: { count: "rest" } })).byRole.network?.count).toBe(0);
  });
});

describe("preference order", () => {
  const mixed = [
    machine({ hostname: "a-small", ...CLASSES.controlSmall }),
    machine({ hostname: "b-std", ...CLASSES.computeStd }),
    machine({ hostname: "c-large", ...CLASSES.computeLarge }),
    machine({ hostname: "d-std", ...CLASSES.computeStd }),
  ];

  it("picks by the first key, then the next, then hostname", () => {
    expect(hosts(plan(mixed, only({ control: { count: 1, prefer: [{ by: "memory", order: "asc" }] } })), "control")).toEqual(["a-small"]);
    expect(hosts(plan(mixed, only({ control: { count: 1, prefer: [{ by: "cores", order: "desc" }] } })), "control")).toEqual(["c-large"]);
    expect(hosts(plan(mixed, only({ control: { count: 2, prefer: [{ by: "disks", order: "asc" }, { by: "memory", order: "desc" }] } })), "control")).toEqual([
      "b-std",
      "d-std",
    ]);
    expect(hosts(plan(mixed, only({ control: { count: 1, prefer: [{ by: "hostname", order: "desc" }] } })), "control")).toEqual(["d-std"]);
    // No preference: hostname order.
    expect(hosts(plan(mixed, only({ control: { count: 1 } })), "control")).toEqual(["a-small"]);
  });

  it("ranks machines whose NIC speed is unknown last", () => {
    const ms = [machine({ hostname: "a", nics: [null] }), machine({ hostname: "b", nics: [10000] }), machine({ hostname: "c", nics: [1000] })];
    const p = plan(ms, only({ control: { count: 2, prefer: [{ by: "nicSpeed", order: "asc" }] } }));
    expect(hosts(p, "control")).toEqual(["b", "c"]);
  });
});

describe("spares", () => {
  it("holds back the next best matches, tagged metalwave-spare-<role> and claimed, not deployed", () => {
    const fleet = rack("cmp", "computeStd", 6);
    const p = plan(fleet, only({ control: { count: 3, spares: 2 } }));
    expect(p.spares.control?.map((m) => m.hostname)).toEqual(["cmp-0004", "cmp-0005"]);
    const spare = p.assignments.find((a) => a.hostname === "cmp-0004");
    expect(spare).toMatchObject({ roles: [], spareFor: "control", claimed: true });
    expect(changeOf(p, "metalwave-spare-control")?.add).toHaveLength(2);
    expect(changeOf(p, SCOPE)?.add).toHaveLength(5);
    expect(p.unassigned.map((m) => m.hostname)).toEqual([]);
  });

  it("reserves a rest role's spares before the rest is taken, from its least preferred machines", () => {
    const fleet = [...rack("cmp", "computeStd", 4), ...rack("big", "computeLarge", 2)];
    const p = plan(fleet, only({ compute: { count: "rest", spares: 2, prefer: [{ by: "cores", order: "desc" }] } }));
    expect(p.byRole.compute?.count).toBe(4);
    expect(p.spares.compute).toHaveLength(2);
    expect(p.spares.compute?.every((m) => m.hostname.startsWith("cmp-"))).toBe(true);
  });

  it("keeps an existing spare as the spare", () => {
    const fleet = rack("cmp", "computeStd", 6).map((m, i) =>
      i < 3 ? { ...m, tag_names: [SCOPE, "control"] } : m.hostname === "cmp-0006" ? { ...m, tag_names: [SCOPE, "metalwave-spare-control"] } : m,
    );
    const p = plan(fleet, only({ control: { count: 3, spares: 1 } }));
    expect(p.spares.control?.map((m) => m.hostname)).toEqual(["cmp-0006"]);
    expect(changeOf(p, "metalwave-spare-control")).toBeUndefined();
    expect(p.tagChanges).toEqual([]);
  });

  it("promotes the role's spare when a member breaks, and holds back a new spare", () => {
    const fleet = rack("cmp", "computeStd", 6, ["zone-1"]).map((m, i) =>
      i === 0
        ? { ...m, status: NodeStatus.BROKEN, status_name: "Broken", tag_names: [SCOPE, "control"] }
        : i < 3
          ? { ...m, tag_names: [SCOPE, "control"] }
          : m.hostname === "cmp-0006"
            ? { ...m, tag_names: [SCOPE, "metalwave-spare-control"] }
            : m.hostname === "cmp-0004"
              ? { ...m, tag_names: [SCOPE] }
              : m,
    );
    const p = plan(fleet, only({ control: { count: 3, spares: 1 } }));
    // cmp-0004 is in the deployment and ranks higher by hostname, but the spare is what was held back for this.
    expect(hosts(p, "control")).toEqual(["cmp-0002", "cmp-0003", "cmp-0006"]);
    expect(p.spares.control?.map((m) => m.hostname)).toEqual(["cmp-0004"]);
    expect(changeOf(p, "control")).toMatchObject({ add: [fleet[5]?.system_id], remove: [fleet[0]?.system_id] });
    expect(codes(p)).toContain("MACHINE_UNHEALTHY");
  });
});

describe("hyperconverged", () => {
  const three = rack("hc", "storageDense", 3);

  it("lets roles of one group share a machine", () => {
    const p = plan(three, only({ control: { count: 3, match: {} }, storage: { min: 3, match: {} } }, { hyperconverged: [["control", "storage"]] }));
    expect(p.assignments.map((a) => a.roles)).toEqual([
      ["control", "storage"],
      ["control", "storage"],
      ["control", "storage"],
    ]);
    expect(codes(p)).not.toContain("COUNT_SHORT");
  });

  it("gives a machine one role otherwise", () => {
    const p = plan(three, only({ control: { count: 3, match: {} }, storage: { min: 3, match: {} } }));
    expect(p.byRole.storage?.count).toBe(0);
    expect(p.findings.find((f) => f.code === "COUNT_SHORT" && f.role === "storage")?.severity).toBe("FAIL");
  });
});

describe("zone spread", () => {
  it("gives each next member to the zone with the fewest members of the role", () => {
    const fleet = [...rack("a", "computeStd", 5, ["zone-1"]), ...rack("b", "computeStd", 2, ["zone-2"]), ...rack("c", "computeStd", 1, ["zone-3"])];
    const p = plan(fleet, only({ compute: { count: 6 } }));
    expect(zoneCounts(p, "compute")).toEqual({ "zone-1": 3, "zone-2": 2, "zone-3": 1 });
  });

  it("puts control on three distinct zones even when the preferred machines share one", () => {
    const fleet = [...rack("ctl", "controlSmall", 3, ["zone-1"]), ...rack("cmp", "computeStd", 6)];
    const p = plan(fleet, only({ control: { count: 3, prefer: [{ by: "memory", order: "asc" }] } }));
    expect(zoneCounts(p, "control")).toEqual({ "zone-1": 1, "zone-2": 1, "zone-3": 1 });
    expect(hosts(p, "control")).toContain("ctl-0001");
  });

  it("keeps incumbents in place rather than rebalancing or upgrading", () => {
    const fleet = [
      ...rack("old", "controlSmall", 3).map((m) => ({ ...m, tag_names: [SCOPE, "control"] })),
      ...rack("new", "computeLarge", 3),
    ];
    const p = plan(fleet, only({ control: { count: 3, prefer: [{ by: "cores", order: "desc" }] } }));
    expect(hosts(p, "control")).toEqual(["old-0001", "old-0002", "old-0003"]);
    expect(changeOf(p, "control")).toBeUndefined();
  });
});

describe("ceph disks", () => {
  it("tags every non-boot disk above the size on storage members, through block-device tags", () => {
    const p = plan(rack("sto", "storageDense", 3), only({ storage: { min: 3 } }));
    const adds = p.blockDeviceTags.filter((b) => b.action === "add");
    expect(adds).toHaveLength(30);
    expect(new Set(adds.map((b) => b.tag))).toEqual(new Set(["ceph"]));
    expect(adds.every((b) => b.deviceName !== "sda" && b.deviceName !== "sdb")).toBe(true);
    expect(codes(p)).not.toContain("STORAGE_NO_CEPH_DISK");
  });

  it("removes ceph from disks the rule no longer selects, and leaves correct tags alone", () => {
    const sto = machine({
      hostname: "sto-1",
      ...CLASSES.storageDense,
      disks: [{ gb: 480, kind: "ssd", tags: ["ssd", "ceph"] }, ...Array.from({ length: 4 }, () => ({ gb: 16000, kind: "hdd" as const, tags: ["rotary", "ceph"] }))],
      tags: [SCOPE, "storage"],
    });
    const p = plan([sto], only({ storage: { min: 1 } }));
    expect(p.blockDeviceTags.map((b) => [b.deviceName, b.action])).toEqual([["sda", "remove"]]);
  });

  it("removes ceph from a machine that leaves storage", () => {
    const leaving = machine({
      hostname: "cmp-1",
      ...CLASSES.computeStd,
      disks: [{ gb: 960 }, { gb: 2000, kind: "hdd", tags: ["rotary", "ceph"] }],
      tags: [SCOPE, "storage"],
    });
    const p = plan([leaving], only({ storage: { min: 0 }, compute: { count: "rest" } }));
    expect(p.byRole.storage?.count).toBe(0);
    expect(changeOf(p, "storage")?.remove).toEqual([leaving.system_id]);
    expect(p.blockDeviceTags).toMatchObject([{ deviceName: "sdb", action: "remove", tag: "ceph" }]);
  });
});

describe("scope and claiming", () => {
  it("claims only candidates matching the selector and free of other deployments", () => {
    const fleet = [
      ...rack("cmp", "computeStd", 3, ["zone-1"], { pool: "compute" }),
      ...rack("other", "computeStd", 2, ["zone-1"], { pool: "compute", tags: ["metalwave-east"] }),
      ...rack("lab", "computeStd", 2, ["zone-1"], { pool: "lab" }),
    ];
    const p = plan(fleet, only({ compute: { count: "rest" } }, { candidates: { pools: ["compute"] } }));
    expect(p.claimed.map((m) => m.hostname)).toEqual(["cmp-0001", "cmp-0002", "cmp-0003"]);
    expect(changeOf(p, SCOPE)?.add).toHaveLength(3);
  });

  it("claims nothing when claiming is off; members are the machines already scoped", () => {
    const fleet = [...rack("in", "computeStd", 2, ["zone-1"], { tags: [SCOPE] }), ...rack("out", "computeStd", 2)];
    const p = plan(fleet, only({ compute: { count: "rest" } }, { candidates: { claim: false } }));
    expect(p.members.map((m) => m.hostname)).toEqual(["in-0001", "in-0002"]);
    expect(p.claimed).toEqual([]);
  });

  it("refuses a deployment name that cannot be a scope tag", () => {
    expect(() => planRoles({ machines: [], tags: [], config: config(), deployment: "spare-x" })).toThrow(RolesError);
  });
});

describe("tag changes", () => {
  it("adds new members, removes machines that leave a role, creates only missing tags", () => {
    const fleet = rack("cmp", "computeStd", 5, ["zone-1", "zone-2", "zone-3"], { tags: [SCOPE] }).map((m, i) =>
      i < 4 ? { ...m, tag_names: [...m.tag_names, "control"] } : m,
    );
    const p = plan(fleet, only({ control: { count: 2 }, compute: { count: "rest" } }), [tag(SCOPE), tag("control")]);
    const control = changeOf(p, "control");
    expect(control?.add).toEqual([]);
    expect(control?.remove).toHaveLength(2);
    expect(control?.create).toBe(false);
    const compute = changeOf(p, "compute");
    expect(compute?.add).toHaveLength(3);
    expect(compute?.create).toBe(true);
    expect(compute?.comment).toBe("metalwave: compute for deployment cloud");
  });

  it("never touches foreign tags, nor role tags on machines outside the scope", () => {
    const mine = machine({ hostname: "mine", ...CLASSES.computeStd, tags: [SCOPE, "rack-a", "control"] });
    const theirs = machine({ hostname: "theirs", ...CLASSES.computeStd, tags: ["metalwave-east", "control"] });
    const p = plan([mine, theirs], only({ compute: { count: "rest" } }));
    expect(changeOf(p, "control")?.remove).toEqual([mine.system_id]);
    expect(p.tagChanges.map((c) => c.tag).sort()).toEqual(["compute", "control"]);
    expect(p.tagChanges.flatMap((c) => [...c.add, ...c.remove])).not.toContain(theirs.system_id);
  });

  it("reads a role tag with an XPath definition and never plans a change to it", () => {
    const xpath = tag("control", "//node[@class='system']/vendor = 'Dell Inc.'");
    const fleet = rack("cmp", "computeStd", 4, ["zone-1", "zone-2"], { tags: [SCOPE] }).map((m, i) => (i === 0 ? { ...m, tag_names: [...m.tag_names, "control"] } : m));
    const p = plan(fleet, only({ control: { count: 3 }, compute: { count: "rest" } }), [xpath]);
    expect(p.byRole.control).toMatchObject({ automatic: true, count: 1 });
    expect(changeOf(p, "control")).toBeUndefined();
    expect(p.automaticTags).toEqual(["control"]);
    expect(codes(p)).toContain("AUTOMATIC_TAG");
    expect(p.byRole.compute?.count).toBe(3);
  });

  it("takes broken machines out of their roles, and leaves locked ones exactly as they are", () => {
    const broken = machine({ hostname: "a-broken", ...CLASSES.computeStd, status: NodeStatus.BROKEN, tags: [SCOPE, "compute"] });
    const locked = machine({ hostname: "b-locked", ...CLASSES.computeStd, status: NodeStatus.DEPLOYED, owner: "metalwave", locked: true, tags: [SCOPE, "control"] });
    const p = plan([broken, locked, ...rack("cmp", "computeStd", 2)], only({ control: { count: 1 }, compute: { count: "rest" } }));
    expect(changeOf(p, "compute")?.remove).toEqual([broken.system_id]);
    expect(hosts(p, "control")).toEqual(["b-locked"]);
    expect(p.tagChanges.flatMap((c) => [...c.add, ...c.remove])).not.toContain(locked.system_id);
  });
});

describe("determinism", () => {
  const fleet = [...rack("cmp", "computeStd", 30), ...rack("sto", "storageDense", 9), ...rack("ctl", "controlSmall", 3, ["zone-1"])];
  const cfg: RolesConfigInput = { definitions: { compute: { spares: 2 } } };

  it("gives a deep-equal plan for the same input and for shuffled machine order", () => {
    const a = plan(fleet, cfg);
    expect(plan(fleet, cfg)).toEqual(a);
    expect(plan(shuffled(fleet, 1), cfg)).toEqual(a);
    expect(plan(shuffled(fleet, 99), cfg)).toEqual(a);
  });

  it("is plain JSON data", () => {
    const a = plan(fleet, cfg);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });
});

describe("plan text", () => {
  it("shows each role per zone, spares, tag changes and findings", () => {
    const p = plan([...rack("cmp", "computeStd", 8), ...rack("sto", "storageDense", 3)], { definitions: { compute: { spares: 1 } } });
    const text = renderPlanText(p);
    expect(text).toContain("Deployment cloud (scope tag metalwave-cloud)");
    expect(text).toMatch(/control: 3 \(wanted 3; \d+ eligible\)\n {4}zone-1: 1 {2}cmp-/);
    expect(text).toMatch(/spares: 1 of 1 {2}cmp-\d+ \(\w+\)/);
    expect(text).toContain("metalwave-cloud (create: \"metalwave: scope of deployment cloud\"): +11 -0");
    expect(text).toMatch(/block devices, ceph: \+30 -0 disks on 3 machines/);
    expect(text).toContain("Findings:");
  });
});

describe("a 5,000-machine fleet", () => {
  const zones = ["dc1", "dc2", "dc3"];
  const fleet = [
    ...rack("ctl", "controlSmall", 15, zones),
    ...rack("cmp", "computeStd", 3300, zones),
    ...rack("gpu", "computeLarge", 300, zones),
    ...rack("sto", "storageDense", 1260, zones),
    ...rack("arm", "computeStd", 125, zones, { arch: "arm64/generic", cores: 80, memoryMiB: 262144 }),
  ];
  const p = plan(fleet, { definitions: { compute: { spares: 6 } } });

  it("assigns every machine as the default rules say", () => {
    expect(fleet).toHaveLength(5000);
    expect(p.members).toHaveLength(5000);
    expect(p.byRole["juju-controller"]?.count).toBe(3);
    expect(p.byRole.control?.count).toBe(3);
    expect(hosts(p, "juju-controller").every((h) => h.startsWith("ctl-"))).toBe(true);
    expect(hosts(p, "control").every((h) => h.startsWith("ctl-"))).toBe(true);
    expect(p.byRole.storage?.count).toBe(1260);
    expect(hosts(p, "storage").every((h) => h.startsWith("sto-"))).toBe(true);
    expect(p.spares.compute).toHaveLength(6);
    expect(p.byRole.compute?.count).toBe(5000 - 3 - 3 - 1260 - 6);
    expect(p.unassigned).toEqual([]);
    expect(p.findings.filter((f) => f.severity === "FAIL")).toEqual([]);
  });

  it("balances every role across the three zones", () => {
    for (const role of ["juju-controller", "control", "storage", "compute"]) {
      const counts = Object.values(zoneCounts(p, role));
      expect(counts, role).toHaveLength(3);
      expect(Math.max(...counts) - Math.min(...counts), role).toBeLessThanOrEqual(1);
    }
    expect(Object.values(zoneCounts(p, "storage"))).toEqual([420, 420, 420]);
  });

  it("changes each tag in one entry, whatever the fleet size", () => {
    expect(p.tagChanges.map((c) => c.tag)).toEqual([SCOPE, "juju-controller", "control", "storage", "compute", "metalwave-spare-compute"]);
    expect(p.blockDeviceTags).toHaveLength(1260 * 10);
  });
});
