/**
 * kill -9 of `metalwave serve` in the middle of a remediation pass, then the service
 * started again on the same store and the same (lasting) simulated region: the pass's
 * rollout is resumed on start and finished before anything else runs, no host is
 * deployed twice in it, its attempts are counted once, and the journal holds the pass.
 * Before that, a killed service's unfinished ordinary rollout with hosts in flight keeps
 * remediation off until the operator has resumed it. The service and the region run as
 * processes of their own, as in production.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type SimStats } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { parseConfig, type ConfigInput } from "../../src/config.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { simClient } from "../runtime/sim-client.ts";
import { TOKEN, type Json } from "./helpers.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const MACHINES = 12;
const SEED = 5;

const CONFIG: ConfigInput = {
  rollout: { waves: [1, "100%"], maxInFlight: 20, backoffMs: { base: 10, max: 50 }, maxAttempts: { deploy: 1 }, budget: { perWave: "100%", total: "100%" } },
  layers: { enabled: false },
  remediation: { maxAttempts: 2, coolDownMs: 0, haltWhenUnhealthy: "50%" },
};

let dir: string;
let storePath: string;
let configFile: string;
let sim: ChildProcess | undefined;
let simUrl: string;
/**
 * Compute hosts the first rollout quarantines: `bad` fails every deploy, `flaky` their first two
 * commissionings (the rollout's two attempts), so they were never commissioned successfully. The
 * pass commissions them again from Broken (a third commissioning, which works) and deploys them:
 * marked fixed instead, MAAS would refuse their deploy ("Mount the root '/' filesystem ...",
 * maas-network-storage.md §5).
 */
let bad: { systemId: string; hostname: string };
let flaky: { systemId: string; hostname: string }[];
const children: ChildProcess[] = [];

// info: the service announces its address in an info record (docs/service.md "Logs").
function start(args: string[]): { child: ChildProcess; text: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, METALWAVE_API_TOKEN: TOKEN, METALWAVE_LOG_LEVEL: "info" } });
  children.push(child);
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (text += c));
  return { child, text: () => text };
}

async function waitForLine(p: { child: ChildProcess; text: () => string }, re: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = re.exec(p.text());
    if (m) return m[1]!;
    if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`${what} did not start:\n${p.text().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Service {
  child: ChildProcess;
  text: () => string;
  url: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }>;
}

async function serve(): Promise<Service> {
  const p = start(["serve", "--config", configFile, "--listen", "127.0.0.1:0"]);
  const url = await waitForLine(p, /metalwave service at (http:\/\/\S+?);/, "the service");
  return {
    ...p,
    url,
    async api(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Json) : undefined };
    },
  };
}

async function kill9(child: ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
}

/** Reads the store beside the running service (WAL: a reader never waits for the writer). */
function readStore<T>(fn: (s: Store) => T): T {
  const s = openStore(storePath);
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

async function until(pred: () => boolean | Promise<boolean>, svc: Service, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await pred())) {
    if (svc.child.exitCode !== null) throw new Error(`the service exited (${svc.child.exitCode}) before ${what}:\n${svc.text().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the service printed:\n${svc.text().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function simStats(): Promise<SimStats> {
  return (await (await fetch(simUrl.replace(/\/MAAS$/, "/sim/stats"))).json()) as SimStats;
}

function deployedCounts(st: SimStats): Map<string, number> {
  return new Map((st.machines ?? []).map((m) => [m.system_id, m.deployed]));
}

const kindOf = (s: Store, id: string) => (s.getRollout(id)?.plan as { kind?: string } | undefined)?.kind ?? "rollout";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mw-crash-remediation-"));
  storePath = join(dir, "store.sqlite");
  configFile = join(dir, "config.json");
  const keyFile = join(dir, "maas.key");

  // The same fleet the region process generates (same size and seed), to pick the hosts.
  const probe = await startSimulator({ machines: MACHINES, seed: SEED, zeroDuration: true });
  try {
    const plan = await readAndPlan(simClient(probe), parseConfig(CONFIG));
    const compute = plan.rollout.hosts.filter((h) => h.roles.includes("compute") && h.wave > 0);
    bad = compute[0]!;
    flaky = [compute[1]!, compute[2]!];
  } finally {
    await probe.close();
  }

  // Deploys take 1.5 s, so a kill lands while a pass's hosts are deploying in the region.
  const faults = [`deploy.fail@${bad.hostname}=1`, ...flaky.map((f) => `commission.fail@${f.hostname}=1:first=2`)].join(",");
  const s = start(["sim", "--port", "0", "--machines", String(MACHINES), "--seed", String(SEED), "--key-file", keyFile, "--durations", "commission=0.3,deploy=1.5,release=0.2,erase-quick=0.2", "--faults", faults]);
  sim = s.child;
  simUrl = await waitForLine(s, /MAAS simulator: (\S+)/, "the simulator");
  writeFileSync(configFile, JSON.stringify({ ...CONFIG, maas: { url: simUrl, apiKeyFile: keyFile, pollIntervalMs: 50, requestsPerSecond: 0 }, store: storePath }));
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c !== sim && c.exitCode === null && c.signalCode === null) await kill9(c);
  if (sim && sim.exitCode === null) {
    sim.kill("SIGTERM");
    await once(sim, "exit");
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a service killed with -9 mid-remediation", () => {
  it("resumes the pass on start and finishes it: no host deployed twice, attempts counted once, the pass in the journal", async () => {
    // 1. A rollout, killed while hosts are deploying.
    const first = await serve();
    const started = await first.api("POST", "/api/v1/rollouts");
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const rolloutId: string = started.json.rollout.id;
    await until(() => readStore((s) => s.hostCounts(rolloutId).byPhase["deploying"] !== undefined && (s.hostCounts(rolloutId).byOutcome["inService"] ?? 0) >= 1), first, "hosts of the second wave deploying");
    await kill9(first.child);
    expect(readStore((s) => s.hostCounts(rolloutId).unsettled)).toBeGreaterThan(0);

    // 2. Restarted: no maintenance pass on top of the rollout's hosts in flight; the operator resumes it.
    const second = await serve();
    const refused = await second.api("POST", "/api/v1/remediation");
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: "ROLLOUT_NOT_ACTIVE" });
    expect(refused.json.error.message).toContain(rolloutId);
    expect((await second.api("GET", "/api/v1/maintenance")).json.running).toBeNull();
    expect((await second.api("POST", `/api/v1/rollouts/${rolloutId}/resume`)).status).toBe(202);
    await until(async () => (await second.api("GET", `/api/v1/rollouts/${rolloutId}`)).json.rollout.live === false, second, "the resumed rollout to end");
    const ended = (await second.api("GET", `/api/v1/rollouts/${rolloutId}`)).json;
    expect(ended.rollout.state).toBe("completed");
    expect(ended.progress.byOutcome).toMatchObject({ inService: MACHINES - 3, quarantined: 3 });

    // 3. A remediation pass over the three, killed while its hosts are deploying.
    const before = deployedCounts(await simStats());
    expect((await second.api("POST", "/api/v1/remediation")).status).toBe(202);
    let passId = "";
    // Deploying in the store and in the region: the deploy request was accepted (the pass's
    // commissioning hosts get there later than the released one).
    await until(
      async () =>
        readStore((s) => {
          const latest = s.latestRollout();
          if (!latest || kindOf(s, latest.id) !== "remediation") return false;
          passId = latest.id;
          return s.hostCounts(latest.id).byPhase["deploying"] !== undefined;
        }) && ((await simStats()).statusCounts["Deploying"] ?? 0) > 0,
      second,
      "the pass's hosts deploying",
    );
    await kill9(second.child);
    expect(readStore((s) => s.hostCounts(passId).unsettled)).toBeGreaterThan(0);
    const atKill = await simStats();
    expect(atKill.statusCounts["Deploying"] ?? 0, JSON.stringify(atKill.statusCounts)).toBeGreaterThan(0);

    // 4. Started again: the pass is resumed at once and finished.
    const third = await serve();
    await until(async () => {
      const m = (await third.api("GET", "/api/v1/maintenance")).json;
      return m.running === null && m.last !== null;
    }, third, "the resumed pass to end");
    const resumed = (await third.api("GET", "/api/v1/maintenance")).json.last;
    expect(resumed).toMatchObject({ kind: "remediation", error: null, result: { resumed: { rolloutId: passId, state: "completed" } } });
    expect(resumed.result.resumed.byOutcome).toEqual({ inService: 2, quarantined: 1, aborted: 0, refused: 0, failed: 0 });

    readStore((s) => {
      // One pass, one rollout: nothing was planned again over the hosts in flight.
      expect(s.listRollouts().map((r) => kindOf(s, r.id))).toEqual(["remediation", "rollout"]);
      expect(s.latestRollout()?.status).toBe("completed");
      expect(s.hostCounts(passId).byOutcome).toEqual({ inService: 2, quarantined: 1 });
      const quarantined = s.getHost(passId, bad.systemId);
      expect(quarantined?.outcome).toBe("quarantined");
      expect((quarantined?.lastError as { message?: string } | null)?.message).toBeTruthy();
      const events = s.journal(passId, { kind: "rollout" }).map((j) => (j.data as { event?: string }).event);
      expect(events).toEqual(expect.arrayContaining(["created", "planned", "waveStarted", "resumed", "completed"]));
      for (const h of [bad, ...flaky]) {
        const to = s.journal(passId, { kind: "transition", systemId: h.systemId }).map((j) => (j.data as { to?: string }).to);
        expect(to[to.length - 1], h.hostname).toBe(h === bad ? "quarantined" : "inService");
      }
    });
    const after = await simStats();
    for (const m of after.machines ?? []) {
      const inPass = [bad, ...flaky].some((h) => h.systemId === m.system_id);
      expect({ host: m.hostname, deploysInPass: m.deployed - (before.get(m.system_id) ?? 0) }).toEqual({ host: m.hostname, deploysInPass: inPass ? 1 : 0 });
      expect({ host: m.hostname, status: m.status_name }).toEqual({ host: m.hostname, status: m.system_id === bad.systemId ? "Broken" : "Deployed" });
    }

    // 5. The next pass counts the resumed pass's attempt once: the bad host's second try.
    expect((await third.api("POST", "/api/v1/remediation")).status).toBe(202);
    await until(async () => (await third.api("GET", "/api/v1/maintenance")).json.running === null, third, "the next pass to end");
    const next = (await third.api("GET", "/api/v1/maintenance")).json.last;
    expect(next.error).toBeNull();
    expect(next.result.attempted).toEqual([{ systemId: bad.systemId, hostname: bad.hostname, attempt: 2 }]);
    expect(next.result.resumed).toBeUndefined();
    await kill9(third.child);
  }, 120_000);
});
