/**
 * Resume from a persisted snapshot: what is replayed and what is not.
 */
import type { Snapshot } from "xstate";
import { describe, it, expect } from "vitest";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { drive, flush, top, fastPolicy } from "./helpers.ts";
import { resumeRecordOf } from "../../state-machines/glue.ts";

/** Persisted like the runtime does it: through JSON. */
function persisted(h: ReturnType<typeof drive>): Snapshot<unknown> {
  return JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
}

describe("restoring a host from a persisted snapshot", () => {
  it("mid-deploy (deploying.waiting): does not send deploy again, and continues on the next MAAS status", async () => {
    const first = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await first.status(S.DEPLOYING);
    // Deploy asked for and taken: MAAS says Deploying.
    expect(top(first.actor)).toBe("deploying");
    expect(first.actorsCalled()).toEqual(["deployMachine"]);
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
    // The attempt failed and nothing is asked of MAAS yet: the host waits out its back-off.
    expect(top(first.actor)).toBe("deploying");
    expect(first.actor.getSnapshot().context.lastError?.code).toBe("MAAS_FAILED_STATUS");
    expect(first.actorsCalled()).toEqual(["deployMachine"]);
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
    // The deploy request is in flight (it hangs).
    expect(first.actorsCalled()).toEqual(["deployMachine"]);
    const snapshot = persisted(first);
    first.actor.stop();

    const second = drive({ snapshot });
    await flush();
    expect(second.actorsCalled()).toEqual(["deployMachine"]);
    // Its answer taken, the host goes on with what MAAS says next.
    await second.status(S.DEPLOYED);
    expect(second.actorsCalled()).toEqual(["deployMachine", "layerHost"]);
  });

  it("keeps the slot it held, and says so in its resume record", async () => {
    const first = drive({ input: { maasStatus: S.ALLOCATED } });
    await flush();
    await first.status(S.DEPLOYING);
    const snapshot: Parameters<typeof resumeRecordOf>[0] = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot()));
    expect(resumeRecordOf(snapshot)).toEqual({ phase: "deploying", holdsSlot: "deploying" });
    await first.status(S.DEPLOYED);
    await flush();
    expect(resumeRecordOf(JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())))).toEqual({ phase: "inService", settled: "inService" });
  });
});
