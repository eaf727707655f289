/**
 * Prometheus metrics of the service (prom-client, a registry of its own). Labels are
 * closed sets — phases, states, outcomes, error codes, MAAS operations, route
 * templates — never a machine, so a 10,000-machine rollout has as many series as a
 * 10-machine one. Values that live elsewhere (the store, the MAAS client's counters)
 * are read when Prometheus scrapes, not pushed.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "pino";
import type { MaasClientStats } from "../maas/client.ts";
import { ROLLOUT_STATUSES, type Store } from "../store/index.ts";
import type { HostFailure } from "../runtime/rollout-runner.ts";

export interface MetricsSource {
  /** Machines by phase of the live run, else of the latest rollout. */
  phaseCounts(): Record<string, number>;
  /** The live run's rollout, whose transitions are read from the journal at each scrape. */
  liveRolloutId(): string | undefined;
  /** True while a run is planning (no rollout record yet). */
  planning(): boolean;
  maasStats(): MaasClientStats;
  eventClients(): number;
}

/** Label values come from our own closed sets; anything else is folded into "other" rather than trusted. */
function label(value: unknown, pattern = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/): string {
  return typeof value === "string" && pattern.test(value) ? value : "other";
}

/** How many rollouts' cursors and seen-failure sets are kept (older ones are never read again). */
const KEEP_ROLLOUTS = 8;

export class ServiceMetrics {
  readonly registry = new Registry();
  private source: MetricsSource | undefined;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly transitionCursor = new Map<string, number>();
  private readonly seenFailures = new Map<string, Set<string>>();

  private readonly transitions: Counter<"to">;
  private readonly failures: Counter<"code" | "outcome">;
  private readonly runDuration: Histogram<"state">;
  private readonly remediations: Counter<"kind" | "result">;
  readonly http: Counter<"route" | "method" | "status">;

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
      help: "Host phase transitions made by this process's runs, by the phase entered (read from the journal).",
      labelNames: ["to"],
      registers,
      collect() {
        const live = self.source?.liveRolloutId();
        if (live) self.tailTransitions(live);
      },
    });
    this.failures = new Counter({
      name: "metalwave_host_failures_total",
      help: "Hosts that settled other than in service in this process's runs, by error code and outcome.",
      labelNames: ["code", "outcome"],
      registers,
    });
    this.remediations = new Counter({
      name: "metalwave_remediation_hosts_total",
      help: "Hosts handled by re-provisioning and remediation passes: provisioned again (back in service or quarantined again) or replaced by a spare.",
      labelNames: ["kind", "result"],
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
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
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
      for (const e of entries) this.transitions.inc({ to: label((e.data as { to?: unknown } | null)?.to) });
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
      this.failures.inc({ code: label(f.code, /^[A-Z][A-Z0-9_]{0,47}$/), outcome: label(f.outcome) });
    }
  }

  /** A re-provisioning or remediation pass ended: count its hosts by what became of them. */
  countMaintenance(kind: "reprovision" | "remediation", counts: { inService: number; quarantined: number; replaced: number }): void {
    if (counts.inService) this.remediations.inc({ kind, result: "in_service" }, counts.inService);
    if (counts.quarantined) this.remediations.inc({ kind, result: "quarantined" }, counts.quarantined);
    if (counts.replaced) this.remediations.inc({ kind, result: "replaced_by_spare" }, counts.replaced);
  }

  observeRun(state: string, elapsedMs: number): void {
    this.runDuration.observe({ state: label(state) }, elapsedMs / 1000);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
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
