/**
 * `metalwave rollout`, `metalwave start` and `metalwave status`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir, hostname as osHostname } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config, type ConfigInput } from "../config.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { cliOutput, type LogFlags } from "./logging.ts";
import type { Terminal } from "./terminal.ts";
import { MaasClient } from "../maas/client.ts";
import type { MaasPort } from "../maas/port.ts";
import { localStateDir, openStore, type Store } from "../store/index.ts";
import { abortStoppedRollout, RolloutError, RolloutRunner, type RolloutSummary, type RunnerDeps } from "../runtime/rollout-runner.ts";
import { readRolloutPlan, planKind } from "../runtime/documents/rollout-plan.ts";
import { readHostError } from "../runtime/documents/host-error.ts";
import { hostFailureOf, RolloutTally, withWavesFromOne } from "../runtime/progress.ts";
import { regionRecordJson, regionRecordText } from "../runtime/region.ts";
import { countByRegion, regionCountsText } from "../runtime/region-counts.ts";
import type { HostOutcome } from "../../state-machines/host.ts";
import type { SimHandle } from "../sim/index.ts";
import { createLayering, type Layering } from "../layers/index.ts";
import { openKnownHosts, generateKeyPair, loadPrivateKey, MemoryKnownHosts, publicKeyLine, Ssh2Port, type SshTarget } from "../ssh/index.ts";
import { Command } from "commander";
import { ExitCode, intFlag, overrideFlags, regionFlags, UsageError, withRegionOptions, type RegionOpts } from "./args.ts";
import { act, collect, exitCodesHelp, withLogOptions, type Outcome } from "./command.ts";
import { FINDING_CODES, type FindingCode } from "../roles/types.ts";
import { cloudText, createProgressPrinter, summaryText } from "./progress.ts";
import { openSite, type Site } from "./regions.ts";
import { realRegion, regionJson, regionRecord, regionText, simulatedRequested, timeScaleOf, type Region } from "./region.ts";

function exitCodeFor(s: RolloutSummary): number {
  switch (s.state) {
    case "completed":
      return ExitCode.OK;
    case "paused":
      return ExitCode.PAUSED;
    case "aborted":
      return ExitCode.ABORTED;
    case "running":
      return ExitCode.ERROR;
  }
}

interface RunArgs {
  config: Config;
  region: Region;
  maas: MaasPort;
  requestCount: () => number;
  store: Store;
  logger: Logger;
  terminal: Terminal;
  resume: boolean;
  json: boolean;
  timeScale: number;
  observerPollMs: number;
  layering: LayeringSetup | undefined;
}

export interface LayeringSetup {
  engine: Layering;
  ssh: Ssh2Port;
  /** The config with metalwave's public key added to the user-data's authorized keys. */
  config: Config;
}

/**
 * The SSH identity of an embedded region, the same for every run on it: the key made for
 * it (hosts deployed by one run carry it in their user-data, so a later run's health checks
 * and re-layering must present it) and the host keys pinned so far (as the known-hosts file
 * beside the store keeps them for a real region). A new run's SSH port with a key or pins of
 * its own would be refused by the hosts an earlier run deployed.
 */
const embeddedSsh = new WeakMap<SimHandle, { privateKey: string; knownHosts: MemoryKnownHosts }>();
function embeddedRegionSsh(sim: SimHandle): { privateKey: string; knownHosts: MemoryKnownHosts } {
  let id = embeddedSsh.get(sim);
  if (!id) embeddedSsh.set(sim, (id = { privateKey: generateKeyPair("metalwave-embedded").privateKey, knownHosts: new MemoryKnownHosts() }));
  return id;
}

/**
 * The SSH port and the layer engine, when `layers.enabled`. On the embedded region the
 * simulated hosts are reached at the endpoints it reports and a key is made for the
 * run; against a real region `ssh.privateKeyFile` is required.
 */
export function layeringFor(config: Config, logger: Logger, sim: SimHandle | undefined, maas?: Pick<MaasClient, "listIpRanges">): LayeringSetup | undefined {
  if (!config.layers.enabled) return undefined;
  refuseLayersOverRegions(config);
  let privateKey: string;
  if (config.ssh.privateKeyFile) privateKey = loadPrivateKey(config.ssh.privateKeyFile);
  else if (sim) privateKey = embeddedRegionSsh(sim).privateKey;
  else {
    throw new ConfigError(
      "ssh.privateKeyFile",
      "layering reaches deployed machines over SSH and needs metalwave's private key; set ssh.privateKeyFile, or layers.enabled: false to stop at Deployed",
    );
  }
  const fleet = sim?.hosts;
  const ssh = new Ssh2Port({
    privateKey,
    port: config.ssh.port,
    ...(fleet ? { endpoint: (t: SshTarget) => fleet.endpoint(t.systemId) } : {}),
    knownHosts: sim ? embeddedRegionSsh(sim).knownHosts : openKnownHosts(config, localStateDir(config.store)),
    commandTimeoutMs: config.ssh.commandTimeoutMs,
    // The embedded region's hosts are on loopback and listen once Deployed: a refused connection
    // is a host made unreachable, found in 350 ms instead of the 3.5 s a real network gets.
    ...(sim ? { connectBackoffMs: { base: 50, max: 400 } } : {}),
    logger: logger.child({ component: "ssh" }),
  });
  const engine = createLayering({
    ssh,
    logger: logger.child({ component: "layers" }),
    deployment: config.deployment,
    cephWipe: config.layers.cephWipe,
    // The load balancer's pool: MAAS's reserved ranges for the deployment's internal API (juju-layering.md §2d).
    ...(maas || sim ? { loadBalancerCidrs: async () => loadBalancerCidrs(await (maas ?? clientFor(config, sim?.url ?? "", sim?.apiKey ?? "", logger)).listIpRanges(), config.deployment) } : {}),
    pollMs: sim ? 50 : config.layers.pollMs,
    // The unit waits read the controller's AllWatcher (one watch per model; its access is read from
    // the controller, a secret). The embedded region's simulated controller serves plain ws on its
    // machines' addresses; a real one serves wss with its own CA (docs/juju-watch.md).
    jujuWatch: sim ? { security: "plain", coalesceMs: 50 } : { security: "controller-ca" },
    policy: { attempts: config.layers.stepAttempts, ...(sim ? { backoffMs: 50 } : {}) },
  });
  const key = publicKeyLine(privateKey, config.ssh.privateKeyFile ? "ssh.privateKeyFile" : "generated key");
  return { engine, ssh, config: { ...config, rollout: { ...config.rollout, sshAuthorizedKeys: [...config.rollout.sshAuthorizedKeys, key] } } };
}

/**
 * Layering over several regions is not done yet: the layers' load-balancer pool is read from
 * one region's IP ranges, which has no single answer across regions. Refused before anything
 * is changed (not once hosts are deployed and waiting for their layers).
 */
export function refuseLayersOverRegions(config: Config): void {
  if (!config.layers.enabled || !config.regions || config.regions.length <= 1) return;
  throw new ConfigError(
    "layers.enabled",
    "layering over several regions is not supported yet (the layers' load-balancer pool comes from one region's IP ranges); set layers.enabled: false to stop hosts at Deployed",
  );
}

/** `start-end` of every reserved range whose comment is `<deployment>-internal-api` (§1, §2d). */
export function loadBalancerCidrs(ranges: readonly { type: string; comment: string | null; start_ip: string; end_ip: string }[], deployment: string): string[] {
  return ranges.filter((r) => r.type === "reserved" && r.comment === `${deployment}-internal-api`).map((r) => `${r.start_ip}-${r.end_ip}`);
}

async function runWithProgress(a: RunArgs): Promise<number> {
  const printer = createProgressPrinter(a.terminal, a.logger);
  a.store.acquireLock({ pid: process.pid, hostname: osHostname(), command: a.resume ? "rollout --resume" : "rollout" });
  const runner = new RolloutRunner({
    maas: a.maas,
    store: a.store,
    config: a.layering?.config ?? a.config,
    logger: a.logger,
    requestCount: a.requestCount,
    onProgress: (p) => printer.update(p),
    timeScale: a.timeScale,
    observerPollMs: a.observerPollMs,
    region: regionRecord(a.region),
    ...(a.layering ? { layering: { engine: a.layering.engine, ssh: a.layering.ssh } } : {}),
  });
  const onSignal = (sig: string) => {
    a.logger.warn({ signal: sig }, "pausing the rollout: no new hosts start; hosts in flight finish");
    runner.pause(`paused by ${sig}`);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const summary = await runner.run({ resume: a.resume });
    // What the layers formed, read back from the hosts and the Kubernetes API; read before the
    // final progress block is drawn, so what the read-back logs (a first SSH connection's host
    // key pin, say) stays above it.
    const cloud = a.layering
      ? await a.layering.engine.report().catch((e: unknown) => {
          a.logger.warn({ err: e instanceof Error ? e.message : String(e) }, "could not read back the layered cloud");
          return undefined;
        })
      : undefined;
    // No background layer work (a barrier the run no longer waited for) logs below the block either.
    a.layering?.engine.close();
    printer.finish();
    const region = regionJson(a.region);
    // Waves count from 1 in the JSON, as in the progress line and `status` (docs/cli.md).
    const reported = withWavesFromOne(summary);
    if (a.json) console.log(JSON.stringify(cloud ? { region, ...reported, cloud } : { region, ...reported }, null, 2));
    else a.terminal.line(`${summaryText(summary)}\n  region: ${regionText(a.region)}` + (cloud ? `\n${cloudText(cloud)}` : ""));
    return exitCodeFor(summary);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // The run and its report are over: the engine's background work stops before the port closes.
    a.layering?.engine.close();
    await a.layering?.ssh.close();
    a.store.releaseLock();
  }
}

/**
 * The store as a command opens it: writes buffered for 200 ms and, on PostgreSQL,
 * the lease the config asks for (`storeLeaseMs`). Every command opens it here, so
 * none runs on the default lease when the operator set another one (`serve` did:
 * a standby took ~15 s to take over a paused leader whose lease was 3 s).
 */
export function openConfiguredStore(config: Config): Store {
  return openStore(config.store, { writeBehindMs: 200, lease: { ttlMs: config.storeLeaseMs } });
}

/**
 * Runs `work` with what a command against a lasting region needs: the config (file and
 * region flags), the MAAS client, the layers when enabled, and the store under its lock;
 * everything is released afterwards.
 */
export async function withLastingRegion(
  values: RegionOpts & LogFlags,
  opts: { command: string; why: string; lockCommand: string },
  work: (deps: RunnerDeps) => Promise<number>,
): Promise<number> {
  const config = loadConfig({ ...(values.config ? { file: values.config } : {}), flags: regionFlags(values) });
  // A missing region first, before anything is opened (several: `regions:`, src/cli/regions.ts).
  if (!config.regions) realRegion(config, opts.command, opts.why);
  const { logger } = cliOutput(opts.command, values);
  const store = openConfiguredStore(config);
  let site: Site;
  let layering: LayeringSetup | undefined;
  try {
    // On a PostgreSQL store the lock is a lease: nothing is sent to MAAS once it may have run out.
    site = await openSite(config, { command: opts.command, simulated: false, logger, beforeSend: () => store.assertMayAct(), why: opts.why });
  } catch (e) {
    store.close();
    throw e;
  }
  try {
    layering = layeringFor(config, logger, undefined, site.maas);
    store.acquireLock({ pid: process.pid, hostname: osHostname(), command: opts.lockCommand });
  } catch (e) {
    store.close();
    await site.close();
    throw e;
  }
  try {
    return await work({
      maas: site.maas,
      store,
      config: layering?.config ?? config,
      logger,
      requestCount: site.requestCount,
      observerPollMs: config.maas.pollIntervalMs,
      region: regionRecord(site.region),
      ...(layering ? { layering: { engine: layering.engine, ssh: layering.ssh } } : {}),
    });
  } finally {
    layering?.engine.close();
    await layering?.ssh.close();
    store.releaseLock();
    store.close();
    await site.close();
  }
}

/** `beforeSend`: checked before every request (the store's lease: a holder that may have lost it sends nothing). */
export function clientFor(config: Config, url: string, apiKey: string, logger: Logger, beforeSend?: () => void): MaasClient {
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

/** `--override` adds to the config's `rollout.overrides`, it does not replace them. */
export function withOverrides(config: Config, overrides: readonly string[]): Config {
  const all = [...new Set([...config.rollout.overrides, ...(overrides as FindingCode[])])];
  return { ...config, rollout: { ...config.rollout, overrides: all } };
}

/** `metalwave rollout --abort`: the latest rollout, stopped with nothing in flight, recorded as aborted. */
async function abortLatest(storePath: string | undefined, reason: string | undefined, json: boolean): Promise<number> {
  const config = loadConfig({ flags: storePath ? { store: storePath } : {} });
  const store = openConfiguredStore(config);
  try {
    return await store.withLock({ pid: process.pid, hostname: osHostname(), command: "rollout --abort" }, () => {
      const latest = store.latestRollout();
      if (!latest) throw new RolloutError("NOTHING_TO_ABORT", `no rollout in the store ${config.store}`);
      abortStoppedRollout(store, latest.id, reason ?? "aborted by an operator", process.env["USER"] ?? "cli");
      if (json) console.log(JSON.stringify({ rolloutId: latest.id, status: "aborted" }));
      else console.error(`rollout ${latest.id}: aborted (was ${latest.status})`);
      return ExitCode.OK;
    });
  } finally {
    store.close();
  }
}

interface RolloutOpts extends RegionOpts, LogFlags {
  resume?: boolean;
  abort?: boolean;
  reason?: string;
  override?: string[];
  simulated?: boolean;
  json?: boolean;
}

export function rolloutCommand(out: Outcome): Command {
  const cmd = withRegionOptions(new Command("rollout"))
    .summary("plan and run a rollout against a MAAS region (or resume one)")
    .description(
      "Plans a rollout of the machines MAAS lists (waves, in-flight caps, failure budget from the " +
        "config) and runs it to the end, showing progress. A MAAS URL is required; --simulated runs " +
        "against an embedded simulated region instead.",
    )
    .option("--resume", "continue the latest rollout in the store where it stopped")
    .option("--abort", "end the latest rollout in the store as aborted, when no process runs it and none of its hosts is in flight (paused, say); needs only --store")
    .option("--reason <text>", "with --abort: why (journaled)")
    .option("--override <code>", "let a pre-flight FAIL through (repeatable or comma-separated; journaled)", collect)
    .option("--simulated", "run on an embedded simulated region (made-up machines)")
    .option("--json", "print the final summary as JSON on stdout");
  return withLogOptions(cmd)
    .addHelpText("after", exitCodesHelp("0 completed, 1 error, 2 bad input, 3 paused (budget spent or operator), 4 aborted,\n5 the store is locked by another run, 6 pre-flight checks failed (nothing was changed)."))
    .action(act(out, (o: RolloutOpts) => runRollout(o)));
}

async function runRollout(values: RolloutOpts): Promise<number> {
  const json = values.json === true;
  const resume = values.resume === true;
  if (values.abort) return abortLatest(values.store, values.reason, json);
  if (values.reason !== undefined) throw new UsageError("metalwave rollout: --reason goes with --abort");
  const overrides = overrideFlags("rollout", values.override, FINDING_CODES);
  const flags: ConfigInput = {
    ...regionFlags(values),
  };
  const config = withOverrides(loadConfig({ ...(values.config ? { file: values.config } : {}), flags }), overrides);
  const { logger, terminal } = cliOutput("rollout", values);
  const simulated = simulatedRequested(config, values.simulated);
  if (simulated && resume) {
    throw new UsageError("metalwave rollout: --resume needs a MAAS region that outlives this process (--maas-url); the embedded simulated region starts afresh each run");
  }
  // One region, or several (regions: in the config; simulator.regions embedded): src/cli/regions.ts.
  const site = await openSite(config, { command: "rollout", simulated, logger });
  const region = site.region;
  const sim = region.simulated ? region.sim : undefined;
  const store = openConfiguredStore(config);
  try {
    return await runWithProgress({
      config,
      region,
      maas: site.maas,
      requestCount: site.requestCount,
      store,
      logger,
      terminal,
      resume,
      json,
      timeScale: timeScaleOf(config, region),
      observerPollMs: sim ? 100 : config.maas.pollIntervalMs,
      layering: layeringFor(config, logger, sim, site.maas),
    });
  } finally {
    store.close();
    await site.close();
  }
}

interface StartOpts extends LogFlags {
  machines?: string;
  fleet?: string;
  speed?: string;
  seed?: string;
  faults?: string;
  regions?: string;
  config?: string;
  store?: string;
  json?: boolean;
}

export function startCommand(out: Outcome): Command {
  const cmd = new Command("start")
    .summary("full rollout on the embedded simulated region, with progress (npm start)")
    .description(
      "The main job on a fresh clone: starts an embedded simulated MAAS region and runs a full " +
        "rollout of its fleet, with progress. Uses a new temporary store unless --store is given.",
    )
    .option("--machines <n>", "simulated machines (default 300)")
    .option("--fleet <file>", "a fleet file from machines/ instead of --machines")
    .option("--speed <x>", "divides realistic MAAS durations (default 600; 0 = instant)")
    .option("--seed <n>", "simulator seed (default 7)")
    .option("--faults <spec>", "simulator failure injection (docs/simulator.md)")
    .option("--regions <n>", "simulated regions, each with --machines of its own, its own seed and port (default 1; more than 1 stops hosts at Deployed)")
    .option("--config <file>", "config for the rollout (waves, caps, budget)")
    .option("--store <path>", "the store file (default: a new temporary one)")
    .option("--json", "print the final summary as JSON on stdout");
  return withLogOptions(cmd)
    .addHelpText("after", exitCodesHelp("as for rollout: 0 completed, 1 error, 2 bad input, 3 paused, 4 aborted, 6 pre-flight failed."))
    .action(act(out, (o: StartOpts) => runStart(o)));
}

async function runStart(values: StartOpts): Promise<number> {
  const speed = values.speed === undefined ? undefined : Number(values.speed);
  if (speed !== undefined && !(speed >= 0)) throw new ConfigError("--speed", `expects a number ≥ 0, got ${JSON.stringify(values.speed)}`);
  const machines = intFlag("start", "machines", values.machines);
  const seed = intFlag("start", "seed", values.seed);
  const regions = intFlag("start", "regions", values.regions);
  const storePath = values.store ?? join(mkdtempSync(join(tmpdir(), "metalwave-start-")), "metalwave.sqlite");
  const config = loadConfig({
    ...(values.config ? { file: values.config } : {}),
    env: {},
    flags: {
      store: storePath,
      simulator: {
        ...(machines !== undefined ? { machines } : {}),
        ...(values.fleet ? { fleet: values.fleet } : {}),
        ...(speed !== undefined ? { speed } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(values.faults ? { faults: values.faults } : {}),
        ...(regions !== undefined ? { regions } : {}),
      },
      // Several embedded regions have no simulated hosts: their hosts stop at Deployed.
      ...(regions !== undefined && regions > 1 ? { layers: { enabled: false } } : {}),
    },
  });
  // A full rollout logs a lot at info: warnings and worse unless asked (--log-level info).
  const { logger, terminal, format } = cliOutput("start", values, "warn");
  const site = await openSite(config, { command: "start", simulated: true, logger });
  const region = site.region;
  const sim = region.simulated ? region.sim : undefined;
  // A notice, not a log line: in a JSON log stream it is a record like the others.
  if (format === "json") logger.warn({ region: regionJson(region), store: config.store }, `${regionText(region)}; store ${config.store}`);
  else terminal.line(`${regionText(region)}; store ${config.store}`);
  const store = openConfiguredStore(config);
  try {
    return await runWithProgress({
      config,
      region,
      maas: site.maas,
      requestCount: site.requestCount,
      store,
      logger,
      terminal,
      resume: false,
      json: values.json === true,
      timeScale: timeScaleOf(config, region),
      observerPollMs: 100,
      layering: layeringFor(config, logger, sim, site.maas),
    });
  } finally {
    store.close();
    await site.close();
  }
}

interface StatusOpts extends LogFlags {
  store?: string;
  json?: boolean;
}

export function statusCommand(out: Outcome): Command {
  const cmd = new Command("status")
    .summary("show where every machine of the latest rollout is, from the store")
    .description("Reads the store and shows the latest rollout: its state, where every machine is, and why any failed. No MAAS access.")
    .option("--store <path>", "the store file (default .metalwave/metalwave.sqlite)")
    .option("--json", "print as JSON");
  return withLogOptions(cmd)
    .addHelpText("after", exitCodesHelp("0 shown, 1 no rollout in the store or an error, 2 bad input."))
    .action(act(out, (o: StatusOpts) => runStatus(o)));
}

async function runStatus(values: StatusOpts): Promise<number> {
  cliOutput("status", values);
  const config = loadConfig({ flags: values.store ? { store: values.store } : {} });
  const store = openConfiguredStore(config);
  try {
    const rollout = store.latestRollout();
    if (!rollout) {
      console.error(`no rollout in the store ${config.store}`);
      return ExitCode.ERROR;
    }
    // A deployment rollout, or a maintenance pass's: reprovision, remediation, replacement.
    const plan = readRolloutPlan(store.getRollout(rollout.id)?.plan, rollout.id);
    const kind = planKind(plan);
    const stored = store.hostCounts(rollout.id);
    // The total is the plan's: hosts never started are counted (as waiting), as the progress line does.
    const tally = RolloutTally.fromStoreCounts(plan, stored).counts();
    const hosts = store.loadHosts(rollout.id);
    // Several regions: each region's hosts (empty with one region).
    const byRegion = countByRegion(plan.hosts, hosts);
    const counts = { ...stored, total: tally.total, byPhase: tally.byPhase, waves: stored.waves.map((w) => ({ ...w, wave: w.wave + 1 })), byRegion };
    // Each failed host names the phase that failed (deploying), not the one it ended in (quarantined).
    const failed = hosts
      .filter((h) => h.outcome && h.outcome !== "inService")
      .map((h) => {
        const f = hostFailureOf({ systemId: h.systemId, hostname: h.hostname, outcome: h.outcome as HostOutcome, phase: h.phase, lastError: readHostError(h.lastError) });
        return { systemId: h.systemId, region: h.region, hostname: h.hostname, wave: h.wave + 1, outcome: f.outcome, phase: f.phase, code: f.code, message: f.message, lastError: h.lastError };
      });
    if (values.json) {
      console.log(
        JSON.stringify(
          {
            rollout: { id: rollout.id, kind, status: rollout.status, reason: rollout.reason ?? null, createdAt: rollout.createdAt, updatedAt: rollout.updatedAt },
            // The region the rollout ran against, as recorded with it: `simulated: true` for a rehearsal.
            region: rollout.region ? regionRecordJson(rollout.region) : null,
            counts,
            hosts: hosts.map((h) => ({ systemId: h.systemId, region: h.region, hostname: h.hostname, wave: h.wave + 1, phase: h.phase, outcome: h.outcome, maasStatus: h.maasStatus, lastError: h.lastError })),
            failed,
          },
          null,
          2,
        ),
      );
      return ExitCode.OK;
    }
    console.log(`rollout ${rollout.id}${kind === "rollout" ? "" : ` (${kind})`}${rollout.region?.kind === "simulated" ? " [SIMULATED]" : ""}: ${rollout.status}${rollout.reason ? ` (${rollout.reason})` : ""}`);
    console.log(`  region: ${regionRecordText(rollout.region)}`);
    console.log(`  hosts: ${tally.total} planned, ${tally.settled} settled, ${stored.unsettled} in flight, ${tally.total - stored.total} not started`);
    console.log(`  by phase: ${Object.entries(counts.byPhase).map(([k, v]) => `${k} ${v}`).join(" · ") || "-"}`);
    console.log(`  by outcome: ${Object.entries(counts.byOutcome).map(([k, v]) => `${k} ${v}`).join(" · ") || "-"}`);
    if (byRegion.length > 0) console.log(`  by region: ${regionCountsText(byRegion)}`);
    for (const f of failed) {
      console.log(`  ${f.hostname} (${f.systemId})${f.region === null ? "" : ` region ${f.region}`} wave ${f.wave}: ${f.outcome}, failed in ${f.phase}: ${f.code} ${f.message}`);
    }
    return ExitCode.OK;
  } finally {
    store.close();
  }
}
