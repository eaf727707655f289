/**
 * Small helpers shared by the subcommands: the exit codes documented in docs/cli.md,
 * the region flags, and checks of flag values that end in a clear usage error.
 */
import type { Command } from "commander";
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

/** The region flags' values, as commander names them. */
export interface RegionOpts {
  config?: string;
  maasUrl?: string;
  apiKeyFile?: string;
  store?: string;
}

/** `--maas-url`, `--api-key-file` and `--store` as config overrides (flags win over file and environment). */
export function regionFlags(values: RegionOpts): {
  maas?: { url?: string; apiKeyFile?: string };
  store?: string;
} {
  const url = values.maasUrl;
  const keyFile = values.apiKeyFile;
  return {
    ...(url || keyFile ? { maas: { ...(url ? { url } : {}), ...(keyFile ? { apiKeyFile: keyFile } : {}) } } : {}),
    ...(values.store ? { store: values.store } : {}),
  };
}

/** The flags every command that talks to a region takes: config file, region, key, store. */
export function withRegionOptions(cmd: Command, opts: { urlRequired?: boolean } = {}): Command {
  return cmd
    .option("--config <file>", "YAML or JSON config (see docs/configuration.md)")
    .option("--maas-url <url>", `MAAS region URL, e.g. http://maas:5240/MAAS (env METALWAVE_MAAS_URL, config maas.url)${opts.urlRequired === false ? "" : "; required"}`)
    .option("--api-key-file <file>", "file holding the API key (env METALWAVE_MAAS_API_KEY holds the key itself)")
    .option("--store <path|url>", "the store: a SQLite file (default .metalwave/metalwave.sqlite) or postgres://user@host:5432/db (env METALWAVE_STORE)");
}
