import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Machine, Tag } from "../../src/maas/schemas.ts";
import { NodeStatus, STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { blockingFindings } from "../../src/roles/checks.ts";
import { planRoles } from "../../src/roles/plan.ts";
import type { RolesConfigInput } from "../../src/roles/schema.ts";
import { FINDING_CODES, LAYOUT_FINDING_CODES, type FindingCode, type RolePlan } from "../../src/roles/types.ts";
import { config, machine, type MachineSpec } from "./factory.ts";

const SCOPE = "metalwave-cloud";
const ZONES = ["zone-1", "zone-2", "zone-3"];

const CTL = { cores: 16, memoryMiB: 131072, disks: [{ gb: 960 }] } satisfies Partial<MachineSpec>;
const CMP = { cores: 64, memoryMiB: 524288, disks: [{ gb: 960 }, { gb: 960 }] } satisfies Partial<MachineSpec>;
const STO = { cores: 32, memoryMiB: 262144, disks: [{ gb: 960 }, ...Array.from({ length: 4 }, () => ({ gb: 16000, kind: "hdd" as const }))] } satisfies Partial<MachineSpec>;

function group(prefix: string, spec: Partial<MachineSpec>, count: number, zones = ZONES): Machine[] {
  return Array.from({ length: count }, (_, i) => machine({ hostname: `${prefix}-${i + 1}`, zone: zones[i % zones.length], ...spec }));
}

/** A fleet every check passes: 3 zones, 3 controllers, 3 control, 3 storage, 6 compute, SSD roots. */
function healthy(zones = ZONES): Machine[] {
  return [...group("ctl", CTL, 6, zones), ...group("sto", STO, 3, zones), ...group("cmp", CMP, 6, zones)];
}

function plan(machines: readonly Machine[], cfg: RolesConfigInput = {}, tags: readonly Tag[] = []): RolePlan {
  return planRoles({ machines, tags, config: config(cfg), deployment: "cloud", maasUser: "metalwave" });
}

const tripped = new Set<FindingCode>();
const found = (p: RolePlan, code: FindingCode) => {
  const hits = p.findings.filter((f) => f.code === code);
  if (hits.length > 0) tripped.add(code);
  return hits;
};
const inScope = (m: Machine, ...tags: string[]): Machine => ({ ...m, tag_names: [...m.tag_names, SCOPE, ...tags] });
const withStatus = (m: Machine, status: NodeStatusCode): Machine => ({ ...m, status, status_name: STATUS_LABEL[status] });

describe("pre-flight checks", () => {
  it("a healthy fleet has no findings at all", () => {
    expect(plan(healthy()).findings).toEqual([]);
  });

  it("NO_ROLE: FAIL naming an in-scope machine that matches no role", () => {
    const tiny = inScope(machine({ hostname: "tiny-1", cores: 1, memoryMiB: 2048, disks: [{ gb: 960 }] }));
    const [f] = found(plan([...healthy(), tiny]), "NO_ROLE");
    expect(f).toMatchObject({ severity: "FAIL", machines: [{ hostname: "tiny-1", systemId: tiny.system_id }] });
    expect(f?.message).toContain(`machine has no role assigned`);
    expect(f?.message).toContain(`tiny-1 (${tiny.system_id})`);
  });

  it("STORAGE_NO_CEPH_DISK: FAIL when a storage machine ends up without a ceph disk", () => {
    const p = plan(healthy(), { definitions: { storage: { cephDisks: { nonBoot: true, minSizeGiB: 100_000 } } } });
    const [f] = found(p, "STORAGE_NO_CEPH_DISK");
    expect(f).toMatchObject({ severity: "FAIL", role: "storage" });
    expect(f?.machines).toHaveLength(3);
    expect(f?.message).toMatch(/^storage node has no ceph storage: 3 storage machines without a "ceph" disk: sto-1 \(\w+\)/);
  });

  it("HARDWARE_BELOW_MINIMUM: WARN below 16 cores / 32,000 MiB, controller-only machines need 2 / 4,000", () => {
    const small = machine({ hostname: "cmp-small", zone: "zone-1", cores: 8, memoryMiB: 16384, disks: [{ gb: 1920 }] });
    const p = plan([...healthy(), small], { definitions: { compute: { match: {} } } });
    const [f] = found(p, "HARDWARE_BELOW_MINIMUM");
    expect(f).toMatchObject({ severity: "WARN", machines: [{ hostname: "cmp-small" }] });
    expect(f?.message).toContain("8 cores, 16384 MiB (needs 16 cores, 32000 MiB as compute)");
    // The same small machines are fine as Juju controllers.
    const jujuSmall = group("jc", { cores: 4, memoryMiB: 8192, disks: [{ gb: 960 }] }, 3);
    expect(found(plan([...jujuSmall, ...healthy().filter((m) => !m.hostname.startsWith("ctl-") || m.hostname > "ctl-3")]), "HARDWARE_BELOW_MINIMUM")).toEqual([]);
  });

  it("ROOT_DISK: WARN when the boot disk is not an SSD or smaller than 500 GiB", () => {
    const hddRoot = machine({ hostname: "cmp-hdd", zone: "zone-1", ...CMP, disks: [{ gb: 2000, kind: "hdd" }] });
    const smallRoot = machine({ hostname: "cmp-480", zone: "zone-2", ...CMP, disks: [{ gb: 480 }] });
    const [f] = found(plan([...healthy(), hddRoot, smallRoot]), "ROOT_DISK");
    expect(f?.severity).toBe("WARN");
    expect(f?.machines.map((m) => m.hostname)).toEqual(["cmp-480", "cmp-hdd"]);
    expect(f?.message).toContain("sda is 447 GiB < 500 GiB");
    expect(f?.message).toContain("sda is not tagged ssd");
  });

  it("ROLE_EMPTY: FAIL when control, compute or storage has no machine, unless its count is 0", () => {
    const noStorage = healthy().filter((m) => !m.hostname.startsWith("sto-"));
    const [f] = found(plan(noStorage), "ROLE_EMPTY");
    expect(f).toMatchObject({ severity: "FAIL", role: "storage", message: "no machine with role: storage (0 machines match its rule)" });
    expect(found(plan(noStorage, { definitions: { storage: { count: 0 } } }), "ROLE_EMPTY")).toEqual([]);
  });

  it("ROLE_BELOW_3: WARN for 1 or 2 machines of a topology role", () => {
    const [f] = found(plan(healthy(), { definitions: { control: { count: 2 } } }), "ROLE_BELOW_3");
    expect(f).toMatchObject({ severity: "WARN", role: "control" });
    expect(f?.message).toMatch(/^less than 3 control: 2 \(ctl-\d \(\w+\), ctl-\d \(\w+\)\)$/);
  });

  it("TWO_ZONES: WARN for exactly two zones, not for one or three", () => {
    expect(found(plan(healthy(["zone-1", "zone-2"])), "TWO_ZONES")).toMatchObject([
      { severity: "WARN", message: "the deployment spans exactly 2 zones (zone-1, zone-2): losing one loses half; use 1 or at least 3" },
    ]);
    expect(found(plan(healthy(["zone-1"])), "TWO_ZONES")).toEqual([]);
    expect(found(plan(healthy()), "TWO_ZONES")).toEqual([]);
  });

  it("ZONE_IMBALANCE: WARN when a role's zones differ by more than one", () => {
    const extra = group("cmpx", CMP, 4, ["zone-1"]);
    const [f] = found(plan([...healthy(), ...extra]), "ZONE_IMBALANCE");
    expect(f).toMatchObject({ severity: "WARN", role: "compute", message: "compute is unevenly spread across zones: zone-1 6, zone-2 2, zone-3 2" });
  });

  it("ROLE_ZONE_SPREAD: WARN when control sits on fewer zones than exist (up to its spreadZones)", () => {
    const p = plan(healthy(), { definitions: { control: { match: { zones: ["zone-1"], cores: { min: 16 } } } } });
    const [f] = found(p, "ROLE_ZONE_SPREAD");
    expect(f).toMatchObject({ severity: "WARN", role: "control" });
    expect(f?.message).toMatch(/^control sits on 1 zone of the 3 available, wanted 3 distinct zones: zone-1: /);
  });

  it("JUJU_CONTROLLERS: FAIL when no machine is a Juju controller", () => {
    const p = plan(healthy(), { definitions: { "juju-controller": { match: { tags: ["no-such-tag"] } } } });
    expect(found(p, "JUJU_CONTROLLERS")).toMatchObject([{ severity: "FAIL", message: "at least 3 juju controllers are needed; the plan has none (0 machines match the juju-controller rule)" }]);
  });

  it("COUNT_SHORT: FAIL when fewer machines match than a role's count asks", () => {
    const [f] = found(plan(healthy(), { definitions: { control: { count: 5, match: { hostname: "ctl-*" } } } }), "COUNT_SHORT");
    expect(f).toMatchObject({ severity: "FAIL", role: "control" });
    expect(f?.message).toMatch(/^control needs at least 5 machines, the plan has 3 \(6 machines match its rule, 3 of them still free when its turn came; got ctl-4 /);
  });

  it("SPARES_SHORT: WARN when fewer spares are left than asked", () => {
    const [f] = found(plan(healthy(), { definitions: { control: { spares: 2, match: { hostname: "ctl-*" } } } }), "SPARES_SHORT");
    expect(f).toMatchObject({ severity: "WARN", role: "control", message: "control wants 2 spares, only 0 eligible machines are left" });
    expect(found(plan(healthy(), { definitions: { compute: { spares: 2 } } }), "SPARES_SHORT")).toEqual([]);
  });

  it("EXCLUSIVE_ROLES: FAIL when a machine holds two roles declared exclusive", () => {
    const both = inScope(machine({ hostname: "cmp-both", zone: "zone-1", ...CMP }), "control", "compute");
    const xpath = [
      { name: "control", definition: "//node[@id='cpu']", comment: "", kernel_opts: null },
      { name: "compute", definition: "//node[@id='memory']", comment: "", kernel_opts: null },
    ];
    const p = plan([...healthy(), both], { definitions: { control: { exclusiveWith: ["compute"] } } }, xpath);
    const [f] = found(p, "EXCLUSIVE_ROLES");
    expect(f).toMatchObject({ severity: "FAIL", machines: [{ hostname: "cmp-both" }] });
    expect(f?.message).toBe(`compute and control are exclusive but 1 machine holds both: cmp-both (${both.system_id})`);
    expect(found(plan([...healthy(), both], {}, xpath), "EXCLUSIVE_ROLES")).toEqual([]);
  });

  it("MACHINE_UNHEALTHY: FAIL for a Broken or Failed* machine in the scope", () => {
    const failed = inScope(withStatus(machine({ hostname: "cmp-failed", zone: "zone-1", ...CMP }), NodeStatus.FAILED_DEPLOYMENT), "compute");
    const [f] = found(plan([...healthy(), failed]), "MACHINE_UNHEALTHY");
    expect(f?.severity).toBe("FAIL");
    expect(f?.message).toContain(`cmp-failed (${failed.system_id}): Failed deployment`);
    // Out of the scope it is none of this deployment's business.
    const outside = withStatus(machine({ hostname: "cmp-failed", zone: "zone-1", ...CMP }), NodeStatus.BROKEN);
    expect(found(plan([...healthy(), outside]), "MACHINE_UNHEALTHY")).toEqual([]);
  });

  it("MACHINE_LOCKED: FAIL for a locked machine in the scope", () => {
    const locked = inScope({ ...machine({ hostname: "cmp-locked", zone: "zone-1", ...CMP }), locked: true }, "compute");
    expect(found(plan([...healthy(), locked]), "MACHINE_LOCKED")).toMatchObject([
      { severity: "FAIL", machines: [{ hostname: "cmp-locked" }], message: `1 machine in ${SCOPE} are locked; metalwave leaves their tags as they are: cmp-locked (${locked.system_id}): locked` },
    ]);
  });

  it("MACHINE_OWNED_ELSEWHERE: FAIL for a scoped machine another MAAS user owns, not for our own", () => {
    const theirs = inScope({ ...machine({ hostname: "cmp-alice", zone: "zone-1", ...CMP }), owner: "alice" });
    const [f] = found(plan([...healthy(), theirs]), "MACHINE_OWNED_ELSEWHERE");
    expect(f?.message).toContain(`cmp-alice (${theirs.system_id}): owned by alice`);
    const ours = inScope(withStatus({ ...machine({ hostname: "cmp-ours", zone: "zone-1", ...CMP }), owner: "metalwave" }, NodeStatus.DEPLOYED), "compute");
    expect(found(plan([...healthy(), ours]), "MACHINE_OWNED_ELSEWHERE")).toEqual([]);
  });

  it("SCOPE_CONFLICT: FAIL for a machine carrying two deployments' scope tags", () => {
    const both = inScope(machine({ hostname: "cmp-both", zone: "zone-1", ...CMP }), "metalwave-east");
    expect(found(plan([...healthy(), both]), "SCOPE_CONFLICT")).toMatchObject([
      { severity: "FAIL", machines: [{ hostname: "cmp-both" }], message: `1 machine in ${SCOPE} carry the scope tags of two deployments; metalwave leaves their tags as they are: cmp-both (${both.system_id}): also carries metalwave-east` },
    ]);
    const spareTagOnly = inScope(machine({ hostname: "cmp-spare", zone: "zone-1", ...CMP }), "metalwave-spare-compute");
    expect(found(plan([...healthy(), spareTagOnly]), "SCOPE_CONFLICT")).toEqual([]);
  });

  it("UNCOMMISSIONED: WARN for candidates with no hardware facts yet", () => {
    const fresh = withStatus(machine({ hostname: "new-1", zone: "zone-1", cores: 0, memoryMiB: 0, disks: [], nics: [] }), NodeStatus.NEW);
    const [f] = found(plan([...healthy(), fresh]), "UNCOMMISSIONED");
    expect(f?.severity).toBe("WARN");
    expect(f?.message).toContain(`new-1 (${fresh.system_id}): New, no commissioning data`);
  });

  it("AUTOMATIC_TAG: WARN for an owned tag MAAS manages by XPath", () => {
    const xpath = [{ name: "storage", definition: "//node[@class='disk']", comment: "", kernel_opts: null }];
    const fleet = healthy().map((m) => (m.hostname.startsWith("sto-") ? inScope(m, "storage") : m));
    expect(found(plan(fleet, {}, xpath), "AUTOMATIC_TAG")).toMatchObject([
      { severity: "WARN", role: "storage", message: "tag storage has an XPath definition: MAAS decides who carries it (3 machines in this deployment); metalwave only reads it and never edits it" },
    ]);
  });

  // Runs last (tests in a file run in order): every code of the closed set was tripped above.
  it("has a tripping test for every finding code (the layout's codes: test/roles/layout.test.ts)", () => {
    const layout: readonly string[] = LAYOUT_FINDING_CODES;
    expect(FINDING_CODES.filter((c) => !tripped.has(c) && !layout.includes(c))).toEqual([]);
  });
});

describe("blockingFindings", () => {
  const broken = plan(healthy().filter((m) => !m.hostname.startsWith("sto-")));

  it("returns the FAILs, and leaves out the codes the operator overrides", () => {
    expect(blockingFindings(broken).map((f) => f.code)).toEqual(["COUNT_SHORT", "ROLE_EMPTY"]);
    expect(blockingFindings(broken, ["ROLE_EMPTY"]).map((f) => f.code)).toEqual(["COUNT_SHORT"]);
    expect(blockingFindings(broken.findings, ["ROLE_EMPTY", "COUNT_SHORT"])).toEqual([]);
  });

  it("never blocks on a WARN", () => {
    const warned = plan(healthy(["zone-1", "zone-2"]));
    expect(warned.findings.some((f) => f.severity === "WARN")).toBe(true);
    expect(blockingFindings(warned)).toEqual([]);
  });
});

describe("docs/roles.md", () => {
  it("documents every finding code in the checks table", () => {
    const doc = readFileSync(new URL("../../docs/roles.md", import.meta.url), "utf8");
    expect(FINDING_CODES.filter((c) => !doc.includes(`| \`${c}\` |`))).toEqual([]);
  });
});
