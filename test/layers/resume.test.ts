/**
 * Crash safety of the charm flow: a run stopped in the middle of the control plane (as by
 * kill -9: the engine is gone, Juju keeps what it did), then a new engine (the resumed
 * rollout) runs the barriers and hosts again: it reads Juju first and only adds what is
 * missing, so no machine is added twice, no application deployed twice, no relation made
 * twice, and the cloud ends complete.
 */
import { afterAll, describe, expect, it } from "vitest";
import { FAST_JUJU, startLayerFleet, type LayerFleet } from "./helpers.ts";

describe("a layering run stopped midway and resumed by a new engine", { timeout: 300_000 }, () => {
  let lf: LayerFleet | undefined;
  afterAll(async () => lf?.f.close());

  it("reconciles from Juju: nothing done before the stop is done again, and the cloud completes", async () => {
    lf = await startLayerFleet(FAST_JUJU, [
      { prefix: "juju", count: 1, tags: ["juju-controller"] },
      { prefix: "ctl", count: 1, tags: ["control"] },
      { prefix: "sto", count: 1, tags: ["storage"] },
      { prefix: "cmp", count: 1, tags: ["compute"] },
    ]);
    const all = () => [...lf!.history().values()].flat();
    const first = lf.layering();
    await first.clusterBarrier("juju-controller", lf.hosts.juju);
    await first.clusterBarrier("kubernetes", lf.hosts.control);
    await first.clusterBarrier("storage", lf.hosts.storage);
    const cp = first.clusterBarrier("control-plane", lf.hosts.control).catch((e: unknown) => e);
    // Stop it once the control plane's model has some applications and no more than half of them.
    for (let i = 0; i < 20_000 && all().filter((c) => /juju deploy -m metalwave:openstack /.test(c)).length < 4; i++) await new Promise((r) => setTimeout(r, 1));
    first.close();
    await cp;
    const before = all().filter((c) => /juju deploy -m metalwave:openstack /.test(c)).length;
    expect(before).toBeGreaterThanOrEqual(4);
    expect(before).toBeLessThan(12);

    const resumed = lf.layering();
    await resumed.clusterBarrier("juju-controller", lf.hosts.juju);
    await resumed.clusterBarrier("kubernetes", lf.hosts.control);
    await resumed.clusterBarrier("storage", lf.hosts.storage);
    await resumed.clusterBarrier("control-plane", lf.hosts.control);
    await Promise.all([...lf.hosts.control, ...lf.hosts.storage, ...lf.hosts.compute].map((h) => resumed.layerHost(h)));

    const cmds = all();
    const once = (re: RegExp) => {
      const seen = cmds.filter((c) => re.test(c));
      expect(new Set(seen).size).toBe(seen.length);
      return seen;
    };
    expect(once(/juju add-machine/)).toHaveLength(3);
    once(/juju deploy /);
    once(/juju integrate /);
    once(/juju offer /);
    once(/juju add-unit /);
    const cloud = await resumed.report();
    expect(cloud.applications.filter((a) => a.status !== "active")).toEqual([]);
    expect(cloud.hypervisors.computeServicesUp).toEqual(lf.hosts.compute.map((h) => h.hostname));
    expect(Object.keys(cloud.loadBalancer)).toEqual(expect.arrayContaining(["traefik", "rabbitmq"]));
  });
});
