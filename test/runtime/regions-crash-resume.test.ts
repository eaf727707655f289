/**
 * kill -9 of a rollout over two regions, each rollout a `metalwave rollout` process with
 * `regions:` in its config, against two simulated regions: killed once a canary deploys;
 * resumed, region b goes away mid-wave and the run is killed while b is down (its calls
 * held, begun and unsent); resumed while b is still away (a's hosts go on at once, b's
 * wait on their region and are restored once it is back), to the end. Every machine of
 * both regions ends deployed, commissioned and deployed exactly once, and the calls the
 * crash left open are settled by reading each machine in its own region.
 *
 * The regions run in the test's process (each on its own port, as a region's API is to a
 * process talking HTTP to it): the test takes b away and brings it back on what it saw
 * happen (`goAway`/`comeBack`), instead of a timed outage long enough for a loaded machine.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { until } from "../fakes/until.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const PER_REGION = 30;
const NAMES = ["a", "b"] as const;

let dir: string;
let storePath: string;
let configFile: string;
const sims = new Map<string, SimHandle>();
const children: ChildProcess[] = [];

function metalwave(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, METALWAVE_LOG_LEVEL: "warn" } });
  children.push(child);
  return child;
}

function output(child: ChildProcess): { text: () => string } {
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (text += c));
  return { text: () => text };
}

/** Polls the store (SQLite WAL: read while the rollout writes) until `pred` holds. */
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

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mw-regions-crash-"));
  storePath = join(dir, "store.sqlite");
  configFile = join(dir, "config.yaml");
  for (const [i, name] of NAMES.entries()) {
    // Latency widens the window in which a call is in flight, so a kill lands inside one.
    const sim = await startSimulator({ machines: PER_REGION, speed: 2000, seed: 60 + i, hostnamePrefix: name, faults: "latency=15ms" });
    writeFileSync(join(dir, `${name}.key`), sim.apiKey);
    sims.set(name, sim);
  }
  writeFileSync(
    configFile,
    [
      "regions:",
      ...NAMES.map((n) => `  - { name: ${n}, url: "${sims.get(n)!.url}", apiKeyFile: "${join(dir, `${n}.key`)}", requestsPerSecond: 0 }`),
      "regionProbeIntervalMs: 50",
      "maas: { pollIntervalMs: 50 }",
      `rollout: { waves: [1, 5, "100%"], maxInFlight: 20, backoffMs: { base: 10, max: 100 } }`,
      `store: "${storePath}"`,
      "layers: { enabled: false }",
    ].join("\n"),
  );
}, 60_000);

afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) await kill9(c);
  // Each test brings b back itself; one that failed part-way may not have.
  await sims.get("b")?.comeBack();
});

afterAll(async () => {
  await Promise.all([...sims.values()].map((s) => s.close()));
}, 20_000);

describe("crash-safe resume over two regions", () => {
  it("survives kill -9 while a region is away and resumes, deploying every machine of both regions exactly once", async () => {
    // 1. Killed as soon as a canary is deploying.
    const first = metalwave(["rollout", "--config", configFile]);
    await storeUntil((s, id) => s.journal(id, { kind: "transition" }).some((j) => (j.data as { to?: string }).to === "deploying"), first, "a canary deploying");
    await kill9(first);

    // 2. Resumed; region b goes away (until the test brings it back, longer than the client's
    // retries: 5 attempts, backoff from 500 ms) once the last wave is under way, and the run is
    // killed while b is down (its hosts' calls held, some begun in the journal and never sent)
    // and a goes on.
    const second = metalwave(["rollout", "--config", configFile, "--resume"]);
    await storeUntil((s, id) => s.journal(id, { kind: "rollout" }).some((j) => (j.data as { event?: string; wave?: number }).event === "waveStarted" && (j.data as { wave?: number }).wave === 2), second, "the last wave started");
    const b = sims.get("b")!;
    await b.goAway();
    await storeUntil((s, id) => s.journal(id, { kind: "rollout" }).some((j) => (j.data as { event?: string }).event === "regionDown"), second, "region b found down");
    await kill9(second);
    const atCrash = (() => {
      const s = openStore(storePath);
      try {
        const id = s.latestRollout()!.id;
        return { open: s.openCalls(id).length, down: s.journal(id, { kind: "rollout" }).filter((j) => (j.data as { event?: string }).event === "regionDown").map((j) => (j.data as { region?: string }).region) };
      } finally {
        s.close();
      }
    })();
    expect(atCrash.down).toEqual(["b"]);
    expect(atCrash.open).toBeGreaterThan(0);

    // 3. Resumed while b is still away: a's hosts go on at once, b's wait on their region
    // (journaled waitingOnRegion) and are restored once it is back; then to the end.
    const last = metalwave(["rollout", "--config", configFile, "--resume", "--json"]);
    const out = output(last);
    const inService = (s: Store, id: string, region: string) => s.loadHosts(id).filter((h) => h.region === region && h.outcome === "inService").length;
    await storeUntil((s, id) => inService(s, id, "a") === PER_REGION, last, "every host of a in service while b is away");
    const whileAway = (() => {
      const s = openStore(storePath);
      try {
        const id = s.latestRollout()!.id;
        const entries = s.journal(id, { kind: "rollout" }).map((j) => j.data as { event?: string });
        return { b: inService(s, id, "b"), waiting: entries.filter((e) => e.event === "waitingOnRegion").length, caughtUp: entries.filter((e) => e.event === "regionCaughtUp").length };
      } finally {
        s.close();
      }
    })();
    expect(whileAway.b).toBeLessThan(PER_REGION);
    expect(whileAway.waiting).toBeGreaterThan(0);
    expect(whileAway.caughtUp).toBe(0);
    expect(b.listening).toBe(false);
    await b.comeBack();
    const [code] = (await once(last, "exit")) as [number | null];
    expect(code, out.text().slice(-3000)).toBe(0);

    for (const name of NAMES) {
      const st = sims.get(name)!.stats();
      expect({ name, counts: st.statusCounts }).toEqual({ name, counts: { Deployed: PER_REGION } });
      for (const m of st.machines ?? []) {
        expect({ host: m.hostname, commissioned: m.commissioned, deployed: m.deployed }).toEqual({ host: m.hostname, commissioned: 1, deployed: 1 });
      }
    }
    const s = openStore(storePath);
    try {
      const id = s.latestRollout()!.id;
      expect(s.latestRollout()!.status).toBe("completed");
      expect(s.hostCounts(id).byOutcome).toEqual({ inService: 2 * PER_REGION });
      expect(s.openCalls(id)).toEqual([]);
      const hosts = s.loadHosts(id);
      expect(new Set(hosts.map((h) => h.region))).toEqual(new Set(NAMES));
      expect(hosts.every((h) => h.systemId.startsWith(`${h.region}/`))).toBe(true);
      const entries = s.journal(id, {});
      const resumed = entries.filter((j) => j.kind === "rollout" && (j.data as { event?: string }).event === "resumed");
      expect(resumed).toHaveLength(2);
      // Found down by the second run, and again by the third at its start.
      expect(entries.filter((j) => (j.data as { event?: string }).event === "regionDown").map((j) => (j.data as { region?: string }).region)).toEqual(["b", "b"]);
      expect(entries.filter((j) => (j.data as { event?: string }).event === "regionCaughtUp").map((j) => (j.data as { region?: string }).region)).toEqual(["b"]);
      // The calls the crash left open were settled on resume, each by reading its machine in its own region.
      expect(entries.filter((j) => j.kind === "maas_call" && /reconciled after restart/.test(JSON.stringify(j.data))).length).toBeGreaterThan(0);
    } finally {
      s.close();
    }
  }, 180_000);

  it("metalwave plan with a region away is refused at once, naming the region (a plan needs every region's machines)", async () => {
    // b stays away until the plan has exited: a plan that waited for it would never end.
    const b = sims.get("b")!;
    await b.goAway();
    const started = Date.now();
    const plan = metalwave(["plan", "--config", configFile]);
    const out = output(plan);
    const [code] = (await once(plan, "exit")) as [number | null];
    expect(code).not.toBe(0);
    expect(out.text()).toContain("REGIONS_UNREACHABLE");
    expect(out.text()).toMatch(/a plan needs every region's machines, and a region does not answer: region b \(/);
    // Refused, not waited out: while the region is still away, and well within the client's retries' reach.
    expect(b.listening).toBe(false);
    expect(Date.now() - started).toBeLessThan(15_000);
    await b.comeBack();
  }, 60_000);
});
