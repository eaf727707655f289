// The Juju watch fake (test/fakes/juju-watch.ts) keeps the port's contract, so layer tests
// built on it see what they would see from the jujulib watch: batches are reads, N
// consecutive reads resolve a wait, unit-error fires on entering error, close rejects.
import { describe, expect, it } from "vitest";
import { FakeJujuWatch } from "../fakes/juju-watch.ts";
import type { JujuWatchEvent } from "../../src/juju/port.ts";

const HOUR = 3_600_000;

describe("FakeJujuWatch", () => {
  it("commits are reads: a wait needs N consecutive good ones, a bad one resets", async () => {
    const f = new FakeJujuWatch().machine("0").unit("microceph/0", { machine: "0", workload: "maintenance" });
    const port = f.port();
    await port.connect({ endpoints: ["10.0.0.1:17070"], modelUuid: "u", credentials: { username: "admin", password: "pw" }, security: { kind: "plain" } });
    let done = false;
    const wait = port.waitFor((v) => v.units.get("microceph/0")?.workload.current === "active", { consecutive: 2, timeoutMs: HOUR, intervalMs: HOUR }).then(() => (done = true));
    f.unit("microceph/0", { workload: "active" }).commit();
    f.unit("microceph/0", { workload: "blocked", message: "x" }).commit();
    f.unit("microceph/0", { workload: "active" }).commit();
    await Promise.resolve();
    expect(done).toBe(false);
    f.commit();
    await wait;
    expect(done).toBe(true);
  });

  it("fires unit-error on entering error (and on connect for a unit already in error); close rejects waits", async () => {
    const f = new FakeJujuWatch().machine("3").unit("k8s/1", { machine: "3", workload: "error", message: 'hook failed: "install"' });
    const port = f.port();
    const seen: JujuWatchEvent[] = [];
    port.on((e) => seen.push(e));
    await port.connect({ endpoints: ["a:1"], modelUuid: "u", credentials: { username: "admin", password: "pw" }, security: { kind: "plain" } });
    f.failUnit("k8s/1", "start");
    f.unit("k8s/2", { machine: "3" }).commit();
    f.failUnit("k8s/2");
    expect(seen.map((e) => (e.type === "unit-error" ? [e.unit, e.instanceId, e.message] : e.type))).toEqual([
      ["k8s/1", "manual:10.0.0.13", 'hook failed: "install"'],
      ["k8s/2", "manual:10.0.0.13", 'hook failed: "install"'],
    ]);
    const pending = port.waitFor(() => false, { timeoutMs: HOUR });
    await port.close();
    await expect(pending).rejects.toMatchObject({ code: "JUJU_CLOSED" });
  });
});
