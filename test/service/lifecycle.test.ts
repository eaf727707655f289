/**
 * A rollout through the service, end to end: started over the API, its progress
 * streamed as server-sent events, read back until completed, each host's history
 * from the journal, and the metrics it leaves.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/sim/scheduler.ts";
import { harness, openEvents, TOKEN, type Harness, type EventClient } from "./helpers.ts";

let h: Harness | undefined;
let events: EventClient | undefined;
let stepping: ReturnType<typeof setInterval> | undefined;
afterEach(async () => {
  clearInterval(stepping);
  vi.restoreAllMocks();
  events?.close();
  events = undefined;
  await h?.close();
  h = undefined;
});

/** One sample of the exposition text: `name{labels} value`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("a rollout through the service", () => {
  it("starts on POST, streams progress events, completes, and shows each host's history", async () => {
    h = await harness({ machines: 12 });
    events = await openEvents(h.service.url, TOKEN);

    const started = await h.api("POST", "/api/v1/rollouts", { body: {} });
    expect(started.status).toBe(201);
    const id: string = started.json.rollout.id;
    expect(id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
    expect(started.headers.get("location")).toBe(`/api/v1/rollouts/${id}`);
    expect(started.json.rollout.live).toBe(true);
    expect(started.json.progress.total).toBe(12);

    await events.waitFor((e) => e.type === "progress" && e.data.rolloutId === id, "a progress event");
    await events.waitFor((e) => e.type === "rollout" && e.data.id === id && e.data.state === "completed" && e.data.live === false, "the completed state");
    const progress = events.events.filter((e) => e.type === "progress").map((e) => e.data);
    expect(progress.every((p) => p.rolloutId === id && p.total === 12)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ state: "completed", settled: 12, inFlight: 0 });
    // Settled counts only grow.
    const settled = progress.map((p) => p.settled as number);
    expect([...settled].sort((a, b) => a - b)).toEqual(settled);
    // Event ids increase, so a client can tell order and gaps.
    const ids = events.events.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    let detail = await h.api("GET", `/api/v1/rollouts/${id}`);
    await h.until(async () => {
      detail = await h!.api("GET", `/api/v1/rollouts/${id}`);
      return detail.json.rollout.state === "completed" && !detail.json.rollout.live;
    }, "the rollout to complete");
    expect(detail.status).toBe(200);
    expect(detail.json.source).toBe("store");
    expect(detail.json.progress).toMatchObject({ total: 12, settled: 12, inFlight: 0, byPhase: { inService: 12 }, byOutcome: { inService: 12 } });
    expect(detail.json.progress.perWave.map((w: { size: number }) => w.size).reduce((a: number, b: number) => a + b, 0)).toBe(12);
    expect(detail.json.failures).toEqual([]);

    const list = await h.api("GET", "/api/v1/rollouts");
    expect(list.json).toEqual({ rollouts: [expect.objectContaining({ id, state: "completed", live: false })], active: null });

    const host = h.store.loadHosts(id)[0]!;
    const hd = await h.api("GET", `/api/v1/rollouts/${id}/hosts/${host.systemId}`);
    expect(hd.status).toBe(200);
    expect(hd.json).toMatchObject({ rolloutId: id, systemId: host.systemId, hostname: host.hostname, phase: "inService", outcome: "inService", lastError: null, maasStatus: { code: 6, label: "Deployed" } });
    const steps = hd.json.history.map((e: { kind: string; data: { to?: string; operation?: string; event?: string } }) => `${e.kind}:${e.data.to ?? `${e.data.operation}.${e.data.event}`}`);
    expect(steps).toEqual(expect.arrayContaining(["transition:commissioning", "maas_call:commission.begin", "transition:deploying", "maas_call:deploy.end", "transition:inService"]));
    const seqs = hd.json.history.map((e: { seq: number }) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

    const missing = await h.api("GET", `/api/v1/rollouts/${id}/hosts/nosuch`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("HOST_NOT_FOUND");

    // Nothing the service logged or answered carries the token.
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join("")).not.toContain(TOKEN);

    // One info line per host transition, with the host's fixed keys: as many as the journal holds.
    const lines = h.logs.flatMap((l) => l.split("\n")).filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
    const transitions = lines.filter((l) => l["msg"] === "transition");
    expect(transitions.length).toBe(h.store.journal(id).filter((e) => e.kind === "transition").length);
    expect(new Set(transitions.map((l) => l["level"]))).toEqual(new Set([30]));
    for (const l of transitions) expect(l).toMatchObject({ systemId: expect.any(String), hostname: expect.any(String), wave: expect.any(Number), role: expect.any(String), to: expect.any(String) });
  });

  it("exposes metrics with the rollout's machines, transitions, MAAS requests and duration", async () => {
    h = await harness({ machines: 12 });
    const started = await h.api("POST", "/api/v1/rollouts", { body: {} });
    const id: string = started.json.rollout.id;
    await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live === false, "the rollout to end");
    const m = await h.api("GET", "/metrics");
    expect(m.status).toBe(200);
    expect(m.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = m.text;
    for (const name of [
      "metalwave_machines",
      "metalwave_rollouts",
      "metalwave_host_transitions_total",
      "metalwave_host_failures_total",
      "metalwave_rollout_run_duration_seconds",
      "metalwave_maas_requests_total",
      "metalwave_http_requests_total",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(sample(text, 'metalwave_machines{phase="inService"}')).toBe(12);
    expect(sample(text, 'metalwave_rollouts{state="completed"}')).toBe(1);
    expect(sample(text, 'metalwave_rollouts{state="running"}')).toBe(0);
    // Every host entered each phase once on this fault-free run.
    for (const phase of ["commissioning", "deploying", "inService"]) expect(sample(text, `metalwave_host_transitions_total{to="${phase}"}`)).toBe(12);
    expect(sample(text, 'metalwave_maas_requests_total{operation="deploy",status="200"}')).toBe(12);
    expect(sample(text, 'metalwave_maas_requests_total{operation="commission",status="200"}')).toBe(12);
    expect(sample(text, 'metalwave_rollout_run_duration_seconds_count{state="completed"}')).toBe(1);
    expect(sample(text, 'metalwave_rollout_run_duration_seconds_sum{state="completed"}')).toBeGreaterThan(0);
    expect(sample(text, 'metalwave_http_requests_total{route="/api/v1/rollouts",method="POST",status="201"}')).toBe(1);
    // Latencies: one observation per MAAS exchange of the operation, one per API request.
    expect(sample(text, 'metalwave_maas_request_duration_seconds_count{operation="deploy"}')).toBe(12);
    expect(sample(text, 'metalwave_maas_request_duration_seconds_count{operation="commission"}')).toBe(12);
    expect(sample(text, 'metalwave_http_request_duration_seconds_count{route="/api/v1/rollouts",method="POST"}')).toBe(1);
    // No series names a machine.
    for (const host of h.store.loadHosts(id)) {
      expect(text).not.toContain(host.systemId);
      expect(text).not.toContain(host.hostname);
    }
  });

  it("counts hosts that failed by their error code and reports them in the rollout", async () => {
    h = await harness({
      machines: 12,
      seed: 5,
      faults: "deploy.fail=0.4",
      config: { rollout: { budget: { perWave: "100%", total: "100%" }, maxAttempts: { commission: 1, deploy: 1, layer: 1, release: 1 } } },
    });
    const started = await h.api("POST", "/api/v1/rollouts", { body: {} });
    const id: string = started.json.rollout.id;
    await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live === false, "the rollout to end");
    const detail = (await h.api("GET", `/api/v1/rollouts/${id}`)).json;
    expect(detail.rollout.state).toBe("completed");
    const failures: { code: string; outcome: string; systemId: string }[] = detail.failures;
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.length).toBe(detail.progress.byOutcome.quarantined);

    const text = (await h.api("GET", "/metrics")).text;
    const byCode = new Map<string, number>();
    for (const f of failures) byCode.set(`${f.code}/${f.outcome}`, (byCode.get(`${f.code}/${f.outcome}`) ?? 0) + 1);
    for (const [key, n] of byCode) {
      const [code, outcome] = key.split("/");
      expect(sample(text, `metalwave_host_failures_total{code="${code}",outcome="${outcome}"}`)).toBe(n);
    }
    const hd = await h.api("GET", `/api/v1/rollouts/${id}/hosts/${failures[0]!.systemId}`);
    expect(hd.json.outcome).toBe("quarantined");
    expect(hd.json.lastError).toMatchObject({ code: failures[0]!.code });
  });

  it("refuses a start that pre-flight checks fail with 422 and the findings, changes nothing, and starts with the override", async () => {
    // Five machines cannot fill the default roles. The service on a manual clock: its runs'
    // status observer polls only when the test moves it.
    const clock = new ManualClock(Date.now());
    h = await harness({ machines: 5, clock });
    const refused = await h.api("POST", "/api/v1/rollouts");
    expect(refused.status).toBe(422);
    expect(refused.json.error.code).toBe("PREFLIGHT_FAILED");
    const codes = new Set(refused.json.error.details.findings.map((f: { code: string }) => f.code));
    expect(codes.size).toBeGreaterThan(0);
    expect(h.store.listRollouts()).toEqual([]);
    expect(h.sim.stats().statusCounts).toEqual({ New: 5 });
    // The refused run leaves nothing polling MAAS behind it: twenty of its observer's poll
    // intervals (5 ms) on, no events read (a poll reads them as its wait ends, before the next macrotask).
    const polls = vi.spyOn(h.maas, "queryEvents");
    for (let i = 0; i < 20; i++) {
      clock.set(clock.now() + 5);
      await new Promise((r) => setImmediate(r));
    }
    expect(polls).not.toHaveBeenCalled();
    // From here the clock moves on by itself, 5 ms a turn, for the run that starts.
    stepping = setInterval(() => clock.set(clock.now() + 5), 1);

    const started = await h.api("POST", "/api/v1/rollouts", { body: { overrides: [...codes] } });
    expect(started.status).toBe(201);
    const id: string = started.json.rollout.id;
    await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.state === "completed", "the rollout to complete");
    const overrides = h.store.journal(id, { kind: "rollout" }).filter((j) => (j.data as { event?: string }).event === "override");
    expect(overrides.length).toBeGreaterThan(0);
  });
});
