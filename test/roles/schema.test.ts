import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BUILTIN_ROLES, RolesConfigSchema, defaultRolesConfig } from "../../src/roles/schema.ts";

function issues(input: unknown): string[] {
  const r = RolesConfigSchema.safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("roles config schema", () => {
  it("gives the five built-in roles sane defaults when the section is empty", () => {
    const c = defaultRolesConfig();
    expect(Object.keys(c.definitions).sort()).toEqual([...BUILTIN_ROLES].sort());
    expect(c.order).toEqual(["juju-controller", "control", "storage", "network", "compute"]);
    expect(c.definitions["juju-controller"]).toMatchObject({ count: 3, min: 3, max: 3, spreadZones: 3 });
    expect(c.definitions.control).toMatchObject({ count: 3, min: 3, max: 3 });
    expect(c.definitions.storage).toMatchObject({ count: null, min: 3, max: "50%", cephDisks: { tag: "ceph", nonBoot: true, minSizeGiB: 1000 } });
    expect(c.definitions.network).toMatchObject({ count: 0, max: 0 });
    expect(c.definitions.compute).toMatchObject({ count: "rest", min: 0, max: null });
    expect(c.candidates).toEqual({ claim: true, pools: [], zones: [], tags: [], notTags: [], hostname: "*" });
  });

  it("merges a partial override over the built-in role, field by field", () => {
    const c = RolesConfigSchema.parse({ definitions: { compute: { spares: 2 } } });
    expect(c.definitions.compute).toMatchObject({ count: "rest", spares: 2, match: { cores: { min: 16 } } });
  });

  it("drops the built-in counts when the override gives any count field", () => {
    const c = RolesConfigSchema.parse({ definitions: { storage: { count: 5 } } });
    expect(c.definitions.storage).toMatchObject({ count: 5, min: 5, max: 5 });
    const d = RolesConfigSchema.parse({ definitions: { control: { min: 3, max: 5 } } });
    expect(d.definitions.control).toMatchObject({ count: null, min: 3, max: 5 });
  });

  it("adds declared roles, after the listed order, in name order", () => {
    const c = RolesConfigSchema.parse({ definitions: { gpu: { count: 2, match: { tags: ["gpu"] } }, bastion: { count: 1 } } });
    expect(c.order).toEqual(["juju-controller", "control", "storage", "network", "compute", "bastion", "gpu"]);
    expect(c.definitions.gpu).toMatchObject({ count: 2, match: { tags: ["gpu"] }, spares: 0, exclusiveWith: [] });
  });

  it("names the path of each invalid field", () => {
    expect(issues({ definitions: { control: { count: 3, min: 2 } } })).toContain("definitions.control.count: give either count or min/max, not both");
    expect(issues({ order: ["control", "nope"] })).toContain('order.1: unknown role "nope" (define it under roles.definitions)');
    expect(issues({ hyperconverged: [["control", "ghost"]] })).toContain('hyperconverged.0.1: unknown role "ghost" (define it under roles.definitions)');
    expect(issues({ definitions: { compute: { match: { hostname: "/([/" } } } }).join()).toMatch(/^definitions\.compute\.match\.hostname: not a valid regular expression/);
    expect(issues({ definitions: { compute: { match: { cores: { min: 8, max: 4 } } } } })).toContain("definitions.compute.match.cores: min is larger than max");
    expect(issues({ definitions: { compute: { match: { ram: 4 } } } }).join()).toMatch(/definitions\.compute\.match/);
    expect(issues({ definitions: { "Bad Name": { count: 1 } } }).join()).toMatch(/definitions/);
    expect(issues({ definitions: { "metalwave-x": { count: 1 } } }).join()).toMatch(/reserved/);
    expect(issues({ definitions: { storage: { max: "lots" } } }).join()).toMatch(/^definitions\.storage\.max/);
  });

  it("rejects a hyperconverged group of roles declared exclusive", () => {
    const msgs = issues({ definitions: { control: { exclusiveWith: ["storage"] } }, hyperconverged: [["control", "storage"]] });
    expect(msgs).toContain("hyperconverged.0: control and storage are declared exclusive, they cannot share a machine");
  });
});

describe("machines/roles-example.yaml", () => {
  it("is a valid roles section", () => {
    const doc = parse(readFileSync(new URL("../../machines/roles-example.yaml", import.meta.url), "utf8")) as { roles: unknown };
    const c = RolesConfigSchema.parse(doc.roles);
    expect(c.definitions["gpu-compute"]).toMatchObject({ min: 0, match: { tags: ["gpu"] } });
    expect(c.order.slice(0, 4)).toEqual(["juju-controller", "control", "storage", "gpu-compute"]);
  });
});
