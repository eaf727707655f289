/**
 * Operator control through the service, with the simulated region on a manual clock
 * so a rollout stays in flight until the test moves time: one rollout at a time (409),
 * pause then resume, abort, and a graceful stop that a later service resumes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { startService } from "../../src/service/index.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { harness, openEvents, TOKEN, type EventClient, type Harness } from "./helpers.ts";

let h: Harness | undefined;
let events: EventClient | undefined;
afterEach(async () => {
  events?.close();
  events = undefined;
  await h?.close();
  h = undefined;
});

async function detail(id: string) {
  return (await h!.api("GET", `/api/v1/rollouts/${id}`)).json;
}

describe("operator control through the service", () => {
  it("refuses a second start with 409 while a rollout is live", async () => {
    h = await harness({ manualClock: true });
    const first = await h.api("POST", "/api/v1/rollouts");
    expect(first.status).toBe(201);
    const id: string = first.json.rollout.id;
    // The canary is in flight and cannot finish: the clock has not moved.
    expect(first.json.progress.inFlight).toBe(1);

    const second = await h.api("POST", "/api/v1/rollouts", { body: { overrides: ["COUNT_SHORT"] } });
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe("ROLLOUT_ACTIVE");
    expect(second.json.error.details.active).toMatchObject({ id, state: "running", live: true });
    expect(h.store.listRollouts().map((r) => r.id)).toEqual([id]);

    await h.until(async () => (await detail(id)).rollout.state === "completed", "the rollout to complete");
  });

  it("pauses a live rollout (hosts in flight finish, no new one starts) and resumes it to the end", async () => {
    h = await harness({ manualClock: true });
    events = await openEvents(h.service.url, TOKEN);
    const id: string = (await h.api("POST", "/api/v1/rollouts")).json.rollout.id;

    const paused = await h.api("POST", `/api/v1/rollouts/${id}/pause`, { body: { reason: "change window closed" } });
    expect(paused.status).toBe(202);
    expect(paused.json.rollout).toMatchObject({ id, state: "paused", reason: "change window closed", live: true });
    // Pausing twice is harmless.
    expect((await h.api("POST", `/api/v1/rollouts/${id}/pause`)).status).toBe(202);

    // The canary finishes; then the run stops, paused, with the other hosts never started.
    await h.until(async () => (await detail(id)).rollout.live === false, "the paused run to stop");
    const stopped = await detail(id);
    expect(stopped.rollout).toMatchObject({ state: "paused", reason: "change window closed" });
    expect(stopped.progress).toMatchObject({ settled: 1, inFlight: 0, byPhase: { inService: 1, waiting: 11 } });
    expect(h.sim.stats().statusCounts).toEqual({ Deployed: 1, New: 11 });
    await events.waitFor((e) => e.type === "rollout" && e.data.id === id && e.data.state === "paused" && e.data.live === false, "the paused state event");

    // Pausing a rollout that no run holds is a conflict.
    const again = await h.api("POST", `/api/v1/rollouts/${id}/pause`);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("ROLLOUT_NOT_ACTIVE");

    const resumed = await h.api("POST", `/api/v1/rollouts/${id}/resume`);
    expect(resumed.status).toBe(202);
    expect(resumed.json.rollout).toMatchObject({ id, state: "running", live: true });
    await h.until(async () => (await detail(id)).rollout.state === "completed", "the resumed rollout to complete");
    const done = await detail(id);
    expect(done.progress).toMatchObject({ total: 12, settled: 12, byOutcome: { inService: 12 } });
    expect(h.sim.stats().statusCounts).toEqual({ Deployed: 12 });
    // Every machine was deployed once: the resumed run did not redo the canary.
    for (const m of h.sim.stats().machines ?? []) expect(m.deployed).toBe(1);
    await events.waitFor((e) => e.type === "rollout" && e.data.id === id && e.data.state === "completed", "the completed state event");

    const finished = await h.api("POST", `/api/v1/rollouts/${id}/resume`);
    expect(finished.status).toBe(409);
    expect(finished.json.error.code).toBe("ROLLOUT_FINISHED");
  });

  it("resumes a paused run whose hosts are still in flight without stopping it", async () => {
    h = await harness({ manualClock: true });
    const id: string = (await h.api("POST", "/api/v1/rollouts")).json.rollout.id;
    await h.api("POST", `/api/v1/rollouts/${id}/pause`);
    // The canary is still in flight (the clock has not moved): the same run carries on.
    const resumed = await h.api("POST", `/api/v1/rollouts/${id}/resume`);
    expect(resumed.status).toBe(202);
    expect(resumed.json.rollout).toMatchObject({ state: "running", live: true });
    expect(resumed.json.source).toBe("runner");
    await h.until(async () => (await detail(id)).rollout.state === "completed", "the rollout to complete");
    const entries = h.store.journal(id, { kind: "rollout" }).map((j) => j.data as { event?: string; pid?: number });
    expect(entries.map((e) => e.event)).toEqual(expect.arrayContaining(["paused", "resumed"]));
    // No second run: a run resumed from the store journals its pid, the same run does not.
    expect(entries.filter((e) => e.event === "resumed" && e.pid !== undefined)).toEqual([]);
  });

  it("aborts a live rollout", async () => {
    h = await harness({ manualClock: true });
    const id: string = (await h.api("POST", "/api/v1/rollouts")).json.rollout.id;
    const aborted = await h.api("POST", `/api/v1/rollouts/${id}/abort`, { body: { reason: "wrong fleet" } });
    expect(aborted.status).toBe(202);
    await h.until(async () => (await detail(id)).rollout.live === false, "the aborted run to stop");
    const d = await detail(id);
    expect(d.rollout).toMatchObject({ state: "aborted", reason: "wrong fleet" });
    expect(d.progress.byOutcome.aborted).toBe(1);
    expect(d.failures).toEqual([expect.objectContaining({ outcome: "aborted" })]);
    const again = await h.api("POST", `/api/v1/rollouts/${id}/abort`);
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("ROLLOUT_FINISHED");
  });

  it("aborts a paused rollout that no run holds by marking it, touching no machine", async () => {
    h = await harness({ manualClock: true });
    const id: string = (await h.api("POST", "/api/v1/rollouts")).json.rollout.id;
    await h.api("POST", `/api/v1/rollouts/${id}/pause`);
    await h.until(async () => (await detail(id)).rollout.live === false, "the paused run to stop");
    const before = h.sim.stats().requests.total;
    const aborted = await h.api("POST", `/api/v1/rollouts/${id}/abort`, { body: { reason: "not needed" } });
    expect(aborted.status).toBe(202);
    expect(aborted.json.rollout).toMatchObject({ state: "aborted", reason: "not needed", live: false });
    expect(h.sim.stats().requests.total).toBe(before);
    expect(h.sim.stats().statusCounts).toEqual({ Deployed: 1, New: 11 });
    const last = h.store.journal(id, { kind: "rollout", order: "desc", limit: 1 })[0];
    expect(last?.data).toMatchObject({ event: "aborted", by: "service" });
  });

  it("stops gracefully: pauses the rollout, waits for hosts in flight, releases the lock; a new service resumes it", async () => {
    h = await harness({ manualClock: true, fileStore: true });
    const first = h.service;
    const events1 = await openEvents(first.url, TOKEN);
    const id: string = (await h.api("POST", "/api/v1/rollouts")).json.rollout.id;
    expect(h.store.lockHolder()?.command).toBe("serve");

    const stopping = first.stop("paused: the service got SIGTERM");
    let stopped = false;
    void stopping.then(() => (stopped = true));
    // While the canary finishes, the service still answers reads and refuses new work.
    const health = await h.api("GET", "/healthz", { token: null });
    expect(health.status).toBe(503);
    expect(health.json).toEqual({ status: "stopping", role: "leader" });
    const refused = await h.api("POST", "/api/v1/rollouts");
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe("SHUTTING_DOWN");
    expect((await detail(id)).rollout).toMatchObject({ state: "paused", live: true });

    await h.until(() => stopped, "the service to stop");
    expect(h.store.lockHolder()).toBeUndefined();
    expect(h.store.getRollout(id)).toMatchObject({ status: "paused", reason: "paused: the service got SIGTERM" });
    await events1.waitFor((e) => e.type === "shutdown", "the shutdown event");
    events1.close();
    await expect(fetch(`${first.url}/healthz`)).rejects.toThrow();

    const second = await h.restart();
    expect(second.url).not.toBe(first.url);
    expect(h.store.lockHolder()?.command).toBe("serve");
    const resumed = await h.api("POST", `/api/v1/rollouts/${id}/resume`);
    expect(resumed.status).toBe(202);
    await h.until(async () => (await detail(id)).rollout.state === "completed", "the resumed rollout to complete");
    expect((await detail(id)).progress).toMatchObject({ settled: 12, byOutcome: { inService: 12 } });
  });

  it("refuses to start while another service holds the store's lock", async () => {
    h = await harness({ fileStore: true });
    expect(h.store.lockHolder()?.command).toBe("serve");
    const other = openStore(h.store.path);
    try {
      await expect(
        startService({ store: other, maas: h.maas, maasStats: () => h!.maas.stats(), config: parseConfig({ layers: { enabled: false } }), logger: silentLogger(), token: TOKEN, port: 0, defaultMetrics: false }),
      ).rejects.toMatchObject({ code: "STORE_LOCKED" });
    } finally {
      other.close();
    }
  });
});
