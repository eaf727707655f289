/**
 * The orchestrator runtime: it plans a rollout (or restores one from the store),
 * runs one host actor per machine and the rollout controller, glues them through
 * their emitted events, and feeds MAAS status changes from the shared observer to the
 * hosts. The machines stay pure; every effect happens here or in host-actors.ts.
 *
 * Its parts, one file each: resume.ts (the resume point from the hosts' records),
 * host-persistence.ts (saving snapshots), progress.ts (the tally and the summary),
 * new-rollout.ts (a new plan's refusals, tags and journal entries), plan-prepare.ts (a
 * maintenance plan's steps before its hosts start), host-policy.ts,
 * rollout-error.ts and stopped-rollout.ts (aborting a rollout no process runs),
 * region-catchup.ts (a region away at a resume: its hosts held until it answers).
 * What stays is one class whose parts share its actors, observer and journal (start and
 * resume wire the same actors; the forwarding reads them on every event), which is why
 * it runs a little over 600 lines rather than being cut through that shared state.
 */
import { hostname as osHostname } from "node:os";
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
import { newRolloutJournal, planNewRollout } from "./new-rollout.ts";
import type { Layering } from "../layers/index.ts";
import type { SshPort } from "../ssh/index.ts";
import { LayerCoordinator } from "./layer-coordinator.ts";
import { StatusObserver, type StatusChange } from "./observer.ts";
import { followRegions, RegionObservers, regionsDown, regionsOf, type StatusObserving } from "./regions.ts";
import { DeferredRegions, regionsAnsweringNow } from "./region-catchup.ts";
import { RegionsError } from "../maas/regions.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import type { HostSnapshot } from "./resume.ts";
import { TagBatcher } from "./tag-batcher.ts";
import { CallJournal } from "./call-journal.ts";
import { createHostActors, isHostOperation, operationTookEffect } from "./host-actors.ts";
import { RolloutError } from "./rollout-error.ts";
import { hostPolicyFrom } from "./host-policy.ts";
import { preparePlan, type PreparedPlan } from "./plan-prepare.ts";
import { HostPersistence } from "./host-persistence.ts";
import { HeldStatuses } from "./held-statuses.ts";
import { resumePointOf, withoutChildren } from "./resume.ts";
import { readRolloutPlan } from "./documents/rollout-plan.ts";
import { hasRolloutEvent } from "./documents/journal-entry.ts";
import { readHostError } from "./documents/host-error.ts";
import { RolloutTally, type RolloutProgress, type RolloutState, type RolloutSummary } from "./progress.ts";

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


/** Machines per filtered read when refreshing statuses on resume (a URL of 500 `id=` stays well under 16 KiB). */
const STATUS_READ_BATCH = 500;

export class RolloutRunner {
  private readonly deps: RunnerDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private plan!: RolloutPlan;
  private rolloutId!: string;
  private hostInfo = new Map<string, PlannedHost>();
  private readonly hosts = new Map<string, HostActor>();
  private readonly knownStatus = new Map<string, NodeStatusCode>();
  /** The statuses a host only records, held back until its next step (held-statuses.ts). */
  private readonly statuses = new HeldStatuses(this.hosts);
  private persistence!: HostPersistence;
  private tally!: RolloutTally;
  private coordinator: LayerCoordinator | undefined;
  /** Hosts restored from a snapshot whose first MAAS request has not been made yet. */
  private readonly restoredUnchecked = new Set<string>();
  private currentWave = 0;
  private state: RolloutState = "running";
  private pauseReason: string | undefined;
  private observer!: StatusObserving;
  private unfollowRegions: (() => void) | undefined;
  private rollout!: Actor<typeof rolloutMachine>;
  private startedAt = 0;
  private finish!: (s: RolloutSummary) => void;
  private fail!: (e: unknown) => void;
  private stopping = false;
  /**
   * The rollout actor takes events: false before it starts and from the moment it reaches
   * a final state or is stopped. Hosts still finishing an abort after that have nowhere to
   * report to, and their events are dropped rather than sent to a stopped actor.
   */
  private rolloutLive = false;
  /** Hosts whose retry waits for the paused rollout to resume (they do nothing until then). */
  private readonly held = new Set<string>();
  /** close() was called: nothing is started, sent, journaled or saved from then on. */
  private closed = false;
  /** Several regions, on a resume: the regions that did not answer at the start, and their held hosts (region-catchup.ts). */
  private deferred: DeferredRegions<{ record: HostRecord; snapshot: HostSnapshot }> | undefined;

  constructor(deps: RunnerDeps) {
    this.deps = deps;
    this.log = deps.logger;
    const clock = deps.clock ?? systemClock;
    this.now = () => clock.now();
  }

  /**
   * Runs a rollout until it completes, is aborted, or pauses (a spent failure
   * budget or an operator's pause) and every host still in flight has settled.
   */
  /**
   * `plan`: run this plan instead of planning from MAAS (a re-provisioning or a spare
   * taking a role: hosts chosen by the operator, tags already in place).
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
    // A resume over several regions asks each first: one away holds only its own hosts (region-catchup.ts).
    const away = opts.resume && regions ? (await regionsAnsweringNow(regions)).down : [];
    const deferred = new DeferredRegions<{ record: HostRecord; snapshot: HostSnapshot }>(regions && away.length < regions.links.size ? away : [], this.log);
    this.deferred = deferred;
    const answering = regions && deferred.names.length > 0 ? regions.subset(regions.names.filter((n) => !deferred.names.includes(n))) : maas;
    const regionObservers = regions ? new RegionObservers(regions, onChange, observerOpts) : undefined;
    this.observer = regionObservers ?? new StatusObserver(maas, onChange, observerOpts);
    // Fix the events cursor before reading any machine, so no change falls in between.
    await (regionObservers ? regionObservers.start(deferred.names) : this.observer.start());

    let resumeHosts: HostRecord[] = [];
    /** The rollout being resumed had been paused (by its budget or an operator). */
    let wasPaused = false;
    if (opts.resume) {
      const latest = store.latestRollout();
      if (!latest) throw new RolloutError("NOTHING_TO_RESUME", `no rollout to resume in the store ${config.store}`);
      this.rolloutId = latest.id;
      this.plan = readRolloutPlan(latest.plan, latest.id);
      resumeHosts = store.loadHosts(this.rolloutId);
      if (latest.status === "completed" || latest.status === "aborted") {
        await this.observer.stop();
        this.indexPlan();
        for (const s of resumePointOf(resumeHosts, false).settled) this.recordSettledFromStore(s.record, s.outcome, s.snapshot.context.reason);
        this.state = latest.status;
        return this.summary();
      }
      wasPaused = latest.status === "paused";
      store.setRolloutStatus(this.rolloutId, "running");
      store.appendJournal({ rolloutId: this.rolloutId, kind: "rollout", data: { event: "resumed", pid: process.pid, host: osHostname() } });
      // The stored statuses are as old as the crash; MAAS moved on since (a commission
      // finished, a deploy started). Every host starts or resumes from what MAAS says now.
      await this.readCurrentStatuses(this.plan.hosts.map((h) => h.systemId).filter((k) => !deferred.has(k)));
    } else if (opts.plan) {
      this.plan = opts.plan;
      const machines = await maas.listMachineStates({ id: opts.plan.hosts.map((h) => h.systemId) });
      for (const m of machines) if (isStatusCode(m.status)) this.knownStatus.set(m.system_id, m.status);
      this.rolloutId = store.createRollout(this.plan, this.deps.region ? { region: this.deps.region } : {}).id;
      this.journal({ event: "planned", kind: opts.plan.kind ?? "rollout", machines: opts.plan.hosts.length, waves: opts.plan.waves.length, ...(opts.plan.reason ? { reason: opts.plan.reason } : {}) });
    } else {
      await this.startNewRollout();
    }
    this.indexPlan();
    await this.ensureTags(answering);
    await this.prepare();
    if (this.deps.layering) {
      this.coordinator = new LayerCoordinator({
        layering: this.deps.layering.engine,
        maas,
        logger: this.log.child({ component: "layers" }),
        roles: new Map([...(this.plan.layerPeers ?? []), ...this.plan.hosts].map((h) => [h.systemId, h.roles])),
        spaces: config.network?.spaces,
      });
    }

    // Each host's record commits with the write-ahead intent of the request it is about to make.
    const calls = new CallJournal(store, this.rolloutId, (systemIds) => this.persistence.saveHosts(systemIds));
    const me = (await answering.whoami()).username;
    // Calls a crash left with an unknown outcome are settled by reading MAAS now, before any
    // host decides: a host that finds its machine already further along never re-sends them.
    await this.reconcileCalls(calls, me, (key) => !deferred.has(key));
    const actors = createHostActors({
      maas,
      observer: this.observer,
      tags: new TagBatcher(maas),
      calls,
      logger: this.log,
      agentName: config.rollout.agentName,
      me,
      restoredFirstCall: (systemId) => this.restoredUnchecked.delete(systemId),
      beforeResult: (systemId) => this.statuses.tell(systemId),
      distroSeries: config.rollout.distroSeries,
      scopeTag: this.plan.scopeTag,
      sshAuthorizedKeys: config.rollout.sshAuthorizedKeys,
      proxy: config.rollout.proxy,
      eraseOnRelease: config.rollout.eraseOnRelease,
      layer: this.coordinator ? (h, signal) => this.coordinator!.layer(h, signal) : async () => undefined,
      leave: this.coordinator ? (systemId) => this.coordinator!.leave(systemId, (step) => this.journalHost(systemId, { event: "leavingJuju", ...step })) : async () => undefined,
      beforeDeploy: this.deps.layering ? (systemId) => this.deps.layering!.ssh.noteDeployed(systemId) : async () => undefined,
      taggingFor: (systemId) => {
        const h = this.hostInfo.get(systemId);
        return { machineTags: !this.plan.machineTagsSynced, disks: h?.disks ?? [], hostname: h?.hostname, layout: h?.layout };
      },
    });
    const hostLogic = hostMachine.provide({ actors });
    const policy = hostPolicyFrom(config, this.deps.timeScale ?? 1);

    // Resume: the hosts' own records are the truth (resume.ts).
    const point = resumePointOf(resumeHosts, wasPaused);
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
      },
    });
    this.wireRollout(hostLogic, policy);
    // A region that stops answering holds its own hosts only; it is not a host failure (regions.ts).
    // A region deferred at the start (down): once it answers, its reads and checks, then its hosts (region-catchup.ts).
    const catchUp = async (region: string, held: { record: HostRecord; snapshot: HostSnapshot }[]): Promise<void> => {
      const only = (regions as NonNullable<typeof regions>).only(region);
      await regionObservers?.startRegion(region);
      await this.readCurrentStatuses(this.plan.hosts.map((h) => h.systemId).filter((k) => regionOfKey(k) === region));
      await this.ensureTags(only);
      const user = (await only.whoami()).username;
      if (user !== me) throw new RegionsError("REGIONS_USER_MISMATCH", `region ${region}'s API key acts as MAAS user ${user}, the other regions' as ${me}: every region's key must be the same user's`);
      await this.reconcileCalls(calls, me, (key) => regionOfKey(key) === region);
      if (this.closed || !this.rolloutLive) return;
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
    this.rolloutLive = true;
    this.rollout.start();
    for (const { record: h } of point.restorable) this.startRestored(h);
    // Forced: the hosts held for a region away are counted only now.
    this.emitProgress(true);
    return done;
  }

  /** Settles the unresolved calls of the hosts `mine` keeps by reading each machine now. */
  private async reconcileCalls(calls: CallJournal, me: string, mine: (key: string) => boolean): Promise<void> {
    for (const c of calls.unresolved()) {
      if (!isHostOperation(c.op) || !mine(c.systemId)) continue;
      const m = await this.deps.maas.readMachine(c.systemId);
      calls.reconciled(c.callId, operationTookEffect(c.op, m, me));
      if (isStatusCode(m.status)) this.knownStatus.set(m.system_id, m.status);
    }
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
    this.statuses.drop(h.systemId);
    if (now !== undefined && now !== actor.getSnapshot().context.maasStatus) actor.send({ type: "MAAS_STATUS", status: now });
    actor.send({ type: "RESTORED" });
    // What the rebuilt rollout is: a held retry goes on once it runs, waits while it is paused.
    actor.send({ type: this.rollout.getSnapshot().value === "paused" ? "ROLLOUT_PAUSED" : "ROLLOUT_RESUMED" });
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
    this.rolloutLive = false;
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
    this.persistence = new HostPersistence(
      this.deps.store,
      this.rolloutId,
      (systemId) => this.hostInfo.get(systemId),
      // A status held back is the host's current one: its record says it.
      (systemId) => this.statuses.held(systemId),
    );
  }

  /** The plan's tags in `maas` (every region, or those answering at the start). */
  private async ensureTags(maas: MaasPort): Promise<void> {
    const wanted = new Set<string>([this.plan.scopeTag, ...this.plan.hosts.flatMap((h) => h.roles)]);
    const existing = new Set((await maas.listTags()).map((t) => t.name));
    for (const name of wanted) {
      if (existing.has(name)) continue;
      await maas.createTag({ name, comment: `metalwave: managed by deployment ${this.plan.deployment}` });
    }
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
      ...(info.reprovision ? { reprovision: info.reprovision } : {}),
      ...(this.coordinator ? {} : { layersOff: true }),
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
    r.on("rollout.waveStarted", (e) => {
      this.currentWave = e.wave;
      this.journal({ event: "waveStarted", wave: e.wave, size: e.size });
      this.log.info({ wave: e.wave, size: e.size }, "wave started");
    });
    r.on("rollout.waveSettled", (e) => {
      this.journal({ event: "waveSettled", wave: e.wave, counts: e.counts });
    });
    r.on("rollout.paused", (e) => {
      this.state = "paused";
      this.pauseReason = e.reason;
      this.deps.store.setRolloutStatus(this.rolloutId, "paused", e.reason);
      this.journal({ event: "paused", reason: e.reason, counts: e.counts });
      this.log.warn({ reason: e.reason, counts: e.counts }, "rollout paused");
      this.maybeFinish();
    });
    r.on("rollout.resumed", () => {
      this.state = "running";
      this.pauseReason = undefined;
      this.deps.store.setRolloutStatus(this.rolloutId, "running");
      this.journal({ event: "resumed" });
    });
    r.on("rollout.completed", (e) => {
      this.rolloutLive = false;
      this.state = "completed";
      this.deps.store.setRolloutStatus(this.rolloutId, "completed");
      this.journal({ event: "completed", counts: e.counts });
      this.maybeFinish();
    });
    r.on("rollout.aborted", (e) => {
      this.rolloutLive = false;
      this.state = "aborted";
      this.deps.store.setRolloutStatus(this.rolloutId, "aborted", e.reason);
      this.journal({ event: "aborted", reason: e.reason });
      this.maybeFinish();
    });
  }

  private toRollout(event: RolloutEvent): void {
    if (this.rolloutLive) this.rollout.send(event);
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
            // Debug: the progress, the summary (with each failure's reason) and the journal say it already.
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

  /**
   * Plans from MAAS, refuses on pre-flight FAILs, writes the tags and records the
   * rollout. A method of its own so the full machine list it reads is garbage as soon as
   * it returns (a suspended async frame could otherwise keep it for the whole rollout).
   */
  private async startNewRollout(): Promise<void> {
    const { store, config, maas } = this.deps;
    const started = await planNewRollout(maas, config);
    const { planned } = started;
    for (const f of planned.machines) this.knownStatus.set(f.systemId, f.status);
    this.plan = planned.rollout;
    this.rolloutId = store.createRollout(this.plan, this.deps.region ? { region: this.deps.region } : {}).id;
    for (const data of newRolloutJournal(started, process.env["USER"] ?? null)) this.journal(data);
    for (const f of planned.overridden) this.log.warn({ code: f.code, role: f.role }, `pre-flight FAIL let through by override: ${f.message}`);
  }

  /** Reads the machines' statuses from MAAS in filtered batches (`id=` repeated). */
  private async readCurrentStatuses(systemIds: string[]): Promise<void> {
    for (let i = 0; i < systemIds.length; i += STATUS_READ_BATCH) {
      const machines = await this.deps.maas.listMachineStates({ id: systemIds.slice(i, i + STATUS_READ_BATCH) });
      for (const m of machines) if (isStatusCode(m.status)) this.knownStatus.set(m.system_id, m.status);
    }
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
    this.statuses.drop(systemId);
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
    if (this.statuses.observed(systemId, status, message)) {
      const actor = this.hosts.get(systemId);
      if (actor) this.persistence.changed(systemId, actor);
    }
  }

  /** The rollout is over for this process once it is settled and no host is in flight. */
  private maybeFinish(): void {
    if (this.state === "running") return;
    // Paused: the run ends once every host still in flight is settled or holds its retry.
    if (this.state === "paused" && this.hosts.size > this.held.size) return;
    // Aborted: the run ends once every host still in flight has settled its abort (a
    // request to MAAS each). Its owner may revoke its MAAS handle once the run ends (the
    // service does), so a request still to come (the call journal holds it a few ms for
    // its write-ahead commit) would never reach MAAS, and the host would stay aborting.
    if (this.state === "aborted" && this.hosts.size > 0) return;
    if (this.stopping) return;
    this.stopping = true;
    this.unfollowRegions?.();
    this.persistence.saveChanged();
    this.persistence.flushNow();
    void this.observer.stop().then(
      () => {
        this.rolloutLive = false;
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
      state: this.state,
      wave: this.currentWave,
      waves: this.plan.waves.length,
      ...this.tally.counts(),
      ...(regionsOf(this.deps.maas) ? { regionsDown: regionsDown(this.deps.maas), waitingOnRegion: this.deferred?.waiting ?? 0 } : {}),
      maasRequests: this.deps.requestCount(),
      elapsedMs: this.now() - this.startedAt,
    };
  }

  summary(): RolloutSummary {
    return {
      ...this.progress(),
      ...(this.pauseReason ? { pauseReason: this.pauseReason } : {}),
      failures: this.tally.failureList(),
    };
  }
}
