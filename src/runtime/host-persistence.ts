/**
 * Saving host actors' snapshots to the store. Hosts change many times per event-loop turn
 * (a burst of statuses, a wave starting); their snapshots are taken and saved once per
 * turn, and one commit covers every phase change of the turn. A phase change goes to disk
 * at once, so a resumed host may be behind only within its phase, which its phase's own
 * decisions (and the call journal) cover.
 */
import type { Actor } from "xstate";
import type { Store } from "../store/index.ts";
import { topLevelPhase, type hostMachine } from "../../state-machines/host.ts";
import type { PlannedHost } from "./deployment-plan.ts";
import { isOutcome } from "./progress.ts";

type HostActor = Actor<typeof hostMachine>;

export class HostPersistence {
  private readonly store: Store;
  private readonly rolloutId: string;
  private readonly planned: (systemId: string) => PlannedHost | undefined;
  /** Hosts whose snapshot changed since the last save. */
  private readonly dirty = new Map<string, HostActor>();
  private scheduled = false;
  /** The phase last written for each host, to flush phase changes at once. */
  private readonly savedPhase = new Map<string, string>();

  constructor(store: Store, rolloutId: string, planned: (systemId: string) => PlannedHost | undefined) {
    this.store = store;
    this.rolloutId = rolloutId;
    this.planned = planned;
  }

  /** A host restored from the store: its record already says `phase`. */
  restored(systemId: string, phase: string): void {
    this.savedPhase.set(systemId, phase);
  }

  /** Marks a host's snapshot for saving at the end of this event-loop turn. */
  changed(systemId: string, actor: HostActor): void {
    this.dirty.set(systemId, actor);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.saveChanged());
  }

  /** Saves every host marked since the last save (at once, e.g. before the run returns). */
  saveChanged(): void {
    this.scheduled = false;
    // Hosts still finishing an abort after the run returned are saved while the caller
    // keeps the store open; once it has closed it, there is nothing left to save into.
    if (this.dirty.size === 0) return;
    if (!this.store.isOpen) {
      this.dirty.clear();
      return;
    }
    let phaseChanged = false;
    for (const [systemId, actor] of this.dirty) {
      const snap = actor.getSnapshot();
      // A stopped actor (a held host at the run's end) was saved before it was stopped;
      // its "stopped" snapshot must never replace that record.
      if (snap.status === "stopped") continue;
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
        maasStatus: ctx.maasStatus,
        snapshot: actor.getPersistedSnapshot(),
      });
      if (this.savedPhase.get(systemId) !== top) {
        this.savedPhase.set(systemId, top);
        phaseChanged = true;
      }
    }
    this.dirty.clear();
    if (phaseChanged) this.store.flush();
  }
}
