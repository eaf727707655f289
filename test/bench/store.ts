/**
 * `npm run bench`'s store section: what one host transition costs the store on
 * each backend. A transition is what the runtime writes for it (rollout-runner.ts):
 * the host's record with its snapshot (`saveHost`) and a `transition` journal line
 * (`appendJournal`). Measured written through (each durable on return: one commit
 * per write) and through the 200 ms write-behind buffer the CLI and the service use.
 * PostgreSQL runs on a throwaway cluster on loopback (test/setup/postgres.ts), or on
 * the one in METALWAVE_TEST_PG_URL.
 */
import pg from "pg";
import { openStore, type Store } from "../../src/store/index.ts";
import { PG_PASSWORD_ENV, PG_URL_ENV, startCluster } from "../setup/postgres.ts";

export interface StoreCost {
  backend: "sqlite" | "postgres";
  transitions: number;
  /** µs per transition, each write committed on return. */
  throughUs: number;
  /** µs per transition with writeBehindMs: 200 (flushed at the end, included). */
  bufferedUs: number;
}

export interface StoreFigures {
  costs: StoreCost[];
  /** Why a backend was left out (PostgreSQL not installed, for one). */
  skipped: string[];
}

function snapshot(i: number): unknown {
  // About the size of a host machine's persisted snapshot (1.5 KB).
  return { status: "active", value: { deploying: "waitingForMaas" }, context: { i, systemId: `m${i}`, attempt: 1, history: "x".repeat(1400) }, children: {} };
}

function measure(open: (opts: { writeBehindMs: number }) => Store, transitions: number, writeBehindMs: number): number {
  const store = open({ writeBehindMs });
  try {
    const rolloutId = store.createRollout({ bench: true }).id;
    const hosts = 50;
    const t0 = performance.now();
    for (let i = 0; i < transitions; i++) {
      const systemId = `m${i % hosts}`;
      store.saveHost(rolloutId, { systemId, hostname: `host-${systemId}`, wave: i % 3, roles: ["compute"], phase: "deploying", snapshot: snapshot(i) });
      store.appendJournal({ rolloutId, systemId, kind: "transition", data: { from: "commissioning", to: "deploying", attempt: 1 } });
    }
    store.flush();
    return ((performance.now() - t0) * 1000) / transitions;
  } finally {
    store.close();
  }
}

export async function runStoreBench(opts: { transitions: number; dir: string; note: (msg: string) => void }): Promise<StoreFigures> {
  const figures: StoreFigures = { costs: [], skipped: [] };
  const sqlite = `${opts.dir}/bench-store.sqlite`;
  let n = 0;
  const sqliteOpen = (o: { writeBehindMs: number }) => openStore(`${sqlite}.${n++}`, o);
  opts.note(`store: ${opts.transitions} host transitions on SQLite`);
  figures.costs.push({ backend: "sqlite", transitions: opts.transitions, throughUs: measure(sqliteOpen, opts.transitions, 0), bufferedUs: measure(sqliteOpen, opts.transitions, 200) });

  let url = process.env[PG_URL_ENV];
  let password = process.env[PG_PASSWORD_ENV];
  let stop: (() => void) | undefined;
  if (!url || !password) {
    try {
      const cluster = await startCluster();
      ({ url, password } = cluster);
      stop = cluster.stop;
    } catch (e) {
      figures.skipped.push(`postgres: ${e instanceof Error ? e.message : String(e)}`);
      return figures;
    }
  }
  try {
    const env = { METALWAVE_STORE_PASSWORD: password };
    // A fresh schema per measurement: the store's own tables, nothing left from the other.
    const pgOpen = (o: { writeBehindMs: number }) => openStore(`${url}?options=${encodeURIComponent(`-c search_path=bench_${process.pid}_${n++}`)}`, { ...o, env });
    opts.note(`store: ${opts.transitions} host transitions on PostgreSQL`);
    const u = new URL(url);
    const c = new pg.Client({ host: u.hostname, port: Number(u.port), user: u.username, database: u.pathname.slice(1), password });
    await c.connect();
    for (let i = n; i < n + 2; i++) await c.query(`CREATE SCHEMA IF NOT EXISTS bench_${process.pid}_${i}`);
    await c.end();
    figures.costs.push({ backend: "postgres", transitions: opts.transitions, throughUs: measure(pgOpen, opts.transitions, 0), bufferedUs: measure(pgOpen, opts.transitions, 200) });
  } finally {
    stop?.();
  }
  return figures;
}
