import { describe, it, expect } from "vitest";
import { createActor } from "xstate";
import { hostMachine, backoffDelayMs, describeError, FAILURE_HISTORY, STATUSES_THAT_MOVE_A_HOST, type HostEmitted } from "../../state-machines/host.ts";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { drive, flush, top, fastPolicy, hostInput } from "./helpers.ts";

const T = fastPolicy.timeoutsMs;

describe("hostMachine with fake actors", () => {
  it("takes a New machine to inService with exactly one call per step, in order", async () => {
    const h = drive();
    await flush();
    expect(h.actorsCalled()).toEqual(["commissionMachine"]);
    await h.status(S.COMMISSIONING);
    await h.status(S.READY);
    expect(h.actorsCalled()).toEqual(["commissionMachine", "tagMachine", "allocateMachine", "deployMachine"]);
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.DEPLOYED);
    expect(h.actorsCalled()).toEqual(["commissionMachine", "tagMachine", "allocateMachine", "deployMachine", "layerHost"]);
    expect(h.actor.getSnapshot().status).toBe("done");
    expect(h.actor.getSnapshot().output).toEqual({ outcome: "inService", reason: null });
    expect(h.phases()).toEqual(["enlisted", "commissioning", "tagging", "allocating", "deploying", "deployed", "layering", "inService"]);
    expect(h.fakes.calls.map((c) => c.input)).toEqual([
      { systemId: "abc123" },
      { systemId: "abc123", roles: ["compute"] },
      { systemId: "abc123" },
      { systemId: "abc123", hostname: "node-1", roles: ["compute"] },
      { systemId: "abc123", hostname: "node-1", roles: ["compute"] },
    ]);
    expect(h.emitted.at(-1)).toEqual({ type: "host.settled", systemId: "abc123", outcome: "inService" });
  });

  it("requests a slot before each capped phase and releases it on the way out", async () => {
    const h = drive();
    await flush();
    await h.status(S.READY);
    await h.status(S.DEPLOYED);
    const slots = h.emitted.filter((e) => e.type === "host.slotRequest" || e.type === "host.slotRelease").map((e) => `${e.type}:${(e as { phase: string }).phase}`);
    expect(slots).toEqual([
      "host.slotRequest:commissioning",
      "host.slotRelease:commissioning",
      "host.slotRequest:deploying",
      "host.slotRelease:deploying",
      "host.slotRequest:layering",
      "host.slotRelease:layering",
    ]);
  });

  it("moves on a MAAS_STATUS only with STATUSES_THAT_MOVE_A_HOST: the statuses of every guard on that event, read from the machine", () => {
    interface Node { states: Record<string, Node>; transitions: Map<string, { guard?: unknown }[]> }
    const nodes = (n: Node): Node[] => [n, ...Object.values(n.states).flatMap(nodes)];
    const guarded = new Set<number>();
    const guardTypes = new Set<string>();
    for (const n of nodes(hostMachine.root as unknown as Node)) {
      for (const t of n.transitions.get("MAAS_STATUS") ?? []) {
        if (t.guard === undefined) continue;
        const g = t.guard as { type: string; params: { statuses: number[] } };
        guardTypes.add(g.type);
        for (const s of g.params.statuses) guarded.add(s);
      }
    }
    // The only guard on MAAS_STATUS is statusChangedTo: any other status is recorded, nothing more.
    expect([...guardTypes]).toEqual(["statusChangedTo"]);
    expect([...guarded].sort()).toEqual([...STATUSES_THAT_MOVE_A_HOST].sort());
  });

  it("without layers (input.layersOff) goes from deployed straight to inService: no layering slot, no layerHost", async () => {
    const h = drive({ input: { layersOff: true } });
    await flush();
    await h.status(S.READY);
    await h.status(S.DEPLOYED);
    expect(h.actor.getSnapshot().output).toEqual({ outcome: "inService", reason: null });
    expect(h.phases()).toEqual(["enlisted", "commissioning", "tagging", "allocating", "deploying", "deployed", "inService"]);
    expect(h.actorsCalled()).not.toContain("layerHost");
    const slots = h.emitted.filter((e) => e.type === "host.slotRequest" || e.type === "host.slotRelease").map((e) => `${e.type}:${(e as { phase: string }).phase}`);
    expect(slots).toEqual(["host.slotRequest:commissioning", "host.slotRelease:commissioning", "host.slotRequest:deploying", "host.slotRelease:deploying"]);
  });

  it("does no work in a capped phase until SLOT_GRANTED for that phase arrives", async () => {
    const h = drive({ grantSlots: false });
    await flush();
    expect(h.actorsCalled()).toEqual([]);
    h.actor.send({ type: "SLOT_GRANTED", phase: "deploying" });
    await flush();
    expect(h.actorsCalled()).toEqual([]);
    h.actor.send({ type: "SLOT_GRANTED", phase: "commissioning" });
    await flush();
    expect(h.actorsCalled()).toEqual(["commissionMachine"]);
    expect(h.actor.getSnapshot().context.slot).toBe("commissioning");
  });

  it("hands back a grant it is not waiting for, so the rollout's count cannot leak", async () => {
    const h = drive({ grantSlots: false });
    await flush();
    h.actor.send({ type: "SLOT_GRANTED", phase: "layering" });
    expect(h.emitted.at(-1)).toEqual({ type: "host.slotRelease", systemId: "abc123", phase: "layering" });
  });

  it("ignores a repeated grant of the slot it holds (handing it back would free a slot still in use)", async () => {
    const h = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    const before = h.emitted.length;
    h.actor.send({ type: "SLOT_GRANTED", phase: "deploying" });
    expect(h.emitted.slice(before)).toEqual([]);
    expect(h.actor.getSnapshot().context.slot).toBe("deploying");
  });

  it("retries commissioning after Failed commissioning, with back-off, then succeeds", async () => {
    const h = drive();
    await flush();
    await h.status(S.COMMISSIONING);
    await h.status(S.FAILED_COMMISSIONING, "lshw failed");
    // Backing off: the slot is handed back, the host has not settled and still reports commissioning.
    expect(h.emitted.at(-1)).toEqual({ type: "host.slotRelease", systemId: "abc123", phase: "commissioning" });
    expect(h.phases().at(-1)).toBe("commissioning");
    expect(h.actor.getSnapshot().context.lastError).toEqual({
      phase: "commissioning",
      code: "MAAS_FAILED_STATUS",
      message: 'MAAS reports "Failed commissioning": lshw failed',
    });
    h.clock.increment(backoffDelayMs(fastPolicy, 1) - 1);
    await flush();
    expect(h.actorsCalled()).toEqual(["commissionMachine"]);
    h.clock.increment(1);
    await flush();
    expect(h.actorsCalled()).toEqual(["commissionMachine", "commissionMachine"]);
    await h.status(S.COMMISSIONING);
    await h.status(S.READY);
    expect(top(h.actor)).toBe("deploying");
    const ctx = h.actor.getSnapshot().context;
    expect(ctx.attempts.commission).toBe(2);
    expect(ctx.failures).toEqual([{ phase: "commissioning", code: "MAAS_FAILED_STATUS", message: 'MAAS reports "Failed commissioning": lshw failed', attempt: 1 }]);
    const attempts = h.emitted.filter((e) => e.type === "host.phase" && e.phase === "commissioning").map((e) => (e as { attempt: number }).attempt);
    expect(attempts).toEqual([1, 2]);
  });

  it("after Failed deployment releases (no erase), re-allocates and deploys again without re-tagging", async () => {
    const h = drive({ input: { maasStatus: S.READY } });
    await flush();
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.FAILED_DEPLOYMENT, "curtin failed");
    // Backing off: nothing is released until the back-off has passed on the clock.
    h.clock.increment(backoffDelayMs(fastPolicy, 1) - 1);
    await flush();
    expect(h.actorsCalled()).toEqual(["tagMachine", "allocateMachine", "deployMachine"]);
    expect(h.phases().at(-1)).toBe("deploying");
    h.clock.increment(1);
    await flush();
    expect(h.actorsCalled().at(-1)).toBe("releaseMachine");
    expect(h.phases().at(-1)).toBe("releasing");
    await h.status(S.RELEASING);
    await h.status(S.READY);
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.DEPLOYED);
    expect(h.actorsCalled()).toEqual([
      "tagMachine",
      "allocateMachine",
      "deployMachine",
      "releaseMachine",
      "allocateMachine",
      "deployMachine",
      "layerHost",
    ]);
    expect(h.fakes.calls.find((c) => c.actor === "releaseMachine")?.input).toEqual({ systemId: "abc123", erase: "none", leave: false });
    expect(h.actor.getSnapshot().context.attempts.deploy).toBe(2);
    expect(top(h.actor)).toBe("inService");
  });

  it.each([
    ["Deployed", S.DEPLOYED],
    // MAAS accepts release from the two failed states as well.
    ["Failed releasing", S.FAILED_RELEASING],
    ["Failed disk erasing", S.FAILED_DISK_ERASING],
  ])("re-provisions a machine in %s: releases it with the erase asked for, re-tags, allocates, deploys and layers it again", async (_name, status) => {
    const h = drive({ input: { maasStatus: status, reprovision: { erase: "quick" } } });
    await flush();
    expect(top(h.actor)).toBe("releasing");
    await h.status(S.DISK_ERASING);
    await h.status(S.READY);
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.DEPLOYED);
    expect(h.actorsCalled()).toEqual(["releaseMachine", "tagMachine", "allocateMachine", "deployMachine", "layerHost"]);
    expect(h.fakes.calls.find((c) => c.actor === "releaseMachine")?.input).toEqual({ systemId: "abc123", erase: "quick", leave: true });
    expect(top(h.actor)).toBe("inService");
  });

  it("without a re-provisioning, a Deployed machine is only layered", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED } });
    await flush();
    expect(h.actorsCalled()).toEqual(["layerHost"]);
    expect(top(h.actor)).toBe("inService");
  });

  it("quarantines after the last commissioning attempt fails: markBroken names phase, attempts and last error", async () => {
    const h = drive();
    for (let attempt = 1; attempt <= 3; attempt++) {
      await flush();
      await h.status(S.COMMISSIONING);
      await h.status(S.FAILED_COMMISSIONING, `boom ${attempt}`);
      h.clock.increment(backoffDelayMs(fastPolicy, attempt));
    }
    await flush();
    const mark = h.fakes.calls.find((c) => c.actor === "markBroken");
    expect(mark?.input).toEqual({
      systemId: "abc123",
      reason: 'commissioning failed 3 time(s); last error MAAS_FAILED_STATUS: MAAS reports "Failed commissioning": boom 3',
    });
    expect(h.actorsCalled().filter((a) => a === "commissionMachine")).toHaveLength(3);
    expect(top(h.actor)).toBe("quarantined");
    expect(h.emitted.at(-1)).toMatchObject({ type: "host.settled", outcome: "quarantined", reason: expect.stringContaining("boom 3") });
  });

  it("ends in failed when markBroken itself is refused", async () => {
    const h = drive({
      input: { policy: { ...fastPolicy, maxAttempts: { ...fastPolicy.maxAttempts, commission: 1 } } },
      script: { commissionMachine: [{ reject: { code: "MAAS_CONFLICT", message: "wrong state" } }], markBroken: [{ reject: { code: "MAAS_FORBIDDEN", message: "not owner" } }] },
    });
    await flush();
    expect(top(h.actor)).toBe("failed");
    const ctx = h.actor.getSnapshot().context;
    expect(ctx.lastError).toEqual({ phase: "quarantining", code: "MAAS_FORBIDDEN", message: "not owner" });
    expect(ctx.reason).toContain("could not mark the machine Broken");
    expect(h.emitted.at(-1)).toMatchObject({ type: "host.settled", outcome: "failed" });
  });

  it("retries a rejected layerHost up to maxAttempts.layer, then quarantines", async () => {
    const err = { reject: { code: "LAYER_FAILED", message: "juju unreachable" } };
    const h = drive({ input: { maasStatus: S.DEPLOYED }, script: { layerHost: [err, err, err] } });
    await flush();
    h.clock.increment(backoffDelayMs(fastPolicy, 1));
    await flush();
    h.clock.increment(backoffDelayMs(fastPolicy, 2));
    await flush();
    expect(h.actorsCalled()).toEqual(["layerHost", "layerHost", "layerHost", "markBroken"]);
    expect(top(h.actor)).toBe("quarantined");
    expect(h.fakes.calls.at(-1)?.input).toMatchObject({ reason: "layering failed 3 time(s); last error LAYER_FAILED: juju unreachable" });
  });

  it("times out deploying as a state: aborts the MAAS operation, then counts a failed attempt", async () => {
    const h = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await h.status(S.DEPLOYING);
    h.clock.increment(T.deploy - 1);
    await flush();
    expect(h.actorsCalled()).toEqual(["deployMachine"]);
    h.clock.increment(1);
    await flush();
    expect(h.actorsCalled()).toEqual(["deployMachine", "abortMachine"]);
    expect(h.actor.getSnapshot().context.lastError).toMatchObject({ phase: "deploying", code: "PHASE_TIMEOUT" });
    expect(h.actor.getSnapshot().context.failures).toMatchObject([{ phase: "deploying", code: "PHASE_TIMEOUT", attempt: 1 }]);
    // A failed attempt that backs off: the next step (the release before a new deploy) waits for the back-off.
    h.clock.increment(backoffDelayMs(fastPolicy, 1) - 1);
    await flush();
    expect(h.actorsCalled()).toEqual(["deployMachine", "abortMachine"]);
    h.clock.increment(1);
    await flush();
    expect(h.actorsCalled()).toEqual(["deployMachine", "abortMachine", "releaseMachine"]);
  });

  it("after a deploy timeout, takes the phase as done when the abort finds the machine Deployed (MAAS raced the timer)", async () => {
    const h = drive({ input: { maasStatus: S.ALLOCATED }, script: { abortMachine: [{ resolve: { status: S.DEPLOYED } }] } });
    await flush();
    await h.status(S.DEPLOYING);
    h.clock.increment(T.deploy + 1);
    await flush();
    expect(h.actorsCalled()).toEqual(["deployMachine", "abortMachine", "layerHost"]);
    expect(h.phases()).toEqual(["enlisted", "deploying", "deployed", "layering", "inService"]);
    expect(h.actor.getSnapshot().context.attempts.deploy).toBe(1);
  });

  it("after a commission timeout, goes on to tagging when the abort finds the machine Ready", async () => {
    const h = drive({ script: { abortMachine: [{ resolve: { status: S.READY } }] } });
    await flush();
    await h.status(S.COMMISSIONING);
    h.clock.increment(T.commission + 1);
    await flush();
    expect(h.actorsCalled().slice(0, 3)).toEqual(["commissionMachine", "abortMachine", "tagMachine"]);
    expect(h.actor.getSnapshot().context.attempts.commission).toBe(1);
  });

  it("ABORT while deploying calls abortMachine, releases the slot and settles aborted", async () => {
    const h = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await h.status(S.DEPLOYING);
    h.actor.send({ type: "ABORT", reason: "operator said stop" });
    await flush();
    expect(h.actorsCalled()).toEqual(["deployMachine", "abortMachine"]);
    expect(h.emitted.filter((e) => e.type === "host.slotRelease")).toHaveLength(1);
    expect(h.phases().slice(-2)).toEqual(["aborting", "aborted"]);
    expect(h.emitted.at(-1)).toEqual({ type: "host.settled", systemId: "abc123", outcome: "aborted", reason: "operator said stop" });
  });

  it("ABORT while waiting for a slot or backing off settles at once, without calling MAAS", async () => {
    const h = drive({ grantSlots: false });
    await flush();
    h.actor.send({ type: "ABORT" });
    await flush();
    expect(h.actorsCalled()).toEqual([]);
    expect(top(h.actor)).toBe("aborted");
  });

  it("handles status events that arrive before the request resolves", async () => {
    const h = drive({ input: { maasStatus: S.ALLOCATED }, script: { deployMachine: ["hang"] } });
    await flush();
    // The deploy request is in flight (not answered yet): one call, the host reports deploying.
    expect(h.actorsCalled()).toEqual(["deployMachine"]);
    expect(h.fakes.hanging).toHaveLength(1);
    expect(h.phases().at(-1)).toBe("deploying");
    await h.status(S.DEPLOYING);
    await h.status(S.DEPLOYED);
    expect(top(h.actor)).toBe("inService");
    h.fakes.hanging.forEach((resolve) => resolve());
    await flush();
    expect(h.actorsCalled()).toEqual(["deployMachine", "layerHost"]);
  });

  it("ignores duplicate status events: a repeated Failed commissioning does not fail the retry", async () => {
    const h = drive();
    await flush();
    await h.status(S.COMMISSIONING);
    await h.status(S.FAILED_COMMISSIONING);
    h.clock.increment(backoffDelayMs(fastPolicy, 1));
    await flush();
    await h.status(S.FAILED_COMMISSIONING); // late duplicate of attempt 1's failure
    await h.status(S.FAILED_COMMISSIONING);
    // Attempt 2 still waits for MAAS: no back-off started, so no third commission request comes.
    expect(h.actor.getSnapshot().context.failures).toHaveLength(1);
    h.clock.increment(backoffDelayMs(fastPolicy, 2));
    await flush();
    expect(h.actorsCalled()).toEqual(["commissionMachine", "commissionMachine"]);
    expect(h.actor.getSnapshot().context.attempts.commission).toBe(2);
    await h.status(S.COMMISSIONING);
    await h.status(S.READY);
    expect(top(h.actor)).toBe("deploying");
  });

  it("records a rejection of unknown shape as UNKNOWN_ERROR", async () => {
    const h = drive({ input: { maasStatus: S.READY }, script: { tagMachine: [{ reject: "socket hang up" }] } });
    await flush();
    expect(h.actor.getSnapshot().context.lastError).toEqual({ phase: "tagging", code: "UNKNOWN_ERROR", message: "socket hang up" });
    // Tagging backs off: it is tried again only once the back-off has passed.
    h.clock.increment(backoffDelayMs(fastPolicy, 1) - 1);
    await flush();
    expect(h.actorsCalled()).toEqual(["tagMachine"]);
    h.clock.increment(1);
    await flush();
    expect(h.actorsCalled().slice(0, 2)).toEqual(["tagMachine", "tagMachine"]);
    expect(describeError(new Error("x"))).toEqual({ code: "UNKNOWN_ERROR", message: "x" });
    expect(describeError({ code: "MAAS_CONFLICT", message: "m" })).toEqual({ code: "MAAS_CONFLICT", message: "m" });
  });

  it("keeps only the last failures in its history", async () => {
    const many = { ...fastPolicy, maxAttempts: { ...fastPolicy.maxAttempts, commission: 30 } };
    const h = drive({ input: { policy: many } });
    for (let attempt = 1; attempt <= 12; attempt++) {
      await flush();
      await h.status(S.COMMISSIONING);
      await h.status(S.FAILED_COMMISSIONING, `#${attempt}`);
      h.clock.increment(backoffDelayMs(many, attempt));
    }
    const failures = h.actor.getSnapshot().context.failures;
    expect(failures).toHaveLength(FAILURE_HISTORY);
    expect(failures[0]?.attempt).toBe(3);
    expect(failures.at(-1)?.attempt).toBe(12);
  });

  it("backs off exponentially, capped", () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs(fastPolicy, a))).toEqual([1000, 2000, 4000, 8000, 8000]);
  });

  it("fails clearly when the runtime did not provide an actor", async () => {
    const actor = createActor(hostMachine, { input: hostInput({ maasStatus: S.READY }) });
    const emitted: HostEmitted[] = [];
    actor.on("*", (e) => emitted.push(e as HostEmitted));
    actor.start();
    await flush();
    expect(actor.getSnapshot().context.lastError?.message).toContain('actor "tagMachine" is not provided');
    actor.stop();
  });
});
