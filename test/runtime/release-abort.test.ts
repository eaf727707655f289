/**
 * A re-provisioning's removal from Juju runs inside the host's release (the `releaseMachine`
 * actor's `leave`), and it is the host's work like its layering: an ABORT of the host (or the
 * rollout's, which reaches every host) makes XState stop the actor, whose signal the actor
 * hands to `leave` (the coordinator, then the engine's host lane: test/layers/removal-abort.test.ts);
 * the removal ends and no release is sent to MAAS. The real host machine and `releaseMachine`
 * actor on a simulated clock; `leave` waits until its signal aborts.
 */
import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { hostMachine } from "../../state-machines/host.ts";
import { createHostActors, type HostActorDeps } from "../../src/runtime/host-actors.ts";
import { hostWorkStopped } from "../../src/layers/index.ts";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { flush, hostInput, makeFakes } from "../state-machines/helpers.ts";

const SYSTEM_ID = "abc123";

describe("an abort during a re-provisioning's removal from Juju", () => {
  it("aborts the removal's signal, and the host ends aborted with no release sent", async () => {
    const leaving: { signal: AbortSignal; ended: string }[] = [];
    // releaseMachine uses only `leave` here: the release through MAAS after it must not come (there is no MAAS).
    const deps = {
      leave: (systemId: string, signal: AbortSignal) => {
        const l = { signal, ended: "pending" };
        leaving.push(l);
        return new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            l.ended = "stopped";
            reject(hostWorkStopped("removeUnit", { systemId, hostname: "node-1" }));
          }, { once: true });
        });
      },
    } as Partial<HostActorDeps> as HostActorDeps;
    const { releaseMachine } = createHostActors(deps);
    const fakes = makeFakes();
    const actor = createActor(hostMachine.provide({ actors: { ...fakes.actors, releaseMachine } }), {
      clock: new SimulatedClock(),
      input: hostInput({ systemId: SYSTEM_ID, maasStatus: S.DEPLOYED, roles: ["compute"], reprovision: { erase: "quick" } }),
    });
    actor.on("host.slotRequest", (e) => actor.send({ type: "SLOT_GRANTED", phase: e.phase }));
    const phases: string[] = [];
    actor.on("host.phase", (e) => phases.push(e.phase));
    actor.start();
    await flush();
    // Releasing, its release request (the removal from Juju first) still in flight.
    expect(phases.at(-1)).toBe("releasing");
    expect(leaving).toHaveLength(1);
    expect(leaving[0]?.signal.aborted).toBe(false);

    actor.send({ type: "ABORT", reason: "operator said stop" });
    await flush();
    expect(actor.getSnapshot().status).toBe("done");
    expect(leaving[0]?.signal.aborted).toBe(true);
    expect(leaving[0]?.ended).toBe("stopped");
    // Aborted, not a failed release attempt (which a release sent to no MAAS would have been).
    expect(actor.getSnapshot().output).toEqual({ outcome: "aborted", reason: "operator said stop" });
    expect(actor.getSnapshot().context.lastError ?? null).toBeNull();
  });
});
