/**
 * The PostgreSQL layout: the same tables as SQLite (../schema.ts) with
 * PostgreSQL's types, plus what several processes on one database need: a
 * sequence of fencing tokens, a lease on the lock row, a function every write
 * of a lease holder runs first (metalwave_fence), and a trigger that keeps the
 * journal append-only.
 *
 * `meta.schema_version` says which layout a database has. A newer metalwave
 * migrates an older database forward (MIGRATIONS[v] goes from v to v + 1, in one
 * transaction, serialised by an advisory lock so two processes starting at once
 * do not both run it); an older metalwave refuses a newer database.
 */

/** The layout this build writes. Bump it and add a migration when the DDL changes. */
export const PG_SCHEMA_VERSION = 3;

/** Serialises migrations and lock acquisitions across processes (pg_advisory_xact_lock keys). */
export const MIGRATION_LOCK_KEY = 0x6d77_0001;
export const LOCK_KEY = 0x6d77_0002;

const V1 = `
CREATE TABLE IF NOT EXISTS rollout (
  seq           BIGSERIAL UNIQUE,
  id            TEXT PRIMARY KEY,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'aborted', 'failed')),
  reason        TEXT,
  plan          TEXT NOT NULL,
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
  snapshot      TEXT,
  PRIMARY KEY (rollout_id, system_id)
);
CREATE INDEX IF NOT EXISTS host_progress ON host (rollout_id, wave, phase, outcome);
CREATE INDEX IF NOT EXISTS host_order ON host (rollout_id, wave, system_id);

CREATE TABLE IF NOT EXISTS journal (
  seq           BIGSERIAL PRIMARY KEY,
  rollout_id    TEXT REFERENCES rollout(id),
  system_id     TEXT,
  kind          TEXT NOT NULL CHECK (kind IN ('transition', 'maas_call', 'override', 'rollout', 'remediation', 'note')),
  at            TEXT NOT NULL,
  data          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_rollout ON journal (rollout_id, seq);
CREATE INDEX IF NOT EXISTS journal_by_host ON journal (rollout_id, system_id, seq);

CREATE OR REPLACE FUNCTION metalwave_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the metalwave journal is append-only: % of journal rows is refused', TG_OP USING ERRCODE = 'MWJ01';
END $$;
DROP TRIGGER IF EXISTS journal_append_only ON journal;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal FOR EACH ROW EXECUTE FUNCTION metalwave_journal_append_only();

CREATE TABLE IF NOT EXISTS maas_call (
  id            BIGSERIAL PRIMARY KEY,
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

-- Fencing tokens only ever grow, across every holder, even when the lock row is deleted.
CREATE SEQUENCE IF NOT EXISTS lock_token;
CREATE TABLE IF NOT EXISTS lock (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  pid           INTEGER NOT NULL,
  hostname      TEXT NOT NULL,
  command       TEXT NOT NULL,
  acquired_at   TEXT NOT NULL,
  token         BIGINT NOT NULL,
  -- the database's own clock decides expiry: holders' clocks may disagree
  expires_at    TIMESTAMPTZ NOT NULL,
  renewed_at    TIMESTAMPTZ NOT NULL
);

-- Run first in every write transaction of a lease holder. FOR SHARE makes a
-- successor's takeover wait for a write already under way, and a write wait for
-- a takeover already under way (then it finds the new token and fails).
CREATE OR REPLACE FUNCTION metalwave_fence(t BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM lock WHERE id = 1 AND token = t AND expires_at > now() FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'fenced: token % no longer holds the metalwave lease', t USING ERRCODE = 'MWF01';
  END IF;
END $$;
`;

/** Version 2: each rollout records the kind (`real`, `simulated`) and URL of the region it ran against; NULL on older rows. */
const V2 = `
ALTER TABLE rollout ADD COLUMN IF NOT EXISTS region_kind TEXT CHECK (region_kind IN ('real', 'simulated'));
ALTER TABLE rollout ADD COLUMN IF NOT EXISTS region_url TEXT;
`;

/** MIGRATIONS[v] brings a database from version v to v + 1; MIGRATIONS[0] creates version 1 from nothing. */
/** Version 3: the host's region (several MAAS regions; NULL with one), from its key `<region>/<system_id>`. */
const V3 = `
ALTER TABLE host ADD COLUMN IF NOT EXISTS region TEXT;
UPDATE host SET region = split_part(system_id, '/', 1) WHERE position('/' in system_id) > 0 AND region IS NULL;
CREATE INDEX IF NOT EXISTS host_by_region ON host (rollout_id, region);
`;

export const PG_MIGRATIONS: readonly string[] = [V1, V2, V3];

export const PG_META_DDL = `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`;
