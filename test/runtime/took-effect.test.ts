/**
 * The host's "is this step already done?" rule after a restart: a restored snapshot can
 * be a step behind MAAS, and a step MAAS is already past must not be sent again.
 */
import { describe, expect, it } from "vitest";
import { operationTookEffect } from "../../src/runtime/host-actors.ts";
import { NodeStatus as S, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { fakeMachine } from "../fakes/maas.ts";
import type { Machine } from "../../src/maas/port.ts";

const m = (status: NodeStatusCode, owner: string | null = "admin"): Machine => fakeMachine({ system_id: "abc", status, owner });

describe("operationTookEffect", () => {
  it("counts a commission done once the machine is Ready or further on, not while it is New or failed", () => {
    for (const s of [S.COMMISSIONING, S.READY, S.ALLOCATED, S.DEPLOYING, S.DEPLOYED]) expect(operationTookEffect("commission", m(s), "admin")).toBe(true);
    for (const s of [S.NEW, S.FAILED_COMMISSIONING]) expect(operationTookEffect("commission", m(s), "admin")).toBe(false);
  });

  it("counts an allocation done when the machine is allocated to us or being deployed for us, never for someone else", () => {
    for (const s of [S.ALLOCATED, S.DEPLOYING, S.DEPLOYED]) expect(operationTookEffect("allocate", m(s), "admin")).toBe(true);
    expect(operationTookEffect("allocate", m(S.DEPLOYING, "bob"), "admin")).toBe(false);
    expect(operationTookEffect("allocate", m(S.READY, null), "admin")).toBe(false);
  });

  it("counts a deploy done only when MAAS is deploying or has deployed it for us", () => {
    expect(operationTookEffect("deploy", m(S.DEPLOYING), "admin")).toBe(true);
    expect(operationTookEffect("deploy", m(S.ALLOCATED), "admin")).toBe(false);
  });
});
