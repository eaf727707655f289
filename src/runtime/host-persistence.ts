/**
 * Saving host actors' snapshots to the store. A host changes about fifteen times on its way
 * to in service; its snapshot is not taken at each change but once per window: within
 * SAVE_WINDOW_MS of the first change since the last save (every host changed in the window
 * at once, one commit for them when one changed phase), and before each MAAS call a host
 * makes, its own (`saveHosts`, run by the call journal just before it commits the call's
 * write-ahead intent). So a host's record is never behind a request it made (the record
 * commits with the request's intent), and a phase change is on disk within SAVE_WINDOW_MS.
 * A resumed host may be behind by the changes of the last few milliseconds that no request
 * followed (a status it observed, a phase that ended), which its phase's own check-then-act
 * decisions cover, from the MAAS statuses read at resume.
 *
 * Why: taking, checking and serialising a snapshot at every change was 5-6 % of a
 * 10,000-machine run's CPU (docs/bench.md); at that scale an event-loop turn holds about one
 * MAAS answer, so a save per turn had been a save per event.
 */
import type { Actor, AnyActorLogic } from "xstate";
import type { Store } from "../store/index.ts";
import type { NodeStatusCode } from "../model/maas/status.ts";
import { topLevelPhase, type hostMachine } from "../../state-machines/host.ts";
import type { PlannedHost } from "./deployment-plan.ts";
import { isOutcome } from "./progress.ts";

type HostActor = Actor<typeof hostMachine>;
/** What XState's getPersistedSnapshot reads of an invoked child actor. */
type InvokedChild = Pick<Actor<AnyActorLogic>, "getPersistedSnapshot" | "src" | "systemId"> & { _syncSnapshot?: unknown };

/**
 * The host's persisted snapshot: what XState's `actor.getPersistedSnapshot()` returns (the
 * same keys, in the same order; test/runtime/host-persistence.test.ts compares the two at
 * every step of a host's life), without its deep walk of the context looking for actor
 * references to replace (a host's context, HostContext, is plain data and holds none).
 * That walk was the largest part of a save (2.4 s of a 10,000-machine run). The context is
 * not copied: the store serialises the snapshot before saveHost returns.
 */
export function persistedSnapshotOf(actor: HostActor): Record<string, unknown> {
  const snap = actor.getSnapshot();
  const children: Record<string, unknown> = {};
  // An invoked actor's own persisted form, as XState writes it (the actor's `_syncSnapshot` has no public name).
  for (const [id, child] of Object.entries(snap.children as Record<string, InvokedChild | undefined>)) {
    if (child) children[id] = { snapshot: child.getPersistedSnapshot(), src: child.src, systemId: child.systemId, syncSnapshot: child._syncSnapshot };
  }
  const history: Record<string, { id: string }[]> = {};
  for (const [key, nodes] of Object.entries((snap.historyValue ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(nodes)) history[key] = (nodes as { id: string }[]).map((n) => ({ id: n.id }));
  }
  return { status: snap.status, output: snap.output, error: snap.error, value: snap.value, historyValue: history, context: snap.context, children };
}

/** Changes are saved, and phase changes committed, this soon after they happen (or sooner: before the next MAAS call). */
export const SAVE_WINDOW_MS = 20;

export class HostPersistence {
  private readonly store: Store;
  private readonly rolloutId: string;
  private readonly planned: (systemId: string) => PlannedHost | undefined;
  /** Hosts whose snapshot changed since the last save. */
  private readonly dirty = new Map<string, HostActor>();
  /** The phase last written for each host, to commit phase changes soon. */
  private readonly savedPhase = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  /** A phase change was saved and is to be committed when the window's timer fires. */
  private phaseChanged = false;

  /** A MAAS status the runner observed for a host and has not told it yet (its latest), if any. */
  private readonly latestStatus: (systemId: string) => NodeStatusCode | undefined;

  constructor(store: Store, rolloutId: string, planned: (systemId: string) => PlannedHost | undefined, latestStatus: (systemId: string) => NodeStatusCode | undefined = () => undefined) {
    this.store = store;
    this.rolloutId = rolloutId;
    this.planned = planned;
    this.latestStatus = latestStatus;
  }

  /** A host restored from the store: its record already says `phase`. */
  restored(systemId: string, phase: string): void {
    this.savedPhase.set(systemId, phase);
  }

  /**
   * Marks a host's snapshot for saving within SAVE_WINDOW_MS (or before its next MAAS call). A host that has finished (its final snapshot) is saved
   * now: the runner stops it right after, and a stopped actor's snapshot is never saved.
   */
  changed(systemId: string, actor: HostActor): void {
    if (actor.getSnapshot().status !== "active") {
      this.dirty.delete(systemId);
      if (this.store.isOpen) this.save(systemId, actor);
    } else {
      this.dirty.set(systemId, actor);
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.saveChanged();
      if (this.phaseChanged && this.store.isOpen) {
        this.phaseChanged = false;
        this.store.flush();
      }
    }, SAVE_WINDOW_MS);
    // The runner saves and the store flushes what is left when a run ends: this timer must not hold the process.
    this.timer.unref();
  }

  /** Saves every host marked since the last save into the store's buffer (at once, e.g. before the run returns). */
  saveChanged(): void {
    // Hosts still finishing an abort after the run returned are saved while the caller
    // keeps the store open; once it has closed it, there is nothing left to save into.
    if (this.dirty.size === 0) return;
    if (!this.store.isOpen) {
      this.dirty.clear();
      return;
    }
    for (const [systemId, actor] of this.dirty) this.save(systemId, actor);
    this.dirty.clear();
  }

  /**
   * Saves these hosts' snapshots now if they changed since their last save: the call
   * journal runs this just before it commits their calls' write-ahead intents, so each
   * record commits with the intent of the request it is about to make.
   */
  saveHosts(systemIds: readonly string[]): void {
    if (!this.store.isOpen) return;
    for (const systemId of systemIds) {
      const actor = this.dirty.get(systemId);
      if (!actor) continue;
      this.dirty.delete(systemId);
      this.save(systemId, actor);
    }
  }

  /** Saves one host's snapshot into the store's buffer, noting a phase change since it was last saved. */
  private save(systemId: string, actor: HostActor): void {
    const snap = actor.getSnapshot();
    // A stopped actor (a held host at the run's end) was saved before it was stopped;
    // its "stopped" snapshot must never replace that record.
    if (snap.status === "stopped") return;
    const info = this.planned(systemId);
    const top = topLevelPhase(snap.value);
    const ctx = snap.context;
    const outcome = snap.status === "done" ? (snap.output?.outcome ?? (isOutcome(top) ? top : null)) : null;
    this.store.saveHost(this.rolloutId, {
      systemId,
      hostname: info?.hostname ?? ctx.hostname,
      wave: info?.wave ?? ctx.wave,
      roles: info?.roles ?? ctx.roles,
      phase: top,
      outcome,
      lastError: ctx.lastError,
      maasStatus: this.latestStatus(systemId) ?? ctx.maasStatus,
      snapshot: persistedSnapshotOf(actor),
    });
    if (this.savedPhase.get(systemId) === top) return;
    this.savedPhase.set(systemId, top);
    this.phaseChanged = true;
  }

  /** Saves what changed and commits it now (the run is ending). */
  flushNow(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.saveChanged();
    if (this.store.isOpen) this.store.flush();
  }
}
