/**
 * The store's tables. `meta.schema_version` says which layout a file has; a build
 * opens files of its own version or older (migrating them forward) and refuses
 * newer ones, because an older binary writing into a newer layout could lose data
 * it does not know about. Every statement here is idempotent (IF NOT EXISTS), so
 * opening a store twice, or from two processes at once, is harmless.
 */

/** The table layout this build writes. Bump it and add a migration when the DDL changes. */
export const STORE_SCHEMA_VERSION = 3;

/** Version 1: the first layout. */
const V1 = `
CREATE TABLE IF NOT EXISTS rollout (
  id            TEXT PRIMARY KEY,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'aborted', 'failed')),
  reason        TEXT,
  plan          TEXT NOT NULL,
  -- the rollout machine's own state, as an enveloped JSON document
  state         TEXT
);

CREATE TABLE IF NOT EXISTS host (
  rollout_id    TEXT NOT NULL REFERENCES rollout(id),
  system_id     TEXT NOT NULL,
  hostname      TEXT NOT NULL,
  wave          INTEGER NOT NULL,
  roles         TEXT NOT NULL,
  phase         TEXT NOT NULL,
  outcome       TEXT,
  last_error    TEXT,
  maas_status   INTEGER,
  updated_at    TEXT NOT NULL,
  -- last, so that reading the small columns never touches the snapshot's overflow pages
  snapshot      TEXT,
  PRIMARY KEY (rollout_id, system_id)
);
-- covers hostCounts(): counting 10,000 hosts reads this index only, never a snapshot
CREATE INDEX IF NOT EXISTS host_progress ON host (rollout_id, wave, phase, outcome);

CREATE TABLE IF NOT EXISTS journal (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  rollout_id    TEXT REFERENCES rollout(id),
  system_id     TEXT,
  kind          TEXT NOT NULL CHECK (kind IN ('transition', 'maas_call', 'override', 'rollout', 'remediation', 'note')),
  at            TEXT NOT NULL,
  data          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_rollout ON journal (rollout_id, seq);
CREATE INDEX IF NOT EXISTS journal_by_host ON journal (rollout_id, system_id, seq);

CREATE TABLE IF NOT EXISTS maas_call (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  rollout_id    TEXT NOT NULL REFERENCES rollout(id),
  system_id     TEXT NOT NULL,
  operation     TEXT NOT NULL,
  params        TEXT,
  begun_at      TEXT NOT NULL,
  ended_at      TEXT,
  outcome       TEXT CHECK (outcome IN ('ok', 'error', 'unknown')),
  detail        TEXT
);
CREATE INDEX IF NOT EXISTS maas_call_open ON maas_call (rollout_id, id) WHERE ended_at IS NULL;

CREATE TABLE IF NOT EXISTS lock (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  pid           INTEGER NOT NULL,
  hostname      TEXT NOT NULL,
  command       TEXT NOT NULL,
  acquired_at   TEXT NOT NULL,
  token         TEXT NOT NULL
);
`;

/**
 * Version 2: each rollout records the kind of region it ran against (`real` or
 * `simulated`, the embedded simulator) and its URL, so `status` and the API say
 * "simulated" of a rehearsal. Rollouts of version 1 keep NULL: not recorded.
 * (SQLite has no ADD COLUMN IF NOT EXISTS; the version check in the same
 * transaction runs this once.)
 */
const V2 = `
ALTER TABLE rollout ADD COLUMN region_kind TEXT CHECK (region_kind IN ('real', 'simulated'));
ALTER TABLE rollout ADD COLUMN region_url TEXT;
`;

/**
 * MIGRATIONS[v] brings a store from version v to v + 1; MIGRATIONS[0] creates
 * version 1 from nothing. Each runs inside the opening transaction.
 */
/**
 * Version 3: several MAAS regions. A host's key is `<region>/<system_id>` with several
 * regions (so `(rollout_id, system_id)` stays its primary key and is the pair); the new
 * `region` column is that region, NULL with one region, for reads by region. Older rows
 * hold bare system_ids (one region): the backfill leaves them NULL.
 */
const V3 = `
ALTER TABLE host ADD COLUMN region TEXT;
UPDATE host SET region = substr(system_id, 1, instr(system_id, '/') - 1) WHERE instr(system_id, '/') > 0;
CREATE INDEX IF NOT EXISTS host_by_region ON host (rollout_id, region);
`;

export const MIGRATIONS: readonly string[] = [V1, V2, V3];

export const META_DDL = `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`;
