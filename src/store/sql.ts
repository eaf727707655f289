/**
 * The SQL connection the store's tables are written against. Two drivers
 * implement it: node:sqlite (sqlite.ts) and PostgreSQL through a worker thread
 * (postgres/connection.ts). Both are synchronous, so the store, the runtime and
 * the service see one port whichever backend holds the data.
 *
 * Statements use `?` placeholders; the PostgreSQL driver numbers them ($1, $2...).
 * Nothing in the store's SQL has a literal `?`.
 */
import type { StoreError, StoreErrorInit } from "./errors.ts";

export type SqlValue = string | number | null;

export type Backend = "sqlite" | "postgres";

export interface SqlConnection {
  readonly backend: Backend;
  /** A statement whose result is not needed. Inside a transaction the driver may send it with the next statement that needs an answer. */
  run(sql: string, params?: readonly SqlValue[]): void;
  /** A statement whose changed-row count is needed. */
  change(sql: string, params?: readonly SqlValue[]): number;
  get<T>(sql: string, params?: readonly SqlValue[]): T | undefined;
  all<T>(sql: string, params?: readonly SqlValue[]): T[];
  /** Opens a write transaction (SQLite: BEGIN IMMEDIATE, so writers queue at the start rather than fail at commit). */
  begin(): void;
  commit(): void;
  rollback(): void;
  readonly inTransaction: boolean;
  /** The column that orders rollouts by creation (SQLite's rowid; a sequence on PostgreSQL). */
  readonly rolloutOrder: string;
  /** The LIMIT value meaning "no limit". */
  readonly noLimit: SqlValue;
  /** A driver failure as a StoreError; undefined when `e` did not come from the driver (a caller's own error passes through). */
  storeError(e: unknown, doing: string, init: StoreErrorInit): StoreError | undefined;
  isForeignKeyViolation(e: unknown): boolean;
  close(): void;
}
