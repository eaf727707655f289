/**
 * `metalwave sim`: runs the simulated region standalone until SIGINT/SIGTERM.
 * The main CLI (src/cli/main.ts) dispatches here with the arguments after "sim".
 */
import { writeFileSync, chmodSync } from "node:fs";
import { parseArgs } from "node:util";
import { MetalwaveError } from "../errors.ts";
import { startSimulator } from "./index.ts";
import type { SimHandle } from "./index.ts";

const HELP = `Usage: metalwave sim [options]

Runs a simulated MAAS region (REST API 2.0) on loopback until interrupted.

Options:
  --port N            port to listen on (default 5240; 0 = any free port)
  --host ADDR         loopback address to bind (default 127.0.0.1)
  --machines N        generate a default fleet of N machines (default 20)
  --fleet FILE        fleet YAML file (e.g. machines/fleet-small.yaml); overrides --machines
  --speed X           divide realistic durations by X (default 1; e.g. 600; inf = busy states end at once)
  --durations SPEC    fixed realistic seconds per phase instead of seeded ranges,
                      e.g. commission=450,deploy=900 (still divided by --speed)
  --seed N            seed for names, ids, the API key, durations and faults (default 1)
  --faults SPEC       injected faults, e.g. deploy.fail=0.1,burst503=0.01:retry-after=5
  --max-in-flight N   requests served at once; the rest queue (default unlimited)
  --api-key KEY       use this consumer:token:secret instead of one derived from the seed
  --key-file FILE     write the API key to FILE (mode 0600)
  --hosts             simulate deployed hosts: SSH on each machine's 127.A.B.C address,
                      the layer commands, a Kubernetes API (docs/layering.md)
  --ssh-port N        port every simulated host listens on (default 22 as root, else 2222)
  --host-faults SPEC  faults of simulated hosts, e.g. fail=0.05,hang=0.01:match=k8s
  -h, --help          show this help

See docs/simulator.md for the fault syntax, the fleet format and /sim/stats.`;

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new Error(`--${name}: '${text}' is not an integer`);
  return n;
}

/** Runs the simulator; resolves with the process exit code once it has shut down. */
export async function runSim(argv: string[], signals: NodeJS.EventEmitter = process): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        machines: { type: "string" },
        fleet: { type: "string" },
        speed: { type: "string" },
        durations: { type: "string" },
        seed: { type: "string" },
        faults: { type: "string" },
        "max-in-flight": { type: "string" },
        "api-key": { type: "string" },
        "key-file": { type: "string" },
        hosts: { type: "boolean" },
        "ssh-port": { type: "string" },
        "host-faults": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`metalwave sim: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
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
      speed,
      durations: values.durations,
      seed: int("seed", values.seed),
      faults: values.faults,
      maxInFlight: int("max-in-flight", values["max-in-flight"]),
      apiKey: values["api-key"],
      hosts: values.hosts || values["ssh-port"] !== undefined || values["host-faults"] !== undefined ? { sshPort: int("ssh-port", values["ssh-port"]), faults: values["host-faults"] } : undefined,
    });
  } catch (err) {
    const msg = err instanceof MetalwaveError || err instanceof Error ? err.message : String(err);
    console.error(`metalwave sim: ${msg}`);
    return 1;
  }
  if (values["key-file"] !== undefined) {
    writeFileSync(values["key-file"], `${sim.apiKey}\n`, { mode: 0o600 });
    // writeFileSync keeps the mode of an existing file: tighten it explicitly.
    chmodSync(values["key-file"], 0o600);
  }
  const machines = sim.region.machines.length;
  console.log(`MAAS simulator: ${sim.url} (${machines} machines)`);
  console.log(`API key: ${sim.apiKey}`);
  console.log(`Stats: ${sim.url.replace(/\/MAAS$/, "")}/sim/stats`);
  if (sim.hosts) {
    console.log(`Simulated hosts: SSH on each deployed machine's address, port ${sim.hosts.sshPort}; Kubernetes API ${sim.hosts.cloud.kube.url}`);
    console.log(`Simulated Juju: a bootstrapped controller serves its API at ws://<controller machine address>:${sim.hosts.jujuApi.port}/api (docs/simulated-juju.md)`);
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
