/**
 * A commission whose outcome a crash left unknown, sent from Failed commissioning: when the
 * resumed host reads the machine back it is in Failed commissioning again either way (the
 * request was lost, or it ran and failed while metalwave was down), so the status cannot
 * tell. The machine's commissioning script set can: MAAS makes a new one for every run, and
 * the intent records the one seen before the request. A commission that ran is not sent
 * again (that would be one commissioning more than the host's attempts allow); one that
 * was lost is.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createActor, toPromise } from "xstate";
import { silentLogger } from "../../src/log.ts";
import type { MaasClient } from "../../src/maas/client.ts";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { CallJournal } from "../../src/runtime/call-journal.ts";
import { createHostActors, unknownCallTookEffect, type HostActorDeps } from "../../src/runtime/host-actors.ts";
import { TagBatcher } from "../../src/runtime/tag-batcher.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { MINUTE, rig, type Rig } from "../integration/helpers.ts";

const HOST = "new-a-0001";

let r: Rig | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await r?.close();
  r = undefined;
});

function unused(what: string): never {
  throw new Error(`the commission step does not use ${what}`);
}

/** The host actors' deps for a commission, on the real client, with the observer's last read of the machine. */
function depsFor(maas: MaasClient, calls: CallJournal, lastResultId: () => number | null | undefined): HostActorDeps {
  return {
    maas,
    observer: { note: () => undefined, poke: () => undefined, commissioningResultId: lastResultId },
    tags: new TagBatcher(maas),
    calls,
    logger: silentLogger(),
    agentName: "metalwave-test",
    me: "admin",
    distroSeries: "noble",
    scopeTag: "metalwave",
    sshAuthorizedKeys: [],
    eraseOnRelease: false,
    taggingFor: () => unused("taggingFor"),
    restoredFirstCall: () => false,
    beforeDeploy: () => unused("beforeDeploy"),
    layer: () => unused("layer"),
    leave: () => unused("leave"),
  };
}

/** A machine failed its first commissioning; the crashed process had begun a second one. */
async function crashedMidRetry(sendBeforeCrash: boolean): Promise<{ id: string; rollout: string; callId: number; commissionsBefore: number }> {
  r = await rig({ faults: `commission.fail@${HOST}=1` });
  const { client, sim } = r;
  const id = r.sid(HOST);
  await client.commission(id);
  sim.advance(10 * MINUTE);
  const failed = await client.readMachine(id);
  expect(failed.status).toBe(S.FAILED_COMMISSIONING);
  store = openStore(":memory:");
  const rollout = store.createRollout({ hosts: [] }).id;
  const callId = store.beginCall({ rolloutId: rollout, systemId: id, operation: "commission", params: { commissioningResultId: failed.current_commissioning_result_id } });
  if (sendBeforeCrash) {
    await client.commission(id);
    sim.advance(10 * MINUTE);
    expect((await client.readMachine(id)).status).toBe(S.FAILED_COMMISSIONING);
  }
  return { id, rollout, callId, commissionsBefore: sim.region.bySystemId.get(id)!.counts.commissioned };
}

/** The commission step's end: "sent" when it resolved, else the code it failed with. */
async function stepEnd(run: Promise<unknown>): Promise<string> {
  return run.then(
    () => "sent",
    (e: unknown) => (e as { code?: string }).code ?? String(e),
  );
}

/**
 * A commission that ran and failed while metalwave was down leaves the machine in the failed
 * status the host already holds: no status change will tell the host, so the step itself
 * ends the attempt as failed (else the host waits for a change that never comes: a resumed
 * rollout that never ended, fleet-1000 and crash-remediation in CI).
 */
async function resumeCommission(id: string, rollout: string): Promise<string> {
  const calls = new CallJournal(store!, rollout);
  const actors = createHostActors(depsFor(r!.client, calls, () => undefined));
  return stepEnd(toPromise(createActor(actors.commissionMachine, { input: { systemId: id } }).start()));
}

describe("a commission retry a crash left unknown", () => {
  it("MAAS shows a new commissioning script set for each run, so the id differs after a second commissioning", async () => {
    r = await rig({ faults: `commission.fail@${HOST}=1` });
    const id = r.sid(HOST);
    expect((await r.client.readMachine(id)).current_commissioning_result_id).toBeNull();
    await r.client.commission(id);
    const first = (await r.client.readMachine(id)).current_commissioning_result_id;
    expect(first).toEqual(expect.any(Number));
    r.sim.advance(10 * MINUTE);
    await r.client.commission(id);
    const second = (await r.client.readMachine(id)).current_commissioning_result_id;
    expect(second).toEqual(expect.any(Number));
    expect(second).not.toBe(first);
  });

  it("that ran and failed while metalwave was down is reconciled as taken, and not sent again", async () => {
    const { id, rollout, callId, commissionsBefore } = await crashedMidRetry(true);
    expect(await resumeCommission(id, rollout)).toBe("MAAS_FAILED_STATUS");
    expect(r!.sim.region.bySystemId.get(id)!.counts.commissioned).toBe(commissionsBefore);
    expect(store!.openCalls(rollout)).toEqual([]);
    const ended = store!.journal(rollout).filter((e) => e.kind === "maas_call").map((e) => e.data as { callId?: number; outcome?: string; event?: string });
    expect(ended).toContainEqual(expect.objectContaining({ event: "end", callId, outcome: "ok" }));
  });

  // The runner settles every open call when it resumes, before any host acts (a host then finds
  // none open): that settling must read the script set too, or the call is closed as not taken
  // and the host sends it again (crash-remediation: a host meant to be quarantined came back).
  it("is judged the same when the resuming runner settles the open calls before the hosts start, and the restored host does not send it again", async () => {
    /** As the runner resumes: every open call settled by reading its machine, then the restored host's first request. */
    const resumeAsRunner = async (id: string, rollout: string, callId: number): Promise<{ taken: boolean; end: string }> => {
      const calls = new CallJournal(store!, rollout);
      const taken = unknownCallTookEffect("commission", await r!.client.readMachine(id), "admin", calls.paramsOf(callId));
      calls.reconciled(callId, taken);
      let first = true;
      const deps = { ...depsFor(r!.client, calls, () => undefined), restoredFirstCall: () => first && !(first = false) };
      const end = await stepEnd(toPromise(createActor(createHostActors(deps).commissionMachine, { input: { systemId: id } }).start()));
      return { taken, end };
    };
    const ran = await crashedMidRetry(true);
    expect(await resumeAsRunner(ran.id, ran.rollout, ran.callId)).toEqual({ taken: true, end: "MAAS_FAILED_STATUS" });
    expect(r!.sim.region.bySystemId.get(ran.id)!.counts.commissioned).toBe(ran.commissionsBefore);
    store?.close();
    await r?.close();
    const lost = await crashedMidRetry(false);
    expect(await resumeAsRunner(lost.id, lost.rollout, lost.callId)).toEqual({ taken: false, end: "sent" });
    expect(r!.sim.region.bySystemId.get(lost.id)!.counts.commissioned).toBe(lost.commissionsBefore + 1);
  });

  it("that never reached MAAS is sent again", async () => {
    const { id, rollout, commissionsBefore } = await crashedMidRetry(false);
    await resumeCommission(id, rollout);
    expect(r!.sim.region.bySystemId.get(id)!.counts.commissioned).toBe(commissionsBefore + 1);
  });

  // A host restored before the observer's first read has no script set id to record: recording
  // null ("none yet") would make the machine's existing set look new after any crash, and a
  // retry lost before it reached MAAS would pass for one that ran (fleet-1000: a host left
  // waiting forever). The step reads the machine for the id instead.
  it("records the machine's script set read from MAAS when the observer has seen none, so a lost retry is not taken for one that ran", async () => {
    r = await rig({ faults: `commission.fail@${HOST}=1` });
    const id = r.sid(HOST);
    await r.client.commission(id);
    r.sim.advance(10 * MINUTE);
    const failed = await r.client.readMachine(id);
    expect(failed.current_commissioning_result_id).toEqual(expect.any(Number));
    store = openStore(":memory:");
    const rollout = store.createRollout({ hosts: [] }).id;
    const calls = new CallJournal(store, rollout);
    expect(await stepEnd(toPromise(createActor(createHostActors(depsFor(r.client, calls, () => undefined)).commissionMachine, { input: { systemId: id } }).start()))).toBe("sent");
    const begun = store.journal(rollout).filter((e) => e.kind === "maas_call").map((e) => e.data as { event?: string; params?: unknown }).filter((d) => d.event === "begin");
    expect(begun).toEqual([expect.objectContaining({ params: { commissioningResultId: failed.current_commissioning_result_id } })]);
    // Judged by that record, the machine as it was before the request proves nothing ran.
    expect(unknownCallTookEffect("commission", failed, "admin", begun[0]!.params)).toBe(false);
  });
});
