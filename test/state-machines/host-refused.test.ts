/**
 * A re-provisioning refused before anything was changed (the removal from Juju rejects with a
 * code in REFUSAL_CODES: a database or queue pod on a control host's node, without --force),
 * in the pure host machine with fake actors: no failed attempt, no retry, no markBroken; the
 * host ends `refused` with the refusal as its error and a reason that says how to go on.
 * Any other rejection of the same release is a failed attempt as before. No I/O.
 */
import { describe, it, expect } from "vitest";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { REFUSAL_CODES, backoffDelayMs } from "../../state-machines/host.ts";
import { drive, fastPolicy, flush, top } from "./helpers.ts";

const refusal = {
  code: "LAYER_REFUSED",
  message: "layer removal, step guardedPods on ctl-1 (abc123): ctl-1's Kubernetes node runs openstack/mysql-0 (mysql-k8s / rabbitmq-k8s): refused; to go on anyway: metalwave reprovision --force ctl-1",
};

describe("a refused re-provisioning", () => {
  it("ends refused at once: nothing released, nothing marked Broken, no retry; the reason says why and how to go on", async () => {
    expect(REFUSAL_CODES).toContain("LAYER_REFUSED");
    const h = drive({ input: { maasStatus: S.DEPLOYED, roles: ["control"], reprovision: { erase: "quick" } }, script: { releaseMachine: [{ reject: refusal }] } });
    await flush();
    expect(top(h.actor)).toBe("refused");
    expect(h.actor.getSnapshot().status).toBe("done");
    // One releaseMachine call (the one that refused in its leave step), and nothing after it.
    expect(h.actorsCalled()).toEqual(["releaseMachine"]);
    expect(h.phases()).toEqual(["enlisted", "releasing", "refused"]);
    const c = h.actor.getSnapshot().context;
    expect(c.outcome).toBe("refused");
    expect(c.lastError).toMatchObject({ phase: "releasing", code: "LAYER_REFUSED" });
    expect(c.failures).toHaveLength(1);
    expect(c.reason).toMatch(/^re-provisioning refused, nothing changed: .*openstack\/mysql-0.*metalwave reprovision --force ctl-1/);
    expect(h.actor.getSnapshot().output).toEqual({ outcome: "refused", reason: c.reason });
    expect(h.emitted.filter((e) => e.type === "host.settled")).toEqual([{ type: "host.settled", systemId: "abc123", outcome: "refused", reason: c.reason }]);
  });

  it("any other rejection of the release is a failed attempt: backed off and retried", async () => {
    const h = drive({ input: { maasStatus: S.DEPLOYED, reprovision: { erase: "quick" } }, script: { releaseMachine: [{ reject: { code: "LAYER_PRECONDITION", message: "no Kubernetes client" } }] } });
    await flush();
    expect(top(h.actor)).toBe("releasing");
    expect(h.actor.getSnapshot().context.failures).toMatchObject([{ phase: "releasing", code: "LAYER_PRECONDITION", attempt: 1 }]);
    // Backed off: no second release until the back-off has passed on the clock.
    h.clock.increment(backoffDelayMs(fastPolicy, 1) - 1);
    await flush();
    expect(h.actorsCalled()).toEqual(["releaseMachine"]);
    h.clock.increment(1);
    await flush();
    expect(h.actorsCalled()).toEqual(["releaseMachine", "releaseMachine"]);
  });
});
