import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MaasError } from "../../src/maas/errors.ts";
import { classifyFailure, parseRetryAfter, retryDelayMs } from "../../src/maas/retry.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { API, harness, maas, machineJson, netError } from "./helpers.ts";

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});

const WHOAMI = { username: "metalwave", email: null, is_superuser: true };
const SID = "4y3h7n";

async function caught(p: Promise<unknown>): Promise<MaasError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MaasError);
    return e as MaasError;
  }
  throw new Error("expected a rejection");
}

describe("backoff", () => {
  it("is exponential with full jitter and capped", () => {
    const opts = { attempts: 9, baseDelayMs: 100, maxDelayMs: 1000 };
    const f = { kind: "network", code: "ECONNRESET", message: "" } as const;
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, f, opts, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(retryDelayMs(3, f, opts, () => 0.5)).toBe(200);
    expect(retryDelayMs(3, f, opts, () => 0)).toBe(0);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("5", 0)).toBe(5);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it("classifies what is safe to re-send", () => {
    const http = (status: number, retryAfterS?: number) => ({ kind: "http", status, body: "", retryAfterS }) as const;
    expect(classifyFailure(http(503, 10))).toBe("unsent");
    expect(classifyFailure(http(409, 5))).toBe("unsent");
    expect(classifyFailure(http(409))).toBe("final");
    expect(classifyFailure(http(503))).toBe("unknown");
    expect(classifyFailure(http(502))).toBe("unknown");
    expect(classifyFailure(http(504))).toBe("unknown");
    expect(classifyFailure({ kind: "network", code: "ECONNREFUSED", message: "" })).toBe("unsent");
    expect(classifyFailure({ kind: "network", code: "ECONNRESET", message: "" })).toBe("unknown");
    expect(classifyFailure({ kind: "network", code: "ETIMEDOUT", message: "" })).toBe("unknown");
  });
});

describe("retries of reads", () => {
  it("back off exponentially between 503s and stop after the configured attempts", async () => {
    maas().get(`${API}/tags/`).times(4).reply(503, "");
    const { client, clock, requests } = harness({ retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 250 } });
    const e = await caught(client.listTags());
    expect(e).toMatchObject({ code: "MAAS_UNAVAILABLE", attempts: 4 });
    expect(requests.map((r) => r.attempt)).toEqual([1, 2, 3, 4]);
    // random() = 1 → the full ceiling each time; the cap applies from the third wait.
    expect(clock.sleeps).toEqual([100, 200, 250]);
  });

  it("honour Retry-After on 503 and then succeed", async () => {
    maas().get(`${API}/tags/`).reply(503, "No rack controllers", { "Retry-After": "10" });
    maas().get(`${API}/tags/`).reply(200, []);
    const { client, clock } = harness();
    expect(await client.listTags()).toEqual([]);
    expect(clock.sleeps).toEqual([10_000]);
  });

  it("retry a 409 that carries Retry-After (MAAS's database conflict) and count it", async () => {
    maas().post(`${API}/tags/ceph/`).query({ op: "update_nodes" }).reply(409, "database conflict", { "Retry-After": "5" });
    maas().post(`${API}/tags/ceph/`).query({ op: "update_nodes" }).reply(200, { added: 1, removed: 0 });
    const { client, clock } = harness();
    expect(await client.updateTagNodes("ceph", { add: ["a"] })).toEqual({ added: 1, removed: 0 });
    expect(clock.sleeps).toEqual([5000]);
    expect(client.stats()).toMatchObject({ requests: 2, retries: 1, byOperation: { updateTagNodes: { "409": 1, "200": 1 } } });
  });

  it("report a 409 with Retry-After that never clears as a db_conflict", async () => {
    maas().get(`${API}/tags/`).times(2).reply(409, "", { "Retry-After": "5" });
    const { client } = harness({ retry: { attempts: 2 } });
    expect(await caught(client.listTags())).toMatchObject({ code: "MAAS_CONFLICT", conflictKind: "db_conflict", retryAfterS: 5 });
  });

  it("retry connection resets on reads", async () => {
    maas().get(`${API}/machines/${SID}/`).replyWithError(netError("ECONNRESET", "socket hang up"));
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson());
    const { client } = harness();
    await expect(client.readMachine(SID)).resolves.toMatchObject({ system_id: SID });
  });

  it("time out a request that gets no answer and retry it", async () => {
    maas().get(`${API}/machines/${SID}/`).delay(2_000).reply(200, machineJson());
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson());
    const { client, requests } = harness({ timeoutMs: 20 });
    await expect(client.readMachine(SID)).resolves.toMatchObject({ system_id: SID });
    expect(requests.map((r) => r.errorCode ?? r.status)).toEqual(["ETIMEDOUT", 200]);
  });

  it("treat a 404 on delete after an unknown outcome as our own delete having applied", async () => {
    maas().delete(`${API}/tags/old/`).reply(504, "");
    maas().delete(`${API}/tags/old/`).reply(404, "No Tag matches the given query.");
    const { client } = harness();
    await expect(client.deleteTag("old")).resolves.toBeUndefined();
  });
});

describe("reconciliation of state-changing POSTs", () => {
  it("deploy hit by a connection reset reads the machine back and does not POST again when it took effect", async () => {
    let deployPosts = 0;
    maas()
      .post(`${API}/machines/${SID}/`)
      .query({ op: "deploy" })
      .reply(() => {
        deployPosts++;
        throw netError("ECONNRESET", "socket hang up");
      });
    maas().get(`${API}/users/`).query({ op: "whoami" }).reply(200, WHOAMI);
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.DEPLOYING, owner: "metalwave" }));
    const { client, requests } = harness();
    const m = await client.deploy(SID, { distro_series: "jammy" });
    expect(m.status).toBe(NodeStatus.DEPLOYING);
    expect(deployPosts).toBe(1);
    expect(requests.map((r) => r.operation)).toEqual(["deploy", "whoami", "readMachine"]);
    expect(client.stats().reconciliations).toBe(2);
  });

  it("deploy reset before it applied (machine still Allocated) is sent once more", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "deploy" }).replyWithError(netError("ECONNRESET"));
    maas().get(`${API}/users/`).query({ op: "whoami" }).reply(200, WHOAMI);
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.ALLOCATED, owner: "metalwave" }));
    maas().post(`${API}/machines/${SID}/`).query({ op: "deploy" }).reply(200, machineJson({ status: NodeStatus.DEPLOYING, owner: "metalwave" }));
    const { client, requests } = harness();
    await expect(client.deploy(SID)).resolves.toMatchObject({ status: NodeStatus.DEPLOYING });
    expect(requests.map((r) => `${r.operation}:${r.status ?? r.errorCode}`)).toEqual(["deploy:ECONNRESET", "whoami:200", "readMachine:200", "deploy:200"]);
  });

  it("someone else's deployment does not count as ours", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "deploy" }).reply(504, "");
    maas().get(`${API}/users/`).query({ op: "whoami" }).reply(200, WHOAMI);
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.DEPLOYING, owner: "alice" }));
    maas().post(`${API}/machines/${SID}/`).query({ op: "deploy" }).reply(409, "Can't deploy a machine that is in the 'Deploying' state");
    // After the 409 the client checks again whether it was our own earlier send.
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.DEPLOYING, owner: "alice" }));
    const { client } = harness();
    expect(await caught(client.deploy(SID))).toMatchObject({ code: "MAAS_CONFLICT", conflictKind: "wrong_state" });
  });

  it("a 409 on the re-send that is our own first deploy showing is success", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "deploy" }).reply(504, "");
    maas().get(`${API}/users/`).query({ op: "whoami" }).reply(200, WHOAMI);
    // MAAS was still applying the first request when we read back.
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.ALLOCATED, owner: "metalwave" }));
    maas().post(`${API}/machines/${SID}/`).query({ op: "deploy" }).reply(409, "Can't deploy a machine that is in the 'Deploying' state");
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.DEPLOYING, owner: "metalwave" }));
    const { client } = harness();
    await expect(client.deploy(SID)).resolves.toMatchObject({ status: NodeStatus.DEPLOYING });
  });

  it("waits the backoff before reading back, so MAAS can finish applying", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "commission" }).reply(502, "");
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.COMMISSIONING }));
    const { client, clock } = harness();
    await expect(client.commission(SID)).resolves.toMatchObject({ status: NodeStatus.COMMISSIONING });
    expect(clock.sleeps).toEqual([100]);
  });

  it("throws MAAS_OUTCOME_UNKNOWN when reading back fails", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "mark_broken" }).replyWithError(netError("ECONNRESET"));
    maas().get(`${API}/machines/${SID}/`).times(5).reply(503, "");
    const { client } = harness();
    const e = await caught(client.markBroken(SID));
    expect(e).toMatchObject({ code: "MAAS_OUTCOME_UNKNOWN", operation: "markBroken", systemId: SID });
    expect(e.cause).toMatchObject({ code: "MAAS_UNAVAILABLE", operation: "readMachine" });
  });

  it("gives up with the transport error once every send was read back as not applied", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "power_on" }).times(2).reply(504, "");
    maas().get(`${API}/machines/${SID}/`).times(2).reply(200, machineJson({ power_state: "off" }));
    const { client } = harness({ retry: { attempts: 2 } });
    expect(await caught(client.powerOn(SID))).toMatchObject({ code: "MAAS_UNAVAILABLE", status: 504, attempts: 2 });
  });

  it("a 503 with Retry-After was not processed: re-sent without reading back", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "release" }).reply(503, "No rack controllers", { "Retry-After": "10" });
    maas().post(`${API}/machines/${SID}/`).query({ op: "release" }).reply(200, machineJson({ status: NodeStatus.RELEASING }));
    const { client, requests, clock } = harness();
    await expect(client.release(SID)).resolves.toMatchObject({ status: NodeStatus.RELEASING });
    expect(requests.map((r) => r.operation)).toEqual(["release", "release"]);
    expect(clock.sleeps).toEqual([10_000]);
  });

  it("connection refused means nothing was sent: re-sent without reading back", async () => {
    maas().post(`${API}/machines/${SID}/`).query({ op: "abort" }).replyWithError(netError("ECONNREFUSED"));
    maas().post(`${API}/machines/${SID}/`).query({ op: "abort" }).reply(200, machineJson({ status: NodeStatus.ALLOCATED }));
    const { client, requests } = harness();
    await client.abort(SID);
    expect(requests.map((r) => r.operation)).toEqual(["abort", "abort"]);
  });

  it("allocate by system_id reconciles on the owner", async () => {
    maas().post(`${API}/machines/`).query({ op: "allocate" }).replyWithError(netError("ETIMEDOUT"));
    maas().get(`${API}/users/`).query({ op: "whoami" }).reply(200, WHOAMI);
    maas().get(`${API}/machines/${SID}/`).reply(200, machineJson({ status: NodeStatus.ALLOCATED, owner: "metalwave" }));
    const { client } = harness();
    await expect(client.allocate({ system_id: SID })).resolves.toMatchObject({ system_id: SID, owner: "metalwave" });
  });

  it("allocate without system_id is never re-sent on an unknown outcome", async () => {
    maas().post(`${API}/machines/`).query({ op: "allocate" }).replyWithError(netError("ECONNRESET"));
    const { client, requests } = harness();
    expect(await caught(client.allocate({ tags: ["ceph"] }))).toMatchObject({ code: "MAAS_OUTCOME_UNKNOWN", operation: "allocate" });
    expect(requests).toHaveLength(1);
  });

  it("createMachine is never re-sent on an unknown outcome", async () => {
    maas().post(`${API}/machines/`).reply(504, "");
    const { client, requests } = harness();
    expect(await caught(client.createMachine({ architecture: "amd64/generic", mac_addresses: ["b4:96:91:3a:0c:10"] }))).toMatchObject({
      code: "MAAS_OUTCOME_UNKNOWN",
      status: 504,
    });
    expect(requests).toHaveLength(1);
  });

  it("createMachine is re-sent when the connection was refused", async () => {
    maas().post(`${API}/machines/`).replyWithError(netError("ECONNREFUSED"));
    maas().post(`${API}/machines/`).reply(200, machineJson({ status: NodeStatus.NEW }));
    const { client } = harness();
    await expect(client.createMachine({ architecture: "amd64/generic", mac_addresses: ["b4:96:91:3a:0c:10"] })).resolves.toMatchObject({ status: NodeStatus.NEW });
  });

  it("createTag reads the tag back after an unknown outcome", async () => {
    const tag = { name: "ceph", definition: "", comment: "", kernel_opts: null };
    maas().post(`${API}/tags/`).replyWithError(netError("ECONNRESET"));
    maas().get(`${API}/tags/ceph/`).reply(200, tag);
    const { client, requests } = harness();
    await expect(client.createTag({ name: "ceph" })).resolves.toMatchObject({ name: "ceph" });
    expect(requests.map((r) => r.operation)).toEqual(["createTag", "readTag"]);
  });

  it("createTag re-sends when the read-back finds no tag", async () => {
    const tag = { name: "ceph", definition: "", comment: "", kernel_opts: null };
    maas().post(`${API}/tags/`).replyWithError(netError("ECONNRESET"));
    maas().get(`${API}/tags/ceph/`).reply(404, "No Tag matches the given query.");
    maas().post(`${API}/tags/`).reply(200, tag);
    const { client } = harness();
    await expect(client.createTag({ name: "ceph" })).resolves.toMatchObject({ name: "ceph" });
  });

  it("releaseMany reconciles by listing the machines", async () => {
    maas().post(`${API}/machines/`).query({ op: "release" }).reply(502, "");
    maas()
      .get(`${API}/machines/`)
      .query({ id: ["a", "b"] })
      .reply(200, [machineJson({ system_id: "a", status: NodeStatus.RELEASING }), machineJson({ system_id: "b", status: NodeStatus.READY })]);
    const { client } = harness();
    expect(await client.releaseMany(["a", "b"])).toEqual(["a", "b"]);
  });
});

describe("abort", () => {
  it("a signal stops a call waiting out a backoff", async () => {
    maas().get(`${API}/tags/`).reply(503, "");
    const ac = new AbortController();
    const { client } = harness({
      clock: {
        now: () => 0,
        wallNow: () => 0,
        sleep: (_ms, signal) =>
          new Promise((_, reject) => {
            signal?.addEventListener("abort", () => reject(signal.reason));
            ac.abort(new Error("wave cancelled"));
          }),
      },
    });
    await expect(client.withSignal(ac.signal).listTags()).rejects.toThrow("wave cancelled");
  });
});
