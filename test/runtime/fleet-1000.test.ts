/**
 * The pipeline at scale, as an operator would run it: a fleet of simulated machines with
 * injected commissioning and deployment failures, the region in its own process,
 * the rollout killed with -9 in the middle and resumed. Every healthy machine ends
 * Deployed, every failed one was retried and then quarantined (Broken in MAAS) with
 * a reason, and no machine is forgotten or deployed beyond its attempts.
 *
 * What the size adds over test/runtime/crash-resume.test.ts (a small fleet killed at
 * several points): a kill -9 that lands while dozens of hosts are in flight at once in
 * a big percentage wave, with retries and quarantines among them, and a resume that
 * reads them all back. 200 machines (60 in flight) show that; the 1,000-machine run
 * (300 in flight: what a region's operator runs) is the same test at the scale the
 * benchmarks measure, and runs with METALWAVE_SCALE_TESTS=1 (it takes minutes on a
 * loaded 2-core machine and proves no other behaviour).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import type { SimStats } from "../../src/sim/index.ts";
import { until } from "../fakes/until.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const SCALE = process.env["METALWAVE_SCALE_TESTS"] === "1";
const MACHINES = SCALE ? 1000 : 200;
const IN_FLIGHT = SCALE ? 300 : 60;
const children: ChildProcess[] = [];

function metalwave(args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, METALWAVE_LOG_LEVEL: "warn" } });
  children.push(child);
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (text += c));
  return { child, out: () => text };
}

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await once(c, "exit");
    }
  }
});

describe(`${MACHINES} machines with failures, killed and resumed`, () => {
  it("deploys every healthy machine, retries then quarantines the failing ones with a reason, across a kill -9", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-1000-"));
    const keyFile = join(dir, "maas.key");
    const storePath = join(dir, "store.sqlite");
    const configFile = join(dir, "config.yaml");
    const sim = metalwave(["sim", "--port", "0", "--machines", String(MACHINES), "--speed", "5000", "--seed", "21", "--key-file", keyFile, "--faults", SCALE ? "commission.fail=0.04,deploy.fail=0.04" : "commission.fail=0.12,deploy.fail=0.12"]);
    const url = await until("the simulator to start", () => /MAAS simulator: (\S+)/.exec(sim.out())?.[1], {
      limitMs: 30_000,
      everyMs: 20,
      failIf: () => (sim.child.exitCode !== null ? `the simulator exited (${sim.child.exitCode})` : undefined),
      detail: () => sim.out(),
    });
    writeFileSync(
      configFile,
      [
        `maas: { url: "${url}", apiKeyFile: "${keyFile}", pollIntervalMs: 100, requestsPerSecond: 0 }`,
        `rollout: { waves: [1, 10, "5%", "25%", "100%"], maxInFlight: ${IN_FLIGHT}, budget: { perWave: "60%", total: "40%" }, backoffMs: { base: 10, max: 100 } }`,
        `layers: { enabled: false }`,
        `store: "${storePath}"`,
      ].join("\n"),
    );

    const first = metalwave(["rollout", "--config", configFile]);
    // Kill once a good part of the fleet is done and the big waves are under way.
    await until("the rollout to reach the kill point", () => {
      const s = openStore(storePath);
      try {
        const r = s.latestRollout();
        return (r ? (s.hostCounts(r.id).byOutcome["inService"] ?? 0) : 0) >= MACHINES * 0.3;
      } finally {
        s.close();
      }
    }, {
      limitMs: 120_000,
      everyMs: 50,
      failIf: () => (first.child.exitCode !== null ? `the rollout ended (${first.child.exitCode})` : undefined),
      detail: () => first.out().slice(-2000),
    });
    first.child.kill("SIGKILL");
    await once(first.child, "exit");

    const resumed = metalwave(["rollout", "--config", configFile, "--resume", "--json"]);
    const [code] = (await once(resumed.child, "exit")) as [number | null];
    expect(code, resumed.out().slice(-3000)).toBe(0);
    const summary = JSON.parse(resumed.out().slice(resumed.out().indexOf("{"))) as {
      state: string;
      total: number;
      byOutcome: Record<string, number>;
      failures: { systemId: string; outcome: string; message: string }[];
    };
    expect(summary.state).toBe("completed");
    expect(summary.total).toBeGreaterThan(MACHINES * 0.9);

    const stats = (await (await fetch(url.replace(/\/MAAS$/, "/sim/stats"))).json()) as SimStats;
    const byId = new Map((stats.machines ?? []).map((m) => [m.system_id, m]));
    const s = openStore(storePath);
    try {
      const id = s.latestRollout()!.id;
      expect(s.openCalls(id)).toEqual([]);
      const hosts = s.loadHosts(id);
      expect(hosts).toHaveLength(summary.total);
      const retried = [...byId.values()].filter((m) => m.commissioned > 1 || m.deployed > 1);
      expect(retried.length).toBeGreaterThan(10);
      for (const h of hosts) {
        const m = byId.get(h.systemId)!;
        // Never beyond the attempts the config allows (2 each), crash or not.
        expect({ host: h.hostname, over: m.commissioned > 2 || m.deployed > 2 }).toEqual({ host: h.hostname, over: false });
        if (h.outcome === "inService") expect({ host: h.hostname, status: m.status_name }).toEqual({ host: h.hostname, status: "Deployed" });
        else {
          expect({ host: h.hostname, outcome: h.outcome, status: m.status_name }).toEqual({ host: h.hostname, outcome: "quarantined", status: "Broken" });
          expect((h.lastError as { message?: string } | null)?.message ?? "").not.toBe("");
        }
      }
      expect(summary.byOutcome["quarantined"]).toBeGreaterThan(0);
      expect(summary.failures.every((f) => f.outcome === "quarantined" && f.message !== "")).toBe(true);
    } finally {
      s.close();
    }
  }, 240_000);
});
