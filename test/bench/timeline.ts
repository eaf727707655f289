/**
 * Where a timed rollout's time went. Two clocks on the same machine are joined:
 * the simulated region's own record of when each machine changed status (taken
 * in-process with `region.watch`), and the rollout's journal in its store (when
 * each host entered each phase). With fixed phase durations the difference between
 * the makespan and the lower bound splits exactly into:
 *
 * - outside the waves: start-up (listing, tags, whoami, planning) and shutdown;
 * - wave barriers: from the last host of a wave in service to the first host of the
 *   next wave starting;
 * - inside each wave, the excess of the host that finished last, cut into its start
 *   offset in the wave, request latencies, how late the observer saw MAAS's status,
 *   the tag batcher's window, and how late the simulator's own timers fired.
 */
import type { JournalEntry } from "../../src/store/index.ts";

/** When the region put a machine in each status (epoch ms), first time only. */
export interface SimTimes {
  commissioning?: number;
  ready?: number;
  deploying?: number;
  deployed?: number;
}

/** The parts of one host's life beyond its phase durations, in ms. */
export interface HostParts {
  /** Host entered commissioning (asks for a slot, sends commission) → MAAS shows Commissioning. */
  commissionRequest: number;
  /** Simulator's commission timer fired later than the fixed duration (event-loop lag). */
  simLate: number;
  /** MAAS shows Ready → the host hears it (observer: events feed poll + filtered read). */
  readyObserved: number;
  /** Tagging phase: tag batcher window + update_nodes. */
  tagging: number;
  /** Allocating phase: the allocate request. */
  allocate: number;
  /** Host entered deploying → MAAS shows Deploying (slot + deploy request). */
  deployRequest: number;
  /** MAAS shows Deployed → the host hears it. */
  deployedObserved: number;
  /** deployed → inService (layering, a no-op here). */
  settle: number;
}

export const PART_NAMES: readonly (keyof HostParts)[] = [
  "commissionRequest",
  "simLate",
  "readyObserved",
  "tagging",
  "allocate",
  "deployRequest",
  "deployedObserved",
  "settle",
];

export interface WaveBreakdown {
  wave: number;
  size: number;
  /** ceil(size / cap) · D */
  boundMs: number;
  /** First host of the wave started → last host in service. */
  spanMs: number;
  excessMs: number;
  /** Last host of this wave in service → first host of the next wave started (0 for the last wave). */
  barrierMs: number;
  /**
   * The host that finished last: its parts plus startOffset (its start after the wave's first
   * host, less the earlier rounds' D when the wave is larger than the cap) add up to excessMs.
   */
  critical: HostParts & { startOffset: number };
  /** Means over the wave's hosts. */
  mean: HostParts;
}

export interface Breakdown {
  makespanMs: number;
  boundMs: number;
  overheadMs: number;
  /** Before the first wave started and after the last one ended. */
  outsideWavesMs: number;
  barriersMs: number;
  /** Σ over waves of the critical host's parts (plus its start offset). */
  inWaves: HostParts & { startOffset: number };
  /** Means over every host. */
  hostMean: HostParts;
  /** The largest value of each part over every host. */
  hostMax: HostParts;
  waves: WaveBreakdown[];
}

function zeroParts(): HostParts {
  return { commissionRequest: 0, simLate: 0, readyObserved: 0, tagging: 0, allocate: 0, deployRequest: 0, deployedObserved: 0, settle: 0 };
}

/** First time each host entered each phase, from the journal's transition entries. */
export function phaseTimes(journal: readonly JournalEntry[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const e of journal) {
    if (e.kind !== "transition" || !e.systemId) continue;
    const to = (e.data as { to?: unknown }).to;
    if (typeof to !== "string") continue;
    let m = out.get(e.systemId);
    if (!m) out.set(e.systemId, (m = new Map()));
    if (!m.has(to)) m.set(to, Date.parse(e.at));
  }
  return out;
}

export interface BreakdownInput {
  waves: readonly (readonly string[])[];
  cap: number;
  commissionMs: number;
  deployMs: number;
  makespanMs: number;
  sim: ReadonlyMap<string, SimTimes>;
  phases: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** Splits makespan − bound into its parts. Throws if a host lacks a time it must have (it did not finish). */
export function breakdown(input: BreakdownInput): Breakdown {
  const D = input.commissionMs + input.deployMs;
  const need = (v: number | undefined, what: string, id: string): number => {
    if (v === undefined || !Number.isFinite(v)) throw new Error(`timeline: host ${id} has no ${what} time`);
    return v;
  };
  const hostSum = zeroParts();
  const hostMax = zeroParts();
  let hosts = 0;
  const waves: WaveBreakdown[] = [];
  const spans: { start: number; end: number }[] = [];
  input.waves.forEach((ids, wave) => {
    const rows = ids.map((id) => {
      const p = input.phases.get(id);
      const s = input.sim.get(id) ?? {};
      const j = (phase: string) => need(p?.get(phase), `'${phase}' phase`, id);
      const start = p?.get("enlisted") ?? j("commissioning");
      const c0 = need(s.commissioning, "Commissioning", id);
      const c1 = need(s.ready, "Ready", id);
      const d0 = need(s.deploying, "Deploying", id);
      const d1 = need(s.deployed, "Deployed", id);
      const parts: HostParts = {
        commissionRequest: c0 - start,
        simLate: c1 - c0 - input.commissionMs + (d1 - d0 - input.deployMs),
        readyObserved: j("tagging") - c1,
        tagging: j("allocating") - j("tagging"),
        allocate: j("deploying") - j("allocating"),
        deployRequest: d0 - j("deploying"),
        deployedObserved: j("deployed") - d1,
        settle: j("inService") - j("deployed"),
      };
      return { id, start, end: j("inService"), parts };
    });
    const start = Math.min(...rows.map((r) => r.start));
    const last = rows.reduce((a, b) => (b.end > a.end ? b : a));
    const mean = zeroParts();
    for (const r of rows) {
      for (const k of PART_NAMES) {
        mean[k] += r.parts[k] / rows.length;
        hostSum[k] += r.parts[k];
        hostMax[k] = Math.max(hostMax[k], r.parts[k]);
      }
      hosts++;
    }
    const rounds = Math.ceil(ids.length / input.cap);
    const boundMs = rounds * D;
    spans.push({ start, end: last.end });
    waves.push({
      wave,
      size: ids.length,
      boundMs,
      spanMs: last.end - start,
      excessMs: last.end - start - boundMs,
      barrierMs: 0,
      // A wave larger than the cap runs in rounds: the earlier rounds' D is in the bound, not in the excess.
      critical: { ...last.parts, startOffset: last.start - start - (rounds - 1) * D },
      mean,
    });
  });
  for (let i = 0; i + 1 < spans.length; i++) (waves[i] as WaveBreakdown).barrierMs = (spans[i + 1] as { start: number }).start - (spans[i] as { end: number }).end;
  const first = spans[0]?.start ?? 0;
  const lastEnd = spans[spans.length - 1]?.end ?? 0;
  const inWaves = { ...zeroParts(), startOffset: 0 };
  for (const w of waves) for (const k of [...PART_NAMES, "startOffset"] as const) inWaves[k] += w.critical[k];
  const boundMs = waves.reduce((n, w) => n + w.boundMs, 0);
  const hostMean = zeroParts();
  for (const k of PART_NAMES) hostMean[k] = hosts ? hostSum[k] / hosts : 0;
  return {
    makespanMs: input.makespanMs,
    boundMs,
    overheadMs: input.makespanMs - boundMs,
    outsideWavesMs: input.makespanMs - (lastEnd - first),
    barriersMs: waves.reduce((n, w) => n + w.barrierMs, 0),
    inWaves,
    hostMean,
    hostMax,
    waves,
  };
}
