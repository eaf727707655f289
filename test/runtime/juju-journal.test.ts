/**
 * The Juju changes' journal in the rollout's store (src/runtime/juju-journal.ts), on both
 * backends: an intent is committed before `begin` resolves (a process killed right after
 * finds it open on reopen), an end may be buffered (lost with the process: the intent stays
 * open), a reconciled intent is closed, and the MAAS calls' journal does not take Juju
 * changes for its own. A change document of a newer version, or of the wrong shape, stops
 * the resume (STORE_SCHEMA, STORE_CORRUPT) instead of being skipped.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JujuChange } from "../../src/layers/index.ts";
import { CallJournal } from "../../src/runtime/call-journal.ts";
import { StoreJujuJournal } from "../../src/runtime/juju-journal.ts";
import { BACKENDS, location, type Location } from "../store/backends.ts";

const ADD_UNIT: JujuChange = { op: "addUnit", model: "openstack-machines", target: { app: "microceph", to: "4" }, host: { systemId: "abc123", hostname: "sto-2" } };
const INTEGRATE: JujuChange = { op: "integrate", model: "openstack", target: { a: "nova:amqp", b: "rabbitmq:amqp" } };

describe.each(BACKENDS)("the Juju change journal on %s", (backend) => {
  let t: Location;
  beforeEach(async () => {
    t = await location(backend);
  });
  afterEach(() => t.cleanup());

  it("commits each intent before its change may be sent, and a reopened store finds the ones never ended", async () => {
    const s = t.open({ writeBehindMs: 60_000 });
    s.createRollout({}, { id: "r1" });
    const j = new StoreJujuJournal(s, "r1");
    const [a, b] = await Promise.all([j.begin(ADD_UNIT), j.begin(INTEGRATE)]);
    // Committed: another connection sees both intents before anything else is written.
    expect(t.raw().all<{ operation: string }>("SELECT operation FROM maas_call WHERE ended_at IS NULL ORDER BY id").map((r) => r.operation)).toEqual(["juju.addUnit", "juju.integrate"]);
    j.end(a as number, "ok");
    s.flush();
    // The end of the second is buffered and lost with the process (no close, no flush).
    j.end(b as number, "ok");
    const again = t.open();
    const resumed = new StoreJujuJournal(again, "r1");
    expect(resumed.open()).toEqual([{ id: b, change: INTEGRATE }]);
    expect(new CallJournal(again, "r1").unresolvedCount).toBe(0);
    resumed.reconciled(b as number, true, "reconciled after restart: it had taken effect");
    expect(new StoreJujuJournal(again, "r1").open()).toEqual([]);
    again.close();
    s.close();
  });

  it("refuses an intent it cannot read rather than skipping it", () => {
    const s = t.open();
    s.createRollout({}, { id: "r1" });
    s.beginCall({ rolloutId: "r1", systemId: "abc123", operation: "juju.addMachine", params: { schemaVersion: 2, change: {} } });
    expect(() => new StoreJujuJournal(s, "r1")).toThrow(expect.objectContaining({ code: "STORE_SCHEMA" }));
    s.close();
    const t2 = t.open();
    t2.createRollout({}, { id: "r2" });
    t2.beginCall({ rolloutId: "r2", systemId: "abc123", operation: "juju.addMachine", params: { schemaVersion: 1, change: { op: "addMachine", model: "m" } } });
    expect(() => new StoreJujuJournal(t2, "r2")).toThrow(expect.objectContaining({ code: "STORE_CORRUPT" }));
    t2.close();
  });
});
