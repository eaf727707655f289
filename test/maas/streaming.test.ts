// The transport reads list answers as they stream in, and times out on silence, not on length.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MaasClient } from "../../src/maas/client.ts";
import type { RequestInfo } from "../../src/maas/client.ts";
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
