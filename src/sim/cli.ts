/**
 * `metalwave sim`: runs the simulated region standalone until SIGINT/SIGTERM.
 * The main CLI (src/cli/main.ts) dispatches here with the arguments after "sim".
 */
import { writeFileSync, chmodSync } from "node:fs";
import { Command } from "commander";
import { act, exitCodesHelp, runCommand, styled, withLogOptions, type Outcome } from "../cli/command.ts";
import { cliOutput } from "../cli/logging.ts";
import { MetalwaveError } from "../errors.ts";
import { startSimulator } from "./index.ts";
import type { SimHandle } from "./index.ts";

interface SimOpts {
  port?: string;
  host?: string;
  machines?: string;
  hostnamePrefix?: string;
  fleet?: string;
  speed?: string;
  durations?: string;
  seed?: string;
  faults?: string;
  maxInFlight?: string;
  apiKey?: string;
  keyFile?: string;
  hosts?: boolean;
  sshPort?: string;
  hostFaults?: string;
  logFormat?: string;
  logLevel?: string;
}

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new Error(`--${name}: '${text}' is not an integer`);
  return n;
}

/** `metalwave sim`: its options and help, in the style of every metalwave command (src/cli/command.ts). */
export function simCommand(out: Outcome, signals: NodeJS.EventEmitter = process): Command {
  const cmd = new Command("sim")
    .summary("serve a simulated MAAS region on loopback")
    .description("Runs a simulated MAAS region (REST API 2.0) on loopback until interrupted.")
    .option("--port <n>", "port to listen on (default 5240; 0 = any free port)")
    .option("--host <addr>", "loopback address to bind (default 127.0.0.1)")
    .option("--machines <n>", "generate a default fleet of N machines (default 20)")
    .option("--hostname-prefix <name>", "with --machines: hostnames <name>-<zone>-<class>-0001… instead of petnames (one region of several: no two regions list the same hostname)")
    .option("--fleet <file>", "fleet YAML file (e.g. machines/fleet-small.yaml); overrides --machines")
    .option("--speed <x>", "divide realistic durations by X (default 1; e.g. 600; inf = busy states end at once)")
    .option("--durations <spec>", "fixed realistic seconds per phase instead of seeded ranges, e.g. commission=450,deploy=900 (still divided by --speed)")
    .option("--seed <n>", "seed for names, ids, the API key, durations and faults (default 1)")
    .option("--faults <spec>", "injected faults, e.g. deploy.fail=0.1,burst503=0.01:retry-after=5")
    .option("--max-in-flight <n>", "requests served at once; the rest queue (default unlimited)")
    .option("--api-key <key>", "use this consumer:token:secret instead of one derived from the seed")
    .option("--key-file <file>", "write the API key to FILE (mode 0600)")
    .option("--hosts", "simulate deployed hosts: SSH on each machine's 127.A.B.C address, the layer commands, a Kubernetes API (docs/layering.md)")
    .option("--ssh-port <n>", "port every simulated host listens on (default 22 as root, else 2222)")
    .option("--host-faults <spec>", "faults of simulated hosts, e.g. fail=0.05,hang=0.01:match=k8s");
  return withLogOptions(cmd)
    .addHelpText("after", "\nSee docs/simulator.md for the fault syntax, the fleet format and /sim/stats.\n" + exitCodesHelp("0 stopped, 1 error (a bad fault spec, say), 2 bad input."))
    .action(act(out, (o: SimOpts) => serveSim(o, signals)));
}

/** Runs the simulator; resolves with the process exit code once it has shut down. */
export async function runSim(argv: string[], signals: NodeJS.EventEmitter = process): Promise<number> {
  const out = { code: 0 };
  const cmd = styled(simCommand(out, signals).name("metalwave sim"));
  return runCommand(cmd, out, argv);
}

async function serveSim(values: SimOpts, signals: NodeJS.EventEmitter): Promise<number> {
  const { logger } = cliOutput("sim", values);
  let sim: SimHandle;
  try {
    const speedText = values.speed;
    const speed = speedText === undefined ? undefined : speedText === "inf" || speedText === "Infinity" ? Infinity : Number(speedText);
    if (speed !== undefined && !(speed > 0)) throw new Error(`--speed: '${speedText}' must be a positive number`);
    sim = await startSimulator({
      host: values.host,
      port: int("port", values.port) ?? 5240,
      machines: int("machines", values.machines),
      fleet: values.fleet,
      ...(values.hostnamePrefix !== undefined ? { hostnamePrefix: values.hostnamePrefix } : {}),
      speed,
      durations: values.durations,
      seed: int("seed", values.seed),
      faults: values.faults,
      maxInFlight: int("max-in-flight", values.maxInFlight),
      apiKey: values.apiKey,
      logger: logger.child({ component: "sim" }),
      hosts: values.hosts || values.sshPort !== undefined || values.hostFaults !== undefined ? { sshPort: int("ssh-port", values.sshPort), faults: values.hostFaults } : undefined,
    });
  } catch (err) {
    const msg = err instanceof MetalwaveError || err instanceof Error ? err.message : String(err);
    console.error(`metalwave sim: ${msg}`);
    return 1;
  }
  if (values.keyFile !== undefined) {
    writeFileSync(values.keyFile, `${sim.apiKey}\n`, { mode: 0o600 });
    // writeFileSync keeps the mode of an existing file: tighten it explicitly.
    chmodSync(values.keyFile, 0o600);
  }
  const machines = sim.region.machines.length;
  console.log(`MAAS simulator: ${sim.url} (${machines} machines)`);
  console.log(`API key: ${sim.apiKey}`);
  console.log(`Stats: ${sim.url.replace(/\/MAAS$/, "")}/sim/stats`);
  if (sim.hosts) {
    console.log(`Simulated hosts: SSH on each deployed machine's address, port ${sim.hosts.sshPort}; Kubernetes API ${sim.hosts.cloud.kube.url}`);
    console.log(`Simulated Juju: a bootstrapped controller serves its API at ws://<controller machine address>:${sim.hosts.jujuApi.port}/api (docs/simulated-juju.md)`);
    console.log(`Simulated OpenStack: keystone, nova and neutron at http://<traefik's load-balancer address>:${sim.hosts.openstackApi.port}/openstack-keystone/v3 once the control plane is up (keystone's get-admin-account gives the account)`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      signals.off("SIGINT", stop);
      signals.off("SIGTERM", stop);
      resolve();
    };
    signals.on("SIGINT", stop);
    signals.on("SIGTERM", stop);
  });
  await sim.close();
  console.log("MAAS simulator stopped.");
  return 0;
}
