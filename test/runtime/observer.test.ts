import { describe, expect, it } from "vitest";
import { StatusObserver, type StatusChange } from "../../src/runtime/observer.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { EventsPort } from "../fakes/events-port.ts";
import { HandClock } from "../fakes/clock.ts";
import { fakeMachine } from "../fakes/maas.ts";

function setup(n: number, opts: { readBatchSize?: number; pageSize?: number } = {}) {
  const fake = new EventsPort();
  for (let i = 0; i < n; i++) fake.add(`m${i}`, NodeStatus.NEW);
  const changes: StatusChange[] = [];
  const obs = new StatusObserver(fake.port(), (c) => changes.push(c), { pollIntervalMs: 1_000_000, ...opts });
  return { fake, changes, obs };
}

describe("StatusObserver", () => {
  it("fixes its cursor at start so events from before it are not replayed", async () => {
    const { fake, changes, obs } = setup(2);
    fake.setStatus("m0", NodeStatus.COMMISSIONING);
    await obs.start();
    await obs.stop();
    obs.watch("m0", NodeStatus.NEW);
    await obs.tick();
    expect(changes).toEqual([]);
  });

  it("reads back only the watched machines the feed names, in one filtered call", async () => {
    const { fake, changes, obs } = setup(1000);
    await obs.start();
    await obs.stop();
    for (let i = 0; i < 1000; i++) obs.watch(`m${i}`, NodeStatus.NEW);
    for (let i = 0; i < 50; i++) fake.setStatus(`m${i}`, NodeStatus.COMMISSIONING);
    fake.setStatus("unwatched", NodeStatus.READY);
    fake.noise("m999");
    const before = { ...fake.calls };
    await obs.tick();
    expect(fake.calls.listMachines - before.listMachines).toBe(1);
    expect(fake.calls.idsRead - before.idsRead).toBe(50);
    expect(changes.map((c) => c.systemId).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`).sort());
    expect(changes.every((c) => c.status === NodeStatus.COMMISSIONING)).toBe(true);
  });

  it("costs requests in proportion to changes, not to machines watched times ticks", async () => {
    const { fake, obs } = setup(5000);
    await obs.start();
    await obs.stop();
    for (let i = 0; i < 5000; i++) obs.watch(`m${i}`, NodeStatus.NEW);
    const before = { ...fake.calls };
    for (let t = 0; t < 20; t++) await obs.tick();
    // Quiet feed: one events query per tick and no machine reads at all.
    expect(fake.calls.queryEvents - before.queryEvents).toBe(20);
    expect(fake.calls.listMachines - before.listMachines).toBe(0);
  });

  it("pages through a busy feed and batches the reads", async () => {
    const { fake, changes, obs } = setup(2500, { pageSize: 1000, readBatchSize: 400 });
    await obs.start();
    await obs.stop();
    for (let i = 0; i < 2500; i++) obs.watch(`m${i}`, NodeStatus.NEW);
    for (let i = 0; i < 2500; i++) fake.setStatus(`m${i}`, NodeStatus.COMMISSIONING);
    const before = { ...fake.calls };
    await obs.tick();
    expect(fake.calls.queryEvents - before.queryEvents).toBe(3);
    expect(fake.calls.listMachines - before.listMachines).toBe(7);
    expect(changes).toHaveLength(2500);
  });

  it("delivers a status learnt from our own request, so a repeat of an old status after it counts as a change", async () => {
    const { fake, changes, obs } = setup(1);
    await obs.start();
    await obs.stop();
    obs.watch("m0", NodeStatus.NEW);
    fake.setStatus("m0", NodeStatus.FAILED_COMMISSIONING);
    await obs.tick();
    // Our own retry: the commission answer said Commissioning, then it failed again.
    obs.note(fakeMachine({ system_id: "m0", status: NodeStatus.COMMISSIONING, status_message: null }));
    fake.setStatus("m0", NodeStatus.COMMISSIONING);
    fake.setStatus("m0", NodeStatus.FAILED_COMMISSIONING);
    await obs.tick();
    expect(changes.map((c) => c.status)).toEqual([NodeStatus.FAILED_COMMISSIONING, NodeStatus.COMMISSIONING, NodeStatus.FAILED_COMMISSIONING]);
    // The same answer again is no change.
    obs.note(fakeMachine({ system_id: "m0", status: NodeStatus.FAILED_COMMISSIONING, status_message: null }));
    expect(changes).toHaveLength(3);
  });

  it("stops telling about a machine once unwatched", async () => {
    const { fake, changes, obs } = setup(1);
    await obs.start();
    await obs.stop();
    obs.watch("m0", NodeStatus.NEW);
    obs.unwatch("m0");
    fake.setStatus("m0", NodeStatus.READY);
    await obs.tick();
    expect(changes).toEqual([]);
  });

  it("sweeps machines that have been quiet too long, in case an event was missed", async () => {
    const clock = new HandClock(0);
    const fake = new EventsPort();
    fake.add("m0", NodeStatus.NEW);
    const changes: StatusChange[] = [];
    const obs = new StatusObserver(fake.port(), (c) => changes.push(c), { pollIntervalMs: 1_000_000, sweepAfterMs: 60_000, clock });
    await obs.start();
    await obs.stop();
    obs.watch("m0", NodeStatus.NEW);
    // A change MAAS never logged as an event.
    fake.setStatus("m0", NodeStatus.READY, null, { event: false });
    await obs.tick();
    expect(changes).toEqual([]);
    clock.t = 61_000;
    await obs.tick();
    expect(changes.map((c) => c.status)).toEqual([NodeStatus.READY]);
  });
});
