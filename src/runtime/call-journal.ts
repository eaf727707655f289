/**
 * Write-ahead records of the state-changing MAAS calls a rollout makes. Before a
 * request is sent its intent is written to the store; after, its outcome. After
 * a crash, the calls begun and never ended are the ones whose outcome is
 * unknown: the host actors ask here before sending, and read the machine back
 * instead of repeating the call blindly.
 *
 * The intents asked for within BEGIN_WINDOW_MS of each other are written in one
 * transaction (a wave starting asks for hundreds at once; at 10,000 machines an event-loop
 * turn holds about one MAAS answer, so a commit per turn would still be one per call), and
 * each caller sends its request only once that transaction has committed: write-ahead
 * holds for every call, at the cost of a few milliseconds before a request (which, with
 * 200 hosts in flight and 4 requests to MAAS at a time, mostly waits in the client's
 * queue anyway) and one commit per window instead of one per call.
 */
import type { BeginCallInput, Store } from "../store/index.ts";
import { isJujuOperation } from "./documents/juju-change.ts";

/** How long the first intent of a batch waits for others before the batch is committed. */
export const BEGIN_WINDOW_MS = 5;

/**
 * The write-ahead half shared by the MAAS calls and the Juju changes (juju-journal.ts): the
 * intents asked for within BEGIN_WINDOW_MS are written in one transaction, each resolving
 * with its call id once committed; an end goes through the write-behind buffer.
 */
export class IntentWindow {
  private readonly store: Store;
  /** Calls begun by this process and not yet ended. */
  private readonly begun = new Map<number, BeginCallInput>();
  /** Intents asked for in this window, written together at its end. */
  private queued: { call: BeginCallInput; resolve: (id: number) => void; reject: (e: unknown) => void }[] = [];

  /** Runs just before a batch is written (the MAAS journal saves those hosts' snapshots into the same commit). */
  private readonly beforeWrite: ((calls: readonly BeginCallInput[]) => void) | undefined;

  constructor(store: Store, beforeWrite?: (calls: readonly BeginCallInput[]) => void) {
    this.store = store;
    this.beforeWrite = beforeWrite;
  }

  /** Resolves with the call's id once its intent is committed; rejects (and nothing may be sent) when the write fails. */
  begin(call: BeginCallInput): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.queued.length === 0) setTimeout(() => this.writeQueued(), BEGIN_WINDOW_MS);
      this.queued.push({ call, resolve, reject });
    });
  }

  private writeQueued(): void {
    const batch = this.queued;
    this.queued = [];
    let ids: number[];
    try {
      this.beforeWrite?.(batch.map((q) => q.call));
      ids = this.store.transaction(() => batch.map((q) => this.store.beginCall(q.call)));
    } catch (e) {
      for (const q of batch) q.reject(e);
      return;
    }
    batch.forEach((q, i) => {
      const id = ids[i] as number;
      this.begun.set(id, q.call);
      q.resolve(id);
    });
  }

  /** Buffered: the intent (begin) is what must be on disk before a request; the end may follow. */
  end(callId: number, outcome: "ok" | "error" | "unknown", detail?: string): void {
    const c = this.begun.get(callId);
    this.begun.delete(callId);
    if (!c) {
      this.store.endCall(callId, outcome, detail);
      return;
    }
    this.store.endCallLater({ callId, rolloutId: c.rolloutId, systemId: c.systemId, operation: c.operation }, outcome, detail);
  }
}

export class CallJournal {
  private readonly store: Store;
  private readonly rolloutId: string;
  /** `${systemId}/${op}` → id of a call left open by an earlier process. */
  private readonly open = new Map<string, number>();
  /** The parameters those open calls were begun with (what the machine looked like before). */
  private readonly openParams = new Map<number, unknown>();
  /**
   * `${systemId}/${op}` of the open calls settled as taken in this process: the runner settles
   * them before any host is restored, and a restored host whose first request is that call
   * must not send it again when the machine's status alone cannot show it ran.
   */
  private readonly takenOnResume = new Set<string>();
  private readonly window: IntentWindow;

  /** `beforeIntents` runs just before a batch of intents is written, with their hosts (the runner saves those hosts' snapshots into the same commit). */
  constructor(store: Store, rolloutId: string, beforeIntents?: (systemIds: readonly string[]) => void) {
    this.store = store;
    this.rolloutId = rolloutId;
    this.window = new IntentWindow(store, beforeIntents ? (calls) => beforeIntents(calls.map((c) => c.systemId)) : undefined);
    for (const c of store.openCalls(rolloutId)) {
      // Juju changes share the table; their journal is juju-journal.ts.
      if (!c.systemId || isJujuOperation(c.operation)) continue;
      this.open.set(`${c.systemId}/${c.operation}`, c.id);
      if (c.params !== undefined) this.openParams.set(c.id, c.params);
    }
  }

  /** Calls an earlier process began and never finished. */
  get unresolvedCount(): number {
    return this.open.size;
  }

  /** Every call left open by an earlier process: (call id, machine, operation). */
  unresolved(): { callId: number; systemId: string; op: string }[] {
    return [...this.open].map(([k, callId]) => {
      const i = k.lastIndexOf("/");
      return { callId, systemId: k.slice(0, i), op: k.slice(i + 1) };
    });
  }

  unknownOutcome(systemId: string, op: string): number | undefined {
    return this.open.get(`${systemId}/${op}`);
  }

  /** Whether an earlier process's `op` on the machine was settled as taken in this process (answered once). */
  tookEffectOnResume(systemId: string, op: string): boolean {
    return this.takenOnResume.delete(`${systemId}/${op}`);
  }

  /** The parameters an open call of an earlier process was begun with (undefined: none). */
  paramsOf(callId: number): unknown {
    return this.openParams.get(callId);
  }

  reconciled(callId: number, tookEffect: boolean): void {
    for (const [k, v] of this.open) {
      if (v !== callId) continue;
      this.open.delete(k);
      if (tookEffect) this.takenOnResume.add(k);
    }
    this.openParams.delete(callId);
    this.store.endCall(callId, tookEffect ? "ok" : "error", `reconciled after restart: ${tookEffect ? "it had taken effect" : "it had not taken effect"}`);
  }

  /**
   * Writes the intent of a call ahead of its request; resolves with the call's id once it is
   * committed (with the other intents of this turn), so the request may then be sent. Rejects,
   * and nothing may be sent, when the write fails.
   */
  begin(systemId: string, op: string, params?: Record<string, unknown>): Promise<number> {
    return this.window.begin({ rolloutId: this.rolloutId, systemId, operation: op, ...(params !== undefined ? { params } : {}) });
  }

  /** Buffered: the intent (begin) is what must be on disk before a request; the end may follow. */
  end(callId: number, outcome: "ok" | "error" | "unknown", detail?: string): void {
    this.window.end(callId, outcome, detail);
  }
}
