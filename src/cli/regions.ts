/**
 * The MAAS side of a command: one region (`maas.url`, or the embedded simulator) as before,
 * or several (`regions:` in the config, or `metalwave start --regions N`), each region a
 * client with its own URL, key and request limits behind one `RegionsMaas` port
 * (src/maas/regions.ts). docs/configuration.md, "Several regions".
 */
import { readFileSync } from "node:fs";
import type { Config } from "../config.ts";
import { ConfigError, MetalwaveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { MaasPort } from "../maas/port.ts";
import { RegionLink } from "../maas/region-link.ts";
import { RegionsError, RegionsMaas } from "../maas/regions.ts";
import { MaasClient, type MaasClientStats } from "../maas/client.ts";
import type { RequestInfo } from "../maas/transport.ts";
import { startSimulator, type SimHandle } from "../sim/index.ts";
import { realRegion, resolveRegion, type Region } from "./region.ts";
import type { ProbeAnswer } from "../service/readiness.ts";

export interface Site {
  /** How the run is shown and recorded; with several regions its url lists them (`name=url, …`). */
  region: Region;
  maas: MaasPort;
  requestCount: () => number;
  /** Every region's client counters, summed (the service's metrics). */
  stats: () => MaasClientStats;
  /** Hooks every region's client's request end (the service's latency histogram). */
  observeRequests: (observer: (info: RequestInfo) => void) => void;
  /**
   * A readiness probe on clients of its own (one attempt, a short timeout, not counted in a
   * run's requests): every region's key answers `whoami`; otherwise it names the regions that did not.
   */
  probe: () => Promise<ProbeAnswer>;
  /** Several regions: each region's URL by name (the dashboard's links to each region's web UI). */
  regionUrls: ReadonlyMap<string, string>;
  /** Several embedded regions, by name (their simulated hosts, for layering). */
  sims: ReadonlyMap<string, SimHandle>;
  close(): Promise<void>;
}

/** Names of the embedded simulated regions: r1, r2, … */
export function simRegionName(i: number): string {
  return `r${i + 1}`;
}

function readRegionKey(file: string, index: number): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new ConfigError(`regions.${index}.apiKeyFile`, `cannot read the API key file ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`, { cause: e });
  }
}

/** Counters of several clients as one. */
export function sumStats(all: readonly MaasClientStats[]): MaasClientStats {
  const out: MaasClientStats = { requests: 0, retries: 0, reconciliations: 0, byOperation: {} };
  for (const s of all) {
    out.requests += s.requests;
    out.retries += s.retries;
    out.reconciliations += s.reconciliations;
    for (const [op, byStatus] of Object.entries(s.byOperation)) {
      const to = (out.byOperation[op] ??= {});
      for (const [status, n] of Object.entries(byStatus)) to[status] = (to[status] ?? 0) + n;
    }
  }
  return out;
}

/** A client for readiness probes: one attempt, a short timeout, one request at a time. */
function probeClient(url: string, apiKey: string, beforeSend: (() => void) | undefined): MaasClient {
  return new MaasClient({ url, apiKey, retry: { attempts: 1 }, timeoutMs: 5_000, maxInFlight: 1, ...(beforeSend ? { beforeSend } : {}) });
}

interface RegionClient {
  name: string;
  url: string;
  apiKey: string;
  client: MaasClient;
}

function several(clients: RegionClient[], config: Config, region: Region, sims: ReadonlyMap<string, SimHandle>, beforeSend: (() => void) | undefined): Site {
  const links = clients.map(({ name, client }) => new RegionLink({ name, port: client, probeIntervalMs: config.regionProbeIntervalMs }));
  const probes = clients.map((c) => ({ name: c.name, client: probeClient(c.url, c.apiKey, beforeSend) }));
  return {
    region,
    maas: new RegionsMaas(links),
    requestCount: () => clients.reduce((n, c) => n + c.client.stats().requests, 0),
    stats: () => sumStats(clients.map((c) => c.client.stats())),
    observeRequests: (o) => clients.forEach((c) => c.client.observeRequests(o)),
    // Ready while at least one region answers (a run goes on in those, the others' hosts wait);
    // each region's answer is reported (metalwave_region_up). Refused only when none answers.
    probe: async () => {
      const answers = await Promise.allSettled(probes.map((p) => p.client.whoami()));
      const failed = probes.flatMap((p, i) => {
        const a = answers[i] as PromiseSettledResult<unknown>;
        return a.status === "rejected" ? [{ name: p.name, e: a.reason as unknown }] : [];
      });
      const errorOf = (e: unknown) => ({ code: e instanceof MetalwaveError ? e.code : "MAAS_UNREACHABLE", message: e instanceof Error ? e.message : String(e) });
      const regions = probes.map((p) => {
        const f = failed.find((x) => x.name === p.name);
        return { region: p.name, ok: f === undefined, error: f ? errorOf(f.e) : null };
      });
      if (failed.length < probes.length) return { regions };
      const what = failed.map(({ name, e }) => `region ${name}: ${e instanceof MetalwaveError ? `${e.code}: ` : ""}${e instanceof Error ? e.message : String(e)}`).join("; ");
      throw new RegionsError("REGIONS_UNREACHABLE", `none of the ${probes.length} regions answers: ${what}`, { cause: failed[0]?.e });
    },
    regionUrls: new Map(clients.map((c) => [c.name, c.url])),
    sims,
    close: async () => {
      for (const l of links) l.close();
      await Promise.all([...sims.values()].map((s) => s.close()));
    },
  };
}

/**
 * The region(s) a command talks to. `beforeSend` is checked before every request (the
 * store's lease). Several regions need `regions:` (real) or `simulator.regions` > 1 with
 * the embedded simulator.
 */
export async function openSite(config: Config, opts: { command: string; simulated: boolean; logger: Logger; beforeSend?: () => void; why?: string }): Promise<Site> {
  const { logger } = opts;
  if (config.regions && !opts.simulated) {
    const clients = config.regions.map((r, i) => ({ name: r.name, url: r.url, apiKey: readRegionKey(r.apiKeyFile, i), r }));
    return several(
      clients.map(({ name, url, apiKey, r }) => ({
        name,
        url,
        apiKey,
        client: new MaasClient({
          url,
          apiKey,
          ...(opts.beforeSend ? { beforeSend: opts.beforeSend } : {}),
          maxInFlight: r.maxInFlight,
          requestsPerSecond: r.requestsPerSecond,
          timeoutMs: r.timeoutMs,
          logger: logger.child({ component: "maas", region: name }),
        }),
      })),
      config,
      { simulated: false, url: config.regions.map((r) => `${r.name}=${r.url}`).join(", "), apiKey: "" },
      new Map(),
      opts.beforeSend,
    );
  }
  if (opts.simulated && config.simulator.regions > 1) {
    if (config.layers.enabled) {
      throw new ConfigError("layers.enabled", "several embedded simulated regions run without simulated hosts: set layers.enabled: false (metalwave start --regions N does)");
    }
    const sims = new Map<string, SimHandle>();
    try {
      for (let i = 0; i < config.simulator.regions; i++) {
        const name = simRegionName(i);
        sims.set(name, await embeddedRegion(config, logger, name, i));
      }
    } catch (e) {
      await Promise.all([...sims.values()].map((s) => s.close()));
      throw e;
    }
    const clients = [...sims].map(([name, sim]) => ({ name, url: sim.url, apiKey: sim.apiKey, client: clientOf(config, sim.url, sim.apiKey, logger.child({ region: name }), opts.beforeSend) }));
    const first = [...sims.values()][0] as SimHandle;
    const url = [...sims].map(([name, s]) => `${name}=${s.url}`).join(", ");
    return several(clients, config, { simulated: true, url, apiKey: first.apiKey, sim: first }, sims, opts.beforeSend);
  }
  const region = opts.simulated ? await resolveRegion(config, opts) : realRegion(config, opts.command, opts.why);
  const client = clientOf(config, region.url, region.apiKey, logger, opts.beforeSend);
  const probe = probeClient(region.url, region.apiKey, opts.beforeSend);
  return {
    region,
    maas: client,
    requestCount: () => client.stats().requests,
    stats: () => client.stats(),
    observeRequests: (o) => client.observeRequests(o),
    probe: async () => (await probe.whoami(), {}),
    regionUrls: new Map(),
    sims: new Map(),
    close: async () => {
      if (region.simulated) await region.sim.close();
    },
  };
}

/** One embedded region of several: its own seed, hostnames and port; the same faults and speed. */
async function embeddedRegion(config: Config, logger: Logger, name: string, index: number): Promise<SimHandle> {
  const s = config.simulator;
  if (s.fleet) throw new ConfigError("simulator.fleet", "a fleet file describes one region; with simulator.regions > 1 use simulator.machines (per region)");
  const sim = await startSimulator({
    port: 0,
    machines: s.machines ?? 300,
    hostnamePrefix: name,
    ...(s.speed === 0 ? { zeroDuration: true } : { speed: s.speed }),
    seed: s.seed + index,
    ...(s.faults ? { faults: s.faults } : {}),
    logger: logger.child({ component: "sim", region: name }),
  });
  logger.info({ region: name, url: sim.url, simulated: true, machines: sim.region.machines.length }, "embedded simulated MAAS region started (made-up machines)");
  return sim;
}

/** A client with the config's `maas.*` request limits (rollout.ts's clientFor, which imports this file). */
function clientOf(config: Config, url: string, apiKey: string, logger: Logger, beforeSend?: () => void): MaasClient {
  return new MaasClient({
    url,
    apiKey,
    ...(beforeSend ? { beforeSend } : {}),
    maxInFlight: config.maas.maxInFlight,
    requestsPerSecond: config.maas.requestsPerSecond,
    timeoutMs: config.maas.timeoutMs,
    logger: logger.child({ component: "maas" }),
  });
}
