/** The MAAS client and runner dependencies the runtime tests use against an in-process simulated region. */
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
