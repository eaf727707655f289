/**
 * Fakes for the host machine tests: named actors that record their calls and resolve,
 * reject or hang as a script says, and a driver that runs one host on a SimulatedClock.
 */
import { createActor, fromPromise, SimulatedClock, type Actor, type Snapshot } from "xstate";
import { hostMachine, defaultHostPolicy, type AbortOutput, type EraseMode, type HostEmitted, type HostInput, type HostPolicy } from "../../state-machines/host.ts";
import type { RoleRecheck } from "../../src/roles/recheck.ts";
import { NodeStatus, type NodeStatusCode } from "../../src/model/maas/status.ts";

export const ACTOR_NAMES = [
  "commissionMachine",
  "tagMachine",
  "allocateMachine",
  "deployMachine",
  "releaseMachine",
  "abortMachine",
  "markBroken",
  "layerHost",
] as const;
export type ActorName = (typeof ACTOR_NAMES)[number];

/** "ok" resolves, "hang" never settles (until released by hand), anything else rejects with it. */
export type Outcome = "ok" | "hang" | { reject: unknown } | { resolve: unknown };

export interface Call {
  actor: ActorName;
  input: Record<string, unknown>;
}

export interface Fakes {
  calls: Call[];
  /** Scripted outcomes per actor, consumed in order; "ok" when the script runs out. */
  script: Partial<Record<ActorName, Outcome[]>>;
  /** Resolvers of calls that were told to "hang". */
  hanging: (() => void)[];
  actors: HostActors;
}

/** The actors `hostMachine.provide` takes, each with its own input and output types. */
export type HostActors = Required<NonNullable<Parameters<typeof hostMachine.provide>[0]["actors"]>>;

export function makeFakes(script: Partial<Record<ActorName, Outcome[]>> = {}): Fakes {
  const calls: Call[] = [];
  const hanging: (() => void)[] = [];
  /** One scripted actor: records its input, then resolves, rejects or hangs as the script says. */
  const scripted = <I extends object, O>(name: ActorName) =>
    fromPromise<O, I>(({ input }) => {
      calls.push({ actor: name, input: { ...input } as Record<string, unknown> });
      const outcome = script[name]?.shift() ?? "ok";
      if (outcome === "ok") return Promise.resolve(undefined as O);
      if (outcome === "hang") return new Promise<O>((resolve) => hanging.push(() => resolve(undefined as O)));
      if ("resolve" in outcome) return Promise.resolve(outcome.resolve as O);
      return Promise.reject(outcome.reject);
    });
  const actors = {
    commissionMachine: scripted<{ systemId: string; recommission?: true }, void>("commissionMachine"),
    tagMachine: scripted<{ systemId: string; roles: readonly string[]; recheck?: RoleRecheck }, void>("tagMachine"),
    allocateMachine: scripted<{ systemId: string }, void>("allocateMachine"),
    deployMachine: scripted<{ systemId: string; hostname: string; roles: readonly string[] }, void>("deployMachine"),
    releaseMachine: scripted<{ systemId: string; erase: EraseMode }, void>("releaseMachine"),
    abortMachine: scripted<{ systemId: string }, AbortOutput>("abortMachine"),
    markBroken: scripted<{ systemId: string; reason: string }, void>("markBroken"),
    layerHost: scripted<{ systemId: string; hostname: string; roles: readonly string[] }, void>("layerHost"),
  } satisfies HostActors;
  return { calls, script, hanging, actors };
}

export const fastPolicy: HostPolicy = {
  ...defaultHostPolicy,
  backoffMs: { base: 1_000, max: 8_000 },
};

export function hostInput(overrides: Partial<HostInput> = {}): HostInput {
  return {
    systemId: "abc123",
    hostname: "node-1",
    wave: 0,
    roles: ["compute"],
    maasStatus: NodeStatus.NEW,
    policy: fastPolicy,
    ...overrides,
  };
}

/** Lets promise callbacks (actor resolutions) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

export interface Driven {
  actor: Actor<typeof hostMachine>;
  fakes: Fakes;
  clock: SimulatedClock;
  emitted: HostEmitted[];
  status: (s: NodeStatusCode, message?: string) => Promise<void>;
  actorsCalled: () => ActorName[];
  phases: () => string[];
}

/**
 * Starts a host with fakes. Slot requests are granted at once unless `grantSlots` is false.
 * `snapshot` restores instead of starting fresh.
 */
export function drive(opts: {
  input?: Partial<HostInput>;
  script?: Partial<Record<ActorName, Outcome[]>>;
  grantSlots?: boolean;
  /** A persisted snapshot (`actor.getPersistedSnapshot()`), as the store gives it back. */
  snapshot?: Snapshot<unknown>;
} = {}): Driven {
  const fakes = makeFakes(opts.script);
  const clock = new SimulatedClock();
  const logic = hostMachine.provide({ actors: fakes.actors });
  const actor = opts.snapshot
    ? createActor(logic, { clock, snapshot: opts.snapshot, input: hostInput() }) // input is ignored on restore
    : createActor(logic, { clock, input: hostInput(opts.input) });
  const emitted: HostEmitted[] = [];
  actor.on("*", (e) => {
    emitted.push(e as HostEmitted);
    if (e.type === "host.slotRequest" && opts.grantSlots !== false) actor.send({ type: "SLOT_GRANTED", phase: e.phase });
  });
  actor.start();
  return {
    actor,
    fakes,
    clock,
    emitted,
    status: async (s, message) => {
      actor.send({ type: "MAAS_STATUS", status: s, ...(message ? { message } : {}) });
      await flush();
    },
    actorsCalled: () => fakes.calls.map((c) => c.actor),
    phases: () => emitted.filter((e) => e.type === "host.phase").map((e) => (e as { phase: string }).phase),
  };
}

/** The top-level state name. */
export function top(actor: Actor<typeof hostMachine>): string {
  const v = actor.getSnapshot().value;
  return typeof v === "string" ? v : (Object.keys(v)[0] as string);
}
