/**
 * The event stream: a new client hears where things stand first, heartbeats keep a
 * quiet stream visibly alive, and a client that disconnects is dropped.
 */
import { afterEach, describe, expect, it } from "vitest";
import { harness, openEvents, TOKEN, type Harness } from "./helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function clients(): Promise<number> {
  const text = (await h!.api("GET", "/metrics")).text;
  const line = text.split("\n").find((l) => l.startsWith("metalwave_event_stream_clients "));
  return Number(line?.split(" ")[1]);
}

describe("the event stream", () => {
  it("sends heartbeats, and drops clients that disconnect", async () => {
    h = await harness();
    const a = await openEvents(h.service.url, TOKEN);
    const b = await openEvents(h.service.url, TOKEN);
    await h.until(async () => (await clients()) === 2, "two clients");
    await h.until(() => a.comments > 0 && b.comments > 0, "a heartbeat on each stream");
    a.close();
    await h.until(async () => (await clients()) === 1, "the closed client to be dropped");
    b.close();
    await h.until(async () => (await clients()) === 0, "every client to be dropped");
  });

  it("tells a new client the current rollout's state first", async () => {
    h = await harness({ manualClock: true });
    const id: string = (await h.api("POST", "/api/v1/rollouts")).json.rollout.id;
    const late = await openEvents(h.service.url, TOKEN);
    try {
      const first = await late.waitFor(() => true, "any event");
      expect(first).toMatchObject({ type: "rollout", data: { id, state: "running", live: true } });
      await late.waitFor((e) => e.type === "progress" && e.data.rolloutId === id, "the live progress");
      await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.state === "completed", "the rollout to complete");
    } finally {
      late.close();
    }
  });
});
