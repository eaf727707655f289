/**
 * Re-commissioning during a re-provisioning, in the pure host machine with fake actors:
 * after the release the Ready machine is commissioned again (as data in the reprovision
 * input, through the same commissioning phase, slot and retry rules), then tagged with
 * the role recheck, allocated, deployed and layered. No I/O.
 */
import type { Snapshot } from "xstate";
import { describe, it, expect } from "vitest";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { backoffDelayMs, type Reprovision } from "../../state-machines/host.ts";
import type { RoleRecheck } from "../../src/roles/index.ts";
import { drive, flush, top, fastPolicy } from "./helpers.ts";

const recheck: RoleRecheck = {
  match: [{ role: "storage", rule: { disks: { count: { min: 4 }, minSizeGiB: 1000, nonBoot: true } } }],
  diskTags: ["ceph"],
  cephDisks: [{ role: "storage", rule: { tag: "ceph", nonBoot: true, minSizeGiB: 1000 } }],
};
const withRecommission: Reprovision = { erase: "quick", recommission: true, recheck };

/** Persisted like the runtime does it: through JSON. */
function persisted(h: ReturnType<typeof drive>): Snapshot<unknown> {
  return JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
}

/** Release with erase, then the machine is Ready again. */
async function released(h: ReturnType<typeof drive>): Promise<void> {
  await flush();
  await h.status(S.DISK_ERASING);
  await h.status(S.READY);
}

describe("re-commissioning a re-provisioned host", () => {
  it("releases with the erase asked for, commissions the Ready machine again, then tags with the recheck, deploys and layers", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED, roles: ["storage"], reprovision: withRecommission } });
    await released(h);
    expect(top(h.actor)).toBe("commissioning");
    expect(h.actorsCalled()).toEqual(["releaseMachine", "commissionMachine"]);
    await h.status(S.COMMISSIONING);
    await h.status(S.READY);
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.DEPLOYED);
    expect(top(h.actor)).toBe("inService");
    expect(h.phases()).toEqual(["enlisted", "releasing", "commissioning", "tagging", "allocating", "deploying", "deployed", "layering", "inService"]);
    expect(h.fakes.calls.map((c) => [c.actor, c.input])).toEqual([
      ["releaseMachine", { systemId: "abc123", erase: "quick", leave: true }],
      ["commissionMachine", { systemId: "abc123", recommission: true }],
      ["tagMachine", { systemId: "abc123", roles: ["storage"], recheck }],
      ["allocateMachine", { systemId: "abc123" }],
      ["deployMachine", { systemId: "abc123", hostname: "node-1", roles: ["storage"] }],
      ["layerHost", { systemId: "abc123", hostname: "node-1", roles: ["storage"] }],
    ]);
    // One commission attempt and one deploy cycle: the release before the commissioning spends no deploy attempt.
    expect(h.actor.getSnapshot().context.attempts).toMatchObject({ commission: 1, deploy: 1, release: 0, layer: 1 });
  });

  it("waits for a commissioning slot after the release, like any commissioning", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED, reprovision: withRecommission }, grantSlots: false });
    await released(h);
    expect(h.actorsCalled()).toEqual(["releaseMachine"]);
    expect(h.emitted.filter((e) => e.type === "host.slotRequest").map((e) => (e as { phase: string }).phase)).toEqual(["commissioning"]);
    h.actor.send({ type: "SLOT_GRANTED", phase: "commissioning" });
    await flush();
    expect(h.actorsCalled()).toEqual(["releaseMachine", "commissionMachine"]);
  });

  it("re-provisions from Failed deployment with a re-commissioning too", async () => {
    const h = drive({ input: { maasStatus: S.FAILED_DEPLOYMENT, reprovision: withRecommission } });
    await flush();
    await h.status(S.RELEASING);
    await h.status(S.READY);
    expect(h.actorsCalled()).toEqual(["releaseMachine", "commissionMachine"]);
    expect(h.fakes.calls[0]?.input).toEqual({ systemId: "abc123", erase: "quick", leave: true });
  });

  it("retries a failed re-commissioning by the commission budget and quarantines when it is spent", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED, reprovision: withRecommission } });
    await released(h);
    for (let attempt = 1; attempt <= fastPolicy.maxAttempts.commission; attempt++) {
      await flush();
      await h.status(S.COMMISSIONING);
      await h.status(S.FAILED_COMMISSIONING, `lshw failed ${attempt}`);
      h.clock.increment(backoffDelayMs(fastPolicy, attempt));
    }
    await flush();
    const commissions = h.fakes.calls.filter((c) => c.actor === "commissionMachine");
    expect(commissions.map((c) => c.input)).toEqual([
      { systemId: "abc123", recommission: true },
      { systemId: "abc123", recommission: true },
      { systemId: "abc123", recommission: true },
    ]);
    expect(h.fakes.calls.find((c) => c.actor === "markBroken")?.input).toEqual({
      systemId: "abc123",
      reason: 'commissioning failed 3 time(s); last error MAAS_FAILED_STATUS: MAAS reports "Failed commissioning": lshw failed 3',
    });
    expect(top(h.actor)).toBe("quarantined");
    expect(h.actorsCalled()).not.toContain("tagMachine");
  });

  it("after one failed re-commissioning attempt, the retry ending Ready goes on to the deploy cycle", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED, reprovision: withRecommission } });
    await released(h);
    await h.status(S.COMMISSIONING);
    await h.status(S.FAILED_COMMISSIONING, "boom");
    h.clock.increment(backoffDelayMs(fastPolicy, 1));
    await flush();
    await h.status(S.COMMISSIONING);
    await h.status(S.READY);
    expect(top(h.actor)).toBe("deploying");
    expect(h.actor.getSnapshot().context).toMatchObject({ attempts: { commission: 2, deploy: 1 }, reprovisionCommissioned: true });
  });

  it("a deploy retry after the re-commissioning releases without erase and does not commission again", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED, reprovision: withRecommission } });
    await released(h);
    await h.status(S.COMMISSIONING);
    await h.status(S.READY);
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.FAILED_DEPLOYMENT, "curtin failed");
    h.clock.increment(backoffDelayMs(fastPolicy, 1));
    await flush();
    await h.status(S.RELEASING);
    await h.status(S.READY);
    await h.status(S.ALLOCATED);
    await h.status(S.DEPLOYING);
    await h.status(S.DEPLOYED);
    expect(top(h.actor)).toBe("inService");
    expect(h.fakes.calls.filter((c) => c.actor === "releaseMachine").map((c) => [c.input.erase, c.input.leave])).toEqual([["quick", true], ["none", false]]);
    expect(h.actorsCalled().filter((a) => a === "commissionMachine")).toHaveLength(1);
    expect(h.actorsCalled().filter((a) => a === "tagMachine")).toHaveLength(1);
  });

  it("a re-commissioning that MAAS finished while the host waited (commission request sent) is not sent again", async () => {
    const first = drive({ input: { maasStatus: S.DEPLOYED, reprovision: withRecommission } });
    await released(first);
    await first.status(S.COMMISSIONING);
    // The commission request was answered and MAAS is commissioning: the host waits for MAAS.
    expect(first.actorsCalled()).toEqual(["releaseMachine", "commissionMachine"]);
    expect(first.fakes.hanging).toHaveLength(0);
    expect(first.phases().at(-1)).toBe("commissioning");
    const snapshot = persisted(first);
    first.actor.stop();

    const second = drive({ snapshot });
    second.actor.send({ type: "RESTORED" });
    await flush();
    expect(second.actorsCalled()).toEqual([]);
    await second.status(S.READY);
    expect(second.actorsCalled()).toEqual(["tagMachine", "allocateMachine", "deployMachine"]);
    expect(second.fakes.calls[0]?.input).toMatchObject({ recheck });
  });

  it("restored before its commission request was accepted, with MAAS still Ready: commissions (the runtime's actor decides whether it took effect)", async () => {
    const first = drive({ input: { maasStatus: S.DEPLOYED, reprovision: withRecommission }, script: { commissionMachine: ["hang"] } });
    await released(first);
    // The commission request is in flight, not yet answered.
    expect(first.actorsCalled()).toEqual(["releaseMachine", "commissionMachine"]);
    expect(first.fakes.hanging).toHaveLength(1);
    expect(first.phases().at(-1)).toBe("commissioning");
    const snapshot = persisted(first);
    first.actor.stop();

    const second = drive({ snapshot });
    await flush();
    expect(second.actorsCalled()).toEqual(["commissionMachine"]);
    expect(second.fakes.calls[0]?.input).toEqual({ systemId: "abc123", recommission: true });
  });

  it("without recommission, a re-provisioning neither commissions nor passes a recheck to tagging", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED, reprovision: { erase: "quick", recheck } } });
    await released(h);
    expect(h.actorsCalled()).toEqual(["releaseMachine", "tagMachine", "allocateMachine", "deployMachine"]);
    expect(h.fakes.calls.find((c) => c.actor === "tagMachine")?.input).toEqual({ systemId: "abc123", roles: ["compute"] });
  });

  it("a first commissioning (New machine) is not a re-commissioning: plain input, Ready after it goes on", async () => {
    const h = drive({ input: { maasStatus: S.NEW, reprovision: withRecommission } });
    await flush();
    expect(h.fakes.calls[0]?.input).toEqual({ systemId: "abc123" });
  });
});
