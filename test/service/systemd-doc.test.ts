/**
 * docs/service.md gives a systemd unit for `metalwave serve`. An operator copies it as
 * it is, so it must name only flags the command takes, the exit codes it means, and a
 * start command that really runs the service.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/args.ts";
import { SERVE_HELP } from "../../src/cli/serve.ts";

const doc = readFileSync(join(import.meta.dirname, "../../docs/service.md"), "utf8");

function unit(): Map<string, string[]> {
  const block = /```ini\n(\[Unit\][\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error("docs/service.md has no ```ini block with the unit");
  const out = new Map<string, string[]>();
  // Backslash-newline continues a line, as in systemd.
  for (const line of block.replace(/\\\n\s*/g, " ").split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

describe("the systemd unit in docs/service.md", () => {
  it("starts `serve` with flags the command accepts, secrets from credentials", () => {
    const exec = unit().get("ExecStart")?.[0] ?? "";
    const args = exec.split(/\s+/);
    expect(args.slice(1, 3)).toEqual(["/opt/metalwave/src/cli/main.ts", "serve"]);
    const flags = args.filter((a) => a.startsWith("--"));
    expect(flags.length).toBeGreaterThan(4);
    for (const f of flags) expect({ flag: f, inHelp: SERVE_HELP.includes(`  ${f} `) }).toEqual({ flag: f, inHelp: true });
    expect(args[args.indexOf("--api-key-file") + 1]).toBe("%d/maas.key");
    expect(args[args.indexOf("--token-file") + 1]).toBe("%d/api.token");
  });

  it("does not restart on the exit codes that restarting cannot fix (bad input, store locked)", () => {
    expect(unit().get("RestartPreventExitStatus")).toEqual([`${ExitCode.USAGE} ${ExitCode.LOCKED}`]);
    expect(unit().get("Restart")).toEqual(["on-failure"]);
  });
});
