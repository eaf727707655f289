/**
 * `metalwave sim`: a simulated MAAS region serving the REST API 2.0 on loopback,
 * embedded in-process (npm start, tests, the benchmark) or standalone (cli.ts).
 * See docs/simulator.md.
 */
import type { AddressInfo } from "node:net";
import { STATUS_LABEL } from "../maas/status.ts";
import { apiKeyFromSeed, formatApiKey, parseApiKey } from "./auth.ts";
import { SimError } from "./errors.ts";
import { noFaults, parseFaults } from "./faults.ts";
import { checkDurations, parseDurations } from "./durations.ts";
import type { FixedDurations } from "./durations.ts";
import type { FaultSpec } from "./faults.ts";
import { defaultFleet, fleetSize, loadFleetFile } from "./fleet.ts";
import type { FleetSpec } from "./fleet.ts";
import { Region } from "./region.ts";
import { ManualClock, realClock, Scheduler } from "./scheduler.ts";
import type { Clock } from "./scheduler.ts";
import { SimServer } from "./server.ts";
import { HostFleet } from "./hosts/server.ts";
import { DEFAULT_TIMINGS, type JujuTimings } from "./juju/types.ts";
import type { Network } from "./network/model.ts";
import type { HostFleetOptions } from "./hosts/server.ts";
import type { SimLogger, SimStats } from "./server.ts";

export type { FaultSpec } from "./faults.ts";
export type { FleetSpec } from "./fleet.ts";
export type { DurationKey, FixedDurations } from "./durations.ts";
export { parseDurations, DURATION_KEYS } from "./durations.ts";
export type { SimLogger, SimStats } from "./server.ts";
export type { MachineRecord } from "./region.ts";
export { Region } from "./region.ts";
export { parseFaults, formatFaults } from "./faults.ts";
export { loadFleetFile, parseFleet, defaultFleet } from "./fleet.ts";
export { SimError } from "./errors.ts";
export { HostFleet } from "./hosts/server.ts";

/** The simulated Juju's delays divided by the region's speed (Infinity: none). */
function scaledJujuTimings(speed: number): JujuTimings {
  const k = 1 / speed;
  return { machineStartMs: Math.round(DEFAULT_TIMINGS.machineStartMs * k), unitSettleMs: Math.round(DEFAULT_TIMINGS.unitSettleMs * k), haVoteMs: Math.round(DEFAULT_TIMINGS.haVoteMs * k) };
}

/**
 * How long a joined Kubernetes node takes to turn Ready at speed 1 (its kubelet registers,
 * the CNI comes up): a simulator parameter, not a fact. Divided by the region's speed and
 * never longer than HostFleet's own default (1 s), so a fast region (`metalwave start`,
 * speed 600: 50 ms; zero durations: at once) does not wait a fixed second per node.
 */
const NODE_READY_MS = 30_000;
const HOST_FLEET_NODE_READY_MS = 1000;

function scaledNodeReadyMs(speed: number): number {
  return Math.min(HOST_FLEET_NODE_READY_MS, Math.round(NODE_READY_MS / speed));
}

/**
 * What an operator reserves in MAAS for the layers' load balancer (juju-layering.md §1, §2d:
 * reserved ranges commented `<deployment>-internal-api` and `-public-api`), given to a region
 * without a site network (one loopback subnet) on addresses no simulated machine has (they
 * are 127.1.x.y onward). A fleet with `networks:` brings its own ranges.
 */
export function reserveLoadBalancerRanges(net: Network, deployment: string): void {
  if (!net.legacy) return;
  const subnet = [...net.subnets.values()][0];
  if (subnet === undefined) return;
  for (const [i, name] of ["internal-api", "public-api"].entries()) {
    const comment = `${deployment}-${name}`;
    if ([...net.ranges.values()].some((r) => r.comment === comment)) continue;
    // Distinct addresses per deployment name, so two reservations never overlap.
    const third = (i + [...net.ranges.values()].length) % 256;
    net.addRange({ type: "reserved", subnetId: subnet.id, start: `127.254.${third}.1`, end: `127.254.${third}.62`, comment, user: "admin" });
  }
}
export type { HostFleetOptions, SimHostView } from "./hosts/server.ts";

export interface SimOptions {
  /** Loopback only ("127.0.0.1" by default, "::1", "localhost"); anything else is refused. */
  host?: string;
  /** 0 (default) = an ephemeral port. */
  port?: number;
  /** Size of a generated default fleet (ignored when `fleet` is given). Default 20. */
  machines?: number;
  /** A parsed fleet, or the path of a fleet YAML file. */
  fleet?: FleetSpec | string;
  /** A generated fleet's hostnames `<prefix>-<zone>-<class>-0001`… (one region of several), instead of petnames. */
  hostnamePrefix?: string;
  /** Divides realistic durations (and MAAS's timeouts). Default 1; Infinity = busy states finish at once. */
  speed?: number;
  /** Same as speed: Infinity. */
  zeroDuration?: boolean;
  /**
   * Fixed realistic seconds per phase instead of the seeded ranges, e.g.
   * `{ commission: 450, deploy: 900 }` or the `--durations` string `"commission=450,deploy=900"`.
   * Still divided by `speed`. Phases left out keep their ranges.
   */
  durations?: FixedDurations | string;
  /** Drives names, ids, the API key, durations and faults. Default 1. */
  seed?: number;
  /** A parsed spec or the `--faults` string. */
  faults?: FaultSpec | string;
  /** `consumer:token:secret`; derived from the seed when absent. */
  apiKey?: string;
  /** Requests served at once; the rest queue. Default: unlimited (or `inflight=` in faults). */
  maxInFlight?: number;
  logger?: SimLogger;
  /**
   * "manual": simulated time only moves when `advance()` is called (tests). Default "real".
   */
  clock?: "real" | "manual";
  /** Oldest events are dropped beyond this many. Default 200,000. */
  maxEvents?: number;
  /**
   * Simulated deployed hosts (SSH on each machine's loopback address, the command
   * emulator, a Kubernetes API): `true` for defaults, or options. Off by default (the
   * 10,000-machine benchmark needs none). See docs/layering.md.
   */
  hosts?: boolean | HostFleetOptions;
}

export interface SimHandle {
  /** e.g. "http://127.0.0.1:41234/MAAS" — what a MAAS client takes as its base URL. */
  url: string;
  apiKey: string;
  /** The model itself, for tests and in-process inspection. */
  region: Region;
  stats(): SimStats;
  resetStats(): void;
  /** The SSH fleet when `hosts` was set. */
  hosts: HostFleet | undefined;
  /** Manual clock only: moves simulated time forward (ms of real time; Infinity = until idle). */
  advance(ms: number): void;
  /**
   * The region goes away: its API stops listening (connections are refused, open ones are
   * cut) while its machines go on with what they were doing; `comeBack` listens again on
   * the same port. `POST /sim/outage?ms=N` does both (docs/simulator.md, "Outages of the region").
   */
  goAway(): Promise<void>;
  comeBack(): Promise<void>;
  /** Whether the API is listening (false between goAway and comeBack). */
  readonly listening: boolean;
  close(): Promise<void>;
}

const LOOPBACK_NAMES = new Set(["localhost", "::1", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function startSimulator(opts: SimOptions = {}): Promise<SimHandle> {
  const host = opts.host ?? "127.0.0.1";
  if (!isLoopback(host)) throw new SimError("SIM_OPTIONS", "host", `'${host}' is not a loopback address; the simulator only binds to loopback`);
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SimError("SIM_OPTIONS", "port", `${port} is not a port number`);
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed)) throw new SimError("SIM_OPTIONS", "seed", `${seed} is not an integer`);
  const speed = opts.zeroDuration ? Infinity : (opts.speed ?? 1);
  if (!(speed > 0)) throw new SimError("SIM_OPTIONS", "speed", `${speed} must be a positive number`);
  if (opts.maxInFlight !== undefined && !(Number.isInteger(opts.maxInFlight) && opts.maxInFlight >= 1)) {
    throw new SimError("SIM_OPTIONS", "maxInFlight", `${opts.maxInFlight} must be a positive integer`);
  }
  const faults = typeof opts.faults === "string" ? parseFaults(opts.faults) : (opts.faults ?? noFaults());
  const durations = typeof opts.durations === "string" ? parseDurations(opts.durations) : checkDurations(opts.durations ?? {});
  let fleet: FleetSpec;
  if (typeof opts.fleet === "string") fleet = loadFleetFile(opts.fleet);
  else if (opts.fleet !== undefined) fleet = opts.fleet;
  else {
    const n = opts.machines ?? 20;
    if (!Number.isInteger(n) || n < 0) throw new SimError("SIM_OPTIONS", "machines", `${n} must be a non-negative integer`);
    if (opts.hostnamePrefix !== undefined && !/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(opts.hostnamePrefix)) {
      throw new SimError("SIM_OPTIONS", "hostnamePrefix", `'${opts.hostnamePrefix}' must be a lower-case DNS label of at most 32 characters`);
    }
    fleet = defaultFleet(n, opts.hostnamePrefix ? { hostnamePrefix: opts.hostnamePrefix } : {});
  }
  let apiKey = apiKeyFromSeed(seed);
  if (opts.apiKey !== undefined) {
    const parsed = parseApiKey(opts.apiKey);
    if (parsed === null) throw new SimError("SIM_OPTIONS", "apiKey", "must look like consumer_key:token_key:token_secret");
    apiKey = parsed;
  }

  const manual = opts.clock === "manual";
  const clock: Clock = manual ? new ManualClock() : realClock;
  const scheduler = new Scheduler(clock, manual);
  const region = new Region({ fleet, seed, speed, durations, faults, clock, scheduler, maxEvents: opts.maxEvents });
  const logger = opts.logger;
  if (logger) {
    // One line per transition, at debug: a 10,000-machine wave would drown info.
    region.watch((m, from, to) => logger.debug({ systemId: m.systemId, hostname: m.hostname, from: STATUS_LABEL[from], to: STATUS_LABEL[to] }, "simulated machine changed status"));
  }
  const unknownTargets = region.resolveFaultTargets();
  if (unknownTargets.length > 0) {
    scheduler.close();
    throw new SimError("SIM_FAULT_SPEC", `faults target '${unknownTargets[0]}'`, "no machine has this hostname or system_id");
  }
  const sim = new SimServer({ region, apiKey, faults, maxInFlight: opts.maxInFlight, seed, logger: opts.logger });
  await new Promise<void>((resolve, reject) => {
    sim.server.once("error", reject);
    sim.server.listen(port, host, () => {
      sim.server.off("error", reject);
      resolve();
    });
  });
  let hosts: HostFleet | undefined;
  if (opts.hosts) {
    try {
      const ho: HostFleetOptions = opts.hosts === true ? {} : opts.hosts;
      // Juju's simulated delays (a machine's agent, a unit's install, a vote) run at the region's speed, as its MAAS durations do.
      const timings = { ...scaledJujuTimings(speed), ...ho.juju?.timings };
      hosts = await HostFleet.start(region, { logger: opts.logger, nodeReadyMs: scaledNodeReadyMs(speed), ...ho, juju: { ...ho.juju, timings } });
      // The site's reserved ranges for the layers' load balancer, on a region without a site network.
      reserveLoadBalancerRanges(region.net, "cloud");
      sim.hosts = hosts;
    } catch (e) {
      scheduler.close();
      sim.server.close();
      throw e;
    }
  }
  const addr = sim.server.address() as AddressInfo;
  const urlHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${urlHost}:${addr.port}/MAAS`;
  opts.logger?.info({ url, machines: fleetSize(fleet), speed, seed }, "MAAS simulator listening");

  let closed: Promise<void> | undefined;
  let away: Promise<void> | undefined;
  const goAway = (): Promise<void> => {
    away ??= new Promise<void>((resolve) => {
      opts.logger?.info({ url }, "simulated region goes away: connections refused until it comes back");
      sim.server.close(() => resolve());
      sim.server.closeAllConnections();
    });
    return away;
  };
  const comeBack = async (): Promise<void> => {
    if (!away || closed) return;
    await away;
    await new Promise<void>((resolve, reject) => {
      sim.server.once("error", reject);
      sim.server.listen(addr.port, addr.address, () => {
        sim.server.off("error", reject);
        resolve();
      });
    });
    away = undefined;
    opts.logger?.info({ url }, "simulated region is back");
  };
  sim.outage = (ms) => {
    void goAway().then(() => setTimeout(() => void comeBack().catch((e: unknown) => opts.logger?.warn({ err: e }, "simulated region could not listen again")), ms));
  };
  return {
    url,
    apiKey: formatApiKey(apiKey),
    region,
    hosts,
    stats: () => sim.snapshot(),
    resetStats: () => sim.resetStats(),
    advance: (ms) => scheduler.advance(ms),
    goAway,
    comeBack,
    get listening() {
      return sim.server.listening;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        scheduler.close();
        if (!sim.server.listening) return resolve();
        sim.server.close(() => resolve());
        sim.server.closeAllConnections();
      }).then(() => hosts?.close());
      return closed;
    },
  };
}
