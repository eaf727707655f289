/**
 * Maintenance passes the service runs in the background: `metalwave reprovision` on
 * request, a remediation pass on request or every `remediation.intervalMs`, and on
 * start whatever pass a stopped (killed) process left unfinished. A pass never runs
 * beside a rollout run (run-supervision.ts).
 */
import type { Logger } from "pino";
import { wallDate } from "../clock.ts";
import type { RolloutProgress, RolloutSummary, RunnerDeps } from "../runtime/rollout-runner.ts";
import { withWavesFromOne } from "../runtime/progress.ts";
import { reprovisionHosts, type ReprovisionRequest } from "../runtime/reprovision.ts";
import { remediate, type RemediationResult } from "../runtime/remediation.ts";
import { finishLeftBehind, leftBehind, type LeftBehind } from "../runtime/maintenance.ts";
import { MetalwaveError } from "../errors.ts";
import { ServiceError } from "./errors.ts";
import type { ControllerDeps, ControllerState, MaintenanceKind } from "./controller-state.ts";
import { inFlightOf, type RolloutReads } from "./read-models.ts";
import type { RunSupervisor } from "./run-supervision.ts";
import { errorText, toServiceError } from "./error-mapping.ts";

export type { MaintenanceKind } from "./controller-state.ts";

/** A re-provisioning or remediation pass the service runs in the background. */
export interface MaintenanceView {
  /** `rolloutId`: the rollout the pass runs now (null until it has planned one); a pass may run two (a replacement after it). */
  running: { kind: MaintenanceKind; startedAt: string; rolloutId: string | null } | null;
  last: { kind: MaintenanceKind; startedAt: string; endedAt: string; result: unknown; error: { code: string; message: string } | null } | null;
  remediation: { enabled: boolean; intervalMs: number };
}

/** What became of a pass's hosts, from a reprovision run or a remediation result (and what it finished first). */
function maintenanceCounts(result: unknown): { inService: number; quarantined: number; refused: number; replaced: number } {
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
    refused: (run?.byOutcome.refused ?? 0) + (r.resumed?.byOutcome.refused ?? 0),
    replaced: [...(r.replacements ?? []), ...(r.resumedSpares?.replacements ?? [])].filter((x) => x.spare !== null).length,
  };
}

export class MaintenancePasses {
  private readonly d: ControllerDeps;
  private readonly s: ControllerState;
  private readonly reads: RolloutReads;
  private readonly runs: RunSupervisor;
  private readonly log: Logger;
  private lastMaintenance: MaintenanceView["last"] = null;
  private remediationTimer: NodeJS.Timeout | undefined;

  constructor(deps: ControllerDeps, state: ControllerState, reads: RolloutReads, runs: RunSupervisor) {
    this.d = deps;
    this.s = state;
    this.reads = reads;
    this.runs = runs;
    this.log = deps.logger;
  }

  maintenanceView(): MaintenanceView {
    const r = this.d.config.remediation;
    const m = this.s.maintenance;
    return {
      running: m ? { kind: m.kind, startedAt: m.startedAt, rolloutId: m.rolloutId ?? null } : null,
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
      if (this.s.active || this.s.maintenance || !this.s.accepting || this.s.degradedBy) return;
      try {
        this.startRemediation();
      } catch (e) {
        this.log.warn({ err: errorText(e) }, "remediation pass not started");
      }
    }, r.intervalMs);
    this.remediationTimer.unref();
  }

  /** No pass starts any more; waits for the running one (it runs its rollouts to their end; the store stays consistent meanwhile). */
  async stop(): Promise<void> {
    if (this.remediationTimer) clearInterval(this.remediationTimer);
    if (this.s.maintenance) await this.s.maintenance.done;
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
    this.s.ensureAccepting();
    if (this.s.degradedBy) throw new ServiceError("SERVICE_DEGRADED", `the service is degraded (${this.s.degradedBy}); restart it`);
    if (this.s.active) throw this.runs.activeError();
    if (this.s.maintenance) throw this.s.maintenanceError();
    if (this.d.regionIsEphemeral && kind === "reprovision" && this.s.createdHere.size === 0) {
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
    const startedAt = wallDate(this.d.clock).toISOString();
    const base = this.d.maasStats().requests;
    const deps: RunnerDeps = {
      maas: this.d.maas,
      store: this.d.store,
      config: layering?.config ?? this.d.config,
      logger: this.log,
      requestCount: () => this.d.maasStats().requests - base,
      onProgress: (p) => this.onMaintenanceProgress(p),
      transitionLogLevel: "info",
      clock: this.d.clock,
      timeScale: this.d.timeScale,
      observerPollMs: this.d.observerPollMs,
      ...(this.d.region ? { region: this.d.region } : {}),
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
          this.lastMaintenance = { kind, startedAt, endedAt: wallDate(this.d.clock).toISOString(), result, error: null };
          this.d.metrics.countMaintenance(kind, maintenanceCounts(result));
          const health = (result as Partial<RemediationResult> | null)?.healthChecks;
          if (health) this.d.metrics.countHealth(health);
        },
        (e: unknown) => {
          // The command's own code (REPROVISION_UNKNOWN_HOST, ...) says more than a service code.
          const error = e instanceof MetalwaveError ? { code: e.code, message: e.message } : { code: toServiceError(e).code, message: toServiceError(e).message };
          this.lastMaintenance = { kind, startedAt, endedAt: wallDate(this.d.clock).toISOString(), result: null, error };
          this.log.warn({ kind, err: error.message }, "maintenance pass failed");
        },
      )
      .finally(async () => {
        const lastRollout = this.s.maintenance?.rolloutId;
        this.s.maintenance = undefined;
        layering?.engine.close();
        await layering?.ssh.close().catch(() => undefined);
        this.d.store.flush();
        if (lastRollout) this.d.events.publish("rollout", this.reads.safeView(lastRollout));
        this.d.events.publish("maintenance", this.maintenanceView());
      });
    this.s.maintenance = { kind, startedAt, done };
    const view = this.maintenanceView();
    this.d.events.publish("maintenance", view);
    return view;
  }

  /** A pass's runner reported: its rollout's state and counts go out as a rollout's do. */
  private onMaintenanceProgress(p: RolloutProgress): void {
    const m = this.s.maintenance;
    if (!m) return;
    if (m.rolloutId !== p.rolloutId) {
      m.rolloutId = p.rolloutId;
      m.lastState = undefined;
      this.d.events.publish("maintenance", this.maintenanceView());
    }
    if (p.state !== m.lastState) {
      m.lastState = p.state;
      this.d.events.publish("rollout", this.reads.safeView(p.rolloutId));
    }
    // Waves count from 1 in the API's answers and events (docs/service.md).
    this.d.events.publish("progress", withWavesFromOne({ ...p, inFlight: inFlightOf(p) }));
  }
}
