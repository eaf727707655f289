/**
 * `metalwave status`: reads the store only, and says which rollout is the latest (a
 * deployment or a maintenance pass's), where its hosts are and why any failed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore, type RolloutRegion } from "../../src/store/index.ts";
import { SIMULATED_NOTE } from "../../src/runtime/region.ts";
import { runCliHere } from "./cli.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const SIM: RolloutRegion = { kind: "simulated", url: "http://127.0.0.1:40123/MAAS" };

function storeWithPass(region: RolloutRegion | null = SIM): { storePath: string; id: string } {
  dir = mkdtempSync(join(tmpdir(), "mw-status-"));
  const storePath = join(dir, "store.sqlite");
  const store = openStore(storePath);
  store.createRollout({ version: 2, deployment: "default", scopeTag: "metalwave-default", hosts: [], waves: [] });
  const host = (systemId: string, wave: number) => ({ systemId, hostname: `node-${systemId}`, zone: "z1", wave, roles: ["compute"], disks: [] });
  // Three planned hosts in two waves; c3 (wave 2) never started: the pass was paused first.
  const id = store.createRollout({
    version: 2,
    kind: "remediation",
    reason: "remediation of 3 unhealthy host(s)",
    deployment: "default",
    scopeTag: "metalwave-default",
    machineTagsSynced: true,
    hosts: [host("a1", 0), host("b2", 0), host("c3", 1)],
    waves: [["a1", "b2"], ["c3"]],
  }, region ? { region } : {}).id;
  store.saveHost(id, { systemId: "a1", hostname: "node-a1", wave: 0, roles: ["compute"], phase: "inService", outcome: "inService", snapshot: null });
  store.saveHost(id, { systemId: "b2", hostname: "node-b2", wave: 0, roles: ["compute"], phase: "quarantined", outcome: "quarantined", lastError: { phase: "deploying", code: "MAAS_FAILED_STATUS", message: "deploy failed" }, snapshot: null });
  store.setRolloutStatus(id, "paused", "per-wave failure budget of wave 1 exceeded: 1 failed host(s), limit 0");
  store.close();
  return { storePath, id };
}

describe("metalwave status", () => {
  it("--json names the latest rollout with its kind, counts and the failed hosts with their errors", async () => {
    const { storePath, id } = storeWithPass();
    const out = await runCliHere(["status", "--store", storePath, "--json"]);
    expect(out.code, out.stderr).toBe(0);
    const s = JSON.parse(out.stdout) as {
      rollout: { id: string; kind: string; status: string };
      counts: { total: number; byPhase: Record<string, number>; byOutcome: Record<string, number>; waves: { wave: number }[] };
      hosts: { systemId: string; wave: number }[];
      failed: { hostname: string; wave: number; phase: string; code: string; lastError: { code: string } }[];
    };
    expect(s.rollout).toMatchObject({ id, kind: "remediation", status: "paused" });
    // The region recorded with the rollout: a rehearsal on the embedded simulator says so.
    expect((s as unknown as { region: unknown }).region).toEqual({ simulated: true, url: SIM.url, note: SIMULATED_NOTE });
    // The plan's total, the never-started host counted as waiting; waves count from 1.
    expect(s.counts.total).toBe(3);
    expect(s.counts.byPhase).toEqual({ inService: 1, quarantined: 1, waiting: 1 });
    expect(s.counts.byOutcome).toEqual({ inService: 1, quarantined: 1 });
    expect(s.counts.waves.map((w) => w.wave)).toEqual([1]);
    expect(s.hosts.map((h) => [h.systemId, h.wave])).toEqual([["a1", 1], ["b2", 1]]);
    expect(s.failed.map((f) => [f.hostname, f.wave, f.phase, f.code, f.lastError.code])).toEqual([["node-b2", 1, "deploying", "MAAS_FAILED_STATUS", "MAAS_FAILED_STATUS"]]);
  }, 30_000);

  it("prints the kind of a maintenance pass's rollout and each failed host", async () => {
    const { storePath, id } = storeWithPass();
    const out = await runCliHere(["status", "--store", storePath]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`rollout ${id} (remediation) [SIMULATED]: paused`);
    expect(out.stdout).toContain(`region: SIMULATED MAAS region (embedded, made-up machines; nothing real is touched) at ${SIM.url}`);
    expect(out.stdout).toContain("hosts: 3 planned, 2 settled, 0 in flight, 1 not started");
    // The phase that failed, not the one the host ended in.
    expect(out.stdout).toMatch(/node-b2 \(b2\) wave 1: quarantined, failed in deploying: MAAS_FAILED_STATUS deploy failed/);
  }, 30_000);

  it("says a real region's URL, and that a rollout recorded without its region did not record one", async () => {
    const real = storeWithPass({ kind: "real", url: "http://maas.example:5240/MAAS" });
    const json = JSON.parse((await runCliHere(["status", "--store", real.storePath, "--json"])).stdout) as { region: unknown };
    expect(json.region).toEqual({ simulated: false, url: "http://maas.example:5240/MAAS" });
    const text = (await runCliHere(["status", "--store", real.storePath])).stdout;
    expect(text).toContain(`rollout ${real.id} (remediation): paused`);
    expect(text).toContain("region: MAAS region http://maas.example:5240/MAAS");
    rmSync(dir!, { recursive: true, force: true });
    const old = storeWithPass(null);
    expect((JSON.parse((await runCliHere(["status", "--store", old.storePath, "--json"])).stdout) as { region: unknown }).region).toBeNull();
    expect((await runCliHere(["status", "--store", old.storePath])).stdout).toContain("region: region not recorded (a rollout of an older metalwave)");
  }, 60_000);
});
