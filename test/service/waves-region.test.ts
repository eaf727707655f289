/**
 * The API's answers count waves from 1, as the CLI's `--json`, `status` and the dashboard
 * do (rollout detail `progress.wave` and `perWave[].index`, each host's `wave`, the
 * `progress` events), and every rollout answer carries the region it ran against as
 * recorded with it: `simulated: true` on the embedded simulator, null for a rollout
 * recorded without one (docs/service.md).
 */
import { afterEach, describe, expect, it } from "vitest";
import { readRolloutPlan } from "../../src/runtime/documents/rollout-plan.ts";
import { SIMULATED_NOTE } from "../../src/runtime/region.ts";
import { harness, openEvents, TOKEN, type Harness } from "./helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("the API counts waves from 1 and names the region", () => {
  it("answers detail, hosts, a host and progress events with waves from 1, and the simulated region in every rollout view", async () => {
    h = await harness({ manualClock: true, machines: 12 });
    const events = await openEvents(h.service.url, TOKEN);
    try {
      const started = await h.api("POST", "/api/v1/rollouts", { body: {} });
      expect(started.status).toBe(201);
      const id = started.json.rollout.id as string;
      const progress = await events.waitFor((e) => e.type === "progress" && e.data.rolloutId === id, "a progress event");
      expect(progress.data.wave).toBeGreaterThanOrEqual(1);
      expect(progress.data.perWave.map((w: { index: number }) => w.index)[0]).toBe(1);
      await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.state === "completed", "the rollout completes");

      const plan = readRolloutPlan(h.store.getRollout(id)?.plan, id);
      const n = plan.waves.length;
      expect(n).toBeGreaterThan(1);
      const detail = (await h.api("GET", `/api/v1/rollouts/${id}`)).json;
      // All settled: the last wave, counted from 1, is the number of waves.
      expect(detail.progress.wave).toBe(n);
      expect(detail.progress.perWave.map((w: { index: number }) => w.index)).toEqual(Array.from({ length: n }, (_, i) => i + 1));

      const stored = new Map(plan.hosts.map((p) => [p.systemId, p.wave]));
      const cells = (await h.api("GET", `/api/v1/rollouts/${id}/hosts`)).json.hosts as { systemId: string; wave: number }[];
      expect(cells).toHaveLength(plan.hosts.length);
      for (const c of cells) expect(c.wave).toBe(stored.get(c.systemId)! + 1);
      expect(Math.min(...cells.map((c) => c.wave))).toBe(1);
      const one = plan.hosts.find((p) => p.wave === n - 1)!;
      expect((await h.api("GET", `/api/v1/rollouts/${id}/hosts/${one.systemId}`)).json.wave).toBe(n);

      const region = { simulated: true, url: h.sim.url, note: SIMULATED_NOTE };
      expect(started.json.rollout.region).toEqual(region);
      expect(detail.rollout.region).toEqual(region);
      expect((await h.api("GET", "/api/v1/rollouts")).json.rollouts[0].region).toEqual(region);
      expect(h.store.getRollout(id)?.region).toEqual({ kind: "simulated", url: h.sim.url });
    } finally {
      events.close();
    }
  }, 60_000);

  it("says region null for a rollout recorded without its region, and simulated: false for a real one", async () => {
    h = await harness();
    const plan = { version: 2, hosts: [], waves: [] };
    h.store.createRollout(plan, { id: "20260101-000000-0001" });
    h.store.createRollout(plan, { id: "20260101-000000-0002", region: { kind: "real", url: "http://maas.example:5240/MAAS" } });
    const list = (await h.api("GET", "/api/v1/rollouts")).json.rollouts as { id: string; region: unknown }[];
    expect(Object.fromEntries(list.map((r) => [r.id, r.region]))).toEqual({
      "20260101-000000-0001": null,
      "20260101-000000-0002": { simulated: false, url: "http://maas.example:5240/MAAS" },
    });
  });
});
