/**
 * The `network` and `storage` sections of metalwave's config: per role, how a machine's
 * NICs are laid out (bonds, VLAN interfaces, the link to each space's subnet, MTUs and
 * interface tags) and its storage (root device by rule, layout, sizes), applied in MAAS
 * before deploy. Rules are data; docs/configuration.md and docs/roles.md document every
 * field: change them together.
 *
 * Facts behind the defaults (../shared/reference/openstack-on-maas.md, juju-layering.md
 * §2c-2d): six networks by MAAS space (public, internal, management, data, storage,
 * storage-cluster); which roles need which (Sunbeam's ROLE_NETWORK_MAPPING); the
 * load-balancer pools are MAAS reserved ranges named `<deployment>-internal-api` and
 * `<deployment>-public-api`; the data NIC of network hosts carries `neutron:physnet1`.
 * MAAS's own choices and limits (maas-network-storage.md §2.3, §5): bond modes, hash
 * policies, MTU ≥ 552, layouts, sizes as bytes, SI suffixes (powers of 1000) or `NN%`.
 */
import { z } from "zod";
import { BOND_MODES, BOND_XMIT_HASH_POLICIES } from "../maas/port.ts";

export const NETWORKS = ["public", "internal", "management", "data", "storage", "storage-cluster"] as const;
export type NetworkName = (typeof NETWORKS)[number];

/** Which networks each built-in role's machines must reach (Sunbeam's MachineNetworkCheck). */
export const ROLE_NETWORKS: Readonly<Record<string, readonly NetworkName[]>> = {
  "juju-controller": ["management"],
  control: ["data", "internal", "management", "public", "storage"],
  compute: ["data", "internal", "management", "storage"],
  storage: ["internal", "management", "storage", "storage-cluster"],
  network: ["data", "internal", "management"],
};

const network = z.enum(NETWORKS);
const ifaceName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,14}$/, "an interface name such as bond0 or eno1 (at most 15 characters), or boot");
/** An interface of the machine: `boot` (MAAS's boot interface), a bond this layout makes, or a NIC's name. */
const ifaceRef = ifaceName;
const mtu = z.number().int().min(552, "MAAS's minimum MTU is 552").max(65_535);
const ifaceTag = z.string().regex(/^[a-zA-Z0-9_:.-]+$/, "an interface tag such as neutron:physnet1");

/** Which physical NICs a bond takes: all filters given must hold; the first `count` by name are taken. */
const nicSelector = z.strictObject({
  /** Globs on the NIC name (`eno*`, `enp65s0f[01]`); any of them. */
  names: z.array(z.string().min(1)).min(1).optional(),
  minSpeedMbps: z.number().nonnegative().optional(),
  /** Leave out the boot NIC (default true: the machine must still PXE-boot on its own). */
  excludeBoot: z.boolean().default(true),
  /** How many NICs the bond takes; fewer matching is a pre-flight FAIL. Default: every match (at least one). */
  count: z.number().int().min(1).optional(),
});
export type NicSelector = z.infer<typeof nicSelector>;

const bondRule = z.strictObject({
  name: ifaceName.refine((n) => n !== "boot", "boot names the boot interface; choose another bond name"),
  nics: nicSelector,
  mode: z.enum(BOND_MODES).default("802.3ad"),
  mtu: mtu.optional(),
  lacpRate: z.enum(["fast", "slow"]).optional(),
  xmitHashPolicy: z.enum(BOND_XMIT_HASH_POLICIES).optional(),
  miimon: z.number().int().nonnegative().optional(),
});
export type BondRule = z.infer<typeof bondRule>;

const vlanRule = z.strictObject({
  /** The interface the VLAN rides on (a bond of this layout, `boot`, a NIC). */
  parent: ifaceRef,
  /** The tagged VLAN of this network's space on the parent's fabric. */
  network,
  mtu: mtu.optional(),
});
export type VlanRule = z.infer<typeof vlanRule>;

const linkRule = z.strictObject({
  network,
  /** The interface: its VLAN interface for `network` when `vlans` makes one, else the interface itself. */
  on: ifaceRef,
  mode: z.enum(["auto", "static", "dhcp", "link_up"]).default("auto"),
  defaultGateway: z.boolean().optional(),
});
export type LinkRule = z.infer<typeof linkRule>;

const interfaceRule = z.strictObject({
  on: ifaceRef,
  /** For a VLAN interface made by `vlans`: which network's (else the interface itself). */
  network: network.optional(),
  mtu: mtu.optional(),
  /** Added to the interface's tags (others are kept). */
  tags: z.array(ifaceTag).default([]),
});
export type InterfaceRule = z.infer<typeof interfaceRule>;

const nicLayout = z.strictObject({
  bonds: z.array(bondRule).default([]),
  vlans: z.array(vlanRule).default([]),
  links: z.array(linkRule).default([]),
  interfaces: z.array(interfaceRule).default([]),
});
export type NicLayout = z.infer<typeof nicLayout>;

const spaceName = z.string().min(1).max(256);

export const NetworkConfigSchema = z
  .strictObject({
    /** Network → MAAS space name. Default: each network's own name. */
    spaces: z.partialRecord(network, spaceName).default({}),
    /** Networks a role needs, replacing the built-in list for the roles named. */
    roleNetworks: z.record(z.string(), z.array(network)).default({}),
    /** Comments of the MAAS reserved ranges the layers' load-balancer pools come from; `{deployment}` is replaced. */
    loadBalancerRanges: z.array(z.string().min(1)).default(["{deployment}-internal-api", "{deployment}-public-api"]),
    /** Per role, its NIC layout. Roles without one are left as MAAS has them (and still checked for reach). */
    layouts: z.record(z.string(), nicLayout).default({}),
  })
  .superRefine((n, ctx) => {
    for (const [role, l] of Object.entries(n.layouts)) {
      const at = ["layouts", role];
      const bonds = new Set<string>();
      l.bonds.forEach((b, i) => {
        if (bonds.has(b.name)) ctx.addIssue({ code: "custom", path: [...at, "bonds", i, "name"], message: `bond ${b.name} is defined twice` });
        bonds.add(b.name);
        if (b.mode !== "802.3ad" && (b.lacpRate !== undefined || b.xmitHashPolicy !== undefined) && b.mode !== "balance-xor") {
          ctx.addIssue({ code: "custom", path: [...at, "bonds", i], message: `lacpRate and xmitHashPolicy apply to 802.3ad (and balance-xor) bonds, not ${b.mode}` });
        }
      });
      const vlans = new Set<string>();
      l.vlans.forEach((v, i) => {
        const key = `${v.parent}/${v.network}`;
        if (vlans.has(key)) ctx.addIssue({ code: "custom", path: [...at, "vlans", i], message: `a VLAN of ${v.network} on ${v.parent} is defined twice` });
        vlans.add(key);
      });
      const linked = new Map<string, number>();
      l.links.forEach((k, i) => {
        const prev = linked.get(k.network);
        if (prev !== undefined) ctx.addIssue({ code: "custom", path: [...at, "links", i, "network"], message: `${k.network} is linked twice (also links[${prev}])` });
        linked.set(k.network, i);
      });
      l.interfaces.forEach((r, i) => {
        if (r.network !== undefined && !vlans.has(`${r.on}/${r.network}`)) {
          ctx.addIssue({ code: "custom", path: [...at, "interfaces", i, "network"], message: `no VLAN of ${r.network} on ${r.on} in vlans` });
        }
      });
    }
  });
export type NetworkConfig = z.output<typeof NetworkConfigSchema>;

/** MAAS's size grammar: bytes, an SI suffix (powers of 1000: 24G = 24·10⁹ bytes), or a percentage. */
const size = z.union([
  z.number().int().positive(),
  z.string().regex(/^(\d+(\.\d+)?[KMGTPE]?|\d+(\.\d+)?%)$/, 'a size as MAAS takes it: bytes, "24G" (powers of 1000: K M G T P E) or "50%"'),
]);

/** Which physical disk: all filters given must hold; then the smallest (default) or the largest. */
const diskSelector = z.strictObject({
  kind: z.enum(["ssd", "hdd", "any"]).default("any"),
  minSizeGiB: z.number().nonnegative().optional(),
  maxSizeGiB: z.number().nonnegative().optional(),
  /** Globs on the device name (`sda`, `nvme*`). */
  names: z.array(z.string().min(1)).min(1).optional(),
  /** Disks with any of these tags are never picked (default: the ceph tag). */
  notTags: z.array(z.string().min(1)).default(["ceph"]),
  pick: z.enum(["smallest", "largest"]).default("smallest"),
});
export type DiskSelector = z.infer<typeof diskSelector>;

const storageLayout = z
  .strictObject({
    layout: z.enum(["flat", "lvm", "bcache", "blank"]),
    /** The disk that boots and holds `/`; default: MAAS's boot disk. */
    rootDevice: diskSelector.optional(),
    bootSize: size.optional(),
    rootSize: size.optional(),
    vgName: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/).optional(),
    lvName: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$/).optional(),
    lvSize: size.optional(),
    cacheDevice: diskSelector.optional(),
    cacheMode: z.enum(["writethrough", "writeback", "writearound"]).optional(),
    cacheSize: size.optional(),
  })
  .superRefine((s, ctx) => {
    const only = (fields: readonly (keyof typeof s)[], layouts: readonly string[]) => {
      for (const f of fields) {
        if (s[f] !== undefined && !layouts.includes(s.layout)) ctx.addIssue({ code: "custom", path: [f], message: `${f} applies to the ${layouts.join(" and ")} layout${layouts.length > 1 ? "s" : ""}, not ${s.layout}` });
      }
    };
    only(["vgName", "lvName", "lvSize"], ["lvm"]);
    only(["cacheDevice", "cacheMode", "cacheSize"], ["bcache"]);
    only(["bootSize", "rootSize", "rootDevice"], ["flat", "lvm", "bcache"]);
  });
export type StorageLayoutRule = z.infer<typeof storageLayout>;

export const StorageConfigSchema = z.strictObject({
  /** Per role, its storage layout. Roles without one keep MAAS's (flat after commissioning). */
  layouts: z.record(z.string(), storageLayout).default({}),
});
export type StorageConfig = z.output<typeof StorageConfigSchema>;

/** Space of `net` under this config's mapping. */
export function spaceOf(cfg: NetworkConfig, net: NetworkName): string {
  return cfg.spaces[net] ?? net;
}

/** Networks a role's machines must reach under this config. */
export function networksOf(cfg: NetworkConfig, role: string): readonly NetworkName[] {
  return cfg.roleNetworks[role] ?? ROLE_NETWORKS[role] ?? [];
}

/** Config-level check: the roles named in layouts exist (the roles section defines them). */
export function checkLayoutRoles(
  input: { network?: NetworkConfig | undefined; storage?: StorageConfig | undefined },
  roles: readonly string[],
  addIssue: (path: (string | number)[], message: string) => void,
): void {
  const known = new Set(roles);
  const check = (section: string, key: string, names: readonly string[]) => {
    for (const r of names) if (!known.has(r)) addIssue([section, key, r], `unknown role "${r}" (the roles are ${[...known].sort().join(", ")})`);
  };
  if (input.network) {
    check("network", "layouts", Object.keys(input.network.layouts));
    check("network", "roleNetworks", Object.keys(input.network.roleNetworks));
  }
  if (input.storage) check("storage", "layouts", Object.keys(input.storage.layouts));
}
