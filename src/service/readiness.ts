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

/** Several regions: one region's answer to the probe. */
export interface RegionAnswer {
  region: string;
  ok: boolean;
  error: { code: string; message: string } | null;
}

/** What a probe learnt beyond "it answered": with several regions, each region's answer. */
export interface ProbeAnswer {
  regions?: readonly RegionAnswer[];
}

export interface ProbeResult {
  /** MAAS answers; with several regions, at least one region does (a run goes on in those). */
  ok: boolean;
  /** When the probe ended (ISO). */
  checkedAt: string;
  latencyMs: number;
  /** The failure's code (MAAS_NETWORK, MAAS_AUTH, ...) and message; never a secret (the MAAS client redacts its key). */
  error: { code: string; message: string } | null;
  /** Several regions: each region's answer (`metalwave_region_up`, `/readyz`'s `checks.maas.regions`). */
  regions?: RegionAnswer[];
}

export interface ReadinessOptions {
  /**
   * One cheap authenticated MAAS call (whoami): reachable and accepting the key. With several
   * regions it answers each region's result and throws only when none answers.
   */
  probeMaas: () => Promise<ProbeAnswer>;
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
      let regions: RegionAnswer[] | undefined;
      try {
        const answer = await this.o.probeMaas();
        if (answer.regions) regions = [...answer.regions];
      } catch (e) {
        error = e instanceof MetalwaveError ? { code: e.code, message: e.message } : { code: "MAAS_UNREACHABLE", message: e instanceof Error ? e.message : String(e) };
      }
      const t1 = this.now();
      const result: ProbeResult = { ok: error === null, checkedAt: new Date(t1).toISOString(), latencyMs: Math.max(0, t1 - t0), error, ...(regions ? { regions } : {}) };
      const downNow = (r: ProbeResult | undefined) => (r?.regions ?? []).filter((a) => !a.ok).map((a) => a.region).join(",");
      if (result.ok && downNow(result) !== downNow(this.last) && downNow(result) !== "") {
        this.o.logger.warn({ regions: result.regions?.filter((a) => !a.ok).map((a) => ({ region: a.region, code: a.error?.code })) }, "MAAS regions unreachable: the service stays ready with the others");
      }
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
