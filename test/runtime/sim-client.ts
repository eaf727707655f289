/** The MAAS client the runtime tests use against an in-process simulated region: no rate limit, near-instant retries. */
import { MaasClient } from "../../src/maas/client.ts";
import type { SimHandle } from "../../src/sim/index.ts";

export function simClient(sim: SimHandle): MaasClient {
  return new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
}
