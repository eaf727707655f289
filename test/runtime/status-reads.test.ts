// The runner's start-up status reads (a given plan, a resume) go in bounded batches, as the observer's do.
import { describe, expect, it } from "vitest";
import type { MachineFilter } from "../../src/maas/port.ts";
import { NodeStatus as S, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { READ_BATCH_SIZE } from "../../src/runtime/observer.ts";
import { openRollout, readStatuses } from "../../src/runtime/rollout-open.ts";
import { parseConfig } from "../../src/config.ts";
import { openStore } from "../../src/store/index.ts";
import pino from "pino";
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

  it("a plan the runner is given (a maintenance pass) has its statuses read the same way", async () => {
    const n = 3 * READ_BATCH_SIZE + 1;
    const ids = Array.from({ length: n }, (_, i) => `m${i}`);
    const maas = new FakeMaas().add(...ids.map((system_id) => ({ system_id, status: S.DEPLOYED })));
    const store = openStore(":memory:");
    try {
      const hosts = ids.map((systemId) => ({ systemId, hostname: systemId, zone: "default", wave: 0, roles: ["compute"], disks: [] }));
      const plan = { version: 2 as const, deployment: "d", scopeTag: "d", machineTagsSynced: true, hosts, waves: [ids], kind: "reprovision" as const };
      const known = new Map<string, NodeStatusCode>();
      const deps = { maas, store, config: parseConfig({}), logger: pino({ level: "silent" }) };
      await openRollout(deps, { resume: false, plan }, known, () => true);
      const reads = maas.calls.filter((c) => c.op === "listMachineStates").map((c) => ((c.args[0] as MachineFilter).id ?? []).length);
      expect(reads).toEqual([READ_BATCH_SIZE, READ_BATCH_SIZE, READ_BATCH_SIZE, 1]);
      expect(known.size).toBe(n);
    } finally {
      store.close();
    }
  });

  it("makes no request for no hosts", async () => {
    const maas = new FakeMaas();
    await readStatuses(maas, [], new Map());
    expect(maas.calls).toEqual([]);
  });
});
