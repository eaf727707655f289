/**
 * Keeps the client polite to a MAAS region: at most `maxInFlight` requests at once
 * (a region process serves about 4 and queues the rest, so more only adds latency
 * for everyone) and at most `requestsPerSecond` request starts (token bucket).
 * Waiters are served first come, first served.
 */
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";

export interface LimiterOptions {
  /** Requests in flight at once; >= 1. */
  maxInFlight: number;
  /** Request starts per second; 0 = unlimited. */
  requestsPerSecond: number;
  /** Starts allowed back to back after a quiet period; defaults to maxInFlight. */
  burst?: number;
  clock?: Clock;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class RequestLimiter {
  private readonly maxInFlight: number;
  private readonly rps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private tokens: number;
  private lastRefill: number;
  // Token waits are chained so that starts keep the order slots were granted in.
  private tokenChain: Promise<void> = Promise.resolve();

  constructor(options: LimiterOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be an integer >= 1 (got ${options.maxInFlight})`);
    }
    if (!(options.requestsPerSecond >= 0)) {
      throw new RangeError(`requestsPerSecond must be >= 0 (got ${options.requestsPerSecond})`);
    }
    this.maxInFlight = options.maxInFlight;
    this.rps = options.requestsPerSecond;
    this.burst = Math.max(1, options.burst ?? options.maxInFlight);
    this.clock = options.clock ?? systemClock;
    this.tokens = this.burst;
    this.lastRefill = this.clock.now();
  }

  /** Requests running now and waiting for a slot. */
  get load(): { inFlight: number; queued: number } {
    return { inFlight: this.inFlight, queued: this.queue.length };
  }

  /** Runs `fn` once a slot and a rate token are free. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquireSlot(signal);
    try {
      await this.takeToken(signal);
      return await fn();
    } finally {
      this.releaseSlot();
    }
  }

  private acquireSlot(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.inFlight < this.maxInFlight && this.queue.length === 0) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
    });
  }

  private releaseSlot(): void {
    const next = this.queue.shift();
    if (next) {
      // The slot passes straight to the next waiter: inFlight stays the same.
      if (next.onAbort) next.signal?.removeEventListener("abort", next.onAbort);
      next.resolve();
    } else {
      this.inFlight--;
    }
  }

  private takeToken(signal: AbortSignal | undefined): Promise<void> {
    if (this.rps === 0) return Promise.resolve();
    const turn = this.tokenChain.then(() => this.waitForToken(signal));
    // A failed wait (abort) must not block the ones behind it.
    this.tokenChain = turn.catch(() => undefined);
    return turn;
  }

  private async waitForToken(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.rps) / 1000);
      this.lastRefill = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) * 1000) / this.rps), signal);
    }
  }
}
