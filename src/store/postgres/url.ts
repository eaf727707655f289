/**
 * Store URLs: `postgres://user@host:5432/db` (or `postgresql://`). The password
 * never travels in the URL (configs get pasted into tickets and shown in
 * `ps`); it comes from a file or the environment, in this order:
 *
 * 1. `METALWAVE_STORE_PASSWORD_FILE`: a file holding it (e.g. a systemd credential),
 * 2. `METALWAVE_STORE_PASSWORD`,
 * 3. what libpq users expect and `pg` reads itself: `PGPASSWORD`, then `PGPASSFILE` or `~/.pgpass`.
 *
 * What metalwave shows (the store's `path`, messages, logs) is the URL as given,
 * which has no password in it.
 */
import { readFileSync } from "node:fs";
import type { ClientConfig } from "pg";
import { ConfigError } from "../../errors.ts";

export const PASSWORD_FILE_ENV = "METALWAVE_STORE_PASSWORD_FILE";
export const PASSWORD_ENV = "METALWAVE_STORE_PASSWORD";

export function isPostgresUrl(store: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(store);
}

export interface PostgresTarget {
  /** The URL to show: never a password. */
  display: string;
  config: ClientConfig;
}

const ALLOWED_PARAMS = new Set(["sslmode", "application_name", "connect_timeout", "options"]);

export function postgresTarget(store: string, env: NodeJS.ProcessEnv = process.env): PostgresTarget {
  let url: URL;
  try {
    url = new URL(store);
  } catch (e) {
    throw new ConfigError("store", `not a valid PostgreSQL URL (expected postgres://user@host:5432/database)`, { cause: e });
  }
  if (url.password !== "") {
    throw new ConfigError(
      "store",
      `the PostgreSQL URL carries a password: remove it from the URL and put it in a file named by ${PASSWORD_FILE_ENV}, or in ${PASSWORD_ENV}`,
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database === "" || database.includes("/")) throw new ConfigError("store", `the PostgreSQL URL names no database (expected postgres://user@host:5432/database)`);
  if (url.hostname === "") throw new ConfigError("store", `the PostgreSQL URL names no host`);
  for (const key of url.searchParams.keys()) {
    if (!ALLOWED_PARAMS.has(key)) throw new ConfigError("store", `unknown PostgreSQL URL parameter ${JSON.stringify(key)} (known: ${[...ALLOWED_PARAMS].join(", ")})`);
  }
  const port = url.port === "" ? 5432 : Number(url.port);
  const config: ClientConfig = {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port,
    database,
    ...(url.username !== "" ? { user: decodeURIComponent(url.username) } : {}),
    application_name: url.searchParams.get("application_name") ?? "metalwave",
    connectionTimeoutMillis: Number(url.searchParams.get("connect_timeout") ?? "10") * 1000,
  };
  // libpq's `options`: server settings for the session, e.g. `-c search_path=metalwave`.
  const options = url.searchParams.get("options");
  if (options !== null) config.options = options;
  const sslmode = url.searchParams.get("sslmode");
  if (sslmode === "require" || sslmode === "verify-full") config.ssl = { rejectUnauthorized: sslmode === "verify-full" };
  const password = passwordFrom(env);
  if (password !== undefined) config.password = password;
  return { display: store, config };
}

function passwordFrom(env: NodeJS.ProcessEnv): string | undefined {
  const file = env[PASSWORD_FILE_ENV];
  if (file !== undefined && file !== "") {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new ConfigError(PASSWORD_FILE_ENV, `cannot read the store's password file ${file}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`, { cause: e });
    }
    // One line, as systemd credentials and secret mounts write it; a trailing newline is not part of the password.
    return text.replace(/\r?\n$/, "");
  }
  const value = env[PASSWORD_ENV];
  return value !== undefined && value !== "" ? value : undefined;
}
