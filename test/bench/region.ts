/**
 * The region alone (docs/bench.md, "The region alone"): `metalwave sim` with N machines and
 * zero durations, driven through its API with no rollout beside it, so that its CPU and
 * memory show at fleet sizes the full scale run cannot reach on a loaded machine. Every
 * machine is read in batches, commissioned, deployed, and waited for with `id`-filtered
 * lists, as the pipeline does; the whole fleet is listed once before (as planning does) and
 * once after, when every machine is a full commissioned object. Prints, per size: the region's CPU ms per machine (start-up,
 * commissioning, deploying), its RSS at rest and its peak RSS, and `uptime`.
 *
 *   node test/bench/region.ts [--machines 10000,30000,100000] [--concurrency 16] [--cpu-prof]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readProcMemory, startSimProcess, BenchError } from "./procs.ts";

const { values } = parseArgs({
  options: { machines: { type: "string", default: "10000" }, concurrency: { type: "string", default: "16" }, "cpu-prof": { type: "boolean", default: false } },
});
const sizes = String(values.machines).split(",").map(Number);
const concurrency = Number(values.concurrency);
const BATCH = 100;
const MIB = 1024 ** 2;

async function drive(n: number, dir: string): Promise<void> {
  const keyFile = join(dir, `region-${n}.key`);
  const prof = values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-name", `region-${n}.cpuprofile`] : [];
  const sim = await startSimProcess({ machines: n, speed: "inf", seed: 1, keyFile, logFile: join(dir, `region-${n}.log`), nodeArgs: prof });
  try {
    const [consumer, token, secret] = sim.apiKey.split(":");
    let nonce = 0;
    const request = async (method: "GET" | "POST", path: string, body?: string): Promise<ArrayBuffer> => {
      const auth =
        `OAuth oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="${consumer}", oauth_token="${token}", ` +
        `oauth_signature="&${secret}", oauth_nonce="n${nonce++}", oauth_timestamp="${Math.floor(Date.now() / 1000)}"`;
      const r = await fetch(`${sim.url}/api/2.0/${path}`, {
        method,
        headers: { Authorization: auth, ...(body !== undefined ? { "Content-Type": "application/x-www-form-urlencoded" } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
      const bytes = await r.arrayBuffer();
      if (!r.ok) throw new BenchError("BENCH_CHILD", `${method} ${path} answered ${r.status}: ${Buffer.from(bytes).subarray(0, 200).toString()}`);
      return bytes;
    };
    const call = async (method: "GET" | "POST", path: string, body?: string): Promise<unknown> => JSON.parse(Buffer.from(await request(method, path, body)).toString()) as unknown;
    /** The whole fleet in one list, as planning reads it: only its size is kept (past V8's longest string at 100,000 Deployed). */
    const listAll = async () => (await request("GET", "machines/")).byteLength;
    const pool = async <T>(items: readonly T[], f: (x: T) => Promise<unknown>) => {
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < items.length) await f(items[next++] as T);
      }));
    };
    const ids = (await sim.stats(true)).machines?.map((m) => m.system_id) ?? [];
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += BATCH) batches.push(ids.slice(i, i + BATCH));
    const waitAll = async (status: string) => {
      let pending = batches;
      while (pending.length > 0) {
        const left: string[][] = [];
        await pool(pending, async (b) => {
          const list = (await call("GET", `machines/?${b.map((id) => `id=${id}`).join("&")}`)) as { system_id: string; status_name: string }[];
          const behind = list.filter((m) => m.status_name !== status).map((m) => m.system_id);
          if (behind.length > 0) left.push(behind);
        });
        pending = left;
      }
    };
    const rest = readProcMemory(sim.pid);
    const cpu0 = sim.cpuMs();
    const listedNew = await listAll();
    await waitAll("New");
    const cpuRead = sim.cpuMs();
    await pool(ids, (id) => call("POST", `machines/${id}/?op=commission`, ""));
    await waitAll("Ready");
    const cpuCommission = sim.cpuMs();
    await pool(ids, (id) => call("POST", `machines/${id}/?op=deploy`, "distro_series=jammy"));
    await waitAll("Deployed");
    const cpuDeploy = sim.cpuMs();
    const listedDeployed = await listAll();
    const cpuList = sim.cpuMs();
    const peak = Math.max(sim.sampler.peakHwm, readProcMemory(sim.pid)?.hwm ?? 0);
    const stats = await sim.stats();
    const per = (ms: number) => (ms / n).toFixed(3);
    console.log(
      `region ${n.toLocaleString("en")} machines: start-up ${(cpu0 / 1000).toFixed(1)} s CPU (${per(cpu0)} ms/machine), RSS at rest ${Math.round((rest?.rss ?? 0) / MIB)} MiB; ` +
        `read (with the first whole-fleet list) ${per(cpuRead - cpu0)}, commission ${per(cpuCommission - cpuRead)}, deploy ${per(cpuDeploy - cpuCommission)} ms/machine ` +
        `(drive total ${per(cpuDeploy - cpu0)} ms/machine, ${(stats.requests.total / n).toFixed(2)} requests/machine); ` +
        `whole-fleet list ${Math.round(listedNew / MIB)} MiB New, ${Math.round(listedDeployed / MIB)} MiB Deployed (${per(cpuList - cpuDeploy)} ms/machine); peak RSS ${Math.round(peak / MIB)} MiB; ` +
        `Deployed ${stats.statusCounts["Deployed"] ?? 0}/${n}`,
    );
    console.log(`  uptime: ${execFileSync("uptime", { encoding: "utf8" }).trim()}`);
  } finally {
    await sim.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), "metalwave-region-"));
console.log(`region bench: ${dir}; concurrency ${concurrency}; uptime: ${execFileSync("uptime", { encoding: "utf8" }).trim()}`);
for (const n of sizes) await drive(n, dir);
