/**
 * `rolloutMachine`: the pure controller of a whole rollout. It does not own host
 * actors (the runtime does); it follows their progress through the events the runtime
 * forwards (HOST_*), and says what to do next through emitted events (rollout.*):
 * which host to start, which host may take a phase slot, when to stop.
 *
 * Cost: each event touches only the current wave's counters and the in-flight hosts
 * (at most maxInFlight of them), never the whole fleet. The only O(fleet) work is
 * building the context (and deriving it from the hosts' records on resume).
 * See docs/pipeline.md for the rules (waves, window, slots, budgets, pause, resume).
 * Its types (input, context, events) are in rollout/contract.ts; the pure parts of several
 * regions (keys, per-region waves and budgets, a region planned late) in rollout/regions.ts,
 * the few lines that apply them here, beside the rules they change.
 */
import { setup, enqueueActions, assign } from "xstate";
import { ConfigError } from "../src/errors.ts";
import { CAPPED_PHASES, isCappedPhase, type CappedPhase, type HostOutcome } from "./host.ts";
import { parseBudget, parseBudgetSpec } from "./waves.ts";
import { mergeRegionWaves, regionBudgets, regionOfKey, regionOverBudget, splitByAvailability } from "./rollout/regions.ts";

import type { BudgetBreach, InFlightHost, OutcomeCounts, RolloutContext, RolloutEmitted, RolloutEvent, RolloutInput, SlotClaim } from "./rollout/contract.ts";
export type { BudgetBreach, InFlightHost, OutcomeCounts, PauseInfo, ResumeHostRecord, RolloutContext, RolloutEmitted, RolloutEvent, RolloutInput, RolloutStateName } from "./rollout/contract.ts";

// ---------------------------------------------------------------------------
// Pure core: (context, event) → (context, emitted events). The machine is a thin
// shell around these, so they are also what the tests and the simulation exercise.
// ---------------------------------------------------------------------------

export function emptyCounts(): OutcomeCounts {
  return { inService: 0, quarantined: 0, aborted: 0, refused: 0, failed: 0 };
}

/**
 * Quarantined and failed hosts spend the budget; aborted ones were stopped on purpose, and refused
 * ones (a re-provisioning refused before it changed anything) are not a machine's failure.
 */
export function failuresOf(c: OutcomeCounts): number {
  return c.quarantined + c.failed;
}

function settledOf(c: OutcomeCounts): number {
  return c.inService + c.quarantined + c.aborted + c.refused + c.failed;
}

export interface Step {
  context: RolloutContext;
  emitted: RolloutEmitted[];
}

type Owned = "inFlight" | "slotQueue" | "slotsInUse" | "countsByWave" | "totals";

/**
 * Copy-on-write draft: each touched structure is copied once per event, then mutated; except
 * the in-flight map and the slot queues, which a step updates in place. Copying the map's up
 * to maxInFlight entries on every slot request, release and settle (seven events per host)
 * was the rollout machine's largest cost (docs/bench.md, issue 12). Both belong to the
 * machine's current context alone: the machine hands each step its latest context and never
 * reads an older one, and nothing outside reads them but through the current snapshot.
 */
class Draft {
  readonly c: RolloutContext;
  readonly out: RolloutEmitted[] = [];
  private readonly owned = new Set<Owned>();
  constructor(context: RolloutContext) {
    this.c = { ...context };
  }
  own<K extends Owned>(key: K): K extends "inFlight" ? Map<string, InFlightHost> : RolloutContext[K] {
    if (!this.owned.has(key)) {
      this.owned.add(key);
      const c = this.c;
      switch (key) {
        case "inFlight":
        case "slotQueue":
          // Updated in place (see the class's comment).
          break;
        case "slotsInUse":
          c.slotsInUse = { ...c.slotsInUse };
          break;
        case "countsByWave":
          c.countsByWave = [...c.countsByWave];
          break;
        case "totals":
          c.totals = { ...c.totals };
          break;
      }
    }
    return this.c[key] as K extends "inFlight" ? Map<string, InFlightHost> : RolloutContext[K];
  }
  done(): Step {
    return { context: this.c, emitted: this.out };
  }
}

function waveDone(c: RolloutContext, wave: number): boolean {
  const counts = c.countsByWave[wave];
  const hosts = c.waves[wave];
  return counts !== undefined && hosts !== undefined && settledOf(counts) >= hosts.length;
}

function grantNext(d: Draft, phase: CappedPhase): void {
  const c = d.c;
  while (c.slotsInUse[phase] < c.phaseCaps[phase] && c.slotQueue[phase].length > 0) {
    const queue = d.own("slotQueue")[phase];
    const ticket = queue.shift() as { systemId: string; seq: number };
    const host = c.inFlight.get(ticket.systemId);
    // Stale tickets (host released or settled, or asked again since) are skipped.
    if (!host || !host.slot || host.slot.phase !== phase || host.slot.granted || host.slot.seq !== ticket.seq) continue;
    d.own("inFlight").set(ticket.systemId, { ...host, slot: { ...host.slot, granted: true } });
    d.own("slotsInUse")[phase] += 1;
    d.out.push({ type: "rollout.grantSlot", systemId: ticket.systemId, phase });
  }
}

/** Drops whatever slot claim the host has (held or queued) and hands the freed slot on. */
function dropClaim(d: Draft, systemId: string): void {
  const host = d.c.inFlight.get(systemId);
  if (!host || !host.slot) return;
  const { phase, granted } = host.slot;
  d.own("inFlight").set(systemId, { ...host, slot: null });
  if (granted) {
    d.own("slotsInUse")[phase] -= 1;
    grantNext(d, phase);
  }
}

function countInRegion(c: RolloutContext, systemId: string, delta: number): void {
  const r = regionOfKey(systemId);
  if (r !== null) c.inFlightByRegion = { ...c.inFlightByRegion, [r]: (c.inFlightByRegion[r] ?? 0) + delta };
}

/**
 * The hosts that fill the in-flight window: those of a region that is down wait in their
 * calls and do not hold the other regions back (the window may run over by them once the
 * region is back, until they settle).
 */
function windowCount(c: RolloutContext): number {
  let n = c.inFlightCount;
  // for…in: no array per call (this runs for every host started).
  for (const r in c.regionsDown) n -= c.inFlightByRegion[r] ?? 0;
  return n;
}

/** Starts hosts of the current wave while the window has room (never while paused). */
function fill(d: Draft): void {
  const c = d.c;
  if (c.pause !== null) return;
  const hosts = c.waves[c.wave];
  if (!hosts) return;
  const start = (systemId: string) => {
    d.own("inFlight").set(systemId, { wave: c.wave, slot: null });
    c.inFlightCount += 1;
    countInRegion(c, systemId, 1);
    d.out.push({ type: "rollout.startHost", systemId, wave: c.wave });
  };
  // Hosts passed over while their region was down go first, once it answers again.
  if (c.waiting.length > 0) {
    const { ready, waiting } = splitByAvailability(c.waiting, c.regionsDown);
    const room = Math.max(0, c.maxInFlight - windowCount(c));
    ready.slice(0, room).forEach(start);
    c.waiting = [...ready.slice(room), ...waiting];
  }
  let passedOver: string[] | undefined;
  while (windowCount(c) < c.maxInFlight && c.nextIndex < hosts.length) {
    const systemId = hosts[c.nextIndex] as string;
    c.nextIndex += 1;
    if (c.alreadyStarted[systemId]) continue;
    const region = regionOfKey(systemId);
    if (region !== null && c.regionsDown[region]) {
      (passedOver ??= [...c.waiting]).push(systemId);
      continue;
    }
    start(systemId);
  }
  if (passedOver) c.waiting = passedOver;
}

/** Moves past settled waves, announces the current one, fills the window. Does nothing while paused. */
function kick(d: Draft): void {
  const c = d.c;
  if (c.pause !== null) return;
  while (c.wave < c.waves.length && waveDone(c, c.wave)) {
    c.wave += 1;
    c.nextIndex = 0;
    c.acknowledged = { ...c.acknowledged, wave: 0 };
    c.waiting = [];
  }
  if (c.wave >= c.waves.length) return;
  if (c.startedWave < c.wave) {
    c.startedWave = c.wave;
    d.out.push({ type: "rollout.waveStarted", wave: c.wave, size: (c.waves[c.wave] as string[]).length });
  }
  fill(d);
}

function checkBudgets(c: RolloutContext, wave: number, region: string | null = null): BudgetBreach | null {
  const counts = c.countsByWave[wave];
  const hosts = c.waves[wave];
  if (counts && hosts) {
    const failures = failuresOf(counts) - (wave === c.wave ? c.acknowledged.wave : 0);
    const limit = parseBudget(c.budget.perWave, hosts.length, "budget.perWave");
    if (failures > limit) return { budget: "perWave", failures, limit, wave };
  }
  const failures = failuresOf(c.totals) - c.acknowledged.total;
  if (failures > c.totalLimit) return { budget: "total", failures, limit: c.totalLimit, wave };
  const r = regionOverBudget(region, c.regionFailures, c.acknowledged.regions, c.regionBudgets);
  if (r) return { budget: "perRegion", region: r.region, failures: r.failures, limit: r.limit, wave };
  return null;
}

function firstRegionBreach(c: RolloutContext): BudgetBreach | null {
  for (const region of Object.keys(c.regionBudgets.limit)) {
    const b = checkBudgets(c, c.wave, region);
    if (b) return b;
  }
  return null;
}

export function describeBreach(b: BudgetBreach): string {
  // Waves count from 1 for people, as the progress line, status and the dashboard do.
  const which =
    b.budget === "perWave" ? `per-wave failure budget of wave ${b.wave + 1}` : b.budget === "perRegion" ? `failure budget of region ${b.region ?? "?"}` : "total failure budget";
  return `${which} exceeded: ${b.failures} failed host(s), limit ${b.limit}`;
}

export function onSlotRequest(context: RolloutContext, systemId: string, phase: CappedPhase): Step {
  const d = new Draft(context);
  const host = context.inFlight.get(systemId);
  if (!host) return d.done();
  if (host.slot && host.slot.phase === phase) {
    // Asked again for what it holds (e.g. a restored host): grant again, count once.
    if (host.slot.granted) d.out.push({ type: "rollout.grantSlot", systemId, phase });
    return d.done();
  }
  if (host.slot) dropClaim(d, systemId);
  const seq = d.c.slotSeq + 1;
  d.c.slotSeq = seq;
  d.own("inFlight").set(systemId, { ...(d.c.inFlight.get(systemId) as InFlightHost), slot: { phase, granted: false, seq } });
  d.own("slotQueue")[phase].push({ systemId, seq });
  grantNext(d, phase);
  return d.done();
}

export function onSlotRelease(context: RolloutContext, systemId: string, phase: CappedPhase): Step {
  const d = new Draft(context);
  const host = context.inFlight.get(systemId);
  if (host?.slot?.phase === phase) dropClaim(d, systemId);
  return d.done();
}

export function onHostSettled(context: RolloutContext, systemId: string, outcome: HostOutcome): Step {
  const d = new Draft(context);
  const host = context.inFlight.get(systemId);
  if (!host) return d.done(); // a duplicate, or a host this rollout never started
  dropClaim(d, systemId);
  const c = d.c;
  d.own("inFlight").delete(systemId);
  c.inFlightCount -= 1;
  countInRegion(c, systemId, -1);
  const byWave = d.own("countsByWave");
  const waveCounts = { ...(byWave[host.wave] ?? emptyCounts()) };
  waveCounts[outcome] += 1;
  byWave[host.wave] = waveCounts;
  d.own("totals")[outcome] += 1;
  const region = regionOfKey(systemId);
  if (region !== null && (outcome === "quarantined" || outcome === "failed")) {
    c.regionFailures = { ...c.regionFailures, [region]: (c.regionFailures[region] ?? 0) + 1 };
  }

  if (c.pause === null && (outcome === "quarantined" || outcome === "failed")) {
    const breach = checkBudgets(c, host.wave, region);
    if (breach) c.pause = { reason: describeBreach(breach), breach };
  }
  if (host.wave === c.wave && waveDone(c, c.wave)) {
    d.out.push({ type: "rollout.waveSettled", wave: c.wave, counts: { ...waveCounts } });
    // The last wave settling ends the rollout even if it also spent the budget: there is nothing left to protect.
    if (c.wave === c.waves.length - 1) c.wave = c.waves.length;
  }
  kick(d);
  return d.done();
}

/** Entry into `running` (start and RESUME): moves on and fills the window. */
export function onRun(context: RolloutContext): Step {
  const d = new Draft(context);
  kick(d);
  return d.done();
}

/** Machine start: slots for hosts that were waiting when a resumed rollout was rebuilt. */
export function onBoot(context: RolloutContext): Step {
  const d = new Draft(context);
  for (const phase of CAPPED_PHASES) grantNext(d, phase);
  return d.done();
}

/** A region stopped answering: its hosts not yet started wait; those in flight wait in their calls (the runtime's). */
export function onRegionDown(context: RolloutContext, region: string): Step {
  const d = new Draft(context);
  if (!context.regionsDown[region]) d.c.regionsDown = { ...context.regionsDown, [region]: true };
  // Its hosts in flight no longer fill the window: hosts of the other regions may start.
  kick(d);
  return d.done();
}

/** A region answers again: its waiting hosts start (room and pause permitting). */
export function onRegionUp(context: RolloutContext, region: string): Step {
  const d = new Draft(context);
  if (context.regionsDown[region]) {
    const { [region]: _, ...rest } = context.regionsDown;
    d.c.regionsDown = rest;
  }
  kick(d);
  return d.done();
}

/** A region planned late: its waves join the current and later waves (mergeRegionWaves), the budgets grow with it. */
export function onRegionPlanned(context: RolloutContext, region: string, regionWaves: readonly string[][]): Step {
  const d = new Draft(context);
  const c = d.c;
  const { [region]: _, ...unplanned } = context.regionsUnplanned;
  c.regionsUnplanned = unplanned;
  if (regionWaves.some((w) => w.length > 0)) {
    c.waves = mergeRegionWaves(context.waves, context.wave, regionWaves);
    // Every wave had settled: the region's canary opens a new one, from its first host.
    if (context.wave >= context.waves.length) c.nextIndex = 0;
    c.fleetSize = c.waves.reduce((n, w) => n + w.length, 0);
    c.totalLimit = parseBudget(c.budget.total, c.fleetSize, "rollout.budget.total");
    c.regionBudgets = regionBudgets(c.waves, c.budget.perRegion);
    const byWave = d.own("countsByWave");
    while (byWave.length < c.waves.length) byWave.push(emptyCounts());
  }
  kick(d);
  return d.done();
}

export function onAbort(context: RolloutContext, reason: string): Step {
  const d = new Draft(context);
  for (const systemId of context.inFlight.keys()) d.out.push({ type: "rollout.abortHost", systemId });
  d.c.abortReason = reason;
  return d.done();
}

export function isComplete(context: RolloutContext): boolean {
  if (context.wave < context.waves.length) return false;
  for (const _ in context.regionsUnplanned) return false;
  return true;
}

/** Validates the input and builds the context, deriving it from the hosts' records on resume. */
export function initialContext(input: RolloutInput): RolloutContext {
  const positive = (value: number, where: string) => {
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(where, `must be a whole number >= 1, got ${value}`);
  };
  positive(input.maxInFlight, "rollout.maxInFlight");
  for (const p of CAPPED_PHASES) positive(input.phaseCaps[p], `rollout.phaseCaps.${p}`);
  const perWave = parseBudgetSpec(input.budget.perWave, "rollout.budget.perWave");
  const total = parseBudgetSpec(input.budget.total, "rollout.budget.total");
  const perRegion = input.budget.perRegion === undefined ? total : parseBudgetSpec(input.budget.perRegion, "rollout.budget.perRegion");
  input.waves.forEach((w, i) => {
    if (w.length === 0) throw new ConfigError(`waves[${i}]`, "a wave cannot be empty");
  });
  const fleetSize = input.waves.reduce((n, w) => n + w.length, 0);

  const c: RolloutContext = {
    waves: input.waves,
    fleetSize,
    maxInFlight: input.maxInFlight,
    phaseCaps: { ...input.phaseCaps },
    budget: { perWave, total, perRegion },
    totalLimit: parseBudget(total, fleetSize, "rollout.budget.total"),
    wave: 0,
    nextIndex: 0,
    startedWave: -1,
    alreadyStarted: {},
    inFlight: new Map(),
    inFlightCount: 0,
    inFlightByRegion: {},
    slotQueue: { commissioning: [], deploying: [], layering: [] },
    slotsInUse: { commissioning: 0, deploying: 0, layering: 0 },
    slotSeq: 0,
    countsByWave: input.waves.map(() => emptyCounts()),
    totals: emptyCounts(),
    acknowledged: { wave: 0, total: 0, regions: {} },
    regionBudgets: regionBudgets(input.waves, perRegion),
    regionFailures: {},
    regionsDown: Object.fromEntries((input.regionsDown ?? []).map((r) => [r, true] as const)),
    regionsUnplanned: Object.fromEntries((input.regionsUnplanned ?? []).map((r) => [r, true] as const)),
    waiting: [],
    pause: null,
    abortReason: null,
  };
  const resume = input.resume;
  if (!resume) return c;

  // Derivation from the hosts' own records, the source of truth after a restart.
  input.waves.forEach((hosts, wave) => {
    for (const systemId of hosts) {
      const rec = resume.hosts[systemId];
      if (!rec) continue;
      c.alreadyStarted[systemId] = true;
      if (rec.settled) {
        (c.countsByWave[wave] as OutcomeCounts)[rec.settled] += 1;
        c.totals[rec.settled] += 1;
        const region = regionOfKey(systemId);
        if (region !== null && (rec.settled === "quarantined" || rec.settled === "failed")) c.regionFailures[region] = (c.regionFailures[region] ?? 0) + 1;
        continue;
      }
      let slot: SlotClaim | null = null;
      if (rec.holdsSlot) {
        slot = { phase: rec.holdsSlot, granted: true, seq: ++c.slotSeq };
        c.slotsInUse[rec.holdsSlot] += 1;
      } else if (isCappedPhase(rec.phase)) {
        // In a capped phase without a slot: it may be waiting for one (its request was
        // lost with the old process). Queue it; a host that did not want it hands it back.
        slot = { phase: rec.phase, granted: false, seq: ++c.slotSeq };
        c.slotQueue[rec.phase].push({ systemId, seq: slot.seq });
      }
      (c.inFlight as Map<string, InFlightHost>).set(systemId, { wave, slot });
      c.inFlightCount += 1;
      countInRegion(c, systemId, 1);
    }
  });
  while (c.wave < c.waves.length && waveDone(c, c.wave)) c.wave += 1;
  c.startedWave = (c.waves[c.wave] ?? []).some((id) => c.alreadyStarted[id]) ? c.wave : c.wave - 1;
  if (resume.acknowledge) {
    const current = c.countsByWave[c.wave];
    c.acknowledged = { wave: current ? failuresOf(current) : 0, total: failuresOf(c.totals), regions: { ...c.regionFailures } };
  } else if (resume.paused) {
    c.pause = { reason: resume.paused.reason, breach: null };
  } else if (c.wave < c.waves.length) {
    // Acknowledgements made before the restart are not persisted: re-check, and pause if spent.
    const breach = checkBudgets(c, c.wave) ?? firstRegionBreach(c);
    if (breach) c.pause = { reason: describeBreach(breach), breach };
  }
  return c;
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

function applyStep(step: Step, enqueue: { assign: (c: RolloutContext) => void; emit: (e: RolloutEmitted) => void }): void {
  enqueue.assign(step.context);
  for (const e of step.emitted) enqueue.emit(e);
}

export const rolloutMachine = setup({
  types: {
    context: {} as RolloutContext,
    events: {} as RolloutEvent,
    input: {} as RolloutInput,
    emitted: {} as RolloutEmitted,
  },
  guards: {
    isComplete: ({ context }) => isComplete(context),
    pausePending: ({ context }) => context.pause !== null,
  },
  actions: {
    boot: enqueueActions(({ context, enqueue }) => {
      const step = onBoot(context);
      applyStep(step, { assign: (c) => enqueue.assign(() => c), emit: (e) => enqueue.emit(e) });
    }),
    run: enqueueActions(({ context, enqueue }) => {
      const step = onRun(context);
      applyStep(step, { assign: (c) => enqueue.assign(() => c), emit: (e) => enqueue.emit(e) });
    }),
    hostEvent: enqueueActions(({ context, event, enqueue }) => {
      let step: Step;
      switch (event.type) {
        case "HOST_SLOT_REQUEST":
          step = onSlotRequest(context, event.systemId, event.phase);
          break;
        case "HOST_SLOT_RELEASE":
          step = onSlotRelease(context, event.systemId, event.phase);
          break;
        case "HOST_SETTLED":
          step = onHostSettled(context, event.systemId, event.outcome);
          break;
        case "REGION_DOWN":
          step = onRegionDown(context, event.region);
          break;
        case "REGION_UP":
          step = onRegionUp(context, event.region);
          break;
        case "REGION_PLANNED":
          step = onRegionPlanned(context, event.region, event.waves);
          break;
        default:
          return;
      }
      applyStep(step, { assign: (c) => enqueue.assign(() => c), emit: (e) => enqueue.emit(e) });
    }),
    pauseByOperator: assign(({ event }) => ({
      pause: { reason: event.type === "PAUSE" && event.reason ? event.reason : "paused by operator", breach: null },
    })),
    acknowledgeAndResume: enqueueActions(({ context, enqueue }) => {
      const wave = context.countsByWave[context.wave];
      enqueue.assign({
        pause: null,
        acknowledged: { wave: wave ? failuresOf(wave) : 0, total: failuresOf(context.totals), regions: { ...context.regionFailures } },
      });
      enqueue.emit({ type: "rollout.resumed" });
    }),
    emitPaused: enqueueActions(({ context, enqueue }) => {
      const pause = context.pause ?? { reason: "paused", breach: null };
      enqueue.emit({ type: "rollout.paused", reason: pause.reason, counts: { ...context.totals }, breach: pause.breach });
    }),
    abortAll: enqueueActions(({ context, event, enqueue }) => {
      const reason = event.type === "ABORT" && event.reason ? event.reason : "aborted by operator";
      applyStep(onAbort(context, reason), { assign: (c) => enqueue.assign(() => c), emit: (e) => enqueue.emit(e) });
    }),
    emitAborted: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: "rollout.aborted", reason: context.abortReason ?? "aborted" });
    }),
    emitCompleted: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: "rollout.completed", counts: { ...context.totals }, byWave: context.countsByWave.map((c) => ({ ...c })) });
    }),
  },
}).createMachine({
  id: "rollout",
  context: ({ input }) => initialContext(input),
  entry: "boot",
  initial: "running",
  on: {
    HOST_SLOT_REQUEST: { actions: "hostEvent" },
    HOST_SLOT_RELEASE: { actions: "hostEvent" },
    HOST_SETTLED: { actions: "hostEvent" },
    REGION_DOWN: { actions: "hostEvent" },
    REGION_UP: { actions: "hostEvent" },
    REGION_PLANNED: { actions: "hostEvent" },
    ABORT: { target: ".aborted", actions: "abortAll" },
  },
  states: {
    running: {
      entry: "run",
      always: [
        { guard: "isComplete", target: "completed" },
        { guard: "pausePending", target: "paused" },
      ],
      on: {
        PAUSE: { target: "paused", actions: "pauseByOperator" },
      },
    },
    paused: {
      // Paused stays paused until RESUME, also once every host has settled: the rollout
      // then completes on resume (a paused rollout never reports "completed" on its own).
      entry: "emitPaused",
      on: {
        RESUME: { target: "running", actions: "acknowledgeAndResume" },
      },
    },
    completed: {
      type: "final",
      entry: "emitCompleted",
    },
    aborted: {
      type: "final",
      entry: "emitAborted",
    },
  },
});

export type RolloutMachine = typeof rolloutMachine;
