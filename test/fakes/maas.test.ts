/** The full MAAS fake (test/fakes/maas.ts) does what its tests rely on: filters, lifecycle, tags, events, failures. */
import { describe, expect, it } from "vitest";
import type { MaasPort } from "../../src/maas/port.ts";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { FakeMaas } from "./maas.ts";

describe("FakeMaas", () => {
  it("filters as MAAS does: match-any per key, every tag", async () => {
    const maas = new FakeMaas().add({ system_id: "a", tag_names: ["x", "y"] }, { system_id: "b", tag_names: ["x"] }, { system_id: "c" }) satisfies MaasPort;
    expect((await maas.listMachines({ tags: ["x", "y"] })).map((m) => m.system_id)).toEqual(["a"]);
    expect((await maas.listMachineStates({ id: ["b", "c"] })).map((m) => m.system_id)).toEqual(["b", "c"]);
    expect((await maas.listMachines({ not_tags: ["x"] })).map((m) => m.system_id)).toEqual(["c"]);
    await expect(maas.readMachine("nosuch")).rejects.toMatchObject({ code: "MAAS_NOT_FOUND" });
  });

  it("moves a machine as its operations do, logging each status change, and refuses an abort of an idle machine", async () => {
    const maas = new FakeMaas().add({ system_id: "a", status: S.READY });
    expect((await maas.allocate({ system_id: "a" })).status).toBe(S.ALLOCATED);
    expect((await maas.deploy("a")).status).toBe(S.DEPLOYING);
    expect((await maas.abort("a")).status).toBe(S.ALLOCATED);
    await expect(maas.abort("a")).rejects.toMatchObject({ code: "MAAS_CONFLICT" });
    // Newest first, as MAAS returns them.
    expect((await maas.queryEvents()).events.map((e) => e.type)).toEqual(["Allocated", "Deploying", "Allocated"]);
  });

  it("puts machines on tags, and a `before` hook fails calls as a region away would", async () => {
    const maas = new FakeMaas().add({ system_id: "a" });
    expect(await maas.updateTagNodes("t", { add: ["a"] })).toEqual({ added: 1, removed: 0 });
    expect((await maas.machinesByTag("t")).map((m) => m.system_id)).toEqual(["a"]);
    maas.before = () => {
      throw new Error("region down");
    };
    await expect(maas.version()).rejects.toThrow("region down");
    expect(maas.calls.map((c) => c.op)).toEqual(["updateTagNodes", "machinesByTag", "version"]);
  });
});
