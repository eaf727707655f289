/**
 * The waits of a Juju watch (the semantics JujuWatchPort.waitFor documents): a predicate
 * over the view must hold on N consecutive reads, a read being each applied delta batch
 * and each `intervalMs` tick while the watcher is quiet; a failing read starts the count
 * again; a deadline, an abort signal, close and a failed watch end a wait with a typed
 * error. Shared by the jujulib watch (watch.ts) and the test fake, so both wait alike.
 */
import { JujuWatchError } from "./port.ts";
import type { JujuView, JujuWatchErrorDetails, WaitOptions } from "./port.ts";

/** Timers, injectable so tests can drive waits and backoff by hand. */
export interface WatchTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: WatchTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

interface Waiter {
  predicate: (v: JujuView) => boolean;
  need: number;
  count: number;
  intervalMs: number;
  tick: unknown;
  finish(err: JujuWatchError | undefined, v?: JujuView): void;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class Waits {
  private readonly timers: WatchTimers;
  private readonly view: () => JujuView;
  /** Whether a tick may count as a read (the watcher is live, so a quiet view is current). */
  private readonly live: () => boolean;
  private readonly where: () => JujuWatchErrorDetails;
  private readonly waiters = new Set<Waiter>();

  constructor(o: { timers: WatchTimers; view: () => JujuView; live: () => boolean; where: () => JujuWatchErrorDetails }) {
    this.timers = o.timers;
    this.view = o.view;
    this.live = o.live;
    this.where = o.where;
  }

  get size(): number {
    return this.waiters.size;
  }

  add(predicate: (v: JujuView) => boolean, o: WaitOptions): Promise<JujuView> {
    const what = o.what ?? "the condition";
    const need = Math.max(1, Math.floor(o.consecutive ?? 1));
    return new Promise<JujuView>((resolve, reject) => {
      let done = false;
      const onAbort = () => w.finish(new JujuWatchError("JUJU_ABORTED", this.where(), `the wait for ${what} was aborted`, { cause: o.signal?.reason }));
      const deadline = this.timers.setTimeout(() => w.finish(new JujuWatchError("JUJU_WAIT_TIMEOUT", this.where(), `${what} did not hold on ${need} consecutive read${need === 1 ? "" : "s"} within ${o.timeoutMs} ms (it held on the last ${w.count})`)), o.timeoutMs);
      const w: Waiter = {
        predicate,
        need,
        count: 0,
        intervalMs: o.intervalMs ?? 10_000,
        tick: undefined,
        finish: (err, v) => {
          if (done) return;
          done = true;
          this.waiters.delete(w);
          this.timers.clearTimeout(deadline);
          if (w.tick !== undefined) this.timers.clearTimeout(w.tick);
          o.signal?.removeEventListener("abort", onAbort);
          if (err) reject(err);
          else resolve(v as JujuView);
        },
      };
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(w);
      this.read(w);
    });
  }

  /** One read for every wait (a delta batch was applied). */
  readAll(): void {
    for (const w of [...this.waiters]) this.read(w);
  }

  /** The view may have missed changes (a lost connection): every count starts again. */
  resetCounts(): void {
    for (const w of this.waiters) w.count = 0;
  }

  /** Ends every wait with `err`. */
  failAll(err: JujuWatchError): void {
    for (const w of [...this.waiters]) w.finish(err);
  }

  private read(w: Waiter): void {
    if (w.tick !== undefined) this.timers.clearTimeout(w.tick);
    w.tick = undefined;
    const v = this.view();
    let ok: boolean;
    try {
      ok = w.predicate(v);
    } catch (e) {
      return w.finish(new JujuWatchError("JUJU_PREDICATE", this.where(), `the predicate threw: ${errText(e)}`, { cause: e }));
    }
    w.count = ok ? w.count + 1 : 0;
    if (w.count >= w.need) return w.finish(undefined, v);
    // A quiet watcher means nothing changed, so a later look at the same view is a read too;
    // not while reconnecting (the view may be stale then: the resync reads it again).
    w.tick = this.timers.setTimeout(() => {
      w.tick = undefined;
      if (this.live()) this.read(w);
    }, w.intervalMs);
  }
}
