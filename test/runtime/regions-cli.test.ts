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

  it("metalwave plan --json shows each host's region", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-regions-cli-"));
    const config = join(dir, "c.yaml");
    writeFileSync(config, "simulator: { regions: 2, machines: 6, speed: 0 }\nlayers: { enabled: false }\n");
    const r = await runCli(["plan", "--simulated", "--config", config, "--json"]);
    const plan = JSON.parse(r.stdout) as { waves: { hosts: { systemId: string; region: string | null }[] }[] };
    const hosts = plan.waves.flatMap((w) => w.hosts);
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.every((h) => h.region !== null && h.systemId.startsWith(`${h.region}/`))).toBe(true);
    expect(new Set(plan.waves[0]!.hosts.map((h) => h.region))).toEqual(new Set(["r1", "r2"]));
  }, 60_000);
});
