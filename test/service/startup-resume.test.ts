/**
 * The service finishes a maintenance pass a killed process left only once it listens:
 * when listening fails (the port is taken), nothing has run against the region or the
 * store that `metalwave serve` then closes; when it listens, the pass is taken up.
 */
import { createServer, type AddressInfo, type Server } from "node:net";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { startService, type ServiceHandle } from "../../src/service/index.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas } from "../fakes/maas.ts";
import type { MaasClientStats } from "../../src/maas/client.ts";
import { TOKEN } from "./helpers.ts";

let store: Store | undefined;
let blocker: Server | undefined;
let service: ServiceHandle | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
  if (blocker) {
    blocker.close();
    await once(blocker, "close");
    blocker = undefined;
  }
  store?.close();
  store = undefined;
});

/** A region that records every call and answers none of them usefully (it is unreachable). */
function recordingRegion(calls: string[]): MaasPort {
  const maas = new FakeMaas() satisfies MaasPort;
  maas.before = (op) => {
    calls.push(op);
    throw new Error("test: no region");
  };
  return maas;
}

describe("the start-up resume of a killed maintenance pass", () => {
  it("waits until the service listens: none when listening fails, the pass once it listens", async () => {
    store = openStore(":memory:");
    // What a killed pass leaves: its remediation rollout unfinished in the store.
    const passId = store.createRollout({ version: 2, kind: "remediation", deployment: "default", scopeTag: "metalwave-default", machineTagsSynced: true, hosts: [], waves: [[]] }).id;
    const calls: string[] = [];
    blocker = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const taken = (blocker.address() as AddressInfo).port;
    const options = {
      store,
      maas: recordingRegion(calls),
      maasStats: (): MaasClientStats => ({ requests: 0, retries: 0, reconciliations: 0, byOperation: {} }),
      config: parseConfig({ layers: { enabled: false } }),
      logger: silentLogger(),
      token: TOKEN,
      host: "127.0.0.1",
      defaultMetrics: false,
    };

    await expect(startService({ ...options, port: taken })).rejects.toMatchObject({ code: "LISTEN_FAILED", message: expect.stringContaining(`cannot listen on 127.0.0.1:${taken}`) });
    expect(calls).toEqual([]);
    expect(store.journal(passId, { kind: "rollout" }).map((j) => (j.data as { event?: string }).event)).toEqual(["created"]);

    // Listening, it takes the pass up (here it fails at once: the region answers nothing).
    service = await startService({ ...options, port: 0 });
    expect(calls.length).toBeGreaterThan(0);
    const view = service.controller.maintenanceView();
    expect(view.running?.kind ?? view.last?.kind).toBe("remediation");
  }, 30_000);
});
