/**
 * The `journal` table: append-only, one line per event, `seq` never reused.
 * Nothing in the store updates or deletes a journal line. `appendJournal` is
 * buffered when the store has a write-behind window.
 */
import type { StoreCore } from "./core.ts";
import { toJson, type Params } from "./core.ts";
import { parseJson } from "./envelope.ts";
import { StoreError, describeWhere } from "./errors.ts";
import type { SqlValue } from "./sql.ts";
import { JOURNAL_KINDS, type JournalEntry, type JournalInput, type JournalKind, type JournalQuery } from "./types.ts";

interface JournalRow {
  seq: number;
  rollout_id: string | null;
  system_id: string | null;
  kind: string;
  at: string;
  data: string;
}

export function isJournalKind(s: string): s is JournalKind {
  return (JOURNAL_KINDS as readonly string[]).includes(s);
}

export function appendJournal(core: StoreCore, entry: JournalInput): number | undefined {
  core.ensureOpen();
  const where = { rolloutId: entry.rolloutId, systemId: entry.systemId };
  if (!isJournalKind(entry.kind)) {
    throw new StoreError("STORE_SCHEMA", `journal entry${describeWhere(where)} has an unknown kind ${JSON.stringify(entry.kind)}`, { path: core.path, ...where });
  }
  core.ensureRollout(entry.rolloutId, "appending to the journal");
  const params: Params = [entry.rolloutId, entry.systemId ?? null, entry.kind, core.at(), toJson(entry.data, "journal data", where)];
  if (core.writesThrough()) {
    return core.write("appending to the journal", where, () => core.insertJournalSeq(params));
  }
  core.bufferJournal(params);
  return undefined;
}

export function journal(core: StoreCore, rolloutId: string | null, query: JournalQuery = {}): JournalEntry[] {
  const where = { rolloutId: rolloutId ?? undefined, systemId: query.systemId };
  if (query.kind !== undefined && !isJournalKind(query.kind)) {
    throw new StoreError("STORE_SCHEMA", `journal query: unknown kind ${JSON.stringify(query.kind)}`, { path: core.path, ...where });
  }
  const clauses = [rolloutId === null ? "rollout_id IS NULL" : "rollout_id = ?", "seq > ?"];
  const params: SqlValue[] = rolloutId === null ? [query.afterSeq ?? 0] : [rolloutId, query.afterSeq ?? 0];
  if (query.systemId !== undefined) {
    clauses.push("system_id = ?");
    params.push(query.systemId);
  }
  if (query.kind !== undefined) {
    clauses.push("kind = ?");
    params.push(query.kind);
  }
  params.push(query.limit ?? core.sql.noLimit);
  const order = query.order === "desc" ? "DESC" : "ASC";
  // A handful of distinct shapes, so the statement caches stay small.
  const sql = `SELECT seq, rollout_id, system_id, kind, at, data FROM journal WHERE ${clauses.join(" AND ")} ORDER BY seq ${order} LIMIT ?`;
  const rows = core.read("reading the journal", where, () => core.sql.all<JournalRow>(sql, params));
  const entries = rows.map((r) => toJournalEntry(core, r));
  return order === "DESC" ? entries.reverse() : entries;
}

function toJournalEntry(core: StoreCore, r: JournalRow): JournalEntry {
  const where = { rolloutId: r.rollout_id ?? "(store)", systemId: r.system_id ?? undefined };
  if (!isJournalKind(r.kind)) {
    throw new StoreError("STORE_CORRUPT", `journal entry ${r.seq} has an unknown kind ${JSON.stringify(r.kind)}`, { path: core.path, ...where });
  }
  return { seq: Number(r.seq), rolloutId: r.rollout_id, systemId: r.system_id, kind: r.kind, at: r.at, data: parseJson(r.data, `journal entry ${r.seq}`, where) };
}

