/**
 * Handlers for a machine's interfaces (maas-network-storage.md §2.3–2.4, §4): changes need
 * a MAAS admin (§0) and the machine in a state that allows them, refused in MAAS's words.
 */
import { NodeStatus } from "../../maas/status.ts";
import { formFailure } from "../errors.ts";
import * as ifc from "../network/interfaces.ts";
import type { Iface } from "../network/interfaces.ts";
import { renderInterface } from "../network/render.ts";
import type { MachineRecord, Region } from "../region.ts";
import type { Call, Handler, HandlerDef, Reply } from "../routes.ts";
import { admin, machineOf, ok } from "./common.ts";

const deleted: Reply = { status: 204 };

function render(region: Region, m: MachineRecord, i: Iface): Reply {
  return ok(renderInterface(region.net, m.systemId, m.ifaces, i, i.slot === null ? undefined : m.hw?.nics[i.slot]));
}

/** A change to a machine's interfaces: admin (§0), then the state rule with its op words (§4). */
function change(op: string, fn: (c: Call, m: MachineRecord) => Iface, allowDeployed = false): Handler {
  return (c) => {
    admin(c);
    const m = machineOf(c);
    ifc.assertCanChange(m.status, op, allowDeployed);
    return render(c.region, m, fn(c, m));
  };
}

const ifaceOf = (c: Call, m: MachineRecord): Iface => ifc.findIface(m.ifaces, c.args[1] ?? "");

export const interfaceHandlers: HandlerDef[] = [
  {
    name: "InterfacesHandler",
    doc: "Manage interfaces on a node.",
    path: "nodes/{system_id}/interfaces/",
    stats: "interfaces",
    collection: true,
    actions: [
      {
        method: "GET",
        op: null,
        doc: "List all interfaces belonging to a machine, device, or rack controller.",
        handler: (c) => {
          const m = machineOf(c);
          return ok(m.ifaces.map((i) => renderInterface(c.region.net, m.systemId, m.ifaces, i, i.slot === null ? undefined : m.hw?.nics[i.slot])));
        },
      },
      { method: "POST", op: "create_physical", doc: "Create a physical interface on a machine and device.", handler: change("create", (c, m) => ifc.createPhysical(c.region.net, m.ifaces, c.region.ids, c.body)) },
      { method: "POST", op: "create_bond", doc: "Create a bond interface on a machine.", handler: change("create bond", (c, m) => ifc.createBond(c.region.net, m.ifaces, c.region.ids, c.body)) },
      { method: "POST", op: "create_vlan", doc: "Create a VLAN interface on a machine.", handler: change("create VLAN", (c, m) => ifc.createVlanIface(c.region.net, m.ifaces, c.region.ids, c.body)) },
      { method: "POST", op: "create_bridge", doc: "Create a bridge interface on a machine.", handler: change("create bridge", (c, m) => ifc.createBridge(c.region.net, m.ifaces, c.region.ids, c.body, m.status === NodeStatus.ALLOCATED)) },
    ],
  },
  {
    name: "InterfaceHandler",
    doc: "Manage a node's or device's interface.",
    path: "nodes/{system_id}/interfaces/{id}/",
    stats: "interface",
    collection: false,
    actions: [
      {
        method: "GET",
        op: null,
        doc: "Read an interface with the given system_id and interface id.",
        handler: (c) => {
          const m = machineOf(c);
          return render(c.region, m, ifaceOf(c, m));
        },
      },
      {
        method: "PUT",
        op: null,
        doc: "Update an interface with the given system_id and interface id.",
        handler: change(
          "update interface",
          (c, m) => {
            const i = ifaceOf(c, m);
            ifc.updateIface(c.region.net, m.ifaces, c.region.ids, i, c.body, m.status === NodeStatus.DEPLOYED);
            return i;
          },
          true,
        ),
      },
      {
        method: "DELETE",
        op: null,
        doc: "Delete an interface with the given system_id and interface id.",
        handler: (c) => {
          admin(c);
          const m = machineOf(c);
          ifc.assertCanChange(m.status, "delete interface");
          ifc.deleteIface(c.region.net, m.ifaces, ifaceOf(c, m));
          return deleted;
        },
      },
      {
        method: "POST",
        op: "link_subnet",
        doc: "Link an interface with the given system_id and interface id to a subnet.",
        handler: change("link subnet", (c, m) => {
          const i = ifaceOf(c, m);
          ifc.linkSubnet(c.region.net, m.ifaces, c.region.ids, i, c.body);
          return i;
        }),
      },
      {
        method: "POST",
        op: "unlink_subnet",
        doc: "Unlink an interface with the given system_id and interface id from a subnet.",
        handler: change("unlink subnet", (c, m) => {
          const i = ifaceOf(c, m);
          ifc.unlinkSubnet(c.region.net, c.region.ids, i, c.body);
          return i;
        }),
      },
      {
        method: "POST",
        op: "disconnect",
        doc: "Disconnect an interface with the given system_id and interface id.",
        handler: change("disconnect", (c, m) => {
          const i = ifaceOf(c, m);
          ifc.disconnect(c.region.net, i);
          return i;
        }),
      },
      {
        method: "POST",
        op: "add_tag",
        doc: "Add a tag to an interface with the given system_id and interface id.",
        handler: (c) => {
          admin(c);
          const m = machineOf(c);
          const i = ifaceOf(c, m);
          const t = c.body.get("tag");
          if (!t) throw formFailure({ tag: ["This field is required."] });
          if (!i.tags.includes(t)) i.tags.push(t);
          return render(c.region, m, i);
        },
      },
      {
        method: "POST",
        op: "remove_tag",
        doc: "Remove a tag from an interface with the given system_id and interface id.",
        handler: (c) => {
          admin(c);
          const m = machineOf(c);
          const i = ifaceOf(c, m);
          const t = c.body.get("tag");
          if (!t) throw formFailure({ tag: ["This field is required."] });
          i.tags = i.tags.filter((x) => x !== t);
          return render(c.region, m, i);
        },
      },
    ],
  },
];
