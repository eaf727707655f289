/**
 * A region that is down when a resumed run starts holds only its own hosts. The run asks
 * every region first (RegionLink.answers); the regions that answer are read, checked and
 * their hosts restored at once, while each region that does not is deferred: its events
 * cursor, its hosts' statuses, its unresolved calls, its tags and its user check wait until
 * it answers again, and its hosts in flight are restored only then (the rollout machine
 * knows it down from its input, so none of its hosts starts either). Nothing of this is
 * stored: the deferred hosts keep their records as they were, so a kill -9 while the region
 * is still away resumes the same way. docs/architecture.md, "Several regions".
 */
import type { Logger } from "pino";
import type { MaasPort } from "../maas/port.ts";
import { RegionsError, RegionsMaas } from "../maas/regions.ts";
import { regionOfKey } from "../../state-machines/rollout/regions.ts";

/** Which regions answer now, asked in parallel (one that is away costs its client's retries, once). */
export async function regionsAnsweringNow(maas: RegionsMaas): Promise<{ up: string[]; down: string[] }> {
  const answers = await Promise.all([...maas.links.values()].map(async (l) => ({ name: l.name, up: await l.answers() })));
  return { up: answers.filter((a) => a.up).map((a) => a.name), down: answers.filter((a) => !a.up).map((a) => a.name) };
}

/**
 * Refuses to plan while a region is away: a plan reads every region's machines, tags and
 * network, and a region that does not answer has none to give (its hosts would be left out
 * of the plan, or the plan would wait for it). Named, at once, instead of waited for. A
 * resume needs no plan (the stored one), only the regions that answer.
 */
export async function refuseRegionsAway(maas: MaasPort, what: string): Promise<void> {
  if (!(maas instanceof RegionsMaas) || maas.links.size < 2) return;
  const { down } = await regionsAnsweringNow(maas);
  if (down.length === 0) return;
  const why = down.map((r) => `region ${r}${maas.links.get(r)?.outage ? ` (${maas.links.get(r)?.outage?.reason})` : ""}`).join("; ");
  throw new RegionsError(
    "REGIONS_UNREACHABLE",
    `${what} needs every region's machines, and ${down.length === 1 ? "a region does" : `${down.length} regions do`} not answer: ${why}. Plan again once it answers; a new rollout starts the regions that answer and plans this one once it does, and a rollout already started resumes (--resume) with the regions that answer`,
  );
}

/** A region's key must act as the same MAAS user as the others' (REGIONS_USER_MISMATCH otherwise). */
export async function checkRegionUser(only: MaasPort, region: string, me: string): Promise<void> {
  const user = (await only.whoami()).username;
  if (user !== me) throw new RegionsError("REGIONS_USER_MISMATCH", `region ${region}'s API key acts as MAAS user ${user}, the other regions' as ${me}: every region's key must be the same user's`);
}

/** The deferred regions of one run and, once each answers, its catch-up (run once). */
export class DeferredRegions<H extends { record: { systemId: string } }> {
  private readonly pending = new Map<string, H[]>();
  private readonly running = new Map<string, Promise<void>>();

  private readonly log: Logger;

  constructor(names: readonly string[], log: Logger) {
    this.log = log;
    for (const n of names) this.pending.set(n, []);
  }

  /** The regions deferred at the start (caught up or not). */
  get names(): string[] {
    return [...new Set([...this.pending.keys(), ...this.running.keys()])];
  }

  /** Defers one more region (a region the stored plan has not planned yet, answering or not). */
  defer(name: string): void {
    if (!this.pending.has(name) && !this.running.has(name)) this.pending.set(name, []);
  }

  /** Whether a host's region is deferred and not caught up yet. */
  has(key: string): boolean {
    const r = regionOfKey(key);
    return r !== null && this.pending.has(r);
  }

  /** Keeps a host (a restorable one) for its region's catch-up. */
  hold(host: H): void {
    const r = regionOfKey(host.record.systemId);
    if (r !== null) this.pending.get(r)?.push(host);
  }

  /** Hosts held, over every deferred region not caught up yet. */
  get waiting(): number {
    let n = 0;
    for (const hs of this.pending.values()) n += hs.length;
    return n;
  }

  /** The hosts held per deferred region (for the journal). */
  held(region: string): readonly H[] {
    return this.pending.get(region) ?? [];
  }

  /**
   * The region's catch-up, started once (later calls get the same promise); undefined for a
   * region that was not deferred. `catchUp` gets the region's held hosts; once it resolves
   * the region is no longer deferred.
   */
  catchUp(region: string, catchUp: (region: string, hosts: H[]) => Promise<void>): Promise<void> | undefined {
    const already = this.running.get(region);
    if (already) return already;
    const hosts = this.pending.get(region);
    if (!hosts) return undefined;
    this.log.info({ region, hosts: hosts.length }, "region answers: reading it and restoring (or planning) its hosts");
    const p = catchUp(region, hosts).then(() => {
      this.pending.delete(region);
    });
    this.running.set(region, p);
    return p;
  }
}
