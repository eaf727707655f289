/** Runs `metalwave …` (src/cli/main.ts) as a child process, as an operator would, and collects what it printed. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { format } from "node:util";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

let inProcessBusy = false;

/**
 * Runs `metalwave …` in this process: src/cli/main.ts's `main` with `env` set for the call
 * and what it writes to stdout, stderr and the console captured. It spares a child's start
 * (each loads and strips the whole program: about a second of CPU on a loaded machine) for
 * tests of what a command does and prints. Tests of the process itself (its signals, a lock
 * held by another pid, a terminal, output after `main` returns) spawn it with `runCli`.
 * Calls must not overlap: they capture this process's output.
 */
export async function runCliHere(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (inProcessBusy) throw new Error("runCliHere: calls overlap (each captures this process's output)");
  inProcessBusy = true;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const out = { stdout: "", stderr: "" };
  const streams = { stdout: process.stdout.write, stderr: process.stderr.write };
  const consoles = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const capture = (to: "stdout" | "stderr") =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      out[to] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      if (done) queueMicrotask(done);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture("stdout");
  process.stderr.write = capture("stderr");
  console.log = console.info = (...a: unknown[]) => void (out.stdout += `${format(...a)}\n`);
  console.warn = console.error = (...a: unknown[]) => void (out.stderr += `${format(...a)}\n`);
  try {
    const { main } = await import("../../src/cli/main.ts");
    const code = await main(args);
    return { code, ...out };
  } finally {
    process.stdout.write = streams.stdout;
    process.stderr.write = streams.stderr;
    Object.assign(console, consoles);
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    inProcessBusy = false;
  }
}
