/**
 * One MAAS region of several, and whether it answers. A region "stops answering" when a
 * call to it fails, after the client's own retries, because the region could not be
 * reached (MAAS_NETWORK: connection refused, reset, timed out), because it kept answering
 * 502/503/504 (MAAS_UNAVAILABLE), or because reading back an uncertain request failed for
 * one of those reasons (MAAS_OUTCOME_UNKNOWN). The link is then down: calls wait, without
 * being sent, until a probe (`version`, anonymous and cheap) answers again; the call that
 * found it down is sent again once it is back, when it is safe to repeat (idempotent or
 * reconciled: a repeat of a state change that took effect is refused by MAAS as a wrong
 * state, and the host actors read the machine back; src/runtime/host-actors.ts). The
 * runtime hears of each change (`onChange`) and pauses the region's hosts (docs/architecture.md).
 */
import { MaasError } from "./errors.ts";
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import type { MaasPort } from "./port.ts";

const UNREACHABLE: readonly string[] = ["MAAS_NETWORK", "MAAS_UNAVAILABLE"];

/** Whether an error says the region did not answer (after the client's retries), not that it refused. */
export function isRegionUnreachable(e: unknown): boolean {
  if (!(e instanceof MaasError)) return false;
  if (UNREACHABLE.includes(e.code)) return true;
  return e.code === "MAAS_OUTCOME_UNKNOWN" && e.cause instanceof MaasError && UNREACHABLE.includes(e.cause.code);
}

export interface RegionLinkOptions {
  name: string;
  port: MaasPort;
  /** Between probes while the region is down. Default 2000 ms. */
  probeIntervalMs?: number;
  clock?: Clock;
}

export type RegionChange = { region: string; up: false; reason: string } | { region: string; up: true; downForMs: number };

export class RegionLink {
  readonly name: string;
  readonly port: MaasPort;
  private readonly probeIntervalMs: number;
  private readonly clock: Clock;
  private down: { since: number; reason: string; back: Promise<void>; release: () => void } | undefined;
  private readonly listeners = new Set<(c: RegionChange) => void>();
  private closed = false;
  private readonly stopProbing = new AbortController();
  /** Counted for status and metrics. */
  readonly counters = { outages: 0, repeatedCalls: 0 };

  constructor(opts: RegionLinkOptions) {
    this.name = opts.name;
    this.port = opts.port;
    this.probeIntervalMs = opts.probeIntervalMs ?? 2000;
    this.clock = opts.clock ?? systemClock;
  }

  get isUp(): boolean {
    return this.down === undefined;
  }

  /** Why the region is down, and since when (the clock's ms); undefined while it answers. */
  get outage(): { since: number; reason: string } | undefined {
    return this.down && { since: this.down.since, reason: this.down.reason };
  }

  onChange(listener: (c: RegionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs one call to this region: waits while it is down; if the call finds it down, marks
   * it so and, when `repeatable`, sends it again once the region is back; otherwise throws.
   */
  async call<T>(fn: (port: MaasPort) => Promise<T>, repeatable = true): Promise<T> {
    for (;;) {
      if (this.down) await this.down.back;
      try {
        return await fn(this.port);
      } catch (e) {
        if (this.closed || !isRegionUnreachable(e)) throw e;
        this.markDown(e instanceof Error ? e.message : String(e));
        if (!repeatable) throw e;
        this.counters.repeatedCalls++;
      }
    }
  }

  /**
   * Whether the region answers now, asked once (`version`): one that does not is marked down
   * (and probed until it is back) instead of waited for. A run starting over several regions
   * asks each first, so that one away holds only its own hosts (src/runtime/region-catchup.ts).
   */
  async answers(): Promise<boolean> {
    if (this.down) return false;
    try {
      await this.call((p) => p.version(), false);
      return true;
    } catch (e) {
      if (isRegionUnreachable(e)) return false;
      throw e;
    }
  }

  /** Stops probing; calls waiting for the region then fail with MAAS_NETWORK. */
  close(): void {
    this.closed = true;
    this.stopProbing.abort(new Error(`region ${this.name} closed`));
    this.down?.release();
  }

  private markDown(reason: string): void {
    if (this.down) return;
    let release!: () => void;
    const back = new Promise<void>((resolve) => (release = resolve));
    this.down = { since: this.clock.now(), reason, back, release };
    this.counters.outages++;
    this.emit({ region: this.name, up: false, reason });
    void this.probe();
  }

  private async probe(): Promise<void> {
    while (this.down && !this.closed) {
      try {
        await this.clock.sleep(this.probeIntervalMs, this.stopProbing.signal);
      } catch {
        break; // closed
      }
      try {
        await this.port.version();
      } catch {
        continue;
      }
      const was = this.down;
      if (!was) return;
      this.down = undefined;
      this.emit({ region: this.name, up: true, downForMs: this.clock.now() - was.since });
      was.release();
      return;
    }
    if (this.closed && this.down) {
      // Waiters wake and see the region closed: their next try fails and is not repeated.
      this.down.release();
    }
  }

  private emit(c: RegionChange): void {
    for (const l of this.listeners) l(c);
  }
}
