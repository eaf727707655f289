/** The per-role layout config and fleet the layout tests run on (machines/fleet-datacenter-5000-networks.yaml). */
import { fileURLToPath } from "node:url";
import { parseConfig, type Config, type ConfigInput } from "../../src/config.ts";

export const FLEET_5000 = fileURLToPath(new URL("../../machines/fleet-datacenter-5000-networks.yaml", import.meta.url));

export const NIC_LAYOUT = {
  bonds: [{ name: "bond0", nics: { minSpeedMbps: 25000, count: 2 }, mode: "802.3ad" as const, mtu: 9000 }],
  vlans: [{ parent: "boot", network: "internal" as const }],
  links: [
    { network: "management" as const, on: "boot" },
    { network: "internal" as const, on: "boot" },
    { network: "data" as const, on: "bond0" },
  ],
};

/** Three spaces: every role needs management, the workers internal too, compute and network hosts data. */
export function layoutConfig(over: ConfigInput = {}): Config {
  return parseConfig({
    rollout: { backoffMs: { base: 1, max: 5 }, waves: ["100%"], maxInFlight: 1000, phaseCaps: { commissioning: 1000, deploying: 1000, layering: 100 } },
    layers: { enabled: false },
    roles: { definitions: { network: { count: 2 } } },
    network: {
      roleNetworks: { "juju-controller": ["management"], control: ["management", "internal"], storage: ["management", "internal"], compute: ["management", "internal", "data"], network: ["management", "internal", "data"] },
      layouts: {
        "juju-controller": { links: [{ network: "management", on: "boot" }] },
        control: NIC_LAYOUT,
        storage: NIC_LAYOUT,
        compute: NIC_LAYOUT,
        network: { ...NIC_LAYOUT, interfaces: [{ on: "bond0", tags: ["neutron:physnet1"] }] },
      },
    },
    ...over,
  });
}
