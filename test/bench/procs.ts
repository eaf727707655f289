/**
 * Child processes for the benchmark: the simulated region (`metalwave sim`), a
 * rollout (`metalwave rollout --json`), a baseline driver, and the memory sampler
 * that watches them through /proc. Every child runs the real CLI entry points
 * with the same Node that runs the benchmark.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MetalwaveError } from "../../src/errors.ts";
import type { SimStats } from "../../src/sim/index.ts";
import type { RolloutSummary } from "../../src/runtime/rollout-runner.ts";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = `${REPO}src/cli/main.ts`;
const RSS_HOOK = new URL("./maxrss-hook.ts", import.meta.url).href;

export type BenchErrorCode =
  /** A child process (simulator, rollout, baseline) failed or printed nothing usable. */
  | "BENCH_CHILD"
  /** A run did not reach the expected end state (machines not all Deployed). */
  | "BENCH_INCOMPLETE"
  /** A bad benchmark flag. */
  | "BENCH_USAGE";

export class BenchError extends MetalwaveError<BenchErrorCode> {
  readonly code: BenchErrorCode;
  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Peak and current RSS of a live process from /proc/<pid>/status, in bytes; undefined once it is gone. */
export function readProcMemory(pid: number): { hwm: number; rss: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN) * 1024;
  return { hwm: kib("VmHWM"), rss: kib("VmRSS") };
}

/**
 * CPU time (user + system) a live process has used so far, in ms, from /proc/<pid>/stat
 * (fields 14 and 15, in clock ticks: 100 per second on Linux, USER_HZ); undefined once it is gone.
 */
export function readProcCpuMs(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / USER_HZ : undefined;
}

const USER_HZ = 100;

/** Samples a process's VmHWM (peak RSS) every `everyMs` until stopped or the process is gone. */
export class MemorySampler {
  peakHwm = 0;
  samples = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(pid: number, everyMs = 200) {
    const take = () => {
      const m = readProcMemory(pid);
      if (!m) return;
      this.samples++;
      if (m.hwm > this.peakHwm) this.peakHwm = m.hwm;
    };
    take();
    this.timer = setInterval(take, everyMs);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

function waitExit(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export interface SimProcess {
  url: string;
  apiKey: string;
  pid: number;
  sampler: MemorySampler;
  /** CPU ms the region process has used so far (read from /proc). */
  cpuMs(): number;
  stats(withMachines?: boolean): Promise<SimStats>;
  stop(): Promise<void>;
}

export interface SimProcessOptions {
  machines: number;
  /** A number, or "inf" for zero durations. */
  speed: number | "inf";
  durations?: string;
  seed: number;
  keyFile: string;
  logFile: string;
  /** Options for Node itself, e.g. --cpu-prof (the region writes its profile when SIGTERM stops it). */
  nodeArgs?: readonly string[];
}

/** Starts `metalwave sim --port 0 ...` and resolves once it has printed its URL and written the key file. */
export async function startSimProcess(o: SimProcessOptions): Promise<SimProcess> {
  const args = [CLI, "sim", "--port", "0", "--machines", String(o.machines), "--speed", String(o.speed), "--seed", String(o.seed), "--key-file", o.keyFile];
  if (o.durations) args.push("--durations", o.durations);
  const log = openSync(o.logFile, "a");
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), ...args], { cwd: REPO, stdio: ["ignore", "pipe", log] });
  closeSync(log);
  const exited = waitExit(child);
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const m = /MAAS simulator: (\S+)/.exec(out);
      if (m && /^API key: /m.test(out)) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new BenchError("BENCH_CHILD", `metalwave sim exited with code ${code} before serving; see ${o.logFile}`)));
  });
  const apiKey = readFileSync(o.keyFile, "utf8").trim();
  const base = url.replace(/\/MAAS$/, "");
  const pid = child.pid as number;
  const sampler = new MemorySampler(pid);
  return {
    url,
    apiKey,
    pid,
    sampler,
    cpuMs: () => {
      const ms = readProcCpuMs(pid);
      if (ms === undefined) throw new BenchError("BENCH_CHILD", `metalwave sim (pid ${pid}) is gone; see ${o.logFile}`);
      return ms;
    },
    stats: async (withMachines = false) => {
      const r = await fetch(`${base}/sim/stats${withMachines ? "" : "?machines=0"}`);
      if (!r.ok) throw new BenchError("BENCH_CHILD", `GET /sim/stats answered ${r.status}`);
      return (await r.json()) as SimStats;
    },
    stop: async () => {
      sampler.stop();
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export interface ChildRun {
  exitCode: number;
  /** From spawn to exit: Node start-up and module loading included. */
  wallMs: number;
  stdout: string;
  /** Peak RSS as the process itself reported it at exit (ru_maxrss), if the hook ran. */
  maxRssBytes: number | undefined;
  /** Peak RSS seen by sampling /proc/<pid>/status VmHWM. */
  sampledHwmBytes: number;
  cpuMs: number | undefined;
  /** The largest V8 heap figures the hook's sampler saw (heapUsed, heapTotal, external, arrayBuffers). */
  peakHeap: HeapPeaks | undefined;
}

export interface HeapPeaks {
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

/**
 * Runs `node [--import hook] <args>` to the end with stdout captured and stderr sent
 * to a file, sampling its memory as it goes.
 */
export interface ChildOptions {
  logFile: string;
  rssFile: string;
  env?: NodeJS.ProcessEnv;
  /** Options for Node itself, e.g. --cpu-prof. */
  nodeArgs?: readonly string[];
  /** SIGTERM the child after this long (a rollout then pauses and exits). Default 20 minutes. */
  timeoutMs?: number;
}

export async function runChild(args: readonly string[], o: ChildOptions): Promise<ChildRun> {
  const log = openSync(o.logFile, "a");
  const started = performance.now();
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), "--import", RSS_HOOK, ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", log],
    env: { ...process.env, ...o.env, METALWAVE_BENCH_RSS_FILE: o.rssFile },
  });
  closeSync(log);
  const sampler = new MemorySampler(child.pid as number);
  let stdout = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (c: string) => (stdout += c));
  const timer = setTimeout(() => child.kill("SIGTERM"), o.timeoutMs ?? 20 * 60_000);
  const exitCode = await waitExit(child).finally(() => clearTimeout(timer));
  const wallMs = performance.now() - started;
  sampler.stop();
  let hook: { maxRssBytes?: number; userCpuMs?: number; systemCpuMs?: number; peak?: HeapPeaks } = {};
  if (existsSync(o.rssFile)) hook = JSON.parse(readFileSync(o.rssFile, "utf8")) as typeof hook;
  return {
    exitCode,
    wallMs,
    stdout,
    maxRssBytes: hook.maxRssBytes,
    sampledHwmBytes: sampler.peakHwm,
    cpuMs: hook.userCpuMs !== undefined && hook.systemCpuMs !== undefined ? hook.userCpuMs + hook.systemCpuMs : undefined,
    peakHeap: hook.peak,
  };
}

export interface RolloutRun extends ChildRun {
  summary: RolloutSummary;
}

/** `metalwave rollout --config FILE --json`, exactly as an operator runs it. */
export async function runRolloutCli(configFile: string, o: ChildOptions): Promise<RolloutRun> {
  const run = await runChild([CLI, "rollout", "--config", configFile, "--json"], o);
  let summary: RolloutSummary;
  try {
    summary = JSON.parse(run.stdout) as RolloutSummary;
  } catch (e) {
    throw new BenchError("BENCH_CHILD", `metalwave rollout exited with code ${run.exitCode} without a JSON summary; see ${o.logFile}`, { cause: e });
  }
  return { ...run, summary };
}
