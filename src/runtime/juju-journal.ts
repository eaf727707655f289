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
import { IntentWindow } from "./call-journal.ts";
import { JUJU_OPERATION_PREFIX, isJujuOperation, readJujuChange, writeJujuChange } from "./documents/juju-change.ts";

export class StoreJujuJournal implements JujuJournal {
  private readonly store: Store;
  private readonly rolloutId: string;
  private readonly left: { id: number; change: JujuChange }[];
  private readonly window: IntentWindow;

  constructor(store: Store, rolloutId: string) {
    this.store = store;
    this.rolloutId = rolloutId;
    this.window = new IntentWindow(store);
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
    const params = writeJujuChange(c);
    return this.window.begin({ rolloutId: this.rolloutId, systemId: params.change.host?.systemId ?? "", operation: `${JUJU_OPERATION_PREFIX}${params.change.op}`, params });
  }

  end(id: number, outcome: JujuChangeOutcome, detail?: string): void {
    this.window.end(id, outcome, detail);
  }

  reconciled(id: number, tookEffect: boolean, detail: string): void {
    this.store.endCall(id, tookEffect ? "ok" : "error", detail);
  }
}
