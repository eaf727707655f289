/**
 * MAAS API keys and the OAuth 1.0a PLAINTEXT header built from them.
 *
 * The `oauth-1.0a` package produces the oauth_* values (nonce, timestamp, the
 * PLAINTEXT signature `<consumer secret>&<token secret>` with MAAS's empty consumer
 * secret); we format the header ourselves because the package drops an empty realm
 * and sorts parameters alphabetically, while MAAS's own clients send
 * `realm=""` first and the parameters in the order below.
 */
import { randomUUID } from "node:crypto";
import { systemClock, type Clock } from "../clock.ts";
import OAuth from "oauth-1.0a";
import { MaasError } from "./errors.ts";

export interface ApiCredentials {
  readonly consumerKey: string;
  readonly tokenKey: string;
  readonly tokenSecret: string;
}

const PART = /^[A-Za-z0-9._~-]+$/;

/**
 * Splits `consumer_key:token_key:token_secret`. The error says what is wrong with the
 * shape and never echoes any part of the key.
 */
export function parseApiKey(apiKey: string): ApiCredentials {
  const fail = (why: string): never => {
    throw new MaasError("MAAS_INVALID_KEY", `MAAS API key is malformed: ${why}; expected consumer_key:token_key:token_secret (as printed by \`maas apikey\`)`, {
      operation: "configure",
    });
  };
  if (typeof apiKey !== "string") return fail("not a string");
  const parts = apiKey.trim().split(":");
  if (parts.length !== 3) return fail(`it has ${parts.length} part(s) separated by ':', not 3`);
  const names = ["consumer_key", "token_key", "token_secret"] as const;
  parts.forEach((p, i) => {
    if (p === "") fail(`${names[i]} is empty`);
    else if (!PART.test(p)) fail(`${names[i]} contains characters MAAS never puts in keys (whitespace, quotes, ...)`);
  });
  const [consumerKey, tokenKey, tokenSecret] = parts as [string, string, string];
  return { consumerKey, tokenKey, tokenSecret };
}

export interface OAuthSignerOptions {
  /** Seconds since the epoch; defaults to the wall clock (MAAS checks it against its own). */
  timestampS?: () => number;
  /** Where the default timestamp comes from (src/clock.ts). Default: the system clock. */
  clock?: Clock;
  nonce?: () => string;
}

/**
 * Builds a fresh Authorization header per request: new nonce, new timestamp. PLAINTEXT
 * signs no part of the request, so the consumer key, token and signature are the same
 * for every request: they are taken from the package once, and each header only adds
 * its timestamp and nonce (a request costs no percent-encoding and no library call).
 */
export class OAuthSigner {
  private readonly timestampS: () => number;
  private readonly nonce: () => string;
  private readonly quote: (s: string) => string;
  /** `OAuth realm="", oauth_consumer_key=…, oauth_token=…, oauth_signature_method=…, oauth_signature=…, ` */
  private readonly fixed: string;

  constructor(credentials: ApiCredentials, options: OAuthSignerOptions = {}) {
    const oauth = new OAuth({
      consumer: { key: credentials.consumerKey, secret: "" },
      signature_method: "PLAINTEXT",
      version: "1.0",
    });
    this.timestampS = options.timestampS ?? ((clock) => () => Math.floor(clock.wallNow() / 1000))(options.clock ?? systemClock);
    // MAAS remembers nonces: a collision would be refused, so use a CSPRNG. randomUUID draws
    // from Node's buffered CSPRNG (122 random bits), without a randomBytes call per request.
    this.nonce = options.nonce ?? (() => randomUUID().replaceAll("-", ""));
    // PLAINTEXT ignores the request, so the URL and body are not part of the signature.
    const d = oauth.authorize({ method: "GET", url: "http://maas.invalid/" }, { key: credentials.tokenKey, secret: credentials.tokenSecret });
    const q = (s: string) => oauth.percentEncode(s);
    this.quote = q;
    this.fixed =
      `OAuth realm="", oauth_consumer_key="${q(d.oauth_consumer_key)}", oauth_token="${q(d.oauth_token ?? "")}", ` +
      `oauth_signature_method="PLAINTEXT", oauth_signature="${q(d.oauth_signature)}", `;
  }

  header(_method: string, _url: string): string {
    return `${this.fixed}oauth_timestamp="${String(this.timestampS())}", oauth_nonce="${this.quote(this.nonce())}", oauth_version="1.0"`;
  }
}
