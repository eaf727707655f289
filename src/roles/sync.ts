/**
 * Applies a role plan's tag changes to MAAS through the port: creates missing tags,
 * sends one `update_nodes` per changed tag (the client splits it into batches of
 * 500), then adds and removes block-device tags. It refuses, before any call, a
 * change to a tag metalwave does not own or one MAAS manages by XPath. A plan
 * computed after a successful sync has no changes, so a second sync makes no calls.
 * When a call fails part-way, the RolesError lists what was done and what was not.
 */
import type { MaasPort } from "../maas/port.ts";
import { RolesError, type SyncStep } from "./errors.ts";
import type { RolePlan } from "./types.ts";

export interface SyncOptions {
  /** Block-device tag calls in flight at once (the client's own limiter still applies). */
  blockDeviceConcurrency?: number;
}

export interface SyncResult {
  created: string[];
  updateCalls: number;
  blockDeviceCalls: number;
}

const NAMED = 5;

function ids(list: readonly string[]): string {
  const shown = list.slice(0, NAMED).join(", ");
  return list.length > NAMED ? `${shown} and ${list.length - NAMED} more` : shown;
}

export function describeStep(s: SyncStep): string {
  switch (s.kind) {
    case "create-tag":
      return `create tag ${s.tag}`;
    case "update-nodes": {
      const parts: string[] = [];
      if (s.add.length) parts.push(`add ${s.add.length} (${ids(s.add)})`);
      if (s.remove.length) parts.push(`remove ${s.remove.length} (${ids(s.remove)})`);
      return `tag ${s.tag}: ${parts.join(", ")}`;
    }
    case "block-device-tag":
      return `${s.add.length ? "add" : "remove"} ${s.tag} on block device ${s.device ?? "?"}`;
  }
}

/** "3 tag updates (…), 40 block-device tags on 4 machines": short enough for one log line. */
export function summarizeSteps(steps: readonly SyncStep[]): string {
  if (steps.length === 0) return "nothing";
  const machineSteps = steps.filter((s) => s.kind !== "block-device-tag").map(describeStep);
  const disks = steps.filter((s) => s.kind === "block-device-tag");
  const parts = [...machineSteps];
  if (disks.length > 0) {
    const machines = new Set(disks.map((d) => (d.device ?? "").split("/")[0]));
    const shown = disks.slice(0, NAMED).map((d) => d.device ?? "?").join(", ");
    parts.push(`${disks.length} block-device tag change(s) on ${machines.size} machine(s) (${shown}${disks.length > NAMED ? ", …" : ""})`);
  }
  return parts.join("; ");
}

function refuseForeign(plan: RolePlan, definitions: ReadonlyMap<string, string>): void {
  const owned = new Set(plan.ownedTags);
  const automatic = new Set(plan.automaticTags);
  for (const c of plan.tagChanges) {
    if (!owned.has(c.tag)) throw new RolesError("ROLES_TAG_NOT_OWNED", `tag ${c.tag}: not a tag metalwave owns for ${plan.scopeTag}; nothing was changed`);
    const def = definitions.get(c.tag) ?? "";
    if (automatic.has(c.tag) || def.trim() !== "") {
      throw new RolesError("ROLES_TAG_NOT_OWNED", `tag ${c.tag}: has an XPath definition, MAAS manages its machines; nothing was changed`);
    }
  }
}

export async function syncTags(maas: MaasPort, plan: RolePlan, opts: SyncOptions = {}): Promise<SyncResult> {
  const result: SyncResult = { created: [], updateCalls: 0, blockDeviceCalls: 0 };
  refuseForeign(plan, new Map());
  if (plan.tagChanges.length === 0 && plan.blockDeviceTags.length === 0) return result;

  const updates: SyncStep[] = plan.tagChanges.map((c) => ({ kind: "update-nodes", tag: c.tag, add: c.add, remove: c.remove }));
  const disks: SyncStep[] = plan.blockDeviceTags.map((b) => ({
    kind: "block-device-tag",
    tag: b.tag,
    add: b.action === "add" ? [b.systemId] : [],
    remove: b.action === "remove" ? [b.systemId] : [],
    device: `${b.systemId}/${b.deviceId}`,
  }));

  let creates: SyncStep[] = [];
  if (plan.tagChanges.length > 0) {
    // Read the tags again: one may have appeared or gained a definition since the plan.
    let live: Map<string, string>;
    try {
      live = new Map((await maas.listTags()).map((t) => [t.name, t.definition]));
    } catch (e) {
      throw new RolesError("ROLES_SYNC_PARTIAL", `tag sync could not read the tags: ${(e as Error).message}. Done: nothing. Not done: ${summarizeSteps([...updates, ...disks])}`, {
        cause: e,
        pending: [...updates, ...disks],
      });
    }
    refuseForeign(plan, live);
    creates = plan.tagChanges.filter((c) => c.add.length > 0 && !live.has(c.tag)).map((c) => ({ kind: "create-tag", tag: c.tag, add: [], remove: [] }));
  }
  const comments = new Map(plan.tagChanges.map((c) => [c.tag, c.comment]));

  const done: SyncStep[] = [];
  const fail = (failed: SyncStep, rest: SyncStep[], e: unknown): never => {
    const msg =
      `tag sync failed at "${describeStep(failed)}": ${(e as Error).message}. ` +
      `Done: ${summarizeSteps(done)}. Not done: ${summarizeSteps([failed, ...rest])}. ` +
      `update_nodes goes out in batches, so the failed tag may be partly applied; every step is idempotent: plan and sync again to finish.`;
    throw new RolesError("ROLES_SYNC_PARTIAL", msg, { cause: e, done: [...done], pending: [failed, ...rest], failed });
  };

  const serial = [...creates, ...updates];
  for (let i = 0; i < serial.length; i++) {
    const step = serial[i];
    if (step === undefined) continue;
    try {
      if (step.kind === "create-tag") {
        await maas.createTag({ name: step.tag, comment: comments.get(step.tag) ?? "metalwave" });
        result.created.push(step.tag);
      } else {
        result.updateCalls++;
        await maas.updateTagNodes(step.tag, { add: step.add, remove: step.remove });
      }
    } catch (e) {
      fail(step, [...serial.slice(i + 1), ...disks], e);
    }
    done.push(step);
  }

  // Block-device calls are one per disk: run a few at once, stop starting new ones at the first failure.
  const width = Math.max(1, opts.blockDeviceConcurrency ?? 4);
  const finished = new Array<boolean>(disks.length).fill(false);
  let next = 0;
  let first: { index: number; error: unknown } | null = null;
  const worker = async () => {
    while (first === null && next < disks.length) {
      const index = next++;
      const step = disks[index];
      const change = plan.blockDeviceTags[index];
      if (step === undefined || change === undefined) continue;
      try {
        result.blockDeviceCalls++;
        if (change.action === "add") await maas.addBlockDeviceTag(change.systemId, change.deviceId, change.tag);
        else await maas.removeBlockDeviceTag(change.systemId, change.deviceId, change.tag);
        finished[index] = true;
      } catch (e) {
        first ??= { index, error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, disks.length) }, worker));
  if (first !== null) {
    const { index, error } = first as { index: number; error: unknown };
    disks.forEach((s, i) => {
      if (finished[i]) done.push(s);
    });
    const failed = disks[index];
    if (failed !== undefined) fail(failed, disks.filter((_, i) => i !== index && !finished[i]), error);
  }
  return result;
}
