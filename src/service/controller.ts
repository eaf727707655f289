/**
 * The service's rollout controller: what the HTTP routes call. It puts together the
 * controller's concerns, one file each:
 * - run-supervision.ts: at most one rollout run, started, resumed, paused, aborted;
 * - maintenance-passes.ts: re-provisioning and remediation passes in the background;
 * - read-models.ts: views of rollouts and hosts, from the live runner or the store;
 * - plan-reading.ts: the stored plan as those views need it;
 * - error-mapping.ts: what a run throws, as the API's errors;
 * - controller-state.ts: what they share (the live run and pass, accepting, degraded).
 * When no runner is live, every answer comes from the store.
 */
import type { RolloutProgress } from "../runtime/rollout-runner.ts";
import type { ReprovisionRequest } from "../runtime/reprovision.ts";
import type { FindingCode } from "../roles/types.ts";
import { ControllerState, type ControllerDeps } from "./controller-state.ts";
import { RolloutReads, type HostDetail, type HostsView, type RolloutDetail, type RolloutView } from "./read-models.ts";
import { RunSupervisor } from "./run-supervision.ts";
import { MaintenancePasses, type MaintenanceView } from "./maintenance-passes.ts";

export type { ControllerDeps, RunLayering, MaintenanceKind } from "./controller-state.ts";
export type { ApiRolloutState, RolloutView, ProgressView, RolloutDetail, HostDetail, HostCell, HostsView } from "./read-models.ts";
export type { RolloutKind } from "./plan-reading.ts";
export type { MaintenanceView } from "./maintenance-passes.ts";
export { toServiceError } from "./error-mapping.ts";

export class RolloutController {
  private readonly state = new ControllerState();
  private readonly reads: RolloutReads;
  private readonly runs: RunSupervisor;
  private readonly passes: MaintenancePasses;

  constructor(deps: ControllerDeps) {
    this.reads = new RolloutReads(deps, this.state);
    this.runs = new RunSupervisor(deps, this.state, this.reads);
    this.passes = new MaintenancePasses(deps, this.state, this.reads, this.runs);
  }

  /** Why the controller refuses to start runs, if it does: a runner failed after its rollout had started. */
  get degraded(): string | undefined {
    return this.state.degradedBy;
  }

  get stopping(): boolean {
    return !this.state.accepting;
  }

  liveRolloutId(): string | undefined {
    const run = this.state.active;
    return run?.started ? run.rolloutId : undefined;
  }

  planning(): boolean {
    return this.state.active !== undefined && !this.state.active.started;
  }

  /** The live run's progress, for the metrics; undefined when none is live or it is still planning. */
  liveProgress(): RolloutProgress | undefined {
    return this.reads.liveProgress();
  }

  // ---- rollout runs ---------------------------------------------------------------------

  start(opts: { overrides: readonly FindingCode[] }): Promise<RolloutDetail> {
    return this.runs.start(opts);
  }

  resume(id: string): Promise<RolloutDetail> {
    return this.runs.resume(id);
  }

  pause(id: string, reason: string): RolloutDetail {
    return this.runs.pause(id, reason);
  }

  abort(id: string, reason: string): Promise<RolloutDetail> {
    return this.runs.abort(id, reason);
  }

  /** Refuses new work, lets a maintenance pass finish, then pauses the live run and waits until it has stopped. */
  async stop(reason: string): Promise<void> {
    this.state.accepting = false;
    await this.passes.stop();
    await this.runs.stop(reason);
  }

  // ---- maintenance: re-provisioning and remediation -------------------------------------

  maintenanceView(): MaintenanceView {
    return this.passes.maintenanceView();
  }

  startReprovision(req: ReprovisionRequest & { spares: boolean }): MaintenanceView {
    return this.passes.startReprovision(req);
  }

  startRemediation(): MaintenanceView {
    return this.passes.startRemediation();
  }

  startRemediationTimer(): void {
    this.passes.startRemediationTimer();
  }

  // ---- reads ----------------------------------------------------------------------------

  list(): { rollouts: RolloutView[]; active: RolloutView | null } {
    return this.reads.list();
  }

  activeView(): RolloutView | null {
    return this.reads.activeView();
  }

  currentView(): RolloutView | null {
    return this.reads.currentView();
  }

  view(id: string): RolloutView {
    return this.reads.view(id);
  }

  detail(id: string): RolloutDetail {
    return this.reads.detail(id);
  }

  host(id: string, systemId: string): HostDetail {
    return this.reads.host(id, systemId);
  }

  hosts(id: string, after: number | undefined): Promise<HostsView> {
    return this.reads.hosts(id, after);
  }

  /** What is left of the failure budgets (read-models.ts), for the metrics. */
  budgetRemaining(): { total: number; wave: number; waveIndex: number } | undefined {
    return this.reads.budgetRemaining();
  }

  /** Machines by phase of the live run, else of the latest rollout in the store. */
  phaseCounts(): Record<string, number> {
    return this.reads.phaseCounts();
  }
}
