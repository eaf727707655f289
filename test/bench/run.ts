/**
 * `npm run bench`: the performance figures of issue 3 (docs/bench.md).
 *
 * 1. scale (scale.ts): a 10,000-machine simulated region with zero durations (`metalwave sim`
 *    child) rolled out by `metalwave rollout --json` (another child): wall time,
 *    peak RSS, MAAS requests per machine from /sim/stats, CPU per machine of both
 *    processes; at several sizes with `--machines 10000,30000,100000`.
 * 2. timed: a few hundred machines with fixed, realistic phase durations, time-scaled:
 *    the rollout's makespan against makespanLowerBound(), and where the difference went.
 * 3. baselines: the same fleet and durations deployed by a Terraform-style client and
 *    by the reference deployer's all-at-once strategy (test/bench/baselines.ts).
 *
 * Prints a table on stdout (progress on stderr); `--json FILE` writes the figures.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseConfig } from "../../src/config.ts";
import { startSimulator } from "../../src/sim/index.ts";
import type { SimStats } from "../../src/sim/index.ts";
import { openStore } from "../../src/store/index.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { makespanLowerBound, parseWavePolicy, type WavePolicy } from "../../state-machines/waves.ts";
import { BenchError, CLI, REPO, runChild, runRolloutCli } from "./procs.ts";
import { breakdown, phaseTimes, PART_NAMES, type Breakdown, type HostParts, type SimTimes } from "./timeline.ts";
import { STRATEGIES, type BaselineResult, type Strategy } from "./baselines.ts";
import { runStoreBench, type StoreFigures } from "./store.ts";
import { jujuWatchSection, jujuWatchSummaryRow, runJujuWatchBench, type JujuWatchFigures } from "./juju-watch.ts";
import { runScale, scaleSection, scaleSummaryRows, type ScaleFigures } from "./scale.ts";

const HELP = `usage: npm run bench -- [options]

Measures metalwave against simulated MAAS regions (docs/bench.md) and prints a table.

options:
  --quick               smaller sizes: 2,000 machines for the scale run, 100 for the timed runs, speed 600
  --json FILE           also write every figure as JSON to FILE
  --machines N[,N...]   scale run: machines, zero durations (default 10000); a list runs one scale run per size,
                        smallest first, and prints CPU per machine by size (e.g. 10000,30000,100000)
  --timed-machines N    timed and baseline runs: machines (default 300)
  --speed X             timed and baseline runs: divides every realistic duration and poll interval (default 300)
  --ratio-speed X       the run whose makespan / bound is checked against the goal (default 100; --quick 300);
                        a rollout's fixed costs weigh less at a slower time scale, as they do at real speed
  --commission-s S      timed runs: realistic commissioning seconds, the same for every machine (default 450)
  --deploy-s S          timed runs: realistic deploying seconds (default 900)
  --waves LIST          timed run: rollout.waves, e.g. 1,10,5%,25%,100% (default: the config default)
  --seed N              simulator seed (default 7)
  --skip-scale          leave out the scale run
  --skip-timed          leave out the timed run (and so the baselines, which are compared with it)
  --skip-baselines      leave out the baseline runs
  --skip-store          leave out the store's cost per host transition (SQLite and PostgreSQL)
  --store-transitions N store section: host transitions per measurement (default 2000; --quick 500)
  --skip-juju-watch     leave out the Juju watch's cost (AllWatcher against FullStatus polling)
  --watch-units N       Juju watch section: units in the model (default 5000; --quick 1000)
  --watch-seconds S     Juju watch section: measuring window (default 60; --quick 20)
  --watch-change-rate X Juju watch section: status changes per unit per minute (default 1)
  --keep                keep the working directory (configs, stores, logs) and print its path
  --cpu-prof            write V8 CPU profiles of the rollout processes (and the scale run's region) into the working directory (implies --keep)
  -h, --help            this help`;

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const GOALS = {
  boundRatio: 1.05,
};

interface Flags {
  quick: boolean;
  json: string | undefined;
  machines: number[];
  timedMachines: number;
  speed: number;
  ratioSpeed: number;
  commissionS: number;
  deployS: number;
  waves: WavePolicy | undefined;
  seed: number;
  skipScale: boolean;
  skipTimed: boolean;
  skipBaselines: boolean;
  skipStore: boolean;
  storeTransitions: number;
  skipJujuWatch: boolean;
  watchUnits: number;
  watchSeconds: number;
  watchChangeRate: number;
  keep: boolean;
  cpuProf: boolean;
}

function positive(name: string, text: string | undefined, dflt: number, integer: boolean): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new BenchError("BENCH_USAGE", `--${name}: expected a ${integer ? "whole " : ""}number > 0, got ${JSON.stringify(text)}`);
  }
  return n;
}

function parseFlags(argv: string[]): Flags | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: "boolean", default: false },
        json: { type: "string" },
        machines: { type: "string" },
        "timed-machines": { type: "string" },
        speed: { type: "string" },
        "ratio-speed": { type: "string" },
        "commission-s": { type: "string" },
        "deploy-s": { type: "string" },
        waves: { type: "string" },
        seed: { type: "string" },
        "skip-scale": { type: "boolean", default: false },
        "skip-timed": { type: "boolean", default: false },
        "skip-baselines": { type: "boolean", default: false },
        "skip-store": { type: "boolean", default: false },
        "store-transitions": { type: "string" },
        "skip-juju-watch": { type: "boolean", default: false },
        "watch-units": { type: "string" },
        "watch-seconds": { type: "string" },
        "watch-change-rate": { type: "string" },
        keep: { type: "boolean", default: false },
        "cpu-prof": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    throw new BenchError("BENCH_USAGE", `${(e as Error).message}\n\n${HELP}`, { cause: e });
  }
  if (values.help) return undefined;
  const q = values.quick;
  let waves: WavePolicy | undefined;
  if (values.waves !== undefined) {
    const entries = values.waves.split(",").map((s) => s.trim()).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    try {
      waves = parseWavePolicy(entries, "--waves");
    } catch (e) {
      throw new BenchError("BENCH_USAGE", (e as Error).message, { cause: e });
    }
  }
  return {
    quick: q,
    json: values.json,
    machines:
      values.machines === undefined
        ? [q ? 2_000 : 10_000]
        : [...new Set(values.machines.split(",").map((m) => positive("machines", m.trim(), 0, true)))].sort((a, b) => a - b),
    timedMachines: positive("timed-machines", values["timed-machines"], q ? 100 : 300, true),
    speed: positive("speed", values.speed, q ? 600 : 300, false),
    ratioSpeed: positive("ratio-speed", values["ratio-speed"], q ? 300 : 100, false),
    commissionS: positive("commission-s", values["commission-s"], 450, false),
    deployS: positive("deploy-s", values["deploy-s"], 900, false),
    waves,
    seed: positive("seed", values.seed, 7, true),
    skipScale: values["skip-scale"],
    skipTimed: values["skip-timed"],
    skipBaselines: values["skip-baselines"] || values["skip-timed"],
    skipStore: values["skip-store"],
    storeTransitions: positive("store-transitions", values["store-transitions"], q ? 500 : 2_000, true),
    skipJujuWatch: values["skip-juju-watch"],
    watchUnits: positive("watch-units", values["watch-units"], q ? 1_000 : 5_000, true),
    watchSeconds: positive("watch-seconds", values["watch-seconds"], q ? 20 : 60, false),
    watchChangeRate: positive("watch-change-rate", values["watch-change-rate"], 1, false),
    keep: values.keep || values["cpu-prof"],
    cpuProf: values["cpu-prof"],
  };
}

// ---------------------------------------------------------------------------- helpers

function note(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

function requestsByOperation(stats: SimStats): Record<string, number> {
  return Object.fromEntries(
    Object.entries(stats.requests.byOperation)
      .map(([op, s]) => [op, s.total] as const)
      .sort((a, b) => b[1] - a[1]),
  );
}

const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Node options for a rollout child: a CPU profile in the working directory with --cpu-prof. */
function profileArgs(f: Flags, dir: string, name: string): string[] {
  return f.cpuProf ? ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-name", `${name}.cpuprofile`] : [];
}

/** The 1-minute load average: other work on the machine shows here and skews wall times. */
const load1 = () => round(loadavg()[0] ?? 0, 2);

// ---------------------------------------------------------------------------- 2. timed

interface TimedSetup {
  machines: number;
  speed: number;
  seed: number;
  /** Realistic seconds. */
  commissionS: number;
  deployS: number;
  /** Real (scaled) milliseconds. */
  commissionMs: number;
  deployMs: number;
}

/** A fresh embedded region with fixed durations; records when each machine changed status. */
async function timedRegion(t: TimedSetup, dir: string, name: string) {
  const sim = await startSimulator({
    port: 0,
    machines: t.machines,
    speed: t.speed,
    durations: { commission: t.commissionS, deploy: t.deployS },
    seed: t.seed,
  });
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(keyFile, `${sim.apiKey}\n`, { mode: 0o600 });
  const times = new Map<string, SimTimes>();
  const FIELD: Partial<Record<number, keyof SimTimes>> = {
    [NodeStatus.COMMISSIONING]: "commissioning",
    [NodeStatus.READY]: "ready",
    [NodeStatus.DEPLOYING]: "deploying",
    [NodeStatus.DEPLOYED]: "deployed",
  };
  sim.region.watch((m, _from, to) => {
    const field = FIELD[to];
    if (!field) return;
    let r = times.get(m.systemId);
    if (!r) times.set(m.systemId, (r = {}));
    r[field] ??= Date.now();
  });
  const stats = async (): Promise<SimStats> => {
    const r = await fetch(`${sim.url.replace(/\/MAAS$/, "")}/sim/stats?machines=0`);
    return (await r.json()) as SimStats;
  };
  return { sim, keyFile, times, stats };
}

interface TimedFigures {
  setup: TimedSetup & { pollIntervalMs: number; waves: WavePolicy; cap: number };
  waveSizes: number[];
  makespanMs: number;
  boundMs: number;
  ratio: number;
  pass: boolean;
  requests: number;
  requestsPerMachine: number;
  requestsByOperation: Record<string, number>;
  peakRssBytes: number | undefined;
  /** CPU time of the rollout process. */
  rolloutCpuMs: number | undefined;
  /** CPU time of the simulated region (in the bench process) during the rollout. */
  regionCpuMs: number;
  load1m: { before: number; after: number };
  breakdown: Breakdown;
}

/** The stored plan's waves (system ids); only this much of the plan's shape is relied on. */
function wavesOf(plan: unknown): string[][] {
  const waves = (plan as { waves?: unknown } | null)?.waves;
  if (!Array.isArray(waves) || !waves.every((w) => Array.isArray(w) && w.every((id) => typeof id === "string"))) {
    throw new BenchError("BENCH_INCOMPLETE", "timed: the stored rollout plan has no waves of system ids");
  }
  return waves as string[][];
}

async function runTimed(f: Flags, t: TimedSetup, dir: string): Promise<TimedFigures> {
  const { sim, keyFile, times, stats } = await timedRegion(t, dir, "timed");
  try {
    // The config default's 2 s poll interval, time-scaled like everything else.
    const pollIntervalMs = Math.max(1, Math.round(2_000 / t.speed));
    const raw = {
      maas: { url: sim.url, apiKeyFile: keyFile, requestsPerSecond: 0, pollIntervalMs },
      layers: { enabled: false },
      ...(f.waves ? { rollout: { waves: f.waves } } : {}),
      store: join(dir, "timed.sqlite"),
    };
    const config = parseConfig(raw, "bench timed config");
    const configFile = join(dir, "timed-config.json");
    writeJson(configFile, raw);
    note(`timed: ${t.machines} machines, commission ${t.commissionS} s + deploy ${t.deployS} s at speed ${t.speed}; metalwave rollout (child process)`);
    const loadBefore = load1();
    // The region runs in this process, which does nothing else meanwhile: its CPU time is the region's.
    const cpuBefore = process.cpuUsage();
    const run = await runRolloutCli(configFile, { logFile: join(dir, "timed-rollout.log"), rssFile: join(dir, "timed-rss.json"), nodeArgs: profileArgs(f, dir, "timed-rollout") });
    const loadAfter = load1();
    const cpu = process.cpuUsage(cpuBefore);
    const regionCpuMs = round((cpu.user + cpu.system) / 1000);
    const s = await stats();
    const deployed = s.statusCounts["Deployed"] ?? 0;
    if (run.summary.state !== "completed" || deployed !== t.machines) {
      throw new BenchError("BENCH_INCOMPLETE", `timed: rollout ended ${run.summary.state} (exit ${run.exitCode}) with ${deployed}/${t.machines} machines Deployed; see ${dir}`);
    }
    const store = openStore(config.store);
    let waves: string[][];
    let phases;
    try {
      const latest = store.latestRollout();
      if (!latest) throw new BenchError("BENCH_INCOMPLETE", `timed: no rollout in ${config.store}`);
      waves = wavesOf(latest.plan);
      phases = phaseTimes(store.journal(latest.id, { kind: "transition" }));
    } finally {
      store.close();
    }
    const cap = config.rollout.maxInFlight;
    const waveSizes = waves.map((w) => w.length);
    const boundMs = makespanLowerBound(waveSizes, cap, { commissioning: t.commissionMs, deploying: t.deployMs });
    const makespanMs = run.summary.elapsedMs;
    const bd = breakdown({ waves, cap, commissionMs: t.commissionMs, deployMs: t.deployMs, makespanMs, sim: times, phases });
    return {
      setup: { ...t, pollIntervalMs, waves: config.rollout.waves as WavePolicy, cap },
      waveSizes,
      makespanMs,
      boundMs,
      ratio: round(makespanMs / boundMs, 4),
      pass: makespanMs / boundMs <= GOALS.boundRatio,
      requests: s.requests.total,
      requestsPerMachine: round(s.requests.total / t.machines, 2),
      requestsByOperation: requestsByOperation(s),
      peakRssBytes: run.maxRssBytes,
      rolloutCpuMs: run.cpuMs,
      regionCpuMs,
      load1m: { before: loadBefore, after: loadAfter },
      breakdown: bd,
    };
  } finally {
    await sim.close();
  }
}

// ---------------------------------------------------------------------------- 3. baselines

interface BaselineFigures {
  strategy: Strategy;
  pollMs: number;
  parallelism: number | undefined;
  makespanMs: number;
  requests: number;
  requestsPerMachine: number;
  requestsByOperation: Record<string, number>;
  machinesRead: number;
  makespanRatio: number | undefined;
  requestsRatio: number | undefined;
}

async function runBaselineChild(strategy: Strategy, t: TimedSetup, dir: string): Promise<BaselineFigures> {
  const { sim, keyFile, stats } = await timedRegion(t, dir, strategy);
  try {
    // The 10 s poll both model (Terraform's provider, the reference's deploy wait), time-scaled.
    const pollMs = Math.max(1, Math.round(10_000 / t.speed));
    const parallelism = strategy === "terraform" ? 10 : undefined;
    note(`baseline ${strategy}: ${t.machines} machines, poll every ${pollMs} ms (10 s realistic) (child process)`);
    const run = await runChild(
      [
        `${REPO}test/bench/baselines.ts`,
        "--strategy", strategy,
        "--url", sim.url,
        "--key-file", keyFile,
        "--poll-ms", String(pollMs),
        "--parallelism", String(parallelism ?? 1),
        "--wait-timeout-ms", String(Math.round(3_600_000 / t.speed)),
        "--max-in-flight", "4",
        "--requests-per-second", "0",
      ],
      { logFile: join(dir, `${strategy}.log`), rssFile: join(dir, `${strategy}-rss.json`) },
    );
    let result: BaselineResult;
    try {
      result = JSON.parse(run.stdout) as BaselineResult;
    } catch (e) {
      throw new BenchError("BENCH_CHILD", `baseline ${strategy} exited with code ${run.exitCode} without a result; see ${dir}/${strategy}.log`, { cause: e });
    }
    const s = await stats();
    if (result.deployed !== t.machines || (s.statusCounts["Deployed"] ?? 0) !== t.machines) {
      throw new BenchError("BENCH_INCOMPLETE", `baseline ${strategy}: ${result.deployed}/${t.machines} deployed (${result.failures[0]?.reason ?? "?"})`);
    }
    return {
      strategy,
      pollMs,
      parallelism,
      makespanMs: round(result.makespanMs),
      requests: s.requests.total,
      requestsPerMachine: round(s.requests.total / t.machines, 2),
      requestsByOperation: requestsByOperation(s),
      machinesRead: result.machinesRead,
      makespanRatio: undefined,
      requestsRatio: undefined,
    };
  } finally {
    await sim.close();
  }
}

// ---------------------------------------------------------------------------- output

const fmtS = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const fmtBytes = (b: number) => (b >= GIB ? `${(b / GIB).toFixed(2)} GiB` : `${Math.round(b / MIB)} MiB`);
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => "  " + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("   ").trimEnd()).join("\n");
}

function partLabel(k: keyof HostParts | "startOffset"): string {
  switch (k) {
    case "startOffset":
      return "start offset within the wave";
    case "commissionRequest":
      return "commission request (host started → MAAS Commissioning)";
    case "simLate":
      return "simulator timers late";
    case "readyObserved":
      return "Ready observed (MAAS Ready → host hears it)";
    case "tagging":
      return "tagging (batch window, update_nodes, disk add_tag)";
    case "allocate":
      return "allocate request";
    case "deployRequest":
      return "deploy request (→ MAAS Deploying)";
    case "deployedObserved":
      return "Deployed observed (MAAS Deployed → host hears it)";
    case "settle":
      return "deployed → in service (layering no-op)";
  }
}

interface Report {
  date: string;
  host: { cpus: number; memoryBytes: number; node: string };
  flags: Omit<Flags, "json" | "keep" | "cpuProf">;
  /** The largest scale run (the one the goals name). */
  scale?: ScaleFigures;
  /** Every scale run, smallest first (one per `--machines` size). */
  scaleRuns?: ScaleFigures[];
  timed?: TimedFigures;
  /** The timed rollout again at --ratio-speed: the one the ratio goal is checked on. */
  ratioRun?: TimedFigures;
  baselines?: BaselineFigures[];
  store?: StoreFigures;
  jujuWatch?: JujuWatchFigures;
}

function printReport(r: Report): void {
  const out: string[] = [];
  out.push(`metalwave bench — ${r.date}, ${r.host.cpus} CPUs, ${fmtBytes(r.host.memoryBytes)} RAM, Node ${r.host.node}${r.flags.quick ? " (--quick)" : ""}`);
  if (r.scaleRuns) out.push(...scaleSection(r.scaleRuns, table));
  if (r.ratioRun) {
    const t = r.ratioRun;
    out.push("");
    out.push(`2. Timed, the goal run: the same rollout at speed ${t.setup.speed} (D = ${fmtS(t.setup.commissionMs + t.setup.deployMs)})`);
    out.push(
      table([
        ["figure", "measured", "goal", ""],
        ["makespan (rollout elapsed)", fmtS(t.makespanMs), "", ""],
        ["lower bound makespanLowerBound()", fmtS(t.boundMs), "", ""],
        ["ratio makespan / bound", t.ratio.toFixed(3), `≤ ${GOALS.boundRatio}`, verdict(t.pass)],
      ]),
    );
    out.push(`  makespan − bound = ${fmtS(t.breakdown.overheadMs)} (at speed ${r.timed?.setup.speed ?? "?"} below it was ${r.timed ? fmtS(r.timed.breakdown.overheadMs) : "?"}: a fixed cost, not a share of the durations)`);
  }
  if (r.timed) {
    const t = r.timed;
    const b = t.breakdown;
    out.push("");
    out.push(
      `2. Timed: ${t.setup.machines} machines, commission ${t.setup.commissionS} s + deploy ${t.setup.deployS} s (fixed) at speed ${t.setup.speed} ` +
        `(D = ${fmtS(t.setup.commissionMs + t.setup.deployMs)}); waves ${t.waveSizes.join("+")}, cap ${t.setup.cap}, observer poll ${t.setup.pollIntervalMs} ms`,
    );
    out.push(
      table([
        ["figure", "measured", "goal", ""],
        ["makespan (rollout elapsed)", fmtS(t.makespanMs), "", ""],
        ["lower bound makespanLowerBound()", fmtS(t.boundMs), "", ""],
        ["ratio makespan / bound", t.ratio.toFixed(3), `≤ ${GOALS.boundRatio}`, verdict(t.pass)],
      ]),
    );
    out.push(
      table([
        ["wave", "hosts", "span", "bound", "excess", "barrier after"],
        ...b.waves.map((w) => [`${w.wave + 1}`, `${w.size}`, `${round(w.spanMs)} ms`, `${round(w.boundMs)} ms`, `${round(w.excessMs)} ms`, `${round(w.barrierMs)} ms`]),
      ]),
    );
    out.push(`  where makespan − bound = ${fmtS(b.overheadMs)} went (ms of real time: these costs do not shrink with --speed, so a slower time scale gives a ratio nearer 1):`);
    const rows: string[][] = [["part", "total", "host mean", "host max"]];
    rows.push(["outside the waves (start-up, planning, shutdown)", `${round(b.outsideWavesMs)}`, "", ""]);
    rows.push(["wave barriers (last host in service → next wave's first host starts)", `${round(b.barriersMs)}`, "", ""]);
    for (const k of ["startOffset", ...PART_NAMES] as const) {
      rows.push([
        `in waves: ${partLabel(k)}`,
        `${round(b.inWaves[k])}`,
        k === "startOffset" ? "" : `${round(b.hostMean[k], 1)}`,
        k === "startOffset" ? "" : `${round(b.hostMax[k])}`,
      ]);
    }
    out.push(table(rows));
    out.push("  (in-waves rows: the parts of each wave's last host to finish, summed over waves; they add up with the first two rows to makespan − bound)");
    out.push(`  requests ${t.requests.toLocaleString("en")} (${t.requestsPerMachine}/machine): ${Object.entries(t.requestsByOperation).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    out.push(
      `  CPU: rollout process ${t.rolloutCpuMs !== undefined ? fmtS(t.rolloutCpuMs) : "?"}, simulated region ${fmtS(t.regionCpuMs)} ` +
        `(${round(t.requests / (t.regionCpuMs / 1000))} requests per region CPU-second); load average ${t.load1m.before} before, ${t.load1m.after} after`,
    );
  }
  if (r.baselines && r.timed) {
    const t = r.timed;
    out.push("");
    out.push(`3. Baselines on the same fleet and durations (poll 10 s realistic = ${r.baselines[0]?.pollMs ?? "?"} ms)`);
    const rows: string[][] = [["strategy", "makespan", "MAAS requests", "machines read", "makespan ÷ metalwave", "requests ÷ metalwave"]];
    rows.push(["metalwave", fmtS(t.makespanMs), t.requests.toLocaleString("en"), "", "1.00", "1.00"]);
    for (const bl of r.baselines) {
      rows.push([
        bl.strategy === "terraform" ? "terraform-style (10 workers)" : "all-at-once (reference deployer)",
        fmtS(bl.makespanMs),
        bl.requests.toLocaleString("en"),
        bl.machinesRead.toLocaleString("en"),
        (bl.makespanRatio ?? NaN).toFixed(2),
        (bl.requestsRatio ?? NaN).toFixed(2),
      ]);
    }
    out.push(table(rows));
  }
  if (r.store) {
    out.push("");
    out.push(`Store: cost per host transition (saveHost + a journal line), ${r.store.costs[0]?.transitions ?? 0} transitions`);
    const rows = [["backend", "written through", "write-behind 200 ms"]];
    for (const c of r.store.costs) rows.push([c.backend, `${c.throughUs.toFixed(0)} µs`, `${c.bufferedUs.toFixed(0)} µs`]);
    for (const s of r.store.skipped) rows.push([s, "", ""]);
    out.push(table(rows));
  }
  if (r.jujuWatch) out.push(...jujuWatchSection(r.jujuWatch, table));
  out.push("");
  out.push("Summary");
  const sum: string[][] = [["figure", "measured", "goal", ""]];
  if (r.scaleRuns) sum.push(...scaleSummaryRows(r.scaleRuns));
  if (r.ratioRun) sum.push([`timed makespan / bound at speed ${r.ratioRun.setup.speed}`, `${r.ratioRun.ratio.toFixed(3)} (${fmtS(r.ratioRun.makespanMs)} / ${fmtS(r.ratioRun.boundMs)})`, `≤ ${GOALS.boundRatio}`, verdict(r.ratioRun.pass)]);
  if (r.timed) sum.push([`timed makespan / bound at speed ${r.timed.setup.speed}${r.ratioRun ? " (baselines' scale)" : ""}`, `${r.timed.ratio.toFixed(3)} (${fmtS(r.timed.makespanMs)} / ${fmtS(r.timed.boundMs)})`, r.ratioRun ? "" : `≤ ${GOALS.boundRatio}`, r.ratioRun ? "" : verdict(r.timed.pass)]);
  for (const bl of r.baselines ?? []) {
    sum.push([`${bl.strategy} ÷ metalwave`, `makespan ${(bl.makespanRatio ?? NaN).toFixed(2)}×, requests ${(bl.requestsRatio ?? NaN).toFixed(2)}×`, "", ""]);
  }
  if (r.jujuWatch) sum.push(jujuWatchSummaryRow(r.jujuWatch));
  out.push(table(sum));
  console.log(out.join("\n"));
}

// ---------------------------------------------------------------------------- main

async function main(argv: string[]): Promise<number> {
  const f = parseFlags(argv);
  if (!f) {
    console.log(HELP);
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), "metalwave-bench-"));
  const report: Report = {
    date: new Date().toISOString().slice(0, 10),
    host: { cpus: cpus().length, memoryBytes: totalmem(), node: process.version },
    flags: {
      quick: f.quick,
      machines: f.machines,
      timedMachines: f.timedMachines,
      speed: f.speed,
      ratioSpeed: f.ratioSpeed,
      commissionS: f.commissionS,
      deployS: f.deployS,
      waves: f.waves,
      seed: f.seed,
      skipScale: f.skipScale,
      skipTimed: f.skipTimed,
      skipBaselines: f.skipBaselines,
      skipStore: f.skipStore,
      storeTransitions: f.storeTransitions,
      skipJujuWatch: f.skipJujuWatch,
      watchUnits: f.watchUnits,
      watchSeconds: f.watchSeconds,
      watchChangeRate: f.watchChangeRate,
    },
  };
  const started = performance.now();
  try {
    if (!f.skipScale) {
      report.scaleRuns = [];
      for (const machines of f.machines) report.scaleRuns.push(await runScale({ machines, seed: f.seed, dir, cpuProf: f.cpuProf, note }));
      report.scale = report.scaleRuns[report.scaleRuns.length - 1];
    }
    const t: TimedSetup = {
      machines: f.timedMachines,
      speed: f.speed,
      seed: f.seed,
      commissionS: f.commissionS,
      deployS: f.deployS,
      commissionMs: (f.commissionS * 1000) / f.speed,
      deployMs: (f.deployS * 1000) / f.speed,
    };
    const timed = f.skipTimed ? undefined : await runTimed(f, t, dir);
    report.timed = timed;
    if (!f.skipTimed && f.ratioSpeed !== f.speed) {
      report.ratioRun = await runTimed(f, { ...t, speed: f.ratioSpeed, commissionMs: (f.commissionS * 1000) / f.ratioSpeed, deployMs: (f.deployS * 1000) / f.ratioSpeed }, dir);
    }
    if (timed && !f.skipBaselines) {
      report.baselines = [];
      for (const strategy of STRATEGIES) {
        const bl = await runBaselineChild(strategy, t, dir);
        bl.makespanRatio = round(bl.makespanMs / timed.makespanMs, 3);
        bl.requestsRatio = round(bl.requests / timed.requests, 3);
        report.baselines.push(bl);
      }
    }
    if (!f.skipStore) report.store = await runStoreBench({ transitions: f.storeTransitions, dir, note });
    if (!f.skipJujuWatch) report.jujuWatch = await runJujuWatchBench({ units: f.watchUnits, seconds: f.watchSeconds, changeRate: f.watchChangeRate, pollMs: 5000, dir, note });
  } finally {
    if (f.keep) note(`working directory kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  note(`done in ${fmtS(performance.now() - started)} (CLI ${CLI})`);
  printReport(report);
  if (f.json) {
    writeJson(f.json, report);
    note(`figures written to ${f.json}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = e instanceof BenchError && e.code === "BENCH_USAGE" ? 2 : 1;
  },
);
