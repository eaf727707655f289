/**
 * Small helpers shared by the subcommands: parsing flags with node:util's
 * parseArgs into a clear usage error, and the exit codes documented in docs/cli.md.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { MetalwaveError } from "../errors.ts";

/** Exit codes are an interface: scripts branch on them. Documented in docs/cli.md. */
export const ExitCode = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  PAUSED: 3,
  ABORTED: 4,
  LOCKED: 5,
  PREFLIGHT: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class UsageError extends MetalwaveError<"USAGE"> {
  readonly code = "USAGE" as const;
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`metalwave ${command}: ${(e as Error).message} (see 'metalwave ${command} --help')`, { cause: e });
  }
}

export function intFlag(command: string, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || !Number.isInteger(n)) {
    throw new UsageError(`metalwave ${command}: --${name} expects a whole number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `--override CODE` (repeatable): pre-flight FAIL codes the operator lets through. */
export function overrideFlags(command: string, values: readonly string[] | undefined, known: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    for (const code of v.split(",").map((c) => c.trim()).filter(Boolean)) {
      if (!known.includes(code)) throw new UsageError(`metalwave ${command}: --override ${code}: not a pre-flight check code (one of ${known.join(", ")})`);
      out.push(code);
    }
  }
  return out;
}

/** `--maas-url`, `--api-key-file` and `--store` as config overrides (flags win over file and environment). */
export function regionFlags(values: { "maas-url"?: string | undefined; "api-key-file"?: string | undefined; store?: string | undefined }): {
  maas?: { url?: string; apiKeyFile?: string };
  store?: string;
} {
  const url = values["maas-url"];
  const keyFile = values["api-key-file"];
  return {
    ...(url || keyFile ? { maas: { ...(url ? { url } : {}), ...(keyFile ? { apiKeyFile: keyFile } : {}) } } : {}),
    ...(values.store ? { store: values.store } : {}),
  };
}

/** The flags every command takes: the log's format and level (docs/cli.md, "Logs"). */
export const LOG_OPTIONS = {
  "log-format": { type: "string" },
  "log-level": { type: "string" },
} as const satisfies Options;

/** The flags every command that talks to a region takes: config file, region, key, store, help. */
export const REGION_OPTIONS = {
  ...LOG_OPTIONS,
  config: { type: "string" },
  "maas-url": { type: "string" },
  "api-key-file": { type: "string" },
  store: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies Options;
