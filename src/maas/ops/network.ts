/**
 * The network model and a machine's interfaces: fabrics, VLANs, spaces, subnets, IP
 * ranges (reads, idempotent), and the interface changes a layout makes (create_bond,
 * create_vlan, link_subnet, unlink_subnet, update). Changes that create or link are
 * reconciled: after an unknown outcome the machine's interfaces are read back and the
 * change counts as done when what it creates is there. Facts:
 * ../shared/reference/maas-network-storage.md §2 (routes, params, renderings) and §4
 * (the states MAAS allows these in). Contracts per op: src/maas/port.ts.
 */
import { MaasError } from "../errors.ts";
import type { BondParams, InterfaceUpdate, LinkSubnetParams, VlanInterfaceParams } from "../port.ts";
import { FabricSchema, InterfaceSchema, IpRangeSchema, SpaceSchema, SubnetWithVlanSchema, VlanSchema } from "../schemas.ts";
import type { Fabric, Interface, IpRange, Space, SubnetWithVlan, Vlan } from "../schemas.ts";
import { IDEMPOTENT, seg } from "../transport.ts";
import type { MaasTransport } from "../transport.ts";

export function listFabrics(t: MaasTransport): Promise<Fabric[]> {
  return t.call({ operation: "listFabrics", method: "GET", path: "fabrics/", schema: FabricSchema.array(), safety: IDEMPOTENT });
}

export function listVlans(t: MaasTransport, fabricId: number): Promise<Vlan[]> {
  return t.call({ operation: "listVlans", method: "GET", path: `fabrics/${fabricId}/vlans/`, schema: VlanSchema.array(), safety: IDEMPOTENT });
}

export function listSpaces(t: MaasTransport): Promise<Space[]> {
  return t.call({ operation: "listSpaces", method: "GET", path: "spaces/", schema: SpaceSchema.array(), safety: IDEMPOTENT });
}

export function listSubnets(t: MaasTransport): Promise<SubnetWithVlan[]> {
  return t.call({ operation: "listSubnets", method: "GET", path: "subnets/", schema: SubnetWithVlanSchema.array(), safety: IDEMPOTENT });
}

export function listIpRanges(t: MaasTransport): Promise<IpRange[]> {
  return t.call({ operation: "listIpRanges", method: "GET", path: "ipranges/", schema: IpRangeSchema.array(), safety: IDEMPOTENT });
}

export function readInterfaces(t: MaasTransport, systemId: string): Promise<Interface[]> {
  return t.call({
    operation: "readInterfaces",
    method: "GET",
    path: `nodes/${seg(systemId)}/interfaces/`,
    systemId,
    schema: InterfaceSchema.array(),
    itemSchema: InterfaceSchema,
    safety: IDEMPOTENT,
  });
}

function interfacesPath(systemId: string, id?: number): string {
  return `nodes/${seg(systemId)}/interfaces/${id === undefined ? "" : `${id}/`}`;
}

/** Reads the interfaces back and returns the one `found` picks, if any. */
async function checkInterfaces(
  t: MaasTransport,
  operation: string,
  systemId: string,
  signal: AbortSignal | undefined,
  found: (ifaces: Interface[]) => Interface | undefined,
): Promise<Interface | undefined> {
  const ifaces = await t.readBack(operation, systemId, () => readInterfaces(t.scoped(signal), systemId));
  return found(ifaces);
}

export function createBond(t: MaasTransport, systemId: string, p: BondParams): Promise<Interface> {
  const params = {
    name: p.name,
    parents: p.parents.map(String),
    bond_mode: p.bond_mode,
    bond_miimon: p.bond_miimon,
    bond_lacp_rate: p.bond_lacp_rate,
    bond_xmit_hash_policy: p.bond_xmit_hash_policy,
    mtu: p.mtu,
    tags: p.tags === undefined ? undefined : p.tags.join(","),
    mac_address: p.mac_address,
  };
  return t.call({
    operation: "createBond",
    method: "POST",
    path: interfacesPath(systemId),
    op: "create_bond",
    params,
    systemId,
    schema: InterfaceSchema,
    safety: {
      kind: "reconcile",
      // Bond names are unique on a machine: a bond of that name exists once our create applied.
      check: (signal) => checkInterfaces(t, "createBond", systemId, signal, (ifs) => ifs.find((i) => i.type === "bond" && i.name === p.name)),
    },
  });
}

export function createVlanInterface(t: MaasTransport, systemId: string, p: VlanInterfaceParams, parentName: string): Promise<Interface> {
  return t.call({
    operation: "createVlanInterface",
    method: "POST",
    path: interfacesPath(systemId),
    op: "create_vlan",
    params: { vlan: p.vlan, parent: p.parent, mtu: p.mtu, tags: p.tags === undefined ? undefined : p.tags.join(",") },
    systemId,
    schema: InterfaceSchema,
    safety: {
      kind: "reconcile",
      check: (signal) =>
        checkInterfaces(t, "createVlanInterface", systemId, signal, (ifs) => ifs.find((i) => i.type === "vlan" && i.vlan?.id === p.vlan && i.parents.includes(parentName))),
    },
  });
}

export function linkSubnet(t: MaasTransport, systemId: string, interfaceId: number, p: LinkSubnetParams): Promise<Interface> {
  return t.call({
    operation: "linkSubnet",
    method: "POST",
    path: interfacesPath(systemId, interfaceId),
    op: "link_subnet",
    params: { mode: p.mode, subnet: p.subnet, ip_address: p.ip_address, default_gateway: p.default_gateway, force: p.force },
    systemId,
    schema: InterfaceSchema,
    safety: {
      kind: "reconcile",
      check: (signal) =>
        checkInterfaces(t, "linkSubnet", systemId, signal, (ifs) => {
          const i = ifs.find((x) => x.id === interfaceId);
          return i?.links.some((l) => l.mode === p.mode.toLowerCase() && l.subnet?.id === p.subnet) ? i : undefined;
        }),
    },
  });
}

export function unlinkSubnet(t: MaasTransport, systemId: string, interfaceId: number, linkId: number): Promise<Interface> {
  return t.call({
    operation: "unlinkSubnet",
    method: "POST",
    path: interfacesPath(systemId, interfaceId),
    op: "unlink_subnet",
    params: { id: linkId },
    systemId,
    schema: InterfaceSchema,
    safety: {
      kind: "reconcile",
      check: (signal) =>
        checkInterfaces(t, "unlinkSubnet", systemId, signal, (ifs) => {
          const i = ifs.find((x) => x.id === interfaceId);
          return i !== undefined && !i.links.some((l) => l.id === linkId) ? i : undefined;
        }),
    },
  });
}

export function updateInterface(t: MaasTransport, systemId: string, interfaceId: number, p: InterfaceUpdate): Promise<Interface> {
  if (Object.values(p).every((v) => v === undefined)) {
    return Promise.reject(new MaasError("MAAS_BAD_REQUEST", `updateInterface ${systemId}: nothing to update (not sent)`, { operation: "updateInterface", systemId }));
  }
  return t.call({
    operation: "updateInterface",
    method: "PUT",
    path: interfacesPath(systemId, interfaceId),
    params: {
      name: p.name,
      mtu: p.mtu,
      tags: p.tags === undefined ? undefined : p.tags.join(","),
      parents: p.parents?.map(String),
      bond_mode: p.bond_mode,
      bond_lacp_rate: p.bond_lacp_rate,
      bond_xmit_hash_policy: p.bond_xmit_hash_policy,
      bond_miimon: p.bond_miimon,
    },
    systemId,
    schema: InterfaceSchema,
    // PUT sets fields to the values given: sending it again leaves the same interface.
    safety: IDEMPOTENT,
  });
}
