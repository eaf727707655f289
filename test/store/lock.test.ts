import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hostname } from "node:os";
import { openStore, StoreError } from "../../src/store/index.ts";
import { raw, tempDir, thrown } from "./helpers.ts";
import { exited, LineReader, startFixture } from "./processes.ts";

const me = { pid: process.pid, hostname: hostname(), command: "vitest" };

/** A pid that no process can have (above Linux's largest pid_max). */
const NOT_RUNNING = 2_147_483_000;

describe("store lock", () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  it("refuses while another live process holds it, naming pid, command and since when; succeeds once it releases", async () => {
    openStore(t.path).close();
    const child = startFixture("hold-lock.ts", [t.path]);
    const out = new LineReader(child);
    try {
      await out.waitFor((l) => l.some((x) => x.startsWith("locked")));
      const store = openStore(t.path);
      const e = thrown(() => store.acquireLock(me));
      expect(e).toBeInstanceOf(StoreError);
      expect(e).toMatchObject({ code: "STORE_LOCKED" });
      const holder = store.lockHolder();
      expect(holder).toMatchObject({ pid: child.pid, command: "hold-lock fixture" });
      expect((e as Error).message).toContain(`locked by pid ${child.pid}`);
      expect((e as Error).message).toContain('"hold-lock fixture"');
      expect((e as Error).message).toContain(`since ${holder?.acquiredAt}`);

      child.stdin.end();
      await exited(child);
      expect(child.exitCode).toBe(0);
      expect(store.lockHolder()).toBeUndefined();
      store.acquireLock(me);
      expect(store.lockHolder()).toMatchObject({ pid: process.pid, command: "vitest" });
      // A clean release is not a takeover.
      expect(store.journal(null)).toEqual([]);
      store.close();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("takes over the lock of a holder killed with -9, and journals the takeover", async () => {
    openStore(t.path).close();
    const child = startFixture("hold-lock.ts", [t.path]);
    const out = new LineReader(child);
    await out.waitFor((l) => l.some((x) => x.startsWith("locked")));
    child.kill("SIGKILL");
    await exited(child);

    const store = openStore(t.path);
    store.acquireLock(me);
    expect(store.lockHolder()).toMatchObject({ pid: process.pid });
    const notes = store.journal(null, { kind: "note" });
    expect(notes).toHaveLength(1);
    expect(notes[0]?.data).toMatchObject({ event: "lock_taken_over", previous: { pid: child.pid, command: "hold-lock fixture" }, by: me });
    store.close();
  });

  it("takes over a lock whose pid is not running on this host", () => {
    const store = openStore(t.path);
    const db = raw(t.path);
    db.prepare("INSERT INTO lock (id, pid, hostname, command, acquired_at, token) VALUES (1, ?, ?, 'metalwave start', '2025-01-01T00:00:00.000Z', 'old')").run(
      NOT_RUNNING,
      me.hostname,
    );
    db.close();
    store.acquireLock(me);
    expect(store.lockHolder()?.pid).toBe(process.pid);
    expect(store.journal(null)[0]?.data).toMatchObject({ event: "lock_taken_over", previous: { pid: NOT_RUNNING } });
    store.close();
  });

  it("treats a lock naming this process's pid but held by no store here as left by an earlier process with the same pid", () => {
    const store = openStore(t.path);
    const db = raw(t.path);
    db.prepare("INSERT INTO lock (id, pid, hostname, command, acquired_at, token) VALUES (1, ?, ?, 'metalwave start', '2025-01-01T00:00:00.000Z', 'earlier')").run(
      process.pid,
      me.hostname,
    );
    db.close();
    store.acquireLock(me);
    expect(store.journal(null)).toHaveLength(1);
    store.close();
  });

  it("refuses a second store in the same process, and a holder on another host whose liveness cannot be checked", () => {
    const a = openStore(t.path);
    const b = openStore(t.path);
    a.acquireLock(me);
    a.acquireLock(me); // re-entrant for the holder
    expect(thrown(() => b.acquireLock(me))).toMatchObject({ code: "STORE_LOCKED" });
    a.close(); // closing releases
    b.acquireLock({ ...me, hostname: "elsewhere" });
    const e = thrown(() => a.acquireLock(me));
    expect(e).toMatchObject({ code: "STORE_IO" }); // a is closed
    const c = openStore(t.path);
    const remote = thrown(() => c.acquireLock(me));
    expect(remote).toMatchObject({ code: "STORE_LOCKED" });
    expect((remote as Error).message).toContain("on host elsewhere");
    expect(c.breakLock(me)).toMatchObject({ hostname: "elsewhere", pid: process.pid });
    expect(c.journal(null)[0]?.data).toMatchObject({ event: "lock_broken", previous: { hostname: "elsewhere" }, by: me });
    c.acquireLock(me);
    b.close(); // b no longer holds it: closing must not remove c's lock
    expect(c.lockHolder()?.hostname).toBe(me.hostname);
    c.close();
  });

  it("withLock releases the lock when the work fails", async () => {
    const s = openStore(t.path);
    await expect(
      s.withLock(me, async () => {
        expect(s.lockHolder()?.pid).toBe(process.pid);
        throw new Error("work failed");
      }),
    ).rejects.toThrow("work failed");
    expect(s.lockHolder()).toBeUndefined();
    s.close();
  });
});
