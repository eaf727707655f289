import { describe, expect, it } from "vitest";
import { tookEffect } from "../../src/model/maas/reconcile.ts";
import type { ReconciledOp } from "../../src/model/maas/reconcile.ts";
import { MachineSchema } from "../../src/maas/schemas.ts";
import type { Machine } from "../../src/maas/schemas.ts";
import { ALLOWED_FROM, NodeStatus as S } from "../../src/model/maas/status.ts";
import type { NodeStatusCode } from "../../src/model/maas/status.ts";
import { machineJson } from "./helpers.ts";

const me = { me: "metalwave" };
function m(status: NodeStatusCode, over: Record<string, unknown> = {}): Machine {
  return MachineSchema.parse(machineJson({ status, ...over }));
}

describe("tookEffect", () => {
  // A lost request leaves the machine where the op starts from: that must never read as done,
  // or the client would report success for an op MAAS never saw.
  it.each<[ReconciledOp, readonly NodeStatusCode[]]>([
    ["commission", ALLOWED_FROM.commission],
    ["deploy", ALLOWED_FROM.deploy],
    ["abort", ALLOWED_FROM.abort],
    ["markFixed", ALLOWED_FROM.markFixed],
    ["allocate", ALLOWED_FROM.allocate],
  ])("%s is not done in any state it starts from", (op, from) => {
    for (const status of from) expect(tookEffect(op, m(status, { owner: status === S.ALLOCATED ? "metalwave" : null }), me)).toBe(false);
  });

  it("release is not done in any state it starts from except those MAAS treats as a no-op", () => {
    for (const status of ALLOWED_FROM.release) expect(tookEffect("release", m(status, { owner: "metalwave" }), me)).toBe(false);
    expect(tookEffect("release", m(S.READY), me)).toBe(true);
  });

  it.each<[ReconciledOp, keyof typeof S, Record<string, unknown>, boolean]>([
    ["commission", "COMMISSIONING", {}, true],
    ["commission", "TESTING", {}, true],
    ["deploy", "DEPLOYING", { owner: "metalwave" }, true],
    ["deploy", "DEPLOYED", { owner: "metalwave" }, true],
    ["deploy", "DEPLOYING", { owner: "alice" }, false],
    ["allocate", "ALLOCATED", { owner: "metalwave" }, true],
    ["allocate", "ALLOCATED", { owner: "alice" }, false],
    ["release", "RELEASING", {}, true],
    ["release", "DISK_ERASING", {}, true],
    ["abort", "ALLOCATED", {}, true],
    ["abort", "NEW", {}, true],
    ["markBroken", "BROKEN", {}, true],
    ["markBroken", "DEPLOYED", {}, false],
    ["markFixed", "READY", {}, true],
    ["powerOn", "DEPLOYED", { power_state: "on" }, true],
    ["powerOn", "DEPLOYED", { power_state: "off" }, false],
    ["powerOff", "DEPLOYED", { power_state: "off" }, true],
  ])("%s, machine %s %o → %s", (op, status, over, done) => {
    expect(tookEffect(op, m(S[status], over), me)).toBe(done);
  });
});
