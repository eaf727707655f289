/**
 * The orchestrator runtime: it plans a rollout (or restores one from the store),
 * runs one host actor per machine and the rollout controller, glues them through
 * their emitted events, persists every host transition, and feeds MAAS status
 * changes from the shared observer to the hosts. The machines stay pure; every
 * effect happens here or in host-actors.ts.
 */
import { hostname as osHostname } from "node:os";
import { createActor, type Actor, type SnapshotFrom } from "xstate";
import type { Logger } from "pino";
import type { MaasPort } from "../maas/port.ts";
import { MaasError, type MaasErrorCode } from "../maas/errors.ts";
import { isStatusCode, NodeStatus, STATUS_LABEL, type NodeStatusCode } from "../model/maas/status.ts";
import { MetalwaveError } from "../errors.ts";
import type { Config } from "../config.ts";
import type { Store, HostRecord } from "../store/index.ts";
import { hostMachine, defaultHostPolicy, type HostInput, type HostOutcome, type HostPolicy } from "../../state-machines/host.ts";
import { rolloutMachine, type RolloutInput } from "../../state-machines/rollout.ts";
import { hostToRollout, resumeRecordOf, rolloutToHost, HOST_EMITTED_TYPES, ROLLOUT_EMITTED_TYPES } from "../../state-machines/glue.ts";
import { PreflightError, readAndPlan, type DeploymentPlan, type PlannedHost, type RolloutPlan } from "./deployment-plan.ts";
import { syncTags } from "../roles/index.ts";
import type { Layering } from "../layers/index.ts";
import type { SshPort } from "../ssh/index.ts";
import { LayerCoordinator } from "./layer-coordinator.ts";
import { StatusObserver } from "./observer.ts";
import { TagBatcher } from "./tag-batcher.ts";
import { CallJournal } from "./call-journal.ts";
import { createHostActors, isHostOperation, operationTookEffect } from "./host-actors.ts";

export type RolloutErrorCode = "NOTHING_TO_RESUME" | "EMPTY_FLEET" | "PLAN_MISMATCH" | "NOTHING_TO_ABORT" | "HOSTS_IN_FLIGHT";

export class RolloutError extends MetalwaveError<RolloutErrorCode> {
  readonly code: RolloutErrorCode;
  constructor(code: RolloutErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Aborts a rollout that no process runs (paused, or left running or failed by a stopped
 * process) when none of its hosts is in flight: there is no machine to act on, so only its
 * record changes (aborted, journaled with who and why). A finished rollout is
 * NOTHING_TO_ABORT; one with hosts in flight is HOSTS_IN_FLIGHT, since their machines may
 * be busy in MAAS and only a live run can abort them. The caller holds the store's lock.
 */
export function abortStoppedRollout(store: Store, id: string, reason: string, by: string): void {
  const record = store.getRollout(id);
  if (!record) throw new RolloutError("NOTHING_TO_ABORT", `no rollout ${id} in the store`);
  if (record.status === "completed" || record.status === "aborted") throw new RolloutError("NOTHING_TO_ABORT", `rollout ${id} is ${record.status}; there is nothing to abort`);
  store.flush();
  const { unsettled } = store.hostCounts(id);
  if (unsettled > 0) {
    throw new RolloutError(
      "HOSTS_IN_FLIGHT",
      `rollout ${id} is ${record.status} with ${unsettled} host(s) in flight, whose machines may be busy in MAAS: resume it and abort the live run (the service's POST /api/v1/rollouts/${id}/abort)`,
    );
  }
  store.setRolloutStatus(id, "aborted", reason);
  store.appendJournal({ rolloutId: id, kind: "rollout", data: { event: "aborted", reason, by, whilePaused: record.status === "paused" } });
  store.flush();
}

export type RolloutState = "running" | "paused" | "completed" | "aborted";

export interface WaveProgress {
  index: number;
  size: number;
  settled: number;
  failed: number;
}

export interface RolloutProgress {
  rolloutId: string;
  state: RolloutState;
  wave: number;
  waves: number;
  total: number;
  settled: number;
  byPhase: Record<string, number>;
  byOutcome: Record<HostOutcome, number>;
  perWave: WaveProgress[];
  maasRequests: number;
  elapsedMs: number;
}

export interface HostFailure {
  systemId: string;
  hostname: string;
  outcome: HostOutcome;
  phase: string;
  code: string;
  message: string;
}

export interface RolloutSummary extends RolloutProgress {
  pauseReason?: string;
  failures: HostFailure[];
}

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
  now?: () => number;
}

type HostActor = Actor<typeof hostMachine>;

const S_BROKEN: NodeStatusCode = NodeStatus.BROKEN;

/** MAAS answered and refused: the call did not take effect, and sending it again would not change that. */
const MAAS_REFUSALS: readonly MaasErrorCode[] = ["MAAS_CONFLICT", "MAAS_FORBIDDEN", "MAAS_NOT_FOUND", "MAAS_BAD_REQUEST"];

/** Machines per filtered read when refreshing statuses on resume (a URL of 500 `id=` stays well under 16 KiB). */
const STATUS_READ_BATCH = 500;

/**
 * What a maintenance plan changes in MAAS before its first host starts, after the plan is
 * in the store: a kill in between leaves an unfinished rollout that says what was meant,
 * and its resume does these steps again (they are idempotent) until `prepared` is journaled.
 */
export interface PlanPrepare {
  /** Broken (quarantined) machines to mark fixed; one no longer Broken is left as it is. */
  markFixed?: { systemId: string; hostname: string; comment: string }[];
  /** Tag membership changes (spares taking roles), one `update_nodes` per tag. */
  tags?: { tag: string; add: string[]; remove: string[] }[];
  /** Journaled (kind `rollout`) once the steps are done; with `alsoUnder`, under that rollout too (with this one's id). */
  done?: { data: Record<string, unknown>; alsoUnder?: string };
}

/** A rollout plan with steps to take before its hosts start. */
export type PreparedPlan = RolloutPlan & { prepare?: PlanPrepare };

/** A plan stored by an older version (no disks, tags written per host) runs as it was planned. */
function upgradePlan(raw: unknown): RolloutPlan {
  const p = raw as Partial<RolloutPlan> & { version?: number; hosts?: Partial<PlannedHost>[] };
  if (p.version === 2) return p as RolloutPlan;
  return {
    version: 2,
    deployment: p.deployment ?? "",
    scopeTag: p.scopeTag ?? "",
    machineTagsSynced: false,
    hosts: (p.hosts ?? []).map((h) => ({ systemId: h.systemId ?? "", hostname: h.hostname ?? "", zone: h.zone ?? "", wave: h.wave ?? 0, roles: h.roles ?? [], disks: h.disks ?? [] })),
    waves: p.waves ?? [],
  };
}

const OUTCOMES: readonly HostOutcome[] = ["inService", "quarantined", "aborted", "failed"];

function emptyOutcomes(): Record<HostOutcome, number> {
  return { inService: 0, quarantined: 0, aborted: 0, failed: 0 };
}

/**
 * Our own phase timeouts never go below this, even time-scaled: they are a backstop
 * for a region that never reports, and a scaled region times its hung machines out
 * itself (scaled). Scaling them down to seconds would time out hosts whose requests
 * are merely queued behind the client's in-flight cap.
 */
export const MIN_PHASE_TIMEOUT_MS = 60_000;

export function hostPolicyFrom(config: Config, timeScale: number): HostPolicy {
  const scale = (ms: number) => Math.max(1, Math.round(ms / timeScale));
  const timeout = (ms: number) => Math.max(Math.min(ms, MIN_PHASE_TIMEOUT_MS), scale(ms));
  const d = defaultHostPolicy;
  return {
    maxAttempts: { ...config.rollout.maxAttempts },
    backoffMs: { base: scale(config.rollout.backoffMs.base), max: scale(config.rollout.backoffMs.max) },
    timeoutsMs: {
      commission: timeout(d.timeoutsMs.commission),
      deploy: timeout(d.timeoutsMs.deploy),
      release: timeout(d.timeoutsMs.release),
      layer: timeout(d.timeoutsMs.layer),
    },
  };
}

export class RolloutRunner {
  private readonly deps: RunnerDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private plan!: RolloutPlan;
  private rolloutId!: string;
  private hostInfo = new Map<string, PlannedHost>();
  private readonly hosts = new Map<string, HostActor>();
  /** Last known phase of every host that has started (for counts and resume). */
  private readonly phaseOf = new Map<string, string>();
  private readonly knownStatus = new Map<string, NodeStatusCode>();
  /** Hosts whose snapshot changed since the last save (saved once per event-loop turn). */
  private readonly dirty = new Map<string, HostActor>();
  private persistScheduled = false;
  private coordinator: LayerCoordinator | undefined;
  /** Hosts restored from a snapshot whose first MAAS request has not been made yet. */
  private readonly restoredUnchecked = new Set<string>();
  /** The phase last written for each host, to flush phase changes at once. */
  private readonly savedPhase = new Map<string, string>();
  private readonly outcomes = emptyOutcomes();
  private readonly failures = new Map<string, HostFailure>();
  private waveProgress: WaveProgress[] = [];
  private currentWave = 0;
  private state: RolloutState = "running";
  private pauseReason: string | undefined;
  private observer!: StatusObserver;
  private rollout!: Actor<typeof rolloutMachine>;
  private startedAt = 0;
  private finish!: (s: RolloutSummary) => void;
  private fail!: (e: unknown) => void;
  private stopping = false;

  constructor(deps: RunnerDeps) {
    this.deps = deps;
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
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
      await (this.observer as StatusObserver | undefined)?.stop().catch(() => undefined);
      throw e;
    }
  }

  private async runToEnd(opts: { resume: boolean; plan?: RolloutPlan }): Promise<RolloutSummary> {
    const { store, config, maas } = this.deps;
    this.startedAt = this.now();
    this.observer = new StatusObserver(maas, (c) => this.onStatus(c.systemId, c.status, c.statusMessage), {
      logger: this.log,
      pollIntervalMs: this.deps.observerPollMs ?? 1000,
    });
    // Fix the events cursor before reading any machine, so no change falls in between.
    await this.observer.start();

    let resumeHosts: HostRecord[] = [];
    /** The rollout being resumed had been paused (by its budget or an operator). */
    let wasPaused = false;
    if (opts.resume) {
      const latest = store.latestRollout();
      if (!latest) throw new RolloutError("NOTHING_TO_RESUME", `no rollout to resume in the store ${config.store}`);
      this.rolloutId = latest.id;
      this.plan = upgradePlan(latest.plan);
      resumeHosts = store.loadHosts(this.rolloutId);
      if (latest.status === "completed" || latest.status === "aborted") {
        await this.observer.stop();
        this.indexPlan();
        for (const h of resumeHosts) this.recordSettledFromStore(h);
        this.state = latest.status;
        return this.summary();
      }
      wasPaused = latest.status === "paused";
      store.setRolloutStatus(this.rolloutId, "running");
      store.appendJournal({ rolloutId: this.rolloutId, kind: "rollout", data: { event: "resumed", pid: process.pid, host: osHostname() } });
      // The stored statuses are as old as the crash; MAAS moved on since (a commission
      // finished, a deploy started). Every host starts or resumes from what MAAS says now.
      await this.readCurrentStatuses(this.plan.hosts.map((h) => h.systemId));
    } else if (opts.plan) {
      this.plan = opts.plan;
      const machines = await maas.listMachineStates({ id: opts.plan.hosts.map((h) => h.systemId) });
      for (const m of machines) if (isStatusCode(m.status)) this.knownStatus.set(m.system_id, m.status);
      this.rolloutId = store.createRollout(this.plan).id;
      this.journal({ event: "planned", kind: opts.plan.kind ?? "rollout", machines: opts.plan.hosts.length, waves: opts.plan.waves.length, ...(opts.plan.reason ? { reason: opts.plan.reason } : {}) });
    } else {
      await this.startNewRollout();
    }
    this.indexPlan();
    await this.ensureTags();
    await this.prepare();
    if (this.deps.layering) {
      this.coordinator = new LayerCoordinator({
        layering: this.deps.layering.engine,
        maas,
        logger: this.log.child({ component: "layers" }),
        roles: new Map([...(this.plan.layerPeers ?? []), ...this.plan.hosts].map((h) => [h.systemId, h.roles])),
      });
    }

    const calls = new CallJournal(store, this.rolloutId);
    const me = (await maas.whoami()).username;
    // Calls a crash left with an unknown outcome are settled by reading MAAS now, before any
    // host decides: a host that finds its machine already further along never re-sends them.
    for (const c of calls.unresolved()) {
      if (!isHostOperation(c.op)) continue;
      const m = await maas.readMachine(c.systemId);
      calls.reconciled(c.callId, operationTookEffect(c.op, m, me));
      if (isStatusCode(m.status)) this.knownStatus.set(m.system_id, m.status);
    }
    const actors = createHostActors({
      maas,
      observer: this.observer,
      tags: new TagBatcher(maas),
      calls,
      logger: this.log,
      agentName: config.rollout.agentName,
      me,
      restoredFirstCall: (systemId) => this.restoredUnchecked.delete(systemId),
      distroSeries: config.rollout.distroSeries,
      scopeTag: this.plan.scopeTag,
      sshAuthorizedKeys: config.rollout.sshAuthorizedKeys,
      proxy: config.rollout.proxy,
      eraseOnRelease: config.rollout.eraseOnRelease,
      layer: this.coordinator ? (h, signal) => this.coordinator!.layer(h, signal) : async () => undefined,
      beforeDeploy: this.deps.layering ? (systemId) => this.deps.layering!.ssh.noteDeployed(systemId) : async () => undefined,
      taggingFor: (systemId) => {
        const h = this.hostInfo.get(systemId);
        return { machineTags: !this.plan.machineTagsSynced, disks: h?.disks ?? [], hostname: h?.hostname, layout: h?.layout };
      },
    });
    const hostLogic = hostMachine.provide({ actors });
    const policy = hostPolicyFrom(config, this.deps.timeScale ?? 1);

    // Resume: the hosts' own records are the truth. Settled ones are counted;
    // unsettled ones are restored from their snapshots, and the rollout controller
    // is rebuilt from what they say rather than from a snapshot of its own.
    const restorable: HostRecord[] = [];
    const resumeState: NonNullable<RolloutInput["resume"]> = { hosts: {} };
    for (const h of resumeHosts) {
      if (!h.snapshot) continue;
      const snap = h.snapshot as unknown as SnapshotFrom<typeof hostMachine>;
      const record = resumeRecordOf(snap);
      resumeState.hosts[h.systemId] = record;
      if (record.settled) this.recordSettledFromStore({ ...h, outcome: record.settled });
      else restorable.push(h);
    }
    // An operator resuming a paused rollout means "go on": the failures so far are
    // acknowledged (budgets count only new ones), as a RESUME does in a running process.
    if (wasPaused) resumeState.acknowledge = true;

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
        ...(opts.resume ? { resume: resumeState } : {}),
      },
    });
    this.wireRollout(hostLogic, policy);

    for (const h of restorable) {
      // Without its children: a request that was in flight is not restarted by start(),
      // but once, by RESTORED re-entering the state that makes it (every state that invokes
      // work re-enters on RESTORED), after the host has heard what MAAS says now.
      const snapshot = { ...(h.snapshot as object), children: {} } as unknown as SnapshotFrom<typeof hostMachine>;
      const actor = createActor(hostLogic, { snapshot, input: this.hostInput(h.systemId, policy) });
      if (!this.knownStatus.has(h.systemId) && h.maasStatus !== null && isStatusCode(h.maasStatus)) this.knownStatus.set(h.systemId, h.maasStatus);
      this.attachHost(h.systemId, actor);
      this.phaseOf.set(h.systemId, h.phase);
      this.savedPhase.set(h.systemId, h.phase);
      this.observer.watch(h.systemId, this.knownStatus.get(h.systemId));
    }
    if (this.coordinator && (opts.resume || (this.plan.layerPeers ?? []).length > 0)) {
      // The clusters formed before the restart (or by the deployment's other hosts), found
      // again (checks only) before any host layers.
      const inService = [...(this.plan.layerPeers ?? []).map((p) => p.systemId), ...resumeHosts.filter((h) => h.outcome === "inService").map((h) => h.systemId)];
      await this.coordinator.recover(inService).catch((e: unknown) => {
        this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not re-check the layers formed before the restart; they form again as hosts arrive");
      });
    }
    this.rollout.start();
    for (const h of restorable) {
      const actor = this.hosts.get(h.systemId);
      if (!actor) continue;
      this.coordinator?.started(h.systemId);
      this.restoredUnchecked.add(h.systemId);
      if (h.phase === "layering") this.coordinator?.arrive(h.systemId);
      actor.start();
      // What MAAS says now first, so the host decides on it and not on the status it
      // had saved; then RESTORED, because timers do not survive a snapshot.
      const now = this.knownStatus.get(h.systemId);
      if (now !== undefined && now !== actor.getSnapshot().context.maasStatus) actor.send({ type: "MAAS_STATUS", status: now });
      actor.send({ type: "RESTORED" });
    }
    this.emitProgress();
    return done;
  }

  /** Operator controls, used by the service; the CLI maps signals to them. */
  pause(reason = "paused by operator"): void {
    this.rollout.send({ type: "PAUSE", reason });
  }
  resume(): void {
    this.rollout.send({ type: "RESUME" });
  }
  abort(reason = "aborted by operator"): void {
    this.rollout.send({ type: "ABORT", reason });
  }

  private indexPlan(): void {
    this.hostInfo = new Map(this.plan.hosts.map((h) => [h.systemId, h]));
    this.waveProgress = this.plan.waves.map((w, index) => ({ index, size: w.length, settled: 0, failed: 0 }));
  }

  private async ensureTags(): Promise<void> {
    const wanted = new Set<string>([this.plan.scopeTag, ...this.plan.hosts.flatMap((h) => h.roles)]);
    const existing = new Set((await this.deps.maas.listTags()).map((t) => t.name));
    for (const name of wanted) {
      if (existing.has(name)) continue;
      await this.deps.maas.createTag({ name, comment: `metalwave: managed by deployment ${this.plan.deployment}` });
    }
  }

  /**
   * The plan's steps before any host starts (PlanPrepare), skipped once journaled
   * `prepared`. Hosts start only after that entry is on disk, so a resume that does not
   * find it has no host under way and may repeat the steps.
   */
  private async prepare(): Promise<void> {
    const prep = (this.plan as PreparedPlan).prepare;
    if (!prep) return;
    const { store, maas } = this.deps;
    if (store.journal(this.rolloutId, { kind: "rollout" }).some((j) => (j.data as { event?: unknown } | null)?.event === "prepared")) return;
    // Under the host too, so its history (GET …/hosts/{systemId}) shows it.
    const hostJournal = (systemId: string, data: Record<string, unknown>) => store.appendJournal({ rolloutId: this.rolloutId, systemId, kind: "rollout", data });
    for (const h of prep.markFixed ?? []) {
      const before = this.knownStatus.get(h.systemId);
      if (before !== S_BROKEN) {
        // Marked fixed before a kill (or by an operator): the host goes on from where MAAS has it.
        hostJournal(h.systemId, { event: "markFixedSkipped", systemId: h.systemId, hostname: h.hostname, status: before === undefined ? null : (STATUS_LABEL[before] ?? before), reason: "not Broken in MAAS" });
        continue;
      }
      try {
        const after = await maas.markFixed(h.systemId, h.comment);
        if (isStatusCode(after.status)) this.knownStatus.set(h.systemId, after.status);
        hostJournal(h.systemId, { event: "markedFixed", systemId: h.systemId, hostname: h.hostname, status: after.status_name });
        this.log.info({ systemId: h.systemId, hostname: h.hostname, status: after.status_name }, "marked fixed");
      } catch (e) {
        // An outcome not known (network, a lost answer) fails the run before any host starts:
        // the next pass resumes the rollout and reads MAAS again. A refusal MAAS answered
        // (locked, no longer Broken…) is this host's: it starts from what MAAS says now
        // (still Broken, it ends quarantined again, the refusal journaled).
        if (!(e instanceof MaasError) || !MAAS_REFUSALS.includes(e.code)) throw e;
        hostJournal(h.systemId, { event: "markFixedFailed", systemId: h.systemId, hostname: h.hostname, error: `${e.code}: ${e.message}` });
        this.log.warn({ systemId: h.systemId, hostname: h.hostname, err: e.message }, "mark_fixed refused");
        await this.readCurrentStatuses([h.systemId]);
      }
    }
    for (const t of prep.tags ?? []) {
      if (t.add.length === 0 && t.remove.length === 0) continue;
      await maas.updateTagNodes(t.tag, { add: t.add, remove: t.remove });
    }
    if (prep.tags?.length) this.journal({ event: "tagsMoved", tags: prep.tags });
    if (prep.done) {
      this.journal(prep.done.data);
      if (prep.done.alsoUnder) store.appendJournal({ rolloutId: prep.done.alsoUnder, kind: "rollout", data: { ...prep.done.data, rolloutId: this.rolloutId } });
    }
    this.journal({ event: "prepared" });
    store.flush();
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
          const actor = createActor(hostLogic, { input: this.hostInput(cmd.systemId, policy) });
          this.attachHost(cmd.systemId, actor);
          this.observer.watch(cmd.systemId, this.knownStatus.get(cmd.systemId));
          this.coordinator?.started(cmd.systemId);
          actor.start();
        } else {
          this.hosts.get(cmd.systemId)?.send(cmd.event);
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
      this.state = "completed";
      this.deps.store.setRolloutStatus(this.rolloutId, "completed");
      this.journal({ event: "completed", counts: e.counts });
      this.maybeFinish();
    });
    r.on("rollout.aborted", (e) => {
      this.state = "aborted";
      this.deps.store.setRolloutStatus(this.rolloutId, "aborted", e.reason);
      this.journal({ event: "aborted", reason: e.reason });
      this.maybeFinish();
    });
  }

  private journal(data: Record<string, unknown>): void {
    this.deps.store.appendJournal({ rolloutId: this.rolloutId, kind: "rollout", data });
  }

  private attachHost(systemId: string, actor: HostActor): void {
    this.hosts.set(systemId, actor);
    const info = this.hostInfo.get(systemId);
    const hlog = this.log.child({ systemId, hostname: info?.hostname, wave: info?.wave, role: info?.roles.join(",") });
    for (const type of HOST_EMITTED_TYPES) {
      actor.on(type, (e) => {
        switch (e.type) {
          case "host.phase": {
            const prev = this.phaseOf.get(systemId);
            this.phaseOf.set(systemId, e.phase);
            if (e.phase === "layering") this.coordinator?.arrive(systemId);
            hlog[this.deps.transitionLogLevel ?? "debug"]({ from: prev, to: e.phase, attempt: e.attempt }, "transition");
            this.deps.store.appendJournal({ rolloutId: this.rolloutId, systemId, kind: "transition", data: { from: prev ?? null, to: e.phase, attempt: e.attempt } });
            this.emitProgress();
            break;
          }
          case "host.settled":
            this.settle(systemId, e.outcome, e.reason);
            hlog.info({ outcome: e.outcome, reason: e.reason }, "host settled");
            break;
          case "host.slotRequest":
          case "host.slotRelease":
            break;
        }
        this.rollout.send(hostToRollout(e));
      });
    }
    actor.subscribe({
      next: (snap) => this.persistHost(systemId, snap),
      error: (err) => {
        hlog.error({ err }, "host actor crashed");
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
    const planned = await readAndPlan(maas, config);
    if (planned.rollout.hosts.length === 0) {
      throw new RolloutError(
        "EMPTY_FLEET",
        `the plan deploys no machine: MAAS lists ${planned.machines.length} machine(s)` +
          (config.rollout.selectTags.length ? ` (selected by tags ${config.rollout.selectTags.join(", ")})` : "") +
          `, ${planned.roles.members.length} in scope ${planned.roles.scopeTag}, none given a role (run metalwave plan to see why)`,
      );
    }
    if (planned.blocking.length > 0) throw new PreflightError(planned.blocking);
    for (const f of planned.machines) this.knownStatus.set(f.systemId, f.status);
    // Tags before anything else: every machine's scope and role tags in O(roles) batched
    // calls. A failure part-way says what was done and what was not (RolesError).
    const synced = await syncTags(maas, { ...planned.roles, blockDeviceTags: [] });
    this.plan = planned.rollout;
    this.rolloutId = store.createRollout(this.plan).id;
    this.journalPlan(planned, synced);
  }

  private journalPlan(planned: DeploymentPlan, synced: Awaited<ReturnType<typeof syncTags>>): void {
    const r = planned.roles;
    this.journal({
      event: "planned",
      machines: planned.rollout.hosts.length,
      waves: planned.rollout.waves.length,
      roles: Object.fromEntries(Object.entries(r.byRole).map(([role, sum]) => [role, sum.count])),
      spares: Object.fromEntries(Object.entries(r.spares).map(([role, ms]) => [role, ms.length])),
      heldBack: r.unassigned.length,
      excluded: r.excluded.length,
    });
    this.journal({ event: "preflight", findings: r.findings.map((f) => ({ severity: f.severity, code: f.code, role: f.role, message: f.message })) });
    for (const f of planned.overridden) {
      this.journal({ event: "override", code: f.code, role: f.role, message: f.message, by: process.env["USER"] ?? null });
      this.log.warn({ code: f.code, role: f.role }, `pre-flight FAIL let through by override: ${f.message}`);
    }
    this.journal({ event: "tagsSynced", created: synced.created, updateCalls: synced.updateCalls });
  }

  /** Reads the machines' statuses from MAAS in filtered batches (`id=` repeated). */
  private async readCurrentStatuses(systemIds: string[]): Promise<void> {
    for (let i = 0; i < systemIds.length; i += STATUS_READ_BATCH) {
      const machines = await this.deps.maas.listMachineStates({ id: systemIds.slice(i, i + STATUS_READ_BATCH) });
      for (const m of machines) if (isStatusCode(m.status)) this.knownStatus.set(m.system_id, m.status);
    }
  }

  /**
   * Marks a host's snapshot for saving. Hosts change many times per event-loop turn
   * (a burst of statuses, a wave starting); their snapshots are taken and saved once per
   * turn, and one commit covers every phase change of the turn.
   */
  private persistHost(systemId: string, _snap: SnapshotFrom<typeof hostMachine>): void {
    const actor = this.hosts.get(systemId);
    if (actor) this.dirty.set(systemId, actor);
    if (this.persistScheduled) return;
    this.persistScheduled = true;
    setImmediate(() => this.persistDirty());
  }

  private persistDirty(): void {
    this.persistScheduled = false;
    // Hosts still finishing an abort after the run returned are saved while the caller
    // keeps the store open; once it has closed it, there is nothing left to save into.
    if (this.dirty.size === 0) return;
    if (!this.deps.store.isOpen) {
      this.dirty.clear();
      return;
    }
    let phaseChanged = false;
    for (const [systemId, actor] of this.dirty) {
      const snap = actor.getSnapshot();
      const info = this.hostInfo.get(systemId);
      const top = typeof snap.value === "string" ? snap.value : Object.keys(snap.value)[0] ?? "unknown";
      const ctx = snap.context;
      const outcome = snap.status === "done" ? (snap.output as { outcome?: HostOutcome } | undefined)?.outcome ?? outcomeOfPhase(top) : null;
      this.deps.store.saveHost(this.rolloutId, {
        systemId,
        hostname: info?.hostname ?? ctx.hostname,
        wave: info?.wave ?? ctx.wave,
        roles: info?.roles ?? ctx.roles,
        phase: top,
        outcome,
        lastError: ctx.lastError,
        maasStatus: ctx.maasStatus,
        snapshot: actor.getPersistedSnapshot(),
      });
      if (this.savedPhase.get(systemId) !== top) {
        this.savedPhase.set(systemId, top);
        phaseChanged = true;
      }
    }
    this.dirty.clear();
    // A phase change goes to disk at once: a resumed host may then be behind only
    // within its phase, which its phase's own decisions (and the call journal) cover.
    if (phaseChanged) this.deps.store.flush();
  }

  private settle(systemId: string, outcome: HostOutcome, reason?: string): void {
    this.coordinator?.settled(systemId);
    const actor = this.hosts.get(systemId);
    const ctx = actor?.getSnapshot().context;
    this.outcomes[outcome]++;
    const info = this.hostInfo.get(systemId);
    const wave = this.waveProgress[info?.wave ?? 0];
    if (wave) {
      wave.settled++;
      if (outcome !== "inService") wave.failed++;
    }
    if (outcome !== "inService") {
      this.failures.set(systemId, {
        systemId,
        hostname: info?.hostname ?? systemId,
        outcome,
        phase: ctx?.lastError?.phase ?? this.phaseOf.get(systemId) ?? "unknown",
        code: ctx?.lastError?.code ?? (outcome === "aborted" ? "ABORTED" : "UNKNOWN"),
        message: ctx?.lastError?.message ?? reason ?? "",
      });
    }
    this.phaseOf.set(systemId, outcome);
    this.observer.unwatch(systemId);
    // Let the final snapshot be persisted by the subscription first.
    queueMicrotask(() => {
      this.hosts.get(systemId)?.stop();
      this.hosts.delete(systemId);
      this.maybeFinish();
    });
  }

  private recordSettledFromStore(h: HostRecord): void {
    if (!h.outcome) return;
    const outcome = h.outcome as HostOutcome;
    this.outcomes[outcome]++;
    this.phaseOf.set(h.systemId, outcome);
    const wave = this.waveProgress[h.wave];
    if (wave) {
      wave.settled++;
      if (outcome !== "inService") wave.failed++;
    }
    if (outcome !== "inService") {
      const le = h.lastError as { phase?: string; code?: string; message?: string } | null;
      this.failures.set(h.systemId, {
        systemId: h.systemId,
        hostname: h.hostname,
        outcome,
        phase: le?.phase ?? h.phase,
        code: le?.code ?? "UNKNOWN",
        message: le?.message ?? "",
      });
    }
  }

  private onStatus(systemId: string, status: NodeStatusCode, message: string | null): void {
    this.knownStatus.set(systemId, status);
    this.hosts.get(systemId)?.send({ type: "MAAS_STATUS", status, ...(message ? { message } : {}) });
    this.log.trace({ systemId, status: STATUS_LABEL[status] }, "maas status");
  }

  /** The rollout is over for this process once it is settled and no host is in flight. */
  private maybeFinish(): void {
    if (this.state === "running") return;
    if (this.hosts.size > 0 && this.state === "paused") return;
    if (this.stopping) return;
    this.stopping = true;
    this.persistDirty();
    void this.observer.stop().then(
      () => {
        this.rollout.stop();
        this.persistDirty();
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
    const byPhase: Record<string, number> = {};
    for (const p of this.phaseOf.values()) byPhase[p] = (byPhase[p] ?? 0) + 1;
    const settled = OUTCOMES.reduce((n, o) => n + this.outcomes[o], 0);
    const notStarted = this.plan.hosts.length - this.phaseOf.size;
    if (notStarted > 0) byPhase["waiting"] = notStarted;
    return {
      rolloutId: this.rolloutId,
      state: this.state,
      wave: this.currentWave,
      waves: this.plan.waves.length,
      total: this.plan.hosts.length,
      settled,
      byPhase,
      byOutcome: { ...this.outcomes },
      perWave: this.waveProgress.map((w) => ({ ...w })),
      maasRequests: this.deps.requestCount(),
      elapsedMs: this.now() - this.startedAt,
    };
  }

  summary(): RolloutSummary {
    return {
      ...this.progress(),
      ...(this.pauseReason ? { pauseReason: this.pauseReason } : {}),
      failures: [...this.failures.values()],
    };
  }
}

function outcomeOfPhase(phase: string): HostOutcome | null {
  return (OUTCOMES as readonly string[]).includes(phase) ? (phase as HostOutcome) : null;
}
