/**
 * A small deterministic harness that runs a whole rollout without I/O: a seeded PRNG,
 * a simulated clock shared by every actor, a fake MAAS whose phases succeed, fail or
 * hang by the seed, hostMachine actors and the rolloutMachine glued together with
 * state-machines/glue.ts, exactly as the runtime glues them.
 */
import { createActor, fromPromise, type Actor } from "xstate";
import { hostMachine, defaultHostPolicy, type HostEmitted, type HostPolicy, type CappedPhase, type AbortOutput, type EraseMode } from "../../state-machines/host.ts";
import { rolloutMachine, type RolloutEmitted, type RolloutInput } from "../../state-machines/rollout.ts";
import { hostToRollout, rolloutToHost } from "../../state-machines/glue.ts";
import { NodeStatus as S, ALLOWED_FROM, STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";

/** mulberry32: tiny, fast, good enough for test fates. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** An XState Clock whose time only moves when the harness runs the next timer. */
export class SimClock {
  now = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; seq: number; fn: () => void }>();
  setTimeout = (fn: (...args: unknown[]) => void, ms: number): number => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + Math.max(0, ms), seq: id, fn: () => fn() });
    return id;
  };
  clearTimeout = (id: unknown): void => {
    this.timers.delete(id as number);
  };
  /** Runs the earliest timer (ties in scheduling order); false when none is left. */
  runNext(): boolean {
    let best: [number, { at: number; seq: number; fn: () => void }] | undefined;
    for (const entry of this.timers) {
      if (!best || entry[1].at < best[1].at || (entry[1].at === best[1].at && entry[1].seq < best[1].seq)) best = entry;
    }
    if (!best) return false;
    this.timers.delete(best[0]);
    this.now = best[1].at;
    best[1].fn();
    return true;
  }
}

const MIN = 60_000;

export interface SimOptions {
  seed: number;
  hosts: number;
  waves: string[][] | ((ids: string[]) => string[][]);
  maxInFlight: number;
  phaseCaps: Record<CappedPhase, number>;
  budget: RolloutInput["budget"];
  /** Simulated minutes after a pause before the "operator" sends RESUME. */
  resumeAfterMin: number;
  /** Simulated minute at which the "operator" sends ABORT, if any. */
  abortAtMin?: number;
  policy?: HostPolicy;
}

export interface SimResult {
  outcome: string;
  counts: Record<string, number>;
  transcript: string[];
  violations: string[];
  maxInFlightSeen: number;
  maxPhaseSeen: Record<CappedPhase, number>;
  pauses: number;
  simulatedMinutes: number;
  deployCalls: number;
  abortCalls: number;
  /** Outcomes as the hosts reported them (the rollout stops counting once aborted). */
  hostOutcomes: Record<string, number>;
}

type HostActor = Actor<typeof hostMachine>;

export async function simulate(opts: SimOptions): Promise<SimResult> {
  const clock = new SimClock();
  const ids = Array.from({ length: opts.hosts }, (_, i) => `sys${String(i + 1).padStart(4, "0")}`);
  const waves = typeof opts.waves === "function" ? opts.waves(ids) : opts.waves;
  const waveOf = new Map<string, number>();
  waves.forEach((w, i) => w.forEach((id) => waveOf.set(id, i)));
  const hosts = new Map<string, HostActor>();
  const rng = new Map(ids.map((id) => [id, prng(opts.seed ^ hash(id))]));
  const roll = (id: string) => (rng.get(id) as () => number)();
  const violations: string[] = [];
  const status = new Map<string, NodeStatusCode>();
  const pending = new Map<string, number>();
  const doomed = new Set<string>();
  const deployAttempts = new Map<string, number[]>();
  let deployCalls = 0;
  let abortCalls = 0;
  const hostOutcomes: Record<string, number> = {};

  for (const id of ids) {
    const r = roll(id);
    status.set(id, r < 0.8 ? S.NEW : r < 0.9 ? S.READY : r < 0.95 ? S.DEPLOYED : r < 0.98 ? S.FAILED_DEPLOYMENT : S.BROKEN);
    if (roll(id) < 0.04) doomed.add(id);
  }

  // --- fake MAAS -----------------------------------------------------------
  const deliver = (id: string, s: NodeStatusCode) => {
    const send = () => {
      const actor = hosts.get(id);
      if (actor?.getSnapshot().status === "active") actor.send({ type: "MAAS_STATUS", status: s });
    };
    // The observer sees changes sometimes before, sometimes after the request returns, and repeats some.
    if (roll(id) < 0.5) send();
    else clock.setTimeout(send, 1_000);
    if (roll(id) < 0.1) clock.setTimeout(send, 5_000);
  };
  const setStatus = (id: string, s: NodeStatusCode) => {
    status.set(id, s);
    deliver(id, s);
  };
  const later = (id: string, ms: number, s: NodeStatusCode) => {
    pending.set(id, clock.setTimeout(() => {
      pending.delete(id);
      setStatus(id, s);
    }, ms));
  };
  const allowed = (id: string, op: keyof typeof ALLOWED_FROM) => {
    const s = status.get(id) as NodeStatusCode;
    if ((ALLOWED_FROM[op] as readonly NodeStatusCode[]).includes(s)) return true;
    violations.push(`${id}: ${op} from ${STATUS_LABEL[s]}`);
    return false;
  };
  const conflict = (id: string, op: string) => Promise.reject({ code: "MAAS_CONFLICT", message: `${op} refused for ${id}` });
  const minutes = (id: string, lo: number, hi: number) => Math.round((lo + (hi - lo) * roll(id)) * MIN);

  const actors = {
    commissionMachine: fromPromise<void, { systemId: string }>(({ input: { systemId: id } }) => {
      if (!allowed(id, "commission")) return conflict(id, "commission");
      setStatus(id, S.COMMISSIONING);
      const r = roll(id);
      if (r < 0.08) later(id, minutes(id, 5, 15), S.FAILED_COMMISSIONING);
      else if (r < 0.09) {
        /* hangs: only our timeout notices */
      } else later(id, minutes(id, 8, 15), S.READY);
      return Promise.resolve();
    }),
    tagMachine: fromPromise<void, { systemId: string; roles: readonly string[] }>(() => Promise.resolve()),
    allocateMachine: fromPromise<void, { systemId: string }>(({ input: { systemId: id } }) => {
      if (!allowed(id, "allocate")) return conflict(id, "allocate");
      if (roll(id) < 0.01) return conflict(id, "allocate");
      setStatus(id, S.ALLOCATED);
      return Promise.resolve();
    }),
    deployMachine: fromPromise<void, { systemId: string; hostname: string; roles: readonly string[] }>(({ input: { systemId: id } }) => {
      deployCalls++;
      const attempt = hosts.get(id)?.getSnapshot().context.attempts.deploy ?? -1;
      const seen = deployAttempts.get(id) ?? [];
      if (seen.includes(attempt)) violations.push(`${id}: deployed twice in attempt ${attempt}`);
      deployAttempts.set(id, [...seen, attempt]);
      if (!allowed(id, "deploy")) return conflict(id, "deploy");
      setStatus(id, S.DEPLOYING);
      const r = roll(id);
      if (doomed.has(id) || r < 0.1) later(id, minutes(id, 5, 20), S.FAILED_DEPLOYMENT);
      else if (r < 0.11) {
        /* hangs */
      } else later(id, minutes(id, 10, 20), S.DEPLOYED);
      return Promise.resolve();
    }),
    releaseMachine: fromPromise<void, { systemId: string; erase: EraseMode }>(({ input: { systemId: id } }) => {
      if (!allowed(id, "release")) return conflict(id, "release");
      setStatus(id, S.RELEASING);
      later(id, minutes(id, 1, 3), roll(id) < 0.02 ? S.FAILED_RELEASING : S.READY);
      return Promise.resolve();
    }),
    abortMachine: fromPromise<AbortOutput, { systemId: string }>(({ input: { systemId: id } }) => {
      abortCalls++;
      const s = status.get(id);
      const to = s === S.COMMISSIONING ? S.NEW : s === S.DEPLOYING ? S.ALLOCATED : undefined;
      if (to !== undefined) {
        const t = pending.get(id);
        if (t !== undefined) clock.clearTimeout(t);
        pending.delete(id);
        setStatus(id, to);
      }
      const now = status.get(id);
      return Promise.resolve(now === undefined ? undefined : { status: now });
    }),
    markBroken: fromPromise<void, { systemId: string; reason: string }>(({ input: { systemId: id } }) => {
      status.set(id, S.BROKEN);
      return Promise.resolve();
    }),
    layerHost: fromPromise<void, { systemId: string; hostname: string; roles: readonly string[] }>(({ input: { systemId: id } }) => {
      const ok = roll(id) >= 0.05;
      return new Promise<void>((resolve, reject) => {
        clock.setTimeout(() => (ok ? resolve() : reject({ code: "LAYER_FAILED", message: `layering ${id} failed` })), minutes(id, 3, 6));
      });
    }),
  };

  // --- invariants, watched from the hosts' side ---------------------------
  let inFlight = 0;
  let maxInFlightSeen = 0;
  const maxPhaseSeen: Record<CappedPhase, number> = { commissioning: 0, deploying: 0, layering: 0 };
  const slotOf = new Map<string, CappedPhase | null>();
  const settledPerWave = waves.map(() => 0);

  // --- glue, the same the runtime uses -------------------------------------
  const transcript: string[] = [];
  let pauses = 0;
  const rollout = createActor(rolloutMachine, {
    input: { waves, maxInFlight: opts.maxInFlight, phaseCaps: opts.phaseCaps, budget: opts.budget },
    clock,
  });
  const logic = hostMachine.provide({ actors });
  const policy = opts.policy ?? defaultHostPolicy;

  rollout.on("*", (event) => {
    const e = event as RolloutEmitted;
    transcript.push(`${(clock.now / 1000).toFixed(0).padStart(6)}s ${JSON.stringify(e)}`);
    if (e.type === "rollout.paused") {
      pauses++;
      clock.setTimeout(() => rollout.send({ type: "RESUME" }), opts.resumeAfterMin * MIN);
    }
    const cmd = rolloutToHost(e);
    if (!cmd) return;
    if (cmd.kind === "send") {
      const actor = hosts.get(cmd.systemId);
      if (actor?.getSnapshot().status === "active") actor.send(cmd.event);
      return;
    }
    if (cmd.kind === "broadcast") {
      for (const actor of hosts.values()) if (actor.getSnapshot().status === "active") actor.send(cmd.event);
      return;
    }
    const id = cmd.systemId;
    const wave = cmd.wave;
    for (let w = 0; w < wave; w++) {
      if (settledPerWave[w] !== (waves[w] as string[]).length) violations.push(`${id} of wave ${wave} started before wave ${w} settled`);
    }
    inFlight++;
    maxInFlightSeen = Math.max(maxInFlightSeen, inFlight);
    const actor = createActor(logic, {
      clock,
      input: { systemId: id, hostname: `node-${id}`, wave, roles: ["compute"], maasStatus: status.get(id) as NodeStatusCode, policy },
    });
    hosts.set(id, actor);
    slotOf.set(id, null);
    actor.subscribe((snap) => {
      const now = snap.context.slot;
      if (slotOf.get(id) === now) return;
      slotOf.set(id, now);
      if (!now) return;
      // Count from every host's current snapshot: observers are notified after emitted
      // events are handled, so a running tally would see a released slot late.
      let holding = 0;
      for (const other of hosts.values()) if (other.getSnapshot().context.slot === now) holding++;
      maxPhaseSeen[now] = Math.max(maxPhaseSeen[now], holding);
    });
    actor.on("*", (hostEvent) => {
      const he = hostEvent as HostEmitted;
      if (he.type === "host.settled") {
        inFlight--;
        hostOutcomes[he.outcome] = (hostOutcomes[he.outcome] ?? 0) + 1;
        const w = waveOf.get(id) as number;
        settledPerWave[w] = (settledPerWave[w] ?? 0) + 1;
      }
      // After ABORT the rollout is final; hosts still settle and report, to no one.
      const toRollout = hostToRollout(he);
      if (toRollout && rollout.getSnapshot().status === "active") rollout.send(toRollout);
    });
    actor.start();
  });

  rollout.start();
  if (opts.abortAtMin !== undefined) clock.setTimeout(() => rollout.send({ type: "ABORT", reason: "operator abort" }), opts.abortAtMin * MIN);
  for (;;) {
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
    if (rollout.getSnapshot().status === "done" && inFlight === 0) break;
    if (!clock.runNext()) break;
  }

  const snap = rollout.getSnapshot();
  return {
    outcome: String(snap.value),
    counts: { ...snap.context.totals },
    transcript,
    violations,
    maxInFlightSeen,
    maxPhaseSeen,
    pauses,
    simulatedMinutes: Math.round(clock.now / MIN),
    deployCalls,
    abortCalls,
    hostOutcomes,
  };
}
