/**
 * A host's layering attempt that ends without its work (the layering state's timeout, an
 * ABORT) stops that work in the layer engine: XState stops the `layerHost` actor, whose
 * signal the actor hands through the coordinator to the engine, and the engine's wait for
 * that host ends with LAYER_STOPPED, so the retry the host machine starts is the only
 * work for the host. The real host machine on a simulated clock, the real `layerHost`
 * actor, coordinator and engine; a compute host waits in the engine for a control plane
 * that never comes. Other actors are the host machine tests' fakes.
 */
import { describe, expect, it } from "vitest";
import { createActor, SimulatedClock } from "xstate";
import { backoffDelayMs, hostMachine } from "../../state-machines/host.ts";
import { createHostActors, type HostActorDeps } from "../../src/runtime/host-actors.ts";
import { LayerCoordinator } from "../../src/runtime/layer-coordinator.ts";
import { createLayering, LayerError } from "../../src/layers/index.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas } from "../fakes/maas.ts";
import type { SshPort } from "../../src/ssh/port.ts";
import { ScriptedSsh } from "../fakes/ssh.ts";
import { NodeStatus as S } from "../../src/model/maas/status.ts";
import { silentLogger } from "../../src/log.ts";
import { fastPolicy, flush, hostInput, makeFakes } from "../state-machines/helpers.ts";

const SYSTEM_ID = "abc123";

function setup() {
  const ssh = new ScriptedSsh() satisfies SshPort;
  const commands = ssh.commands;
  const maas = new FakeMaas().add({ system_id: SYSTEM_ID, hostname: "node-1", ip_addresses: ["10.0.0.1"] }) satisfies MaasPort;
  const layering = createLayering({ ssh, logger: silentLogger(), pollMs: 0, sleep: flush, policy: { attempts: 1, backoffMs: 0, commandTimeoutMs: 5000 } });
  const coordinator = new LayerCoordinator({ layering, maas, logger: silentLogger(), roles: new Map([[SYSTEM_ID, ["compute"]]]) });
  coordinator.started(SYSTEM_ID);

  // Each layering attempt: the signal XState gave it and how its work ended.
  const attempts: { signal: AbortSignal; ended: unknown }[] = [];
  // layerHost uses only `layer` of its dependencies.
  const deps = {
    layer: (h: Parameters<HostActorDeps["layer"]>[0], signal: AbortSignal) => {
      const a = { signal, ended: "pending" as unknown };
      attempts.push(a);
      const work = coordinator.layer(h, signal);
      work.then(
        () => (a.ended = "done"),
        (e: unknown) => (a.ended = e),
      );
      return work;
    },
  } as Partial<HostActorDeps> as HostActorDeps;
  const { layerHost } = createHostActors(deps);
  const fakes = makeFakes();
  const clock = new SimulatedClock();
  const actor = createActor(hostMachine.provide({ actors: { ...fakes.actors, layerHost } }), {
    clock,
    input: hostInput({ systemId: SYSTEM_ID, maasStatus: S.DEPLOYED, roles: ["compute"] }),
  });
  actor.on("host.slotRequest", (e) => actor.send({ type: "SLOT_GRANTED", phase: e.phase }));
  actor.start();
  return { actor, clock, attempts, commands, layering };
}

function expectStoppedInEngine(ended: unknown): void {
  expect(ended).toBeInstanceOf(LayerError);
  expect((ended as LayerError).code).toBe("LAYER_STOPPED");
  expect((ended as LayerError).systemId).toBe(SYSTEM_ID);
  // The engine's own wait for the control plane ended, not only the coordinator's.
  expect((ended as LayerError).step).toBe("controlPlaneReady");
}

describe("a layering attempt that ends stops the host's work in the engine", () => {
  it("a layering timeout aborts the attempt's signal, the engine's wait for the host ends, and the retry runs alone", async () => {
    const { actor, clock, attempts, commands } = setup();
    await flush();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.ended).toBe("pending"); // waiting in the engine for the control plane

    clock.increment(fastPolicy.timeoutsMs.layer);
    await flush();
    // Still layering, no second attempt before the back-off: the retry below starts after it.
    expect(actor.getSnapshot().matches("layering")).toBe(true);
    expect(attempts).toHaveLength(1);
    expect(actor.getSnapshot().context.lastError).toMatchObject({ phase: "layering", code: "PHASE_TIMEOUT" });
    expect(attempts[0]?.signal.aborted).toBe(true);
    expectStoppedInEngine(attempts[0]?.ended);

    clock.increment(backoffDelayMs(fastPolicy, 1));
    await flush();
    expect(attempts).toHaveLength(2);
    expect(attempts[1]?.signal.aborted).toBe(false);
    expect(attempts[1]?.ended).toBe("pending");
    expect(commands).toEqual([]);
  });

  it("an ABORT while layering aborts the attempt's signal and ends the engine's wait for the host", async () => {
    const { actor, attempts, layering } = setup();
    await flush();
    actor.send({ type: "ABORT", reason: "operator said stop" });
    await flush();
    expect(actor.getSnapshot().status).toBe("done");
    expect(attempts).toHaveLength(1);
    expectStoppedInEngine(attempts[0]?.ended);
    // Only that host's work stopped: the engine is still open.
    let ready = false;
    void layering.whenControlPlaneReady().then(() => (ready = true), () => (ready = true));
    await flush();
    expect(ready).toBe(false);
  });
});
