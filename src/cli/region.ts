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
import { startSimulator, type SimHandle } from "../sim/index.ts";
import { DEFAULT_TIMINGS, type JujuTimings } from "../sim/juju/types.ts";
import { UsageError } from "./args.ts";

/** Where the URL may come from, as an operator can fix it: named in every "no region" error. */
export const REGION_SOURCES = "maas.url in the config file (--config), METALWAVE_MAAS_URL in the environment, or --maas-url URL (in that order, the last wins)";

export type Region =
  | { readonly simulated: false; readonly url: string; readonly apiKey: string }
  | { readonly simulated: true; readonly url: string; readonly apiKey: string; readonly sim: SimHandle };

/** What `--json` outputs carry as `region`. */
export interface RegionJson {
  simulated: boolean;
  url: string;
  /** Only on a simulated region: what it is, in words. */
  note?: string;
}

export const SIMULATED_NOTE = "embedded simulated MAAS region: made-up machines, nothing real was touched";

export function regionJson(r: Region): RegionJson {
  return r.simulated ? { simulated: true, url: r.url, note: SIMULATED_NOTE } : { simulated: false, url: r.url };
}

/** One line for human output: the region, and on a simulated one that it is simulated. */
export function regionText(r: Region): string {
  return r.simulated ? `SIMULATED MAAS region (embedded, made-up machines; nothing real is touched) at ${r.url}` : `MAAS region ${r.url}`;
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
    // Juju's simulated delays (a unit's install, a vote) run at the region's speed, as its MAAS durations do.
    ...(config.layers.enabled ? { hosts: { sshPort: 0, juju: { timings: scaledJujuTimings(s.speed) }, ...(s.hostFaults ? { faults: s.hostFaults } : {}) } } : {}),
    logger: logger.child({ component: "sim" }),
  });
  if (config.layers.enabled) reserveLoadBalancerRanges(sim, config.deployment);
  logger.info({ url: sim.url, simulated: true, machines: sim.region.machines.length }, "embedded simulated MAAS region started (made-up machines)");
  return sim;
}

/** The simulated Juju's delays divided by the region's speed (0: none). */
function scaledJujuTimings(speed: number): JujuTimings {
  const k = speed === 0 ? 0 : 1 / speed;
  return { machineStartMs: Math.round(DEFAULT_TIMINGS.machineStartMs * k), unitSettleMs: Math.round(DEFAULT_TIMINGS.unitSettleMs * k), haVoteMs: Math.round(DEFAULT_TIMINGS.haVoteMs * k) };
}

/**
 * The embedded region without a site network (one loopback subnet) gets what an operator
 * reserves in MAAS for the layers' load balancer (juju-layering.md §1, §2d: reserved ranges
 * commented `<deployment>-internal-api` and `-public-api`), on addresses no simulated
 * machine has (they are 127.1.x.y onward). A fleet with `networks:` brings its own ranges.
 */
function reserveLoadBalancerRanges(sim: SimHandle, deployment: string): void {
  const net = sim.region.net;
  if (!net.legacy) return;
  const subnet = [...net.subnets.values()][0];
  if (subnet === undefined) return;
  for (const [i, name] of ["internal-api", "public-api"].entries()) {
    const comment = `${deployment}-${name}`;
    if ([...net.ranges.values()].some((r) => r.comment === comment)) continue;
    net.addRange({ type: "reserved", subnetId: subnet.id, start: `127.254.${i}.1`, end: `127.254.${i}.62`, comment, user: "admin" });
  }
}

/** The MAAS time scale of a region: a simulated one runs its durations faster. */
export function timeScaleOf(config: Config, r: Region): number {
  if (!r.simulated) return 1;
  return config.simulator.speed === 0 ? 1000 : config.simulator.speed;
}
