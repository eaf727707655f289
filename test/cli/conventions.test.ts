/**
 * The conventions of the ecosystem's CLIs: --version, one help style for every command
 * (the simulator's included), "did you mean" for a mistyped command or flag, usage errors
 * on stderr with exit 2, and a completion script offering what the parser accepts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.ts";
import { runCli } from "../runtime/cli.ts";

afterEach(() => vi.restoreAllMocks());

/** `metalwave …` in this process (fast; the child-process path is proven by --version). */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(console, "log").mockImplementation((s: unknown) => void (stdout += `${String(s)}\n`));
  vi.spyOn(console, "error").mockImplementation((s: unknown) => void (stderr += `${String(s)}\n`));
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

const dir = mkdtempSync(join(tmpdir(), "mw-conv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
const COMMANDS = ["start", "plan", "rollout", "reprovision", "remediate", "status", "sim", "serve", "completion"];

describe("metalwave's command line", () => {
  it("--version prints the package's version", async () => {
    const out = await runCli(["--version"]);
    expect(out).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  }, 30_000);

  it("every command's help has one style: Usage, Options with the log flags, on stdout, exit 0", async () => {
    for (const name of COMMANDS) {
      const out = await inProcess([name, "--help"]);
      expect({ name, code: out.code, stderr: out.stderr }).toEqual({ name, code: 0, stderr: "" });
      expect(out.stdout).toMatch(new RegExp(`^Usage: metalwave ${name} `));
      expect(out.stdout).toContain("\nOptions:\n");
      if (name !== "completion") expect(out.stdout).toMatch(/--log-format <format>[\s\S]*--log-level <level>/);
    }
    const overview = await inProcess(["--help"]);
    for (const name of COMMANDS) expect(overview.stdout).toMatch(new RegExp(`\\n  ${name} `));
    // `help <command>` is the command's own help.
    expect((await inProcess(["help", "sim"])).stdout).toMatch(/^Usage: metalwave sim /);
  }, 120_000);

  it("a mistyped command or flag is a usage error on stderr with a suggestion", async () => {
    const cmd = await inProcess(["rolout"]);
    expect(cmd).toMatchObject({ code: 2, stdout: "" });
    expect(cmd.stderr).toContain("unknown command 'rolout'");
    expect(cmd.stderr).toContain("Did you mean rollout?");
    const flag = await inProcess(["plan", "--maas-ulr", "http://x"]);
    expect(flag).toMatchObject({ code: 2, stdout: "" });
    expect(flag.stderr).toContain("unknown option '--maas-ulr'");
    expect(flag.stderr).toContain("Did you mean --maas-url?");
    const sim = await inProcess(["sim", "--machine", "3"]);
    expect(sim.code).toBe(2);
    expect(sim.stderr).toContain("Did you mean --machines?");
    // No command at all: the overview, on stderr, exit 2.
    // A usage error in a child process: exit status 2, message on stderr.
    const child = await runCli(["status", "--jsn"]);
    expect(child).toMatchObject({ code: 2, stdout: "" });
    expect(child.stderr).toContain("Did you mean --json?");
    const none = await inProcess([]);
    expect(none).toMatchObject({ code: 2, stdout: "" });
    expect(none.stderr).toMatch(/^Usage: metalwave /);
  }, 60_000);

  it("the bash completion offers subcommands, a command's flags and a flag's choices", async () => {
    const out = await inProcess(["completion", "bash"]);
    expect(out.code).toBe(0);
    const script = join(dir, "metalwave.bash");
    writeFileSync(script, out.stdout);
    const complete = (...words: string[]) => {
      const r = spawnSync("bash", ["-c", `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _metalwave; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      return r.stdout.trim().split(" ");
    };
    expect(complete("metalwave", "re")).toEqual(["reprovision", "remediate"]);
    expect(complete("metalwave", "plan", "--ma")).toEqual(["--maas-url"]);
    expect(complete("metalwave", "rollout", "--log-format", "")).toEqual(["json", "text"]);
    expect(complete("metalwave", "sim", "--host")).toEqual(["--host", "--hostname-prefix", "--hosts", "--host-faults"]);
    expect(complete("metalwave", "completion", "")).toEqual(["bash", "zsh"]);
    const zsh = await inProcess(["completion", "zsh"]);
    expect(zsh.stdout).toContain("bashcompinit");
    expect(zsh.stdout).toContain("complete -F _metalwave metalwave");
  }, 60_000);
});
