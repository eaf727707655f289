/**
 * Handlers for a machine's block devices (maas-network-storage.md §3, §4).
 */
import { formFailure } from "../errors.ts";
import { renderBlockDevice } from "../render.ts";
import type { Handler, HandlerDef } from "../routes.ts";
import { machineOf, ok } from "./machines.ts";

function diskOp(present: boolean | null): Handler {
  return (c) => {
    const m = machineOf(c);
    const slot = c.region.diskSlot(m, Number(c.args[1]));
    if (present !== null) {
      const t = c.body.get("tag");
      if (t === undefined || t === "") throw formFailure({ tag: ["This field is required."] });
      c.region.setDiskTag(m, slot, t, present);
    }
    return ok(renderBlockDevice(c.region, m, slot));
  };
}

export const storageHandlers: HandlerDef[] = [
  {
    name: "BlockDevicesHandler",
    doc: "Manage block devices on a machine.",
    path: "nodes/{system_id}/blockdevices/",
    stats: "blockdevices",
    collection: true,
    actions: [
      {
        method: "GET",
        op: null,
        doc: "List all block devices belonging to a machine.",
        handler: (c) => {
          const m = machineOf(c);
          const out: unknown[] = [];
          for (let i = 0; i < (m.hw?.disks.length ?? 0); i++) out.push(renderBlockDevice(c.region, m, i));
          return ok(out);
        },
      },
    ],
  },
  {
    name: "BlockDeviceHandler",
    doc: "Manage a block device on a machine.",
    path: "nodes/{system_id}/blockdevices/{id}/",
    stats: "blockdevices",
    collection: false,
    actions: [
      { method: "GET", op: null, doc: "Read a block device on a given machine.", handler: diskOp(null) },
      { method: "POST", op: "add_tag", doc: "Add a tag to block device on a given machine.", handler: diskOp(true) },
      { method: "POST", op: "remove_tag", doc: "Remove a tag from block device on a given machine.", handler: diskOp(false) },
    ],
  },
];
