/**
 * One clock port (src/clock.ts, docs/architecture.md "Rooms"): nothing in src/ or
 * state-machines/ reads the system's time but the system clock there. Everything else
 * takes a `Clock`, so that a test or the simulator's manual clock decides what time it is.
 * `new Date(ms)` (formatting a time one already has) and `Date.parse` are fine.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * TypeScript only: src/service/dashboard/*.js runs in the operator's browser, whose clock
 * is the browser's own (it times its redraws and shows "since …" against it), not the service's.
 */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** The one module that reads the system's time. */
const CLOCK_MODULE = "src/clock.ts";

const READS_SYSTEM_TIME = /\bDate\.now\s*\(|\bnew\s+Date\s*\(\s*\)|\bperformance\.now\s*\(/g;

/** `file:line: text` of every read of the system's time in `text`, comments left out. */
export function systemTimeReads(file: string, text: string): string[] {
  const out: string[] = [];
  text.split("\n").forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, "").replace(/^\s*\*.*$/, "");
    if (code.match(READS_SYSTEM_TIME)) out.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  return out;
}

describe("one clock port", () => {
  it("finds a read of the system's time (the check itself can fail)", () => {
    expect(systemTimeReads("x.ts", "const t = Date.now();\nconst d = new Date();\nconst p = performance.now();\nconst ok = new Date(5);")).toEqual([
      "x.ts:1: const t = Date.now();",
      "x.ts:2: const d = new Date();",
      "x.ts:3: const p = performance.now();",
    ]);
  });

  it("nothing in src/ or state-machines/ reads the system's time but src/clock.ts", () => {
    const files = [...sources("src"), ...sources("state-machines")].filter((f) => f !== CLOCK_MODULE);
    expect(files.length).toBeGreaterThan(100);
    const reads = files.flatMap((f) => systemTimeReads(f, readFileSync(join(ROOT, f), "utf8")));
    expect(reads).toEqual([]);
  });

  it("the clock module reads it", () => {
    expect(systemTimeReads(CLOCK_MODULE, readFileSync(join(ROOT, CLOCK_MODULE), "utf8")).length).toBeGreaterThan(0);
  });
});
