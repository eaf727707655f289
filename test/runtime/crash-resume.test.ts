/**
 * kill -9 of a running rollout at several points, then `metalwave rollout --resume`:
 * every machine ends deployed, nothing finished is redone, no machine is deployed
 * twice, and calls whose outcome the crash left unknown are reconciled by reading
 * MAAS. The simulated region runs as its own process, as a real region would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.ts";
import type { SimStats } from "../../src/sim/index.ts";
import { until } from "../fakes/until.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const MACHINES = 80;

let dir: string;
let sim: ChildProcess;
let simUrl: string;
let keyFile: string;
let configFile: string;
let storePath: string;

const children: ChildProcess[] = [];

function metalwave(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, METALWAVE_LOG_LEVEL: "warn" } });
  children.push(child);
  return child;
}

async function stats(): Promise<SimStats> {
  const res = await fetch(simUrl.replace(/\/MAAS$/, "/sim/stats"));
  return (await res.json()) as SimStats;
}

function output(child: ChildProcess): { text: () => string } {
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (text += c));
  return { text: () => text };
}

/** Polls the store (read side; SQLite WAL lets us read while the rollout writes) until `pred` holds. */
async function storeUntil(pred: (s: Store, rolloutId: string) => boolean, child: ChildProcess, what: string): Promise<void> {
  const out = output(child);
  await until(what, () => {
    const s = openStore(storePath);
    try {
      const r = s.latestRollout();
      return r !== undefined && pred(s, r.id);
    } finally {
      s.close();
    }
  }, {
    everyMs: 20,
    failIf: () => (child.exitCode !== null ? `rollout exited (${child.exitCode})` : undefined),
    detail: () => `the rollout printed:\n${out.text().slice(-3000)}`,
  });
}

async function kill9(child: ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
}

async function runToEnd(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = metalwave(args);
  const out = output(child);
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, out: out.text() };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mw-crash-"));
  keyFile = join(dir, "maas.key");
  storePath = join(dir, "store.sqlite");
  configFile = join(dir, "config.yaml");
  // Latency widens the window in which a MAAS call is in flight, so a kill lands inside one.
  sim = metalwave(["sim", "--port", "0", "--machines", String(MACHINES), "--speed", "2000", "--seed", "9", "--key-file", keyFile, "--faults", "latency=15ms"]);
  const out = output(sim);
  simUrl = await until("the simulator to start", () => /MAAS simulator: (\S+)/.exec(out.text())?.[1], {
    limitMs: 30_000,
    everyMs: 20,
    failIf: () => (sim.exitCode !== null ? `the simulator exited (${sim.exitCode})` : undefined),
    detail: () => out.text(),
  });
  writeFileSync(
    configFile,
    [
      `maas: { url: "${simUrl}", apiKeyFile: "${keyFile}", pollIntervalMs: 50, requestsPerSecond: 0 }`,
      `rollout: { waves: [1, 10, "25%", "100%"], maxInFlight: 30, backoffMs: { base: 10, max: 100 } }`,
      `store: "${storePath}"`,
      `layers: { enabled: false }`,
    ].join("\n"),
  );
}, 60_000);

afterEach(async () => {
  // A rollout left running by a failed step would hold the store's lock for the next test.
  for (const c of children) if (c !== sim && c.exitCode === null && c.signalCode === null) await kill9(c);
});

afterAll(async () => {
  if (sim && sim.exitCode === null) {
    sim.kill("SIGTERM");
    await once(sim, "exit");
  }
});

describe("crash-safe resume", () => {
  it("survives kill -9 at several points and finishes with every machine deployed exactly once", async () => {
    // 1. Killed as soon as the canary is deploying.
    const first = metalwave(["rollout", "--config", configFile]);
    await storeUntil((s, id) => s.journal(id, { kind: "transition" }).some((j) => (j.data as { to?: string }).to === "deploying"), first, "the canary deploying");
    await kill9(first);

    // 2. Resumed, then killed while MAAS calls are in flight (begun, not ended).
    const second = metalwave(["rollout", "--config", configFile, "--resume"]);
    await storeUntil((s, id) => s.hostCounts(id).byOutcome["inService"] !== undefined && s.openCalls(id).length > 0, second, "calls in flight after the canary");
    await kill9(second);
    const unknownAtCrash = (() => {
      const s = openStore(storePath);
      try {
        return s.openCalls(s.latestRollout()!.id).length;
      } finally {
        s.close();
      }
    })();
    expect(unknownAtCrash).toBeGreaterThan(0);

    // 3. Resumed, then killed in the middle of the big wave.
    const third = metalwave(["rollout", "--config", configFile, "--resume"]);
    await storeUntil((s, id) => (s.hostCounts(id).byOutcome["inService"] ?? 0) >= 30, third, "30 hosts in service");
    await kill9(third);

    // 4. Resumed to the end.
    const last = await runToEnd(["rollout", "--config", configFile, "--resume", "--json"]);
    expect(last.code, last.out).toBe(0);

    const st = await stats();
    expect(st.statusCounts, last.out.slice(-4000)).toEqual({ Deployed: MACHINES });
    for (const m of st.machines ?? []) {
      expect({ host: m.hostname, commissioned: m.commissioned, deployed: m.deployed }).toEqual({ host: m.hostname, commissioned: 1, deployed: 1 });
    }
    const s = openStore(storePath);
    try {
      const id = s.latestRollout()!.id;
      expect(s.latestRollout()!.status).toBe("completed");
      expect(s.hostCounts(id).byOutcome).toEqual({ inService: MACHINES });
      expect(s.openCalls(id)).toEqual([]);
      const reconciled = s.journal(id, { kind: "maas_call" }).filter((j) => /reconciled after restart/.test(JSON.stringify(j.data)));
      expect(reconciled.length).toBeGreaterThan(0);
      const resumed = s.journal(id, { kind: "rollout" }).filter((j) => (j.data as { event?: string }).event === "resumed");
      expect(resumed).toHaveLength(3);
    } finally {
      s.close();
    }
  }, 120_000);

  it("refuses a rollout on a store another live process holds, naming the holder", async () => {
    const holder = openStore(storePath);
    holder.acquireLock({ pid: process.pid, hostname: (await import("node:os")).hostname(), command: "test holder" });
    try {
      const second = await runToEnd(["rollout", "--config", configFile, "--resume"]);
      expect(second.code).toBe(5);
      expect(second.out).toMatch(new RegExp(`${process.pid}`));
      expect(second.out).toMatch(/test holder/);
    } finally {
      holder.releaseLock();
      holder.close();
    }
  }, 60_000);
});
