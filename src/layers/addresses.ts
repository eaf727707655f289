/**
 * Which address of a deployed host each layer uses, chosen by MAAS space. A host's
 * addresses per space come from its MAAS links (src/roles/addresses.ts
 * `addressesBySpace`); the site's config says which space serves each network
 * (`network.spaces`, by default the space named like the network; docs/roles.md).
 *
 * Which network each endpoint binds to is the reference deployer's
 * (../shared/reference/juju-layering.md §2c): management is the default binding of
 * every machine charm, so it is the address the layers reach a host at over SSH and
 * where Juju adds it; the Kubernetes API listens on the leader's management address;
 * a Kubernetes node is matched by its internal address; Ceph's public side is on
 * storage and its cluster side on storage-cluster; the hypervisor's data plane on data.
 *
 * A site without spaces (no link of the host is in one: the simulator's region without
 * a `networks:` fleet section, or MAAS with every VLAN in the `undefined` space) has one
 * address for everything: the machine's first. A host that has spaced links but none on
 * the space a layer needs is refused by name (pre-flight's NETWORK_SPACE_UNREACHABLE
 * catches it before deploy when the config has a `network` section).
 */
import type { Machine } from "../maas/port.ts";
import { addressesBySpace } from "../roles/addresses.ts";
import type { NetworkName } from "../roles/layout-schema.ts";
import { LayerError } from "./errors.ts";

/** What the layers bind where (juju-layering.md §2c). */
export const LAYER_NETWORKS = {
  /** SSH, `juju add-machine`, and the default binding of every machine charm. */
  ssh: "management",
  kubernetesApi: "management",
  kubernetesNode: "internal",
  cephPublic: "storage",
  cephCluster: "storage-cluster",
  hypervisorData: "data",
} as const satisfies Record<string, NetworkName>;
export type LayerEndpoint = keyof typeof LAYER_NETWORKS;

/** A deployed host's addresses, by space, and which space serves each network at this site. */
export interface HostAddressing {
  /** MAAS space name → the host's addresses on it, in interface then link order. */
  readonly bySpace: Readonly<Record<string, readonly string[]>>;
  /** Network → its space, where the config maps it elsewhere (absent: the space of the network's name). */
  readonly spaces: Readonly<Partial<Record<NetworkName, string>>>;
  /** Every address MAAS reports for the machine (`ip_addresses`): a site without spaces uses the first. */
  readonly all: readonly string[];
}

export function hostAddressing(m: Pick<Machine, "interface_set" | "ip_addresses">, spaces: Readonly<Partial<Record<NetworkName, string>>> = {}): HostAddressing {
  return { bySpace: addressesBySpace(m), spaces, all: [...m.ip_addresses] };
}

/** The space that serves `network` at this site. */
export function spaceFor(a: HostAddressing, network: NetworkName): string {
  return a.spaces[network] ?? network;
}

/**
 * The host's address on the space serving `network`, or undefined when it has none there:
 * on a site without spaces, its first address whatever the network.
 */
export function addressOn(a: HostAddressing, network: NetworkName): string | undefined {
  if (Object.keys(a.bySpace).length === 0) return a.all[0];
  return a.bySpace[spaceFor(a, network)]?.[0];
}

/**
 * The address `endpoint` uses on the host; LAYER_PRECONDITION naming the space when it has
 * none there. A host without `addressing` (made by hand) uses its one `address` for all.
 */
export function endpointAddress(host: { systemId: string; hostname: string; address?: string; addressing?: HostAddressing | undefined }, endpoint: LayerEndpoint): string {
  if (host.addressing === undefined) {
    if (host.address !== undefined) return host.address;
    throw new LayerError("LAYER_PRECONDITION", { layer: "any", step: "address", systemId: host.systemId, hostname: host.hostname }, "the machine reports no IP address");
  }
  const network = LAYER_NETWORKS[endpoint];
  const address = addressOn(host.addressing, network);
  if (address !== undefined) return address;
  const space = spaceFor(host.addressing, network);
  const on = Object.keys(host.addressing.bySpace).sort();
  throw new LayerError(
    "LAYER_PRECONDITION",
    { layer: "any", step: "address", systemId: host.systemId, hostname: host.hostname },
    host.addressing.all.length === 0
      ? "the machine reports no IP address"
      : `the machine has no address on MAAS space ${space} (network ${network}, which ${endpoint} binds to); its addresses are on ${on.join(", ")}`,
  );
}
