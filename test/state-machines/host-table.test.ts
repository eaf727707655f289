/**
 * The host machine's behaviour, as a table: where a host starts from each MAAS status (pure
 * `initialTransition`: no actor runs), then, for each situation, what the host does next,
 * seen from outside: the MAAS work it calls (its named actors, faked), the phases it reports
 * (`host.phase`, the rollout's view), the slots it asks for and how it settles. No nested
 * substate name is asserted: how the machine is built inside may change, this may not.
 */
import { describe, it, expect } from "vitest";
import { initialTransition } from "xstate";
import { hostMachine, HOST_PHASES, backoffDelayMs, type HostEmitted } from "../../state-machines/host.ts";
import { NodeStatus as S, STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { hostInput, fastPolicy, drive, flush, top, type ActorName, type Driven } from "./helpers.ts";

/** The phase a start value is in (the top-level state: a phase of HOST_PHASES). */
function phaseOf(value: unknown): string {
  return typeof value === "string" ? value : (Object.keys(value as object)[0] as string);
}

describe("enlisted routes by MAAS status so a re-run skips finished work", () => {
  const expected: [NodeStatusCode, string][] = [
    [S.NEW, "commissioning"],
    [S.FAILED_COMMISSIONING, "commissioning"],
    [S.COMMISSIONING, "commissioning"],
    [S.READY, "tagging"],
    [S.ALLOCATED, "deploying"],
    [S.DEPLOYING, "deploying"],
    [S.DEPLOYED, "layering"],
    [S.FAILED_DEPLOYMENT, "releasing"],
    [S.BROKEN, "quarantined"],
  ];
  for (const [code, phase] of expected) {
    it(`${STATUS_LABEL[code]} → ${phase}`, () => {
      const [snap] = initialTransition(hostMachine, hostInput({ maasStatus: code }));
      expect(phaseOf(snap.value)).toBe(phase);
    });
  }

  const others = (Object.keys(STATUS_LABEL).map(Number) as NodeStatusCode[]).filter((c) => !expected.some(([e]) => e === c));
  for (const code of others) {
    it(`${STATUS_LABEL[code]} → failed, with the reason`, () => {
      const [snap] = initialTransition(hostMachine, hostInput({ maasStatus: code }));
      expect(snap.value).toBe("failed");
      expect(snap.context.lastError).toEqual({
        phase: "enlisted",
        code: "UNEXPECTED_STATUS",
        message: `MAAS status "${STATUS_LABEL[code]}" is not one a rollout can start from`,
      });
    });
  }

  it("Commissioning/Deploying wait for MAAS instead of sending a new request once the slot is granted", async () => {
    for (const code of [S.COMMISSIONING, S.DEPLOYING]) {
      const h = drive({ input: { maasStatus: code } });
      await flush();
      expect(h.actorsCalled()).toEqual([]);
      expect(h.emitted.some((e) => e.type === "host.slotRequest")).toBe(true);
    }
  });

  it("Broken settles quarantined without calling markBroken (already out of service)", () => {
    const [snap] = initialTransition(hostMachine, hostInput({ maasStatus: S.BROKEN }));
    expect(snap.status).toBe("done");
    expect(snap.context.reason).toContain("already Broken");
  });
});


const T = fastPolicy.timeoutsMs;
const B1 = backoffDelayMs(fastPolicy, 1);
const settled = (h: Driven) => h.emitted.find((e): e is Extract<HostEmitted, { type: "host.settled" }> => e.type === "host.settled")?.outcome ?? null;
const step = {
  status: (s: NodeStatusCode) => (h: Driven) => h.status(s),
  abort: (h: Driven) => h.actor.send({ type: "ABORT" }),
  wait: (ms: number) => (h: Driven) => h.clock.increment(ms),
  grant: (phase: "commissioning" | "deploying" | "layering") => (h: Driven) => h.actor.send({ type: "SLOT_GRANTED", phase }),
  release: (h: Driven) => h.fakes.hanging.shift()?.(),
  restored: (h: Driven) => h.actor.send({ type: "RESTORED" }),
};

interface Row {
  name: string;
  start?: Parameters<typeof drive>[0];
  steps: ((h: Driven) => unknown)[];
  /** The MAAS work called, in order, from the start. */
  calls: ActorName[];
  /** The phase the host reports last (the rollout's view of it). */
  phase: string;
  /** How it settled, null while it has not. */
  outcome: "inService" | "quarantined" | "aborted" | "failed" | null;
}

const lastAttempt = { ...fastPolicy, maxAttempts: { ...fastPolicy.maxAttempts, commission: 1, release: 1 } };

describe("what a host does next", () => {
  const rows: Row[] = [
    { name: "waits for its slot before it commissions", start: { grantSlots: false }, steps: [], calls: [], phase: "commissioning", outcome: null },
    { name: "a grant for another phase is not taken", start: { grantSlots: false }, steps: [step.grant("deploying")], calls: [], phase: "commissioning", outcome: null },
    { name: "a grant for its phase starts the work", start: { grantSlots: false }, steps: [step.grant("commissioning")], calls: ["commissionMachine"], phase: "commissioning", outcome: null },
    { name: "Ready ends commissioning: it tags, allocates and deploys", steps: [step.status(S.COMMISSIONING), step.status(S.READY)], calls: ["commissionMachine", "tagMachine", "allocateMachine", "deployMachine"], phase: "deploying", outcome: null },
    { name: "Failed commissioning with attempts left: no new request until its back-off has passed", steps: [step.status(S.COMMISSIONING), step.status(S.FAILED_COMMISSIONING), step.wait(B1 - 1)], calls: ["commissionMachine"], phase: "commissioning", outcome: null },
    { name: "Failed commissioning with attempts left: commissioned again after the back-off", steps: [step.status(S.COMMISSIONING), step.status(S.FAILED_COMMISSIONING), step.wait(B1)], calls: ["commissionMachine", "commissionMachine"], phase: "commissioning", outcome: null },
    { name: "a repeated Failed commissioning is one failure: one retry, after one back-off", steps: [step.status(S.COMMISSIONING), step.status(S.FAILED_COMMISSIONING), step.status(S.FAILED_COMMISSIONING), step.wait(B1)], calls: ["commissionMachine", "commissionMachine"], phase: "commissioning", outcome: null },
    { name: "Failed commissioning on the last attempt quarantines (marked Broken)", start: { input: { policy: lastAttempt } }, steps: [step.status(S.COMMISSIONING), step.status(S.FAILED_COMMISSIONING)], calls: ["commissionMachine", "markBroken"], phase: "quarantined", outcome: "quarantined" },
    { name: "ABORT with commissioning in flight aborts it in MAAS", steps: [step.status(S.COMMISSIONING), step.abort], calls: ["commissionMachine", "abortMachine"], phase: "aborted", outcome: "aborted" },
    { name: "ABORT while waiting for a slot stops at once, calling nothing", start: { grantSlots: false }, steps: [step.abort], calls: [], phase: "aborted", outcome: "aborted" },
    { name: "ABORT while backing off stops at once, calling nothing more", steps: [step.status(S.COMMISSIONING), step.status(S.FAILED_COMMISSIONING), step.abort], calls: ["commissionMachine"], phase: "aborted", outcome: "aborted" },
    { name: "ABORT while MAAS says Deploying aborts the deploy, even during a back-off", start: { input: { maasStatus: S.ALLOCATED } }, steps: [step.status(S.DEPLOYING), step.status(S.FAILED_DEPLOYMENT), step.status(S.DEPLOYING), step.abort], calls: ["deployMachine", "abortMachine"], phase: "aborted", outcome: "aborted" },
    { name: "Deployed ends deploying; layering waits for its slot", start: { input: { maasStatus: S.ALLOCATED }, grantSlots: false }, steps: [step.grant("deploying"), step.status(S.DEPLOYING), step.status(S.DEPLOYED)], calls: ["deployMachine"], phase: "layering", outcome: null },
    { name: "a machine failed deploying is released after its back-off, then (found Allocated, so never tagged here) tagged, allocated and deployed again", start: { input: { maasStatus: S.ALLOCATED } }, steps: [step.status(S.DEPLOYING), step.status(S.FAILED_DEPLOYMENT), step.wait(B1), step.status(S.RELEASING), step.status(S.READY)], calls: ["deployMachine", "releaseMachine", "tagMachine", "allocateMachine", "deployMachine"], phase: "deploying", outcome: null },
    { name: "ABORT with a deploy in flight aborts it in MAAS", start: { input: { maasStatus: S.ALLOCATED } }, steps: [step.status(S.DEPLOYING), step.abort], calls: ["deployMachine", "abortMachine"], phase: "aborted", outcome: "aborted" },
    { name: "ABORT while layering stops at once (its layer work is cancelled, MAAS is not called)", start: { input: { maasStatus: S.DEPLOYED }, script: { layerHost: ["hang"] } }, steps: [step.abort], calls: ["layerHost"], phase: "aborted", outcome: "aborted" },
    { name: "ABORT while tagging stops at once", start: { input: { maasStatus: S.READY }, script: { tagMachine: ["hang"] } }, steps: [step.abort], calls: ["tagMachine"], phase: "aborted", outcome: "aborted" },
    { name: "Ready after a release of a tagged host allocates without tagging again", start: { input: { maasStatus: S.READY } }, steps: [step.status(S.ALLOCATED), step.status(S.DEPLOYING), step.status(S.FAILED_DEPLOYMENT), step.wait(B1), step.status(S.RELEASING), step.status(S.READY)], calls: ["tagMachine", "allocateMachine", "deployMachine", "releaseMachine", "allocateMachine", "deployMachine"], phase: "deploying", outcome: null },
    { name: "Ready after a release of a host never tagged tags it first", start: { input: { maasStatus: S.FAILED_DEPLOYMENT } }, steps: [step.status(S.RELEASING), step.status(S.READY)], calls: ["releaseMachine", "tagMachine", "allocateMachine", "deployMachine"], phase: "deploying", outcome: null },
    { name: "Failed releasing with attempts left: released again after its back-off", start: { input: { maasStatus: S.FAILED_DEPLOYMENT } }, steps: [step.status(S.RELEASING), step.status(S.FAILED_RELEASING), step.wait(B1)], calls: ["releaseMachine", "releaseMachine"], phase: "releasing", outcome: null },
    { name: "Failed disk erasing on the last release attempt quarantines", start: { input: { maasStatus: S.FAILED_DEPLOYMENT, policy: lastAttempt } }, steps: [step.status(S.DISK_ERASING), step.status(S.FAILED_DISK_ERASING)], calls: ["releaseMachine", "markBroken"], phase: "quarantined", outcome: "quarantined" },
    { name: "ABORT does not interrupt quarantining: it is marked Broken and quarantined", start: { input: { policy: lastAttempt }, script: { markBroken: ["hang"] } }, steps: [step.status(S.COMMISSIONING), step.status(S.FAILED_COMMISSIONING), step.abort, step.release], calls: ["commissionMachine", "markBroken"], phase: "quarantined", outcome: "quarantined" },
    { name: "ABORT does not restart an abort under way: one abort call", start: { input: { maasStatus: S.ALLOCATED }, script: { abortMachine: ["hang"] } }, steps: [step.status(S.DEPLOYING), step.abort, step.abort, step.release], calls: ["deployMachine", "abortMachine"], phase: "aborted", outcome: "aborted" },
    { name: "RESTORED while it waits for MAAS sends no request again", start: { input: { maasStatus: S.ALLOCATED } }, steps: [step.status(S.DEPLOYING), step.restored, step.status(S.DEPLOYED)], calls: ["deployMachine", "layerHost"], phase: "inService", outcome: "inService" },
    { name: "RESTORED during a back-off keeps it: no request before it has passed", start: { input: { maasStatus: S.ALLOCATED } }, steps: [step.status(S.DEPLOYING), step.status(S.FAILED_DEPLOYMENT), step.restored, step.wait(B1 - 1)], calls: ["deployMachine"], phase: "deploying", outcome: null },
    { name: "a deploy that outlives its timeout is aborted and counted as a failed attempt", start: { input: { maasStatus: S.ALLOCATED } }, steps: [step.wait(T.deploy)], calls: ["deployMachine", "abortMachine"], phase: "deploying", outcome: null },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const h = drive(row.start);
      await flush();
      for (const s of row.steps) {
        await s(h);
        await flush();
      }
      expect(h.actorsCalled()).toEqual(row.calls);
      expect(h.phases().at(-1)).toBe(row.phase);
      expect(settled(h)).toBe(row.outcome);
    });
  }

  it("every phase is a top-level state and the final ones are exactly the outcomes", () => {
    expect(Object.keys(hostMachine.root.states).sort()).toEqual([...HOST_PHASES].sort());
    const finals = Object.entries(hostMachine.root.states)
      .filter(([, node]) => node.type === "final")
      .map(([k]) => k)
      .sort();
    expect(finals).toEqual(["aborted", "failed", "inService", "quarantined", "refused"]);
  });

  it("the context stays JSON-serializable (it is what the store keeps)", async () => {
    const h = drive();
    await flush();
    await h.status(S.COMMISSIONING);
    await h.status(S.FAILED_COMMISSIONING);
    const ctx = h.actor.getSnapshot().context;
    expect(JSON.parse(JSON.stringify(ctx))).toEqual(ctx);
    expect(top(h.actor)).toBe("commissioning");
  });
});
