/**
 * The product's one logger factory. Redaction is part of the design: any field
 * that could carry a secret is censored before a line is written, wherever it
 * sits in the object, so a careless `log.info({ config })` cannot leak a key.
 *
 * Every line is one JSON object with each key once (a child logger re-binding a key, such
 * as `component`, keeps the innermost value), or, in the `text` format, one human line
 * (time, level, component, message, fields; colour only when asked, i.e. on a terminal).
 * docs/cli.md, "Logs".
 */
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from "pino";

export type { Logger };

/** Field names whose values are never written. */
export const REDACTED_FIELDS = [
  "apiKey",
  "api_key",
  "token",
  "tokenSecret",
  "token_secret",
  "password",
  "privateKey",
  "private_key",
  "authorization",
  "Authorization",
  "bearerToken",
] as const;

const redactPaths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

export const LOG_FORMATS = ["json", "text"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const satisfies readonly LevelWithSilent[];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** `json` (default): one JSON object a line; `text`: one human line. */
  format?: LogFormat;
  /** ANSI colour for the text format's levels (only on a terminal). */
  colour?: boolean;
  /** Where finished lines go; defaults to stderr so stdout stays clean for `--json`. */
  write?: (line: string) => void;
  /** Raw pino destination instead of `write` (each line still deduplicated). */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? "json";
  const colour = opts.colour ?? false;
  const sink = opts.destination ? (s: string) => void opts.destination!.write(s) : (opts.write ?? ((s: string) => void process.stderr.write(s)));
  const stream: DestinationStream = {
    write(line: string) {
      const record = JSON.parse(line) as Record<string, unknown>;
      sink(format === "text" ? textLine(record, colour) : `${JSON.stringify(record)}\n`);
    },
  };
  return pino(
    {
      level: opts.level ?? (process.env["METALWAVE_LOG_LEVEL"] as LevelWithSilent | undefined) ?? "info",
      redact: { paths: redactPaths, censor: "[redacted]" },
      base: { app: "metalwave" },
    },
    stream,
  );
}

const LEVEL_NAMES: Record<number, { name: string; colour: string }> = {
  10: { name: "TRACE", colour: "\x1b[90m" },
  20: { name: "DEBUG", colour: "\x1b[36m" },
  30: { name: "INFO", colour: "\x1b[32m" },
  40: { name: "WARN", colour: "\x1b[33m" },
  50: { name: "ERROR", colour: "\x1b[31m" },
  60: { name: "FATAL", colour: "\x1b[41m\x1b[37m" },
};
/** Fields the text line shows in its own places, or not at all. */
const SHOWN_APART = new Set(["level", "time", "msg", "component", "app", "pid", "hostname"]);

function fieldValue(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v && typeof v === "object" && "message" in v && typeof (v as { message: unknown }).message === "string") return JSON.stringify((v as { message: string }).message);
  return JSON.stringify(v) ?? String(v);
}

/** One record as a human line: `12:04:05.123 WARN  layers: message key=value …`. */
export function textLine(r: Record<string, unknown>, colour: boolean): string {
  const time = typeof r["time"] === "number" ? new Date(r["time"]).toISOString().slice(11, 23) : "";
  const lv = LEVEL_NAMES[typeof r["level"] === "number" ? r["level"] : 30] ?? { name: String(r["level"]), colour: "" };
  const level = colour ? `${lv.colour}${lv.name.padEnd(5)}\x1b[0m` : lv.name.padEnd(5);
  const component = typeof r["component"] === "string" ? `${colour ? "\x1b[1m" : ""}${r["component"]}${colour ? "\x1b[0m" : ""}: ` : "";
  const fields = Object.entries(r)
    .filter(([k]) => !SHOWN_APART.has(k))
    .map(([k, v]) => `${colour ? "\x1b[2m" : ""}${k}=${colour ? "\x1b[0m" : ""}${fieldValue(v)}`);
  return `${time} ${level} ${component}${typeof r["msg"] === "string" ? r["msg"] : ""}${fields.length ? ` ${fields.join(" ")}` : ""}\n`;
}

/** A logger that writes nothing, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
