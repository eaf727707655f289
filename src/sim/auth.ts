/**
 * OAuth 1.0 PLAINTEXT verification as a MAAS region does it: the consumer key and
 * token must match an API key, the signature must be `&<token secret>`, the timestamp
 * must be recent and the nonce unseen.
 */
import { timingSafeEqual } from "node:crypto";
import { hash32 } from "./rng.ts";

/** Seconds either side of the server clock a signed timestamp may be. */
export const TIMESTAMP_WINDOW_S = 300;

export interface ApiKey {
  consumerKey: string;
  tokenKey: string;
  tokenSecret: string;
}

export function parseApiKey(text: string): ApiKey | null {
  const parts = text.trim().split(":");
  if (parts.length !== 3 || parts.some((p) => p === "")) return null;
  const [consumerKey = "", tokenKey = "", tokenSecret = ""] = parts;
  return { consumerKey, tokenKey, tokenSecret };
}

export function formatApiKey(k: ApiKey): string {
  return `${k.consumerKey}:${k.tokenKey}:${k.tokenSecret}`;
}

const KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A MAAS-shaped key (18:18:32 characters) derived from the seed, so runs are reproducible. */
export function apiKeyFromSeed(seed: number): ApiKey {
  const chars = (label: string, n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += KEY_ALPHABET[hash32(seed, "api-key", label, i) % KEY_ALPHABET.length];
    return s;
  };
  return { consumerKey: chars("consumer", 18), tokenKey: chars("token", 18), tokenSecret: chars("secret", 32) };
}

/** The OAuth parameters of an `Authorization: OAuth k="v", ...` header, percent-decoded; null if not OAuth. */
export function parseOAuthHeader(header: string | undefined): Map<string, string> | null {
  if (header === undefined) return null;
  const m = /^\s*OAuth\s+(.*)$/is.exec(header);
  if (!m) return null;
  const out = new Map<string, string>();
  const re = /([A-Za-z0-9_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g;
  for (const part of (m[1] ?? "").matchAll(re)) {
    const key = part[1] ?? "";
    const raw = part[2] ?? part[3] ?? "";
    try {
      out.set(key, decodeURIComponent(raw));
    } catch {
      out.set(key, raw);
    }
  }
  return out;
}

export type AuthResult = { ok: true } | { ok: false; reason: "missing" | "invalid-key" | "bad-signature" | "stale" | "replay" | "unsupported" };

function same(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/**
 * Remembers nonces per timestamp second. Buckets older than the window are dropped on
 * each check, so memory is bounded by the request rate over ten minutes.
 */
export class NonceStore {
  private readonly buckets = new Map<number, Set<string>>();
  private lastPrune = -Infinity;

  /** False when the nonce was already used with this timestamp and token. */
  remember(timestamp: number, token: string, nonce: string, nowS: number): boolean {
    if (nowS - this.lastPrune >= 1) {
      for (const ts of this.buckets.keys()) if (ts < nowS - TIMESTAMP_WINDOW_S) this.buckets.delete(ts);
      this.lastPrune = nowS;
    }
    let bucket = this.buckets.get(timestamp);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(timestamp, bucket);
    }
    const key = `${token}\u0000${nonce}`;
    if (bucket.has(key)) return false;
    bucket.add(key);
    return true;
  }

  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.size;
    return n;
  }
}

export function verifyOAuth(header: string | undefined, key: ApiKey, nonces: NonceStore, nowMs: number): AuthResult {
  const p = parseOAuthHeader(header);
  if (p === null || !p.has("oauth_consumer_key")) return { ok: false, reason: "missing" };
  if (!same(p.get("oauth_consumer_key") ?? "", key.consumerKey) || !same(p.get("oauth_token") ?? "", key.tokenKey)) {
    return { ok: false, reason: "invalid-key" };
  }
  if ((p.get("oauth_signature_method") ?? "").toUpperCase() !== "PLAINTEXT") return { ok: false, reason: "unsupported" };
  if (!same(p.get("oauth_signature") ?? "", `&${key.tokenSecret}`)) return { ok: false, reason: "bad-signature" };
  const ts = Number(p.get("oauth_timestamp"));
  const nowS = Math.floor(nowMs / 1000);
  if (!Number.isInteger(ts) || Math.abs(nowS - ts) > TIMESTAMP_WINDOW_S) return { ok: false, reason: "stale" };
  const nonce = p.get("oauth_nonce") ?? "";
  if (nonce === "" || !nonces.remember(ts, key.tokenKey, nonce, nowS)) return { ok: false, reason: "replay" };
  return { ok: true };
}
