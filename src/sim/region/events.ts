/**
 * The region's event log and `GET events/?op=query` (maas-api.md "Events"): filters,
 * levels "this or higher", `after`/`before` cursors and the next/prev URIs' parameters.
 */
import { textFailure } from "../errors.ts";
import type { Params } from "../params.ts";
import type { Clock } from "../scheduler.ts";
import { EVENT_LEVELS } from "./records.ts";
import type { EventLevel, EventRecord, MachineRecord } from "./records.ts";

export interface EventsQueryResult {
  events: EventRecord[];
  next: Record<string, string | string[]>;
  prev: Record<string, string | string[]> | null;
}

export class EventLog {
  readonly events: EventRecord[] = [];
  private nextEventId = 1;
  private readonly clock: Clock;
  private readonly maxEvents: number;

  constructor(clock: Clock, maxEvents: number) {
    this.clock = clock;
    this.maxEvents = maxEvents;
  }

  add(m: MachineRecord, type: string, description: string, level: EventLevel, username: string): void {
    this.events.push({ id: this.nextEventId++, machine: m, hostname: m.hostname, type, description, level, createdMs: this.clock.wallNow(), username });
    // Drop the oldest tenth at once, so the amortised cost stays O(1).
    if (this.events.length > this.maxEvents) this.events.splice(0, Math.ceil(this.maxEvents / 10));
  }

  query(params: Params, macsOf: (m: MachineRecord) => string[]): EventsQueryResult {
    const intParam = (key: string): number | undefined => {
      const v = params.get(key);
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n)) throw textFailure(400, `Invalid ${key}: Please enter an integer value.`);
      return n;
    };
    const after = intParam("after");
    const before = intParam("before");
    let limit = intParam("limit") ?? 100;
    const levelName = params.get("level") ?? "INFO";
    if (limit > 1000) throw textFailure(400, `Requested number of events ${limit} is greater than limit: 1000`);
    if (limit < 1) limit = 1;
    if (!(levelName in EVENT_LEVELS)) throw textFailure(400, `Unrecognised log level: ${levelName}`);
    if (after !== undefined && before !== undefined) {
      throw textFailure(400, "There is undetermined behaviour when both `after` and `before` are specified.");
    }
    const level = EVENT_LEVELS[levelName as EventLevel];
    const sets = (k: string) => {
      const v = params.all(k);
      return v.length > 0 ? new Set(v) : null;
    };
    const ids = sets("id");
    const hostnames = sets("hostname");
    const zones = sets("zone");
    const agents = sets("agent_name");
    const macs = sets("mac_address");
    const owner = params.get("owner");
    const keep = (e: EventRecord): boolean => {
      const m = e.machine;
      if (level === 0 ? EVENT_LEVELS[e.level] !== 0 : EVENT_LEVELS[e.level] < level) return false;
      if (ids && !ids.has(m.systemId)) return false;
      if (hostnames && !hostnames.has(m.hostname)) return false;
      if (zones && !zones.has(m.zone)) return false;
      if (agents && !agents.has(m.agentName)) return false;
      if (macs && !macsOf(m).some((x) => macs.has(x))) return false;
      if (owner !== undefined && e.username !== owner) return false;
      return !m.deleted;
    };
    const out: EventRecord[] = [];
    const ev = this.events;
    if (after !== undefined) {
      // Oldest first after the cursor, then reversed: MAAS's own order for `after`.
      let i = this.firstIndexAbove(after);
      for (; i < ev.length && out.length < limit; i++) {
        const e = ev[i] as EventRecord;
        if (keep(e)) out.push(e);
      }
      out.reverse();
    } else {
      let i = before === undefined ? ev.length - 1 : this.firstIndexAbove(before - 1) - 1;
      for (; i >= 0 && out.length < limit; i--) {
        const e = ev[i] as EventRecord;
        if (keep(e)) out.push(e);
      }
    }
    const base: Record<string, string | string[]> = {};
    for (const k of ["agent_name", "domain", "hostname", "id", "level", "limit", "mac_address", "op", "zone", "owner", "after", "before"]) {
      const v = params.all(k);
      if (v.length > 0) base[k] = v.length === 1 ? (v[0] as string) : v;
    }
    const next = { ...base };
    delete next.before;
    const newest = out[0];
    const oldest = out[out.length - 1];
    if (newest !== undefined) next.after = String(newest.id);
    else if (before !== undefined) next.after = String(before - 1);
    let prev: Record<string, string | string[]> | null = { ...base };
    delete prev.after;
    if (oldest !== undefined) prev.before = String(oldest.id);
    else if (after !== undefined) prev.before = String(after + 1);
    else prev = null;
    return { events: out, next, prev };
  }

  /** Index of the first stored event with id > `id` (ids are increasing: binary search). */
  private firstIndexAbove(id: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.events[mid] as EventRecord).id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
