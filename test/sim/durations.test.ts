import { afterEach, describe, expect, it, vi } from "vitest";
import { runSim } from "../../src/sim/cli.ts";
import { parseDurations, startSimulator } from "../../src/sim/index.ts";
import type { SimHandle, SimOptions } from "../../src/sim/index.ts";
import { Maas } from "./helpers.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await sim?.close();
  sim = undefined;
});

async function fixedSim(opts: SimOptions): Promise<{ s: SimHandle; maas: Maas; sids: string[] }> {
  sim = await startSimulator({ machines: 4, seed: 42, clock: "manual", ...opts });
  return { s: sim, maas: new Maas(sim), sids: sim.region.machines.map((m) => m.systemId) };
}

async function statuses(maas: Maas, sids: readonly string[]): Promise<string[]> {
  return Promise.all(sids.map(async (sid) => (await maas.machine(sid)).status_name as string));
}

describe("fixed phase durations", () => {
  it("makes every machine commission and deploy in exactly the given realistic seconds, divided by the speed", async () => {
    const { s, maas, sids } = await fixedSim({ durations: { commission: 400, deploy: 800 }, speed: 4 });
    for (const sid of sids) expect((await maas.op(sid, "commission")).status).toBe(200);
    s.advance(100_000 - 1); // 400 s / speed 4 = 100 s of real time
    expect(await statuses(maas, sids)).toEqual(sids.map(() => "Commissioning"));
    s.advance(1);
    expect(await statuses(maas, sids)).toEqual(sids.map(() => "Ready"));

    const userData = Buffer.from("#cloud-config\n").toString("base64");
    for (const sid of sids) expect((await maas.op(sid, "deploy", { user_data: userData })).status).toBe(200);
    s.advance(200_000 - 1);
    expect(await statuses(maas, sids)).toEqual(sids.map(() => "Deploying"));
    s.advance(1);
    expect(await statuses(maas, sids)).toEqual(sids.map(() => "Deployed"));
  });

  it("leaves the phases it does not name on their seeded ranges", async () => {
    // Only deploy is fixed: commissioning still takes 5–10 minutes, so it is not done at 4 minutes.
    const { s, maas, sids } = await fixedSim({ durations: "deploy=1" });
    const sid = sids[0]!;
    await maas.op(sid, "commission");
    s.advance(4 * 60_000);
    expect((await maas.machine(sid)).status_name).toBe("Commissioning");
    s.advance(6 * 60_000);
    expect((await maas.machine(sid)).status_name).toBe("Ready");
  });

  it("parses the --durations string, with or without an s suffix", () => {
    expect(parseDurations("commission=450, deploy=900s,erase-quick=0")).toEqual({ commission: 450, deploy: 900, "erase-quick": 0 });
    expect(parseDurations("")).toEqual({});
  });

  it("refuses an unknown phase, a missing value or a negative duration, naming the item", async () => {
    expect(() => parseDurations("deploi=900")).toThrow(/durations item 'deploi=900': unknown phase 'deploi'/);
    expect(() => parseDurations("deploy=")).toThrow(/durations item 'deploy=': .*seconds/);
    expect(() => parseDurations("deploy")).toThrow(/durations item 'deploy': expected PHASE=SECONDS/);
    await expect(startSimulator({ machines: 1, durations: { commission: -1 } })).rejects.toMatchObject({ code: "SIM_OPTIONS" });
    await expect(startSimulator({ machines: 1, durations: { bogus: 3 } as unknown as SimOptions["durations"] })).rejects.toThrow(/unknown phase 'bogus'/);
  });

  it("is refused on the command line with the bad item named", async () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runSim(["--port", "0", "--machines", "1", "--durations", "commission=soon"])).toBe(1);
    expect(err.mock.calls[0]?.[0]).toMatch(/durations item 'commission=soon'/);
  });
});
