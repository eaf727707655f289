/**
 * The CLI's logger and terminal, from `--log-format` and `--log-level` (every command
 * takes both). On a terminal: human lines (colour unless NO_COLOR) written above the
 * progress display; off a terminal, or with `--log-format json`: one JSON object a line.
 * docs/cli.md, "Logs".
 */
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger } from "../log.ts";
import type { LevelWithSilent } from "pino";
import { UsageError } from "./args.ts";
import { createTerminal, type Terminal } from "./terminal.ts";

export interface LogFlags {
  logFormat?: string | undefined;
  logLevel?: string | undefined;
}

export interface CliOutput {
  logger: Logger;
  terminal: Terminal;
  format: LogFormat;
}

/** The stderr every command shares: one terminal, so log lines and the progress block agree. */
let stderrTerminal: Terminal | undefined;
export function stderr(): Terminal {
  return (stderrTerminal ??= createTerminal(process.stderr));
}

export function parseLogFlags(command: string, values: LogFlags, defaultLevel: LevelWithSilent = "info"): { format: LogFormat; level: LevelWithSilent } {
  const f = values.logFormat;
  if (f !== undefined && !(LOG_FORMATS as readonly string[]).includes(f)) {
    throw new UsageError(`metalwave ${command}: --log-format ${f}: expected one of ${LOG_FORMATS.join(", ")}`);
  }
  const l = values.logLevel ?? process.env["METALWAVE_LOG_LEVEL"];
  if (l !== undefined && !(LOG_LEVELS as readonly string[]).includes(l)) {
    const where = values.logLevel !== undefined ? "--log-level" : "METALWAVE_LOG_LEVEL";
    throw new UsageError(`metalwave ${command}: ${where} ${l}: expected one of ${LOG_LEVELS.join(", ")}`);
  }
  const term = stderr();
  return { format: (f as LogFormat | undefined) ?? (term.tty ? "text" : "json"), level: (l as LevelWithSilent | undefined) ?? defaultLevel };
}

export function cliOutput(command: string, values: LogFlags, defaultLevel: LevelWithSilent = "info"): CliOutput {
  const { format, level } = parseLogFlags(command, values, defaultLevel);
  const terminal = stderr();
  const colour = terminal.tty && format === "text" && !process.env["NO_COLOR"];
  const logger = createLogger({ level, format, colour, write: (line) => terminal.line(line) });
  return { logger, terminal, format };
}
