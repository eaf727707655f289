/**
 * Pause, end to end against the simulated region: a pause (an operator's, or SIGTERM's,
 * which the CLI and the service turn into one) starts no new host and no new retry, lets
 * requests in flight finish, and the run ends `paused` (never `completed`), with the held
 * hosts saved; a resume restores them and their retries run.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { parseConfig, type ConfigInput } from "../../src/config.ts";
import { MaasClient } from "../../src/maas/client.ts";
import type { DeployParams, MachineState } from "../../src/maas/port.ts";
import { simDeps } from "./sim-client.ts";

/** The simulator's client, calling a hook as each deploy request is about to be sent. */
class PauseOnFirstDeploy extends MaasClient {
  beforeDeploy: (() => void) | undefined;
  override deploy(systemId: string, params?: DeployParams): Promise<MachineState> {
    this.beforeDeploy?.();
    return super.deploy(systemId, params);
  }
}

let sim: SimHandle | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

describe("a paused rollout", () => {
  it("starts no retry while paused, ends paused, and retries the held hosts on resume", async () => {
    // Every deploy fails: each host's deploy is retried (release, allocate, deploy) until spent.
    sim = await startSimulator({ machines: 40, zeroDuration: true, seed: 3, faults: "deploy.fail=1" });
    store = openStore(":memory:");
    const maas = new PauseOnFirstDeploy({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    const input: ConfigInput = { rollout: { waves: ["100%"], budget: { perWave: "100%", total: "100%" }, maxAttempts: { commission: 3, deploy: 3, layer: 3, release: 3 }, backoffMs: { base: 1, max: 5 } } };
    const config = parseConfig(input);
    let paused = false;
    const runner: RolloutRunner = new RolloutRunner({
      ...simDeps(maas, store, config),
    });
    // Pause as the first deploy request is sent: no deploy has failed yet. (Progress is
    // throttled to one report per 100 ms, so pausing from it let a loaded machine fail a
    // deploy and start its retry first.)
    maas.beforeDeploy = () => {
      if (paused) return;
      paused = true;
      runner.pause("paused by SIGTERM");
    };
    const summary = await runner.run({ resume: false });
    expect(summary.state).toBe("paused");
    expect(summary.pauseReason).toBe("paused by SIGTERM");
    expect(store.getRollout(summary.rolloutId)?.status).toBe("paused");
    // Requests in flight finished (hosts went on to deploy once), but no retry started.
    const during = sim.stats().machines ?? [];
    expect(during.some((m) => m.deployed === 1)).toBe(true);
    expect(during.filter((m) => m.deployed > 1)).toEqual([]);
    expect(summary.byOutcome.quarantined).toBe(0);

    // The operator resumes: the held retries run, each host spends its deploy attempts.
    const resumed = await new RolloutRunner(simDeps(maas, store, config)).run({ resume: true });
    expect(resumed.state).toBe("completed");
    expect(resumed.byOutcome.quarantined).toBe(40);
    const after = sim.stats().machines ?? [];
    expect(after.filter((m) => m.deployed !== 3).map((m) => m.hostname)).toEqual([]);
  }, 120_000);
});
