/**
 * metalwave's embedded durable store: rollouts, host records with their XState
 * snapshots, the journal, write-ahead MAAS call intents and the runner lock, in
 * one SQLite file or a PostgreSQL database. docs/store.md explains the tables and the durability rules.
 */
export { openStore, DEFAULT_STORE_PATH, HOST_SNAPSHOT_VERSION, ROLLOUT_STATE_VERSION, type StoreOptions } from "./store.ts";
export { localStateDir } from "./store.ts";
export { isPostgresUrl, PASSWORD_ENV, PASSWORD_FILE_ENV } from "./postgres/url.ts";
export { DEFAULT_LEASE_MS, type LeaseOptions } from "./lease.ts";
export { StoreError, isStoreError, type StoreErrorCode, type StoreErrorInit } from "./errors.ts";
export { STORE_SCHEMA_VERSION } from "./schema.ts";
export { topLevelState, type DocumentVersion, type Migrate, type PersistedSnapshot } from "./envelope.ts";
export {
  CALL_OUTCOMES,
  JOURNAL_KINDS,
  REGION_KINDS,
  ROLLOUT_STATUSES,
  type BeginCallInput,
  type CallOutcome,
  type HostCounts,
  type HostInput,
  type HostRecord,
  type JournalEntry,
  type JournalInput,
  type JournalKind,
  type JournalQuery,
  type LockHolder,
  type LockOwner,
  type LockState,
  type OpenCall,
  type RegionKind,
  type RolloutRecord,
  type RolloutRegion,
  type RolloutStatus,
  type RolloutSummary,
  type Store,
} from "./types.ts";
