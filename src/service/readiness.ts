/**
 * Readiness: whether the service can do its work now, beside liveness (`/healthz`,
 * the process answers). Its one outside dependency is the MAAS region; it is probed in
 * the background (and again when `/readyz` finds the last probe stale), so a scrape of
 * `metalwave_maas_up` or a readiness check never waits on MAAS longer than one probe.
 * The store is the process's own (a failing store fails the request that reads it).
 */
import type { Logger } from "pino";
import { MetalwaveError } from "../errors.ts";
import { systemClock, type Clock } from "../clock.ts";

/** A standby does not probe MAAS: only the leader talks to it (src/service/leader.ts). */
export class StandbyProbe extends MetalwaveError<"STANDBY"> {
  readonly code = "STANDBY" as const;
  constructor() {
    super("this metalwave is a standby: only the leader talks to MAAS");
  }
}

export interface ProbeResult {
  ok: boolean;
  /** When the probe ended (ISO). */
  checkedAt: string;
  latencyMs: number;
  /** The failure's code (MAAS_NETWORK, MAAS_AUTH, ...) and message; never a secret (the MAAS client redacts its key). */
  error: { code: string; message: string } | null;
}

export interface ReadinessOptions {
  /** One cheap authenticated MAAS call (whoami): reachable and accepting the key. */
  probeMaas: () => Promise<unknown>;
  /** Time between background probes; a `/readyz` after a longer silence probes again. */
  intervalMs: number;
  logger: Logger;
  /** Stamps and times the probes (src/clock.ts). Default: the system clock. */
  clock?: Clock;
}

export class Readiness {
  private readonly o: ReadinessOptions;
  private readonly now: () => number;
  private last: ProbeResult | undefined;
  private inFlight: Promise<ProbeResult> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(o: ReadinessOptions) {
    this.o = o;
    const clock = o.clock ?? systemClock;
    this.now = () => clock.wallNow();
  }

  /** The last probe's result (undefined before the first has ended). */
  get maas(): ProbeResult | undefined {
    return this.last;
  }

  /** Probes now and then every `intervalMs` until `stop`. */
  start(): void {
    if (this.timer) return;
    void this.probe();
    this.timer = setInterval(() => void this.probe(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last result if it is fresher than the interval, else a new probe's. */
  async current(): Promise<ProbeResult> {
    const last = this.last;
    if (last && this.now() - Date.parse(last.checkedAt) < this.o.intervalMs) return last;
    return this.probe();
  }

  /** One probe at a time: callers during a probe share its result. */
  probe(): Promise<ProbeResult> {
    this.inFlight ??= (async () => {
      const t0 = this.now();
      let error: ProbeResult["error"] = null;
      try {
        await this.o.probeMaas();
      } catch (e) {
        error = e instanceof MetalwaveError ? { code: e.code, message: e.message } : { code: "MAAS_UNREACHABLE", message: e instanceof Error ? e.message : String(e) };
      }
      const t1 = this.now();
      const result: ProbeResult = { ok: error === null, checkedAt: new Date(t1).toISOString(), latencyMs: Math.max(0, t1 - t0), error };
      if (result.ok !== this.last?.ok || error?.code !== this.last?.error?.code) {
        if (result.ok) this.o.logger.info({ latencyMs: result.latencyMs }, "MAAS reachable");
        else this.o.logger.warn({ code: error?.code, err: error?.message }, "MAAS unreachable: the service is not ready");
      }
      this.last = result;
      return result;
    })().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }
}
