/**
 * Saving host actors' snapshots to the store. Hosts change many times per event-loop turn
 * (a burst of statuses, a wave starting); their snapshots are taken and saved once per
 * turn. Phase changes are committed within PHASE_FLUSH_MS, one commit for all of them
 * (at 10,000 machines a turn holds about one MAAS answer, so a commit per turn was a
 * commit per phase change: 7 s of a 10,000-machine profile), and in any case before the
 * next MAAS call of any host: a call's write-ahead intent commits everything buffered
 * before it. So a host's record is never behind a request it made; a resumed host may be
 * behind by the phase changes of the last few milliseconds that no request followed
 * (a status it observed, a phase that ended), which its phase's own check-then-act
 * decisions cover, from the MAAS statuses read at resume.
 */
import type { Actor } from "xstate";
import type { Store } from "../store/index.ts";
import { topLevelPhase, type hostMachine } from "../../state-machines/host.ts";
import type { PlannedHost } from "./deployment-plan.ts";
import { isOutcome } from "./progress.ts";

type HostActor = Actor<typeof hostMachine>;

/** Phase changes are on disk this soon after they happen (or sooner: before the next MAAS call). */
export const PHASE_FLUSH_MS = 20;

export class HostPersistence {
  private readonly store: Store;
  private readonly rolloutId: string;
  private readonly planned: (systemId: string) => PlannedHost | undefined;
  /** Hosts whose snapshot changed since the last save. */
  private readonly dirty = new Map<string, HostActor>();
  private scheduled = false;
  /** The phase last written for each host, to commit phase changes soon. */
  private readonly savedPhase = new Map<string, string>();
  private flushTimer: NodeJS.Timeout | undefined;

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
    if (phaseChanged && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        if (this.store.isOpen) this.store.flush();
      }, PHASE_FLUSH_MS);
      // The runner saves and the store flushes what is left when a run ends: this timer must not hold the process.
      this.flushTimer.unref();
    }
  }

  /** Commits the phase changes saved so far now (the run is ending). */
  flushNow(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.store.isOpen) this.store.flush();
  }
}
