import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BACKENDS, location, type Location } from "./backends.ts";
import { raw } from "./helpers.ts";
import { exited, LineReader, startFixture } from "./processes.ts";

vi.setConfig({ testTimeout: 60_000 });

describe.each(BACKENDS)("store durability on %s", (backend) => {
  let t: Location;
  beforeEach(async () => {
    t = await location(backend);
  });
  afterEach(() => t.cleanup());

  it("keeps every record a writer reported as committed when the writer is killed with -9", async () => {
    const setup = t.open();
    setup.createRollout({}, { id: "r1" });
    setup.close();

    const child = startFixture("crash-writer.ts", [t.where, "r1"]);
    const out = new LineReader(child);
    try {
      await out.waitFor((l) => l.length >= 300);
      child.kill("SIGKILL");
      await exited(child);
    } finally {
      child.kill("SIGKILL");
    }
    expect(child.signalCode).toBe("SIGKILL");

    // Lines that arrived before the kill took effect were committed too: all of them count.
    const reported = out.lines.map((line) => {
      const [seq, i] = line.split(" ").map(Number);
      return { seq: seq ?? NaN, i: i ?? NaN };
    });
    expect(reported.length).toBeGreaterThanOrEqual(300);

    if (backend === "sqlite") {
      const db = raw(t.where);
      expect(db.prepare("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      db.close();
    }

    const store = t.open();
    const journal = new Map(store.journal("r1", { kind: "transition" }).map((e) => [e.seq, e.data]));
    for (const r of reported) expect(journal.get(r.seq), `journal seq ${r.seq}`).toEqual({ i: r.i });
    // Each host's stored snapshot is at least as new as the last one reported for it.
    const lastReported = new Map<string, number>();
    for (const r of reported) lastReported.set(`m${r.i % 50}`, r.i);
    for (const [systemId, i] of lastReported) {
      const stored = store.getHost("r1", systemId)?.snapshot?.context["i"];
      expect(stored, systemId).toBeGreaterThanOrEqual(i);
    }
    store.close();
  });
});
