/**
 * `metalwave rollout --abort`: an operator ends a rollout no process runs, from the CLI.
 * Allowed only when none of its hosts is in flight (there is no machine to act on, so only
 * the record changes); refused, changing nothing, when hosts are in flight or it is over.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { runCliHere } from "./cli.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A store whose latest rollout is paused, with one host settled and, optionally, one in flight. */
function pausedRollout(inFlight: boolean): { storePath: string; id: string } {
  dir = mkdtempSync(join(tmpdir(), "mw-abort-"));
  const storePath = join(dir, "store.sqlite");
  const store = openStore(storePath);
  const id = store.createRollout({ version: 2, deployment: "default", scopeTag: "metalwave-default", hosts: [], waves: [] }).id;
  store.saveHost(id, { systemId: "a1", hostname: "node-a1", wave: 0, roles: ["compute"], phase: "inService", outcome: "inService", snapshot: null });
  if (inFlight) store.saveHost(id, { systemId: "b2", hostname: "node-b2", wave: 1, roles: ["compute"], phase: "deploying", outcome: null, snapshot: null });
  store.setRolloutStatus(id, "paused", "total failure budget exceeded");
  store.close();
  return { storePath, id };
}

describe("metalwave rollout --abort", () => {
  it("records a paused rollout with nothing in flight as aborted, with the reason in the journal; a second abort is refused", async () => {
    const { storePath, id } = pausedRollout(false);
    const out = await runCliHere(["rollout", "--abort", "--store", storePath, "--reason", "scale-out cancelled", "--json"]);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ rolloutId: id, status: "aborted" });
    const store = openStore(storePath);
    try {
      expect(store.getRollout(id)?.status).toBe("aborted");
      const ev = store.journal(id, { kind: "rollout" }).map((j) => j.data as { event?: string; reason?: string; whilePaused?: boolean });
      expect(ev.at(-1)).toMatchObject({ event: "aborted", reason: "scale-out cancelled", whilePaused: true });
    } finally {
      store.close();
    }
    const again = await runCliHere(["rollout", "--abort", "--store", storePath]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`rollout ${id} is aborted; there is nothing to abort`);
  }, 30_000);

  it("refuses while a host is in flight, naming the rollout and the count, and changes nothing", async () => {
    const { storePath, id } = pausedRollout(true);
    const out = await runCliHere(["rollout", "--abort", "--store", storePath]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`rollout ${id} is paused with 1 host(s) in flight`);
    const store = openStore(storePath);
    try {
      expect(store.getRollout(id)?.status).toBe("paused");
    } finally {
      store.close();
    }
  }, 30_000);

  it("--reason without --abort is a usage error", async () => {
    const out = await runCliHere(["rollout", "--reason", "why"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("--reason goes with --abort");
  }, 30_000);
});
