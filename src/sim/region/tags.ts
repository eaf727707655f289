/**
 * Tags (maas-api.md "Tags"): create, rename, delete, `update_nodes` (one call tags many
 * machines; unknown ids are ignored), the tagged machines, and block-device tags.
 */
import { formFailure, textFailure } from "../errors.ts";
import type { Params } from "../params.ts";
import type { MachineRecord, TagRecord } from "./records.ts";
import type { RegionState } from "./state.ts";

export function getTag(r: RegionState, name: string): TagRecord {
  const t = r.tags.get(name);
  if (t === undefined) throw textFailure(404, "No Tag matches the given query.");
  return t;
}

function tagNameErrors(r: RegionState, name: string): string[] | null {
  if (name === "") return ["This field is required."];
  if (name.length > 256) return ["Ensure this value has at most 256 characters (it has " + name.length + ")."];
  if (!/^[a-zA-Z0-9_-]+$/.test(name)) return ["Invalid character in tag name."];
  if (r.tags.has(name)) return ["Tag with this Name already exists."];
  return null;
}

export function createTag(r: RegionState, params: Params): TagRecord {
  const name = params.get("name") ?? "";
  const errors = tagNameErrors(r, name);
  if (errors) throw formFailure({ name: errors });
  const t: TagRecord = { name, definition: params.get("definition") ?? "", comment: params.get("comment") ?? "", kernelOpts: params.get("kernel_opts") ?? "" };
  r.tags.set(name, t);
  return t;
}

export function updateTag(r: RegionState, t: TagRecord, params: Params): TagRecord {
  const newName = params.get("name");
  if (newName !== undefined && newName !== t.name) {
    const errors = tagNameErrors(r, newName);
    if (errors) throw formFailure({ name: errors });
    r.tags.delete(t.name);
    for (const m of r.machines) {
      const i = m.tags.indexOf(t.name);
      if (i >= 0) m.tags[i] = newName;
    }
    t.name = newName;
    r.tags.set(newName, t);
  }
  const definition = params.get("definition");
  if (definition !== undefined) t.definition = definition;
  const comment = params.get("comment");
  if (comment !== undefined) t.comment = comment;
  const kernelOpts = params.get("kernel_opts");
  if (kernelOpts !== undefined) t.kernelOpts = kernelOpts;
  return t;
}

export function deleteTag(r: RegionState, t: TagRecord): void {
  r.tags.delete(t.name);
  for (const m of r.machines) {
    const i = m.tags.indexOf(t.name);
    if (i >= 0) m.tags.splice(i, 1);
  }
}

/** Unknown system_ids are ignored, as MAAS does; counts only actual changes. */
export function updateTagNodes(r: RegionState, t: TagRecord, add: readonly string[], remove: readonly string[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const id of new Set(add)) {
    const m = r.bySystemId.get(id);
    if (m === undefined || m.deleted || m.tags.includes(t.name)) continue;
    m.tags.push(t.name);
    added++;
  }
  for (const id of new Set(remove)) {
    const m = r.bySystemId.get(id);
    const i = m === undefined ? -1 : m.tags.indexOf(t.name);
    if (m === undefined || m.deleted || i < 0) continue;
    m.tags.splice(i, 1);
    removed++;
  }
  return { added, removed };
}

export function machinesWithTag(r: RegionState, t: TagRecord): MachineRecord[] {
  return r.machines.filter((m) => m.tags.includes(t.name));
}

/** Block devices are addressed by id; ours are `index * 16 + slot + 1`. */
export function diskSlot(m: MachineRecord, deviceId: number): number {
  const slot = deviceId - m.index * 16 - 1;
  if (!Number.isInteger(deviceId) || m.hw === null || slot < 0 || slot >= m.hw.disks.length) {
    throw textFailure(404, "No BlockDevice matches the given query.");
  }
  return slot;
}

export function setDiskTag(r: RegionState, m: MachineRecord, slot: number, tag: string, present: boolean): void {
  const tags = [...r.diskTagsFor(m, slot)];
  const i = tags.indexOf(tag);
  if (present && i < 0) tags.push(tag);
  if (!present && i >= 0) tags.splice(i, 1);
  (m.diskTags ??= new Map()).set(slot, tags);
}
