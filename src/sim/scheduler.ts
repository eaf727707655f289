/**
 * One scheduler for every timed thing in the region (busy states finishing, MAAS's
 * own timeouts): a min-heap of due times and a single timer, so 10,000 deploying
 * machines cost one pending timer, not 10,000. Time comes from a Clock: the real one,
 * or a manual one that tests move forward explicitly.
 */

import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";

export type { Clock };

/** The real clock is the system clock of the one clock port (src/clock.ts). */
export const realClock: Clock = systemClock;

/** Time that moves only when a test (through the scheduler's `advance`) sets it. */
export class ManualClock implements Clock {
  private t = 0;
  private readonly epoch: number;
  private sleepers: { due: number; resolve: () => void }[] = [];
  constructor(epochMs = Date.UTC(2025, 0, 1)) {
    this.epoch = epochMs;
  }
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.epoch + this.t;
  }
  /** Resolves once the clock has been moved `ms` on (or rejects if the signal aborts first). */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const sleeper = { due: this.t + Math.max(0, ms), resolve };
      signal?.addEventListener("abort", () => {
        this.sleepers = this.sleepers.filter((x) => x !== sleeper);
        reject(signal.reason as Error);
      }, { once: true });
      this.sleepers.push(sleeper);
      if (ms <= 0) this.set(this.t);
    });
  }
  set(t: number): void {
    this.t = t;
    const due = this.sleepers.filter((x) => x.due <= t);
    if (due.length === 0) return;
    this.sleepers = this.sleepers.filter((x) => x.due > t);
    for (const x of due) x.resolve();
  }
}

interface Job {
  due: number;
  seq: number;
  run: () => void;
}

export class Scheduler {
  private readonly heap: Job[] = [];
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDue = Infinity;
  private closed = false;
  private readonly clock: Clock;
  /** With a manual clock nothing fires until `advance` is called. */
  private readonly manual: boolean;

  constructor(clock: Clock, manual: boolean) {
    this.clock = clock;
    this.manual = manual;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Runs `run` after `delayMs` (0 = as soon as possible, but never synchronously). */
  schedule(delayMs: number, run: () => void): void {
    if (this.closed) return;
    this.push({ due: this.clock.now() + Math.max(0, delayMs), seq: this.seq++, run });
    this.arm();
  }

  /** Manual clock only: moves time forward by `ms` (Infinity = until nothing is left), running what falls due in order. */
  advance(ms: number): void {
    if (!(this.clock instanceof ManualClock)) throw new Error("advance() needs the manual clock");
    const target = this.clock.now() + ms;
    for (let guard = 0; guard < 10_000_000; guard++) {
      const top = this.heap[0];
      if (top === undefined || top.due > target) break;
      this.pop();
      this.clock.set(Math.max(this.clock.now(), top.due));
      top.run();
    }
    if (Number.isFinite(target)) this.clock.set(Math.max(this.clock.now(), target));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
  }

  private arm(): void {
    if (this.manual || this.closed) return;
    const top = this.heap[0];
    if (top === undefined || top.due >= this.timerDue) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = top.due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, top.due - this.clock.now()));
    // A simulator waiting on a machine must not keep a finished process alive.
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = this.clock.now();
    // Bounded batch per tick so a wave of 10,000 completions does not starve the HTTP server.
    for (let n = 0; n < 2000; n++) {
      const top = this.heap[0];
      if (top === undefined || top.due > now) break;
      this.pop();
      top.run();
    }
    const top = this.heap[0];
    if (top !== undefined && top.due <= now) {
      this.timerDue = now;
      this.timer = setTimeout(() => this.fire(), 0);
      this.timer.unref?.();
    } else {
      this.arm();
    }
  }

  private less(a: Job, b: Job): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(job: Job): void {
    const h = this.heap;
    h.push(job);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Job;
      if (!this.less(job, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = job;
  }

  private pop(): Job | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mj = last;
      const lj = h[l];
      const rj = h[r];
      if (lj !== undefined && this.less(lj, mj)) {
        m = l;
        mj = lj;
      }
      if (rj !== undefined && this.less(rj, mj)) {
        m = r;
        mj = rj;
      }
      if (m === i) break;
      h[i] = mj;
      i = m;
    }
    h[i] = last;
    return top;
  }
}
