/** The MAAS client, runner dependencies and layered rig the runtime tests use against an in-process simulated region. */
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import type { LayeringSetup } from "../../src/cli/rollout.ts";
import type { Config } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { MaasClient } from "../../src/maas/client.ts";
import type { RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import type { SimHandle } from "../../src/sim/index.ts";
import type { SshPort } from "../../src/ssh/index.ts";
import type { Store } from "../../src/store/index.ts";

/** No rate limit, near-instant retries. */
export function simClient(sim: SimHandle): MaasClient {
  return new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
}

/**
 * A runner's dependencies for the simulator: silent, time-scaled, a fast observer. With
 * layering, its config (which names the SSH key) and its engine, on its SSH port or `ssh`.
 */
export function simDeps(maas: MaasClient, store: Store, config: Config, layering?: LayeringSetup, ssh?: SshPort): RunnerDeps {
  return {
    maas,
    store,
    config: layering?.config ?? config,
    logger: silentLogger(),
    requestCount: () => maas.stats().requests,
    timeScale: 1000,
    observerPollMs: 5,
    ...(layering ? { layering: { engine: layering.engine, ssh: ssh ?? layering.ssh } } : {}),
  };
}

/** The mixed 50-machine fleet the layered tests run on. */
export const MIXED_50 = fileURLToPath(new URL("../../machines/fleet-mixed-50.yaml", import.meta.url));

/**
 * The smallest fleet with every layer (3 Juju controllers, 3 control, 3 storage, compute
 * the rest: 14 machines), for layered tests whose behaviour does not need 50 machines.
 */
export const LAYERED_14 = fileURLToPath(new URL("../../machines/fleet-layered-14.yaml", import.meta.url));

/** What a layered test opens; set its fields as they are made. */
export interface LayeredRig {
  sim?: SimHandle | undefined;
  store?: Store | undefined;
  layering?: LayeringSetup | undefined;
}

/**
 * A rig emptied after each test: the layer engine stopped first (as the CLI and the
 * service do: nothing is sent on a closed port), then its SSH port, the store, the region.
 */
export function layeredRigPerTest(): LayeredRig {
  const rig: LayeredRig = {};
  afterEach(async () => {
    rig.layering?.engine.close();
    await rig.layering?.ssh.close();
    rig.store?.close();
    await rig.sim?.close();
    rig.layering = rig.store = rig.sim = undefined;
  });
  return rig;
}
