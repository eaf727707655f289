import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MaasError, isNoMatchingMachine, isWrongState } from "../../src/maas/errors.ts";
import type { MaasErrorCode } from "../../src/maas/errors.ts";
import { API, netError, CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET, harness, maas, machineJson } from "./helpers.ts";

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

async function caught(p: Promise<unknown>): Promise<MaasError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MaasError);
    return e as MaasError;
  }
  throw new Error("expected a rejection");
}

function expectNoSecrets(e: MaasError): void {
  const all = [e.message, JSON.stringify(e), String(e.stack), e.maasMessage ?? ""].join("\n");
  for (const part of [CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET]) expect(all).not.toContain(part);
}

describe("HTTP status → MaasError", () => {
  it.each<[number, string, MaasErrorCode]>([
    [401, "Authorization Error: Invalid API key.", "MAAS_AUTH"],
    [403, "", "MAAS_FORBIDDEN"],
    [404, "No Machine matches the given query.", "MAAS_NOT_FOUND"],
  ])("%i → %s with MAAS's text, operation and system_id", async (status, body, code) => {
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "mark_broken" }).reply(status, body, { "Content-Type": "text/plain" });
    const { client } = harness();
    const e = await caught(client.markBroken("4y3h7n", "bad DIMM"));
    expect(e).toMatchObject({ code, status, operation: "markBroken", systemId: "4y3h7n", maasMessage: body });
    expect(e.message).toContain("markBroken 4y3h7n");
  });

  it("401 echoing the token key is redacted everywhere", async () => {
    maas().get(`${API}/users/`).query({ op: "whoami" }).reply(401, `Authorization Error: 'Invalid access token: ${TOKEN_KEY}'`, { "WWW-Authenticate": 'OAuth realm="OAuth"' });
    const { client } = harness();
    const e = await caught(client.whoami());
    expect(e.code).toBe("MAAS_AUTH");
    expect(e.maasMessage).toBe("Authorization Error: 'Invalid access token: <redacted>'");
    expectNoSecrets(e);
  });

  it("409 on deploy is a wrong-state conflict", async () => {
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "deploy" }).reply(409, "Can't deploy a machine that is in the 'New' state");
    const { client } = harness();
    const e = await caught(client.deploy("4y3h7n"));
    expect(e).toMatchObject({ code: "MAAS_CONFLICT", status: 409, conflictKind: "wrong_state" });
    expect(isWrongState(e)).toBe(true);
    expect(isNoMatchingMachine(e)).toBe(false);
  });

  it("409 on allocate means no machine matches", async () => {
    maas().post(`${API}/machines/`).query({ op: "allocate" }).reply(409, "No available machine matches constraints: [('tags', ['ceph'])] (resolved to \"tags=ceph\")");
    const { client } = harness();
    const e = await caught(client.allocate({ tags: ["ceph"] }));
    expect(e).toMatchObject({ code: "MAAS_CONFLICT", conflictKind: "no_match", operation: "allocate" });
    expect(isNoMatchingMachine(e)).toBe(true);
    // A 409 without Retry-After is final: one request only.
    expect(e.attempts).toBe(1);
  });

  it("400 carries MAAS's per-field messages", async () => {
    maas()
      .get(`${API}/machines/`)
      .query(true)
      .reply(400, { tags: ["No such tag(s): 'nope'."], frobnicate: ["No such constraint."] });
    const { client } = harness();
    const e = await caught(client.listMachines({ tags: ["nope"] }));
    expect(e.code).toBe("MAAS_BAD_REQUEST");
    expect(e.fields).toEqual({ tags: ["No such tag(s): 'nope'."], frobnicate: ["No such constraint."] });
    expect(e.message).toContain("tags: No such tag(s): 'nope'.");
  });

  it("400 with plain text keeps the text and has no fields", async () => {
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "commission" }).reply(400, "Unrecognised signature: method=POST op=comission");
    const { client } = harness();
    const e = await caught(client.commission("4y3h7n"));
    expect(e).toMatchObject({ code: "MAAS_BAD_REQUEST", fields: undefined, maasMessage: "Unrecognised signature: method=POST op=comission" });
  });

  it.each([502, 503, 504])("%i on a read → MAAS_UNAVAILABLE once retries are spent", async (status) => {
    maas().get(`${API}/zones/`).times(5).reply(status, "upstream trouble");
    const { client, requests } = harness();
    const e = await caught(client.listZones());
    expect(e).toMatchObject({ code: "MAAS_UNAVAILABLE", status, attempts: 5 });
    expect(requests).toHaveLength(5);
  });

  it("connection refused on a read → MAAS_NETWORK with a cause stripped of the request config", async () => {
    maas().get(`${API}/zones/`).times(5).replyWithError(netError("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.5:5240"));
    const { client } = harness();
    const e = await caught(client.listZones());
    expect(e.code).toBe("MAAS_NETWORK");
    expect(e.message).toContain("ECONNREFUSED");
    expect(e.cause).toMatchObject({ name: "TransportError", code: "ECONNREFUSED" });
    expect(Object.keys(e.cause as object)).not.toContain("config");
    expectNoSecrets(e);
  });
});

describe("bad responses", () => {
  it("a body that is not JSON → MAAS_BAD_RESPONSE", async () => {
    maas().get(`${API}/machines/4y3h7n/`).reply(200, "<html>login</html>", { "Content-Type": "text/html" });
    const { client } = harness();
    const e = await caught(client.readMachine("4y3h7n"));
    expect(e.code).toBe("MAAS_BAD_RESPONSE");
    expect(e.message).toMatch(/readMachine 4y3h7n: response is not JSON/);
  });

  it("a schema failure names the operation and the failing field path", async () => {
    const bad = machineJson({ system_id: "d" });
    (bad.interface_set as { vlan: { vid: unknown } }[])[0]!.vlan.vid = "zero";
    maas()
      .get(`${API}/machines/`)
      .reply(200, [machineJson({ system_id: "a" }), machineJson({ system_id: "b" }), machineJson({ system_id: "c" }), bad]);
    const { client } = harness();
    const e = await caught(client.listMachines());
    expect(e.code).toBe("MAAS_BAD_RESPONSE");
    expect(e.message).toMatch(/^listMachines: \[3\]\.interface_set\[0\]\.vlan\.vid: expected number/);
  });

  it("a missing required field is named", async () => {
    const bad = machineJson();
    delete bad.status;
    maas().get(`${API}/machines/4y3h7n/`).reply(200, bad);
    const { client } = harness();
    const e = await caught(client.readMachine("4y3h7n"));
    expect(e.message).toMatch(/^readMachine: status: expected number/);
  });

  it("nullable fields MAAS sends as null are accepted", async () => {
    maas()
      .get(`${API}/machines/4y3h7n/`)
      .reply(200, machineJson({ architecture: null, hardware_info: null, status_message: null, boot_interface: null, pool: null }));
    const { client } = harness();
    const m = await client.readMachine("4y3h7n");
    expect(m.pool).toBeNull();
  });

  it("a redirect is not followed (it would re-send a POST) and says to check the URL", async () => {
    maas().post(`${API}/machines/4y3h7n/`).query({ op: "deploy" }).reply(302, "", { Location: "https://maas.test/MAAS/api/2.0/machines/4y3h7n/?op=deploy" });
    const { client, requests } = harness();
    const e = await caught(client.deploy("4y3h7n"));
    expect(e.code).toBe("MAAS_BAD_RESPONSE");
    expect(e.message).toContain("check the MAAS URL");
    expect(requests).toHaveLength(1);
  });
});
