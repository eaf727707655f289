/**
 * After a rollout's actor has stopped (aborted, completed), hosts still finishing (an
 * abort of a commissioning in MAAS takes a request) have nowhere to report: the runner
 * drops their events instead of sending them to the stopped actor (XState warns
 * "Event … was sent to stopped actor" when something does).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { parseConfig } from "../../src/config.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { ManualClock } from "../../src/sim/scheduler.ts";
import { simClient, simDeps } from "./sim-client.ts";
import { until } from "../fakes/until.ts";

let sim: SimHandle | undefined;
let store: Store | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  store?.close();
  store = undefined;
  await sim?.close();
  sim = undefined;
});

/** Resolves once `check` holds, looking again on every turn of the event loop (no fixed sleep). */
describe("a stopped rollout", () => {
  it("receives no host event after it is aborted while hosts are still aborting in MAAS", async () => {
    const warn = vi.spyOn(console, "warn");
    // Manual clock: commissioning never finishes on its own, so the hosts are busy in MAAS when the abort comes.
    sim = await startSimulator({ machines: 40, seed: 3, clock: "manual" });
    store = openStore(":memory:");
    const s = store;
    const maas = simClient(sim);
    const runner = new RolloutRunner(simDeps(maas, s, parseConfig({ rollout: { backoffMs: { base: 1, max: 5 } } })));
    const run = runner.run({ resume: false });
    await until("a machine to be commissioning", async () => (await maas.listMachineStates({})).some((m) => m.status === NodeStatus.COMMISSIONING), { limitMs: 20_000 });
    runner.abort("test abort");
    const summary = await run;
    expect(summary.state).toBe("aborted");
    // The hosts that were commissioning finish their abort in MAAS after the run returned.
    await until("every started host to settle", () => {
      s.flush();
      return s.hostCounts(summary.rolloutId).unsettled === 0;
    }, { limitMs: 20_000 });
    const aborted = s.loadHosts(summary.rolloutId).filter((h) => h.outcome === "aborted");
    expect(aborted.length).toBeGreaterThan(0);
    const stoppedActorWarnings = warn.mock.calls.filter((args) => String(args[0]).includes("stopped actor"));
    expect(stoppedActorWarnings).toEqual([]);

    // A resumed run of the aborted rollout reports its hosts from the store as the live run
    // reports them: ABORTED, not UNKNOWN (one failure tally for both). The live runner's
    // tally is read once every host settled: hosts whose abort was still a request in MAAS
    // when the run returned settle after it (the summary it returned may not list them yet).
    const live = runner.summary().failures.filter((f) => f.outcome === "aborted");
    expect(live.length).toBeGreaterThan(0);
    expect(new Set(live.map((f) => f.code))).toEqual(new Set(["ABORTED"]));
    const resumed = await new RolloutRunner(simDeps(maas, s, parseConfig({}))).run({ resume: true });
    expect(resumed.state).toBe("aborted");
    const again = resumed.failures.filter((f) => f.outcome === "aborted");
    expect(again.map((f) => f.systemId).sort()).toEqual(aborted.map((h) => h.systemId).sort());
    expect(new Set(again.map((f) => f.code))).toEqual(new Set(["ABORTED"]));
    for (const f of live) expect(again.find((g) => g.systemId === f.systemId)).toEqual(f);
  }, 60_000);

  it("once closed mid-run writes nothing more and sends MAAS nothing more, so its store may close under it", async () => {
    // Manual clock: the machines stay commissioning until the test moves time, so the run is mid-way when closed.
    sim = await startSimulator({ machines: 12, seed: 3, clock: "manual" });
    store = openStore(":memory:");
    const s = store;
    const maas = simClient(sim);
    // The runner's own clock is a manual one too, moved 5 ms (its observer's poll interval)
    // every turn while it runs: once it is closed, the test moves it on and sees no poll.
    const clock = new ManualClock(Date.now());
    const stepping = setInterval(() => clock.set(clock.now() + 5), 1);
    const runner = new RolloutRunner({ ...simDeps(maas, s, parseConfig({ rollout: { backoffMs: { base: 1, max: 5 } } })), clock });
    const run = runner.run({ resume: false });
    const ended = run.then(
      () => "completed",
      (e: unknown) => (e as { code?: string }).code,
    );
    await until("a machine to be commissioning", async () => (await maas.listMachineStates({})).some((m) => m.status === NodeStatus.COMMISSIONING), { limitMs: 20_000 });
    await runner.close();
    clearInterval(stepping);
    expect(await ended).toBe("RUNNER_CLOSED");
    s.flush();
    const id = s.latestRollout()!.id;
    const journaled = s.journal(id, {}).length;
    s.close();
    store = undefined;
    // The requests the hosts had sent before the close come back to stopped actors.
    await until("the requests sent before the close to return", () => maas.load().inFlight + maas.load().queued === 0, { limitMs: 20_000 });
    const sent = sim.stats().requests.total;
    // The canary's commissioning ends now: a runner still watching would read it and deploy.
    sim.advance(Infinity);
    expect(sim.stats().statusCounts).toEqual({ New: 11, Ready: 1 });
    // Twenty of the observer's polls later on the runner's clock: none asked MAAS anything (an
    // observer still polling calls queryEvents as its wait ends, before the next macrotask).
    // Anything written to the closed store would throw, an unhandled error failing this file.
    const polls = vi.spyOn(maas, "queryEvents");
    for (let i = 0; i < 20; i++) {
      clock.set(clock.now() + 5);
      await new Promise((r) => setImmediate(r));
    }
    expect(polls).not.toHaveBeenCalled();
    expect(maas.load()).toEqual({ inFlight: 0, queued: 0 });
    expect(sim.stats().requests.total).toBe(sent);
    expect(journaled).toBeGreaterThan(0);
  }, 60_000);
});
