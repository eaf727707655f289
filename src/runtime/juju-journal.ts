/**
 * The Juju changes' write-ahead journal (src/layers/juju-journal.ts) in the rollout's store:
 * each intent is a row of the store's table of external calls with the operation `juju.<op>`
 * and the versioned change document (documents/juju-change.ts) as its parameters, so it has
 * the MAAS calls' guarantees on both backends: `beginCall` is written through (committed
 * before the change is sent), the end may be buffered (a lost end leaves the intent open,
 * which the next resume reconciles by reading Juju), and `openCalls` lists what a crash left.
 * The intents asked for within BEGIN_WINDOW_MS of each other are committed together, as the
 * MAAS calls' are (many hosts enlisting at once).
 */
import type { JujuChange, JujuChangeOutcome, JujuJournal } from "../layers/index.ts";
import type { Store } from "../store/index.ts";
import { BEGIN_WINDOW_MS } from "./call-journal.ts";
import { JUJU_OPERATION_PREFIX, isJujuOperation, readJujuChange, writeJujuChange } from "./documents/juju-change.ts";

export class StoreJujuJournal implements JujuJournal {
  private readonly store: Store;
  private readonly rolloutId: string;
  private readonly left: { id: number; change: JujuChange }[];
  private readonly begun = new Map<number, { systemId: string; operation: string }>();
  private queued: { c: JujuChange; resolve: (id: number) => void; reject: (e: unknown) => void }[] = [];

  constructor(store: Store, rolloutId: string) {
    this.store = store;
    this.rolloutId = rolloutId;
    // Read (and checked) at once: an intent this build cannot read stops the resume here.
    this.left = store
      .openCalls(rolloutId)
      .filter((c) => isJujuOperation(c.operation))
      .map((c) => ({ id: c.id, change: readJujuChange(c.params, `Juju change ${c.id} (${c.operation})`, { rolloutId, systemId: c.systemId }) }));
  }

  open(): readonly { id: number; change: JujuChange }[] {
    return this.left;
  }

  begin(c: JujuChange): Promise<number> {
    const doc = writeJujuChange(c);
    return new Promise((resolve, reject) => {
      if (this.queued.length === 0) setTimeout(() => this.writeQueued(), BEGIN_WINDOW_MS);
      this.queued.push({ c: doc.change, resolve, reject });
    });
  }

  private writeQueued(): void {
    const batch = this.queued;
    this.queued = [];
    let ids: number[];
    try {
      ids = this.store.transaction(() => batch.map((q) => this.store.beginCall({ rolloutId: this.rolloutId, systemId: q.c.host?.systemId ?? "", operation: `${JUJU_OPERATION_PREFIX}${q.c.op}`, params: writeJujuChange(q.c) })));
    } catch (e) {
      for (const q of batch) q.reject(e);
      return;
    }
    batch.forEach((q, i) => {
      const id = ids[i] as number;
      this.begun.set(id, { systemId: q.c.host?.systemId ?? "", operation: `${JUJU_OPERATION_PREFIX}${q.c.op}` });
      q.resolve(id);
    });
  }

  end(id: number, outcome: JujuChangeOutcome, detail?: string): void {
    const b = this.begun.get(id);
    this.begun.delete(id);
    if (b === undefined) {
      this.store.endCall(id, outcome, detail);
      return;
    }
    this.store.endCallLater({ callId: id, rolloutId: this.rolloutId, ...b }, outcome, detail);
  }

  reconciled(id: number, tookEffect: boolean, detail: string): void {
    this.store.endCall(id, tookEffect ? "ok" : "error", detail);
  }
}
