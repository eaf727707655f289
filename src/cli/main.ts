#!/usr/bin/env node
/**
 * The `metalwave` command, on commander: every subcommand with its flags and help in one
 * style, `--version`, `completion`, "did you mean" for mistyped flags and commands, usage
 * errors on stderr. Flags and exit codes are an interface documented in docs/cli.md.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Argument, Command } from "commander";
import { MetalwaveError } from "../errors.ts";
import { ExitCode, UsageError } from "./args.ts";
import { act, runCommand, styled, type Outcome } from "./command.ts";
import { completionScript, SHELLS, type Shell } from "./completion.ts";
import { rolloutCommand, startCommand, statusCommand } from "./rollout.ts";
import { simCommand } from "../sim/cli.ts";
import { planCommand } from "./plan.ts";
import { reprovisionCommand } from "./reprovision.ts";
import { remediateCommand } from "./remediate.ts";
import { serveCommand } from "./serve.ts";

/** The package's version: package.json above this file, in the sources or the built package. */
export function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "metalwave" && pkg.version) return pkg.version;
    } catch {
      // not here: one folder up
    }
    if (dirname(dir) === dir) return "unknown";
  }
}

export function program(out: Outcome): Command {
  const root = new Command("metalwave")
    .description("Commissions, tags and deploys MAAS machines in waves and layers OpenStack on them (docs/cli.md).")
    .version(version(), "-V, --version", "print the version")
    .helpCommand("help [command]", "show a command's help");
  for (const cmd of [startCommand(out), planCommand(out), rolloutCommand(out), reprovisionCommand(out), remediateCommand(out), statusCommand(out), simCommand(out), serveCommand(out)]) {
    root.addCommand(cmd);
  }
  root.addCommand(
    new Command("completion")
      .summary("print a shell completion script (bash or zsh)")
      .description("Prints a completion script for the shell: eval \"$(metalwave completion bash)\" in ~/.bashrc,\nor eval \"$(metalwave completion zsh)\" in ~/.zshrc.")
      .addArgument(new Argument("[shell]", "the shell").choices(SHELLS).default("bash"))
      .action(
        act(out, async (shell: Shell) => {
          process.stdout.write(completionScript(root, shell));
          return ExitCode.OK;
        }),
      ),
  );
  return styled(root);
}

function exitCodeForError(code: string): ExitCode {
  switch (code) {
    case "STORE_LOCKED":
      return ExitCode.LOCKED;
    case "CONFIG_INVALID":
    case "USAGE":
      return ExitCode.USAGE;
    case "PREFLIGHT_FAILED":
      return ExitCode.PREFLIGHT;
    default:
      return ExitCode.ERROR;
  }
}

export async function main(argv: string[]): Promise<number> {
  const out: Outcome = { code: ExitCode.OK };
  const root = program(out);
  if (argv.length === 0) {
    // No command: the overview, on stderr, as a usage error.
    console.error(root.helpInformation().replace(/\n$/, ""));
    return ExitCode.USAGE;
  }
  const name = root.commands.find((c) => c.name() === argv[0])?.name() ?? "";
  try {
    return await runCommand(root, out, argv);
  } catch (e) {
    const prefix = name ? `metalwave ${name}` : "metalwave";
    if (e instanceof UsageError) {
      console.error(e.message);
      return ExitCode.USAGE;
    }
    if (e instanceof MetalwaveError) {
      console.error(`${prefix}: ${e.message} [${e.code}]`);
      return exitCodeForError(e.code);
    }
    console.error(`${prefix}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return ExitCode.ERROR;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = ExitCode.ERROR;
    },
  );
}
