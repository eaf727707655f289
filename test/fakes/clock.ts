/**
 * A hand-driven clock for tests, a full implementation of the clock port (src/clock.ts):
 * monotonic time is `t`, moved by the test, and a sleep moves it on by what was asked and
 * returns at once. Wall time is `epochMs + t` (epochMs 0 unless given: a client that signs
 * requests to a real or simulated region wants the real time there, as MAAS checks it).
 */
import type { Clock } from "../../src/clock.ts";

export class HandClock implements Clock {
  t: number;
  /** Every sleep asked for, in order. */
  readonly sleeps: number[] = [];
  readonly epochMs: number;
  constructor(t = 0, epochMs = 0) {
    this.t = t;
    this.epochMs = epochMs;
  }
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.epochMs + this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    this.sleeps.push(ms);
    this.t += Math.max(0, ms);
    return Promise.resolve();
  }
}
