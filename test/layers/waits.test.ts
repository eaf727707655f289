/** Waits need consecutive good reads (the reference's 3), and end at their deadline with what is missing. */
import { describe, expect, it } from "vitest";
import { LayerError } from "../../src/layers/index.ts";
import { waitUntil, type WaitOptions } from "../../src/layers/waits.ts";

function opts(clock: { t: number }, over: Partial<WaitOptions> = {}): WaitOptions {
  return { layer: "control-plane", step: "waitActive", timeoutMs: 100, pollMs: 10, now: () => clock.t, sleep: async (ms) => void (clock.t += ms), ensureOpen: () => undefined, ...over };
}

describe("waitUntil", () => {
  it("a status that is good once between bad reads does not end the wait: three good reads in a row do", async () => {
    const clock = { t: 0 };
    const script = [true, false, true, true, false, true, true, true, true];
    let reads = 0;
    await waitUntil(async () => ({ ok: script[reads++] ?? true, detail: "x" }), opts(clock));
    expect(reads).toBe(8);
  });

  it("a read that errs counts as a bad read; at the deadline LAYER_NOT_READY says what is missing", async () => {
    const clock = { t: 0 };
    let reads = 0;
    const e = await waitUntil(async () => {
      if (reads++ % 2 === 0) throw new Error("ERROR cannot connect to the controller");
      return { ok: false, detail: "applications not active: nova blocked ((placement) integration missing)" };
    }, opts(clock)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LayerError);
    expect((e as LayerError).code).toBe("LAYER_NOT_READY");
    expect((e as LayerError).message).toMatch(/waitActive: not settled after 0 s: (applications not active: nova blocked|ERROR cannot connect)/);
  });

  it("stops at once when its work is stopped", async () => {
    const clock = { t: 0 };
    const stop = new LayerError("LAYER_STOPPED", { layer: "any", step: "waitActive" }, "stopped");
    let reads = 0;
    const e = await waitUntil(async () => ({ ok: reads++ < 0, detail: "" }), opts(clock, { ensureOpen: () => { if (reads >= 2) throw stop; } })).catch((x: unknown) => x);
    expect(e).toBe(stop);
    expect(reads).toBe(2);
  });
});
