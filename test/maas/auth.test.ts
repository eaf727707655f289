import nock from "nock";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { OAuthSigner, parseApiKey } from "../../src/maas/auth.ts";
import { MaasClient } from "../../src/maas/client.ts";
import { MaasError } from "../../src/maas/errors.ts";
import { API, API_KEY, CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET, harness, maas, parseOAuthHeader } from "./helpers.ts";

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

describe("parseApiKey", () => {
  it("splits consumer_key:token_key:token_secret and tolerates a trailing newline from a key file", () => {
    expect(parseApiKey(`${API_KEY}\n`)).toEqual({ consumerKey: CONSUMER_KEY, tokenKey: TOKEN_KEY, tokenSecret: TOKEN_SECRET });
  });

  it.each([
    ["two parts", `${CONSUMER_KEY}:${TOKEN_SECRET}`, /2 part/],
    ["four parts", `${API_KEY}:extra`, /4 part/],
    ["an empty token_secret", `${CONSUMER_KEY}:${TOKEN_KEY}:`, /token_secret is empty/],
    ["a space inside", `${CONSUMER_KEY}:${TOKEN_KEY}:abc def${TOKEN_SECRET}`, /token_secret contains/],
  ])("rejects a key with %s as MAAS_INVALID_KEY without echoing it", (_what, key, why) => {
    let err: unknown;
    try {
      parseApiKey(key);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MaasError);
    const e = err as MaasError;
    expect(e.code).toBe("MAAS_INVALID_KEY");
    expect(e.message).toMatch(why);
    for (const part of [CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET]) {
      expect(e.message).not.toContain(part);
      expect(JSON.stringify(e)).not.toContain(part);
    }
  });

  it("is checked when the client is constructed", () => {
    expect(() => new MaasClient({ url: "http://maas.test:5240/MAAS", apiKey: "nope" })).toThrow(expect.objectContaining({ code: "MAAS_INVALID_KEY" }));
  });
});

describe("OAuth PLAINTEXT header", () => {
  it("has realm, every oauth_* param in MAAS's order, and signature %26<token secret>", () => {
    const signer = new OAuthSigner(parseApiKey(API_KEY), { nonce: () => "n0nce", timestampS: () => 1700000000 });
    expect(signer.header("POST", "http://x/MAAS/api/2.0/machines/?op=allocate")).toBe(
      `OAuth realm="", oauth_consumer_key="${CONSUMER_KEY}", oauth_token="${TOKEN_KEY}", oauth_signature_method="PLAINTEXT", ` +
        `oauth_signature="%26${TOKEN_SECRET}", oauth_timestamp="1700000000", oauth_nonce="n0nce", oauth_version="1.0"`,
    );
  });

  it("is sent on every request with a fresh nonce and a current timestamp, retries included", async () => {
    const seen: string[] = [];
    maas()
      .get(`${API}/users/`)
      .query({ op: "whoami" })
      .times(3)
      .reply((req: Request) => {
        seen.push(String(req.headers.get("authorization")));
        // First send fails so that the retry's header is checked too.
        return seen.length === 1 ? [503, "no rack", { "Retry-After": "1" }] : [200, { username: "metalwave", is_superuser: true, email: null }];
      });
    const { client } = harness();
    await client.whoami();
    await client.whoami();
    expect(seen).toHaveLength(3);
    const parsed = seen.map(parseOAuthHeader);
    const now = Math.floor(Date.now() / 1000);
    for (const h of parsed) {
      expect(h.scheme).toBe("OAuth");
      expect(h.params.map(([k]) => k)).toEqual([
        "realm",
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature_method",
        "oauth_signature",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_version",
      ]);
      const p = Object.fromEntries(h.params);
      expect(p).toMatchObject({
        realm: "",
        oauth_consumer_key: CONSUMER_KEY,
        oauth_token: TOKEN_KEY,
        oauth_signature_method: "PLAINTEXT",
        oauth_signature: `%26${TOKEN_SECRET}`,
        oauth_version: "1.0",
      });
      expect(Math.abs(Number(p.oauth_timestamp) - now)).toBeLessThan(60);
      expect(p.oauth_nonce).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(new Set(parsed.map((h) => Object.fromEntries(h.params).oauth_nonce)).size).toBe(3);
  });

  it("is not sent to the anonymous version endpoint", async () => {
    let auth: unknown = "unset";
    maas()
      .get(`${API}/version/`)
      .reply((req: Request) => {
        auth = req.headers.get("authorization");
        return [200, { capabilities: ["networks-management", "authenticate-api"], version: "3.5.4", subversion: "" }];
      });
    const { client } = harness();
    expect((await client.version()).version).toBe("3.5.4");
    expect(auth).toBeNull();
  });
});
