/**
 * The host machine's transition table, computed with XState's pure `transition` /
 * `initialTransition`: no actor runs, no actions execute, no I/O.
 */
import { describe, it, expect } from "vitest";
import { initialTransition, transition, type SnapshotFrom, type StateValue } from "xstate";
import { hostMachine, HOST_PHASES, type HostContext, type HostEvent } from "../../state-machines/host.ts";
import { NodeStatus as S, STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { hostInput, fastPolicy } from "./helpers.ts";

type Snap = SnapshotFrom<typeof hostMachine>;

function topOf(value: StateValue): string {
  return typeof value === "string" ? value : (Object.keys(value)[0] as string);
}

function at(value: StateValue, ctx: Partial<HostContext> = {}): Snap {
  const [initial] = initialTransition(hostMachine, hostInput());
  return hostMachine.resolveState({ value, context: { ...initial.context, ...ctx } });
}

function next(from: Snap, event: HostEvent): Snap {
  return transition(hostMachine, from, event)[0];
}

const status = (s: NodeStatusCode): HostEvent => ({ type: "MAAS_STATUS", status: s });

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
      expect(topOf(snap.value)).toBe(phase);
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

  it("Commissioning/Deploying wait for MAAS instead of sending a new request once the slot is granted", () => {
    for (const [code, phase] of [[S.COMMISSIONING, "commissioning"], [S.DEPLOYING, "deploying"]] as const) {
      const [snap] = initialTransition(hostMachine, hostInput({ maasStatus: code }));
      const granted = next(snap, { type: "SLOT_GRANTED", phase });
      expect(granted.value).toEqual({ [phase]: { slotted: { working: "waiting" } } });
    }
  });

  it("Broken settles quarantined without calling markBroken (already out of service)", () => {
    const [snap] = initialTransition(hostMachine, hostInput({ maasStatus: S.BROKEN }));
    expect(snap.status).toBe("done");
    expect(snap.context.reason).toContain("already Broken");
  });
});

describe("transition table", () => {
  const commissioningWaiting = { commissioning: { slotted: { working: "waiting" } } };
  const deployingWaiting = { deploying: { slotted: { working: "waiting" } } };
  const releasingWaiting = { releasing: { working: "waiting" } };
  const rows: { name: string; from: StateValue; ctx?: Partial<HostContext>; event: HostEvent; to: StateValue | string }[] = [
    { name: "a slot grant for the phase starts work", from: { commissioning: { slotted: "awaitingSlot" } }, event: { type: "SLOT_GRANTED", phase: "commissioning" }, to: { commissioning: { slotted: { working: "requesting" } } } },
    { name: "a grant for another phase is not taken", from: { commissioning: { slotted: "awaitingSlot" } }, event: { type: "SLOT_GRANTED", phase: "deploying" }, to: { commissioning: { slotted: "awaitingSlot" } } },
    { name: "Ready ends commissioning", from: commissioningWaiting, ctx: { maasStatus: S.COMMISSIONING }, event: status(S.READY), to: "tagging" },
    { name: "Failed commissioning backs off while attempts remain", from: commissioningWaiting, ctx: { maasStatus: S.COMMISSIONING, attempts: { commission: 1, deploy: 0, layer: 0, release: 0 } }, event: status(S.FAILED_COMMISSIONING), to: { commissioning: "backingOff" } },
    { name: "Failed commissioning on the last attempt quarantines", from: commissioningWaiting, ctx: { maasStatus: S.COMMISSIONING, attempts: { commission: fastPolicy.maxAttempts.commission, deploy: 0, layer: 0, release: 0 } }, event: status(S.FAILED_COMMISSIONING), to: "quarantining" },
    { name: "a repeated status is a duplicate", from: commissioningWaiting, ctx: { maasStatus: S.FAILED_COMMISSIONING }, event: status(S.FAILED_COMMISSIONING), to: commissioningWaiting },
    { name: "ABORT with commissioning in flight aborts it in MAAS", from: commissioningWaiting, event: { type: "ABORT" }, to: "aborting" },
    { name: "ABORT while waiting for a slot stops at once", from: { commissioning: { slotted: "awaitingSlot" } }, event: { type: "ABORT" }, to: "aborted" },
    { name: "ABORT while backing off stops at once", from: { commissioning: "backingOff" }, event: { type: "ABORT" }, to: "aborted" },
    { name: "ABORT when MAAS says Deploying aborts it, whatever our state", from: { deploying: "backingOff" }, ctx: { maasStatus: S.DEPLOYING }, event: { type: "ABORT" }, to: "aborting" },
    { name: "Deployed ends deploying and layering waits for a slot", from: deployingWaiting, ctx: { maasStatus: S.DEPLOYING }, event: status(S.DEPLOYED), to: { layering: { slotted: "awaitingSlot" } } },
    { name: "Failed deployment backs off", from: deployingWaiting, ctx: { maasStatus: S.DEPLOYING, attempts: { commission: 1, deploy: 1, layer: 0, release: 0 } }, event: status(S.FAILED_DEPLOYMENT), to: { deploying: "backingOff" } },
    { name: "ABORT with a deploy in flight aborts it in MAAS", from: deployingWaiting, event: { type: "ABORT" }, to: "aborting" },
    { name: "ABORT while layering stops at once (the layer actor is cancelled)", from: { layering: { slotted: "working" } }, ctx: { maasStatus: S.DEPLOYED }, event: { type: "ABORT" }, to: "aborted" },
    { name: "ABORT while tagging stops at once", from: { tagging: "working" }, ctx: { maasStatus: S.READY }, event: { type: "ABORT" }, to: "aborted" },
    { name: "Ready after a release goes to allocating when tagged", from: releasingWaiting, ctx: { maasStatus: S.RELEASING, tagged: true }, event: status(S.READY), to: "allocating" },
    { name: "Ready after a release re-tags when tags were never applied", from: releasingWaiting, ctx: { maasStatus: S.RELEASING, tagged: false }, event: status(S.READY), to: "tagging" },
    { name: "Failed releasing backs off", from: releasingWaiting, ctx: { maasStatus: S.RELEASING, attempts: { commission: 0, deploy: 1, layer: 0, release: 1 } }, event: status(S.FAILED_RELEASING), to: { releasing: "backingOff" } },
    { name: "Failed disk erasing on the last release attempt quarantines", from: releasingWaiting, ctx: { maasStatus: S.DISK_ERASING, attempts: { commission: 0, deploy: 1, layer: 0, release: 3 } }, event: status(S.FAILED_DISK_ERASING), to: "quarantining" },
    { name: "ABORT does not interrupt quarantining", from: "quarantining", event: { type: "ABORT" }, to: "quarantining" },
    { name: "ABORT does not restart aborting", from: "aborting", event: { type: "ABORT" }, to: "aborting" },
    { name: "RESTORED re-enters a waiting state in place", from: deployingWaiting, ctx: { maasStatus: S.DEPLOYING, requestSent: true }, event: { type: "RESTORED" }, to: deployingWaiting },
    { name: "RESTORED keeps a back-off backing off", from: { deploying: "backingOff" }, event: { type: "RESTORED" }, to: { deploying: "backingOff" } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const to = next(at(row.from, row.ctx), row.event);
      if (typeof row.to === "string") expect(topOf(to.value)).toBe(row.to);
      else expect(to.value).toEqual(row.to);
    });
  }

  it("every top-level state is reachable in the table or the enlisted routes", () => {
    expect(Object.keys(hostMachine.root.states).sort()).toEqual([...HOST_PHASES].sort());
  });

  it("final states are exactly the outcomes", () => {
    const finals = Object.entries(hostMachine.root.states)
      .filter(([, node]) => node.type === "final")
      .map(([k]) => k)
      .sort();
    expect(finals).toEqual(["aborted", "failed", "inService", "quarantined", "refused"]);
  });

  it("the context stays JSON-serializable", () => {
    const snap = next(at(commissioningWaiting, { maasStatus: S.COMMISSIONING }), status(S.FAILED_COMMISSIONING));
    expect(JSON.parse(JSON.stringify(snap.context))).toEqual(snap.context);
  });
});
