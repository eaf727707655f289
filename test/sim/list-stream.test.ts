// Machine lists are written as they are rendered (chunked), not built whole first.
import { afterEach, describe, expect, it } from "vitest";
import type { SimHandle } from "../../src/sim/index.ts";
import type { Maas} from "./helpers.ts";
import { manualSim } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("machine lists", () => {
  it("stream a list of many chunks with chunked encoding: the same machines, in order, as reading each one", async () => {
    let maas: Maas;
    // 120 machines are about 1.2 MB of JSON: several 256 KB chunks.
    ({ sim, maas } = await manualSim({ machines: 120 }));
    const list = await maas.get("machines/");
    expect(list.status).toBe(200);
    expect(list.headers.get("transfer-encoding")).toBe("chunked");
    expect(list.headers.get("content-length")).toBeNull();
    expect(list.text.length).toBeGreaterThan(3 * 256 * 1024);
    const ids = sim.region.machines.map((m) => m.systemId);
    expect((list.json as { system_id: string }[]).map((m) => m.system_id)).toEqual(ids);
    const one = await maas.get(`machines/${ids[77]}/`);
    expect((list.json as unknown[])[77]).toEqual(one.json);
  });

  it("a single machine keeps its Content-Length", async () => {
    let maas: Maas;
    ({ sim, maas } = await manualSim());
    const one = await maas.get(`machines/${sim.region.machines[0]!.systemId}/`);
    expect(Number(one.headers.get("content-length"))).toBe(Buffer.byteLength(one.text));
  });
});
