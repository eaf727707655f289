/**
 * A host's removal from Juju (src/layers/removal.ts) is that host's work like its layering:
 * it runs on the host's lane, so an abort (of the host, of the rollout) stops it at its next
 * command or wait with LAYER_STOPPED, not at the end of the removal; what it did is journaled
 * ahead, and the removal run again finishes it, each unit removed once.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { RemovalStep } from "../../src/layers/index.ts";
import { FAST_JUJU, startLayerFleet, type LayerFleet } from "./helpers.ts";

describe("a removal aborted midway", { timeout: 300_000 }, () => {
  let lf: LayerFleet | undefined;
  afterAll(async () => lf?.f.close());

  it("stops before its next change, and the next removal finishes it with each unit removed once", async () => {
    lf = await startLayerFleet(FAST_JUJU, [
      { prefix: "juju", count: 1, tags: ["juju-controller"] },
      { prefix: "ctl", count: 1, tags: ["control"] },
      { prefix: "sto", count: 1, tags: ["storage"] },
      { prefix: "cmp", count: 1, tags: ["compute"] },
    ]);
    const engine = lf.layering();
    await engine.clusterBarrier("juju-controller", lf.hosts.juju);
    await engine.clusterBarrier("kubernetes", lf.hosts.control);
    await engine.clusterBarrier("storage", lf.hosts.storage);
    await engine.clusterBarrier("control-plane", lf.hosts.control);
    await Promise.all([...lf.hosts.control, ...lf.hosts.storage, ...lf.hosts.compute].map((h) => engine.layerHost(h)));
    const cmp = lf.hosts.compute[0]!;
    const sent = () => (lf!.history().get(lf!.hosts.juju[0]!.hostname) ?? []).filter((c) => /juju remove-(unit|machine)/.test(c));

    // Aborted as the second unit is about to go: the first went, the rest stays in Juju.
    const ac = new AbortController();
    const steps: RemovalStep[] = [];
    const aborted = await engine
      .leaveHost!(cmp, (s) => {
        steps.push(s);
        if (steps.filter((x) => x.step === "removeUnit").length === 2) ac.abort();
      }, { signal: ac.signal })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(aborted).toMatchObject({ code: "LAYER_STOPPED", systemId: cmp.systemId });
    expect(sent()).toHaveLength(1);
    expect(sent()[0]).toMatch(/remove-unit .*openstack-hypervisor\//);

    // The engine is still open for the other hosts' work; the removal run again finishes what was left.
    const again: RemovalStep[] = [];
    const r = await engine.leaveHost!(cmp, (s) => again.push(s));
    expect(r?.removed.length).toBeGreaterThan(0);
    expect(r?.removed.some((u) => u.startsWith("openstack-hypervisor/"))).toBe(false);
    expect(again.filter((s) => s.step === "removeUnit").map((s) => s.target)).toEqual(r?.removed);
    const changes = lf.f.hosts.cloud.jujuWorld.changes.stats();
    expect(Object.keys(changes.repeated).filter((k) => k.startsWith("remove-"))).toEqual([]);
    expect(new Set(sent()).size).toBe(sent().length);
    expect(sent().at(-1)).toMatch(/remove-machine/);
    engine.close();
  });
});
