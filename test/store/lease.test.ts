import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import type { Store } from "../../src/store/index.ts";
import { location, type Location } from "./backends.ts";
import { host, thrown } from "./helpers.ts";
import { exited, LineReader, startFixture } from "./processes.ts";

vi.setConfig({ testTimeout: 60_000 });

const me = { pid: process.pid, hostname: hostname(), command: "vitest" };

describe("the lease on a PostgreSQL store", () => {
  let t: Location;
  const open: Store[] = [];
  beforeEach(async () => {
    t = await location("postgres");
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    await t.cleanup();
  });
  function store(lease = { ttlMs: 1500, renewMs: 250 }): Store {
    const s = t.open({ lease });
    open.push(s);
    return s;
  }

  it("is held by one store at a time, renewed in the background, and refused to another while it is live", async () => {
    const a = store();
    const b = store();
    a.acquireLock(me);
    const first = a.lockState();
    expect(first).toMatchObject({ held: true, kind: "lease", renewals: 0 });
    const e = thrown(() => b.acquireLock({ ...me, hostname: "standby-host" }));
    expect(e).toMatchObject({ code: "STORE_LOCKED" });
    expect((e as Error).message).toMatch(/locked by pid \d+ on host \S+ running "vitest" since .* \(its lease runs to .* unless renewed\)/);
    // Renewed several times over more than one lease length: still ours.
    await vi.waitUntil(() => { const s = a.lockState(); return s.held && s.kind === "lease" && s.renewals >= 8; }, { timeout: 20_000, interval: 100 });
    expect(thrown(() => b.acquireLock({ ...me, hostname: "standby-host" }))).toMatchObject({ code: "STORE_LOCKED" });
    a.createRollout({}, { id: "r1" });
    a.releaseLock();
    b.acquireLock({ ...me, hostname: "standby-host" });
    const second = b.lockState();
    // Tokens only grow, across holders.
    expect(second.held && second.kind === "lease" && first.held && first.kind === "lease" && second.token > first.token).toBe(true);
  });

  it("makes a CLI command that needs the lock refuse to race the holder, as a locked SQLite file does", async () => {
    const a = store({ ttlMs: 60_000, renewMs: 20_000 });
    a.acquireLock({ ...me, command: "serve" });
    a.createRollout({}, { id: "r1" });
    const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
    const child = spawn(process.execPath, [main, "rollout", "--abort", "--store", t.where], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code, err).toBe(5);
    expect(err).toMatch(/is locked by pid \d+ running "serve"/);
    expect(a.getRollout("r1")?.status).toBe("running");
  });

  it("fences a holder whose lease was taken over: PostgreSQL refuses its writes even while its own clock still trusts the lease", () => {
    const a = store({ ttlMs: 60_000, renewMs: 20_000 });
    const b = store({ ttlMs: 60_000, renewMs: 20_000 });
    a.acquireLock(me);
    a.createRollout({}, { id: "r1" });
    // An operator breaks the lock and another process takes it, while a still believes it holds it.
    b.breakLock({ ...me, command: "operator" });
    b.acquireLock({ ...me, hostname: "other-host" });
    expect(a.lockState()).toMatchObject({ held: true });
    const e = thrown(() => a.saveHost("r1", host("m1")));
    expect(e).toMatchObject({ code: "STORE_FENCED" });
    expect((e as Error).message).toMatch(/another metalwave holds the store's lease now/);
    expect(thrown(() => a.beginCall({ rolloutId: "r1", systemId: "m1", operation: "deploy" }))).toMatchObject({ code: "STORE_FENCED" });
    expect(b.getHost("r1", "m1")).toBeUndefined();
    expect(b.openCalls("r1")).toEqual([]);
    b.saveHost("r1", host("m1"));
    expect(b.getHost("r1", "m1")).toBeDefined();
  });

  it("is taken over within the lease from a holder paused inside a write transaction, whose session holds the lock row", async () => {
    const child = startFixture("lease-holder.ts", [t.where, "1500"]);
    const out = new LineReader(child);
    try {
      await out.waitFor((l) => l.some((x) => x.startsWith("holding")));
      child.stdin.write("hold\n");
      await out.waitFor((l) => l.includes("in transaction"));
      child.kill("SIGSTOP");
      const pausedAt = Date.now();
      // A standby's store, on a call timeout shorter than the test's: without a bound on the wait for the row, its acquisition would block until it.
      const b = t.open({ lease: { ttlMs: 1500, renewMs: 250 }, callTimeoutMs: 15_000 });
      open.push(b);
      let longestTry = 0;
      await vi.waitUntil(
        () => {
          const began = Date.now();
          try {
            b.acquireLock({ ...me, hostname: "standby-host" });
            return true;
          } catch (e) {
            expect(e).toMatchObject({ code: "STORE_LOCKED" });
            return false;
          } finally {
            longestTry = Math.max(longestTry, Date.now() - began);
          }
        },
        { timeout: 30_000, interval: 200 },
      );
      // The paused session's transaction was ended by PostgreSQL within the lease (idle_in_transaction_session_timeout),
      // and no try blocked the standby's thread for long (lock_timeout): a standby keeps answering its API meanwhile.
      expect(Date.now() - pausedAt).toBeLessThan(1500 + 3000);
      expect(longestTry).toBeLessThan(1500);
      expect(b.journal(null, { kind: "note" }).at(-1)?.data).toMatchObject({ event: "lock_taken_over" });
      expect(b.getHost("r1", "in-transaction")).toBeUndefined();
    } finally {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await exited(child);
    }
  });

  it("stops a holder acting once its lease was not renewed in time, before the database could have given it away", async () => {
    const child = startFixture("lease-holder.ts", [t.where, "1500"]);
    const out = new LineReader(child);
    try {
      await out.waitFor((l) => l.some((x) => x.startsWith("holding")));
      child.kill("SIGSTOP");
      const b = store();
      // Only once the paused holder's lease has run out (by PostgreSQL's clock) can another take it.
      expect(thrown(() => b.acquireLock({ ...me, hostname: "standby-host" }))).toMatchObject({ code: "STORE_LOCKED" });
      await vi.waitUntil(
        () => {
          try {
            b.acquireLock({ ...me, hostname: "standby-host" });
            return true;
          } catch {
            return false;
          }
        },
        { timeout: 20_000, interval: 200 },
      );
      const took = b.journal(null, { kind: "note" }).at(-1)?.data;
      expect(took).toMatchObject({ event: "lock_taken_over", reason: "its lease ran out" });
      const before = b.journal("r1").length;
      child.kill("SIGCONT");
      child.stdin.write("write\n");
      await out.waitFor((l) => l.some((x) => x.startsWith("write:")));
      expect(out.lines.find((x) => x.startsWith("write:"))).toBe("write: STORE_FENCED");
      expect(out.lines).toContain("lost");
      expect(b.journal("r1")).toHaveLength(before);
      expect(b.getHost("r1", "after-pause")).toBeUndefined();
    } finally {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await exited(child);
    }
  });
});
