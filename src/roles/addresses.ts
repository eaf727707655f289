/**
 * A deployed host's addresses by MAAS space, read from the machine MAAS answered with:
 * each link that has an `ip_address` gives that address to its subnet's space (MAAS
 * assigns AUTO links their address on deploy and renders it on the link; maas-network-
 * storage.md §2.4). The layers pick the address of the space an endpoint binds to
 * (juju-layering.md §2c: the Kubernetes API on management, node matching on internal).
 */
import type { Machine } from "../maas/port.ts";
import { spaceName } from "./facts.ts";

/** Space name → addresses on it, in interface then link order; spaceless links are left out. */
export function addressesBySpace(m: Pick<Machine, "interface_set">): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const i of m.interface_set) {
    for (const l of i.links) {
      if (l.ip_address === undefined || l.ip_address === null || l.ip_address === "") continue;
      const space = spaceName(l.subnet?.space ?? null) ?? spaceName(i.vlan?.space ?? null);
      if (space === null) continue;
      (out[space] ??= []).push(l.ip_address);
    }
  }
  return out;
}
