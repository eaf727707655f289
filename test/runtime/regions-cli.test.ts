/**
 * `metalwave start --regions 3` and `metalwave plan` on several regions, as an operator runs
 * them: three embedded simulated regions, a rollout over all of them, each host keyed by
 * its region; the plan's canary wave has one host per region.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./cli.ts";
import { openStore } from "../../src/store/index.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";

describe("several embedded regions from the CLI", () => {
  it("metalwave start --regions 3 rolls out the machines of three regions, each host keyed region/system_id", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-regions-cli-"));
    const storePath = join(dir, "s.sqlite");
    const r = await runCli(["start", "--regions", "3", "--machines", "8", "--speed", "0", "--store", storePath, "--json"]);
    expect(r.stderr).not.toMatch(/"level":50/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { state: string; total: number; byOutcome: Record<string, number>; region: { simulated: boolean; url: string } };
    expect(summary.state).toBe("completed");
    expect(summary.region.simulated).toBe(true);
    expect(summary.region.url).toMatch(/^r1=http:\/\/127\.0\.0\.1:\d+\/MAAS, r2=http:\/\/127\.0\.0\.1:\d+\/MAAS, r3=/);
    const store = openStore(storePath);
    try {
      const rollout = store.latestRollout()!;
      const hosts = store.loadHosts(rollout.id);
      expect(hosts.length).toBe(summary.total);
      expect(new Set(hosts.map((h) => regionOfKey(h.systemId)))).toEqual(new Set(["r1", "r2", "r3"]));
      expect(hosts.every((h) => h.outcome === "inService")).toBe(true);
      const waves = (rollout.plan as { waves: string[][] }).waves;
      expect(waves[0]!.map((k) => regionOfKey(k))).toEqual(["r1", "r2", "r3"]);
    } finally {
      store.close();
    }
  }, 120_000);

  it("metalwave plan shows each host's region, and each region's hosts by role and its canary (text and --json)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-regions-cli-"));
    const config = join(dir, "c.yaml");
    writeFileSync(config, "simulator: { regions: 2, machines: 6, speed: 0 }\nlayers: { enabled: false }\n");
    const r = await runCli(["plan", "--simulated", "--config", config, "--json"]);
    const plan = JSON.parse(r.stdout) as { waves: { hosts: { systemId: string; region: string | null }[] }[] };
    const hosts = plan.waves.flatMap((w) => w.hosts);
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.every((h) => h.region !== null && h.systemId.startsWith(`${h.region}/`))).toBe(true);
    expect(new Set(plan.waves[0]!.hosts.map((h) => h.region))).toEqual(new Set(["r1", "r2"]));
    // Each region's hosts to deploy, by role, and its canary (wave 1's host there).
    const regions = (JSON.parse(r.stdout) as { regions: { region: string; hosts: number; byRole: Record<string, number>; canary: string[] }[] }).regions;
    expect(regions.map((x) => x.region)).toEqual(["r1", "r2"]);
    for (const x of regions) {
      expect(x.hosts).toBe(hosts.filter((h) => h.region === x.region).length);
      expect(x.canary).toEqual(plan.waves[0]!.hosts.filter((h) => h.region === x.region).map((h) => h.systemId));
    }
    const text = await runCli(["plan", "--simulated", "--config", config]);
    expect(text.stdout).toMatch(new RegExp(`Regions \\(2; each region has its own canary and failure budget\\):\\n  r1: ${regions[0]!.hosts} hosts \\([^)]+\\); canary r1-\\S+\\n  r2: ${regions[1]!.hosts} hosts`));
  }, 60_000);
});
