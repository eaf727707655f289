import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { HostInput } from "../../src/store/index.ts";

/** A fresh directory per test, removed by the returned cleanup. */
export function tempDir(): { dir: string; path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "metalwave-store-"));
  return { dir, path: join(dir, "nested", "metalwave.sqlite"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A second, plain SQLite connection: sees only what the store has committed, and can damage rows on purpose. */
export function raw(path: string): DatabaseSync {
  return new DatabaseSync(path, { timeout: 5000 });
}

export function xsnapshot(value: unknown, context: Record<string, unknown> = {}): unknown {
  return { status: "active", value, context, children: {}, historyValue: {} };
}

export function host(systemId: string, over: Partial<HostInput> = {}): HostInput {
  return {
    systemId,
    hostname: `host-${systemId}`,
    wave: 0,
    roles: ["compute"],
    phase: "commissioning",
    outcome: null,
    lastError: null,
    maasStatus: 1,
    snapshot: xsnapshot({ commissioning: "waiting" }, { systemId }),
    ...over,
  };
}

/** Runs fn and returns what it threw (failing if it did not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}
