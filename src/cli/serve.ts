/**
 * `metalwave serve`: the long-running service (src/service, docs/service.md).
 */
import { loadConfig, type ConfigInput } from "../config.ts";
import { cliOutput } from "./logging.ts";
import { isLoopback } from "../sim/index.ts";
import { Command } from "commander";
import { ExitCode, UsageError, regionFlags, withRegionOptions, type RegionOpts } from "./args.ts";
import { act, exitCodesHelp, withLogOptions, type Outcome } from "./command.ts";
import type { LogFlags } from "./logging.ts";
import { layeringFor, openConfiguredStore, refuseLayersOverRegions } from "./rollout.ts";
import { openSite } from "./regions.ts";
import { realRegion, regionJson, regionRecord, regionText, simulatedRequested, timeScaleOf } from "./region.ts";

/** The token's environment variable (src/service TOKEN_ENV, kept apart so help does not load the service). */
const TOKEN_ENV = "METALWAVE_API_TOKEN";

export const DEFAULT_LISTEN = "127.0.0.1:8640";

interface ServeOpts extends RegionOpts, LogFlags {
  listen: string;
  tokenFile?: string;
  simulated?: boolean;
}

export function serveCommand(out: Outcome): Command {
  const cmd = new Command("serve")
    .summary("run the metalwave service: rollouts on request over an HTTP API, events and metrics")
    .description(
      "Runs the metalwave service: holds the store's lock, runs at most one rollout at a time on " +
        "request, and serves a JSON API, server-sent events and Prometheus metrics (docs/service.md). " +
        "A MAAS URL is required; --simulated serves an embedded simulated region instead, that lives " +
        "as long as the service.",
    )
    .option("--listen <addr:port>", "where to listen ([::1]:8640 for IPv6)", DEFAULT_LISTEN)
    .option("--token-file <file>", `file holding the API bearer token (env ${TOKEN_ENV} holds the token itself)`);
  return withLogOptions(withRegionOptions(cmd).option("--simulated", "serve an embedded simulated region (made-up machines)"))
    .addHelpText(
      "after",
      "\nSIGINT or SIGTERM stops it gracefully: the live rollout pauses, hosts in flight finish their " +
        "current phase, then the server closes and the lock is released; a later 'metalwave serve' " +
        "resumes it with POST /api/v1/rollouts/{id}/resume. A second signal stops at once (the rollout " +
        "resumes from the store as after a crash).\n" +
        exitCodesHelp("0 stopped, 1 error, 2 bad input, 5 the store is locked by another run."),
    )
    .action(act(out, (o: ServeOpts) => runServe(o)));
}

/** The serve command's help (its options), as `metalwave serve --help` prints it. */
export const SERVE_HELP = serveCommand({ code: 0 }).helpInformation();


export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65_535)) {
    throw new UsageError(`metalwave serve: --listen expects ADDR:PORT (e.g. 127.0.0.1:8640 or [::1]:8640), got ${JSON.stringify(value)}`);
  }
  return { host: m[1] ?? m[2]!, port };
}


async function runServe(values: ServeOpts): Promise<number> {
  const { checkServeConfig, loadToken, startService } = await import("../service/index.ts");
  const listen = parseListen(values.listen);
  const token = loadToken({ file: values.tokenFile, env: process.env });
  const flags: ConfigInput = {
    ...regionFlags(values),
  };
  const config = loadConfig({ ...(values.config ? { file: values.config } : {}), flags });
  const simulated = simulatedRequested(config, values.simulated);
  // A missing MAAS URL first: it is the mistake the other checks would hide.
  if (!simulated && !config.regions) realRegion(config, "serve");
  // Refused at start, not at the first run's layers (and before the layers' key is looked at).
  if (!simulated) refuseLayersOverRegions(config);
  checkServeConfig(config, { embeddedRegion: simulated });
  const { logger } = cliOutput("serve", values);
  if (!isLoopback(listen.host)) {
    logger.warn({ listen: values.listen }, "listening beyond loopback over plain HTTP: the bearer token crosses the network in clear; put a TLS proxy in front");
  }

  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const store = openConfiguredStore(config);
    cleanup.push(() => store.close());
    // One region or several (`regions:`; src/cli/regions.ts). Every request checks the store's
    // lease right before it is sent, as the CLI's do: a leader paused past its lease sends
    // nothing it had queued once it is resumed.
    const site = await openSite(config, { command: "serve", simulated, logger, beforeSend: () => store.assertMayAct() });
    cleanup.push(() => site.close());
    const region = site.region;
    // The layers' SSH key and pinned host keys belong to the region: every run on it
    // shares them (layeringFor), so hosts one run deployed accept the next run.
    const sim = region.simulated ? region.sim : undefined;
    const maas = site.maas;
    const service = await startService({
      store,
      maas,
      maasStats: site.stats,
      observeMaasRequests: site.observeRequests,
      // Readiness probes on clients of their own: one attempt, a short timeout, not counted in a run's requests.
      probeMaas: site.probe,
      config,
      logger,
      token,
      host: listen.host,
      port: listen.port,
      timeScale: timeScaleOf(config, region),
      observerPollMs: sim ? 100 : config.maas.pollIntervalMs,
      layering: () => layeringFor(config, logger, sim, maas),
      regionIsEphemeral: sim !== undefined,
      region: regionRecord(region),
      ...(sim ? {} : site.regionUrls.size > 0 ? { regionUrls: site.regionUrls } : { maasUrl: region.url }),
      lockCommand: "serve",
    });
    // A log line like every other (never a plain line in a JSON log stream: `journalctl -o cat | jq`).
    logger.info({ url: service.url, region: regionJson(region), store: config.store }, `metalwave service at ${service.url}; store ${config.store}; ${regionText(region)}`);

    await new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          logger.warn({ signal: sig }, "stopping: the live rollout pauses, hosts in flight finish their current phase (signal again to stop at once)");
          service.stop(`paused: the service got ${sig}`).then(resolve, (e: unknown) => {
            logger.error({ err: e instanceof Error ? e.message : String(e) }, "graceful stop failed");
            resolve();
          });
          return;
        }
        logger.warn({ signal: sig }, "stopping at once; resume the rollout from the store later");
        store.close();
        process.exit(ExitCode.ERROR);
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      cleanup.push(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      });
    });
    return ExitCode.OK;
  } finally {
    for (const f of cleanup) await f();
  }
}
