/**
 * The product's one logger factory. Redaction is part of the design: any field
 * that could carry a secret is censored before a line is written, wherever it
 * sits in the object, so a careless `log.info({ config })` cannot leak a key.
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

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where lines go; defaults to stderr so stdout stays clean for `--json`. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? (process.env["METALWAVE_LOG_LEVEL"] as LevelWithSilent | undefined) ?? "info",
      redact: { paths: redactPaths, censor: "[redacted]" },
      base: { app: "metalwave" },
    },
    opts.destination ?? pino.destination(2),
  );
}

/** A logger that writes nothing, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
