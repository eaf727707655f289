/**
 * What the controller's parts share: their dependencies, the run and the maintenance
 * pass live in this process (at most one of either, never both), the rollouts this
 * process created, and whether it still accepts work. Run supervision
 * (run-supervision.ts) and maintenance passes (maintenance-passes.ts) change it; the
 * read models (read-models.ts) only read it.
 */
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { Clock } from "../clock.ts";
import type { MaasPort } from "../maas/port.ts";
import type { MaasClientStats } from "../maas/client.ts";
import type { RolloutRegion, Store } from "../store/index.ts";
import type { RolloutProgress, RolloutRunner, RolloutState } from "../runtime/rollout-runner.ts";
import type { Layering } from "../layers/index.ts";
import type { SshPort } from "../ssh/index.ts";
import { ServiceError } from "./errors.ts";
import type { EventHub } from "./events.ts";
import type { ServiceMetrics } from "./metrics.ts";

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
  /** The service's one clock (src/clock.ts), handed to every run and pass. */
  clock: Clock;
  /** Called once per run; the run closes the SSH port it returns when it ends. */
  layering?: (() => RunLayering | undefined) | undefined;
  /**
   * The region lives only as long as this process (the embedded simulator): rollouts
   * created by an earlier process name machines that no longer exist, so they are not resumed.
   */
  regionIsEphemeral: boolean;
  /** The region the service runs against, recorded with every rollout it creates (absent: not recorded). */
  region?: RolloutRegion | undefined;
  /** A machine's page in the region's web UI, `{systemId}` standing for its id; null without one (the simulator has none). */
  maasMachineUrl?: string | null | undefined;
  /** Several regions: each region's machine page, `{systemId}` standing for the machine's system_id in that region. */
  regionMachineUrls?: Record<string, string> | undefined;
}

/** A rollout run (start or resume) this process supervises. */
export interface ActiveRun {
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

export type MaintenanceKind = "reprovision" | "remediation";

/** A maintenance pass running in the background. */
export interface MaintenanceRun {
  kind: MaintenanceKind;
  startedAt: string;
  done: Promise<void>;
  /** The rollout the pass runs now (a pass may run two: a replacement after it). */
  rolloutId?: string;
  lastState?: RolloutState;
}

export class ControllerState {
  active: ActiveRun | undefined;
  maintenance: MaintenanceRun | undefined;
  /** Rollouts this process created (the only ones an ephemeral region can resume). */
  readonly createdHere = new Set<string>();
  accepting = true;
  /** Why runs are refused, if they are: a runner failed after its rollout had started. */
  degradedBy: string | undefined;

  ensureAccepting(): void {
    if (!this.accepting) throw new ServiceError("SHUTTING_DOWN", "the service is stopping; no rollout is started or resumed");
  }

  maintenanceError(): ServiceError {
    return new ServiceError("ROLLOUT_ACTIVE", `a ${this.maintenance?.kind ?? "maintenance"} pass is running since ${this.maintenance?.startedAt ?? "?"}; wait for it (GET /api/v1/maintenance)`);
  }
}
