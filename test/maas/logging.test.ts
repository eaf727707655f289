import nock from "nock";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { API, CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET, harness, maas, netError } from "./helpers.ts";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

describe("logging", () => {
  it("logs one line per request and each retry, with operation and status, and never the key", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "deploy" }).replyWithError(netError("ECONNRESET", "socket hang up"));
    maas().get(`${API}/users/`).query({ op: "whoami" }).reply(401, `Authorization Error: 'Invalid access token: ${TOKEN_KEY}'`);
    const { client } = harness({ logger });
    await expect(client.deploy("4y3h7n")).rejects.toMatchObject({ code: "MAAS_OUTCOME_UNKNOWN" });
    const text = lines.map((l) => JSON.stringify(l)).join("\n");
    for (const part of [CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET]) expect(text).not.toContain(part);
    expect(lines.filter((l) => l.msg === "maas request").map((l) => [l.operation, l.status])).toEqual([
      ["deploy", "ECONNRESET"],
      ["whoami", 401],
    ]);
    expect(lines.some((l) => l.msg === "maas outcome unknown; reading back" && l.systemId === "4y3h7n")).toBe(true);
  });
});
