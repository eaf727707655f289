// The runner's start-up status reads (a given plan, a resume) go in bounded batches, as the observer's do.
import { describe, expect, it } from "vitest";
import type { MachineFilter } from "../../src/maas/port.ts";
import { NodeStatus as S, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { READ_BATCH_SIZE } from "../../src/runtime/observer.ts";
import { readStatuses } from "../../src/runtime/rollout-open.ts";
import { FakeMaas } from "../fakes/maas.ts";

describe("readStatuses", () => {
  it("reads a big plan's statuses in several requests of at most the observer's batch size, every host once", async () => {
    const n = 2 * READ_BATCH_SIZE + 17;
    const ids = Array.from({ length: n }, (_, i) => `m${i}`);
    const maas = new FakeMaas().add(...ids.map((system_id, i) => ({ system_id, status: i % 2 === 0 ? S.READY : S.DEPLOYED })));
    const known = new Map<string, NodeStatusCode>();
    await readStatuses(maas, ids, known);
    const reads = maas.calls.filter((c) => c.op === "listMachineStates").map((c) => (c.args[0] as MachineFilter).id ?? []);
    expect(reads.map((r) => r.length)).toEqual([READ_BATCH_SIZE, READ_BATCH_SIZE, 17]);
    expect(reads.flat()).toEqual(ids);
    expect(known.size).toBe(n);
    expect(known.get("m0")).toBe(S.READY);
    expect(known.get(`m${n - 2}`)).toBe(S.DEPLOYED);
  });

  it("makes no request for no hosts", async () => {
    const maas = new FakeMaas();
    await readStatuses(maas, [], new Map());
    expect(maas.calls).toEqual([]);
  });
});
