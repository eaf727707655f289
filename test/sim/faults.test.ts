import { afterEach, describe, expect, it } from "vitest";
import type { SimHandle } from "../../src/sim/index.ts";
import { formatFaults, parseFaults, startSimulator } from "../../src/sim/index.ts";
import { Maas, manualSim } from "./helpers.ts";

let sims: SimHandle[] = [];
afterEach(async () => {
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
});

async function setup(opts: Parameters<typeof manualSim>[0]): Promise<{ maas: Maas; s: SimHandle }> {
  const r = await manualSim(opts);
  sims.push(r.sim);
  return { maas: r.maas, s: r.sim };
}

describe("the --faults syntax", () => {
  it("parses phase rates, targets, bursts, conflicts, latency and the in-flight cap", () => {
    const f = parseFaults("commission.fail=0.05,deploy.fail=0.1,deploy.hang=0.01,erase.fail=0.02,power.error=0.02,burst503=0.01:retry-after=5:len=4,conflict409=0.02,latency=20ms,inflight=4,deploy.fail@node-0007=1");
    expect(f.all.phases.deploy).toEqual({ fail: 0.1, hang: 0.01 });
    expect(f.all.powerError).toBe(0.02);
    expect(f.burst503).toEqual({ rate: 0.01, length: 4, retryAfterS: 5 });
    expect(f.conflict409).toEqual({ rate: 0.02, retryAfterS: 5 });
    expect(f.latencyMs).toEqual({ min: 20, max: 20 });
    expect(f.maxInFlight).toBe(4);
    expect(f.byMachine["node-0007"]?.phases.deploy?.fail).toBe(1);
    expect(parseFaults("latency=10ms..1s").latencyMs).toEqual({ min: 10, max: 1000 });
    const once = parseFaults("commission.fail@node-0003=1:first=2");
    expect(once.byMachine["node-0003"]?.phases.commission).toEqual({ fail: 1, first: 2 });
    expect(parseFaults(formatFaults(once))).toEqual(once);
    expect(parseFaults(formatFaults(f))).toEqual(f);
  });

  it.each([
    ["deploy.fial=0.1", "faults item 'deploy.fial=0.1'"],
    ["deploy.fail=2", "not a probability"],
    ["deploy.fail=0.7,deploy.hang=0.5", "exceed 1"],
    ["burst503=0.1:wait=3", "unknown parameter 'wait=3'"],
    ["latency=fast", "not a duration"],
    ["inflight=0", "not a positive integer"],
    ["burst503@node-1=0.5", "cannot target a machine"],
    ["deploy.fail", "expected KEY=VALUE"],
    ["commission.fail=1:first=0", "first '0' is not a positive integer"],
    ["commission.fail=1:times=2", "unknown parameter 'times=2'"],
  ])("refuses %s naming the bad item", (spec, message) => {
    expect(() => parseFaults(spec)).toThrow(message);
    expect(() => parseFaults(spec)).toThrow(expect.objectContaining({ code: "SIM_FAULT_SPEC" }));
  });

  it("refuses a target that names no machine", async () => {
    await expect(startSimulator({ machines: 2, faults: "deploy.fail@ghost=1" })).rejects.toThrow(/ghost/);
  });
});

async function deployAll(maas: Maas, s: SimHandle): Promise<string[]> {
  for (const m of s.region.machines) await maas.op(m.systemId, "commission");
  s.advance(Infinity);
  for (const m of s.region.machines) if (m.status === 4) await maas.op(m.systemId, "deploy");
  s.advance(Infinity);
  return s.region.machines.map((m) => `${m.hostname}:${m.status}`);
}

describe("seeded, deterministic faults", () => {
  it("gives the same outcomes for the same seed and request sequence, and different ones for another seed", async () => {
    const faults = "commission.fail=0.3,deploy.fail=0.3";
    const a = await setup({ machines: 30, seed: 11, faults });
    const b = await setup({ machines: 30, seed: 11, faults });
    const c = await setup({ machines: 30, seed: 12, faults });
    const ra = await deployAll(a.maas, a.s);
    expect(await deployAll(b.maas, b.s)).toEqual(ra);
    const failed = ra.filter((x) => x.endsWith(":2") || x.endsWith(":11")).length;
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(30);
    const rc = await deployAll(c.maas, c.s);
    expect(rc.map((x) => x.split(":")[1])).not.toEqual(ra.map((x) => x.split(":")[1]));
  });

  it("aims a fault at one machine by hostname", async () => {
    const probe = await setup({ machines: 4 });
    const victim = probe.s.region.machines[2]!.hostname;
    const { maas, s } = await setup({ machines: 4, faults: `deploy.fail@${victim}=1` });
    await deployAll(maas, s);
    expect(s.region.machines.map((m) => m.status)).toEqual([6, 6, 11, 6]);
  });

  it("first=N: only a machine's first N runs of the phase are at risk", async () => {
    const { maas, s } = await setup({ machines: 2, faults: "commission.fail=1:first=2" });
    const sid = s.region.machines[0]!.systemId;
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      await maas.op(sid, "commission");
      s.advance(Infinity);
      seen.push(s.region.machines[0]!.status);
    }
    expect(seen).toEqual([2, 2, 4]);
  });

  it("power.error answers 503 without Retry-After and changes nothing", async () => {
    const { maas, s } = await setup({ faults: "power.error=1" });
    const sid = s.region.machines[0]!.systemId;
    const r = await maas.op(sid, "commission");
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBeNull();
    expect(r.text).toMatch(/BMC/);
    expect(s.region.get(sid).status).toBe(0);
    expect((await maas.get(`machines/${sid}/`, { op: "query_power_state" })).status).toBe(503);
  });

  it("burst503 answers a run of 503s with Retry-After, then recovers", async () => {
    const { maas } = await setup({ faults: "burst503=1:len=2:retry-after=7" });
    const r1 = await maas.get("machines/");
    expect(r1.status).toBe(503);
    expect(r1.headers.get("retry-after")).toBe("7");
    expect((await maas.get("machines/")).status).toBe(503);
  });

  it("conflict409 refuses mutating requests with Retry-After: 5 and leaves reads alone", async () => {
    const { maas, s } = await setup({ faults: "conflict409=1" });
    const sid = s.region.machines[0]!.systemId;
    expect((await maas.get("machines/")).status).toBe(200);
    const r = await maas.op(sid, "commission");
    expect(r.status).toBe(409);
    expect(r.headers.get("retry-after")).toBe("5");
    expect(s.region.get(sid).status).toBe(0);
  });

  it("the in-flight cap serves one request at a time and queues the rest", async () => {
    const sim = await startSimulator({ machines: 2, maxInFlight: 1, faults: "latency=40ms" });
    sims.push(sim);
    const maas = new Maas(sim);
    const results = await Promise.all(Array.from({ length: 5 }, () => maas.get("machines/")));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(sim.stats().inFlight).toMatchObject({ peak: 1, limit: 1 });
  });
});
