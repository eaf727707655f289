/**
 * The runtime's side of several regions: one status observer per region (each region's
 * events feed has its own cursor, and a region that does not answer must not stall the
 * others' polling), and the wiring of each region's availability to the rollout machine
 * (REGION_DOWN / REGION_UP) and the journal. With one region none of this is used: the
 * runner keeps its single StatusObserver. docs/architecture.md, "Several regions".
 */
import type { Logger } from "pino";
import type { MachineState, MaasPort } from "../maas/port.ts";
import type { NodeStatusCode } from "../model/maas/status.ts";
import { RegionsMaas } from "../maas/regions.ts";
import type { RegionChange } from "../maas/region-link.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";
import type { RolloutEvent } from "../../state-machines/rollout.ts";
import { StatusObserver, type ObserverOptions, type StatusChange } from "./observer.ts";

/** What the runner and the host actors use of an observer. */
export type StatusObserving = Pick<StatusObserver, "start" | "stop" | "watch" | "unwatch" | "note" | "poke" | "commissioningResultId">;

/** The regions behind a port, or undefined for a single region. */
export function regionsOf(maas: MaasPort): RegionsMaas | undefined {
  return maas instanceof RegionsMaas && maas.links.size > 1 ? maas : undefined;
}

/** One StatusObserver per region, addressed by the host key's region. */
export class RegionObservers implements StatusObserving {
  private readonly byRegion = new Map<string, StatusObserver>();
  /** Regions whose observer was started (once each). */
  private readonly started = new Set<string>();

  constructor(maas: RegionsMaas, onChange: (c: StatusChange) => void, opts: ObserverOptions) {
    for (const name of maas.names) {
      this.byRegion.set(name, new StatusObserver(maas.only(name), onChange, { ...opts, ...(opts.logger ? { logger: opts.logger.child({ region: name }) } : {}) }));
    }
  }

  private of(key: string): StatusObserver | undefined {
    const r = regionOfKey(key);
    return r === null ? undefined : this.byRegion.get(r);
  }

  /**
   * Fixes every region's cursor (regions in parallel: one that is down holds only itself),
   * but those in `later`: their observers start with startRegion, once they answer.
   */
  async start(later: readonly string[] = []): Promise<void> {
    const now = [...this.byRegion].filter(([name]) => !later.includes(name));
    for (const [name] of now) this.started.add(name);
    await Promise.all(now.map(([, o]) => o.start()));
  }
  /** Fixes one region's cursor and starts its polling (a region that was down when the run started). */
  async startRegion(name: string): Promise<void> {
    if (this.started.has(name)) return;
    this.started.add(name);
    await this.byRegion.get(name)?.start();
  }
  async stop(): Promise<void> {
    await Promise.all([...this.byRegion.values()].map((o) => o.stop()));
  }
  watch(key: string, known?: NodeStatusCode): void {
    this.of(key)?.watch(key, known);
  }
  unwatch(key: string): void {
    this.of(key)?.unwatch(key);
  }
  note(machine: MachineState): void {
    this.of(machine.system_id)?.note(machine);
  }
  poke(key: string): void {
    this.of(key)?.poke(key);
  }
  commissioningResultId(key: string): number | null | undefined {
    return this.of(key)?.commissioningResultId(key);
  }
}

/**
 * Each region's availability as the runner needs it: journaled (`regionDown` / `regionUp`),
 * told to the rollout machine (REGION_DOWN / REGION_UP), logged, and the progress redrawn.
 * Returns what stops following.
 */
export function followRegions(
  maas: RegionsMaas,
  to: {
    journal: (data: Record<string, unknown>) => void;
    send: (e: RolloutEvent) => void;
    changed: () => void;
    /**
     * What a region back needs before its hosts go on (a region down when the run started:
     * its reads and checks, src/runtime/region-catchup.ts); REGION_UP is told once it is done.
     * Undefined when there is nothing to do.
     */
    catchUp?: (region: string) => Promise<void> | undefined;
    failed?: (e: unknown) => void;
  },
  log: Logger,
): () => void {
  const up = (region: string) => {
    const pending = to.catchUp?.(region);
    if (!pending) return to.send({ type: "REGION_UP", region });
    pending.then(
      () => {
        to.send({ type: "REGION_UP", region });
        to.changed();
      },
      (e: unknown) => to.failed?.(e),
    );
  };
  const offs = [...maas.links.values()].map((link) =>
    link.onChange((c: RegionChange) => {
      if (c.up) {
        const downForMs = Math.round(c.downForMs);
        log.info({ region: c.region, downForMs }, "region answers again: its hosts go on");
        to.journal({ event: "regionUp", region: c.region, downForMs });
        up(c.region);
      } else {
        log.warn({ region: c.region, reason: c.reason }, "region does not answer: its hosts wait (not counted as failures)");
        to.journal({ event: "regionDown", region: c.region, reason: c.reason });
        to.send({ type: "REGION_DOWN", region: c.region });
      }
      to.changed();
    }),
  );
  // A region found down before the runner followed (while it fixed the events cursors or
  // read the hosts back on a resume) is down for the rollout too: its hosts wait from the start.
  for (const link of maas.links.values()) {
    const outage = link.outage;
    if (!outage) {
      // Found down when the run started and back before this: it catches up now.
      if (to.catchUp) {
        const pending = to.catchUp(link.name);
        if (pending) {
          log.info({ region: link.name }, "region answers again: its hosts go on");
          up(link.name);
        }
      }
      continue;
    }
    log.warn({ region: link.name, reason: outage.reason }, "region does not answer: its hosts wait (not counted as failures)");
    to.journal({ event: "regionDown", region: link.name, reason: outage.reason });
    to.send({ type: "REGION_DOWN", region: link.name });
    to.changed();
  }
  return () => offs.forEach((off) => off());
}

/** The regions currently down, by name (for progress, status and metrics). */
export function regionsDown(maas: MaasPort): string[] {
  const r = regionsOf(maas);
  return r ? [...r.links.values()].filter((l) => !l.isUp).map((l) => l.name) : [];
}
