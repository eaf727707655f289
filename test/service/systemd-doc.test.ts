/**
 * deploy/systemd/metalwave.service runs `metalwave serve`, and deploy/oci/Containerfile
 * builds an image of it. An operator installs them as they are, so the unit must pass
 * `systemd-analyze verify`, score low in `systemd-analyze security` (the score
 * docs/service.md gives), and name only flags the command takes and the exit codes it
 * means; the image must install the packed tarball on Node 24 and run the same command.
 * systemd-analyze comes from Debian's `systemd` package (test/setup/system-deps.ts).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/args.ts";
import { SERVE_HELP } from "../../src/cli/serve.ts";

const repo = (p: string) => join(import.meta.dirname, "../..", p);
const UNIT_FILE = repo("deploy/systemd/metalwave.service");
const unitText = readFileSync(UNIT_FILE, "utf8");
const doc = readFileSync(repo("docs/service.md"), "utf8");
const scratch = mkdtempSync(join(tmpdir(), "metalwave-unit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function unit(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  // Backslash-newline continues a line, as in systemd.
  for (const line of unitText.replace(/\\\n\s*/g, " ").split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

function analyze(args: string[]): { status: number | null; out: string } {
  const r = spawnSync("systemd-analyze", args, { encoding: "utf8" });
  if (r.error) throw new Error(`systemd-analyze is needed (Debian package systemd; npm test's pretest installs it): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `systemd-analyze verify` of the unit as shipped but for its ExecStart binary (a stub: metalwave is not installed here). */
function verify(text: string): { status: number | null; out: string } {
  const bin = join(scratch, "metalwave");
  writeFileSync(bin, "#!/bin/sh\n");
  chmodSync(bin, 0o755);
  const file = join(scratch, "metalwave.service");
  writeFileSync(file, text.replaceAll("/usr/local/bin/metalwave", bin));
  return analyze(["verify", file]);
}

describe("deploy/systemd/metalwave.service", () => {
  it("runs the installed `metalwave serve` with flags it accepts, secrets from credentials", () => {
    const args = (unit().get("ExecStart")?.[0] ?? "").split(/\s+/);
    expect(args.slice(0, 2)).toEqual(["/usr/local/bin/metalwave", "serve"]);
    const flags = args.filter((a) => a.startsWith("--"));
    expect(flags.length).toBeGreaterThan(4);
    for (const f of flags) expect({ flag: f, inHelp: SERVE_HELP.includes(`  ${f} `) }).toEqual({ flag: f, inHelp: true });
    expect(args[args.indexOf("--api-key-file") + 1]).toBe("%d/maas.key");
    expect(args[args.indexOf("--token-file") + 1]).toBe("%d/api.token");
    expect(unit().get("LoadCredential")).toEqual(["maas.key:/etc/metalwave/maas.key", "api.token:/etc/metalwave/api.token"]);
  });

  it("does not restart on the exit codes that restarting cannot fix (bad input, store locked)", () => {
    expect(unit().get("RestartPreventExitStatus")).toEqual([`${ExitCode.USAGE} ${ExitCode.LOCKED}`]);
    expect(unit().get("Restart")).toEqual(["on-failure"]);
  });

  it("passes systemd-analyze verify without a word, which does object to a bad key", () => {
    expect(verify(unitText)).toEqual({ status: 0, out: "" });
    const bad = verify(unitText.replace("ProtectHome=yes", "ProtectHome=yes\nProtectEverything=yes\nRestart=sometimes"));
    expect(bad.out).toContain("Unknown key 'ProtectEverything'");
    expect(bad.out).toContain("Failed to parse service restart specifier");
  });

  it("scores low in systemd-analyze security, as docs/service.md says", () => {
    const r = analyze(["security", "--offline=true", "--no-pager", UNIT_FILE]);
    const score = Number(/Overall exposure level for metalwave\.service: (\d+\.\d+)/.exec(r.out)?.[1]);
    expect(score).toBeLessThanOrEqual(2);
    const documented = Number(/`systemd-analyze security --offline=true` scores it (\d+\.\d+)/.exec(doc)?.[1]);
    expect(documented).toBeLessThanOrEqual(2);
    expect(doc).toContain("deploy/systemd/metalwave.service");
  });
});

describe("deploy/oci/Containerfile", () => {
  const text = readFileSync(repo("deploy/oci/Containerfile"), "utf8");
  const instr = (name: string) => [...text.replace(/\\\n\s*/g, " ").matchAll(new RegExp(`^${name} (.+)$`, "gm"))].map((m) => m[1]!);

  it("installs the packed tarball with npm install -g on a Node 24 base, as an unprivileged user", () => {
    expect(text).toMatch(/^ARG NODE_IMAGE=docker\.io\/library\/node:24-[a-z-]+$/m);
    expect(instr("FROM")).toEqual(["${NODE_IMAGE}"]);
    expect(instr("COPY")).toEqual(["metalwave-*.tgz /tmp/"]);
    expect(instr("RUN").join(" ")).toContain("npm install -g --omit=dev /tmp/metalwave-*.tgz");
    expect(instr("USER")).toEqual(["node"]);
  });

  it("runs `metalwave serve` with flags it accepts, beyond loopback (a container's port is reached from outside it)", () => {
    expect(instr("ENTRYPOINT")).toEqual(['["metalwave"]']);
    const cmd = JSON.parse(instr("CMD")[0]!) as string[];
    expect(cmd[0]).toBe("serve");
    for (const f of cmd.filter((a) => a.startsWith("--"))) expect({ flag: f, inHelp: SERVE_HELP.includes(`  ${f} `) }).toEqual({ flag: f, inHelp: true });
    expect(cmd[cmd.indexOf("--listen") + 1]).toBe("0.0.0.0:8640");
    expect(instr("EXPOSE")).toEqual(["8640"]);
  });
});
