/**
 * The service's read models: a rollout's view, detail and hosts, answered from the live
 * runner while this process runs the rollout and from the store otherwise.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { isStatusCode, STATUS_LABEL } from "../model/maas/status.ts";
import type { RolloutStatus, HostRecord, RolloutRegion, RolloutSummary as RolloutSummaryRecord } from "../store/index.ts";
import { regionRecordJson, type RegionJson } from "../runtime/region.ts";
import type { HostFailure, RolloutProgress, WaveProgress } from "../runtime/rollout-runner.ts";
import { HOST_PHASES } from "../../state-machines/host.ts";
import { parseBudget, parseBudgetSpec } from "../../state-machines/waves.ts";
import { regionBudgets } from "../../state-machines/rollout/regions.ts";
import { ServiceError } from "./errors.ts";
import type { ControllerDeps, ControllerState } from "./controller-state.ts";
import { kindOf, planHosts, plannedCells, type PlannedCell, type RolloutKind } from "./plan-reading.ts";
import { readRolloutPlan } from "../runtime/documents/rollout-plan.ts";
import { readTransition } from "../runtime/documents/journal-entry.ts";
import { readHostError } from "../runtime/documents/host-error.ts";
import { hostFailureOf, RolloutTally, withWavesFromOne } from "../runtime/progress.ts";

/** What the API calls a rollout's state: the runner's and the store's, plus the planning step. */
export type ApiRolloutState = "planning" | RolloutStatus;

export interface RolloutView {
  /** Null while the first run is still planning (the store has no record yet). */
  id: string | null;
  state: ApiRolloutState;
  reason: string | null;
  /** True while this process runs it (a paused rollout stays live until its hosts in flight have settled). */
  live: boolean;
  createdAt: string | null;
  updatedAt: string | null;
  /** The region it ran against, as recorded with it; null when not recorded (an older metalwave's rollout). */
  region: RegionJson | null;
}

/** A recorded region as the API shows it. */
export function regionView(r: RolloutRegion | null | undefined): RegionJson | null {
  return r ? regionRecordJson(r) : null;
}

/** Waves count from 1 here (`wave`, `perWave[].index`), as in every answer of the API. */
export interface ProgressView {
  wave: number;
  waves: number;
  total: number;
  settled: number;
  /** Hosts started and not settled. */
  inFlight: number;
  byPhase: Record<string, number>;
  byOutcome: Record<string, number>;
  perWave: WaveProgress[];
  /** MAAS requests of the live run (null when read from the store). */
  maasRequests: number | null;
  /** Time since the live run started or resumed (null when read from the store). */
  elapsedMs: number | null;
  /** Live run over several regions: the regions not answering, and the hosts held at a resume until their region answers. */
  regionsDown?: string[];
  waitingOnRegion?: number;
  /** Regions away when the rollout was planned: their hosts are planned once each answers (src/runtime/region-plan.ts). */
  regionsUnplanned?: string[];
}

export interface RolloutDetail {
  rollout: RolloutView;
  /** "runner": the live runner's own counts; "store": the hosts' records. */
  source: "runner" | "store";
  progress: ProgressView | null;
  failures: HostFailure[];
}

export interface HostDetail {
  rolloutId: string;
  systemId: string;
  /** Several regions: the host's region; null with one region. */
  region: string | null;
  hostname: string;
  wave: number;
  roles: string[];
  phase: string;
  outcome: string | null;
  lastError: unknown;
  /** The last MAAS status the runner saw for the machine. */
  maasStatus: { code: number; label: string } | null;
  updatedAt: string;
  /** The host's journal entries (transitions, MAAS calls), oldest first. */
  history: { seq: number; at: string; kind: string; data: unknown }[];
}

/** One machine of a rollout as the dashboard draws it: where it is planned and its phase now. */
export interface HostCell extends PlannedCell {
  /** The host's phase now (its last transition); `waiting` while it has not started. */
  phase: string;
}

export interface HostsView {
  rolloutId: string;
  /** True: every planned machine; false: only those whose phase changed after `after`. */
  full: boolean;
  /** The journal position the phases are read up to: pass it back as `after`. */
  cursor: number;
  /** Every phase a machine can be in, in the pipeline's order (`waiting` first). */
  phases: string[];
  /** The failure budgets of the service's config and the limits they make for this rollout. */
  budget: {
    perWave: number | string;
    total: number | string;
    totalLimit: number;
    perWaveLimits: number[];
    /** Several regions: failures each region may have (`rollout.budget.perRegion`, else the total's spec, of the region's hosts); {} with one region. */
    perRegionLimits: Record<string, number>;
  };
  /** What the rollout is for (the plan's kind): a deployment rollout, or a step of a maintenance pass. */
  kind: RolloutKind;
  /** A machine's page in the MAAS web UI with `{systemId}` for its id; null when the region has no UI (the simulator). */
  maasMachineUrl: string | null;
  /** Several regions: each region's machine page, `{systemId}` standing for the system_id within that region; {} with one region. */
  regionMachineUrls: Record<string, string>;
  hosts: HostCell[];
}

/** Journal entries read per step when collecting transitions; the event loop gets a turn between steps. */
const TRANSITIONS_PER_STEP = 5_000;

/** Hosts started and not settled. */
export function inFlightOf(p: RolloutProgress): number {
  return p.total - p.settled - (p.byPhase["waiting"] ?? 0);
}

/** Hosts settled other than in service. */
export function failedOf(p: RolloutProgress): number {
  return p.byOutcome.quarantined + p.byOutcome.aborted + p.byOutcome.failed;
}

interface PlannedRollout {
  id: string;
  kind: RolloutKind;
  cells: PlannedCell[];
  index: Map<string, number>;
  waveSizes: number[];
  /** Several regions: each region's failure limit ({} with one region). */
  regionLimits: Record<string, number>;
}

export class RolloutReads {
  /** The planned machines of the rollout last asked for by `hosts` (a plan never changes once made). */
  private planned: PlannedRollout | undefined;

  private readonly d: ControllerDeps;
  private readonly s: ControllerState;

  constructor(deps: ControllerDeps, state: ControllerState) {
    this.d = deps;
    this.s = state;
  }

  /** The live run's progress, for the metrics; undefined when none is live or it is still planning. */
  liveProgress(): RolloutProgress | undefined {
    return this.s.active?.started ? this.s.active.latest : undefined;
  }

  list(): { rollouts: RolloutView[]; active: RolloutView | null } {
    const rollouts = this.d.store.listRollouts().map((r) => this.mergeLive({ id: r.id, state: r.status, reason: r.reason, live: false, createdAt: r.createdAt, updatedAt: r.updatedAt, region: regionView(r.region) }));
    return { rollouts, active: this.activeView() };
  }

  activeView(): RolloutView | null {
    const run = this.s.active;
    if (!run) return null;
    if (!run.started || !run.rolloutId) return { id: run.rolloutId ?? null, state: "planning", reason: null, live: true, createdAt: null, updatedAt: null, region: regionView(this.d.region) };
    return this.view(run.rolloutId);
  }

  /** The latest rollout's view (for a new event-stream client), or null in an empty store. */
  currentView(): RolloutView | null {
    const active = this.activeView();
    if (active) return active;
    const latest = this.d.store.listRollouts()[0];
    return latest ? this.view(latest.id) : null;
  }

  view(id: string): RolloutView {
    const r = this.summaryOf(id);
    return this.mergeLive({ id: r.id, state: r.status, reason: r.reason, live: false, createdAt: r.createdAt, updatedAt: r.updatedAt, region: regionView(r.region) });
  }

  /** The view, or a `failed` one when the store cannot answer (for an event that must go out). */
  safeView(id: string): RolloutView {
    try {
      return this.view(id);
    } catch {
      return { id, state: "failed", reason: null, live: false, createdAt: null, updatedAt: null, region: null };
    }
  }

  detail(id: string): RolloutDetail {
    const rollout = this.view(id);
    const run = this.s.active;
    if (run?.started && run.rolloutId === id) {
      const s = run.runner.summary();
      return { rollout, source: "runner", progress: withWavesFromOne(progressView(s)), failures: s.failures };
    }
    return { rollout, source: "store", progress: withWavesFromOne(this.storeProgress(id)), failures: this.storeFailures(id) };
  }

  host(id: string, systemId: string): HostDetail {
    this.summaryOf(id);
    // The runner's writes may sit in the write-behind buffer for a moment.
    this.d.store.flush();
    const h = this.d.store.getHost(id, systemId);
    if (!h) {
      const planned = planHosts(this.d.store.getRollout(id)?.plan, id).waves.some((w) => w.includes(systemId));
      throw new ServiceError("HOST_NOT_FOUND", planned ? `machine ${systemId} is planned in rollout ${id} but has not started yet` : `machine ${systemId} is not in rollout ${id}`);
    }
    const history = this.d.store.journal(id, { systemId }).map((j) => ({ seq: j.seq, at: j.at, kind: j.kind, data: j.data }));
    return {
      rolloutId: id,
      systemId: h.systemId,
      region: h.region,
      hostname: h.hostname,
      wave: h.wave + 1,
      roles: h.roles,
      phase: h.phase,
      outcome: h.outcome,
      lastError: h.lastError,
      maasStatus: h.maasStatus !== null && isStatusCode(h.maasStatus) ? { code: h.maasStatus, label: STATUS_LABEL[h.maasStatus] } : null,
      updatedAt: h.updatedAt,
      history,
    };
  }

  /**
   * Every planned machine with its phase now (`after` absent), or only the machines
   * whose phase changed after journal position `after`. Phases come from the journal's
   * transitions, read in steps so a 10,000-machine rollout does not hold up the runner.
   */
  async hosts(id: string, after: number | undefined): Promise<HostsView> {
    this.summaryOf(id);
    const planned = this.plannedOf(id);
    // The runner's transitions may sit in the write-behind buffer for a moment.
    this.d.store.flush();
    const phase = new Map<string, string>();
    let cursor = after ?? 0;
    for (;;) {
      const step = this.d.store.journal(id, { kind: "transition", afterSeq: cursor, limit: TRANSITIONS_PER_STEP });
      for (const e of step) {
        const to = readTransition(e)?.to;
        if (e.systemId !== null && to !== undefined) phase.set(e.systemId, to);
        cursor = e.seq;
      }
      if (step.length < TRANSITIONS_PER_STEP) break;
      await nextTurn();
    }
    let hosts: HostCell[];
    if (after === undefined) {
      hosts = planned.cells.map((c) => ({ ...c, phase: phase.get(c.systemId) ?? "waiting" }));
    } else {
      hosts = [];
      for (const [systemId, p] of phase) {
        const i = planned.index.get(systemId);
        if (i !== undefined) hosts.push({ ...planned.cells[i]!, phase: p });
      }
    }
    const { perWave, total } = this.d.config.rollout.budget;
    return {
      rolloutId: id,
      full: after === undefined,
      cursor,
      phases: ["waiting", ...HOST_PHASES],
      budget: {
        perWave,
        total,
        totalLimit: parseBudget(total, planned.cells.length, "rollout.budget.total"),
        perWaveLimits: planned.waveSizes.map((n) => parseBudget(perWave, n, "rollout.budget.perWave")),
        perRegionLimits: planned.regionLimits,
      },
      kind: planned.kind,
      maasMachineUrl: this.d.maasMachineUrl ?? null,
      regionMachineUrls: this.d.regionMachineUrls ?? {},
      hosts,
    };
  }

  /** Machines by phase of the live run, else of the latest rollout in the store. */
  phaseCounts(): Record<string, number> {
    const live = this.liveProgress();
    if (live) return live.byPhase;
    const latest = this.d.store.listRollouts()[0];
    if (!latest) return {};
    return this.storeProgress(latest.id).byPhase;
  }

  /**
   * What is left of the failure budgets of the live run (else the latest rollout): its
   * limits less its failed hosts (quarantined or failed, as the budgets count them), in
   * total and in its current wave. Failures an operator's resume acknowledged still count
   * here, so after a resume the runner tolerates at least this many more.
   */
  budgetRemaining(): { total: number; wave: number; waveIndex: number } | undefined {
    const id = this.s.active?.started ? this.s.active.rolloutId : this.d.store.listRollouts()[0]?.id;
    if (!id) return undefined;
    const live = this.liveProgress();
    const p = live && live.rolloutId === id ? live : this.storeProgress(id);
    const planned = this.plannedOf(id);
    const { perWave, total } = this.d.config.rollout.budget;
    const failed = (p.byOutcome["quarantined"] ?? 0) + (p.byOutcome["failed"] ?? 0);
    const waveIndex = Math.min(p.wave, Math.max(0, planned.waveSizes.length - 1));
    const waveFailed = p.perWave[waveIndex]?.failed ?? 0;
    return {
      total: parseBudget(total, planned.cells.length, "rollout.budget.total") - failed,
      wave: parseBudget(perWave, planned.waveSizes[waveIndex] ?? 0, "rollout.budget.perWave") - waveFailed,
      waveIndex,
    };
  }

  /** The rollout's record without its plan (a 10,000-host plan is not parsed for a state); 404 when unknown. */
  summaryOf(id: string): RolloutSummaryRecord {
    const r = this.d.store.listRollouts().find((x) => x.id === id);
    if (!r) throw new ServiceError("ROLLOUT_NOT_FOUND", `no rollout ${id}`);
    return r;
  }

  private plannedOf(id: string): PlannedRollout {
    if (this.planned?.id === id) return this.planned;
    const record = this.d.store.getRollout(id);
    if (!record) throw new ServiceError("ROLLOUT_NOT_FOUND", `no rollout ${id}`);
    const cells = plannedCells(record.plan, id);
    const waveSizes = planHosts(record.plan, id).waves.map((w) => w.length);
    const { total, perRegion } = this.d.config.rollout.budget;
    const regionLimits = regionBudgets([cells.map((c) => c.systemId)], parseBudgetSpec(perRegion ?? total, "rollout.budget.perRegion")).limit;
    this.planned = { id, kind: kindOf(record.plan, id), cells, index: new Map(cells.map((c, i) => [c.systemId, i])), waveSizes, regionLimits };
    return this.planned;
  }

  private mergeLive(v: RolloutView): RolloutView {
    const run = this.s.active;
    // A maintenance pass's rollout is live while the pass runs it.
    if (v.id !== null && this.s.maintenance?.rolloutId === v.id && (v.state === "running" || v.state === "paused")) return { ...v, live: true };
    if (!run?.started || run.rolloutId !== v.id) return v;
    const s = run.runner.summary();
    return { ...v, state: s.state, reason: s.pauseReason ?? null, live: true };
  }

  /** Counts from the hosts' records (in SQL, no snapshot read): exact for a rollout no runner holds. Waves from 0 (the runner's). */
  private storeProgress(id: string): ProgressView {
    const { store } = this.d;
    store.flush();
    const record = store.getRollout(id);
    if (!record) throw new ServiceError("ROLLOUT_NOT_FOUND", `no rollout ${id}`);
    const plan = readRolloutPlan(record.plan, id);
    const counts = store.hostCounts(id);
    // The same tally the runner keeps, from the records: hosts never started count as waiting.
    const tally = RolloutTally.fromStoreCounts(plan, counts);
    return {
      wave: tally.openWave(),
      waves: plan.waves.length,
      ...tally.counts(),
      inFlight: counts.unsettled,
      maasRequests: null,
      elapsedMs: null,
    };
  }

  /** Hosts settled other than in service, from their records (read only when the counts show some). */
  private storeFailures(id: string): HostFailure[] {
    const { store } = this.d;
    const counts = store.hostCounts(id);
    if (!Object.entries(counts.byOutcome).some(([o, n]) => o !== "inService" && n > 0)) return [];
    const failures: HostFailure[] = [];
    for (const h of store.iterateHosts(id)) {
      if (h.outcome && h.outcome !== "inService") failures.push(failureOf(h));
    }
    return failures;
  }
}

function progressView(p: RolloutProgress): ProgressView {
  return {
    wave: p.wave,
    waves: p.waves,
    total: p.total,
    settled: p.settled,
    inFlight: inFlightOf(p),
    byPhase: p.byPhase,
    byOutcome: p.byOutcome,
    perWave: p.perWave,
    maasRequests: p.maasRequests,
    elapsedMs: p.elapsedMs,
    ...(p.regionsDown ? { regionsDown: p.regionsDown } : {}),
    ...(p.waitingOnRegion !== undefined ? { waitingOnRegion: p.waitingOnRegion } : {}),
    ...(p.regionsUnplanned ? { regionsUnplanned: p.regionsUnplanned } : {}),
  };
}

function failureOf(h: HostRecord): HostFailure {
  return hostFailureOf({ systemId: h.systemId, hostname: h.hostname, outcome: h.outcome as HostFailure["outcome"], phase: h.phase, lastError: readHostError(h.lastError) });
}
