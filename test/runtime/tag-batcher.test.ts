import { describe, expect, it } from "vitest";
import { TagBatcher } from "../../src/runtime/tag-batcher.ts";
import type { MaasPort } from "../../src/maas/port.ts";

function fakePort(fail = false) {
  const calls: { tag: string; add: string[] }[] = [];
  const port = {
    async updateTagNodes(tag: string, change: { add?: readonly string[] }) {
      calls.push({ tag, add: [...(change.add ?? [])] });
      if (fail) throw new Error("region down");
      return { added: change.add?.length ?? 0, removed: 0 };
    },
  } as unknown as MaasPort;
  return { port, calls };
}

describe("TagBatcher", () => {
  it("puts many machines on a tag with one update_nodes call per tag", async () => {
    const { port, calls } = fakePort();
    const b = new TagBatcher(port, { windowMs: 5 });
    await Promise.all(Array.from({ length: 300 }, (_, i) => b.add(`m${i}`, ["metalwave-cloud", i % 2 ? "compute" : "storage"])));
    expect(calls.map((c) => c.tag).sort()).toEqual(["compute", "metalwave-cloud", "storage"]);
    expect(calls.find((c) => c.tag === "metalwave-cloud")!.add).toHaveLength(300);
    expect(calls.find((c) => c.tag === "compute")!.add).toHaveLength(150);
  });

  it("sends at once when a batch is full", async () => {
    const { port, calls } = fakePort();
    const b = new TagBatcher(port, { windowMs: 60_000, maxBatch: 100 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => b.add(`m${i}`, ["t"])));
    expect(calls.map((c) => c.add.length)).toEqual([100, 100]);
  });

  it("fails every waiter of a batch whose call failed", async () => {
    const { port } = fakePort(true);
    const b = new TagBatcher(port, { windowMs: 1 });
    const results = await Promise.allSettled([b.add("a", ["t"]), b.add("b", ["t"])]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });
});
