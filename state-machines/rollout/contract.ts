/**
 * The rollout machine's contract (state-machines/rollout.ts): its input, context, events and
 * emitted events, and what the runtime knows of a host on resume. Types only, as
 * state-machines/host/contract.ts is for the host machine.
 */
import type { CappedPhase, HostOutcome, HostPhase } from "../host.ts";
import type { BudgetSpec } from "../waves.ts";
import type { RegionBudgets } from "./regions.ts";

export type RolloutStateName = "running" | "paused" | "completed" | "aborted";

export type OutcomeCounts = Record<HostOutcome, number>;

/** What the runtime knows about one host from its own persisted state. */
export interface ResumeHostRecord {
  phase: HostPhase;
  settled?: HostOutcome;
  /** The capped phase whose slot the host holds (its context's `slot`). */
  holdsSlot?: CappedPhase;
}

export interface RolloutInput {
  /** System ids per wave, from planWaves. */
  waves: string[][];
  /** Hosts started and not yet settled, over the whole rollout. */
  maxInFlight: number;
  phaseCaps: Record<CappedPhase, number>;
  /** perRegion (several regions only): failures a region may have, a count or % of its hosts; default: the total budget's spec. */
  budget: { perWave: number | string; total: number | string; perRegion?: number | string };
  resume?: {
    hosts: Record<string, ResumeHostRecord>;
    paused?: { reason: string };
    /** The operator resumes a paused rollout: the failures so far are acknowledged, as a RESUME does. */
    acknowledge?: boolean;
  };
  /** Several regions: regions already down when the run starts (their hosts wait from the first event; REGION_UP releases them). */
  regionsDown?: readonly string[];
  /** Several regions: regions whose hosts are not planned yet (REGION_PLANNED joins them); the rollout does not complete before. */
  regionsUnplanned?: readonly string[];
}

export interface BudgetBreach {
  budget: "perWave" | "total" | "perRegion";
  /** perRegion: the region whose budget is spent. */
  region?: string;
  /** Failures counted against this budget (since the last RESUME). */
  failures: number;
  limit: number;
  wave: number;
}

export interface PauseInfo {
  reason: string;
  breach: BudgetBreach | null;
}

export interface SlotClaim {
  phase: CappedPhase;
  granted: boolean;
  /** Ticket number: a queue entry is live only if it still matches the host's claim. */
  seq: number;
}

/**
 * A host in flight as the rollout sees it: its wave and its slot claim. Not its phase: nothing
 * here decides by it, and hearing each phase change cost a copy of this map per change
 * (docs/bench.md, issue 12).
 */
export interface InFlightHost {
  wave: number;
  slot: SlotClaim | null;
}

export interface RolloutContext {
  waves: string[][];
  fleetSize: number;
  maxInFlight: number;
  phaseCaps: Record<CappedPhase, number>;
  budget: { perWave: BudgetSpec; total: BudgetSpec; perRegion: BudgetSpec };
  totalLimit: number;
  /** Index of the current wave; waves.length once every wave has settled. */
  wave: number;
  /** Next position in waves[wave] to consider starting. */
  nextIndex: number;
  /** Highest wave for which rollout.waveStarted has been emitted. */
  startedWave: number;
  /** Hosts started before a resume: never started again. Empty on a fresh rollout; never changes. */
  alreadyStarted: Record<string, true>;
  /** A Map, updated in place by each step (Draft); a record with deletions had gone to dictionary mode. */
  inFlight: ReadonlyMap<string, InFlightHost>;
  inFlightCount: number;
  /** Several regions: hosts in flight per region (those of a region that is down do not fill the window). */
  inFlightByRegion: Record<string, number>;
  slotQueue: Record<CappedPhase, { systemId: string; seq: number }[]>;
  slotsInUse: Record<CappedPhase, number>;
  slotSeq: number;
  countsByWave: OutcomeCounts[];
  totals: OutcomeCounts;
  /** Failures acknowledged by the last RESUME: budgets count only what came after. */
  acknowledged: { wave: number; total: number; regions: Record<string, number> };
  /** Several regions: each region's hosts and failure limit (empty with one region). */
  regionBudgets: RegionBudgets;
  /** Several regions: quarantined and failed hosts per region. */
  regionFailures: Record<string, number>;
  /** Regions that stopped answering: none of their hosts starts until REGION_UP. */
  regionsDown: Record<string, true>;
  /** Regions not planned yet: the rollout waits for them before it completes. */
  regionsUnplanned: Record<string, true>;
  /** Hosts of the current wave passed over because their region was down; started first once it is back. */
  waiting: string[];
  pause: PauseInfo | null;
  abortReason: string | null;
}

export type RolloutEvent =
  | { type: "HOST_SLOT_REQUEST"; systemId: string; phase: CappedPhase }
  | { type: "HOST_SLOT_RELEASE"; systemId: string; phase: CappedPhase }
  | { type: "HOST_SETTLED"; systemId: string; outcome: HostOutcome; reason?: string }
  | { type: "PAUSE"; reason?: string }
  | { type: "RESUME" }
  | { type: "ABORT"; reason?: string }
  /** The runtime found a region not answering (its hosts wait; not a host failure) / answering again. */
  | { type: "REGION_DOWN"; region: string }
  | { type: "REGION_UP"; region: string }
  /** A region not planned at the start is planned: its waves join the rollout's from the current wave (none: it is left out). */
  | { type: "REGION_PLANNED"; region: string; waves: string[][] };

export type RolloutEmitted =
  | { type: "rollout.startHost"; systemId: string; wave: number }
  | { type: "rollout.grantSlot"; systemId: string; phase: CappedPhase }
  | { type: "rollout.abortHost"; systemId: string }
  | { type: "rollout.waveStarted"; wave: number; size: number }
  | { type: "rollout.waveSettled"; wave: number; counts: OutcomeCounts }
  | { type: "rollout.paused"; reason: string; counts: OutcomeCounts; breach: BudgetBreach | null }
  | { type: "rollout.resumed" }
  | { type: "rollout.completed"; counts: OutcomeCounts; byWave: OutcomeCounts[] }
  | { type: "rollout.aborted"; reason: string };
