/**
 * The progress of a rollout, as the CLI, the service and the summary report it, and the
 * tally that counts it: hosts per phase, outcomes, per-wave settled and failed counts, and
 * one failure line per host that did not end in service. The live runner and a read of
 * the store (a resumed run, the service's view of a rollout no runner holds) count through
 * the same tally, so both say the same thing of the same host.
 */
import type { HostOutcome } from "../../state-machines/host.ts";
import type { HostCounts } from "../store/index.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";

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
  /** Several regions only: the regions not answering now (their hosts wait). */
  regionsDown?: string[];
  /** Several regions: hosts in flight at a resume whose region was away, waiting for it to restore them (region-catchup.ts). */
  waitingOnRegion?: number;
  /** Several regions: regions not planned yet (away when the rollout was planned); their hosts are planned once each answers. */
  regionsUnplanned?: string[];
  maasRequests: number;
  elapsedMs: number;
}

export interface HostFailure {
  systemId: string;
  /** Several regions: the host's region (its key's); null with one region. */
  region: string | null;
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

/**
 * The progress as people and the CLI's JSON read it: waves counted from 1 (`wave`,
 * `perWave[].index`), as the progress line, `status` and the dashboard count them.
 */
export function withWavesFromOne<P extends Pick<RolloutProgress, "wave" | "perWave">>(p: P): P {
  return { ...p, wave: p.wave + 1, perWave: p.perWave.map((w) => ({ ...w, index: w.index + 1 })) };
}

export const OUTCOMES: readonly HostOutcome[] = ["inService", "quarantined", "aborted", "refused", "failed"];

export function isOutcome(phase: string): phase is HostOutcome {
  return (OUTCOMES as readonly string[]).includes(phase);
}

export function emptyOutcomes(): Record<HostOutcome, number> {
  return { inService: 0, quarantined: 0, aborted: 0, refused: 0, failed: 0 };
}

/** What a host that settled other than in service reports. */
export interface SettledHost {
  systemId: string;
  hostname: string;
  outcome: HostOutcome;
  /** The phase it was last in before settling (used when no error was recorded). */
  phase: string;
  lastError: { phase?: string | undefined; code: string; message: string } | null;
  reason?: string | null;
}

/**
 * The failure line of a settled host: its last recorded error, or, when it recorded none,
 * ABORTED for a host stopped on purpose (an abort records no error) and UNKNOWN otherwise.
 */
export function hostFailureOf(h: SettledHost): HostFailure {
  const le = h.lastError;
  return {
    systemId: h.systemId,
    region: regionOfKey(h.systemId),
    hostname: h.hostname,
    outcome: h.outcome,
    phase: le?.phase ?? h.phase,
    code: le?.code ?? (h.outcome === "aborted" ? "ABORTED" : "UNKNOWN"),
    message: le?.message ?? h.reason ?? "",
  };
}

/** Counts one rollout's hosts as they move and settle. */
export class RolloutTally {
  private total: number;
  /** Last known phase (or outcome) of every host that has started. */
  private readonly phaseOf = new Map<string, string>();
  /**
   * Hosts per phase (or outcome) in phaseOf, kept as hosts move: a progress report costs
   * O(phases), not O(hosts), however often it is asked for.
   */
  private readonly perPhase = new Map<string, number>();
  private readonly outcomes = emptyOutcomes();
  private readonly failures = new Map<string, HostFailure>();
  private readonly waves: WaveProgress[];
  /** Hosts counted from the store's records rather than one by one (`fromStoreCounts`). */
  private stored: { byPhase: Record<string, number>; started: number } = { byPhase: {}, started: 0 };

  /**
   * The same tally from the store's per-wave counts of the hosts' records (no snapshot
   * read): what a reader of a rollout no runner holds reports.
   */
  static fromStoreCounts(plan: { hosts: readonly unknown[]; waves: readonly (readonly string[])[] }, counts: HostCounts): RolloutTally {
    const t = new RolloutTally(plan);
    t.stored = { byPhase: { ...counts.byPhase }, started: counts.total };
    for (const o of OUTCOMES) t.outcomes[o] = counts.byOutcome[o] ?? 0;
    for (const w of counts.waves) {
      const wave = t.waves[w.wave];
      if (!wave) continue;
      wave.settled = w.total - w.unsettled;
      wave.failed = Object.entries(w.byOutcome).reduce((n, [o, k]) => (o === "inService" || o === "refused" ? n : n + k), 0);
    }
    return t;
  }

  constructor(plan: { hosts: readonly unknown[]; waves: readonly (readonly string[])[] }) {
    this.total = plan.hosts.length;
    this.waves = plan.waves.map((w, index) => ({ index, size: w.length, settled: 0, failed: 0 }));
  }

  /** The plan grew (a region planned after the start, region-plan.ts): its hosts and waves counted too. */
  grown(plan: { hosts: readonly unknown[]; waves: readonly (readonly string[])[] }): void {
    this.total = plan.hosts.length;
    plan.waves.forEach((w, index) => {
      const wave = this.waves[index];
      if (wave) wave.size = w.length;
      else this.waves.push({ index, size: w.length, settled: 0, failed: 0 });
    });
  }

  /** The host is now in `phase`; returns the phase it was in (undefined for its first). */
  enter(systemId: string, phase: string): string | undefined {
    const prev = this.phaseOf.get(systemId);
    this.move(prev, phase);
    this.phaseOf.set(systemId, phase);
    return prev;
  }

  private move(from: string | undefined, to: string): void {
    if (from === to) return;
    if (from !== undefined) {
      const n = (this.perPhase.get(from) ?? 0) - 1;
      if (n > 0) this.perPhase.set(from, n);
      else this.perPhase.delete(from);
    }
    this.perPhase.set(to, (this.perPhase.get(to) ?? 0) + 1);
  }

  phase(systemId: string): string | undefined {
    return this.phaseOf.get(systemId);
  }

  /** The host settled (live, or read back settled from the store); `wave` counts from 0. */
  settle(host: SettledHost & { wave: number }): void {
    this.outcomes[host.outcome]++;
    const wave = this.waves[host.wave];
    if (wave) {
      wave.settled++;
      // A refused host is as it was (nothing changed): settled, not failed.
      if (host.outcome !== "inService" && host.outcome !== "refused") wave.failed++;
    }
    if (host.outcome !== "inService") this.failures.set(host.systemId, hostFailureOf(host));
    this.move(this.phaseOf.get(host.systemId), host.outcome);
    this.phaseOf.set(host.systemId, host.outcome);
  }

  counts(): Pick<RolloutProgress, "total" | "settled" | "byPhase" | "byOutcome" | "perWave"> {
    const byPhase: Record<string, number> = { ...this.stored.byPhase };
    for (const [p, n] of this.perPhase) byPhase[p] = (byPhase[p] ?? 0) + n;
    const notStarted = this.total - this.phaseOf.size - this.stored.started;
    if (notStarted > 0) byPhase["waiting"] = notStarted;
    return {
      total: this.total,
      settled: OUTCOMES.reduce((n, o) => n + this.outcomes[o], 0),
      byPhase,
      byOutcome: { ...this.outcomes },
      perWave: this.waves.map((w) => ({ ...w })),
    };
  }

  /** The first wave not yet settled (counting from 0), or the last one when all are. */
  openWave(): number {
    const open = this.waves.findIndex((w) => w.settled < w.size);
    return open < 0 ? Math.max(0, this.waves.length - 1) : open;
  }

  failureList(): HostFailure[] {
    return [...this.failures.values()];
  }
}
