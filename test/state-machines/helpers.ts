/**
 * Fakes for the host machine tests: named actors that record their calls and resolve,
 * reject or hang as a script says, and a driver that runs one host on a SimulatedClock.
 */
import { createActor, fromPromise, SimulatedClock, type Actor } from "xstate";
import { hostMachine, defaultHostPolicy, type HostEmitted, type HostInput, type HostPolicy } from "../../state-machines/host.ts";
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
  actors: Record<ActorName, ReturnType<typeof fromPromise<void, never>>>;
}

export function makeFakes(script: Partial<Record<ActorName, Outcome[]>> = {}): Fakes {
  const fakes: Fakes = { calls: [], script, hanging: [], actors: {} as Fakes["actors"] };
  for (const name of ACTOR_NAMES) {
    fakes.actors[name] = fromPromise<void, never>(({ input }) => {
      fakes.calls.push({ actor: name, input: input as Record<string, unknown> });
      const outcome = fakes.script[name]?.shift() ?? "ok";
      if (outcome === "ok") return Promise.resolve();
      if (outcome === "hang") return new Promise<void>((resolve) => fakes.hanging.push(resolve));
      if ("resolve" in outcome) return Promise.resolve(outcome.resolve as void);
      return Promise.reject(outcome.reject);
    });
  }
  return fakes;
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
  snapshot?: unknown;
} = {}): Driven {
  const fakes = makeFakes(opts.script);
  const clock = new SimulatedClock();
  const logic = hostMachine.provide({ actors: fakes.actors as never });
  const actor = opts.snapshot
    ? createActor(logic, { clock, snapshot: opts.snapshot as never, input: hostInput() }) // input is ignored on restore
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
