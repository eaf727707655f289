/**
 * What an operator sees in a terminal: metalwave run in a pseudo-terminal (util-linux
 * `script`), its output played into a terminal emulator of the same size. Log lines are
 * human (time, level, component), above the progress block; the block is redrawn in place
 * at any width without leaving stale rows or eating log lines; off a terminal the log is
 * JSON, one object a line, each key once.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createTerminal } from "../../src/cli/terminal.ts";
import { emulate } from "./screen.ts";
import { runCli } from "../runtime/cli.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const LOG_LINE = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /;

async function inPty(args: string[], columns: number, rows: number): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, MAIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("script", ["-qec", `stty cols ${columns} rows ${rows}; exec ${quoted}`, "/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, TERM: "xterm-256color", NO_COLOR: "", METALWAVE_LOG_LEVEL: "" },
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
  const [code] = (await once(child, "exit")) as [number | null];
  child.stdin.end();
  return { code, output };
}

/** A stand-in for a TTY stream: what is written, at a width that can change. */
function fakeTty(columns: number) {
  let out = "";
  const listeners: (() => void)[] = [];
  const stream = {
    isTTY: true,
    columns,
    // A terminal's line discipline turns LF into CR LF (onlcr).
    write: (s: string) => ((out += s.replace(/\n/g, "\r\n")), true),
    on: (_: string, f: () => void) => listeners.push(f),
    off: () => undefined,
  };
  return { stream: stream as unknown as NodeJS.WriteStream, out: () => out, resize: (n: number) => ((stream.columns = n), listeners.forEach((f) => f())) };
}

describe("the terminal's live block", () => {
  it("wraps a block line longer than the width itself, so redraws erase exactly what they drew", () => {
    const t = fakeTty(40);
    const term = createTerminal(t.stream);
    const long = "phases: enlisted 3 · commissioning 12 · tagging 4 · deploying 30 · layering 7 · inService 100";
    term.block(["rollout r1  running  1.0s", long]);
    term.line("12:00:00.000 INFO  first log line");
    term.block(["rollout r1  running  2.0s", long]);
    term.line("12:00:01.000 WARN  second log line, long enough to wrap at forty columns on its own");
    term.block(["rollout r1  completed  3.0s", "phases: inService 156"]);
    term.release();
    const screen = emulate(t.out(), 40, 24);
    expect(screen.rows.every((r) => r.length <= 40)).toBe(true);
    expect(screen.lines).toEqual([
      "12:00:00.000 INFO  first log line",
      "12:00:01.000 WARN  second log line, long enough to wrap at forty columns on its own",
      "rollout r1  completed  3.0s",
      "phases: inService 156",
    ]);
  });

  it("redraws after the terminal narrows without leaving rows of the old block", () => {
    const t = fakeTty(80);
    const term = createTerminal(t.stream);
    term.line("12:00:00.000 INFO  before");
    term.block(["rollout r1  running  1.0s  MAAS requests 12  with a long tail that takes sixty columns"]);
    // The terminal re-wraps what it holds at the new width (as xterm and tmux do).
    t.resize(30);
    const rewrapped = emulate(t.out(), 30, 24);
    expect(rewrapped.lines).toEqual(["12:00:00.000 INFO  before", "rollout r1  running  1.0s", "  MAAS requests 12  with a", "  long tail that takes sixty", "  columns"]);
  });
});

describe("metalwave start in a terminal", () => {
  // Layers off: what is looked at is the terminal (log lines, the block's redraws), not what the
  // lines say; a layered run takes three times as long. At debug, a 10-machine run still writes
  // some 250 lines (MAAS requests, transitions), each one a redraw of the block under it.
  const dir = mkdtempSync(join(tmpdir(), "mw-tty-"));
  const noLayers = join(dir, "no-layers.yaml");
  writeFileSync(noLayers, "layers: { enabled: false }\n");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([[80], [50]])("at %i columns: human log lines above the progress, no stale block rows, no log line lost", async (columns) => {
    const run = await inPty(["start", "--config", noLayers, "--machines", "10", "--speed", "0", "--log-level", "debug"], columns, 24);
    expect(run.code, run.output.slice(-2000)).toBe(0);
    const screen = emulate(run.output, columns, 24);
    // Every log line written is on the screen whole, in human form, never as JSON.
    const written = run.output.replace(ANSI, "").split(/\r?\n/).map((l) => l.replace(/^\r/, "").split("\r").pop()!).filter((l) => LOG_LINE.test(l));
    expect(written.length).toBeGreaterThan(100);
    const shown = screen.lines.filter((l) => LOG_LINE.test(l));
    expect(shown).toEqual(written);
    expect(screen.lines.some((l) => l.startsWith("{"))).toBe(false);
    // Colour on a terminal: the level is coloured.
    expect(run.output).toContain("\x1b[32mINFO");
    // One progress block is left, the final one, below the logs; no stale header above.
    const headers = screen.lines.filter((l) => /^rollout \S+ {2}(running|completed|paused)/.test(l));
    expect(headers).toHaveLength(1);
    expect(headers[0]).toMatch(/completed/);
    expect(screen.rows.every((r) => r.length <= columns)).toBe(true);
    const last = screen.lines.lastIndexOf(headers[0]!);
    expect(screen.lines.slice(0, last).filter((l) => LOG_LINE.test(l))).toEqual(shown);
    expect(screen.lines.some((l) => l.startsWith("SIMULATED MAAS region"))).toBe(true);
  }, 120_000);
});

describe("off a terminal", () => {
  it("logs JSON, one object a line with each key once, and progress as log records", async () => {
    const out = await runCli(["start", "--machines", "10", "--speed", "0", "--log-level", "debug", "--json"], { METALWAVE_LOG_LEVEL: "" });
    expect(out.code, out.stderr.slice(-2000)).toBe(0);
    const lines = out.stderr.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(20);
    for (const line of lines) {
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(typeof record["level"]).toBe("number");
      // Each key once: the parsed object has as many keys as the line has top-level keys.
      expect(topLevelKeys(line)).toEqual(Object.keys(record));
    }
    expect(lines.some((l) => l.includes('"component":"layers"'))).toBe(true);
    expect((JSON.parse(out.stdout) as { region: { simulated: boolean } }).region.simulated).toBe(true);
  }, 120_000);

  it("--log-format text writes human lines; a bad --log-format or --log-level is a usage error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mw-tty-"));
    const small = join(dir, "small.yaml");
    writeFileSync(small, "simulator: { machines: 3, speed: 0 }\nlayers: { enabled: false }\n");
    const text = await runCli(["plan", "--simulated", "--config", small, "--log-format", "text", "--log-level", "info", "--json"], {});
    rmSync(dir, { recursive: true, force: true });
    expect(text.stderr.split("\n").filter(Boolean).every((l) => LOG_LINE.test(l)), text.stderr).toBe(true);
    expect(text.stderr).toContain("INFO  embedded simulated MAAS region started");
    const bad = await runCli(["plan", "--simulated", "--log-format", "yaml"], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--log-format <format>' argument 'yaml' is invalid. Allowed choices are json, text/);
    const level = await runCli(["status", "--log-level", "loud"], {});
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/--log-level <level>' argument 'loud' is invalid. Allowed choices are trace, debug, info, warn, error, fatal, silent/);
  }, 180_000);
});

/** The keys of a JSON object line at its top level, in order, duplicates kept. */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === "\\" ? 2 : 1;
      if (depth === 1 && line[j + 1] === ":") keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      i = j;
    } else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") depth--;
  }
  return keys;
}
