/**
 * The orchestrator runtime: it runs one host actor per machine and the rollout controller,
 * glues them through their emitted events, and feeds MAAS status changes to the hosts. The
 * machines stay pure; every effect happens here or in host-actors.ts. Over 600 lines because
 * that glue (a handler per emitted event) is kept in one place, so a host's path reads in one
 * file. Its parts: rollout-open.ts (the rollout found or planned), resume.ts, host-persistence.ts,
 * progress.ts, rollout-lifecycle.ts, region-catchup.ts, region-plan.ts, plan-prepare.ts.
 */
import { createActor, type Actor } from "xstate";
import type { Logger } from "pino";
import type { MaasPort } from "../maas/port.ts";
import { systemClock, type Clock } from "../clock.ts";
import { isStatusCode, STATUS_LABEL, type NodeStatusCode } from "../model/maas/status.ts";
import type { Config } from "../config.ts";
import type { Store, HostRecord, RolloutRegion } from "../store/index.ts";
import { hostMachine, isRetryHeld, type HostInput, type HostOutcome, type HostPolicy } from "../../state-machines/host.ts";
import { rolloutMachine, type RolloutEvent } from "../../state-machines/rollout.ts";
import { hostToRollout, rolloutToHost, HOST_EMITTED_TYPES, ROLLOUT_EMITTED_TYPES } from "../../state-machines/glue.ts";
import type { PlannedHost, RolloutPlan } from "./deployment-plan.ts";
import { ensurePlanTags, openRollout, readStatuses, settleUnresolvedCalls } from "./rollout-open.ts";
import type { Layering } from "../layers/index.ts";
import type { SshPort } from "../ssh/index.ts";
import { LayerCoordinator } from "./layer-coordinator.ts";
import { StatusObserver, type StatusChange } from "./observer.ts";
import { followRegions, RegionObservers, regionsDown, regionsOf, type StatusObserving } from "./regions.ts";
import { checkRegionUser, DeferredRegions, regionsAnsweringNow } from "./region-catchup.ts";
import { joinLateRegion, planLateRegion } from "./region-plan.ts";
import type { RegionsMaas } from "../maas/regions.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import type { HostSnapshot } from "./resume.ts";
import { TagBatcher } from "./tag-batcher.ts";
import { StoreJujuJournal } from "./juju-journal.ts";
import { CallJournal } from "./call-journal.ts";
import { createHostActors } from "./host-actors.ts";
import { RolloutError } from "./rollout-error.ts";
import { hostPolicyFrom } from "./host-policy.ts";
import { preparePlan, type PreparedPlan } from "./plan-prepare.ts";
import { HostPersistence } from "./host-persistence.ts";
import { HeldStatuses } from "./held-statuses.ts";
import { resumePointOf, withoutChildren } from "./resume.ts";
import { hasRolloutEvent } from "./documents/journal-entry.ts";
import { readHostError } from "./documents/host-error.ts";
import { RunState } from "./rollout-lifecycle.ts";
import { RolloutTally, type RolloutProgress, type RolloutSummary } from "./progress.ts";

export { RolloutError, type RolloutErrorCode } from "./rollout-error.ts";
export { abortStoppedRollout } from "./stopped-rollout.ts";
export { hostPolicyFrom, MIN_PHASE_TIMEOUT_MS } from "./host-policy.ts";
export type { PlanPrepare, PreparedPlan } from "./plan-prepare.ts";
export type { HostFailure, RolloutProgress, RolloutState, RolloutSummary, WaveProgress } from "./progress.ts";

export interface RunnerDeps {
  maas: MaasPort;
  store: Store;
  config: Config;
  logger: Logger;
  /** Counts MAAS requests made (for the summary). */
  requestCount: () => number;
  onProgress?: (p: RolloutProgress) => void;
  /**
   * The level of the one log line per host transition (with the host's fixed keys:
   * systemId, hostname, wave, role). The service logs them at info; the CLI, which shows
   * progress instead, at debug (METALWAVE_LOG_LEVEL=debug shows them).
   */
  transitionLogLevel?: "info" | "debug";
  /** Divides the host policy's timeouts and backoff: the embedded simulator runs time-scaled. */
  timeScale?: number;
  /**
   * The layers (src/layers) and the SSH port they use. Absent: layering is a no-op
   * and a Deployed host is in service (the bench's New → Deployed runs).
   */
  layering?: { engine: Layering; ssh: SshPort };
  observerPollMs?: number;
  /** Time for the run's durations and its observer (src/clock.ts). Default: the system clock. */
  clock?: Clock;
  /**
   * The region this runs against, recorded with each rollout it creates so `status` and the
   * service's answers say "simulated" of a rehearsal on the embedded simulator. Absent: not recorded.
   */
  region?: RolloutRegion;
}

type HostActor = Actor<typeof hostMachine>;

const pick = <T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> => Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;

export class RolloutRunner {
  private readonly deps: RunnerDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private plan!: RolloutPlan;
  private rolloutId!: string;
  private hostInfo = new Map<string, PlannedHost>();
  /** Every planned host's roles, for the layers (grows with a region planned late). */
  private readonly layerRoles = new Map<string, readonly string[]>();
  private readonly hosts = new Map<string, HostActor>();
  private readonly knownStatus = new Map<string, NodeStatusCode>();
  private readonly statuses = new HeldStatuses(this.hosts, (id, actor) => this.persistence.changed(id, actor)); // held-statuses.ts
  private persistence!: HostPersistence;
  private tally!: RolloutTally;
  private coordinator: LayerCoordinator | undefined;
  /** Hosts restored from a snapshot whose first MAAS request has not been made yet. */
  private readonly restoredUnchecked = new Set<string>();
  private observer!: StatusObserving;
  private unfollowRegions: (() => void) | undefined;
  private rollout!: Actor<typeof rolloutMachine>;
  private startedAt = 0;
  private finish!: (s: RolloutSummary) => void;
  private fail!: (e: unknown) => void;
  private stopping = false;
  /** The run's state as the rollout machine reports it (rollout-lifecycle.ts). */
  private readonly status: RunState;
  /** Resolves once the rollout actor has started: a region caught up early waits for it (not dropped). */
  private readonly actorStarted: Promise<void>;
  private startedActor!: () => void;
  /** Hosts whose retry waits for the paused rollout to resume (they do nothing until then). */
  private readonly held = new Set<string>();
  /** close() was called: nothing is started, sent, journaled or saved from then on. */
  private closed = false;
  /** Several regions, on a resume: the regions that did not answer at the start, and their held hosts (region-catchup.ts). */
  private deferred: DeferredRegions<{ record: HostRecord; snapshot: HostSnapshot }> | undefined;

  constructor(deps: RunnerDeps) {
    this.deps = deps;
    this.log = deps.logger;
    this.actorStarted = new Promise((resolve) => (this.startedActor = resolve));
    this.status = new RunState({ store: deps.store, rolloutId: () => this.rolloutId, journal: (d) => this.journal(d), log: this.log, changed: () => this.maybeFinish() });
    const clock = deps.clock ?? systemClock;
    this.now = () => clock.now();
  }

  /**
   * Runs a rollout until it completes, is aborted, or pauses (a spent failure budget or an
   * operator's pause) and every host still in flight has settled. `plan`: run this plan
   * instead of planning from MAAS (a re-provisioning or a spare taking a role).
   */
  async run(opts: { resume: boolean; plan?: PreparedPlan }): Promise<RolloutSummary> {
    try {
      return await this.runToEnd(opts);
    } catch (e) {
      // A refused start (pre-flight, empty fleet, nothing to resume) or a failure: the
      // observer's timer must not keep polling MAAS and holding the process open.
      this.unfollowRegions?.();
      await (this.observer as StatusObserving | undefined)?.stop().catch(() => undefined);
      throw e;
    }
  }

  private async runToEnd(opts: { resume: boolean; plan?: PreparedPlan }): Promise<RolloutSummary> {
    const { store, config, maas } = this.deps;
    this.startedAt = this.now();
    const regions = regionsOf(maas);
    const [onChange, observerOpts] = [(c: StatusChange) => this.onStatus(c.systemId, c.status, c.statusMessage), { logger: this.log, pollIntervalMs: this.deps.observerPollMs ?? 1000, ...(this.deps.clock ? { clock: this.deps.clock } : {}) }] as const;
    // Several regions: one observer per region, each with its own events cursor (regions.ts).
    // A resume or a new plan over several regions asks each first: one away holds only its own
    // hosts (region-catchup.ts), or is planned once it answers (region-plan.ts).
    const away = regions && !opts.plan ? (await regionsAnsweringNow(regions)).down : [];
    const deferred = new DeferredRegions<{ record: HostRecord; snapshot: HostSnapshot }>(regions && away.length < regions.links.size ? away : [], this.log);
    this.deferred = deferred;
    const answering = regions && deferred.names.length > 0 ? regions.subset(regions.names.filter((n) => !deferred.names.includes(n))) : maas;
    const unplanned = opts.resume ? [] : deferred.names.map((region) => ({ region, reason: regions?.links.get(region)?.outage?.reason ?? "does not answer" }));
    const regionObservers = regions ? new RegionObservers(regions, onChange, observerOpts) : undefined;
    this.observer = regionObservers ?? new StatusObserver(maas, onChange, observerOpts);
    // Fix the events cursor before reading any machine, so no change falls in between.
    await (regionObservers ? regionObservers.start(deferred.names) : this.observer.start());

    const opened = await openRollout(this.deps, { ...opts, ...(unplanned.length > 0 ? { planFrom: answering, unplanned } : {}) }, this.knownStatus, (k) => !deferred.has(k));
    this.plan = opened.plan;
    this.rolloutId = opened.rolloutId;
    const resumeHosts = opened.resumeHosts;
    if (opened.ended) {
      await this.observer.stop();
      this.indexPlan();
      for (const s of resumePointOf(resumeHosts, false).settled) this.recordSettledFromStore(s.record, s.outcome, s.snapshot.context.reason);
      this.status.state = opened.ended;
      return this.summary();
    }
    // A region the stored plan has not planned yet waits for its catch-up, answering or not.
    for (const r of this.plan.regionsUnplanned ?? []) deferred.defer(r);
    this.indexPlan();
    await ensurePlanTags(answering, this.plan);
    await this.prepare();
    for (const h of [...(this.plan.layerPeers ?? []), ...this.plan.hosts]) this.layerRoles.set(h.systemId, h.roles);
    if (this.deps.layering) {
      this.coordinator = new LayerCoordinator({
        layering: this.deps.layering.engine,
        maas,
        logger: this.log.child({ component: "layers" }),
        roles: this.layerRoles,
        spaces: config.network?.spaces,
      });
      // Every Juju change journaled ahead in this rollout's store; an earlier run's open ones reconciled before a layer step.
      this.deps.layering.engine.useJournal?.(new StoreJujuJournal(store, this.rolloutId));
    }

    // Each host's record commits with the write-ahead intent of the request it is about to make.
    const calls = new CallJournal(store, this.rolloutId, (systemIds) => this.persistence.saveHosts(systemIds));
    const me = (await answering.whoami()).username;
    // Calls a crash left with an unknown outcome are settled by reading MAAS now, before any
    // host decides: a host that finds its machine already further along never re-sends them.
    await settleUnresolvedCalls(maas, calls, me, this.knownStatus, (key) => !deferred.has(key));
    const actors = createHostActors({
      maas,
      observer: this.observer,
      tags: new TagBatcher(maas),
      calls,
      logger: this.log,
      ...pick(config.rollout, ["agentName", "distroSeries", "sshAuthorizedKeys", "proxy", "eraseOnRelease"]),
      me,
      restoredFirstCall: (systemId) => this.restoredUnchecked.delete(systemId), beforeResult: (systemId) => this.statuses.tell(systemId),
      scopeTag: this.plan.scopeTag,
      layer: this.coordinator ? (h, signal) => this.coordinator!.layer(h, signal) : async () => undefined,
      leave: this.coordinator
        ? (systemId, signal) => this.coordinator!.leave(systemId, (step) => this.journalHost(systemId, { event: "leavingJuju", ...step }), { signal, force: this.hostInfo.get(systemId)?.reprovision?.force === true })
        : async () => undefined,
      beforeDeploy: this.deps.layering ? (systemId) => this.deps.layering!.ssh.noteDeployed(systemId) : async () => undefined,
      taggingFor: (systemId) => {
        const h = this.hostInfo.get(systemId);
        return { machineTags: !this.plan.machineTagsSynced, disks: h?.disks ?? [], hostname: h?.hostname, layout: h?.layout };
      },
    });
    const hostLogic = hostMachine.provide({ actors });
    const policy = hostPolicyFrom(config, this.deps.timeScale ?? 1);

    // Resume: the hosts' own records are the truth (resume.ts).
    const point = resumePointOf(resumeHosts, opened.wasPaused);
    for (const s of point.settled) this.recordSettledFromStore(s.record, s.outcome, s.snapshot.context.reason);

    const done = new Promise<RolloutSummary>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });

    this.rollout = createActor(rolloutMachine, {
      input: {
        waves: this.plan.waves,
        maxInFlight: config.rollout.maxInFlight,
        phaseCaps: config.rollout.phaseCaps,
        budget: config.rollout.budget,
        ...(opts.resume ? { resume: point.resume } : {}),
        ...(deferred.names.length > 0 ? { regionsDown: deferred.names } : {}),
        ...(this.plan.regionsUnplanned?.length ? { regionsUnplanned: this.plan.regionsUnplanned } : {}),
      },
    });
    this.wireRollout(hostLogic, policy);
    // A region that stops answering holds its own hosts only; it is not a host failure (regions.ts).
    // A region deferred at the start (down): once it answers, its reads and checks, then its hosts (region-catchup.ts).
    const catchUp = async (region: string, held: { record: HostRecord; snapshot: HostSnapshot }[]): Promise<void> => {
      const all = regions as NonNullable<typeof regions>;
      const only = all.only(region);
      await regionObservers?.startRegion(region);
      await checkRegionUser(only, region, me);
      if ((this.plan.regionsUnplanned ?? []).includes(region)) return this.planRegion(all, region);
      await this.readCurrentStatuses(this.plan.hosts.map((h) => h.systemId).filter((k) => regionOfKey(k) === region));
      await ensurePlanTags(only, this.plan);
      await settleUnresolvedCalls(maas, calls, me, this.knownStatus, (key) => regionOfKey(key) === region);
      await this.actorStarted;
      if (this.closed || !this.status.live) return;
      for (const { record, snapshot } of held) this.restoreHost(record, snapshot, hostLogic, policy);
      for (const { record } of held) this.startRestored(record);
      this.journal({ event: "regionCaughtUp", region, hosts: held.length });
    };
    if (regions) {
      this.unfollowRegions = followRegions(
        regions,
        {
          journal: (d) => this.journal(d),
          send: (e) => this.toRollout(e),
          changed: () => this.emitProgress(true),
          catchUp: (r) => deferred.catchUp(r, catchUp),
          failed: (e) => this.fail(e),
        },
        this.log,
      );
    }

    for (const { record: h, snapshot } of point.restorable) {
      if (deferred.has(h.systemId)) {
        // Its region is away: the host keeps its record as it is and waits for it (restored by catchUp).
        deferred.hold({ record: h, snapshot });
        this.tally.enter(h.systemId, h.phase);
        this.deps.store.appendJournal({ rolloutId: this.rolloutId, systemId: h.systemId, kind: "rollout", data: { event: "waitingOnRegion", region: regionOfKey(h.systemId) } });
        continue;
      }
      this.restoreHost(h, snapshot, hostLogic, policy);
    }
    if (this.coordinator && (opts.resume || (this.plan.layerPeers ?? []).length > 0)) {
      // The clusters formed before the restart (or by the deployment's other hosts), found
      // again (checks only) before any host layers.
      const inService = [...(this.plan.layerPeers ?? []).map((p) => p.systemId), ...resumeHosts.filter((h) => h.outcome === "inService").map((h) => h.systemId)];
      await this.coordinator.recover(inService).catch((e: unknown) => {
        this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not re-check the layers formed before the restart; they form again as hosts arrive");
      });
    }
    if (this.closed) throw new RolloutError("RUNNER_CLOSED", "the rollout runner was closed before the run started");
    this.status.live = true;
    this.startedActor();
    this.rollout.start();
    for (const { record: h } of point.restorable) this.startRestored(h);
    // Forced: the hosts held for a region away are counted only now.
    this.emitProgress(true);
    return done;
  }

  /**
   * A region not planned when the rollout started, answering now: its hosts planned and
   * tagged (region-plan.ts), the stored plan grown, then the rollout machine told
   * (REGION_PLANNED), all in one turn so the plan's waves and the machine's stay the same.
   */
  private async planRegion(regions: RegionsMaas, region: string): Promise<void> {
    const late = await planLateRegion(regions, this.deps.config, this.plan, region, this.knownStatus);
    await this.actorStarted;
    if (this.closed || !this.status.live) return;
    const joined = joinLateRegion(this.plan, region, late, this.rollout.getSnapshot().context.wave);
    this.deps.store.extendRolloutPlan(this.rolloutId, joined.plan, joined.entry);
    this.plan = joined.plan;
    for (const h of joined.plan.hosts.slice(this.hostInfo.size)) {
      this.hostInfo.set(h.systemId, h);
      this.layerRoles.set(h.systemId, h.roles);
    }
    this.tally.grown(joined.plan);
    this.log[late.planned ? "info" : "error"](joined.entry, joined.message);
    this.journal(joined.entry);
    this.toRollout(joined.event);
  }

  /** A host in flight at the restart, made again from its snapshot (not started yet). */
  private restoreHost(h: HostRecord, snapshot: HostSnapshot, hostLogic: typeof hostMachine, policy: HostPolicy): void {
    const actor = createActor(hostLogic, { snapshot: withoutChildren(snapshot), input: this.hostInput(h.systemId, policy), clock: this.statuses.clockFor(h.systemId) });
    if (!this.knownStatus.has(h.systemId) && h.maasStatus !== null && isStatusCode(h.maasStatus)) this.knownStatus.set(h.systemId, h.maasStatus);
    this.attachHost(h.systemId, actor);
    this.tally.enter(h.systemId, h.phase);
    this.persistence.restored(h.systemId, h.phase);
    this.observer.watch(h.systemId, this.knownStatus.get(h.systemId));
  }

  /** Starts a restored host: what MAAS says now, then RESTORED, then what the rollout is. */
  private startRestored(h: HostRecord): void {
    const actor = this.hosts.get(h.systemId);
    if (!actor) return;
    this.coordinator?.started(h.systemId);
    this.restoredUnchecked.add(h.systemId);
    if (h.phase === "layering") this.coordinator?.arrive(h.systemId);
    actor.start();
    // What MAAS says now first, so the host decides on it and not on the status it
    // had saved; then RESTORED, because timers do not survive a snapshot.
    const now = this.knownStatus.get(h.systemId);
    // A host that MAAS's status settles at once (Deployed, say) stops right there: nothing more
    // is sent to it (issue 10: nothing sends to a stopped actor).
    const live = () => actor.getSnapshot().status === "active";
    if (now !== undefined && now !== actor.getSnapshot().context.maasStatus) actor.send({ type: "MAAS_STATUS", status: now });
    if (live()) actor.send({ type: "RESTORED" });
    // What the rebuilt rollout is: a held retry goes on once it runs, waits while it is paused.
    if (live()) actor.send({ type: this.rollout.getSnapshot().value === "paused" ? "ROLLOUT_PAUSED" : "ROLLOUT_RESUMED" });
    if (isRetryHeld(actor.getSnapshot().value)) this.held.add(h.systemId);
  }

  /**
   * Stops this runner for good, wherever it is: the observer stops polling, the rollout and
   * every host actor stop (their timers with them), and a run still starting up refuses to
   * go on (RUNNER_CLOSED). From then on nothing it holds writes to the store or sends to
   * MAAS, so its owner may close the store and the client after it. The rollout is left
   * as the store has it (a --resume goes on from there); this is not an abort.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.status.live = false;
    (this.rollout as Actor<typeof rolloutMachine> | undefined)?.stop();
    for (const actor of this.hosts.values()) actor.stop();
    this.hosts.clear();
    await (this.observer as StatusObserver | undefined)?.stop().catch(() => undefined);
    (this.fail as ((e: unknown) => void) | undefined)?.(new RolloutError("RUNNER_CLOSED", "the rollout runner was closed before the run ended"));
  }

  /** Operator controls, used by the service; the CLI maps signals to them. */
  pause(reason = "paused by operator"): void {
    this.toRollout({ type: "PAUSE", reason });
  }
  resume(): void {
    this.toRollout({ type: "RESUME" });
  }
  abort(reason = "aborted by operator"): void {
    this.toRollout({ type: "ABORT", reason });
  }

  private indexPlan(): void {
    this.hostInfo = new Map(this.plan.hosts.map((h) => [h.systemId, h]));
    this.tally = new RolloutTally(this.plan);
    this.persistence = new HostPersistence(this.deps.store, this.rolloutId, (id) => this.hostInfo.get(id), (id) => this.statuses.held(id));
  }

  /** The plan's steps before any host starts (plan-prepare.ts). */
  private async prepare(): Promise<void> {
    const { store, maas } = this.deps;
    await preparePlan(
      {
        store,
        maas,
        log: this.log,
        rolloutId: this.rolloutId,
        knownStatus: this.knownStatus,
        readStatuses: (ids) => this.readCurrentStatuses(ids),
        alreadyPrepared: () => hasRolloutEvent(store.journal(this.rolloutId, { kind: "rollout" }), "prepared"),
      },
      (this.plan as PreparedPlan).prepare,
    );
  }

  private hostInput(systemId: string, policy: HostPolicy): HostInput {
    const info = this.hostInfo.get(systemId);
    if (!info) throw new RolloutError("PLAN_MISMATCH", `machine ${systemId} is not in rollout ${this.rolloutId}'s plan`);
    const status = this.knownStatus.get(systemId);
    return {
      systemId,
      hostname: info.hostname,
      wave: info.wave,
      roles: info.roles,
      maasStatus: status ?? 0,
      policy,
      ...(info.reprovision ? { reprovision: info.reprovision } : {}), ...(this.coordinator ? {} : { layersOff: true }),
    };
  }

  private wireRollout(hostLogic: typeof hostMachine, policy: HostPolicy): void {
    const r = this.rollout;
    // Commands for hosts go through the same pure glue the seeded simulation tests.
    for (const type of ROLLOUT_EMITTED_TYPES) {
      r.on(type, (e) => {
        const cmd = rolloutToHost(e);
        if (!cmd) return;
        if (cmd.kind === "start") {
          const actor = createActor(hostLogic, { input: this.hostInput(cmd.systemId, policy), clock: this.statuses.clockFor(cmd.systemId) });
          this.attachHost(cmd.systemId, actor);
          this.observer.watch(cmd.systemId, this.knownStatus.get(cmd.systemId));
          this.coordinator?.started(cmd.systemId);
          actor.start();
        } else if (cmd.kind === "broadcast") {
          for (const systemId of [...this.hosts.keys()]) this.statuses.send(systemId, cmd.event);
        } else {
          this.statuses.send(cmd.systemId, cmd.event);
        }
      });
    }
    this.status.follow(r);
  }

  private toRollout(event: RolloutEvent): void {
    if (this.status.live) this.rollout.send(event);
  }

  private journal(data: Record<string, unknown>): void {
    if (this.closed) return;
    this.deps.store.appendJournal({ rolloutId: this.rolloutId, kind: "rollout", data });
  }

  private journalHost(systemId: string, data: Record<string, unknown>): void {
    if (!this.closed) this.deps.store.appendJournal({ rolloutId: this.rolloutId, systemId, kind: "rollout", data });
  }

  private attachHost(systemId: string, actor: HostActor): void {
    this.hosts.set(systemId, actor);
    const info = this.hostInfo.get(systemId);
    // The host's fixed keys on each of its lines; a pino child per host would cost more
    // (its bindings and redaction are prepared when it is made) than the few lines it writes.
    const fixed = { systemId, hostname: info?.hostname, wave: info?.wave, role: info?.roles.join(",") };
    const level = this.deps.transitionLogLevel ?? "debug";
    for (const type of HOST_EMITTED_TYPES) {
      actor.on(type, (e) => {
        if (this.closed) return;
        switch (e.type) {
          case "host.phase": {
            this.held.delete(systemId);
            const prev = this.tally.enter(systemId, e.phase);
            if (e.phase === "layering") this.coordinator?.arrive(systemId);
            if (this.log.isLevelEnabled(level)) this.log[level]({ ...fixed, from: prev, to: e.phase, attempt: e.attempt }, "transition");
            this.deps.store.appendJournal({ rolloutId: this.rolloutId, systemId, kind: "transition", data: { from: prev ?? null, to: e.phase, attempt: e.attempt } });
            this.emitProgress();
            break;
          }
          case "host.settled":
            this.settle(systemId, e.outcome, e.reason);
            if (this.log.isLevelEnabled("debug")) this.log.debug({ ...fixed, outcome: e.outcome, reason: e.reason }, "host settled");
            break;
          case "host.retryHeld":
            this.held.add(systemId);
            this.log.info({ ...fixed, phase: e.phase }, "retry held: the rollout is paused");
            this.maybeFinish();
            break;
          case "host.slotRequest":
          case "host.slotRelease":
            break;
        }
        const toRollout = hostToRollout(e);
        if (toRollout) this.toRollout(toRollout);
      });
    }
    actor.subscribe({
      next: () => {
        if (!this.closed) this.persistence.changed(systemId, actor);
      },
      error: (err) => {
        this.log.error({ ...fixed, err }, "host actor crashed");
        this.fail(err);
      },
    });
  }

  /** Reads the machines' statuses from MAAS now (rollout-open.ts). */
  private readCurrentStatuses(systemIds: string[]): Promise<void> {
    return readStatuses(this.deps.maas, systemIds, this.knownStatus);
  }

  private settle(systemId: string, outcome: HostOutcome, reason?: string): void {
    this.coordinator?.settled(systemId);
    const ctx = this.hosts.get(systemId)?.getSnapshot().context;
    const info = this.hostInfo.get(systemId);
    this.tally.settle({
      systemId,
      hostname: info?.hostname ?? systemId,
      wave: info?.wave ?? 0,
      outcome,
      phase: this.tally.phase(systemId) ?? "unknown",
      lastError: ctx?.lastError ?? null,
      reason: reason ?? null,
    });
    this.observer.unwatch(systemId);
    // Let the final snapshot be persisted by the subscription first.
    queueMicrotask(() => {
      this.hosts.get(systemId)?.stop();
      this.hosts.delete(systemId);
      this.maybeFinish();
    });
  }

  private recordSettledFromStore(h: HostRecord, outcome: HostOutcome, reason: string | null): void {
    this.tally.settle({
      systemId: h.systemId,
      hostname: h.hostname,
      wave: h.wave,
      outcome,
      phase: h.phase,
      lastError: readHostError(h.lastError),
      reason,
    });
  }

  private onStatus(systemId: string, status: NodeStatusCode, message: string | null): void {
    this.knownStatus.set(systemId, status);
    this.log.trace({ systemId, status: STATUS_LABEL[status] }, "maas status");
    this.statuses.observed(systemId, status, message);
  }

  /** The rollout is over for this process once it is settled and no host is in flight. */
  private maybeFinish(): void {
    if (this.status.state === "running") return;
    // Paused: the run ends once every host still in flight is settled or holds its retry.
    if (this.status.state === "paused" && this.hosts.size > this.held.size) return;
    // Aborted: the run ends once every host still in flight has settled its abort (a
    // request to MAAS each). Its owner may revoke its MAAS handle once the run ends (the
    // service does), so a request still to come (the call journal holds it a few ms for
    // its write-ahead commit) would never reach MAAS, and the host would stay aborting.
    if (this.status.state === "aborted" && this.hosts.size > 0) return;
    if (this.stopping) return;
    this.stopping = true;
    this.unfollowRegions?.();
    this.persistence.saveChanged();
    this.persistence.flushNow();
    void this.observer.stop().then(
      () => {
        this.status.live = false;
        this.rollout.stop();
        // Held hosts are saved in retryHeld (now, before they stop); a --resume restores
        // them and they retry then.
        this.persistence.saveChanged();
        for (const systemId of this.held) {
          this.hosts.get(systemId)?.stop();
          this.hosts.delete(systemId);
        }
        this.persistence.flushNow();
        this.emitProgress(true);
        this.finish(this.summary());
      },
      (e: unknown) => this.fail(e),
    );
  }

  private lastProgress = 0;
  private emitProgress(force = false): void {
    const cb = this.deps.onProgress;
    if (!cb) return;
    const t = this.now();
    if (!force && t - this.lastProgress < 100) return;
    this.lastProgress = t;
    cb(this.progress());
  }

  progress(): RolloutProgress {
    return {
      rolloutId: this.rolloutId,
      state: this.status.state,
      wave: this.status.wave,
      waves: this.plan.waves.length,
      ...this.tally.counts(),
      ...(regionsOf(this.deps.maas)
        ? { regionsDown: regionsDown(this.deps.maas), waitingOnRegion: this.deferred?.waiting ?? 0, ...(this.plan.regionsUnplanned?.length ? { regionsUnplanned: this.plan.regionsUnplanned } : {}) }
        : {}),
      maasRequests: this.deps.requestCount(),
      elapsedMs: this.now() - this.startedAt,
    };
  }

  summary(): RolloutSummary {
    return {
      ...this.progress(),
      ...(this.status.pauseReason ? { pauseReason: this.status.pauseReason } : {}),
      failures: this.tally.failureList(),
    };
  }
}
