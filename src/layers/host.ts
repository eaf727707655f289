/**
 * A deployed machine as the layers see it: its roles, its `ceph`-tagged disks, and its
 * addresses by MAAS space. The layers pick each address by the space it is used on, as the
 * reference does (juju-layering.md §2c): Juju reaches a host for manual provisioning on its
 * management address (the default binding of every machine charm), and Juju's spaces are
 * made from the subnets MAAS put each space's addresses on.
 */
import type { Machine } from "../maas/port.ts";
import { spaceName } from "../roles/facts.ts";
import type { NetworkName } from "../roles/layout-schema.ts";
import type { SshTarget } from "../ssh/port.ts";
import { addressOn, endpointAddress, hostAddressing, type HostAddressing } from "./addresses.ts";
import type { LayerError } from "./errors.ts";

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
  /**
   * Its addresses by MAAS space and the site's network → space map (addresses.ts): a layer
   * takes the address of the space its endpoint binds to; `address` (the SSH target, where
   * Juju adds the machine) is the management one. Absent on a host made by hand (tests).
   */
  addressing?: HostAddressing;
  /** Every address MAAS linked on the machine, with its subnet and space (empty: `address` only): Juju's spaces come from these. */
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
  return addressOn(hostAddressing({ interface_set: m.interface_set ?? [], ip_addresses: m.ip_addresses }), LAYER_SPACE);
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

/**
 * A LayerHost from a MAAS machine record: its addresses by space (`spaces`: the config's
 * network → space map), the SSH address on management, `ceph`-tagged devices by id_path, its networks.
 */
export function hostFromMachine(m: Machine, roles: readonly string[], opts: { spaces?: Readonly<Partial<Record<NetworkName, string>>> | undefined } = {}): LayerHost {
  const addressing = hostAddressing({ interface_set: m.interface_set ?? [], ip_addresses: m.ip_addresses }, opts.spaces);
  const address = endpointAddress({ systemId: m.system_id, hostname: m.hostname, addressing }, "ssh");
  const cephDisks = m.blockdevice_set.filter((d) => d.tags.includes("ceph") && d.id_path).map((d) => d.id_path as string);
  return { systemId: m.system_id, hostname: m.hostname, address, roles, cephDisks, addressing, networks: networksOf(m) };
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
