// The transport reads list answers as they stream in, and times out on silence, not on length.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MaasClient } from "../../src/maas/client.ts";
import type { RequestInfo } from "../../src/maas/client.ts";
import { MaasError } from "../../src/maas/errors.ts";
import { machineFacts } from "../../src/roles/facts.ts";
import { API_KEY, machineJson, virtualClock } from "./helpers.ts";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A region whose machine list is written in `parts`, `gapMs` apart (chunked, as a streaming region sends it). */
async function region(parts: string[], gapMs: number): Promise<{ client: MaasClient; requests: RequestInfo[] }> {
  server = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    let i = 0;
    const next = () => {
      if (i === parts.length) return res.end();
      res.write(parts[i++]);
      setTimeout(next, gapMs);
    };
    next();
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const requests: RequestInfo[] = [];
  const client = new MaasClient({
    url: `http://127.0.0.1:${port}/MAAS`,
    apiKey: API_KEY,
    clock: virtualClock(),
    requestsPerSecond: 0,
    retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    timeoutMs: 600,
    onRequest: (i) => requests.push(i),
  });
  return { client, requests };
}

const listParts = (n: number) => {
  const ms = Array.from({ length: n }, (_, i) => JSON.stringify(machineJson({ system_id: `m${i}` })));
  return ["[", ...ms.map((m, i) => (i === 0 ? m : `,${m}`)), "]"];
};

describe("list answers streamed in", () => {
  it("a list that takes longer than the timeout in all, but never stops for that long, is read whole", async () => {
    // 7 parts 200 ms apart: 1.4 s in all against a 600 ms timeout.
    const { client, requests } = await region(listParts(5), 200);
    const states = await client.listMachineStates();
    expect(states.map((s) => s.system_id)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(requests.map((r) => r.status)).toEqual([200]);
  });

  it("an answer that stops arriving for the timeout is a timeout (an unknown outcome, retried)", async () => {
    const parts = listParts(2);
    // The first part, then silence past the timeout: the stall is longer than 600 ms.
    const { client, requests } = await region([parts[0] ?? "", ...parts.slice(1)], 2_000);
    await expect(client.listMachineStates()).rejects.toMatchObject({ code: "MAAS_NETWORK", message: expect.stringContaining("ETIMEDOUT") });
    expect(requests.map((r) => r.errorCode)).toEqual(["ETIMEDOUT", "ETIMEDOUT"]);
  });

  it("a malformed element is MAAS_BAD_RESPONSE at once, not retried", async () => {
    const { client, requests } = await region(['[{"system_id":"a"', "}}]"], 10);
    await expect(client.listMachines()).rejects.toMatchObject({ code: "MAAS_BAD_RESPONSE" });
    expect(requests).toHaveLength(1);
  });
});

describe("planning lists (listMachinesEach) read only the fields facts come from", () => {
  const list = (...ms: Record<string, unknown>[]) => [JSON.stringify(ms)];

  it("gives the same facts as the whole machines", async () => {
    const ms = [machineJson({ system_id: "a1", hostname: "h1" }), machineJson({ system_id: "b2", hostname: "h2", boot_disk: null, pool: null })];
    const { client } = await region(list(...ms), 0);
    const whole = (await client.listMachines()).map((m) => machineFacts(m));
    const planned = await client.listMachinesEach({}, (m) => machineFacts(m));
    expect(planned).toEqual(whole);
    expect(planned[0]?.disks.length).toBeGreaterThan(0);
    expect(planned[0]?.interfaces?.length).toBeGreaterThan(0);
  });

  it("does not validate fields the planner never reads; the whole-machine list still does", async () => {
    const broken = machineJson({ system_id: "a1", hardware_info: 5, blockdevice_set: "x", ip_addresses: null });
    const { client } = await region(list(broken), 0);
    expect(await client.listMachinesEach({}, (m) => m.system_id)).toEqual(["a1"]);
    await expect(client.listMachines()).rejects.toMatchObject({ code: "MAAS_BAD_RESPONSE" });
  });

  it("a malformed field the planner reads is MAAS_BAD_RESPONSE naming the machine and the field", async () => {
    const ok = machineJson({ system_id: "a1" });
    const bad = machineJson({ system_id: "b2", cpu_count: "four" });
    const { client } = await region(list(ok, bad), 0);
    const err = await client.listMachinesEach({}, (m) => m.system_id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MaasError);
    expect(err).toMatchObject({ code: "MAAS_BAD_RESPONSE", systemId: "b2" });
    expect((err as MaasError).message).toMatch(/^listMachines: \[1\]\.cpu_count: .*\(machine b2\)$/);
  });

  it("names a nested field too", async () => {
    const m = machineJson({ system_id: "c3" });
    (m.physicalblockdevice_set as Record<string, unknown>[])[0]!.size = "big";
    const { client } = await region(list(m), 0);
    await expect(client.listMachinesEach({}, (x) => x.system_id)).rejects.toThrow(/\[0\]\.physicalblockdevice_set\[0\]\.size: .*\(machine c3\)/);
  });
});
