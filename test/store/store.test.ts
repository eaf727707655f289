import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { existsSync } from "node:fs";
import { openStore, StoreError, STORE_SCHEMA_VERSION, topLevelState, type Store } from "../../src/store/index.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PG_SCHEMA_VERSION } from "../../src/store/postgres/schema.ts";
import { BACKENDS, location, pgServer, type Location } from "./backends.ts";
import { host, raw, tempDir, thrown, xsnapshot } from "./helpers.ts";
import { HandClock } from "../fakes/clock.ts";
import type { Clock } from "../../src/clock.ts";

// PostgreSQL stores start a worker thread and connect: slower than a SQLite file on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

/** A clock whose every wall reading is one second after the last. */
function fixedClock(start = Date.parse("2025-01-02T03:04:05.000Z")): Clock {
  const clock = new HandClock(start);
  clock.wallNow = () => (clock.t += 1000);
  return clock;
}

describe.each(BACKENDS)("on %s", (backend) => {
  describe("store: rollouts", () => {
    let store: Store;
    let t: Location;
    beforeEach(async () => {
      t = await location(backend);
      store = t.open({ clock: fixedClock() });
    });
    afterEach(async () => {
      store.close();
      await t.cleanup();
    });

    it("round-trips the exact plan and starts a rollout as running", () => {
      const plan = { version: 1, waves: [["abc123", "def456"], ["ghi789"]], roles: { abc123: ["control"] }, policy: { maxInFlight: 50 } };
      const created = store.createRollout(plan);
      expect(created.id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
      expect(store.getRollout(created.id)).toEqual({ ...created, plan });
      expect(created.status).toBe("running");
      expect(created.reason).toBeNull();
    });

    it("returns the most recently created rollout as latest, and lists newest first without plans", () => {
      expect(store.latestRollout()).toBeUndefined();
      store.createRollout({ n: 1 }, { id: "r1" });
      store.createRollout({ n: 2 }, { id: "r2" });
      expect(store.latestRollout()?.id).toBe("r2");
      const list = store.listRollouts();
      expect(list.map((r) => r.id)).toEqual(["r2", "r1"]);
      expect(list[0]).not.toHaveProperty("plan");
    });

    it("records a pause reason, clears it on resume, and journals each status change", () => {
      store.createRollout({}, { id: "r1" });
      store.setRolloutStatus("r1", "paused", "failure budget spent: 6 of 5 hosts failed");
      expect(store.getRollout("r1")).toMatchObject({ status: "paused", reason: "failure budget spent: 6 of 5 hosts failed" });
      store.setRolloutStatus("r1", "running");
      expect(store.getRollout("r1")).toMatchObject({ status: "running", reason: null });
      const changes = store.journal("r1", { kind: "rollout" }).map((e) => e.data);
      expect(changes).toEqual([
        { event: "created", status: "running" },
        { event: "status", from: "running", to: "paused", reason: "failure budget spent: 6 of 5 hosts failed" },
        { event: "status", from: "paused", to: "running" },
      ]);
    });

    it("refuses status changes and state for a rollout that does not exist", () => {
      const e = thrown(() => store.setRolloutStatus("nope", "paused"));
      expect(e).toBeInstanceOf(StoreError);
      expect(e).toMatchObject({ code: "STORE_NOT_FOUND", rolloutId: "nope" });
      expect(thrown(() => store.saveRolloutState("nope", {}))).toMatchObject({ code: "STORE_NOT_FOUND" });
      expect(thrown(() => store.loadRolloutState("nope"))).toMatchObject({ code: "STORE_NOT_FOUND" });
      expect(store.getRollout("nope")).toBeUndefined();
    });

    it("records the kind and URL of the region a rollout runs against, and null when not given", () => {
      const sim = store.createRollout({}, { id: "r1", region: { kind: "simulated", url: "http://127.0.0.1:40001/MAAS" } });
      store.createRollout({}, { id: "r2", region: { kind: "real", url: "http://maas:5240/MAAS" } });
      store.createRollout({}, { id: "r3" });
      expect(sim.region).toEqual({ kind: "simulated", url: "http://127.0.0.1:40001/MAAS" });
      expect(store.getRollout("r1")?.region).toEqual({ kind: "simulated", url: "http://127.0.0.1:40001/MAAS" });
      expect(Object.fromEntries(store.listRollouts().map((r) => [r.id, r.region]))).toEqual({
        r1: { kind: "simulated", url: "http://127.0.0.1:40001/MAAS" },
        r2: { kind: "real", url: "http://maas:5240/MAAS" },
        r3: null,
      });
      expect(store.latestRollout()?.region).toBeNull();
      expect(store.journal("r1", { kind: "rollout" })[0]?.data).toEqual({ event: "created", status: "running", region: "simulated" });
      // A kind outside the closed set is refused before anything is written.
      expect(thrown(() => store.createRollout({}, { id: "r4", region: { kind: "staging" as "real", url: "x" } }))).toMatchObject({ code: "STORE_SCHEMA", rolloutId: "r4" });
      expect(store.getRollout("r4")).toBeUndefined();
    });

    it("migrates a store of schema 1 forward: its rollouts say region null, new ones record theirs", () => {
      store.close();
      // Make the store what schema 1 was: no region columns, version 1, a rollout written then.
      const db = t.raw();
      db.run("ALTER TABLE rollout DROP COLUMN region_kind");
      db.run("ALTER TABLE rollout DROP COLUMN region_url");
      db.run("DROP INDEX host_by_region");
      db.run("ALTER TABLE host DROP COLUMN region");
      db.run("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
      db.run("INSERT INTO rollout (id, created_at, updated_at, status, reason, plan) VALUES ('old', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', 'completed', NULL, '{}')");
      db.close();
      store = t.open({ clock: fixedClock() });
      expect(store.getRollout("old")).toMatchObject({ status: "completed", region: null });
      store.createRollout({}, { id: "new", region: { kind: "simulated", url: "http://127.0.0.1:1/MAAS" } });
      expect(store.getRollout("new")?.region).toEqual({ kind: "simulated", url: "http://127.0.0.1:1/MAAS" });
      const after = t.raw();
      expect(after.get("SELECT value FROM meta WHERE key = 'schema_version'")).toEqual({ value: String(backend === "sqlite" ? STORE_SCHEMA_VERSION : PG_SCHEMA_VERSION) });
      after.close();
    });

    it("migrates a store of schema 2 forward: a host's region is read from its key region/system_id, NULL for a bare system_id", () => {
      store.createRollout({}, { id: "r2" });
      store.close();
      const db = t.raw();
      db.run("DROP INDEX host_by_region");
      db.run("ALTER TABLE host DROP COLUMN region");
      db.run("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
      for (const key of ["east/4y3h7n", "abc123"]) {
        db.run(`INSERT INTO host (rollout_id, system_id, hostname, wave, roles, phase, updated_at) VALUES ('r2', '${key}', 'h-${key.length}', 0, '[]', 'enlisted', '2025-01-01T00:00:00.000Z')`);
      }
      db.close();
      store = t.open({ clock: fixedClock() });
      expect(store.loadHosts("r2").map((h) => [h.systemId, h.region])).toEqual([
        ["abc123", null],
        ["east/4y3h7n", "east"],
      ]);
      // New records write the column from the key.
      store.saveHost("r2", { systemId: "west/8yhxx8", hostname: "w1", wave: 0, roles: [], phase: "enlisted", snapshot: null });
      store.flush();
      expect(store.getHost("r2", "west/8yhxx8")?.region).toBe("west");
    });

    it("round-trips the rollout controller state inside a version envelope", () => {
      store.createRollout({}, { id: "r1" });
      expect(store.loadRolloutState("r1")).toBeUndefined();
      store.saveRolloutState("r1", { value: "wave", context: { wave: 2 } });
      expect(store.loadRolloutState("r1")).toEqual({ value: "wave", context: { wave: 2 } });
    });
  });

  describe("store: hosts", () => {
    let store: Store;
    let t: Location;
    beforeEach(async () => {
      t = await location(backend);
      store = t.open();
      store.createRollout({}, { id: "r1" });
    });
    afterEach(async () => {
      store.close();
      await t.cleanup();
    });

    it("round-trips every field of a host record, snapshot included", () => {
      const rec = host("abc123", {
        wave: 2,
        roles: ["control", "storage"],
        phase: "deploying",
        outcome: null,
        lastError: { code: "MAAS_CONFLICT", message: "wrong state", phase: "deploying" },
        maasStatus: 9,
        snapshot: xsnapshot({ deploying: "waitingForMaas" }, { attempt: 2, systemId: "abc123" }),
      });
      store.saveHost("r1", rec);
      const back = store.getHost("r1", "abc123");
      expect(back).toMatchObject({
        rolloutId: "r1",
        systemId: "abc123",
        hostname: "host-abc123",
        wave: 2,
        roles: ["control", "storage"],
        phase: "deploying",
        outcome: null,
        lastError: { code: "MAAS_CONFLICT", message: "wrong state", phase: "deploying" },
        maasStatus: 9,
        snapshot: rec.snapshot,
      });
      expect(typeof back?.updatedAt).toBe("string");
    });

    it("upserts: a second save replaces the record instead of adding one", () => {
      store.saveHost("r1", host("abc123"));
      store.saveHost("r1", host("abc123", { phase: "deployed", outcome: "inService", snapshot: xsnapshot("inService") }));
      const all = store.loadHosts("r1");
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({ phase: "deployed", outcome: "inService", snapshot: { value: "inService" } });
    });

    it("keeps a host without a snapshot (not started yet) as null", () => {
      store.saveHost("r1", host("abc123", { snapshot: null, phase: "pending" }));
      expect(store.getHost("r1", "abc123")?.snapshot).toBeNull();
      expect(store.getHost("r1", "other")).toBeUndefined();
    });

    it("refuses to save a snapshot that is not an XState persisted snapshot, naming rollout and host", () => {
      const e = thrown(() => store.saveHost("r1", host("abc123", { snapshot: { value: "x", context: {} } })));
      expect(e).toMatchObject({ code: "STORE_SCHEMA", rolloutId: "r1", systemId: "abc123" });
      expect((e as Error).message).toMatch(/abc123.*r1.*status/);
      expect(store.getHost("r1", "abc123")).toBeUndefined();
    });

    it("refuses hosts of an unknown rollout", () => {
      expect(thrown(() => store.saveHost("ghost", host("abc123")))).toMatchObject({ code: "STORE_NOT_FOUND", rolloutId: "ghost" });
    });

    it("counts hosts by phase, outcome and wave", () => {
      store.saveHost("r1", host("a", { wave: 0, phase: "deployed", outcome: "inService" }));
      store.saveHost("r1", host("b", { wave: 0, phase: "failed", outcome: "failed" }));
      store.saveHost("r1", host("c", { wave: 1, phase: "deploying" }));
      store.saveHost("r1", host("d", { wave: 1, phase: "deploying" }));
      expect(store.hostCounts("r1")).toEqual({
        total: 4,
        byPhase: { deployed: 1, failed: 1, deploying: 2 },
        byOutcome: { inService: 1, failed: 1 },
        unsettled: 2,
        waves: [
          { wave: 0, total: 2, byPhase: { deployed: 1, failed: 1 }, byOutcome: { inService: 1, failed: 1 }, unsettled: 0 },
          { wave: 1, total: 2, byPhase: { deploying: 2 }, byOutcome: {}, unsettled: 2 },
        ],
      });
    });

    it("names the top-level state of flat and nested state values", () => {
      expect(topLevelState("deploying")).toBe("deploying");
      expect(topLevelState({ deploying: { waiting: "poll" } })).toBe("deploying");
    });

    it("saves, loads and counts 10,000 hosts each saved twice", () => {
      const n = 10_000;
      for (const round of [0, 1]) {
        store.transaction(() => {
          for (let i = 0; i < n; i++) {
            const settled = round === 1 && i % 10 === 0;
            store.saveHost(
              "r1",
              host(`m${String(i).padStart(5, "0")}`, {
                wave: i % 4,
                phase: settled ? "inService" : round === 0 ? "commissioning" : "deploying",
                outcome: settled ? "inService" : null,
                snapshot: xsnapshot(round === 0 ? { commissioning: "waiting" } : "deploying", { i, round }),
              }),
            );
          }
        });
      }
      const counts = store.hostCounts("r1");
      expect(counts).toMatchObject({ total: n, byPhase: { inService: 1000, deploying: 9000 }, byOutcome: { inService: 1000 }, unsettled: 9000 });
      expect(counts.waves.map((w) => w.total)).toEqual([2500, 2500, 2500, 2500]);
      const all = store.loadHosts("r1");
      expect(all).toHaveLength(n);
      expect(new Set(all.map((h) => h.systemId)).size).toBe(n);
      expect(all.every((h) => (h.snapshot?.context as { round: number }).round === 1)).toBe(true);
      let streamed = 0;
      for (const h of store.iterateHosts("r1")) if (h.rolloutId === "r1") streamed++;
      expect(streamed).toBe(n);
    });
  });

  describe("store: snapshots read back are validated", () => {
    let t: Location;
    beforeEach(async () => {
      t = await location(backend);
      const s = t.open();
      s.createRollout({}, { id: "r1" });
      s.saveHost("r1", host("good"));
      s.saveHost("r1", host("bad"));
      s.close();
    });
    afterEach(() => t.cleanup());

    function damage(sql: string): void {
      const db = t.raw();
      db.run(sql);
      db.close();
    }

    it("raises STORE_CORRUPT naming rollout and host for JSON that does not parse", () => {
      damage("UPDATE host SET snapshot = '{\"schemaVersion\": 1, \"snap' WHERE system_id = 'bad'");
      const s = t.open();
      const e = thrown(() => s.loadHosts("r1"));
      expect(e).toBeInstanceOf(StoreError);
      expect(e).toMatchObject({ code: "STORE_CORRUPT", rolloutId: "r1", systemId: "bad" });
      expect((e as Error).message).toContain("host bad in rollout r1");
      expect(s.getHost("r1", "good")?.systemId).toBe("good");
      s.close();
    });

    it("raises STORE_SCHEMA for a snapshot written by a newer version", () => {
      damage(`UPDATE host SET snapshot = ${t.jsonSet("snapshot", ["schemaVersion"], "7")} WHERE system_id = 'bad'`);
      const s = t.open();
      const e = thrown(() => s.getHost("r1", "bad"));
      expect(e).toMatchObject({ code: "STORE_SCHEMA", rolloutId: "r1", systemId: "bad" });
      expect((e as Error).message).toMatch(/schema version 7, newer than the 1/);
      s.close();
    });

    it("raises STORE_CORRUPT when the envelope or the snapshot's shape is wrong", () => {
      damage(`UPDATE host SET snapshot = ${t.jsonRemove("snapshot", ["snapshot", "context"])} WHERE system_id = 'bad'`);
      const s = t.open();
      const e = thrown(() => s.getHost("r1", "bad"));
      expect(e).toMatchObject({ code: "STORE_CORRUPT", systemId: "bad" });
      expect((e as Error).message).toContain("context");
      s.close();
      damage(`UPDATE host SET snapshot = '{"snapshot": {}}' WHERE system_id = 'good'`);
      const s2 = t.open();
      expect(thrown(() => s2.getHost("r1", "good"))).toMatchObject({ code: "STORE_CORRUPT", systemId: "good" });
      s2.close();
    });

    it("migrates an older snapshot version when given a migration, and refuses it without one", () => {
      const strict = t.open({ hostSnapshot: { current: 2 } });
      expect(thrown(() => strict.getHost("r1", "good"))).toMatchObject({ code: "STORE_SCHEMA", systemId: "good" });
      strict.close();
      const migrating = t.open({
        hostSnapshot: { current: 2, migrate: (from, snap) => ({ ...(snap as object), context: { ...(snap as { context: object }).context, migratedFrom: from } }) },
      });
      expect(migrating.getHost("r1", "good")?.snapshot?.context).toMatchObject({ migratedFrom: 1 });
      migrating.close();
    });

    it("raises STORE_SCHEMA for controller state of a newer version", () => {
      const s = t.open({ rolloutState: { current: 3 } });
      s.saveRolloutState("r1", { wave: 1 });
      s.close();
      const old = t.open();
      expect(thrown(() => old.loadRolloutState("r1"))).toMatchObject({ code: "STORE_SCHEMA", rolloutId: "r1" });
      old.close();
    });
  });

  describe("store: journal", () => {
    let store: Store;
    let t: Location;
    beforeEach(async () => {
      t = await location(backend);
      store = t.open();
      store.createRollout({}, { id: "r1" });
      store.createRollout({}, { id: "r2" });
    });
    afterEach(async () => {
      store.close();
      await t.cleanup();
    });

    it("appends in order with increasing seq and filters by host, kind, cursor and limit", () => {
      const seqs = [
        store.appendJournal({ rolloutId: "r1", systemId: "a", kind: "transition", data: { to: "commissioning" } }),
        store.appendJournal({ rolloutId: "r1", systemId: "b", kind: "transition", data: { to: "commissioning" } }),
        store.appendJournal({ rolloutId: "r2", systemId: "a", kind: "transition", data: { to: "elsewhere" } }),
        store.appendJournal({ rolloutId: "r1", systemId: "a", kind: "override", data: { by: "operator" } }),
        store.appendJournal({ rolloutId: "r1", systemId: "a", kind: "transition", data: { to: "deploying" } }),
      ] as number[];
      expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] ?? 0))).toBe(true);

      const hostA = store.journal("r1", { systemId: "a" });
      expect(hostA.map((e) => e.data)).toEqual([{ to: "commissioning" }, { by: "operator" }, { to: "deploying" }]);
      expect(store.journal("r1", { kind: "override" }).map((e) => e.seq)).toEqual([seqs[3]]);
      expect(store.journal("r1", { kind: "transition", afterSeq: seqs[1] }).map((e) => e.seq)).toEqual([seqs[4]]);
      expect(store.journal("r1", { systemId: "a", limit: 2 }).map((e) => e.seq)).toEqual([seqs[0], seqs[3]]);
      expect(store.journal("r1", { systemId: "a", limit: 2, order: "desc" }).map((e) => e.seq)).toEqual([seqs[3], seqs[4]]);
      expect(store.journal("r2", { kind: "transition" })).toHaveLength(1);
      expect(hostA[0]).toMatchObject({ rolloutId: "r1", systemId: "a", kind: "transition" });
      expect(Date.parse(hostA[0]?.at ?? "")).not.toBeNaN();
    });

    it("refuses an entry of an unknown kind or rollout", () => {
      expect(thrown(() => store.appendJournal({ rolloutId: "r1", kind: "gossip" as never, data: {} }))).toMatchObject({ code: "STORE_SCHEMA" });
      expect(thrown(() => store.appendJournal({ rolloutId: "r9", kind: "note", data: {} }))).toMatchObject({ code: "STORE_NOT_FOUND", rolloutId: "r9" });
    });
  });

  describe("store: MAAS calls with unknown outcome", () => {
    let t: Location;
    beforeEach(async () => {
      t = await location(backend);
    });
    afterEach(() => t.cleanup());

    it("ends a call through the write-behind buffer: until the flush it still reads as open on disk, then it is ended and journaled", () => {
      const s = t.open({ writeBehindMs: 60_000 });
      s.createRollout({}, { id: "r1" });
      const id = s.beginCall({ rolloutId: "r1", systemId: "a", operation: "deploy" });
      s.endCallLater({ callId: id, rolloutId: "r1", systemId: "a", operation: "deploy" }, "ok");
      // Another process (a crash now) would find the call open, which a restart reconciles.
      const db = t.raw();
      expect(db.get("SELECT ended_at FROM maas_call WHERE id = ?", [id])).toEqual({ ended_at: null });
      s.flush();
      expect((db.get("SELECT outcome FROM maas_call WHERE id = ?", [id]) as { outcome: string }).outcome).toBe("ok");
      db.close();
      expect(s.openCalls("r1")).toEqual([]);
      expect(s.journal("r1", { kind: "maas_call" }).map((e) => (e.data as { event: string; outcome?: string }).outcome ?? "begin")).toEqual(["begin", "ok"]);
      // A call already ended keeps its outcome.
      s.endCallLater({ callId: id, rolloutId: "r1", systemId: "a", operation: "deploy" }, "error");
      s.flush();
      const check = t.raw();
      expect((check.get("SELECT outcome FROM maas_call WHERE id = ?", [id]) as { outcome: string }).outcome).toBe("ok");
      check.close();
      s.close();
      const again = t.open();
      expect(again.openCalls("r1")).toEqual([]);
      again.close();
    });

    it("lists a call begun and never ended after the process goes away, until it is ended", () => {
      const s = t.open();
      s.createRollout({}, { id: "r1" });
      const done = s.beginCall({ rolloutId: "r1", systemId: "a", operation: "commission" });
      s.endCall(done, "ok");
      const id = s.beginCall({ rolloutId: "r1", systemId: "b", operation: "deploy", params: { distro_series: "noble" } });
      s.close();

      const again = t.open();
      expect(again.openCalls("r1")).toEqual([
        { id, rolloutId: "r1", systemId: "b", operation: "deploy", params: { distro_series: "noble" }, begunAt: expect.any(String) },
      ]);
      expect(again.endCall(id, "ok", "reconciled: machine is Deploying")).toBe(true);
      expect(again.openCalls("r1")).toEqual([]);
      expect(again.endCall(id, "error")).toBe(false);
      expect(thrown(() => again.endCall(9999, "ok"))).toMatchObject({ code: "STORE_NOT_FOUND" });
      const calls = again.journal("r1", { kind: "maas_call", systemId: "b" }).map((e) => e.data);
      expect(calls).toEqual([
        { event: "begin", callId: id, operation: "deploy", params: { distro_series: "noble" } },
        { event: "end", callId: id, operation: "deploy", outcome: "ok", detail: "reconciled: machine is Deploying" },
      ]);
      again.close();
    });
  });

  describe("store: write-behind buffer", () => {
    let t: Location;
    beforeEach(async () => {
      t = await location(backend);
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    });
    afterEach(() => {
      vi.useRealTimers();
      return t.cleanup();
    });

    function committedHosts(): { system_id: string; snapshot: string }[] {
      const db = t.raw();
      const rows = db.all<{ system_id: string; snapshot: string }>("SELECT system_id, snapshot FROM host ORDER BY system_id");
      db.close();
      return rows;
    }

    it("holds snapshots for at most writeBehindMs, keeping only the newest per host", () => {
      const s = t.open({ writeBehindMs: 250 });
      s.createRollout({}, { id: "r1" });
      s.saveHost("r1", host("a", { snapshot: xsnapshot("one") }));
      s.saveHost("r1", host("a", { snapshot: xsnapshot("two") }));
      expect(s.appendJournal({ rolloutId: "r1", systemId: "a", kind: "transition", data: {} })).toBeUndefined();
      expect(committedHosts()).toEqual([]);
      vi.advanceTimersByTime(249);
      expect(committedHosts()).toEqual([]);
      vi.advanceTimersByTime(1);
      const rows = committedHosts();
      expect(rows).toHaveLength(1);
      expect(JSON.parse(rows[0]?.snapshot ?? "{}")).toMatchObject({ schemaVersion: 1, snapshot: { value: "two" } });
      expect(s.journal("r1", { kind: "transition" })).toHaveLength(1);
      s.close();
    });

    it("writes beginCall through at once, together with everything buffered before it", () => {
      const s = t.open({ writeBehindMs: 60_000 });
      s.createRollout({}, { id: "r1" });
      s.saveHost("r1", host("a", { phase: "deploying" }));
      s.beginCall({ rolloutId: "r1", systemId: "a", operation: "deploy" });
      expect(committedHosts().map((h) => h.system_id)).toEqual(["a"]);
      const db = t.raw();
      expect(db.get("SELECT COUNT(*) AS n FROM maas_call WHERE ended_at IS NULL")).toEqual({ n: 1 });
      db.close();
      s.close();
    });

    it("flushes when the buffer is full, on flush(), on reads and on close", () => {
      const s = t.open({ writeBehindMs: 60_000, writeBehindMaxOps: 3 });
      s.createRollout({}, { id: "r1" });
      s.saveHost("r1", host("a"));
      s.saveHost("r1", host("b"));
      expect(committedHosts()).toHaveLength(0);
      s.saveHost("r1", host("c"));
      expect(committedHosts()).toHaveLength(3);
      s.saveHost("r1", host("d"));
      s.flush();
      expect(committedHosts()).toHaveLength(4);
      s.saveHost("r1", host("e"));
      expect(s.getHost("r1", "e")?.systemId).toBe("e");
      expect(committedHosts()).toHaveLength(5);
      s.saveHost("r1", host("f"));
      s.close();
      expect(committedHosts()).toHaveLength(6);
    });
  });

  describe("store: transactions", () => {
    let t: Location;
    beforeEach(async () => {
      t = await location(backend);
    });
    afterEach(() => t.cleanup());

    it("commits all writes of a transaction or none of them", () => {
      const s = t.open();
      s.createRollout({}, { id: "r1" });
      const boom = new Error("boom");
      expect(() =>
        s.transaction(() => {
          s.saveHost("r1", host("a"));
          s.appendJournal({ rolloutId: "r1", systemId: "a", kind: "transition", data: {} });
          throw boom;
        }),
      ).toThrow(boom);
      expect(s.getHost("r1", "a")).toBeUndefined();
      expect(s.journal("r1", { kind: "transition" })).toEqual([]);
      const seq = s.transaction(() => {
        s.saveHost("r1", host("a"));
        return s.appendJournal({ rolloutId: "r1", systemId: "a", kind: "transition", data: {} });
      });
      expect(typeof seq).toBe("number");
      expect(s.getHost("r1", "a")).toBeDefined();
      s.close();
    });
  });
});

describe("store: opening", () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  it("creates parent directories, uses WAL, and reopens idempotently with data intact", () => {
    const s = openStore(t.path);
    s.createRollout({ a: 1 }, { id: "r1" });
    s.close();
    expect(existsSync(t.path)).toBe(true);
    const again = openStore(t.path);
    expect(again.getRollout("r1")?.plan).toEqual({ a: 1 });
    again.close();
    const db = raw(t.path);
    expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(STORE_SCHEMA_VERSION) });
    db.close();
  });

  it("refuses a store written by a newer metalwave", () => {
    openStore(t.path).close();
    const db = raw(t.path);
    db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    db.close();
    const e = thrown(() => openStore(t.path));
    expect(e).toMatchObject({ code: "STORE_SCHEMA", path: t.path });
    expect((e as Error).message).toMatch(/newer metalwave \(store schema 99/);
  });

  it("reports a file that is not a SQLite database as STORE_CORRUPT", async () => {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    const { dirname } = await import("node:path");
    mkdirSync(dirname(t.path), { recursive: true });
    writeFileSync(t.path, "this is a text file, not a database; ".repeat(20));
    expect(thrown(() => openStore(t.path))).toMatchObject({ code: "STORE_CORRUPT", path: t.path });
  });

  it("raises STORE_IO when used after close", () => {
    const s = openStore(":memory:");
    s.close();
    s.close();
    expect(thrown(() => s.listRollouts())).toMatchObject({ code: "STORE_IO" });
  });
});

describe("store: opening a PostgreSQL store", () => {
  let t: Location;
  beforeEach(async () => {
    t = await location("postgres");
  });
  afterEach(() => t.cleanup());

  it("creates its schema, reopens with data intact, and shows the URL without a password as its path", () => {
    const s = t.open();
    expect(s.backend).toBe("postgres");
    expect(s.path).toBe(t.where);
    s.createRollout({ a: 1 }, { id: "r1" });
    s.close();
    const again = t.open();
    expect(again.getRollout("r1")?.plan).toEqual({ a: 1 });
    again.close();
    const db = t.raw();
    expect(db.get("SELECT value FROM meta WHERE key = 'schema_version'")).toEqual({ value: String(PG_SCHEMA_VERSION) });
    db.close();
  });

  it("refuses a database written by a newer metalwave, and an older one migrates it forward", () => {
    t.open().close();
    const db = t.raw();
    db.run("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    const e = thrown(() => t.open());
    expect(e).toMatchObject({ code: "STORE_SCHEMA", path: t.where });
    expect((e as Error).message).toMatch(new RegExp(`newer metalwave \\(store schema 99; this build knows up to ${PG_SCHEMA_VERSION}\\): upgrade metalwave`));
    // A database of an older layout (here: none yet, version 0) is brought up to this build's.
    db.run("UPDATE meta SET value = '0' WHERE key = 'schema_version'");
    const s = t.open();
    s.createRollout({}, { id: "r1" });
    s.close();
    expect(db.get("SELECT value FROM meta WHERE key = 'schema_version'")).toEqual({ value: String(PG_SCHEMA_VERSION) });
    db.close();
  });

  it("keeps the journal append-only: PostgreSQL itself refuses an UPDATE or DELETE of a journal line", () => {
    const s = t.open();
    s.createRollout({}, { id: "r1" });
    s.close();
    const db = t.raw();
    expect(() => db.run("UPDATE journal SET data = '{}'")).toThrow(/append-only: UPDATE/);
    expect(() => db.run("DELETE FROM journal")).toThrow(/append-only: DELETE/);
    expect(db.get("SELECT COUNT(*) AS n FROM journal")).toEqual({ n: 1 });
    db.close();
  });

  it("takes the password from a file or the environment and never shows it, not even when it is wrong", () => {
    const { password } = pgServer();
    const dir = tempDir();
    try {
      const file = join(dir.dir, "password");
      writeFileSync(file, `${password}\n`);
      const fromFile = openStore(t.where, { env: { METALWAVE_STORE_PASSWORD_FILE: file } });
      fromFile.createRollout({}, { id: "r1" });
      expect(JSON.stringify(fromFile.listRollouts())).not.toContain(password);
      expect(fromFile.path).not.toContain(password);
      fromFile.close();
      const fromEnv = openStore(t.where, { env: { METALWAVE_STORE_PASSWORD: password } });
      expect(fromEnv.getRollout("r1")?.id).toBe("r1");
      fromEnv.close();

      const wrong = "not-the-password-" + password.slice(0, 6);
      const e = thrown(() => openStore(t.where, { env: { METALWAVE_STORE_PASSWORD: wrong } }));
      expect(e).toMatchObject({ code: "STORE_IO", path: t.where });
      const shown = `${(e as Error).message} ${String((e as Error).cause)} ${JSON.stringify(e)}`;
      expect(shown).toContain("password authentication failed");
      expect(shown).not.toContain(wrong);
      expect(shown).not.toContain(password);

      const inUrl = thrown(() => openStore(t.where.replace("metalwave@", `metalwave:${password}@`)));
      expect(inUrl).toMatchObject({ code: "CONFIG_INVALID" });
      expect((inUrl as Error).message).toMatch(/carries a password: remove it from the URL and put it in a file named by METALWAVE_STORE_PASSWORD_FILE/);
      expect((inUrl as Error).message).not.toContain(password);

      const missing = thrown(() => openStore(t.where, { env: { METALWAVE_STORE_PASSWORD_FILE: join(dir.dir, "absent") } }));
      expect(missing).toMatchObject({ code: "CONFIG_INVALID" });
      expect((missing as Error).message).toContain("cannot read the store's password file");
    } finally {
      dir.cleanup();
    }
  });
});
