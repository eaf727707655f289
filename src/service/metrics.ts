/**
 * Prometheus metrics of the service (prom-client, a registry of its own). Labels are
 * closed sets — phases, roles, states, outcomes, error codes, MAAS operations, route
 * templates — never a machine, so a 10,000-machine rollout has as many series as a
 * 10-machine one. Values that live elsewhere (the store, the MAAS client's counters)
 * are read when Prometheus scrapes, not pushed.
 */
import { readFileSync } from "node:fs";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import { label, MAX_REGION_LABELS, phaseIdOf, REGION_LABEL, roleTrackOf, type RoleTrack } from "./metrics-track.ts";
import { readTransition } from "../runtime/documents/journal-entry.ts";
import { setImmediate as nextTurn } from "node:timers/promises";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "pino";
import type { MaasClientStats } from "../maas/client.ts";
import { ROLLOUT_STATUSES, type Store } from "../store/index.ts";
import type { HostFailure } from "../runtime/rollout-runner.ts";
import type { SshCommandEnd, SshCommandResult } from "../ssh/index.ts";
import { HEALTH_CHECKS, type HealthCheck } from "../layers/index.ts";
import { assertNever } from "../errors.ts";

export interface MetricsSource {
  /** Machines by phase of the live run, else of the latest rollout. */
  phaseCounts(): Record<string, number>;
  /** The live run's rollout, whose transitions are read from the journal at each scrape. */
  liveRolloutId(): string | undefined;
  /** The rollout `phaseCounts` counts: the live run's, else the latest in the store. */
  currentRolloutId(): string | undefined;
  /** True while a run is planning (no rollout record yet). */
  planning(): boolean;
  maasStats(): MaasClientStats;
  eventClients(): number;
  /** The last readiness probe of MAAS: true reachable, false not, undefined not probed yet. */
  maasUp(): boolean | undefined;
  /** What is left of the failure budgets of the current rollout (undefined: no rollout). */
  budgetRemaining(): { total: number; wave: number } | undefined;
  /** Several regions: whether each region answers now (its link; none with one region). */
  regionsUp?(): { region: string; up: boolean }[];
}

/**
 * prom-client's default metrics that are gauges named `*_total` (sums of the by-type
 * gauges `nodejs_active_handles`, `nodejs_active_requests`, `nodejs_active_resources`):
 * `promtool check metrics` flags a non-counter with that suffix, so they are left out.
 */
export const DROPPED_DEFAULT_METRICS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"] as const;

/** metalwave's version, from the package.json above this file (the repository's, or the installed package's). */
export function metalwaveVersion(): string {
  for (let dir = new URL("./", import.meta.url); ; dir = new URL("../", dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "metalwave" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // Not here: one folder up.
    }
    if (dir.pathname === "/") return "unknown";
  }
}

/** How many rollouts' cursors and seen-failure sets are kept (older ones are never read again). */
const KEEP_ROLLOUTS = 8;

/** Journal entries read per step for the by-role gauge; the event loop gets a turn between steps. */
const ROLE_STEP = 5_000;

/** How an SSH command ended, as the `outcome` label says it. */
export const SSH_OUTCOMES = ["ok", "nonzero_allowed", "failed", "timeout", "connection_error", "refused", "closed", "error"] as const;
export type SshOutcome = (typeof SSH_OUTCOMES)[number];

export function sshOutcome(r: SshCommandResult): SshOutcome {
  switch (r) {
    case "exit0":
      return "ok";
    case "exitNonZero":
      return "nonzero_allowed";
    case "SSH_EXIT":
      return "failed";
    case "SSH_TIMEOUT":
      return "timeout";
    case "SSH_CONNECT":
    case "SSH_DROPPED":
      return "connection_error";
    case "SSH_AUTH":
    case "SSH_HOST_KEY_CHANGED":
    case "SSH_HOST_KEY_UNKNOWN":
      return "refused";
    case "SSH_CLOSED":
      return "closed";
    case "unexpected":
      return "error";
    default:
      return assertNever(r, "ssh command result");
  }
}

export class ServiceMetrics {
  readonly registry = new Registry();
  private source: MetricsSource | undefined;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly transitionCursor = new Map<string, number>();
  private readonly seenFailures = new Map<string, Set<string>>();
  private roleTrack: RoleTrack | undefined;
  private roleRead: Promise<void> | undefined;

  private readonly transitions: Counter<"to" | "region">;
  private readonly failures: Counter<"code" | "outcome" | "region">;
  /** Region label values seen (several regions), at most MAX_REGION_LABELS. */
  private readonly regionLabels = new Set<string>();
  private readonly runDuration: Histogram<"state">;
  private readonly remediations: Counter<"kind" | "result">;
  private readonly sshCommands: Counter<"outcome">;
  private readonly healthHosts: Counter<"result">;
  private readonly healthFailures: Counter<"check">;
  private readonly sshDuration: Histogram<"outcome">;
  readonly http: Counter<"route" | "method" | "status">;
  readonly httpDuration: Histogram<"route" | "method">;
  private readonly maasDuration: Histogram<"operation">;

  constructor(opts: { store: Store; logger: Logger; defaultMetrics?: boolean }) {
    this.store = opts.store;
    this.log = opts.logger;
    const registers = [this.registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;

    new Gauge({
      name: "metalwave_machines",
      help: "Machines of the live rollout (else the latest one) by phase; 'waiting' = planned, not started.",
      labelNames: ["phase"],
      registers,
      collect() {
        this.reset();
        for (const [phase, n] of Object.entries(self.source?.phaseCounts() ?? {})) this.set({ phase: label(phase) }, n);
      },
    });
    new Gauge({
      name: "metalwave_machines_by_role",
      help: "Machines of the same rollout as metalwave_machines by role and phase (read from the plan and the journal); a machine with several roles counts under each, 'none' = no role.",
      labelNames: ["role", "phase"],
      registers,
      async collect() {
        const counts = await self.machinesByRole();
        this.reset();
        for (const [key, n] of counts) {
          const [role = "other", phase = "other"] = key.split("\0");
          this.set({ role, phase }, n);
        }
      },
    });
    new Gauge({
      name: "metalwave_machines_by_region",
      help: "Several regions: machines of the same rollout as metalwave_machines by region and phase (read from the plan and the journal); absent with one region.",
      labelNames: ["region", "phase"],
      registers,
      async collect() {
        const counts = await self.machinesByRegion();
        this.reset();
        for (const [key, n] of counts) {
          const [region = "other", phase = "other"] = key.split("\0");
          this.set({ region, phase }, n);
        }
      },
    });
    new Gauge({
      name: "metalwave_region_up",
      help: "Several regions: 1 while the region answers, 0 while it does not (its hosts wait; docs/architecture.md, Several regions); absent with one region.",
      labelNames: ["region"],
      registers,
      collect() {
        this.reset();
        const up = self.source?.regionsUp?.() ?? [];
        for (const r of up.slice(0, MAX_REGION_LABELS)) this.set({ region: REGION_LABEL.test(r.region) ? r.region : "other" }, r.up ? 1 : 0);
      },
    });
    new Gauge({
      name: "metalwave_rollouts",
      help: "Rollouts in the store by state ('planning': a run not yet recorded).",
      labelNames: ["state"],
      registers,
      collect() {
        this.reset();
        const by: Record<string, number> = Object.fromEntries(ROLLOUT_STATUSES.map((s) => [s, 0]));
        for (const r of self.store.listRollouts()) by[r.status] = (by[r.status] ?? 0) + 1;
        by["planning"] = self.source?.planning() ? 1 : 0;
        for (const [state, n] of Object.entries(by)) this.set({ state }, n);
      },
    });
    this.transitions = new Counter({
      name: "metalwave_host_transitions_total",
      help: "Host phase transitions made by this process's runs, by the phase entered (read from the journal), and by region with several regions.",
      labelNames: ["to", "region"],
      registers,
      collect() {
        const live = self.source?.liveRolloutId();
        if (live) self.tailTransitions(live);
      },
    });
    this.failures = new Counter({
      name: "metalwave_host_failures_total",
      help: "Hosts that settled other than in service in this process's runs, by error code and outcome, and by region with several regions.",
      labelNames: ["code", "outcome", "region"],
      registers,
    });
    this.remediations = new Counter({
      name: "metalwave_remediation_hosts_total",
      help: "Hosts handled by re-provisioning and remediation passes: provisioned again (back in service or quarantined again), refused before anything was changed (result refused: e.g. a database or queue pod on a control host's node, which only --force overrides) or replaced by a spare.",
      labelNames: ["kind", "result"],
      registers,
    });
    this.healthHosts = new Counter({
      name: "metalwave_health_checked_hosts_total",
      help: "Hosts in service health-checked by remediation passes, by result: healthy or unhealthy.",
      labelNames: ["result"],
      registers,
    });
    for (const result of ["healthy", "unhealthy"]) this.healthHosts.inc({ result }, 0);
    this.healthFailures = new Counter({
      name: "metalwave_health_check_failures_total",
      help: "Failed health checks of hosts in service, by check (ssh, juju-machine, hypervisor-unit, ceph-unit, ceph-osds, kubernetes-unit, kubernetes-api, kubernetes-node, juju-controller).",
      labelNames: ["check"],
      registers,
    });
    for (const check of HEALTH_CHECKS) this.healthFailures.inc({ check }, 0);
    this.sshCommands = new Counter({
      name: "metalwave_ssh_commands_total",
      help: "Commands run on hosts over SSH by the layers, by how they ended: ok, nonzero_allowed (a check's 'not yet'), failed (non-zero exit), timeout, connection_error, refused (key or host key), closed, error.",
      labelNames: ["outcome"],
      registers,
    });
    for (const outcome of SSH_OUTCOMES) this.sshCommands.inc({ outcome }, 0);
    this.sshDuration = new Histogram({
      name: "metalwave_ssh_command_duration_seconds",
      help: "Time from asking for an SSH command to its end (waiting for and opening a connection included), by outcome.",
      labelNames: ["outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800],
      registers,
    });
    this.runDuration = new Histogram({
      name: "metalwave_rollout_run_duration_seconds",
      help: "Wall time of one run of a rollout (start or resume until completed, paused, aborted or failed), by how it ended.",
      labelNames: ["state"],
      buckets: [1, 10, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400],
      registers,
    });
    new Counter({
      name: "metalwave_maas_requests_total",
      help: "HTTP requests sent to MAAS by this process, by operation and answer (HTTP status or network error code).",
      labelNames: ["operation", "status"],
      registers,
      collect() {
        this.reset();
        const s = self.source?.maasStats();
        for (const [op, byStatus] of Object.entries(s?.byOperation ?? {})) {
          for (const [status, n] of Object.entries(byStatus)) this.inc({ operation: label(op), status: label(status, /^[A-Za-z0-9_]{1,32}$/) }, n);
        }
      },
    });
    new Counter({
      name: "metalwave_maas_retries_total",
      help: "Requests to MAAS sent again after a failed attempt.",
      registers,
      collect() {
        this.reset();
        this.inc(self.source?.maasStats().retries ?? 0);
      },
    });
    new Gauge({
      name: "metalwave_build_info",
      help: "Always 1; the labels say which metalwave runs, on which Node.js.",
      labelNames: ["version", "node"],
      registers,
    }).set({ version: label(metalwaveVersion(), /^[0-9A-Za-z.+-]{1,64}$/), node: process.versions.node }, 1);
    new Gauge({
      name: "metalwave_failure_budget_remaining",
      help: "Failed hosts (quarantined or failed) the live rollout (else the latest) may still have before its budget pauses it: in total, and in its current wave; negative once exceeded.",
      labelNames: ["scope"],
      registers,
      collect() {
        this.reset();
        let left: { total: number; wave: number } | undefined;
        try {
          left = self.source?.budgetRemaining();
        } catch (e) {
          self.log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not read the failure budget for the metrics");
        }
        if (!left) return;
        this.set({ scope: "total" }, left.total);
        this.set({ scope: "wave" }, left.wave);
      },
    });
    new Gauge({
      name: "metalwave_maas_up",
      help: "1 when the last readiness probe reached MAAS and it accepted the API key, 0 when it did not (absent before the first probe); GET /readyz says why.",
      registers,
      collect() {
        this.reset();
        const up = self.source?.maasUp();
        if (up !== undefined) this.set(up ? 1 : 0);
      },
    });
    new Gauge({
      name: "metalwave_event_stream_clients",
      help: "Clients connected to GET /api/v1/events.",
      registers,
      collect() {
        this.set(self.source?.eventClients() ?? 0);
      },
    });
    this.http = new Counter({
      name: "metalwave_http_requests_total",
      help: "Requests to the service's API by route template, method and status.",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "metalwave_http_request_duration_seconds",
      help: "Time to answer a request to the service's API, by route template and method (the event stream's is its whole connection).",
      labelNames: ["route", "method"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.maasDuration = new Histogram({
      name: "metalwave_maas_request_duration_seconds",
      help: "Latency of each HTTP exchange with MAAS (one attempt, queueing in the client's limiter not included), by operation.",
      labelNames: ["operation"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of DROPPED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  bind(source: MetricsSource): void {
    this.source = source;
  }

  /** Starts counting a rollout's transitions: from its first entry, or (a resumed one) from now on. */
  beginTransitions(rolloutId: string, fromNow: boolean): void {
    let cursor = 0;
    if (fromNow) {
      this.store.flush();
      cursor = this.store.journal(rolloutId, { order: "desc", limit: 1 })[0]?.seq ?? 0;
    }
    this.transitionCursor.delete(rolloutId);
    this.transitionCursor.set(rolloutId, cursor);
    trim(this.transitionCursor);
  }

  /** Counts the rollout's transition entries written since the last call. */
  tailTransitions(rolloutId: string): void {
    const after = this.transitionCursor.get(rolloutId);
    if (after === undefined) return;
    try {
      this.store.flush();
      const entries = this.store.journal(rolloutId, { kind: "transition", afterSeq: after });
      for (const e of entries) this.transitions.inc({ to: label(readTransition(e)?.to), ...this.regionOf(e.systemId) });
      const last = entries[entries.length - 1];
      if (last) this.transitionCursor.set(rolloutId, last.seq);
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e), rolloutId }, "could not read transitions for the metrics");
    }
  }

  /** Marks failures as already counted (a resumed rollout's, counted by the run that saw them). */
  seedFailures(rolloutId: string, failures: readonly HostFailure[]): void {
    const seen = this.seen(rolloutId);
    for (const f of failures) seen.add(f.systemId);
  }

  countFailures(rolloutId: string, failures: readonly HostFailure[]): void {
    const seen = this.seen(rolloutId);
    for (const f of failures) {
      if (seen.has(f.systemId)) continue;
      seen.add(f.systemId);
      this.failures.inc({ code: label(f.code, /^[A-Z][A-Z0-9_]{0,47}$/), outcome: label(f.outcome), ...this.regionOf(f.systemId) });
    }
  }

  /** A re-provisioning or remediation pass ended: count its hosts by what became of them. */
  countMaintenance(kind: "reprovision" | "remediation", counts: { inService: number; quarantined: number; refused: number; replaced: number }): void {
    if (counts.inService) this.remediations.inc({ kind, result: "in_service" }, counts.inService);
    if (counts.quarantined) this.remediations.inc({ kind, result: "quarantined" }, counts.quarantined);
    // Refused before anything was changed (LAYER_REFUSED): the host is as it was, for an operator to decide.
    if (counts.refused) this.remediations.inc({ kind, result: "refused" }, counts.refused);
    if (counts.replaced) this.remediations.inc({ kind, result: "replaced_by_spare" }, counts.replaced);
  }

  /** What a remediation pass's health checks found (its result's `healthChecks`). */
  countHealth(h: { checked: number; failed: readonly { failures: readonly { check: HealthCheck }[] }[] }): void {
    this.healthHosts.inc({ result: "unhealthy" }, h.failed.length);
    this.healthHosts.inc({ result: "healthy" }, Math.max(0, h.checked - h.failed.length));
    for (const host of h.failed) for (const f of host.failures) this.healthFailures.inc({ check: f.check });
  }

  /** One HTTP exchange with MAAS ended (the hook the service installs on its MAAS client). */
  observeMaas(info: { operation: string; durationMs: number }): void {
    this.maasDuration.observe({ operation: label(info.operation) }, Math.max(0, info.durationMs) / 1000);
  }

  /** One SSH command ended (the hook the service installs on each run's SSH port). */
  observeSsh(end: SshCommandEnd): void {
    const outcome = sshOutcome(end.result);
    this.sshCommands.inc({ outcome });
    this.sshDuration.observe({ outcome }, Math.max(0, end.durationMs) / 1000);
  }

  /** Machines by `role\0phase` of the current rollout; its transitions are read on from the last scrape's cursor. */
  async machinesByRole(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const t = await this.currentTrack();
    if (!t) return out;
    const counts = new Map<number, number>();
    const phases = t.phaseNames.length;
    for (let i = 0; i < t.roles.length; i++) {
      const p = t.phase[i]!;
      for (const r of t.roles[i]!) counts.set(r * phases + p, (counts.get(r * phases + p) ?? 0) + 1);
    }
    for (const [k, n] of counts) out.set(`${t.roleNames[Math.floor(k / phases)]}\0${t.phaseNames[k % phases]}`, n);
    return out;
  }

  /** Machines by `region\0phase` of the current rollout (several regions; empty with one). */
  async machinesByRegion(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const t = await this.currentTrack();
    if (!t || t.regionNames.length === 0) return out;
    const counts = new Map<number, number>();
    const phases = t.phaseNames.length;
    for (let i = 0; i < t.region.length; i++) {
      const r = t.region[i]!;
      if (r < 0) continue;
      const k = r * phases + t.phase[i]!;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    for (const [k, n] of counts) out.set(`${t.regionNames[Math.floor(k / phases)]}\0${t.phaseNames[k % phases]}`, n);
    return out;
  }

  /** The current rollout's track, its transitions read on from the last scrape's cursor. */
  private async currentTrack(): Promise<RoleTrack | undefined> {
    const id = this.source?.currentRolloutId();
    if (!id) {
      this.roleTrack = undefined;
      return undefined;
    }
    // One reader of the journal at a time: a second scrape waits for the first one's read.
    while (this.roleRead) await this.roleRead;
    const read = this.followRoles(id);
    this.roleRead = read;
    try {
      await read;
    } finally {
      if (this.roleRead === read) this.roleRead = undefined;
    }
    const t = this.roleTrack;
    return t?.rolloutId === id ? t : undefined;
  }

  private async followRoles(id: string): Promise<void> {
    try {
      let t = this.roleTrack;
      if (t?.rolloutId !== id) {
        this.roleTrack = undefined;
        const record = this.store.getRollout(id);
        if (!record) return;
        t = roleTrackOf(id, record.plan);
        this.roleTrack = t;
      }
      // The runner's transitions may sit in the write-behind buffer for a moment.
      this.store.flush();
      for (;;) {
        const step = this.store.journal(id, { kind: "transition", afterSeq: t.cursor, limit: ROLE_STEP });
        for (const e of step) {
          t.cursor = e.seq;
          const to = readTransition(e)?.to;
          const i = e.systemId === null ? undefined : t.index.get(e.systemId);
          if (i === undefined || to === undefined) continue;
          t.phase[i] = phaseIdOf(t, label(to));
        }
        if (step.length < ROLE_STEP) break;
        await nextTurn();
        if (this.roleTrack !== t) return;
      }
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e), rolloutId: id }, "could not read machines by role for the metrics");
    }
  }

  observeRun(state: string, elapsedMs: number): void {
    this.runDuration.observe({ state: label(state) }, elapsedMs / 1000);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Several regions: the `region` label of a host key (absent with one region); bounded by MAX_REGION_LABELS. */
  private regionOf(key: string | null): { region: string } | Record<string, never> {
    const r = key === null ? null : regionOfKey(key);
    if (r === null) return {};
    const value = REGION_LABEL.test(r) ? r : "other";
    if (!this.regionLabels.has(value)) {
      if (this.regionLabels.size >= MAX_REGION_LABELS) return { region: "other" };
      this.regionLabels.add(value);
    }
    return { region: value };
  }

  private seen(rolloutId: string): Set<string> {
    let s = this.seenFailures.get(rolloutId);
    if (!s) {
      s = new Set();
      this.seenFailures.set(rolloutId, s);
      trim(this.seenFailures);
    }
    return s;
  }
}

function trim<V>(m: Map<string, V>): void {
  while (m.size > KEEP_ROLLOUTS) {
    const oldest = m.keys().next().value;
    if (oldest === undefined) return;
    m.delete(oldest);
  }
}
