/**
 * The commands of a lasting deployment over two regions, as an operator runs them with
 * `regions:` in the config: `metalwave rollout`, `status`, `remediate`, `reprovision` and
 * `serve` against two simulated regions ("a" and "b", each its own region with its own key):
 * `serve` a child process, the others run through the CLI's main in the test's process
 * (runCliHere: what they do and print, without a child's start each). A host's region decides which region is asked: the
 * host region b quarantined is provisioned again in b, a host of a is re-provisioned in a,
 * and the other region never hears of either. status, the API's host answers and the
 * metrics name each host's region.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCliHere } from "./cli.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { until } from "../fakes/until.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const TOKEN = "regions-test-token-5d1c8e0a";
/** Its first deploy fails (region b's fault), so the rollout quarantines it. */
const BAD = "b-az2-compute-std-0001";

let sims: SimHandle[] = [];
let dir = "";
let config = "";
beforeAll(async () => {
  sims = await Promise.all([
    startSimulator({ machines: 10, zeroDuration: true, seed: 31, hostnamePrefix: "a" }),
    startSimulator({ machines: 10, zeroDuration: true, seed: 32, hostnamePrefix: "b", faults: `deploy.fail@${BAD}=1:first=1` }),
  ]);
  dir = mkdtempSync(join(tmpdir(), "mw-regions-maint-"));
  const [a, b] = sims as [SimHandle, SimHandle];
  writeFileSync(join(dir, "a.key"), a.apiKey);
  writeFileSync(join(dir, "b.key"), b.apiKey);
  config = join(dir, "site.yaml");
  writeFileSync(
    config,
    [
      "regions:",
      `  - { name: a, url: "${a.url}", apiKeyFile: "${join(dir, "a.key")}" }`,
      `  - { name: b, url: "${b.url}", apiKeyFile: "${join(dir, "b.key")}" }`,
      "regionProbeIntervalMs: 50",
      "maas: { pollIntervalMs: 50 }",
      "layers: { enabled: false }",
      `store: "${join(dir, "s.sqlite")}"`,
      "rollout: { backoffMs: { base: 1, max: 5 }, maxAttempts: { deploy: 1 }, budget: { perWave: 2, total: 2 } }",
      "remediation: { coolDownMs: 0 }",
      "",
    ].join("\n"),
  );
});
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

/** How often the machine's region deployed and released it. */
function calls(sim: SimHandle, hostname: string): { deployed: number; released: number } {
  const m = (sim.stats().machines ?? []).find((x) => x.hostname === hostname);
  if (!m) throw new Error(`no machine ${hostname} in the region`);
  return { deployed: m.deployed, released: m.released };
}

describe("a lasting deployment over two regions, from the CLI", () => {
  it("rolls out, shows each host's region, remediates and re-provisions each host in its own region, and serves the regions", async () => {
    const [a, b] = sims as [SimHandle, SimHandle];
    // Layering over several regions is refused before anything is changed (exit 2, naming the field).
    const layered = join(dir, "layered.yaml");
    writeFileSync(layered, readFileSync(config, "utf8").replace("layers: { enabled: false }", "layers: { enabled: true }\nssh: { privateKeyFile: /nonexistent }"));
    for (const cmd of [["rollout"], ["serve", "--listen", "127.0.0.1:0"]]) {
      const refused = await runCliHere([...cmd, "--config", layered], { METALWAVE_API_TOKEN: TOKEN });
      expect({ cmd: cmd[0], code: refused.code }).toEqual({ cmd: cmd[0], code: 2 });
      expect(refused.stderr).toMatch(/layers\.enabled: layering over several regions is not supported yet/);
    }
    // Neither region was sent anything.
    expect(a.stats().requests.total + b.stats().requests.total).toBe(0);

    const rollout = await runCliHere(["rollout", "--config", config, "--json"]);
    expect(rollout.stderr).not.toMatch(/"level":50/);
    const summary = JSON.parse(rollout.stdout) as { state: string; byOutcome: Record<string, number>; failures: { systemId: string; region: string | null; hostname: string }[] };
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome.quarantined).toBe(1);
    expect(summary.failures.map((f) => [f.hostname, f.region])).toEqual([[BAD, "b"]]);

    // status: each host's region, and the counts per region.
    const status = JSON.parse((await runCliHere(["status", "--store", join(dir, "s.sqlite"), "--json"])).stdout) as {
      counts: { byRegion: { region: string; planned: number; inService: number; failed: number }[] };
      hosts: { systemId: string; region: string }[];
      failed: { hostname: string; region: string }[];
    };
    expect(status.hosts.every((h) => h.systemId.startsWith(`${h.region}/`))).toBe(true);
    expect(status.failed.map((f) => [f.hostname, f.region])).toEqual([[BAD, "b"]]);
    const byRegion = new Map(status.counts.byRegion.map((c) => [c.region, c]));
    expect(byRegion.get("b")).toMatchObject({ failed: 1, inService: byRegion.get("b")!.planned - 1 });
    expect(byRegion.get("a")).toMatchObject({ failed: 0, inService: byRegion.get("a")!.planned });
    const text = await runCliHere(["status", "--store", join(dir, "s.sqlite")]);
    expect(text.stdout).toMatch(/by region: a: \d+ planned, \d+ in service, 0 failed, 0 in flight, 0 not started · b: \d+ planned, \d+ in service, 1 failed/);
    expect(text.stdout).toContain(`${BAD} (b/`);

    // remediate: the quarantined host is provisioned again in region b (its second deploy succeeds).
    const aBefore = a.stats().machines!.reduce((n, m) => n + m.deployed + m.released, 0);
    const rem = await runCliHere(["remediate", "--config", config, "--json"]);
    expect(rem.stderr).not.toMatch(/"level":50/);
    const pass = JSON.parse(rem.stdout) as { attempted: { systemId: string; hostname: string }[]; rollout: { byOutcome: Record<string, number> } | null };
    expect(pass.attempted.map((x) => x.hostname)).toEqual([BAD]);
    expect(pass.attempted[0]!.systemId).toMatch(/^b\//);
    expect(pass.rollout?.byOutcome.inService).toBe(1);
    expect(calls(b, BAD).deployed).toBe(2);
    expect(rem.code).toBe(0);

    // reprovision a host of region a by hostname: released and deployed again there.
    const host = "a-az1-storage-dense-0001";
    expect(calls(a, host)).toEqual({ deployed: 1, released: 0 });
    const re = await runCliHere(["reprovision", host, "--config", config, "--json", "--reason", "disk swap"]);
    expect(re.stderr).not.toMatch(/"level":50/);
    expect(re.code).toBe(0);
    expect(calls(a, host)).toEqual({ deployed: 2, released: 1 });
    // Region a heard only of its own host in both passes; region b of none in the second.
    const aAfter = a.stats().machines!.reduce((n, m) => n + m.deployed + m.released, 0);
    expect(aAfter - aBefore).toBe(2);
    expect(calls(b, BAD).deployed).toBe(2);

    // serve: the API's hosts and the metrics name each host's region.
    const service = await serve();
    try {
      const api = async (path: string, init: RequestInit = {}) => {
        const r = await fetch(service.url + path, { ...init, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" } });
        return { status: r.status, text: await r.text() };
      };
      const rollouts = JSON.parse((await api("/api/v1/rollouts")).text) as { rollouts: { id: string; kind?: string }[] };
      const deployment = rollouts.rollouts[rollouts.rollouts.length - 1]!.id;
      const hosts = JSON.parse((await api(`/api/v1/rollouts/${deployment}/hosts`)).text) as { hosts: { systemId: string; region: string }[]; regionMachineUrls: Record<string, string> };
      expect(new Set(hosts.hosts.map((h) => h.region))).toEqual(new Set(["a", "b"]));
      expect(hosts.hosts.every((h) => h.systemId.startsWith(`${h.region}/`))).toBe(true);
      expect(Object.keys(hosts.regionMachineUrls).sort()).toEqual(["a", "b"]);
      const one = hosts.hosts.find((h) => h.region === "b")!;
      const detail = JSON.parse((await api(`/api/v1/rollouts/${deployment}/hosts/${encodeURIComponent(one.systemId)}`)).text) as { region: string };
      expect(detail.region).toBe("b");

      // The metrics follow the latest rollout (the re-provisioning of a's host): by region and phase.
      const before = (await api("/metrics")).text;
      expect(before).toMatch(/metalwave_machines_by_region\{region="a",phase="inService"\} 1\n/);
      expect(before).not.toMatch(/metalwave_machines_by_region\{region="b"/);
      expect(before).toMatch(/metalwave_region_up\{region="a"\} 1/);
      expect(before).toMatch(/metalwave_region_up\{region="b"\} 1/);

      // A re-provisioning through the service goes to the host's region.
      const again = "b-az1-storage-dense-0001";
      const started = await api("/api/v1/reprovision", { method: "POST", body: JSON.stringify({ hosts: [again], reason: "api" }) });
      expect(started.status).toBe(202);
      await until("the re-provisioning through the service to end", async () => (JSON.parse((await api("/api/v1/maintenance")).text) as { running: unknown }).running === null, { limitMs: 30_000, everyMs: 50 });
      expect(calls(b, again)).toEqual({ deployed: 2, released: 1 });
      const after = (await api("/metrics")).text;
      expect(after).toMatch(/metalwave_machines_by_region\{region="b",phase="inService"\} 1\n/);
      expect(after).not.toMatch(/metalwave_machines_by_region\{region="a"/);
    } finally {
      await service.stop();
    }
  }, 180_000);
});

/** `metalwave serve` on the two regions; its address from its start log line. */
async function serve(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [MAIN, "serve", "--config", config, "--listen", "127.0.0.1:0", "--log-format", "json"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, METALWAVE_API_TOKEN: TOKEN },
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString("utf8");
      const m = /metalwave service at (http:\/\/[0-9.:]+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  return {
    url,
    stop: async () => {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}
