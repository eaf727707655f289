/**
 * One shared observer for every host of a rollout. A real region lists machines
 * without pagination, so polling each machine, or the whole list, costs
 * O(machines × ticks). Instead this reads the events feed with an `after`
 * cursor (O(changes)) to learn *which* watched machines changed, then reads
 * just those machines back in one filtered list call per tick (`id=` repeated)
 * to learn *what* they are now, and fans the statuses out to the subscribers.
 * A slow safety sweep re-reads machines that have been quiet for a long time,
 * in batches, in case an event was missed.
 */
import type { Logger } from "pino";
import type { MaasPort, MachineState } from "../maas/port.ts";
import { systemClock, type Clock } from "../clock.ts";
import { NodeStatus, isStatusCode, statusFromLabel, type NodeStatusCode } from "../model/maas/status.ts";

export interface StatusChange {
  systemId: string;
  status: NodeStatusCode;
  statusMessage: string | null;
}

/**
 * Machines per filtered read of statuses (`id=` repeated): about 16 KiB of URL at 400, and
 * one answer of 400 machines; the observer's batches and the runner's start-up reads
 * (src/runtime/rollout-open.ts readStatuses) use it, so no read asks for a whole plan at once.
 */
export const READ_BATCH_SIZE = 400;

export interface ObserverOptions {
  /** Delay between polls when the feed is quiet. */
  pollIntervalMs?: number;
  /** Events per page (MAAS allows at most 1000). */
  pageSize?: number;
  /** Machines per filtered read (default READ_BATCH_SIZE). */
  readBatchSize?: number;
  /** Re-read a watched machine that has not changed for this long. */
  sweepAfterMs?: number;
  logger?: Logger;
  /** Time for when a watched machine was last confirmed (src/clock.ts). Default: the system clock. */
  clock?: Clock;
}

export class StatusObserver {
  private readonly maas: MaasPort;
  private readonly onChange: (change: StatusChange) => void;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly readBatchSize: number;
  private readonly sweepAfterMs: number;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly clock: Clock;
  /** systemId → last status delivered, and when it was last confirmed. */
  private readonly watched = new Map<string, { status: NodeStatusCode | undefined; seenAt: number; gen: number; commissioningResultId?: number | null | undefined }>();
  private readonly dirty = new Set<string>();
  private cursor: number | undefined;
  /** Aborts the wait for the next poll (the clock's sleep). */
  private timer: AbortController | undefined;
  private running = false;
  private polling: Promise<void> | undefined;
  private wakeRequested = false;
  /** Counters a summary or bench can print. */
  readonly counters = { eventPages: 0, events: 0, reads: 0, machinesRead: 0, sweeps: 0 };

  constructor(maas: MaasPort, onChange: (change: StatusChange) => void, opts: ObserverOptions = {}) {
    this.maas = maas;
    this.onChange = onChange;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.pageSize = Math.min(opts.pageSize ?? 1000, 1000);
    this.readBatchSize = opts.readBatchSize ?? READ_BATCH_SIZE;
    this.sweepAfterMs = opts.sweepAfterMs ?? 5 * 60_000;
    this.logger = opts.logger;
    const clock = opts.clock ?? systemClock;
    this.clock = clock;
    this.now = () => clock.now();
  }

  /**
   * Fixes the cursor at the newest event so that nothing that happens from now
   * on is missed. Call before reading the machines' initial statuses.
   */
  async start(): Promise<void> {
    if (this.cursor === undefined) {
      const page = await this.maas.queryEvents({ limit: 1, level: "DEBUG" });
      this.counters.eventPages++;
      this.cursor = page.events[0]?.id ?? 0;
    }
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.abort();
    this.timer = undefined;
    await this.polling;
  }

  /** Starts watching a machine; `known` is the status the caller already knows, if any. */
  watch(systemId: string, known?: NodeStatusCode): void {
    this.watched.set(systemId, { status: known, seenAt: this.now(), gen: 0 });
    if (known === undefined) this.dirty.add(systemId);
  }

  unwatch(systemId: string): void {
    this.watched.delete(systemId);
    this.dirty.delete(systemId);
  }

  /**
   * Records a status learnt from the answer to one of our own requests and, when it
   * differs from the last one delivered, delivers it like any other change: the
   * subscriber must hear it, because a later read of the same status is no longer a
   * change. A read that was already under way when this happened is stale for this
   * machine and is discarded, so an old "Failed …" can never be taken for the new
   * attempt's.
   */
  note(machine: MachineState): void {
    const w = this.watched.get(machine.system_id);
    if (!w) return;
    w.seenAt = this.now();
    w.gen++;
    if (machine.current_commissioning_result_id !== undefined) w.commissioningResultId = machine.current_commissioning_result_id;
    if (!isStatusCode(machine.status) || machine.status === w.status) return;
    w.status = machine.status;
    this.onChange({ systemId: machine.system_id, status: machine.status, statusMessage: machine.status_message ?? null });
  }

  /**
   * The machine's current commissioning script set as last read (undefined: not read, or
   * the region does not say): a commission's intent records it, so that after a crash a
   * changed id proves the request was taken (src/runtime/host-actors.ts).
   */
  commissioningResultId(systemId: string): number | null | undefined {
    const w = this.watched.get(systemId);
    if (w?.commissioningResultId !== undefined) return w.commissioningResultId;
    // A New machine was never commissioned, so it has no script set yet (MAAS answers null
    // until the first commissioning: src/maasserver/api/nodes.py current_commissioning_result_id).
    return w?.status === NodeStatus.NEW ? null : undefined;
  }

  /** Asks for a confirming read of this machine on the next tick (e.g. after a request of ours). */
  poke(systemId: string): void {
    if (this.watched.has(systemId)) this.dirty.add(systemId);
    this.wake();
  }

  /** Polls as soon as possible instead of waiting for the interval. */
  wake(): void {
    if (!this.running) return;
    if (this.polling) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  get size(): number {
    return this.watched.size;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer?.abort();
    const timer = new AbortController();
    this.timer = timer;
    // The wait is the clock's (src/clock.ts): on a manual clock nothing polls until the clock
    // is moved, so a test shows a stopped observer sending nothing by moving it, not by sleeping.
    // On the system clock it is a timer, not unref'd: while hosts wait for MAAS, it is what
    // keeps the process alive.
    this.clock.sleep(ms, timer.signal).then(
      () => {
        if (this.timer !== timer) return;
        this.timer = undefined;
        this.polling = this.tick()
          .catch((e: unknown) => this.logger?.warn({ err: e }, "status observer poll failed; will retry"))
          .finally(() => {
            this.polling = undefined;
            const again = this.wakeRequested || this.dirty.size > 0;
            this.wakeRequested = false;
            this.schedule(again ? 0 : this.pollIntervalMs);
          });
      },
      // Aborted: stopped, or rescheduled sooner.
      () => undefined,
    );
  }

  /** One round: drain the feed, then read back the machines it named. Exposed for tests. */
  async tick(): Promise<void> {
    await this.drainEvents();
    this.collectSweep();
    await this.readDirty();
  }

  private async drainEvents(): Promise<void> {
    // Page forward from the cursor until a page comes back short.
    for (;;) {
      const page = await this.maas.queryEvents({ after: this.cursor ?? 0, limit: this.pageSize, level: "DEBUG" });
      this.counters.eventPages++;
      this.counters.events += page.events.length;
      let newest = this.cursor ?? 0;
      for (const ev of page.events) {
        if (ev.id > newest) newest = ev.id;
        if (ev.node && this.watched.has(ev.node) && statusFromLabel(ev.type) !== undefined) this.dirty.add(ev.node);
      }
      this.cursor = newest;
      if (page.events.length < this.pageSize) return;
    }
  }

  private collectSweep(): void {
    const due = this.now() - this.sweepAfterMs;
    for (const [id, w] of this.watched) {
      if (w.seenAt <= due) {
        this.dirty.add(id);
        this.counters.sweeps++;
      }
    }
  }

  private async readDirty(): Promise<void> {
    while (this.dirty.size > 0) {
      const batch = [...this.dirty].slice(0, this.readBatchSize);
      const gens = new Map<string, number>();
      for (const id of batch) {
        this.dirty.delete(id);
        gens.set(id, this.watched.get(id)?.gen ?? 0);
      }
      const machines = await this.maas.listMachineStates({ id: batch });
      this.counters.reads++;
      this.counters.machinesRead += machines.length;
      const now = this.now();
      for (const m of machines) {
        const w = this.watched.get(m.system_id);
        if (!w) continue;
        if (w.gen !== gens.get(m.system_id)) {
          this.dirty.add(m.system_id);
          continue;
        }
        w.seenAt = now;
        if (m.current_commissioning_result_id !== undefined) w.commissioningResultId = m.current_commissioning_result_id;
        const status = m.status;
        if (!isStatusCode(status) || status === w.status) continue;
        w.status = status;
        this.onChange({ systemId: m.system_id, status, statusMessage: m.status_message ?? null });
      }
    }
  }
}
