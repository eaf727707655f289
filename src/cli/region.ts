/**
 * Which MAAS region a command talks to. A real region is named by its URL (`--maas-url`,
 * METALWAVE_MAAS_URL or `maas.url`); the embedded simulated region is used only when asked
 * for by name (`metalwave start`, `--simulated`, or `simulator.embedded: true`), never
 * because a URL is missing: a mistyped variable must not turn a real rollout into a
 * rehearsal that exits 0. Everything a simulated run prints and returns says so
 * (`regionJson`, `regionText`). docs/cli.md, "Which region".
 */
import { resolveApiKey, type Config } from "../config.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { reserveLoadBalancerRanges, startSimulator, type SimHandle } from "../sim/index.ts";
import { UsageError } from "./args.ts";
import type { RolloutRegion } from "../store/index.ts";
import { regionRecordJson, regionRecordText, type RegionJson } from "../runtime/region.ts";

export { SIMULATED_NOTE, type RegionJson } from "../runtime/region.ts";

/** Where the URL may come from, as an operator can fix it: named in every "no region" error. */
export const REGION_SOURCES = "maas.url in the config file (--config), METALWAVE_MAAS_URL in the environment, or --maas-url URL (in that order, the last wins)";

export type Region =
  | { readonly simulated: false; readonly url: string; readonly apiKey: string }
  | { readonly simulated: true; readonly url: string; readonly apiKey: string; readonly sim: SimHandle };

/** What a rollout on this region records about it (the store's `region_kind`, `region_url`). */
export function regionRecord(r: Pick<Region, "simulated" | "url">): RolloutRegion {
  return { kind: r.simulated ? "simulated" : "real", url: r.url };
}

export function regionJson(r: Region): RegionJson {
  return regionRecordJson(regionRecord(r));
}

/** One line for human output: the region, and on a simulated one that it is simulated. */
export function regionText(r: Region): string {
  return regionRecordText(regionRecord(r));
}

/** Whether the command was asked to run on the embedded simulated region (flag or config key). */
export function simulatedRequested(config: Config, flag: boolean | undefined): boolean {
  return flag === true || config.simulator.embedded;
}

/**
 * The region a command meant for a real one talks to; `simulated` when the operator asked for
 * the embedded region by name. A missing URL is a usage error naming where one is given.
 */
export async function resolveRegion(config: Config, opts: { command: string; simulated: boolean; logger: Logger }): Promise<Region> {
  const url = config.maas.url;
  if (opts.simulated) {
    if (url) {
      throw new UsageError(
        `metalwave ${opts.command}: --simulated (or simulator.embedded) and a MAAS URL (${url}) exclude each other; the URL comes from ${REGION_SOURCES}`,
      );
    }
    const sim = await embeddedSimulator(config, opts.logger);
    return { simulated: true, url: sim.url, apiKey: sim.apiKey, sim };
  }
  return realRegion(config, opts.command);
}

/** A real region: its URL and key, or a usage error saying where to give them. */
export function realRegion(config: Config, command: string, why?: string): Region & { simulated: false } {
  if (config.regions) {
    // Commands open several regions through openSite (src/cli/regions.ts); this is one region's URL and key.
    throw new UsageError(`metalwave ${command}: the config lists several regions (regions:); this asks for one region's URL (maas.url)`);
  }
  const url = config.maas.url;
  if (!url) {
    throw new UsageError(
      `metalwave ${command}: no MAAS region given${why ? ` (${why})` : ""}: set ${REGION_SOURCES}` +
        (why ? "" : "; to rehearse on the embedded simulated region instead, pass --simulated (or run metalwave start)"),
    );
  }
  const apiKey = resolveApiKey(config, process.env);
  if (!apiKey) throw new ConfigError("maas.apiKeyFile", "no API key: give --api-key-file, maas.apiKeyFile or METALWAVE_MAAS_API_KEY");
  return { simulated: false, url, apiKey };
}

export async function embeddedSimulator(config: Config, logger: Logger): Promise<SimHandle> {
  const s = config.simulator;
  const sim = await startSimulator({
    port: 0,
    ...(s.fleet ? { fleet: s.fleet } : { machines: s.machines ?? 300 }),
    ...(s.speed === 0 ? { zeroDuration: true } : { speed: s.speed }),
    seed: s.seed,
    ...(s.faults ? { faults: s.faults } : {}),
    // Deployed machines answer SSH (and the layers' commands) when the rollout layers them.
    ...(config.layers.enabled ? { hosts: { sshPort: 0, ...(s.hostFaults ? { faults: s.hostFaults } : {}) } } : {}),
    logger: logger.child({ component: "sim" }),
  });
  if (config.layers.enabled) reserveLoadBalancerRanges(sim.region.net, config.deployment);
  logger.info({ url: sim.url, simulated: true, machines: sim.region.machines.length }, "embedded simulated MAAS region started (made-up machines)");
  return sim;
}

/** The MAAS time scale of a region: a simulated one runs its durations faster. */
export function timeScaleOf(config: Config, r: Region): number {
  if (!r.simulated) return 1;
  return config.simulator.speed === 0 ? 1000 : config.simulator.speed;
}
