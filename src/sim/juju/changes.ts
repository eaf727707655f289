/**
 * The record of changes the simulated Juju made (`/sim/stats` `juju`, docs/simulator.md):
 * counts per operation, and every object changed more than once. A deployer that resumes
 * after kill -9, or re-runs, must reconcile (read Juju, then act on what is missing), so
 * on a sound run `repeated` stays empty. Refused commands change nothing and are not
 * recorded.
 */
import type { JujuModel } from "./types.ts";

export type JujuChangeOp = "bootstrap" | "add-model" | "add-cloud" | "enable-ha" | "add-machine" | "remove-machine" | "deploy" | "add-unit" | "remove-unit" | "config" | "integrate" | "offer" | "consume" | "add-space" | "move-to-space";

/** How many changes of each kind were made, and every object changed more than once (`op model/object` → times). */
export interface JujuChangeStats {
  byOperation: Partial<Record<JujuChangeOp, number>>;
  repeated: Record<string, number>;
}

export class JujuChanges {
  private readonly byObject = new Map<string, number>();
  private readonly byOp = new Map<JujuChangeOp, number>();

  /** One change that took effect on `object` (qualified by its model when it has one). */
  note(op: JujuChangeOp, model: JujuModel | undefined, object: string): void {
    const key = `${op} ${model ? `${model.name}/` : ""}${object}`;
    this.byObject.set(key, (this.byObject.get(key) ?? 0) + 1);
    this.byOp.set(op, (this.byOp.get(op) ?? 0) + 1);
  }

  stats(): JujuChangeStats {
    return { byOperation: Object.fromEntries(this.byOp), repeated: Object.fromEntries([...this.byObject].filter(([, n]) => n > 1)) };
  }
}
