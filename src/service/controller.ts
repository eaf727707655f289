/**
 * The service's rollout controller: at most one RolloutRunner at a time, started,
 * resumed, paused and aborted on request, with its progress fanned out to the event
 * hub and the metrics. When no runner is live, every answer comes from the store.
 *
 * The runner's own contract shapes a few rules here:
 * - its operator controls (pause/abort) need the rollout actor, which exists only once
 *   planning is over; a control that arrives earlier (a SIGTERM during planning) waits
 *   for the first progress report, which comes after that point;
 * - `run({ resume: true })` continues the latest rollout only;
 * - a run that fails before the rollout starts leaves its status observer polling, and
 *   one that fails later leaves its actors alive. Each run therefore gets its own
 *   handle on MAAS that is revoked when the run ends (revoked calls never settle, so
 *   whatever is left stops where it is), and a failure after the start takes the
 *   controller out of service until the process restarts (`degraded`).
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { MaasPort } from "../maas/port.ts";
import { MaasError } from "../maas/errors.ts";
import type { MaasClientStats } from "../maas/client.ts";
import { isStatusCode, STATUS_LABEL } from "../model/maas/status.ts";
import type { Store, RolloutStatus, HostRecord, RolloutSummary as RolloutSummaryRecord } from "../store/index.ts";
import { abortStoppedRollout, RolloutError, RolloutRunner, type RunnerDeps, type HostFailure, type RolloutProgress, type RolloutState, type RolloutSummary, type WaveProgress } from "../runtime/rollout-runner.ts";
import { PreflightError, type RolloutPlan } from "../runtime/deployment-plan.ts";
import { reprovisionHosts, type ReprovisionRequest } from "../runtime/reprovision.ts";
import { remediate, type RemediationResult } from "../runtime/remediation.ts";
import { finishLeftBehind, leftBehind, type LeftBehind } from "../runtime/maintenance.ts";
import type { Layering } from "../layers/index.ts";
import type { SshPort } from "../ssh/index.ts";
import type { FindingCode } from "../roles/types.ts";
import { HOST_PHASES } from "../../state-machines/host.ts";
import { parseBudget } from "../../state-machines/waves.ts";
import { assertNever, MetalwaveError } from "../errors.ts";
import { ServiceError } from "./errors.ts";
import type { EventHub } from "./events.ts";
import type { ServiceMetrics } from "./metrics.ts";

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
}

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
export interface HostCell {
  systemId: string;
  hostname: string;
  wave: number;
  zone: string;
  roles: string[];
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
  budget: { perWave: number | string; total: number | string; totalLimit: number; perWaveLimits: number[] };
  /** What the rollout is for (the plan's kind): a deployment rollout, or a step of a maintenance pass. */
  kind: RolloutKind;
  hosts: HostCell[];
}

export type RolloutKind = NonNullable<RolloutPlan["kind"]>;

/** Layering for one run: what `layeringFor` in src/cli/rollout.ts returns. */
export interface RunLayering {
  engine: Layering;
  ssh: SshPort;
  /** The config to run with (metalwave's public key added to the deploy user-data). */
  config: Config;
}

export interface ControllerDeps {
  store: Store;
  maas: MaasPort;
  maasStats: () => MaasClientStats;
  config: Config;
  logger: Logger;
  events: EventHub;
  metrics: ServiceMetrics;
  timeScale: number;
  observerPollMs: number;
  /** Called once per run; the run closes the SSH port it returns when it ends. */
  layering?: (() => RunLayering | undefined) | undefined;
  /**
   * The region lives only as long as this process (the embedded simulator): rollouts
   * created by an earlier process name machines that no longer exist, so they are not resumed.
   */
  regionIsEphemeral: boolean;
}

interface ActiveRun {
  kind: "start" | "resume";
  runner: RolloutRunner;
  rolloutId: string | undefined;
  /** The newest rollout before this run began (to find the one a failed start created). */
  latestBefore: string | undefined;
  /** The rollout actor exists: controls can be sent. */
  started: boolean;
  pending: { kind: "pause" | "abort"; reason: string } | undefined;
  latest: RolloutProgress | undefined;
  lastState: RolloutState | undefined;
  lastFailed: number;
  requestBase: number;
  onStarted: () => void;
  /** Settles (never rejects) once the run is over and its resources are released. */
  done: Promise<void>;
}

const PLAN_HOSTS = (plan: unknown): { waves: string[][]; total: number } => {
  const p = plan as { waves?: unknown; hosts?: unknown };
  const waves = Array.isArray(p.waves) ? (p.waves as unknown[]).map((w) => (Array.isArray(w) ? (w as string[]) : [])) : [];
  const total = Array.isArray(p.hosts) ? p.hosts.length : waves.reduce((n, w) => n + w.length, 0);
  return { waves, total };
};

/** `--override` codes add to the config's own, as `metalwave rollout` does. */
function withOverrides(config: Config, overrides: readonly FindingCode[]): Config {
  if (overrides.length === 0) return config;
  return { ...config, rollout: { ...config.rollout, overrides: [...new Set([...config.rollout.overrides, ...overrides])] } };
}

/** A handle on MAAS for one run; once revoked, every call waits forever (nothing left behind acts again). */
function revocable(maas: MaasPort): { port: MaasPort; revoke: () => void } {
  let revoked = false;
  const port = new Proxy(maas, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => (revoked ? new Promise<never>(() => undefined) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return { port, revoke: () => (revoked = true) };
}

/** Journal entries read per step when collecting transitions; the event loop gets a turn between steps. */
const TRANSITIONS_PER_STEP = 5_000;

type PlannedCell = Omit<HostCell, "phase">;

/** The planned machines (where each sits in the plan), from a stored plan of any version. */
function plannedCells(plan: unknown): PlannedCell[] {
  const p = plan as { hosts?: unknown; waves?: unknown };
  const cells: PlannedCell[] = [];
  const str = (v: unknown, fallback: string) => (typeof v === "string" ? v : fallback);
  if (Array.isArray(p.hosts)) {
    for (const raw of p.hosts as unknown[]) {
      const h = (raw ?? {}) as Record<string, unknown>;
      const systemId = str(h["systemId"], "");
      if (!systemId) continue;
      const roles = Array.isArray(h["roles"]) ? (h["roles"] as unknown[]).filter((r): r is string => typeof r === "string") : [];
      cells.push({ systemId, hostname: str(h["hostname"], systemId), wave: typeof h["wave"] === "number" ? h["wave"] : 0, zone: str(h["zone"], ""), roles });
    }
    return cells;
  }
  PLAN_HOSTS(plan).waves.forEach((w, wave) => {
    for (const systemId of w) cells.push({ systemId, hostname: systemId, wave, zone: "", roles: [] });
  });
  return cells;
}

const ROLLOUT_KINDS: readonly RolloutKind[] = ["rollout", "reprovision", "replacement", "remediation"];

/** A stored plan's kind; absent (a deployment rollout, or an older plan) is `rollout`. */
function kindOf(plan: unknown): RolloutKind {
  const k = (plan as { kind?: unknown } | null)?.kind;
  return ROLLOUT_KINDS.find((x) => x === k) ?? "rollout";
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A re-provisioning or remediation pass the service runs in the background. */
export interface MaintenanceView {
  /** `rolloutId`: the rollout the pass runs now (null until it has planned one); a pass may run two (a replacement after it). */
  running: { kind: MaintenanceKind; startedAt: string; rolloutId: string | null } | null;
  last: { kind: MaintenanceKind; startedAt: string; endedAt: string; result: unknown; error: { code: string; message: string } | null } | null;
  remediation: { enabled: boolean; intervalMs: number };
}

export type MaintenanceKind = "reprovision" | "remediation";

/** What became of a pass's hosts, from a reprovision run or a remediation result (and what it finished first). */
function maintenanceCounts(result: unknown): { inService: number; quarantined: number; replaced: number } {
  const r = result as {
    reprovision?: RolloutSummary;
    rollout?: RolloutSummary | null;
    replacements?: { spare: unknown }[];
    resumed?: RolloutSummary;
    resumedSpares?: { replacements: { spare: unknown }[] };
  };
  const run = r.reprovision ?? r.rollout ?? null;
  return {
    inService: (run?.byOutcome.inService ?? 0) + (r.resumed?.byOutcome.inService ?? 0),
    quarantined: (run?.byOutcome.quarantined ?? 0) + (r.resumed?.byOutcome.quarantined ?? 0),
    replaced: [...(r.replacements ?? []), ...(r.resumedSpares?.replacements ?? [])].filter((x) => x.spare !== null).length,
  };
}

export class RolloutController {
  private readonly d: ControllerDeps;
  private maintenance: { kind: MaintenanceKind; startedAt: string; done: Promise<void>; rolloutId?: string; lastState?: RolloutState } | undefined;
  private lastMaintenance: MaintenanceView["last"] = null;
  private remediationTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private active: ActiveRun | undefined;
  /** The planned machines of the rollout last asked for by `hosts` (a plan never changes once made). */
  private planned: { id: string; kind: RolloutKind; cells: PlannedCell[]; index: Map<string, number>; waveSizes: number[] } | undefined;
  /** Rollouts this process created (the only ones an ephemeral region can resume). */
  private readonly createdHere = new Set<string>();
  private accepting = true;
  private degradedBy: string | undefined;

  constructor(deps: ControllerDeps) {
    this.d = deps;
    this.log = deps.logger;
  }

  /** Why the controller refuses to start runs, if it does: a runner failed after its rollout had started. */
  get degraded(): string | undefined {
    return this.degradedBy;
  }

  get stopping(): boolean {
    return !this.accepting;
  }

  liveRolloutId(): string | undefined {
    return this.active?.started ? this.active.rolloutId : undefined;
  }

  planning(): boolean {
    return this.active !== undefined && !this.active.started;
  }

  /** The live run's progress, for the metrics; undefined when none is live or it is still planning. */
  liveProgress(): RolloutProgress | undefined {
    return this.active?.started ? this.active.latest : undefined;
  }

  // ---- requests ---------------------------------------------------------------------

  async start(opts: { overrides: readonly FindingCode[] }): Promise<RolloutDetail> {
    this.ensureAccepting();
    if (this.active) throw this.activeError();
    if (this.maintenance) throw this.maintenanceError();
    return this.launch("start", withOverrides(this.d.config, opts.overrides), undefined);
  }

  async resume(id: string): Promise<RolloutDetail> {
    this.ensureAccepting();
    this.summaryOf(id);
    // The pass's own runner holds its rollout (the latest one): a second runner must not take it.
    if (this.maintenance) throw this.maintenanceError();
    const latest = this.d.store.listRollouts()[0];
    if (latest?.id !== id) throw new ServiceError("NOT_LATEST", `rollout ${id} is not the latest (${latest?.id}); only the latest rollout can be resumed`);
    const run = this.active;
    if (run) {
      if (run.rolloutId !== id || !run.started) throw this.activeError();
      const p = run.runner.progress();
      if (p.state === "running") throw new ServiceError("ROLLOUT_ACTIVE", `rollout ${id} is already running`);
      if (p.state === "paused" && this.inFlight(p) > 0) {
        // Paused, hosts still finishing: the same runner carries on (and acknowledges the failures so far).
        run.runner.resume();
        this.log.info({ rolloutId: id }, "rollout resumed by the API (same run)");
        return this.detail(id);
      }
      // It is finishing: resume once it has.
      await run.done;
      this.ensureAccepting();
      if (this.active) throw this.activeError();
    }
    const now = this.summaryOf(id);
    if (now.status === "completed" || now?.status === "aborted") throw new ServiceError("ROLLOUT_FINISHED", `rollout ${id} is ${now.status}; there is nothing to resume`);
    if (this.d.regionIsEphemeral && !this.createdHere.has(id)) {
      throw new ServiceError("REGION_EPHEMERAL", `rollout ${id} ran against an embedded simulated region that is gone; resuming needs a MAAS region that outlives the service (--maas-url)`);
    }
    return this.launch("resume", this.d.config, id);
  }

  pause(id: string, reason: string): RolloutDetail {
    const run = this.liveRun(id, "pause");
    const p = run.runner.progress();
    if (p.state === "running") {
      run.runner.pause(reason);
      this.log.info({ rolloutId: id, reason }, "rollout paused by the API");
    }
    return this.detail(id);
  }

  async abort(id: string, reason: string): Promise<RolloutDetail> {
    const run = this.active;
    if (run?.started && run.rolloutId === id) {
      const p = run.runner.progress();
      if (p.state === "running" || (p.state === "paused" && this.inFlight(p) > 0)) {
        run.runner.abort(reason);
        this.log.warn({ rolloutId: id, reason }, "rollout aborted by the API");
        return this.detail(id);
      }
      // Paused with nothing in flight, the run is finishing: abort the record once it has.
      if (p.state === "paused") await run.done;
      else return this.detail(id);
    }
    const record = this.summaryOf(id);
    if (!record) throw new ServiceError("ROLLOUT_NOT_FOUND", `no rollout ${id}`);
    switch (record.status) {
      case "completed":
      case "aborted":
        throw new ServiceError("ROLLOUT_FINISHED", `rollout ${id} is ${record.status}`);
      case "running":
      case "failed":
        throw new ServiceError("ROLLOUT_NOT_ACTIVE", `rollout ${id} is ${record.status} in the store but not running here; its hosts may be in flight in MAAS: resume it, then abort`);
      case "paused": {
        this.d.store.flush();
        const counts = this.d.store.hostCounts(id);
        if (counts.unsettled > 0) {
          throw new ServiceError("ROLLOUT_NOT_ACTIVE", `rollout ${id} is paused with ${counts.unsettled} host(s) unsettled (a process stopped while they were in flight): resume it, then abort`);
        }
        // Paused and nothing in flight: no machine to act on, the record alone changes.
        abortStoppedRollout(this.d.store, id, reason, "service");
        this.log.warn({ rolloutId: id, reason }, "paused rollout aborted by the API");
        this.d.events.publish("rollout", this.view(id));
        return this.detail(id);
      }
      default:
        return assertNever(record.status, "rollout status");
    }
  }

  // ---- maintenance: re-provisioning and remediation -----------------------------------

  maintenanceView(): MaintenanceView {
    const r = this.d.config.remediation;
    return {
      running: this.maintenance ? { kind: this.maintenance.kind, startedAt: this.maintenance.startedAt, rolloutId: this.maintenance.rolloutId ?? null } : null,
      last: this.lastMaintenance,
      remediation: { enabled: r.enabled, intervalMs: r.intervalMs },
    };
  }

  /** Starts `metalwave reprovision` in the background; the answer says it is running. */
  startReprovision(req: ReprovisionRequest & { spares: boolean }): MaintenanceView {
    return this.runMaintenance("reprovision", (deps) => reprovisionHosts(deps, req, { spares: req.spares }));
  }

  /** Starts one remediation pass in the background. */
  startRemediation(): MaintenanceView {
    return this.runMaintenance("remediation", (deps) => remediate(deps));
  }

  /**
   * Called once as the service starts: a maintenance rollout a stopped (killed) process left
   * unfinished is resumed at once, as a pass of its own; then, with `remediation.enabled`,
   * a pass every `intervalMs` while nothing else runs.
   */
  startRemediationTimer(): void {
    this.resumeLeftMaintenance();
    const r = this.d.config.remediation;
    if (!r.enabled || this.remediationTimer) return;
    this.remediationTimer = setInterval(() => {
      if (this.active || this.maintenance || !this.accepting || this.degradedBy) return;
      try {
        this.startRemediation();
      } catch (e) {
        this.log.warn({ err: errorText(e) }, "remediation pass not started");
      }
    }, r.intervalMs);
    this.remediationTimer.unref();
  }

  private maintenanceError(): ServiceError {
    return new ServiceError("ROLLOUT_ACTIVE", `a ${this.maintenance?.kind ?? "maintenance"} pass is running since ${this.maintenance?.startedAt ?? "?"}; wait for it (GET /api/v1/maintenance)`);
  }

  /**
   * What a stopped process left (src/runtime/maintenance.ts: no run here holds the latest
   * rollout once `active` and `maintenance` are clear). None on an embedded region: what an
   * earlier process left there names machines that are gone.
   */
  private leftBehind(): LeftBehind | undefined {
    if (this.d.regionIsEphemeral) return undefined;
    return leftBehind(this.d.store);
  }

  /** On start: a pass that only finishes what a killed process left of one (its kind named after what made it). */
  private resumeLeftMaintenance(): void {
    try {
      const left = this.leftBehind();
      if (!left || left.step === "blocked") return;
      this.runMaintenance(left.pass, async () => ({}));
    } catch (e) {
      this.log.error({ err: errorText(e) }, "the unfinished maintenance rollout was not resumed on start; the next pass resumes it");
    }
  }

  private runMaintenance(kind: MaintenanceKind, work: (deps: RunnerDeps) => Promise<unknown>): MaintenanceView {
    this.ensureAccepting();
    if (this.degradedBy) throw new ServiceError("SERVICE_DEGRADED", `the service is degraded (${this.degradedBy}); restart it`);
    if (this.active) throw this.activeError();
    if (this.maintenance) throw this.maintenanceError();
    if (this.d.regionIsEphemeral && kind === "reprovision" && this.createdHere.size === 0) {
      throw new ServiceError("REGION_EPHEMERAL", "the embedded region holds no machine this service deployed; run a rollout first");
    }
    // What a killed process left: its maintenance rollout is finished first (resumed, never planned
    // again); a deployment rollout with hosts in flight is the operator's to resume, and no pass
    // acts on the deployment meanwhile (its planned rollout would also stop that one being the latest).
    const left = this.leftBehind();
    if (left?.step === "blocked") {
      throw new ServiceError(
        "ROLLOUT_NOT_ACTIVE",
        `rollout ${left.rolloutId} is ${left.status} in the store with ${left.unsettled} host(s) in flight, not finished and not running here: resume it first (POST /api/v1/rollouts/${left.rolloutId}/resume), or abort it (POST /api/v1/rollouts/${left.rolloutId}/abort) if it should not go on`,
        { details: { rolloutId: left.rolloutId, status: left.status, unsettled: left.unsettled } },
      );
    }
    const layering = this.d.layering?.();
    const startedAt = new Date().toISOString();
    const base = this.d.maasStats().requests;
    const deps: RunnerDeps = {
      maas: this.d.maas,
      store: this.d.store,
      config: layering?.config ?? this.d.config,
      logger: this.log,
      requestCount: () => this.d.maasStats().requests - base,
      onProgress: (p) => this.onMaintenanceProgress(p),
      transitionLogLevel: "info",
      timeScale: this.d.timeScale,
      observerPollMs: this.d.observerPollMs,
      ...(layering ? { layering: { engine: layering.engine, ssh: layering.ssh } } : {}),
    };
    this.log.info({ kind, ...(left ? { finishes: left.rolloutId } : {}) }, "maintenance pass starting");
    const done = (async () => {
      if (!left) return work(deps);
      this.log.warn({ rolloutId: left.rolloutId, step: left.step, ...(left.step === "resume" ? { kind: left.rolloutKind, unsettled: left.unsettled } : {}) }, "finishing the maintenance pass a stopped process left");
      const finished = await finishLeftBehind(deps, left);
      return { ...((await work(deps)) as object), ...finished };
    })()
      .then(
        (result) => {
          this.lastMaintenance = { kind, startedAt, endedAt: new Date().toISOString(), result, error: null };
          this.d.metrics.countMaintenance(kind, maintenanceCounts(result));
          const health = (result as Partial<RemediationResult> | null)?.healthChecks;
          if (health) this.d.metrics.countHealth(health);
        },
        (e: unknown) => {
          // The command's own code (REPROVISION_UNKNOWN_HOST, ...) says more than a service code.
          const error = e instanceof MetalwaveError ? { code: e.code, message: e.message } : { code: toServiceError(e).code, message: toServiceError(e).message };
          this.lastMaintenance = { kind, startedAt, endedAt: new Date().toISOString(), result: null, error };
          this.log.warn({ kind, err: error.message }, "maintenance pass failed");
        },
      )
      .finally(async () => {
        const lastRollout = this.maintenance?.rolloutId;
        this.maintenance = undefined;
        layering?.engine.close();
        await layering?.ssh.close().catch(() => undefined);
        this.d.store.flush();
        if (lastRollout) this.d.events.publish("rollout", this.safeView(lastRollout));
        this.d.events.publish("maintenance", this.maintenanceView());
      });
    this.maintenance = { kind, startedAt, done };
    const view = this.maintenanceView();
    this.d.events.publish("maintenance", view);
    return view;
  }

  /** A pass's runner reported: its rollout's state and counts go out as a rollout's do. */
  private onMaintenanceProgress(p: RolloutProgress): void {
    const m = this.maintenance;
    if (!m) return;
    if (m.rolloutId !== p.rolloutId) {
      m.rolloutId = p.rolloutId;
      m.lastState = undefined;
      this.d.events.publish("maintenance", this.maintenanceView());
    }
    if (p.state !== m.lastState) {
      m.lastState = p.state;
      this.d.events.publish("rollout", this.safeView(p.rolloutId));
    }
    this.d.events.publish("progress", { ...p, inFlight: this.inFlight(p) });
  }

  /** Pauses the live run (or the one still planning) and waits until it has stopped. */
  async stop(reason: string): Promise<void> {
    this.accepting = false;
    if (this.remediationTimer) clearInterval(this.remediationTimer);
    // A maintenance pass runs its rollouts to their end; the store stays consistent meanwhile.
    if (this.maintenance) await this.maintenance.done;
    const run = this.active;
    if (!run) return;
    if (!run.started) run.pending = { kind: "pause", reason };
    else if (run.runner.progress().state === "running") run.runner.pause(reason);
    this.log.warn({ rolloutId: run.rolloutId, reason }, "service stopping: rollout pausing; hosts in flight finish their current phase");
    await run.done;
  }

  // ---- reads ------------------------------------------------------------------------

  list(): { rollouts: RolloutView[]; active: RolloutView | null } {
    const rollouts = this.d.store.listRollouts().map((r) => this.mergeLive({ id: r.id, state: r.status, reason: r.reason, live: false, createdAt: r.createdAt, updatedAt: r.updatedAt }));
    return { rollouts, active: this.activeView() };
  }

  activeView(): RolloutView | null {
    const run = this.active;
    if (!run) return null;
    if (!run.started || !run.rolloutId) return { id: run.rolloutId ?? null, state: "planning", reason: null, live: true, createdAt: null, updatedAt: null };
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
    return this.mergeLive({ id: r.id, state: r.status, reason: r.reason, live: false, createdAt: r.createdAt, updatedAt: r.updatedAt });
  }

  detail(id: string): RolloutDetail {
    const rollout = this.view(id);
    const run = this.active;
    if (run?.started && run.rolloutId === id) {
      const s = run.runner.summary();
      return { rollout, source: "runner", progress: this.progressView(s), failures: s.failures };
    }
    return { rollout, source: "store", progress: this.storeProgress(id), failures: this.storeFailures(id) };
  }

  host(id: string, systemId: string): HostDetail {
    this.summaryOf(id);
    // The runner's writes may sit in the write-behind buffer for a moment.
    this.d.store.flush();
    const h = this.d.store.getHost(id, systemId);
    if (!h) {
      const planned = PLAN_HOSTS(this.d.store.getRollout(id)?.plan).waves.some((w) => w.includes(systemId));
      throw new ServiceError("HOST_NOT_FOUND", planned ? `machine ${systemId} is planned in rollout ${id} but has not started yet` : `machine ${systemId} is not in rollout ${id}`);
    }
    const history = this.d.store.journal(id, { systemId }).map((j) => ({ seq: j.seq, at: j.at, kind: j.kind, data: j.data }));
    return {
      rolloutId: id,
      systemId: h.systemId,
      hostname: h.hostname,
      wave: h.wave,
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
        const to = (e.data as { to?: unknown } | null)?.to;
        if (e.systemId !== null && typeof to === "string") phase.set(e.systemId, to);
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
      },
      kind: planned.kind,
      hosts,
    };
  }

  private plannedOf(id: string): NonNullable<RolloutController["planned"]> {
    if (this.planned?.id === id) return this.planned;
    const record = this.d.store.getRollout(id);
    if (!record) throw new ServiceError("ROLLOUT_NOT_FOUND", `no rollout ${id}`);
    const cells = plannedCells(record.plan);
    const waveSizes = PLAN_HOSTS(record.plan).waves.map((w) => w.length);
    this.planned = { id, kind: kindOf(record.plan), cells, index: new Map(cells.map((c, i) => [c.systemId, i])), waveSizes };
    return this.planned;
  }

  /** Machines by phase of the live run, else of the latest rollout in the store. */
  phaseCounts(): Record<string, number> {
    const live = this.liveProgress();
    if (live) return live.byPhase;
    const latest = this.d.store.listRollouts()[0];
    if (!latest) return {};
    return this.storeProgress(latest.id).byPhase;
  }

  // ---- runs -------------------------------------------------------------------------

  private async launch(kind: "start" | "resume", config: Config, resumeId: string | undefined): Promise<RolloutDetail> {
    if (this.degradedBy) throw new ServiceError("SERVICE_DEGRADED", `the service is degraded (${this.degradedBy}); restart it, then resume the rollout`);
    const layering = this.d.layering?.();
    const maas = revocable(this.d.maas);
    let resolveStarted!: () => void;
    let rejectStarted!: (e: unknown) => void;
    const started = new Promise<void>((resolve, reject) => {
      resolveStarted = resolve;
      rejectStarted = reject;
    });
    const run: ActiveRun = {
      kind,
      runner: undefined as unknown as RolloutRunner,
      rolloutId: resumeId,
      latestBefore: this.d.store.listRollouts()[0]?.id,
      started: false,
      pending: undefined,
      latest: undefined,
      lastState: undefined,
      lastFailed: 0,
      requestBase: this.d.maasStats().requests,
      onStarted: resolveStarted,
      done: Promise.resolve(),
    };
    run.runner = new RolloutRunner({
      maas: maas.port,
      store: this.d.store,
      config: layering?.config ?? config,
      logger: this.log,
      requestCount: () => this.d.maasStats().requests - run.requestBase,
      onProgress: (p) => this.onProgress(run, p),
      transitionLogLevel: "info",
      timeScale: this.d.timeScale,
      observerPollMs: this.d.observerPollMs,
      ...(layering ? { layering: { engine: layering.engine, ssh: layering.ssh } } : {}),
    });
    this.active = run;
    if (resumeId) this.d.metrics.beginTransitions(resumeId, true);
    this.log.info({ kind, rolloutId: resumeId }, kind === "start" ? "rollout starting: planning" : "rollout resuming");
    this.d.events.publish("rollout", { id: resumeId ?? null, state: "planning", reason: null, live: true, createdAt: null, updatedAt: null } satisfies RolloutView);

    run.done = run.runner
      .run({ resume: kind === "resume" })
      .then(
        (summary) => {
          this.finished(run, summary);
          // A resume of a finished rollout returns without starting.
          resolveStarted();
        },
        (e: unknown) => {
          this.failed(run, e);
          rejectStarted(e);
        },
      )
      .finally(async () => {
        maas.revoke();
        // No layer command after the run: the engine stops before its port closes.
        layering?.engine.close();
        await layering?.ssh.close().catch((e: unknown) => this.log.warn({ err: errorText(e) }, "closing the run's SSH port failed"));
      });

    try {
      await started;
    } catch (e) {
      throw toServiceError(e);
    }
    const id = run.rolloutId ?? resumeId;
    if (!id) throw new ServiceError("INTERNAL", "the run ended without naming its rollout");
    return this.detail(id);
  }

  private onProgress(run: ActiveRun, p: RolloutProgress): void {
    run.latest = p;
    if (!run.started) {
      run.started = true;
      run.rolloutId = p.rolloutId;
      if (run.kind === "start") {
        this.createdHere.add(p.rolloutId);
        this.d.metrics.beginTransitions(p.rolloutId, false);
      }
      // Failures the store already held (a resumed rollout's) were counted by the run that saw them.
      this.d.metrics.seedFailures(p.rolloutId, run.runner.summary().failures);
      run.lastFailed = this.failedCount(p);
      const pending = run.pending;
      if (pending) {
        // Outside the runner's own call stack: this report comes from inside an actor's event.
        queueMicrotask(() => {
          if (pending.kind === "pause") run.runner.pause(pending.reason);
          else run.runner.abort(pending.reason);
        });
      }
      run.onStarted();
    }
    if (p.state !== run.lastState) {
      run.lastState = p.state;
      this.d.events.publish("rollout", this.safeView(p.rolloutId));
    }
    const failed = this.failedCount(p);
    if (failed !== run.lastFailed) {
      run.lastFailed = failed;
      this.d.metrics.countFailures(p.rolloutId, run.runner.summary().failures);
    }
    this.d.events.publish("progress", { ...p, inFlight: this.inFlight(p) });
  }

  private finished(run: ActiveRun, summary: RolloutSummary): void {
    if (this.active === run) this.active = undefined;
    this.d.store.flush();
    const id = summary.rolloutId;
    this.d.metrics.countFailures(id, summary.failures);
    this.d.metrics.tailTransitions(id);
    if (run.started) this.d.metrics.observeRun(summary.state, summary.elapsedMs);
    this.log.info({ rolloutId: id, state: summary.state, reason: summary.pauseReason, settled: summary.settled, total: summary.total }, "rollout run ended");
    this.d.events.publish("rollout", this.safeView(id));
  }

  private failed(run: ActiveRun, e: unknown): void {
    if (this.active === run) this.active = undefined;
    const message = errorText(e);
    let id = run.rolloutId;
    if (!id) {
      const latest = this.d.store.listRollouts()[0]?.id;
      if (latest && latest !== run.latestBefore) id = latest;
    }
    if (run.started) {
      // Its actors may still be alive: stop new hosts; the revoked MAAS handle stops the rest.
      try {
        run.runner.pause("the run failed");
      } catch {
        // The rollout actor is already stopped.
      }
      this.degradedBy = `rollout ${id} failed: ${message}`;
    }
    if (id) {
      try {
        this.d.store.setRolloutStatus(id, "failed", message);
        this.d.store.flush();
        this.d.metrics.tailTransitions(id);
      } catch (se) {
        this.log.error({ err: errorText(se), rolloutId: id }, "could not record the failed run in the store");
      }
    }
    if (run.started) this.d.metrics.observeRun("failed", run.latest?.elapsedMs ?? 0);
    const expected = e instanceof PreflightError || (e instanceof RolloutError && e.code !== "PLAN_MISMATCH");
    (expected ? this.log.warn.bind(this.log) : this.log.error.bind(this.log))({ err: message, rolloutId: id, started: run.started }, "rollout run failed");
    this.d.events.publish("rollout", id ? this.safeView(id) : ({ id: null, state: "failed", reason: message, live: false, createdAt: null, updatedAt: null } satisfies RolloutView));
  }

  // ---- helpers ------------------------------------------------------------------------

  private ensureAccepting(): void {
    if (!this.accepting) throw new ServiceError("SHUTTING_DOWN", "the service is stopping; no rollout is started or resumed");
  }

  private activeError(): ServiceError {
    const run = this.active;
    const what = run?.rolloutId ? `rollout ${run.rolloutId} is live here` : "a rollout is being planned";
    return new ServiceError("ROLLOUT_ACTIVE", `${what}; one rollout runs at a time (pause or abort it, or wait until it has stopped)`, {
      details: { active: this.activeView() },
    });
  }

  /** The rollout's record without its plan (a 10,000-host plan is not parsed for a state); 404 when unknown. */
  private summaryOf(id: string): RolloutSummaryRecord {
    const r = this.d.store.listRollouts().find((x) => x.id === id);
    if (!r) throw new ServiceError("ROLLOUT_NOT_FOUND", `no rollout ${id}`);
    return r;
  }

  private liveRun(id: string, doing: string): ActiveRun {
    const run = this.active;
    if (run?.started && run.rolloutId === id) return run;
    const record = this.summaryOf(id);
    throw new ServiceError("ROLLOUT_NOT_ACTIVE", `cannot ${doing} rollout ${id}: it is ${record.status} and not running here`);
  }

  private mergeLive(v: RolloutView): RolloutView {
    const run = this.active;
    // A maintenance pass's rollout is live while the pass runs it.
    if (v.id !== null && this.maintenance?.rolloutId === v.id && (v.state === "running" || v.state === "paused")) return { ...v, live: true };
    if (!run?.started || run.rolloutId !== v.id) return v;
    const s = run.runner.summary();
    return { ...v, state: s.state, reason: s.pauseReason ?? null, live: true };
  }

  private safeView(id: string): RolloutView {
    try {
      return this.view(id);
    } catch {
      return { id, state: "failed", reason: null, live: false, createdAt: null, updatedAt: null };
    }
  }

  private failedCount(p: RolloutProgress): number {
    return p.byOutcome.quarantined + p.byOutcome.aborted + p.byOutcome.failed;
  }

  private inFlight(p: RolloutProgress): number {
    return p.total - p.settled - (p.byPhase["waiting"] ?? 0);
  }

  private progressView(p: RolloutProgress): ProgressView {
    return {
      wave: p.wave,
      waves: p.waves,
      total: p.total,
      settled: p.settled,
      inFlight: this.inFlight(p),
      byPhase: p.byPhase,
      byOutcome: p.byOutcome,
      perWave: p.perWave,
      maasRequests: p.maasRequests,
      elapsedMs: p.elapsedMs,
    };
  }

  /** Counts from the hosts' records (in SQL, no snapshot read): exact for a rollout no runner holds. */
  private storeProgress(id: string): ProgressView {
    const { store } = this.d;
    store.flush();
    const record = store.getRollout(id);
    if (!record) throw new ServiceError("ROLLOUT_NOT_FOUND", `no rollout ${id}`);
    const plan = PLAN_HOSTS(record.plan);
    const counts = store.hostCounts(id);
    const byPhase = { ...counts.byPhase };
    const waiting = plan.total - counts.total;
    if (waiting > 0) byPhase["waiting"] = waiting;
    const byOutcome: Record<string, number> = { inService: 0, quarantined: 0, aborted: 0, failed: 0, ...counts.byOutcome };
    const perWave: WaveProgress[] = plan.waves.map((w, index) => {
      const c = counts.waves.find((x) => x.wave === index);
      const settled = c ? c.total - c.unsettled : 0;
      const failed = c ? Object.entries(c.byOutcome).reduce((n, [o, k]) => (o === "inService" ? n : n + k), 0) : 0;
      return { index, size: w.length, settled, failed };
    });
    const firstOpen = perWave.findIndex((w) => w.settled < w.size);
    return {
      wave: firstOpen < 0 ? Math.max(0, perWave.length - 1) : firstOpen,
      waves: perWave.length,
      total: plan.total,
      settled: counts.total - counts.unsettled,
      inFlight: counts.unsettled,
      byPhase,
      byOutcome,
      perWave,
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

function failureOf(h: HostRecord): HostFailure {
  const le = h.lastError as { phase?: string; code?: string; message?: string } | null;
  return {
    systemId: h.systemId,
    hostname: h.hostname,
    outcome: h.outcome as HostFailure["outcome"],
    phase: le?.phase ?? h.phase,
    code: le?.code ?? (h.outcome === "aborted" ? "ABORTED" : "UNKNOWN"),
    message: le?.message ?? "",
  };
}

/** Maps what a run can throw to the API's errors. */
export function toServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (e instanceof PreflightError) {
    return new ServiceError("PREFLIGHT_FAILED", e.message, {
      cause: e,
      details: { findings: e.findings.map((f) => ({ severity: f.severity, code: f.code, role: f.role, message: f.message })) },
    });
  }
  if (e instanceof RolloutError) {
    switch (e.code) {
      case "EMPTY_FLEET":
        return new ServiceError("EMPTY_FLEET", e.message, { cause: e });
      case "NOTHING_TO_RESUME":
        return new ServiceError("ROLLOUT_NOT_FOUND", e.message, { cause: e });
      case "PLAN_MISMATCH":
        return new ServiceError("INTERNAL", e.message, { cause: e });
      case "NOTHING_TO_ABORT":
        return new ServiceError("ROLLOUT_FINISHED", e.message, { cause: e });
      case "HOSTS_IN_FLIGHT":
        return new ServiceError("ROLLOUT_NOT_ACTIVE", e.message, { cause: e });
      default:
        return assertNever(e.code, "rollout error code");
    }
  }
  if (e instanceof MaasError) return new ServiceError("MAAS_ERROR", `MAAS: ${e.message} [${e.code}]`, { cause: e });
  if (e instanceof MetalwaveError) return new ServiceError("INTERNAL", `${e.message} [${e.code}]`, { cause: e });
  return new ServiceError("INTERNAL", "internal error (see the service log)", { cause: e });
}
