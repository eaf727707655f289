/**
 * `metalwave status`: reads the store only, and says which rollout is the latest (a
 * deployment or a maintenance pass's), where its hosts are and why any failed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { runCli } from "./cli.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function storeWithPass(): { storePath: string; id: string } {
  dir = mkdtempSync(join(tmpdir(), "mw-status-"));
  const storePath = join(dir, "store.sqlite");
  const store = openStore(storePath);
  store.createRollout({ version: 2, deployment: "default", scopeTag: "metalwave-default", hosts: [], waves: [] });
  const id = store.createRollout({ version: 2, kind: "remediation", reason: "remediation of 2 unhealthy host(s)", deployment: "default", scopeTag: "metalwave-default", hosts: [], waves: [] }).id;
  store.saveHost(id, { systemId: "a1", hostname: "node-a1", wave: 0, roles: ["compute"], phase: "inService", outcome: "inService", snapshot: null });
  store.saveHost(id, { systemId: "b2", hostname: "node-b2", wave: 0, roles: ["compute"], phase: "quarantined", outcome: "quarantined", lastError: { code: "MAAS_FAILED_STATUS", message: "deploy failed" }, snapshot: null });
  store.setRolloutStatus(id, "completed");
  store.close();
  return { storePath, id };
}

describe("metalwave status", () => {
  it("--json names the latest rollout with its kind, counts and the failed hosts with their errors", async () => {
    const { storePath, id } = storeWithPass();
    const out = await runCli(["status", "--store", storePath, "--json"]);
    expect(out.code, out.stderr).toBe(0);
    const s = JSON.parse(out.stdout) as { rollout: { id: string; kind: string; status: string }; counts: { byOutcome: Record<string, number> }; failed: { hostname: string; lastError: { code: string } }[] };
    expect(s.rollout).toMatchObject({ id, kind: "remediation", status: "completed" });
    expect(s.counts.byOutcome).toEqual({ inService: 1, quarantined: 1 });
    expect(s.failed.map((f) => [f.hostname, f.lastError.code])).toEqual([["node-b2", "MAAS_FAILED_STATUS"]]);
  }, 30_000);

  it("prints the kind of a maintenance pass's rollout and each failed host", async () => {
    const { storePath, id } = storeWithPass();
    const out = await runCli(["status", "--store", storePath]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`rollout ${id} (remediation): completed`);
    expect(out.stdout).toMatch(/node-b2 \(b2\) wave 1: quarantined in quarantined: MAAS_FAILED_STATUS deploy failed/);
  }, 30_000);
});
