/**
 * What every `metalwave` command shares, on commander: one help style, usage errors on
 * stderr with exit code 2 and a "did you mean" for a mistyped flag or command, the log
 * flags, and an action's exit code carried back to `main`. docs/cli.md.
 */
import type { Command} from "commander";
import { CommanderError, Option } from "commander";
import { LOG_FORMATS, LOG_LEVELS } from "../log.ts";
import { ExitCode } from "./args.ts";

/** Where a command's action leaves its exit code. */
export interface Outcome {
  code: number;
}

/** `--log-format` and `--log-level`, which every command takes (docs/cli.md, "Logs"). */
export function withLogOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--log-format <format>", "log lines as JSON or human text (default: text on a terminal, else json)").choices(LOG_FORMATS))
    .addOption(new Option("--log-level <level>", "least level logged (default: info, or METALWAVE_LOG_LEVEL)").choices(LOG_LEVELS));
}

/** The exit-code table every command's help ends with a part of. */
export function exitCodesHelp(text: string): string {
  return `\nExit codes: ${text}\n`;
}

/**
 * One help and error style for a command and its subcommands: output through console (so
 * help goes to stdout, errors to stderr), suggestions after an unknown flag or command,
 * and errors thrown back to `runCommand` instead of exiting the process.
 */
export function styled(cmd: Command): Command {
  cmd
    .configureOutput({
      writeOut: (s) => console.log(s.replace(/\n$/, "")),
      writeErr: (s) => console.error(s.replace(/\n$/, "")),
    })
    .showSuggestionAfterError(true)
    .showHelpAfterError(`(see '${fullName(cmd)} --help')`)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .exitOverride();
  for (const sub of cmd.commands) styled(sub);
  return cmd;
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** An action that returns its exit code into `out`. */
export function act<A extends unknown[]>(out: Outcome, fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    out.code = await fn(...args);
  };
}

/**
 * Parses `argv` (the arguments after the program name) with `cmd` and runs the action;
 * resolves with the exit code: the action's, 0 for help and --version, 2 for a usage error.
 */
export async function runCommand(cmd: Command, out: Outcome, argv: readonly string[]): Promise<number> {
  try {
    await cmd.parseAsync([...argv], { from: "user" });
    return out.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return ExitCode.OK;
      // commander has written the message (and the suggestion) to stderr already.
      return ExitCode.USAGE;
    }
    throw e;
  }
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
