/**
 * Pause, as the host sees it: while its rollout is paused no retry starts (a release-and-
 * redeploy retry included), requests already in flight finish, and on resume a held retry
 * backs off again and runs. "Nothing happens" is shown on the simulated clock: time moves
 * far past every back-off and no actor is called.
 */
import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../../state-machines/host.ts";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { drive, fastPolicy, flush, top } from "./helpers.ts";

const HOUR = 3_600_000;

async function failedDeployment() {
  const h = drive({ input: { maasStatus: S.READY } });
  await flush();
  await h.status(S.ALLOCATED);
  await h.status(S.DEPLOYING);
  return h;
}

describe("a host of a paused rollout", () => {
  it("holds a deploy retry (release and redeploy) until the rollout resumes, then backs off and retries", async () => {
    const h = await failedDeployment();
    h.actor.send({ type: "ROLLOUT_PAUSED" });
    await h.status(S.FAILED_DEPLOYMENT, "curtin failed");
    expect(h.emitted.filter((e) => e.type === "host.retryHeld")).toEqual([{ type: "host.retryHeld", systemId: "abc123", phase: "deploying" }]);
    const before = h.actorsCalled().length;
    h.clock.increment(HOUR);
    await flush();
    expect(h.actorsCalled().length).toBe(before);
    expect(top(h.actor)).toBe("deploying");

    h.actor.send({ type: "ROLLOUT_RESUMED" });
    h.clock.increment(backoffDelayMs(fastPolicy, 1) - 1);
    await flush();
    expect(h.actorsCalled()).not.toContain("releaseMachine");
    h.clock.increment(1);
    await flush();
    expect(top(h.actor)).toBe("releasing");
    expect(h.actorsCalled().at(-1)).toBe("releaseMachine");
  });

  it("stops a back-off already running: its retry does not start when the delay elapses", async () => {
    const h = await failedDeployment();
    await h.status(S.FAILED_DEPLOYMENT, "curtin failed");
    h.actor.send({ type: "ROLLOUT_PAUSED" });
    expect(h.emitted.some((e) => e.type === "host.retryHeld")).toBe(true);
    h.clock.increment(HOUR);
    await flush();
    expect(h.actorsCalled()).not.toContain("releaseMachine");
    h.actor.send({ type: "ROLLOUT_RESUMED" });
    h.clock.increment(backoffDelayMs(fastPolicy, 1));
    await flush();
    expect(h.actorsCalled().at(-1)).toBe("releaseMachine");
  });

  it("lets the request in flight finish and goes on to its next phases", async () => {
    const h = await failedDeployment();
    h.actor.send({ type: "ROLLOUT_PAUSED" });
    await h.status(S.DEPLOYED);
    await flush();
    expect(top(h.actor)).toBe("inService");
    expect(h.emitted.some((e) => e.type === "host.retryHeld")).toBe(false);
  });

  it("still quarantines when its attempts are spent (marking Broken is no retry)", async () => {
    const h = drive({ input: { maasStatus: S.READY, policy: { ...fastPolicy, maxAttempts: { ...fastPolicy.maxAttempts, deploy: 1 } } } });
    await flush();
    h.actor.send({ type: "ROLLOUT_PAUSED" });
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.FAILED_DEPLOYMENT, "curtin failed");
    await flush();
    expect(top(h.actor)).toBe("quarantined");
  });

  it("restored while holding its retry, keeps holding it until the rollout resumes", async () => {
    const h = await failedDeployment();
    h.actor.send({ type: "ROLLOUT_PAUSED" });
    await h.status(S.FAILED_DEPLOYMENT, "curtin failed");
    const saved = h.actor.getPersistedSnapshot();
    h.actor.stop();

    const r = drive({ snapshot: saved });
    r.actor.send({ type: "RESTORED" });
    r.actor.send({ type: "ROLLOUT_PAUSED" });
    r.clock.increment(HOUR);
    await flush();
    expect(r.actorsCalled()).toEqual([]);
    r.actor.send({ type: "ROLLOUT_RESUMED" });
    r.clock.increment(backoffDelayMs(fastPolicy, 1));
    await flush();
    expect(r.actorsCalled()).toEqual(["releaseMachine"]);
  });
});
