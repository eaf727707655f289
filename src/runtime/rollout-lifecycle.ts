/**
 * A run's state as its rollout machine reports it (running, paused, completed, aborted; the
 * current wave; whether the actor still takes events), recorded as it changes: the store's
 * status, the journal and the log. The runner (rollout-runner.ts) reads it for progress and
 * to decide when the run is over (`changed`).
 */
import type { Actor } from "xstate";
import type { Logger } from "pino";
import type { Store } from "../store/index.ts";
import type { rolloutMachine } from "../../state-machines/rollout.ts";
import type { RolloutState } from "./progress.ts";

export class RunState {
  state: RolloutState = "running";
  pauseReason: string | undefined;
  /** The wave last started. */
  wave = 0;
  /**
   * The rollout actor takes events: false before it starts and from the moment it reaches
   * a final state or is stopped. Hosts still finishing an abort after that have nowhere to
   * report to, and their events are dropped rather than sent to a stopped actor.
   */
  live = false;
  private readonly o: { store: Store; rolloutId: () => string; journal: (data: Record<string, unknown>) => void; log: Logger; changed: () => void };

  constructor(o: RunState["o"]) {
    this.o = o;
  }

  /** Records what the rollout machine says, from now on. */
  follow(r: Actor<typeof rolloutMachine>): void {
    const { store, journal, log } = this.o;
    const status = (s: "running" | "paused" | "completed" | "aborted", reason?: string) => store.setRolloutStatus(this.o.rolloutId(), s, reason);
    r.on("rollout.waveStarted", (e) => {
      this.wave = e.wave;
      journal({ event: "waveStarted", wave: e.wave, size: e.size });
      log.info({ wave: e.wave, size: e.size }, "wave started");
    });
    r.on("rollout.waveSettled", (e) => journal({ event: "waveSettled", wave: e.wave, counts: e.counts }));
    r.on("rollout.paused", (e) => {
      [this.state, this.pauseReason] = ["paused", e.reason];
      status("paused", e.reason);
      journal({ event: "paused", reason: e.reason, counts: e.counts });
      log.warn({ reason: e.reason, counts: e.counts }, "rollout paused");
      this.o.changed();
    });
    r.on("rollout.resumed", () => {
      [this.state, this.pauseReason] = ["running", undefined];
      status("running");
      journal({ event: "resumed" });
    });
    r.on("rollout.completed", (e) => {
      [this.live, this.state] = [false, "completed"];
      status("completed");
      journal({ event: "completed", counts: e.counts });
      this.o.changed();
    });
    r.on("rollout.aborted", (e) => {
      [this.live, this.state] = [false, "aborted"];
      status("aborted", e.reason);
      journal({ event: "aborted", reason: e.reason });
      this.o.changed();
    });
  }
}
