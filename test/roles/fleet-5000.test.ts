/**
 * The role planner at datacenter scale: the 5,000 machines of
 * machines/fleet-datacenter-5000.yaml (five hardware classes, three zones) served by the
 * simulated region, read with the real MAAS client and planned with the default rules
 * through `planDeployment`, as `metalwave plan` does. What the plan should say is worked
 * out here from the fleet file and the hardware classes it includes, not written down
 * by hand, so the test follows the file if the file changes.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseConfig, type Config } from "../../src/config.ts";
import { MaasClient } from "../../src/maas/client.ts";
import type { Machine, Tag } from "../../src/maas/schemas.ts";
import { NodeStatus, STATUS_LABEL } from "../../src/model/maas/status.ts";
import { machineFacts, matchesRule } from "../../src/roles/index.ts";
import { planDeployment, planJson, type DeploymentPlan } from "../../src/runtime/deployment-plan.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";

const FLEET = fileURLToPath(new URL("../../machines/fleet-datacenter-5000.yaml", import.meta.url));
const GIB = 1024 ** 3;
const SCOPE = "metalwave-cloud";

// ---- what the fleet file says

interface ClassSpec {
  cpu_count: number;
  memory_gib: number;
  disks: { count?: number; size_gb: number; kind: "ssd" | "hdd" | "nvme" }[];
}
interface FleetFile {
  include?: string[];
  classes?: Record<string, ClassSpec>;
  zones: { name: string }[];
  groups: { class: string; count: number; zone: string; hostname_prefix: string }[];
}

/** One hardware class as the default rules see it (docs/roles.md, "Built-in roles"). */
interface ClassFacts {
  name: string;
  cores: number;
  memoryMiB: number;
  storageGiB: number;
  bootGiB: number;
  bootSsd: boolean;
  /** Non-boot disks of at least 1,000 GiB: the default storage rule wants 4. */
  bigDataDisks: number;
}

function classFacts(name: string, c: ClassSpec): ClassFacts {
  const sizes = c.disks.flatMap((d) => Array.from({ length: d.count ?? 1 }, () => ({ gib: (d.size_gb * 1e9) / GIB, ssd: d.kind !== "hdd" })));
  return {
    name,
    cores: c.cpu_count,
    memoryMiB: c.memory_gib * 1024,
    storageGiB: sizes.reduce((n, d) => n + d.gib, 0),
    bootGiB: sizes[0]?.gib ?? 0,
    bootSsd: sizes[0]?.ssd ?? false,
    bigDataDisks: sizes.slice(1).filter((d) => d.gib >= 1000).length,
  };
}

function readFleet(path: string): { zones: string[]; groups: FleetFile["groups"]; classes: Map<string, ClassFacts> } {
  const file = parseYaml(readFileSync(path, "utf8")) as FleetFile;
  const specs: Record<string, ClassSpec> = {};
  for (const inc of file.include ?? []) Object.assign(specs, (parseYaml(readFileSync(join(dirname(path), inc), "utf8")) as { classes: Record<string, ClassSpec> }).classes);
  Object.assign(specs, file.classes ?? {});
  const classes = new Map(Object.entries(specs).map(([n, c]) => [n, classFacts(n, c)]));
  return { zones: file.zones.map((z) => z.name), groups: file.groups, classes };
}

const fleet = readFleet(FLEET);
const groupOf = (hostname: string) => fleet.groups.find((g) => hostname.startsWith(`${g.hostname_prefix}-`));
const classOf = (hostname: string): ClassFacts => {
  const g = groupOf(hostname);
  const c = g && fleet.classes.get(g.class);
  if (c === undefined) throw new Error(`${hostname} belongs to no group of the fleet file`);
  return c;
};
const total = fleet.groups.reduce((n, g) => n + g.count, 0);
const perZone = (pick: (c: ClassFacts) => boolean) =>
  Object.fromEntries(fleet.zones.map((z) => [z, fleet.groups.filter((g) => g.zone === z && pick(fleet.classes.get(g.class)!)).reduce((n, g) => n + g.count, 0)]));

// The default rules, as docs/roles.md states them.
const isWorker = (c: ClassFacts) => c.cores >= 16 && c.memoryMiB >= 32_000;
const isStorage = (c: ClassFacts) => c.bigDataDisks >= 4;
const present = [...new Set(fleet.groups.map((g) => g.class))].map((n) => fleet.classes.get(n)!);
const first = <T,>(xs: T[], cmp: (a: T, b: T) => number) => [...xs].sort(cmp)[0]!;
/** juju-controller prefers least storage, then least memory; control least storage, then most memory. */
const controllerClass = first(present, (a, b) => a.storageGiB - b.storageGiB || a.memoryMiB - b.memoryMiB);
const controlClass = first(present.filter(isWorker), (a, b) => a.storageGiB - b.storageGiB || b.memoryMiB - a.memoryMiB);

// ---- the region and the plan

let sim: SimHandle | undefined;
let machines: Machine[] = [];
let tags: Tag[] = [];
let maasUser = "";
let config: Config;
let plan: DeploymentPlan;
let maas: MaasClient;

beforeAll(async () => {
  sim = await startSimulator({ fleet: FLEET, zeroDuration: true, seed: 5 });
  maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  [machines, tags, maasUser] = await Promise.all([maas.listMachines({}), maas.listTags(), maas.whoami().then((u) => u.username)]);
  config = parseConfig({});
  plan = planDeployment({ config, machines, tags, maasUser });
}, 60_000);

afterAll(async () => {
  await sim?.close();
  sim = undefined;
});

const members = (role: string) => Object.values(plan.roles.byRole[role]?.zones ?? {}).flat();
const zoneCounts = (role: string) => Object.fromEntries(plan.roles.zones.map((z) => [z, plan.roles.byRole[role]?.zones[z]?.length ?? 0]));

describe(`planning ${FLEET.split("/").pop()} with the default rules`, () => {
  it("reads every machine of the fleet file, each in its group's zone", () => {
    expect(machines).toHaveLength(total);
    expect(machines.filter((m) => groupOf(m.hostname)?.zone !== m.zone.name).map((m) => m.hostname)).toEqual([]);
    // The assumptions the expectations below stand on: these hold for the file as it is.
    expect(present.every(isWorker)).toBe(true);
    expect(isStorage(controllerClass) || isStorage(controlClass)).toBe(false);
    for (const z of fleet.zones) expect(perZone((c) => c === controllerClass)[z]).toBeGreaterThanOrEqual(2);
  });

  it("gives every machine a role whose rule it satisfies, holds none back and claims them all", () => {
    const byId = new Map(machines.map((m) => [m.system_id, m]));
    const defs = config.roles.definitions;
    const broken: string[] = [];
    for (const a of plan.roles.assignments) {
      const facts = machineFacts(byId.get(a.systemId)!);
      for (const r of a.roles) if (!matchesRule(facts, defs[r]!.match)) broken.push(`${a.hostname}: ${r}`);
    }
    expect(broken).toEqual([]);
    expect(plan.roles.assignments.filter((a) => a.roles.length !== 1).map((a) => a.hostname)).toEqual([]);
    expect(plan.roles.unassigned).toEqual([]);
    expect(plan.roles.excluded).toEqual([]);
    expect(plan.roles.claimed).toHaveLength(total);
    expect(Object.values(plan.roles.spares).flat()).toEqual([]);
  });

  it("counts per role as the defaults say: 3 juju controllers and 3 control of the smallest class, every storage chassis, compute the rest", () => {
    const storageZones = perZone(isStorage);
    const storageTotal = Object.values(storageZones).reduce((n, c) => n + c, 0);
    // The 50 % cap does not bite on this fleet, so storage takes every chassis.
    expect(storageTotal).toBeLessThanOrEqual(Math.floor(total / 2));
    expect(plan.roles.byRole.storage).toMatchObject({ count: storageTotal, eligible: storageTotal, max: Math.floor(total / 2) });
    expect(zoneCounts("storage")).toEqual(storageZones);
    expect(members("storage").filter((m) => !isStorage(classOf(m.hostname)))).toEqual([]);

    for (const [role, cls] of [["juju-controller", controllerClass], ["control", controlClass]] as const) {
      expect(plan.roles.byRole[role]?.count).toBe(3);
      expect(members(role).map((m) => classOf(m.hostname).name)).toEqual([cls.name, cls.name, cls.name]);
    }
    expect(plan.roles.byRole.network?.count).toBe(0);

    const compute = Object.fromEntries(fleet.zones.map((z) => [z, perZone(() => true)[z]! - storageZones[z]! - 2]));
    expect(plan.roles.byRole.compute).toMatchObject({ rest: true, count: total - 6 - storageTotal });
    expect(zoneCounts("compute")).toEqual(compute);
  });

  it("spreads roles over the zones: control and juju-controller on 3 zones, each role within one per zone where machines allow", () => {
    expect(plan.roles.zones).toEqual([...fleet.zones].sort());
    for (const role of ["juju-controller", "control"]) expect(Object.keys(plan.roles.byRole[role]?.zones ?? {}).sort()).toEqual([...fleet.zones].sort());

    const defs = config.roles.definitions;
    const factsOf = new Map(machines.map((m) => [m.system_id, machineFacts(m)]));
    const busy = new Set(plan.roles.assignments.filter((a) => a.roles.length > 0 || a.spareFor !== null).map((a) => a.systemId));
    const uneven: string[] = [];
    for (const [role, s] of Object.entries(plan.roles.byRole)) {
      if (s.count === 0) continue;
      const counts = zoneCounts(role);
      const most = Math.max(...Object.values(counts));
      for (const [zone, n] of Object.entries(counts)) {
        if (n >= most - 1) continue;
        // Short by more than one in this zone: fine only when no matching machine is left there.
        const left = [...factsOf.values()].filter((f) => f.zone === zone && !busy.has(f.systemId) && matchesRule(f, defs[role]!.match));
        if (left.length > 0) uneven.push(`${role} ${zone}: ${n} of ${most}, ${left.length} free`);
      }
    }
    expect(uneven).toEqual([]);
  });

  it("has no FAIL findings; the only warning is the root disks below 500 GiB, naming them and their number", () => {
    expect(plan.roles.findings.filter((f) => f.severity === "FAIL")).toEqual([]);
    expect(plan.blocking).toEqual([]);
    const smallRoot = plan.roles.assignments.filter((a) => a.roles.length > 0 && (classOf(a.hostname).bootGiB < 500 || !classOf(a.hostname).bootSsd));
    expect(smallRoot.length).toBeGreaterThan(5);
    expect(plan.roles.findings.map((f) => f.code)).toEqual(["ROOT_DISK"]);
    const [f] = plan.roles.findings;
    expect(f?.machines.map((m) => m.hostname).sort()).toEqual(smallRoot.map((a) => a.hostname).sort());
    const first5 = smallRoot.slice(0, 5);
    expect(f?.message).toContain(`${first5[0]?.hostname} (${first5[0]?.systemId}): sda is ${Math.round(classOf(first5[0]!.hostname).bootGiB)} GiB < 500 GiB`);
    expect(f?.message).toMatch(new RegExp(`, and ${smallRoot.length - 5} more$`));
  });

  it("puts every deployed host in exactly one wave, in role order", () => {
    const deployed = plan.roles.assignments.filter((a) => a.spareFor === null && a.roles.length > 0).map((a) => a.systemId);
    const inWaves = plan.rollout.waves.flat();
    expect(inWaves).toHaveLength(deployed.length);
    expect(new Set(inWaves).size).toBe(inWaves.length);
    expect([...inWaves].sort()).toEqual([...deployed].sort());
    expect(plan.rollout.hosts.map((h) => h.systemId)).toEqual(inWaves);
    plan.rollout.waves.forEach((w, i) => w.forEach((id) => expect(plan.rollout.hosts.find((h) => h.systemId === id)?.wave).toBe(i)));
    expect(plan.rollout.hosts.slice(0, 3).map((h) => h.roles)).toEqual([["juju-controller"], ["juju-controller"], ["juju-controller"]]);
    // Every storage host's ceph disks go with it: each of its data disks of 1,000 GiB and more.
    for (const h of plan.rollout.hosts.filter((x) => x.roles.includes("storage"))) expect(h.disks).toHaveLength(classOf(h.hostname).bigDataDisks);
  });

  it("plans identical JSON a second time, from a second read listed in reverse", async () => {
    const again = await maas.listMachines({});
    const second = planDeployment({ config, machines: [...again].reverse(), tags: await maas.listTags(), maasUser });
    expect(JSON.stringify(planJson(second))).toBe(JSON.stringify(planJson(plan)));
  }, 60_000);

  it("on the same fleet deliberately broken, names the machines and the numbers at scale", () => {
    // One zone loses its storage chassis; 300 compute machines of another already in the deployment break.
    const [, second, third] = [...fleet.zones].sort();
    const biggest = first(fleet.groups.filter((g) => g.zone === second && !isStorage(fleet.classes.get(g.class)!)), (a, b) => b.count - a.count);
    expect(biggest.count).toBeGreaterThanOrEqual(300);
    const brokenIds = new Set(machines.filter((m) => groupOf(m.hostname) === biggest).slice(0, 300).map((m) => m.system_id));
    const fleetBroken = machines
      .filter((m) => !(m.zone.name === third && isStorage(classOf(m.hostname))))
      .map((m) => (brokenIds.has(m.system_id) ? { ...m, status: NodeStatus.BROKEN, status_name: STATUS_LABEL[NodeStatus.BROKEN], tag_names: [...m.tag_names, SCOPE, "compute"] } : m));
    const p = planDeployment({ config, machines: fleetBroken, tags, maasUser });
    const by = (code: string, role: string | null = null) => p.roles.findings.filter((f) => f.code === code && (role === null || f.role === role));

    const [unhealthy] = by("MACHINE_UNHEALTHY");
    expect(unhealthy?.severity).toBe("FAIL");
    expect(unhealthy?.machines).toHaveLength(300);
    expect(unhealthy?.message).toMatch(new RegExp(`^300 machines in ${SCOPE} are broken, failed or missing; .*: Broken.*, and 295 more$`));
    expect(p.blocking.map((f) => f.code)).toEqual(["MACHINE_UNHEALTHY"]);

    const s = zoneCounts("storage");
    const sp = Object.fromEntries(p.roles.zones.map((z) => [z, p.roles.byRole.storage?.zones[z]?.length ?? 0]));
    expect(sp).toEqual({ ...s, [third!]: 0 });
    expect(by("ZONE_IMBALANCE", "storage")).toMatchObject([{ severity: "WARN", message: `storage is unevenly spread across zones: ${Object.entries(sp).map(([z, n]) => `${z} ${n}`).join(", ")}` }]);
    expect(by("ROLE_ZONE_SPREAD", "storage")[0]?.message).toMatch(/^storage sits on 2 zones of the 3 available, wanted 3 distinct zones: /);
    const c = zoneCounts("compute");
    expect(by("ZONE_IMBALANCE", "compute")[0]?.message).toBe(
      `compute is unevenly spread across zones: ${Object.entries(c).map(([z, n]) => `${z} ${z === second ? n - 300 : n}`).join(", ")}`,
    );
  });
});
