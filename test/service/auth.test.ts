/**
 * The bearer token: every route but /healthz needs it, a request without it (or with
 * a wrong one) changes nothing, and the token never leaves the process.
 */
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadToken, TokenCheck } from "../../src/service/index.ts";
import { ConfigError } from "../../src/errors.ts";
import { harness, TOKEN, type Harness } from "./helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("service authentication", () => {
  it("answers 401 without the token or with a wrong one, and starts nothing", async () => {
    h = await harness();
    // The readiness probe (users.whoami, every readyProbeMs) is the only request the service sends on its own.
    const beyondProbe = (): number => {
      const r = h!.sim.stats().requests;
      return r.total - (r.byOperation["users.whoami"]?.total ?? 0);
    };
    const before = beyondProbe();
    const wrong: { token: string | null; headers?: Record<string, string> }[] = [
      { token: null },
      { token: "wrong-token-0000000000000" },
      { token: `${TOKEN}x` },
      { token: TOKEN.slice(0, -1) },
      { token: null, headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString("base64")}` } },
      { token: null, headers: { authorization: TOKEN } },
    ];
    for (const w of wrong) {
      for (const [method, path] of [
        ["POST", "/api/v1/rollouts"],
        ["GET", "/api/v1/rollouts"],
        ["GET", "/metrics"],
        ["GET", "/api/v1/openapi.json"],
        ["GET", "/api/v1/events"],
        ["POST", "/api/v1/rollouts/x/abort"],
        ["GET", "/no/such/route"],
      ] as const) {
        const r = await h.api(method, path, { ...w, ...(method === "POST" ? { body: {} } : {}) });
        expect({ method, path, status: r.status, code: r.json?.error?.code }).toEqual({ method, path, status: 401, code: "UNAUTHORIZED" });
        expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
        expect(r.text).not.toContain(TOKEN);
      }
    }
    expect(h.store.listRollouts()).toEqual([]);
    expect(beyondProbe()).toBe(before);
    expect(h.sim.stats().statusCounts).toEqual({ New: 12 });
  });

  it("serves /healthz without a token", async () => {
    h = await harness();
    const r = await h.api("GET", "/healthz", { token: null });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: "ok", role: "leader" });
  });

  it("accepts the token with any case of the Bearer scheme, and only the exact token", () => {
    const check = new TokenCheck(TOKEN);
    expect(check.allows(`Bearer ${TOKEN}`)).toBe(true);
    expect(check.allows(`bearer ${TOKEN}`)).toBe(true);
    expect(check.allows(undefined)).toBe(false);
    expect(check.allows("Bearer ")).toBe(false);
    expect(check.allows(`Bearer ${TOKEN.toUpperCase()}`)).toBe(false);
    expect(check.allows(`Bearer ${TOKEN} extra`)).toBe(false);
  });

  it("reads the token from a file or the environment and refuses none or a short one", () => {
    const dir = mkdtempSync(join(tmpdir(), "metalwave-token-"));
    try {
      const file = join(dir, "token");
      writeFileSync(file, `${TOKEN}\n`);
      expect(loadToken({ file, env: { METALWAVE_API_TOKEN: "other-token-that-is-long" } })).toBe(TOKEN);
      expect(loadToken({ env: { METALWAVE_API_TOKEN: TOKEN } })).toBe(TOKEN);
      expect(() => loadToken({ env: {} })).toThrow(ConfigError);
      expect(() => loadToken({ env: { METALWAVE_API_TOKEN: "short" } })).toThrow(/shorter than 16/);
      expect(() => loadToken({ file: join(dir, "missing"), env: {} })).toThrow(/--token-file/);
      writeFileSync(file, "short\n");
      try {
        loadToken({ file, env: {} });
        expect.unreachable();
      } catch (e) {
        // The message names the problem, never the token's text.
        expect((e as Error).message).not.toContain("short\n");
        expect((e as Error).message).toMatch(/--token-file/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
