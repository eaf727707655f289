/**
 * Resume from a persisted snapshot: what is replayed and what is not.
 */
import { describe, it, expect } from "vitest";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { drive, flush, top, fastPolicy } from "./helpers.ts";
import { resumeRecordOf } from "../../state-machines/glue.ts";

/** Persisted like the runtime does it: through JSON. */
function persisted(h: ReturnType<typeof drive>): unknown {
  return JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
}

describe("restoring a host from a persisted snapshot", () => {
  it("mid-deploy (deploying.waiting): does not send deploy again, and continues on the next MAAS status", async () => {
    const first = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await first.status(S.DEPLOYING);
    expect(first.actor.getSnapshot().matches({ deploying: { slotted: { working: "waiting" } } })).toBe(true);
    const snapshot = persisted(first);
    first.actor.stop();

    const second = drive({ snapshot });
    second.actor.send({ type: "RESTORED" });
    await flush();
    expect(second.actorsCalled()).toEqual([]);
    expect(second.emitted).toEqual([]); // no entry action replayed: no phase, no slot request
    await second.status(S.DEPLOYED);
    expect(second.actorsCalled()).toEqual(["layerHost"]);
    expect(top(second.actor)).toBe("inService");
  });

  it("restarts the timeout of a waiting state on RESTORED (XState does not persist timers)", async () => {
    const first = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await first.status(S.DEPLOYING);
    const snapshot = persisted(first);
    first.actor.stop();

    const withoutNotice = drive({ snapshot });
    withoutNotice.clock.increment(fastPolicy.timeoutsMs.deploy * 2);
    await flush();
    expect(withoutNotice.actorsCalled()).toEqual([]); // the timer was lost with the old process

    const restored = drive({ snapshot });
    restored.actor.send({ type: "RESTORED" });
    restored.clock.increment(fastPolicy.timeoutsMs.deploy);
    await flush();
    expect(restored.actorsCalled()).toEqual(["abortMachine"]);
    expect(restored.actor.getSnapshot().context.lastError?.code).toBe("PHASE_TIMEOUT");
  });

  it("restarts a back-off on RESTORED, so a restored host does not stall", async () => {
    const first = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await first.status(S.DEPLOYING);
    await first.status(S.FAILED_DEPLOYMENT);
    expect(first.actor.getSnapshot().matches({ deploying: "backingOff" })).toBe(true);
    const snapshot = persisted(first);
    first.actor.stop();

    const second = drive({ snapshot });
    second.actor.send({ type: "RESTORED" });
    second.clock.increment(fastPolicy.backoffMs.max);
    await flush();
    expect(second.actorsCalled()).toEqual(["releaseMachine"]);
  });

  it("re-runs a request whose promise was in flight when the snapshot was taken (the runtime's actors check first)", async () => {
    const first = drive({ input: { maasStatus: S.ALLOCATED }, script: { deployMachine: ["hang"] } });
    await flush();
    expect(first.actor.getSnapshot().matches({ deploying: { slotted: { working: "requesting" } } })).toBe(true);
    const snapshot = persisted(first);
    first.actor.stop();

    const second = drive({ snapshot });
    await flush();
    expect(second.actorsCalled()).toEqual(["deployMachine"]);
    expect(second.actor.getSnapshot().matches({ deploying: { slotted: { working: "waiting" } } })).toBe(true);
  });

  it("keeps the slot it held, and says so in its resume record", async () => {
    const first = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await first.status(S.DEPLOYING);
    const snapshot = persisted(first) as Parameters<typeof resumeRecordOf>[0];
    expect(resumeRecordOf(snapshot)).toEqual({ phase: "deploying", holdsSlot: "deploying" });
    await first.status(S.DEPLOYED);
    await flush();
    expect(resumeRecordOf(persisted(first) as Parameters<typeof resumeRecordOf>[0])).toEqual({ phase: "inService", settled: "inService" });
  });
});
