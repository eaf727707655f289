/**
 * Two baseline strategies the benchmark compares metalwave with, written as small
 * clients over the real MAAS client (src/maas/client.ts), built the way the CLI
 * builds it. Run as a child process, one strategy per run, against a fresh region:
 *
 *   node test/bench/baselines.ts --strategy terraform --url URL --key-file F --poll-ms 33
 *
 * - terraform: per-machine workers, a fixed number at once (10, like Terraform's
 *   default -parallelism); each machine is commissioned, read every poll interval
 *   until Ready, allocated, deployed, read every poll interval until Deployed.
 * - all-at-once: what the reference deployer does: commission every machine, read the
 *   whole machine list every poll interval until all are Ready, allocate and deploy
 *   every machine, read the whole list until all are Deployed.
 *
 * Neither retries a failed machine (neither does what they model); a machine in a
 * failed status, or still busy when the wait times out, is reported as failed.
 * Prints one JSON object (BaselineResult) on stdout.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createLogger } from "../../src/log.ts";
import { MaasClient } from "../../src/maas/client.ts";
import { MaasError } from "../../src/maas/errors.ts";
import type { MaasPort, Machine } from "../../src/maas/port.ts";
import { NodeStatus, STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { renderUserData } from "../../src/layers/templates.ts";
import { assertNever } from "../../src/errors.ts";

export type Strategy = "terraform" | "all-at-once";
export const STRATEGIES: readonly Strategy[] = ["terraform", "all-at-once"];

export interface BaselineOptions {
  /** Delay between status reads (time-scaled by the caller). */
  pollMs: number;
  /** Machines worked on at once (terraform only). */
  parallelism: number;
  /** Give up waiting for one phase after this long (time-scaled by the caller). */
  waitTimeoutMs: number;
  agentName: string;
  distroSeries: string;
}

export interface BaselineResult {
  strategy: Strategy;
  machines: number;
  deployed: number;
  failures: { systemId: string; hostname: string; reason: string }[];
  /** From the first request (listing the machines) to the last machine Deployed. */
  makespanMs: number;
  /** Machine records read back (lists count every machine they return). */
  machinesRead: number;
  /** Requests the client sent (retries included). */
  clientRequests: number;
}

type Target = { want: NodeStatusCode; failed: NodeStatusCode };
const READY: Target = { want: NodeStatus.READY, failed: NodeStatus.FAILED_COMMISSIONING };
const DEPLOYED: Target = { want: NodeStatus.DEPLOYED, failed: NodeStatus.FAILED_DEPLOYMENT };

function reasonOf(e: unknown): string {
  return e instanceof MaasError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}

function userDataFor(m: Machine): string {
  return renderUserData({ hostname: m.hostname, systemId: m.system_id, roles: [], sshAuthorizedKeys: [] });
}

class Outcomes {
  /** Machine records MAAS sent back in reads and lists (each ~10 KB of JSON). */
  machinesRead = 0;
  readonly failures = new Map<string, { systemId: string; hostname: string; reason: string }>();
  fail(m: Machine, reason: string): void {
    if (!this.failures.has(m.system_id)) this.failures.set(m.system_id, { systemId: m.system_id, hostname: m.hostname, reason });
  }
}

/** One machine at a time per worker, polled on its own: what a per-resource provider does. */
async function terraformStyle(maas: MaasPort, machines: readonly Machine[], o: BaselineOptions, out: Outcomes): Promise<void> {
  const waitFor = async (m: Machine, t: Target): Promise<boolean> => {
    const deadline = performance.now() + o.waitTimeoutMs;
    for (;;) {
      await sleep(o.pollMs);
      const now = await maas.readMachine(m.system_id);
      out.machinesRead++;
      if (now.status === t.want) return true;
      if (now.status === t.failed) {
        out.fail(m, `${STATUS_LABEL[t.failed]}: ${now.status_message ?? ""}`);
        return false;
      }
      if (performance.now() > deadline) {
        out.fail(m, `still ${now.status_name} after ${o.waitTimeoutMs} ms`);
        return false;
      }
    }
  };
  const one = async (m: Machine) => {
    try {
      await maas.commission(m.system_id);
      if (!(await waitFor(m, READY))) return;
      await maas.allocate({ system_id: m.system_id, agent_name: o.agentName });
      await maas.deploy(m.system_id, { distro_series: o.distroSeries, user_data: userDataFor(m), agent_name: o.agentName });
      await waitFor(m, DEPLOYED);
    } catch (e) {
      out.fail(m, reasonOf(e));
    }
  };
  const queue = [...machines];
  const worker = async () => {
    for (let m = queue.shift(); m; m = queue.shift()) await one(m);
  };
  await Promise.all(Array.from({ length: Math.min(o.parallelism, machines.length) }, worker));
}

/** Everything at once, then one full-list poll loop until every machine is there. */
async function allAtOnce(maas: MaasPort, machines: readonly Machine[], o: BaselineOptions, out: Outcomes): Promise<void> {
  const waitAll = async (ms: readonly Machine[], t: Target): Promise<Machine[]> => {
    const deadline = performance.now() + o.waitTimeoutMs;
    const pending = new Map(ms.map((m) => [m.system_id, m]));
    const reached: Machine[] = [];
    while (pending.size > 0) {
      await sleep(o.pollMs);
      const all = await maas.listMachines();
      out.machinesRead += all.length;
      for (const now of all) {
        const m = pending.get(now.system_id);
        if (!m) continue;
        if (now.status === t.want) {
          pending.delete(now.system_id);
          reached.push(m);
        } else if (now.status === t.failed) {
          pending.delete(now.system_id);
          out.fail(m, `${STATUS_LABEL[t.failed]}: ${now.status_message ?? ""}`);
        }
      }
      if (pending.size > 0 && performance.now() > deadline) {
        for (const m of pending.values()) out.fail(m, `not ${STATUS_LABEL[t.want]} after ${o.waitTimeoutMs} ms`);
        break;
      }
    }
    return reached;
  };
  const each = async (ms: readonly Machine[], act: (m: Machine) => Promise<void>): Promise<Machine[]> => {
    const ok: Machine[] = [];
    await Promise.all(
      ms.map(async (m) => {
        try {
          await act(m);
          ok.push(m);
        } catch (e) {
          out.fail(m, reasonOf(e));
        }
      }),
    );
    return ok;
  };
  const commissioned = await each(machines, async (m) => void (await maas.commission(m.system_id)));
  const ready = await waitAll(commissioned, READY);
  const deploying = await each(ready, async (m) => {
    await maas.allocate({ system_id: m.system_id, agent_name: o.agentName });
    await maas.deploy(m.system_id, { distro_series: o.distroSeries, user_data: userDataFor(m), agent_name: o.agentName });
  });
  await waitAll(deploying, DEPLOYED);
}

/** Runs one strategy over every machine the region lists. */
export async function runBaseline(strategy: Strategy, maas: MaasClient, o: BaselineOptions): Promise<BaselineResult> {
  const started = performance.now();
  const machines = await maas.listMachines();
  const out = new Outcomes();
  out.machinesRead += machines.length;
  switch (strategy) {
    case "terraform":
      await terraformStyle(maas, machines, o, out);
      break;
    case "all-at-once":
      await allAtOnce(maas, machines, o, out);
      break;
    default:
      assertNever(strategy, "strategy");
  }
  const makespanMs = performance.now() - started;
  return {
    strategy,
    machines: machines.length,
    deployed: machines.length - out.failures.size,
    failures: [...out.failures.values()],
    makespanMs,
    machinesRead: out.machinesRead,
    clientRequests: maas.stats().requests,
  };
}

const HELP = `usage: node test/bench/baselines.ts --strategy terraform|all-at-once --url URL --key-file F [options]

options:
  --poll-ms N            delay between status reads (default 10000)
  --parallelism N        machines at once, terraform only (default 10)
  --wait-timeout-ms N    give up on a phase after this long (default 3600000)
  --max-in-flight N      MAAS client: requests in flight (default 4)
  --requests-per-second N  MAAS client: request starts per second, 0 = unlimited (default 50)`;

function num(name: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number ≥ 0, got ${JSON.stringify(text)}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      strategy: { type: "string" },
      url: { type: "string" },
      "key-file": { type: "string" },
      "poll-ms": { type: "string" },
      parallelism: { type: "string" },
      "wait-timeout-ms": { type: "string" },
      "max-in-flight": { type: "string" },
      "requests-per-second": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const strategy = STRATEGIES.find((s) => s === values.strategy);
  if (!strategy || !values.url || !values["key-file"]) {
    console.error(HELP);
    return 2;
  }
  const logger = createLogger({ level: "warn" });
  const maas = new MaasClient({
    url: values.url,
    apiKey: readFileSync(values["key-file"], "utf8"),
    maxInFlight: num("max-in-flight", values["max-in-flight"], 4),
    requestsPerSecond: num("requests-per-second", values["requests-per-second"], 50),
    timeoutMs: 30_000,
    logger: logger.child({ component: "maas" }),
  });
  const result = await runBaseline(strategy, maas, {
    pollMs: num("poll-ms", values["poll-ms"], 10_000),
    parallelism: Math.max(1, Math.round(num("parallelism", values.parallelism, 10))),
    waitTimeoutMs: num("wait-timeout-ms", values["wait-timeout-ms"], 3_600_000),
    agentName: "baseline",
    distroSeries: "noble",
  });
  console.log(JSON.stringify(result));
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    },
  );
}
