/**
 * Run supervision: at most one RolloutRunner at a time, started, resumed, paused and
 * aborted on request, with its progress fanned out to the event hub and the metrics.
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
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { MaasPort } from "../maas/port.ts";
import { abortStoppedRollout, RolloutError, RolloutRunner, type RolloutProgress, type RolloutSummary } from "../runtime/rollout-runner.ts";
import { withWavesFromOne } from "../runtime/progress.ts";
import { PreflightError } from "../runtime/deployment-plan.ts";
import type { FindingCode } from "../roles/types.ts";
import { assertNever } from "../errors.ts";
import { ServiceError } from "./errors.ts";
import type { ActiveRun, ControllerDeps, ControllerState } from "./controller-state.ts";
import { failedOf, inFlightOf, regionView, type RolloutDetail, type RolloutReads, type RolloutView } from "./read-models.ts";
import { errorText, toServiceError } from "./error-mapping.ts";

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

export class RunSupervisor {
  private readonly d: ControllerDeps;
  private readonly s: ControllerState;
  private readonly reads: RolloutReads;
  private readonly log: Logger;

  constructor(deps: ControllerDeps, state: ControllerState, reads: RolloutReads) {
    this.d = deps;
    this.s = state;
    this.reads = reads;
    this.log = deps.logger;
  }

  async start(opts: { overrides: readonly FindingCode[] }): Promise<RolloutDetail> {
    this.s.ensureAccepting();
    if (this.s.active) throw this.activeError();
    if (this.s.maintenance) throw this.s.maintenanceError();
    return this.launch("start", withOverrides(this.d.config, opts.overrides), undefined);
  }

  async resume(id: string): Promise<RolloutDetail> {
    this.s.ensureAccepting();
    this.reads.summaryOf(id);
    // The pass's own runner holds its rollout (the latest one): a second runner must not take it.
    if (this.s.maintenance) throw this.s.maintenanceError();
    const latest = this.d.store.listRollouts()[0];
    if (latest?.id !== id) throw new ServiceError("NOT_LATEST", `rollout ${id} is not the latest (${latest?.id}); only the latest rollout can be resumed`);
    const run = this.s.active;
    if (run) {
      if (run.rolloutId !== id || !run.started) throw this.activeError();
      const p = run.runner.progress();
      if (p.state === "running") throw new ServiceError("ROLLOUT_ACTIVE", `rollout ${id} is already running`);
      if (p.state === "paused" && inFlightOf(p) > 0) {
        // Paused, hosts still finishing: the same runner carries on (and acknowledges the failures so far).
        run.runner.resume();
        this.log.info({ rolloutId: id }, "rollout resumed by the API (same run)");
        return this.reads.detail(id);
      }
      // It is finishing: resume once it has.
      await run.done;
      this.s.ensureAccepting();
      if (this.s.active) throw this.activeError();
    }
    const now = this.reads.summaryOf(id);
    if (now.status === "completed" || now?.status === "aborted") throw new ServiceError("ROLLOUT_FINISHED", `rollout ${id} is ${now.status}; there is nothing to resume`);
    if (this.d.regionIsEphemeral && !this.s.createdHere.has(id)) {
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
    return this.reads.detail(id);
  }

  async abort(id: string, reason: string): Promise<RolloutDetail> {
    const run = this.s.active;
    if (run?.started && run.rolloutId === id) {
      const p = run.runner.progress();
      if (p.state === "running" || (p.state === "paused" && inFlightOf(p) > 0)) {
        run.runner.abort(reason);
        this.log.warn({ rolloutId: id, reason }, "rollout aborted by the API");
        return this.reads.detail(id);
      }
      // Paused with nothing in flight, the run is finishing: abort the record once it has.
      if (p.state === "paused") await run.done;
      else return this.reads.detail(id);
    }
    const record = this.reads.summaryOf(id);
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
        this.d.events.publish("rollout", this.reads.view(id));
        return this.reads.detail(id);
      }
      default:
        return assertNever(record.status, "rollout status");
    }
  }

  /** Pauses the live run (or the one still planning) and waits until it has stopped. */
  async stop(reason: string): Promise<void> {
    const run = this.s.active;
    if (!run) return;
    if (!run.started) run.pending = { kind: "pause", reason };
    else if (run.runner.progress().state === "running") run.runner.pause(reason);
    this.log.warn({ rolloutId: run.rolloutId, reason }, "service stopping: rollout pausing; hosts in flight finish their current phase");
    await run.done;
  }

  /** The 409 for a request that needs no run live here. */
  activeError(): ServiceError {
    const run = this.s.active;
    const what = run?.rolloutId ? `rollout ${run.rolloutId} is live here` : "a rollout is being planned";
    return new ServiceError("ROLLOUT_ACTIVE", `${what}; one rollout runs at a time (pause or abort it, or wait until it has stopped)`, {
      details: { active: this.reads.activeView() },
    });
  }

  private liveRun(id: string, doing: string): ActiveRun {
    const run = this.s.active;
    if (run?.started && run.rolloutId === id) return run;
    const record = this.reads.summaryOf(id);
    throw new ServiceError("ROLLOUT_NOT_ACTIVE", `cannot ${doing} rollout ${id}: it is ${record.status} and not running here`);
  }

  private async launch(kind: "start" | "resume", config: Config, resumeId: string | undefined): Promise<RolloutDetail> {
    if (this.s.degradedBy) throw new ServiceError("SERVICE_DEGRADED", `the service is degraded (${this.s.degradedBy}); restart it, then resume the rollout`);
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
      clock: this.d.clock,
      ...(this.d.region ? { region: this.d.region } : {}),
      ...(layering ? { layering: { engine: layering.engine, ssh: layering.ssh } } : {}),
    });
    this.s.active = run;
    if (resumeId) this.d.metrics.beginTransitions(resumeId, true);
    this.log.info({ kind, rolloutId: resumeId }, kind === "start" ? "rollout starting: planning" : "rollout resuming");
    this.d.events.publish("rollout", { id: resumeId ?? null, state: "planning", reason: null, live: true, createdAt: null, updatedAt: null, region: regionView(this.d.region) } satisfies RolloutView);

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
    return this.reads.detail(id);
  }

  private onProgress(run: ActiveRun, p: RolloutProgress): void {
    run.latest = p;
    if (!run.started) {
      run.started = true;
      run.rolloutId = p.rolloutId;
      if (run.kind === "start") {
        this.s.createdHere.add(p.rolloutId);
        this.d.metrics.beginTransitions(p.rolloutId, false);
      }
      // Failures the store already held (a resumed rollout's) were counted by the run that saw them.
      this.d.metrics.seedFailures(p.rolloutId, run.runner.summary().failures);
      run.lastFailed = failedOf(p);
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
      this.d.events.publish("rollout", this.reads.safeView(p.rolloutId));
    }
    const failed = failedOf(p);
    if (failed !== run.lastFailed) {
      run.lastFailed = failed;
      this.d.metrics.countFailures(p.rolloutId, run.runner.summary().failures);
    }
    // Waves count from 1 in the API's answers and events (docs/service.md).
    this.d.events.publish("progress", withWavesFromOne({ ...p, inFlight: inFlightOf(p) }));
  }

  private finished(run: ActiveRun, summary: RolloutSummary): void {
    if (this.s.active === run) this.s.active = undefined;
    this.d.store.flush();
    const id = summary.rolloutId;
    this.d.metrics.countFailures(id, summary.failures);
    this.d.metrics.tailTransitions(id);
    if (run.started) this.d.metrics.observeRun(summary.state, summary.elapsedMs);
    this.log.info({ rolloutId: id, state: summary.state, reason: summary.pauseReason, settled: summary.settled, total: summary.total }, "rollout run ended");
    this.d.events.publish("rollout", this.reads.safeView(id));
  }

  private failed(run: ActiveRun, e: unknown): void {
    if (this.s.active === run) this.s.active = undefined;
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
      this.s.degradedBy = `rollout ${id} failed: ${message}`;
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
    this.d.events.publish("rollout", id ? this.reads.safeView(id) : ({ id: null, state: "failed", reason: message, live: false, createdAt: null, updatedAt: null, region: regionView(this.d.region) } satisfies RolloutView));
  }
}
