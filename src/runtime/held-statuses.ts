/**
 * The MAAS statuses a host machine only records, held back per host and told to it just
 * before its next step (issue 12: a macrostep per observed status was most of a host's
 * XState cost, and those statuses change nothing but `context.maasStatus`).
 *
 * A status in STATUSES_THAT_MOVE_A_HOST (state-machines/host.ts: the statuses its
 * MAAS_STATUS guards name) is sent at once. Any other is held: the latest one per host is
 * sent before every other event the runner sends the host (`send`), before each of its
 * steps' results (host-actors.ts, `beforeResult`) and before each of its delays fires (the
 * actor's clock, `clockFor`). So every decision the host takes reads the status MAAS reports
 * now, as when every status was an event; meanwhile its record reads the held one (`held`).
 */
import type { Actor } from "xstate";
import type { NodeStatusCode } from "../model/maas/status.ts";
import { STATUSES_THAT_MOVE_A_HOST, type HostEvent, type hostMachine } from "../../state-machines/host.ts";

type HostActor = Actor<typeof hostMachine>;

const MOVES_A_HOST: ReadonlySet<number> = new Set(STATUSES_THAT_MOVE_A_HOST);

/** XState's clock (createActor's `clock` option). */
export interface ActorClock {
  setTimeout: (fn: (...args: unknown[]) => void, ms: number) => unknown;
  clearTimeout: (id: unknown) => void;
}

export class HeldStatuses {
  private readonly untold = new Map<string, { status: NodeStatusCode; message: string | null }>();
  private readonly hosts: ReadonlyMap<string, HostActor>;
  private readonly onHeld: (systemId: string, actor: HostActor) => void;

  /**
   * `hosts`: the runner's live host actors (read on every call). `onHeld`: a status was held
   * for this host (its record, which reads `held`, is to be saved again).
   */
  constructor(hosts: ReadonlyMap<string, HostActor>, onHeld: (systemId: string, actor: HostActor) => void = () => undefined) {
    this.hosts = hosts;
    this.onHeld = onHeld;
  }

  /** An observed status for a host: sent, or held back. Returns true when it was held. */
  observed(systemId: string, status: NodeStatusCode, message: string | null): boolean {
    const actor = this.hosts.get(systemId);
    // A settled host (stopped a microtask after) takes no more statuses; none is held for it, as
    // every way to settling passes a step that tells it (or an end status that supersedes it).
    if (!actor || actor.getSnapshot().status !== "active") return false;
    if (!MOVES_A_HOST.has(status)) {
      this.untold.set(systemId, { status, message });
      this.onHeld(systemId, actor);
      return true;
    }
    // The held one is told first only where it matters: the host's own status equals this one
    // (Ready after a release, Commissioning held back, then Ready again), so without it the
    // host would take this one for a repeat. Otherwise this one supersedes it.
    const held = this.untold.get(systemId);
    this.untold.delete(systemId);
    if (held && actor.getSnapshot().context.maasStatus === status) actor.send(statusEvent(held.status, held.message));
    actor.send(statusEvent(status, message));
    return false;
  }

  /** The status held back for a host, if any: its current one. */
  held(systemId: string): NodeStatusCode | undefined {
    return this.untold.get(systemId)?.status;
  }

  /** Tells a host the status held back for it, if any (just before its next step). */
  tell(systemId: string): void {
    const held = this.untold.get(systemId);
    if (!held) return;
    this.untold.delete(systemId);
    this.hosts.get(systemId)?.send(statusEvent(held.status, held.message));
  }

  /** Sends a host an event, the status held back for it first. */
  send(systemId: string, event: HostEvent): void {
    const actor = this.hosts.get(systemId);
    if (!actor) return;
    this.tell(systemId);
    actor.send(event);
  }

  /** A host actor's clock (its back-offs and timeouts): the held status is told before a delay's event. */
  clockFor(systemId: string): ActorClock {
    return {
      setTimeout: (fn, ms) =>
        setTimeout(() => {
          this.tell(systemId);
          fn();
        }, ms),
      clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
    };
  }
}

function statusEvent(status: NodeStatusCode, message: string | null): HostEvent {
  return { type: "MAAS_STATUS", status, ...(message ? { message } : {}) };
}
