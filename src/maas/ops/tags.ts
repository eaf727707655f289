/**
 * Machine tags: list, read, create (reconciled: tag names are unique), delete,
 * add/remove machines in batches, machines by tag. Contracts per op: src/maas/port.ts.
 */
import { MaasError } from "../errors.ts";
import type { CreateTagParams } from "../port.ts";
import { MachineSchema, TagSchema, TagUpdateResultSchema } from "../schemas.ts";
import type { Machine, Tag } from "../schemas.ts";
import { IDEMPOTENT, seg } from "../transport.ts";
import type { MaasTransport } from "../transport.ts";

export function listTags(t: MaasTransport): Promise<Tag[]> {
  return t.call({ operation: "listTags", method: "GET", path: "tags/", schema: TagSchema.array(), safety: IDEMPOTENT });
}

export function readTag(t: MaasTransport, name: string): Promise<Tag> {
  return t.call({ operation: "readTag", method: "GET", path: `tags/${seg(name)}/`, schema: TagSchema, safety: IDEMPOTENT });
}

export function createTag(t: MaasTransport, params: CreateTagParams): Promise<Tag> {
  return t.call({
    operation: "createTag",
    method: "POST",
    path: "tags/",
    params: { ...params },
    schema: TagSchema,
    safety: {
      kind: "reconcile",
      // Tag names are unique: if it exists now, our create (or an identical one) applied.
      check: async (signal) => {
        try {
          return await t.readBack("createTag", undefined, () => readTag(t.scoped(signal), params.name));
        } catch (e) {
          if (e instanceof MaasError && e.code === "MAAS_OUTCOME_UNKNOWN" && e.cause instanceof MaasError && e.cause.code === "MAAS_NOT_FOUND") {
            return undefined;
          }
          throw e;
        }
      },
    },
  });
}

export function deleteTag(t: MaasTransport, name: string): Promise<void> {
  return t.call({
    operation: "deleteTag",
    method: "DELETE",
    path: `tags/${seg(name)}/`,
    schema: null,
    // A 404 after a send whose outcome was unknown is our own delete having applied.
    safety: { kind: "idempotent", doneAfterUncertain: [404] },
  });
}

export async function updateTagNodes(
  t: MaasTransport,
  batchSize: number,
  name: string,
  change: { add?: readonly string[]; remove?: readonly string[] },
): Promise<{ added: number; removed: number }> {
  const entries: ["add" | "remove", string][] = [
    ...(change.add ?? []).map((id): ["add", string] => ["add", id]),
    ...(change.remove ?? []).map((id): ["remove", string] => ["remove", id]),
  ];
  let added = 0;
  let removed = 0;
  // Sequential: batches exist to keep each request (and MAAS's transaction) small,
  // not to hit the region with several at once.
  for (let i = 0; i < entries.length; i += batchSize) {
    const batch = entries.slice(i, i + batchSize);
    const r = await t.call({
      operation: "updateTagNodes",
      method: "POST",
      path: `tags/${seg(name)}/`,
      op: "update_nodes",
      params: { add: batch.filter(([k]) => k === "add").map(([, id]) => id), remove: batch.filter(([k]) => k === "remove").map(([, id]) => id) },
      schema: TagUpdateResultSchema,
      safety: IDEMPOTENT,
    });
    added += r.added;
    removed += r.removed;
  }
  return { added, removed };
}

export function machinesByTag(t: MaasTransport, name: string): Promise<Machine[]> {
  return t.call({ operation: "machinesByTag", method: "GET", path: `tags/${seg(name)}/`, op: "machines", schema: MachineSchema.array(), safety: IDEMPOTENT });
}
