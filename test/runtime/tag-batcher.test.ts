import { describe, expect, it } from "vitest";
import { TagBatcher } from "../../src/runtime/tag-batcher.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas } from "../fakes/maas.ts";

function fakePort(fail = false) {
  const port = new FakeMaas() satisfies MaasPort;
  port.before = (op) => {
    if (fail && op === "updateTagNodes") throw new Error("region down");
  };
  /** The update_nodes calls made, in order. */
  const calls = () => port.calls.filter((c) => c.op === "updateTagNodes").map((c) => ({ tag: c.args[0] as string, add: [...((c.args[1] as { add?: readonly string[] }).add ?? [])] }));
  return { port, calls };
}

describe("TagBatcher", () => {
  it("puts many machines on a tag with one update_nodes call per tag", async () => {
    const { port, calls } = fakePort();
    const b = new TagBatcher(port, { windowMs: 5 });
    await Promise.all(Array.from({ length: 300 }, (_, i) => b.add(`m${i}`, ["metalwave-cloud", i % 2 ? "compute" : "storage"])));
    expect(calls().map((c) => c.tag).sort()).toEqual(["compute", "metalwave-cloud", "storage"]);
    expect(calls().find((c) => c.tag === "metalwave-cloud")!.add).toHaveLength(300);
    expect(calls().find((c) => c.tag === "compute")!.add).toHaveLength(150);
  });

  it("sends at once when a batch is full", async () => {
    const { port, calls } = fakePort();
    const b = new TagBatcher(port, { windowMs: 60_000, maxBatch: 100 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => b.add(`m${i}`, ["t"])));
    expect(calls().map((c) => c.add.length)).toEqual([100, 100]);
  });

  it("fails every waiter of a batch whose call failed", async () => {
    const { port } = fakePort(true);
    const b = new TagBatcher(port, { windowMs: 1 });
    const results = await Promise.allSettled([b.add("a", ["t"]), b.add("b", ["t"])]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });
});
