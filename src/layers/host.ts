/**
 * A deployed machine as the layers see it: its roles, its `ceph`-tagged disks, and its
 * addresses by MAAS space. The layers pick each address by the space it is used on, as the
 * reference does (juju-layering.md §2c): Juju reaches a host for manual provisioning on its
 * management address (the default binding of every machine charm), and Juju's spaces are
 * made from the subnets MAAS put each space's addresses on.
 */
import type { Machine } from "../maas/port.ts";
import { addressesBySpace } from "../roles/addresses.ts";
import { spaceName } from "../roles/facts.ts";
import type { SshTarget } from "../ssh/port.ts";
import { LayerError } from "./errors.ts";

/** One address of a host with its subnet and the subnet's MAAS space (null: no space). */
export interface HostNetwork {
  address: string;
  cidr: string;
  space: string | null;
}

/** A deployed machine as the layers see it. */
export interface LayerHost extends SshTarget {
  roles: readonly string[];
  /** id_path of every block device tagged `ceph` in MAAS. */
  cephDisks: readonly string[];
  /** Every address MAAS linked on the machine, with its subnet and space (empty: `address` only). */
  networks?: readonly HostNetwork[];
}

/** The space whose address the layers reach a host at (the default binding of the machine charms, §2c). */
export const LAYER_SPACE = "management";

/**
 * The one place that picks the address the layers reach a host at: its address on the
 * management space (§2c) when MAAS has one, else the machine's first address (a MAAS without
 * spaces, as the plain simulated region).
 */
export function layerAddressOf(m: Machine): string | undefined {
  return (m.interface_set ? addressesBySpace(m)[LAYER_SPACE]?.[0] : undefined) ?? m.ip_addresses[0];
}

/** Every linked address of the machine with its subnet and space, in interface then link order. */
export function networksOf(m: Pick<Machine, "interface_set">): HostNetwork[] {
  const out: HostNetwork[] = [];
  for (const i of m.interface_set ?? []) {
    for (const l of i.links) {
      if (l.ip_address === undefined || l.ip_address === null || l.ip_address === "" || l.subnet === undefined) continue;
      out.push({ address: l.ip_address, cidr: l.subnet.cidr, space: spaceName(l.subnet.space ?? null) ?? spaceName(i.vlan?.space ?? null) });
    }
  }
  return out;
}

/** A LayerHost from a MAAS machine record: its layer address, `ceph`-tagged devices by id_path, its networks. */
export function hostFromMachine(m: Machine, roles: readonly string[]): LayerHost {
  const address = layerAddressOf(m);
  if (address === undefined) throw new LayerError("LAYER_PRECONDITION", { layer: "any", step: "address", systemId: m.system_id, hostname: m.hostname }, "the machine reports no IP address");
  const cephDisks = m.blockdevice_set.filter((d) => d.tags.includes("ceph") && d.id_path).map((d) => d.id_path as string);
  return { systemId: m.system_id, hostname: m.hostname, address, roles, cephDisks, networks: networksOf(m) };
}

/** Every address of a host (its layer address first). */
export function addressesOf(h: LayerHost): string[] {
  return [h.address, ...(h.networks ?? []).map((n) => n.address).filter((a) => a !== h.address)];
}

export interface HostFailure {
  systemId: string;
  hostname: string;
  error: LayerError;
}
