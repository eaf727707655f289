/**
 * The runner's own persisted host snapshot (persistedSnapshotOf, src/runtime/host-persistence.ts)
 * must be what XState's `actor.getPersistedSnapshot()` is, at every step of a host's life:
 * a request in flight (an invoked child), a failed attempt with its error, back-off, the
 * final state. And the snapshots saved once per window reach the store: a host's record is
 * current before its MAAS call's intent commits, and a phase change is committed within the
 * window.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { Actor } from "xstate";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { openStore } from "../../src/store/index.ts";
import { HostPersistence, persistedSnapshotOf, SAVE_WINDOW_MS } from "../../src/runtime/host-persistence.ts";
import type { hostMachine } from "../../state-machines/host.ts";
import { drive, flush } from "../state-machines/helpers.ts";

function sameAsXState(actor: Actor<typeof hostMachine>): void {
  expect(JSON.stringify(persistedSnapshotOf(actor))).toBe(JSON.stringify(actor.getPersistedSnapshot()));
}

describe("persistedSnapshotOf", () => {
  it("is XState's persisted snapshot at every step, through a failure, a retry and the final state", async () => {
    const h = drive({ script: { deployMachine: ["hang"], commissionMachine: [{ reject: new Error("refused") }] } });
    const seen: string[] = [];
    h.actor.subscribe(() => {
      sameAsXState(h.actor);
      seen.push(JSON.stringify(h.actor.getSnapshot().value));
    });
    await flush();
    // The failed commission is retried after its back-off.
    await h.clock.increment(60_000);
    await flush();
    await h.status(S.COMMISSIONING);
    await h.status(S.READY);
    // deployMachine hangs: the snapshot holds the invoked request.
    expect(Object.keys(h.actor.getSnapshot().children).length).toBe(1);
    sameAsXState(h.actor);
    for (const release of h.fakes.hanging) release();
    await flush();
    await h.status(S.DEPLOYED);
    expect(h.actor.getSnapshot().status).toBe("done");
    sameAsXState(h.actor);
    expect(h.actor.getSnapshot().context.failures.length).toBe(1);
    expect(seen.length).toBeGreaterThan(10);
  });
});

describe("HostPersistence", () => {
  it("saves a host's record when its call's intent is about to commit, and commits a phase change within the window", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "mw-persist-")), "store.sqlite");
    // The store's own write-behind is a minute: only the persistence's saves and flushes commit here.
    const store = openStore(path, { writeBehindMs: 60_000 });
    const rolloutId = store.createRollout({ hosts: [] }).id;
    /** What another process would read: committed rows only. */
    const committed = () => {
      const reader = openStore(path);
      try {
        return reader.getHost(rolloutId, "abc123");
      } finally {
        reader.close();
      }
    };
    // The window's timer runs only when the test says (setImmediate, which the fakes' flush uses, stays real).
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    onTestFinished(() => void vi.useRealTimers());
    const persistence = new HostPersistence(store, rolloutId, () => undefined);
    const h = drive({ script: { commissionMachine: ["hang"] } });
    h.actor.subscribe(() => persistence.changed("abc123", h.actor));
    persistence.changed("abc123", h.actor);
    await flush();
    // Not saved at each change: the window has not passed and no call of this host has asked.
    expect(committed()).toBeUndefined();
    // The call journal asks just before it commits this host's intent: the record commits with it.
    persistence.saveHosts(["abc123"]);
    store.transaction(() => undefined);
    expect(committed()?.phase).toBe("commissioning");
    expect(topOf(committed()?.snapshot?.value)).toBe("commissioning");

    for (const release of h.fakes.hanging) release();
    await h.status(S.READY);
    expect(committed()?.phase).toBe("commissioning");
    // The window's timer saves the host and commits its phase change.
    vi.advanceTimersByTime(SAVE_WINDOW_MS);
    expect(committed()?.phase).toBe("deploying");
    store.close();
  });
});

function topOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : value && typeof value === "object" ? Object.keys(value)[0] : undefined;
}
