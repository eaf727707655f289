/**
 * Lanes: where a piece of the engine's work sends its commands and waits. The engine's own
 * lane (barriers, reports) stops at `close()`; a host's lane (`layerHost` with a signal) also
 * stops when its signal aborts: no further command is sent for it, and its waits end at once
 * with LAYER_STOPPED. A command already running is left to end on its own.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { SshPort, SshTarget } from "../ssh/port.ts";
import { hostWorkStopped, LayerError } from "./errors.ts";
import { StepRunner } from "./steps.ts";
import type { StepPolicy } from "./steps.ts";

/** One host's work that stops when its signal aborts (besides the engine's close). */
export interface HostWork {
  host: SshTarget;
  signal: AbortSignal;
}

export interface Lane {
  steps: StepRunner;
  sleep: (ms: number) => Promise<void>;
  /** Throws LAYER_STOPPED once stopped (before a call that is not a command, e.g. to the Kubernetes API). */
  ensureOpen(step: string): void;
  /** `p`, or LAYER_STOPPED as soon as the lane stops. */
  until<T>(p: Promise<T>, step: string): Promise<T>;
  /** Aborts when the lane stops (waits that take a signal end with it). */
  signal?: AbortSignal;
}

export class Lanes {
  private readonly ssh: SshPort;
  private readonly logger: Logger;
  private readonly policy: StepPolicy;
  private readonly sleepFn: ((ms: number) => Promise<void>) | undefined;
  private closed = false;
  /** Ends the default sleeps' timers at close, so no timer outlives the engine. */
  private readonly closing = new AbortController();
  /** The reject of every wait in progress, called at close. */
  private readonly waits = new Set<(e: LayerError) => void>();

  constructor(o: { ssh: SshPort; logger: Logger; policy: StepPolicy; sleep?: (ms: number) => Promise<void> }) {
    this.ssh = o.ssh;
    this.logger = o.logger;
    this.policy = o.policy;
    this.sleepFn = o.sleep;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A lane for the engine's own work (`work` undefined) or for one host's work that stops with its signal. */
  lane(work: HostWork | undefined): Lane {
    const signal = work ? AbortSignal.any([this.closing.signal, work.signal]) : this.closing.signal;
    const timers = this.sleepFn ? undefined : signal;
    const sleep = this.sleepFn ?? ((ms: number) => delay(ms, undefined, { signal: timers }));
    // Checked before sleeping: a default sleep started once stopped would reject unheard.
    const lanesSleep = (ms: number): Promise<void> => {
      const stopped = this.stopped("wait", work);
      return stopped ? Promise.reject(stopped) : this.untilStopped(sleep(ms), "wait", work);
    };
    // Every command the steps send goes through this gate: none leaves once the lane is stopped.
    const gate: SshPort = {
      exec: (target, command, opts) => {
        const stopped = this.stopped("command", work, target);
        return stopped ? Promise.reject(stopped) : this.ssh.exec(target, command, opts);
      },
      noteDeployed: (systemId) => this.ssh.noteDeployed(systemId),
      close: () => this.ssh.close(),
    };
    return {
      steps: new StepRunner(gate, this.logger, this.policy, lanesSleep),
      sleep: lanesSleep,
      ensureOpen: (step) => {
        const stopped = this.stopped(step, work);
        if (stopped) throw stopped;
      },
      until: (p, step) => this.untilStopped(p, step, work),
      signal,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const e = this.closedError("wait");
    for (const reject of this.waits) reject(e);
    this.waits.clear();
    this.closing.abort();
  }

  private closedError(step: string, host?: SshTarget): LayerError {
    return new LayerError("LAYER_STOPPED", { layer: "any", step, ...(host ? { systemId: host.systemId, hostname: host.hostname } : {}) }, "the layer engine was closed: the run that used it has ended");
  }

  /** LAYER_STOPPED once the engine is closed or, for a host's work, its signal aborted; else undefined. */
  private stopped(step: string, work: HostWork | undefined, target?: SshTarget): LayerError | undefined {
    if (this.closed) return this.closedError(step, target);
    if (work?.signal.aborted) return hostWorkStopped(step, work.host);
    return undefined;
  }

  /** `p`, or LAYER_STOPPED as soon as the engine is closed or the host's work aborted. */
  private untilStopped<T>(p: Promise<T>, step: string, work: HostWork | undefined): Promise<T> {
    const now = this.stopped(step, work);
    if (now) return Promise.reject(now);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.stopped(step, work));
      const done = () => {
        this.waits.delete(reject);
        work?.signal.removeEventListener("abort", onAbort);
      };
      this.waits.add(reject);
      work?.signal.addEventListener("abort", onAbort, { once: true });
      p.then(
        (v) => {
          done();
          resolve(v);
        },
        (e: unknown) => {
          done();
          reject(this.stopped(step, work) ?? e);
        },
      );
    });
  }
}

/** Runs `fn`s with the same key one at a time (in-process): a check-then-act on one Juju object at a time. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
