/**
 * Coalesces "put machine X on tag T" requests from many host actors into one
 * `update_nodes` call per tag per short window, so tagging a wave of a thousand
 * machines costs O(tags) requests, not O(machines). Each caller's promise
 * settles with the outcome of the call that carried its machine.
 */
import type { MaasPort } from "../maas/port.ts";

interface Pending {
  ids: Set<string>;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  timer: NodeJS.Timeout | undefined;
}

export interface TagBatcherOptions {
  /** How long to wait for more machines before sending. */
  windowMs?: number;
  /** Send at once when this many machines are waiting on one tag. */
  maxBatch?: number;
}

export class TagBatcher {
  private readonly maas: MaasPort;
  private readonly windowMs: number;
  private readonly maxBatch: number;
  private readonly pending = new Map<string, Pending>();
  /** Calls made, for summaries and tests. */
  calls = 0;

  constructor(maas: MaasPort, opts: TagBatcherOptions = {}) {
    this.maas = maas;
    this.windowMs = opts.windowMs ?? 50;
    this.maxBatch = opts.maxBatch ?? 500;
  }

  /** Resolves once `systemId` carries every tag in `tags`. */
  add(systemId: string, tags: readonly string[]): Promise<void> {
    return Promise.all(tags.map((t) => this.addOne(systemId, t))).then(() => undefined);
  }

  private addOne(systemId: string, tag: string): Promise<void> {
    let p = this.pending.get(tag);
    if (!p) {
      p = { ids: new Set(), waiters: [], timer: undefined };
      this.pending.set(tag, p);
    }
    const entry = p;
    entry.ids.add(systemId);
    const done = new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }));
    if (entry.ids.size >= this.maxBatch) this.flush(tag);
    else if (!entry.timer) {
      entry.timer = setTimeout(() => this.flush(tag), this.windowMs);
      entry.timer.unref?.();
    }
    return done;
  }

  private flush(tag: string): void {
    const p = this.pending.get(tag);
    if (!p) return;
    this.pending.delete(tag);
    if (p.timer) clearTimeout(p.timer);
    this.calls++;
    this.maas.updateTagNodes(tag, { add: [...p.ids] }).then(
      () => p.waiters.forEach((w) => w.resolve()),
      (e: unknown) => p.waiters.forEach((w) => w.reject(e)),
    );
  }
}
