/**
 * Roles wired into the rollout: the rollout runs the plan `metalwave plan` prints,
 * writes the tags in bulk before any host starts, holds spares back, tags ceph
 * disks, refuses to start on pre-flight FAILs unless overridden (journaled), and a
 * plan made after the rollout has nothing left to change.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import type { MaasClient } from "../../src/maas/client.ts";
import { runCliHere } from "./cli.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner, type RolloutSummary } from "../../src/runtime/rollout-runner.ts";
import { PreflightError, planDeployment, readAndPlan, type RolloutPlan } from "../../src/runtime/deployment-plan.ts";
import { parseConfig, type Config, type ConfigInput } from "../../src/config.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { spareTagFor } from "../../src/roles/index.ts";

const MIXED_50 = fileURLToPath(new URL("../../machines/fleet-mixed-50.yaml", import.meta.url));

let sim: SimHandle | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

function configFor(input: ConfigInput = {}): Config {
  return parseConfig({ ...input, rollout: { backoffMs: { base: 1, max: 5 }, ...(input.rollout ?? {}) } });
}

async function region(opts: { fleet?: string; machines?: number }): Promise<{ sim: SimHandle; maas: MaasClient }> {
  sim = await startSimulator({ ...(opts.fleet ? { fleet: opts.fleet } : { machines: opts.machines ?? 20 }), zeroDuration: true, seed: 11 });
  return { sim, maas: simClient(sim) };
}

async function runRollout(maas: MaasClient, config: Config): Promise<{ summary: RolloutSummary; store: Store }> {
  store = openStore(":memory:");
  const runner = new RolloutRunner(simDeps(maas, store, config));
  return { summary: await runner.run({ resume: false }), store };
}

describe("deployment plan and rollout with roles", () => {
  it("deploys each role's machines with their tags, holds spares back, tags ceph disks, and writes machine tags in O(roles) calls", async () => {
    const { sim, maas } = await region({ fleet: MIXED_50 });
    const config = configFor({ roles: { definitions: { compute: { spares: 2 } } } });
    const before = await readAndPlan(maas, config);
    const { summary, store } = await runRollout(maas, config);

    expect(summary.state).toBe("completed");
    expect(summary.total).toBe(before.rollout.hosts.length);
    expect(summary.byOutcome.inService).toBe(before.rollout.hosts.length);
    // The rollout ran exactly the plan computed beforehand from the same reads.
    const stored = store.latestRollout()!.plan as RolloutPlan;
    expect(stored.waves).toEqual(before.rollout.waves);

    const machines = new Map((await maas.listMachines({})).map((m) => [m.system_id, m]));
    for (const h of before.rollout.hosts) {
      const m = machines.get(h.systemId)!;
      expect({ host: h.hostname, status: m.status }).toEqual({ host: h.hostname, status: NodeStatus.DEPLOYED });
      expect(m.tag_names).toEqual(expect.arrayContaining(["metalwave-cloud", ...h.roles]));
    }
    const spares = before.roles.spares["compute"] ?? [];
    expect(spares).toHaveLength(2);
    for (const s of spares) {
      const m = machines.get(s.systemId)!;
      expect(m.status).not.toBe(NodeStatus.DEPLOYED);
      expect(m.tag_names).toContain(spareTagFor("compute"));
      expect(sim.stats().machines?.find((x) => x.system_id === s.systemId)?.deployed).toBe(0);
    }
    const storage = before.rollout.hosts.filter((h) => h.roles.includes("storage"));
    expect(storage.length).toBeGreaterThanOrEqual(3);
    for (const h of storage) {
      expect(h.disks.length).toBeGreaterThan(0);
      const m = await maas.readMachine(h.systemId);
      const cephDisks = (m.physicalblockdevice_set ?? []).filter((d) => d.tags.includes("ceph")).map((d) => d.id);
      expect(cephDisks.sort()).toEqual(h.disks.map((d) => d.deviceId).sort());
    }
    // One update_nodes per changed tag (the client splits only past 500 machines): O(roles), not O(machines).
    const updateCalls = sim.stats().requests.byOperation["tags.update_nodes"]?.total ?? 0;
    expect(updateCalls).toBe(before.roles.tagChanges.length);
    expect(updateCalls).toBeLessThan(10);

    // After the rollout, planning again finds nothing to change and the same roles.
    const after = await readAndPlan(maas, config);
    expect(after.roles.tagChanges).toEqual([]);
    expect(after.roles.blockDeviceTags).toEqual([]);
    expect(after.rollout.hosts.map((h) => [h.systemId, h.roles])).toEqual(before.rollout.hosts.map((h) => [h.systemId, h.roles]));
    expect(after.blocking).toEqual([]);
  }, 60_000);

  it("refuses to start on a pre-flight FAIL and changes nothing; an override lets it through and is journaled", async () => {
    const { sim, maas } = await region({ machines: 5 });
    const config = configFor();
    const err = await runRollout(maas, config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PreflightError);
    const codes = new Set((err as PreflightError).findings.map((f) => f.code));
    expect(codes).toEqual(new Set(["COUNT_SHORT", "ROLE_EMPTY"]));
    expect((err as PreflightError).message).toMatch(/--override/);
    // Nothing was written: no tag, no machine touched.
    expect(await maas.listTags()).toEqual([]);
    for (const m of sim.stats().machines ?? []) expect({ host: m.hostname, commissioned: m.commissioned, allocated: m.allocated }).toEqual({ host: m.hostname, commissioned: 0, allocated: 0 });
    expect(sim.stats().requests.byOperation["tags.update_nodes"]?.total ?? 0).toBe(0);
    store?.close();

    const overridden = configFor({ rollout: { overrides: ["COUNT_SHORT", "ROLE_EMPTY"] } });
    const { summary, store: s } = await runRollout(maas, overridden);
    expect(summary.state).toBe("completed");
    const journaled = s.journal(summary.rolloutId, { kind: "rollout" }).filter((j) => (j.data as { event?: string }).event === "override");
    expect(new Set(journaled.map((j) => (j.data as { code: string }).code))).toEqual(new Set(["COUNT_SHORT", "ROLE_EMPTY"]));
  }, 60_000);

  it("plans the same from the same reads, whatever order MAAS lists the machines in", async () => {
    const { maas } = await region({ fleet: MIXED_50 });
    const config = configFor();
    const [machines, tags] = [await maas.listMachines({}), await maas.listTags()];
    const a = planDeployment({ config, machines, tags, maasUser: "admin" });
    const b = planDeployment({ config, machines: [...machines].reverse(), tags, maasUser: "admin" });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // Juju controllers and control first: the layers stand on them.
    expect(a.rollout.hosts[0]!.roles).toContain("juju-controller");
  });
});

describe("metalwave plan", () => {
  const cli = (args: string[]) => runCliHere(args);

  it("prints as JSON the waves a rollout then runs, and changes nothing in MAAS", async () => {
    const { sim, maas } = await region({ fleet: MIXED_50 });
    const dir = mkdtempSync(join(tmpdir(), "mw-plan-"));
    const keyFile = join(dir, "key");
    writeFileSync(keyFile, sim.apiKey, { mode: 0o600 });
    const res = await cli(["plan", "--maas-url", sim.url, "--api-key-file", keyFile, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const printed = JSON.parse(res.stdout) as { waves: { hosts: { systemId: string; roles: string[] }[] }[]; blocking: unknown[]; roles: { tagChanges: unknown[] } };
    expect(printed.blocking).toEqual([]);
    expect(printed.roles.tagChanges.length).toBeGreaterThan(0);
    expect(await maas.listTags()).toEqual([]);

    const { store } = await runRollout(maas, configFor());
    const stored = store.latestRollout()!.plan as RolloutPlan;
    expect(printed.waves.map((w) => w.hosts.map((h) => h.systemId))).toEqual(stored.waves);
    expect(printed.waves.flatMap((w) => w.hosts.map((h) => h.roles))).toEqual(stored.waves.flat().map((id) => stored.hosts.find((h) => h.systemId === id)!.roles));
  }, 60_000);

  it("exits 6 and names the failing checks when pre-flight FAILs block the plan; --override lets them through", async () => {
    const { sim } = await region({ machines: 5 });
    const dir = mkdtempSync(join(tmpdir(), "mw-plan-"));
    const keyFile = join(dir, "key");
    writeFileSync(keyFile, sim.apiKey, { mode: 0o600 });
    const blocked = await cli(["plan", "--maas-url", sim.url, "--api-key-file", keyFile]);
    expect(blocked.code).toBe(6);
    expect(blocked.stdout).toMatch(/FAIL COUNT_SHORT/);
    expect(blocked.stdout).toMatch(/BLOCKED/);
    const through = await cli(["plan", "--maas-url", sim.url, "--api-key-file", keyFile, "--override", "COUNT_SHORT,ROLE_EMPTY"]);
    expect(through.code, through.stdout).toBe(0);
    // rollout refuses the same way, changes nothing, and exits (its status observer stopped).
    writeFileSync(join(dir, "config.yaml"), "layers: { enabled: false }\n");
    const refused = await cli(["rollout", "--maas-url", sim.url, "--api-key-file", keyFile, "--store", join(dir, "store.sqlite"), "--config", join(dir, "config.yaml")]);
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toMatch(/pre-flight checks failed \(nothing was changed\)/);
    const bad = await cli(["plan", "--maas-url", sim.url, "--api-key-file", keyFile, "--override", "NOPE"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--override NOPE: not a pre-flight check code/);
  }, 60_000);
});
