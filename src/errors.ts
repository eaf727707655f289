/**
 * The root of metalwave's typed errors. Every error we raise carries a closed-set
 * `code` so callers switch on meaning, never on message text, and keeps the
 * underlying `cause`. Messages must never contain secrets (API keys, tokens, SSH keys).
 */
export abstract class MetalwaveError<C extends string = string> extends Error {
  abstract readonly code: C;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad configuration or command-line input: names the path/field at fault. */
export class ConfigError extends MetalwaveError<"CONFIG_INVALID"> {
  readonly code = "CONFIG_INVALID" as const;
  readonly where: string;
  constructor(where: string, message: string, options?: { cause?: unknown }) {
    super(`${where}: ${message}`, options);
    this.where = where;
  }
}

/** Exhaustiveness helper for switches over closed unions. */
export function assertNever(value: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
