/**
 * The one clock port. Everything that reads time or waits (the MAAS client's back-off and
 * rate limit, the runner, the store, the service, the layers, the simulator's scheduler)
 * takes a `Clock`; `systemClock` is its one default and the only place in src/ that reads
 * the system's time (test/structure/clock.test.ts checks it). The simulator's manual clock
 * (src/sim/scheduler.ts) and the tests' virtual clocks implement the same port.
 */
export interface Clock {
  /** Milliseconds, monotonic: for durations, deadlines, refilling tokens, scheduling. */
  now(): number;
  /** Wall-clock milliseconds since the epoch: for timestamps that are stored or shown. */
  wallNow(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** The wall-clock time as a Date (stored and shown timestamps). */
export const wallDate = (clock: Clock): Date => new Date(clock.wallNow());
