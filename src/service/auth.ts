/**
 * The API's one bearer token: where it comes from and how a request's header is
 * checked. The comparison hashes both sides to a fixed length first, so it takes the
 * same time whatever the header holds and however long it is. The token is held
 * here only; it is never logged, echoed or put into an error.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";

/** Shorter tokens are refused: a guessable token is no protection for an API that deploys machines. */
export const MIN_TOKEN_LENGTH = 16;

export const TOKEN_ENV = "METALWAVE_API_TOKEN";

/** The token from `--token-file` (first), else the environment. ConfigError when there is none or it is too short. */
export function loadToken(opts: { file?: string | undefined; env: NodeJS.ProcessEnv }): string {
  let token: string | undefined;
  let where: string;
  if (opts.file) {
    where = "--token-file";
    try {
      token = readFileSync(opts.file, "utf8").trim();
    } catch (e) {
      throw new ConfigError(where, `cannot read the token file ${opts.file} (${(e as NodeJS.ErrnoException).code ?? "error"})`, { cause: e });
    }
  } else {
    where = TOKEN_ENV;
    token = opts.env[TOKEN_ENV]?.trim();
  }
  if (!token) throw new ConfigError(where, `no API token: give --token-file FILE or set ${TOKEN_ENV}; the service does not run without one`);
  if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(where, `the API token is shorter than ${MIN_TOKEN_LENGTH} characters`);
  if (/\s/.test(token)) throw new ConfigError(where, "the API token must not contain whitespace");
  return token;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

export class TokenCheck {
  private readonly expected: Buffer;
  constructor(token: string) {
    this.expected = digest(token);
  }

  /** True when the Authorization header is `Bearer <the token>`. */
  allows(header: string | undefined): boolean {
    const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
    // Always compare, even without a header, so a missing one costs the same as a wrong one.
    const given = digest(m?.[1] ?? "");
    return timingSafeEqual(given, this.expected) && m !== null;
  }
}
