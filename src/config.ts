/**
 * metalwave's configuration: one zod schema, read from a YAML or JSON file, then
 * overridden by environment variables, then by command-line flags. Every error
 * names the file and the path of the field at fault. The schema is an interface
 * operators rely on: docs/configuration.md documents it, change both together.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { RolesConfigSchema } from "./roles/schema.ts";
import { NetworkConfigSchema, StorageConfigSchema, checkLayoutRoles } from "./roles/layout-schema.ts";
import { FINDING_CODES } from "./roles/types.ts";
import { REGION_NAME } from "../state-machines/rollout/regions.ts";

const countOrPercent = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'expected a whole number or a percentage such as "5%"'),
]);

const waveEntry = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'expected a host count or a percentage such as "25%"'),
]);

/** One MAAS region of several (`regions:`): its own URL, key and request limits. */
const RegionSchema = z
  .object({
    /** Names the region in host keys (`<region>/<system_id>`), status, metrics and logs. */
    name: z.string().regex(REGION_NAME, "a lower-case DNS label (letters, digits, -), at most 32"),
    url: z.string().url(),
    /** File holding this region's API key (consumer:token:secret). */
    apiKeyFile: z.string().min(1),
    maxInFlight: z.number().int().positive().default(4),
    requestsPerSecond: z.number().nonnegative().default(50),
    timeoutMs: z.number().int().positive().default(30_000),
  })
  .strict();

export type RegionConfig = z.infer<typeof RegionSchema>;

export const ConfigSchema = z
  .object({
    maas: z
      .object({
        /** Region URL such as http://maas.example:5240/MAAS. Required unless the embedded simulator is asked for (simulator.embedded). */
        url: z.string().url().optional(),
        /** File holding the API key (consumer:token:secret). */
        apiKeyFile: z.string().optional(),
        maxInFlight: z.number().int().positive().default(4),
        requestsPerSecond: z.number().nonnegative().default(50),
        timeoutMs: z.number().int().positive().default(30_000),
        /** How often the status observer reads the events feed when it is quiet. */
        pollIntervalMs: z.number().int().positive().default(2_000),
      })
      .strict()
      .default({ maxInFlight: 4, requestsPerSecond: 50, timeoutMs: 30_000, pollIntervalMs: 2_000 }),
    /**
     * Several MAAS regions, one per site (docs/configuration.md, "Several regions"):
     * instead of maas.url. Each machine belongs to the region that lists it.
     */
    regions: z.array(RegionSchema).min(1).optional(),
    /** While a region does not answer: how often it is probed (docs/architecture.md, "Several regions"). */
    regionProbeIntervalMs: z.number().int().positive().default(2_000),
    simulator: z
      .object({
        /** Run on the embedded simulated region instead of a real one (also `--simulated`); never implied by a missing maas.url. */
        embedded: z.boolean().default(false),
        machines: z.number().int().positive().optional(),
        fleet: z.string().optional(),
        /** Divides realistic MAAS durations; 0 means every busy state finishes at once. */
        speed: z.number().nonnegative().default(600),
        seed: z.number().int().default(7),
        faults: z.string().optional(),
        /** Simulated regions the embedded simulator runs (`metalwave start --regions N`), each with its own seed, names and port. */
        regions: z.number().int().min(1).max(16).default(1),
        /** Faults of the simulated hosts' commands (docs/simulator.md, `--host-faults`). */
        hostFaults: z.string().optional(),
      })
      .strict()
      .default({ embedded: false, speed: 600, seed: 7, regions: 1 }),
    rollout: z
      .object({
        /** Which machines take part: all of these MAAS tags (empty = every machine). */
        selectTags: z.array(z.string()).default([]),
        waves: z.array(waveEntry).min(1).default([1, 10, "5%", "25%", "100%"]),
        /** Hosts started and not yet settled, at most. */
        maxInFlight: z.number().int().positive().default(200),
        phaseCaps: z
          .object({
            commissioning: z.number().int().positive().default(200),
            deploying: z.number().int().positive().default(200),
            layering: z.number().int().positive().default(100),
          })
          .strict()
          .default({ commissioning: 200, deploying: 200, layering: 100 }),
        budget: z
          .object({
            perWave: countOrPercent.default("20%"),
            total: countOrPercent.default("5%"),
            /** Several regions: failures a region may have (count or % of its hosts); default the total's spec. */
            perRegion: countOrPercent.optional(),
          })
          .strict()
          .default({ perWave: "20%", total: "5%" }),
        maxAttempts: z
          .object({
            commission: z.number().int().positive().default(2),
            deploy: z.number().int().positive().default(2),
            layer: z.number().int().positive().default(2),
            release: z.number().int().positive().default(2),
          })
          .strict()
          .default({ commission: 2, deploy: 2, layer: 2, release: 2 }),
        agentName: z.string().min(1).default("metalwave"),
        distroSeries: z.string().min(1).default("noble"),
        /** Erase disks when releasing a machine for a retry. */
        eraseOnRelease: z.boolean().default(false),
        /** Wait between retries of a phase: base·2^(attempt-1), at most max. */
        backoffMs: z
          .object({ base: z.number().int().nonnegative().default(10_000), max: z.number().int().nonnegative().default(300_000) })
          .strict()
          .default({ base: 10_000, max: 300_000 }),
        /** Public keys the deployed machines' user-data installs for the `ubuntu` user. */
        sshAuthorizedKeys: z.array(z.string()).default([]),
        /** apt and snap proxies the deployed machines' user-data configures (sites without direct Internet access). */
        proxy: z.object({ http: z.string().url().optional(), https: z.string().url().optional() }).strict().prefault({}),
        /** Pre-flight FAIL codes the operator lets through (also `--override CODE`); each use is journaled. */
        overrides: z.array(z.enum(FINDING_CODES)).default([]),
      })
      .strict()
      .default({
        selectTags: [],
        waves: [1, 10, "5%", "25%", "100%"],
        maxInFlight: 200,
        phaseCaps: { commissioning: 200, deploying: 200, layering: 100 },
        budget: { perWave: "20%", total: "5%" },
        maxAttempts: { commission: 2, deploy: 2, layer: 2, release: 2 },
        agentName: "metalwave",
        distroSeries: "noble",
        eraseOnRelease: false,
        backoffMs: { base: 10_000, max: 300_000 },
        sshAuthorizedKeys: [],
        overrides: [],
        proxy: {},
      }),
    /** Automatic remediation of failed and quarantined hosts (docs/remediation.md). */
    remediation: z
      .object({
        /** Remediation passes run by `metalwave serve` between rollouts (`metalwave remediate` runs one pass by hand). */
        enabled: z.boolean().default(false),
        /** Passes of `metalwave serve`, at most this often. */
        intervalMs: z.number().int().positive().default(300_000),
        /** Times a host is provisioned again before a spare takes its role. */
        maxAttempts: z.number().int().nonnegative().default(2),
        /** Only attempts this recent count toward maxAttempts: a host that then stayed healthy starts afresh. Default 7 days. */
        attemptsWindowMs: z.number().int().positive().default(604_800_000),
        /** Wait after a host's attempt before the next one. */
        coolDownMs: z.number().int().nonnegative().default(600_000),
        /** Hosts provisioned again in one pass. */
        maxAtOnce: z.number().int().positive().default(10),
        /** More unhealthy hosts than this (count or % of the deployment's hosts) and a pass does nothing. */
        haltWhenUnhealthy: countOrPercent.default("20%"),
        erase: z.enum(["none", "quick", "secure"]).default("quick"),
        /** Health checks of the Deployed hosts in service, by role, over SSH (only when layering is on): a host that fails one is remediated. */
        healthChecks: z.boolean().default(true),
        /** Hosts health-checked at once. */
        healthCheckConcurrency: z.number().int().positive().default(32),
        /** Each health-check command (and the Kubernetes API read) must answer within this. */
        healthCheckTimeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .prefault({}),
    /** The layers put on deployed machines over SSH (docs/layering.md). */
    layers: z
      .object({
        /** false: a rollout stops at Deployed (a host is in service once MAAS deployed it). */
        enabled: z.boolean().default(true),
        /** Poll interval while waiting for Kubernetes nodes and charmed applications. */
        pollMs: z.number().int().positive().default(5_000),
        /** Tries per layer step (check, act, verify) before the host's layering attempt fails. */
        stepAttempts: z.number().int().positive().default(3),
        /** Add `ceph`-tagged disks that hold old data as OSDs with wipe=true (the reference wipes only when the operator says so). */
        cephWipe: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** How metalwave reaches deployed machines: user `ubuntu`, this key, pinned host keys. */
    ssh: z
      .object({
        /** metalwave's private key (OpenSSH or PEM, unencrypted); its public half goes into every deploy's user-data. */
        privateKeyFile: z.string().optional(),
        port: z.number().int().min(1).max(65_535).default(22),
        /** Pinned host keys, OpenSSH known_hosts format; default: known_hosts next to the store (an old known-hosts.json there is migrated once). */
        knownHostsFile: z.string().optional(),
        commandTimeoutMs: z.number().int().positive().default(600_000),
      })
      .strict()
      .prefault({}),
    /** Which machine does what: tag rules, counts, spares, zone spread (docs/roles.md). */
    roles: RolesConfigSchema.prefault({}),
    /** Per-role NIC layout and the networks each role must reach (docs/roles.md); absent: MAAS's networking is left as is and not checked. */
    network: NetworkConfigSchema.optional(),
    /** Per-role storage layout (docs/roles.md); absent: MAAS's layout is left as is. */
    storage: StorageConfigSchema.optional(),
    /** Names this deployment; its scope tag `metalwave-<deployment>` marks the machines it owns. */
    deployment: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,40}$/, "letters, digits, - and _ only, at most 40 (it becomes part of a MAAS tag name)")
      .refine((d) => !d.startsWith("spare-"), 'must not start with "spare-" (spare tags are metalwave-spare-<role>)')
      .default("cloud"),
    /** A SQLite file, or a PostgreSQL URL `postgres://user@host:5432/db` (no password in it: docs/store.md). */
    store: z.string().min(1).default(".metalwave/metalwave.sqlite"),
    /** PostgreSQL stores: how long the lock's lease lasts without renewal (renewed every third of it). */
    storeLeaseMs: z.number().int().min(1000).max(300_000).default(15_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkLayoutRoles(c, Object.keys(c.roles.definitions), (path, message) => ctx.addIssue({ code: "custom", path, message }));
    checkRegions(c, (path, message) => ctx.addIssue({ code: "custom", path, message }));
  });

/** `regions:` rules the schema alone cannot say: unique names, not with maas.url. */
function checkRegions(
  c: { regions?: { name: string }[] | undefined; maas: { url?: string | undefined } },
  issue: (path: (string | number)[], message: string) => void,
): void {
  if (!c.regions) return;
  const seen = new Map<string, number>();
  c.regions.forEach((r, i) => {
    const before = seen.get(r.name);
    if (before !== undefined) issue(["regions", i, "name"], `"${r.name}" is already the name of regions.${before}; region names must be unique`);
    else seen.set(r.name, i);
  });
  if (c.maas.url) issue(["maas", "url"], "regions and maas.url exclude each other: list the single region under regions, or drop regions");
}

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Turns zod issues into one ConfigError naming the source and field path. */
function toConfigError(source: string, error: z.ZodError): ConfigError {
  const lines = error.issues.map((i) => {
    const path = i.path.length ? i.path.join(".") : "(top level)";
    return `${path}: ${i.message}`;
  });
  return new ConfigError(source, lines.join("; "), { cause: error });
}

export function parseConfig(raw: unknown, source = "config"): Config {
  const r = ConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw toConfigError(source, r.error);
  return r.data;
}

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(path, `cannot read the config file (${(e as NodeJS.ErrnoException).code ?? "error"})`, { cause: e });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (e) {
    throw new ConfigError(path, `not valid YAML/JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Deep-merges plain objects; arrays and scalars in `over` replace those in `base`. */
export function mergeConfig(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = mergeConfig(base[k], v);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Environment overrides: METALWAVE_MAAS_URL, METALWAVE_STORE; the key itself comes through `resolveApiKey`. */
export function envOverrides(env: NodeJS.ProcessEnv): ConfigInput {
  const url = env["METALWAVE_MAAS_URL"];
  const store = env["METALWAVE_STORE"];
  return { ...(url ? { maas: { url } } : {}), ...(store ? { store } : {}) };
}

/**
 * The API key, from (in order) METALWAVE_MAAS_API_KEY or the key file. It is
 * returned, never logged, and an error about it never repeats it.
 */
export function resolveApiKey(config: Config, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env["METALWAVE_MAAS_API_KEY"];
  if (fromEnv) return fromEnv.trim();
  const file = config.maas.apiKeyFile;
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new ConfigError("maas.apiKeyFile", `cannot read the API key file ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`, { cause: e });
  }
}

/** Defaults < file < environment < flags. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: ConfigInput }): Config {
  const env = opts.env ?? process.env;
  const fromFile = opts.file ? readConfigFile(opts.file) : {};
  const merged = mergeConfig(mergeConfig(fromFile, envOverrides(env)), opts.flags ?? {});
  return parseConfig(merged, opts.file ?? "config");
}
