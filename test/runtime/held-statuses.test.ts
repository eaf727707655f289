/**
 * HeldStatuses (src/runtime/held-statuses.ts): a MAAS status a host only records is held
 * back, shown by `held`, and told to the host before its next step, whichever way that step
 * comes: an event the runner sends, or a delay firing (the actor's clock). A status that moves
 * the host is sent at once.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createActor, type Actor } from "xstate";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { HeldStatuses } from "../../src/runtime/held-statuses.ts";
import { HostPersistence } from "../../src/runtime/host-persistence.ts";
import { openStore } from "../../src/store/index.ts";
import { hostMachine } from "../../state-machines/host.ts";
import { flush, hostInput, makeFakes, type Outcome } from "../state-machines/helpers.ts";

const ID = "abc123";

function host(opts: { commission?: Outcome[]; grantVia: "held" | "direct" }) {
  const hosts = new Map<string, Actor<typeof hostMachine>>();
  const statuses = new HeldStatuses(hosts);
  const fakes = makeFakes({ commissionMachine: opts.commission ?? [] });
  const actor = createActor(hostMachine.provide({ actors: fakes.actors }), { input: hostInput(), clock: statuses.clockFor(ID) });
  hosts.set(ID, actor);
  const requests: string[] = [];
  actor.on("host.slotRequest", (e) => requests.push(e.phase));
  actor.start();
  const grant = (phase: "commissioning") =>
    opts.grantVia === "held" ? statuses.send(ID, { type: "SLOT_GRANTED", phase }) : actor.send({ type: "SLOT_GRANTED", phase });
  const commissions = () => fakes.calls.filter((c) => c.actor === "commissionMachine").length;
  return { actor, statuses, requests, grant, commissions };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("HeldStatuses", () => {
  it("holds a status the host only records, and tells it before the next event the runner sends", async () => {
    const h = host({ grantVia: "held" });
    await flush();
    expect(h.requests).toEqual(["commissioning"]);
    // Someone else started commissioning: MAAS says Commissioning before the slot is granted.
    expect(h.statuses.observed(ID, S.COMMISSIONING, null)).toBe(true);
    expect(h.actor.getSnapshot().context.maasStatus).toBe(S.NEW);
    expect(h.statuses.held(ID)).toBe(S.COMMISSIONING);
    h.grant("commissioning");
    await flush();
    // The host decided on Commissioning: it waits for MAAS and sends no commission request.
    expect(h.actor.getSnapshot().context.maasStatus).toBe(S.COMMISSIONING);
    expect(h.statuses.held(ID)).toBeUndefined();
    expect(h.commissions()).toBe(0);
    // A status that moves the host goes at once.
    expect(h.statuses.observed(ID, S.READY, null)).toBe(false);
    await flush();
    expect(h.actor.getSnapshot().context.maasStatus).toBe(S.READY);
    expect(Object.keys(h.actor.getSnapshot().value as object)[0]).not.toBe("commissioning");
  });

  it("tells the held status before a delay's event: the retry after a back-off decides on it", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const h = host({ grantVia: "direct", commission: [{ reject: new Error("refused") }] });
    await flush();
    h.grant("commissioning");
    await flush();
    expect(h.commissions()).toBe(1);
    expect(Object.values(h.actor.getSnapshot().value as object)[0]).toBe("backingOff");
    // During the back-off MAAS starts commissioning after all (the refusal raced it).
    h.statuses.observed(ID, S.COMMISSIONING, null);
    await vi.advanceTimersByTimeAsync(60_000);
    h.grant("commissioning");
    await flush();
    expect(h.actor.getSnapshot().context.maasStatus).toBe(S.COMMISSIONING);
    // The retry found MAAS commissioning: no second request.
    expect(h.commissions()).toBe(1);
  });

  it("a held status is the one the host's record says (metalwave status reads it)", async () => {
    const h = host({ grantVia: "held" });
    await flush();
    const store = openStore(join(mkdtempSync(join(tmpdir(), "mw-held-")), "store.sqlite"));
    try {
      const rolloutId = store.createRollout({ hosts: [] }).id;
      const persistence = new HostPersistence(store, rolloutId, () => undefined, (id) => h.statuses.held(id));
      h.statuses.observed(ID, S.COMMISSIONING, null);
      persistence.changed(ID, h.actor);
      persistence.flushNow();
      expect(h.actor.getSnapshot().context.maasStatus).toBe(S.NEW);
      expect(store.getHost(rolloutId, ID)?.maasStatus).toBe(S.COMMISSIONING);
    } finally {
      store.close();
    }
  });
});
