// The per-role network and storage layout: config validation, planning per host, the
// pre-flight findings it raises, and the difference against what MAAS answers.
import { describe, expect, it } from "vitest";
import { parseConfig, type ConfigInput } from "../../src/config.ts";
import type { BlockDevice, Interface } from "../../src/maas/port.ts";
import type { MachineFacts } from "../../src/roles/facts.ts";
import { networkSteps, storageSteps } from "../../src/roles/layout-diff.ts";
import { networkModel, planHostLayout, type HostLayout } from "../../src/roles/layout-plan.ts";
import { planLayouts } from "../../src/roles/layouts.ts";
import { addressesBySpace } from "../../src/roles/addresses.ts";
import { LAYOUT_FINDING_CODES, type FindingCode } from "../../src/roles/types.ts";

/** Every layout finding code some test below trips; the last test checks the set is closed. */
const tripped = new Set<FindingCode>();

/** Shapes as MAAS renders them (maas-examples fabrics-read, subnets-read, ipranges-read). */
function vlan(id: number, vid: number, fabricId: number, space: string | null) {
  return { id, vid, fabric_id: fabricId, fabric: `fabric-${fabricId}`, mtu: 1500, dhcp_on: false, name: vid === 0 ? "untagged" : String(vid), space: space ?? "undefined", resource_uri: `/MAAS/api/2.0/vlans/${id}/` };
}
const VLANS = [vlan(5001, 0, 0, "management"), vlan(5002, 100, 0, "internal"), vlan(5003, 200, 0, "storage"), vlan(5010, 0, 1, "data"), vlan(5011, 300, 1, "storage-cluster")];
const FABRICS = [0, 1].map((id) => ({ id, name: `fabric-${id}`, class_type: null, vlans: VLANS.filter((v) => v.fabric_id === id), resource_uri: `/MAAS/api/2.0/fabrics/${id}/` }));
const SUBNETS = VLANS.map((v, i) => ({ id: i + 1, name: `10.${i}.0.0/24`, cidr: `10.${i}.0.0/24`, space: v.space, vlan: v, resource_uri: `/MAAS/api/2.0/subnets/${i + 1}/` }));
const SUBNET_OF = (vlanId: number) => SUBNETS.find((s) => s.vlan.id === vlanId)!;
function range(comment: string, subnetId: number) {
  const s = SUBNETS[subnetId - 1]!;
  return { id: subnetId, type: "reserved" as const, start_ip: s.cidr.replace("0/24", "200"), end_ip: s.cidr.replace("0/24", "210"), comment, subnet: s };
}
const MODEL = networkModel(FABRICS, SUBNETS, [range("cloud-internal-api", 2), range("cloud-public-api", 1)]);

function facts(over: Partial<MachineFacts> & { hostname: string }): MachineFacts {
  return {
    systemId: over.hostname.replace(/\W/g, "").slice(0, 6),
    zone: "az1",
    pool: null,
    architecture: "amd64/generic",
    status: 4,
    statusName: "Ready",
    owner: null,
    locked: false,
    cores: 32,
    memoryMiB: 131072,
    storageGiB: 2000,
    disks: [
      { id: 11, name: "sda", sizeGiB: 1788, boot: true, kind: "hdd", tags: ["rotary"] },
      { id: 12, name: "nvme0n1", sizeGiB: 447, boot: false, kind: "ssd", tags: ["ssd"] },
    ],
    nics: [],
    interfaces: [
      { id: 1, name: "eno1", type: "physical", vlanId: 5001, fabricId: 0, space: "management", parents: [], speedMbps: 1000 },
      { id: 2, name: "enp65s0f0", type: "physical", vlanId: 5010, fabricId: 1, space: "data", parents: [], speedMbps: 25000 },
      { id: 3, name: "enp65s0f1", type: "physical", vlanId: 5010, fabricId: 1, space: "data", parents: [], speedMbps: 25000 },
    ],
    bootInterface: "eno1",
    tags: [],
    commissioned: true,
    ...over,
  };
}

const COMPUTE_LAYOUT = {
  bonds: [{ name: "bond0", nics: { minSpeedMbps: 10000, count: 2 }, mode: "802.3ad", mtu: 9000, xmitHashPolicy: "layer3+4" }],
  vlans: [
    { parent: "boot", network: "internal" },
    { parent: "boot", network: "storage" },
  ],
  links: [
    { network: "management", on: "boot" },
    { network: "internal", on: "boot" },
    { network: "storage", on: "boot" },
    { network: "data", on: "bond0" },
  ],
  interfaces: [{ on: "bond0", tags: ["neutron:physnet1"] }],
} satisfies NonNullable<NonNullable<ConfigInput["network"]>["layouts"]>[string];

function config(over: ConfigInput = {}) {
  return parseConfig({ network: { layouts: { compute: COMPUTE_LAYOUT } }, storage: { layouts: { compute: { layout: "lvm", rootDevice: { kind: "ssd" }, lvSize: "100G" } } }, ...over });
}

function plan(f: MachineFacts, roles: string[] = ["compute"], cfg = config()) {
  return noted(planHostLayout({ facts: f, roles, order: cfg.roles.order, network: cfg.network, storage: cfg.storage, model: MODEL, cephDiskIds: new Set() }));
}

function noted<T extends { problems: { code: FindingCode }[] }>(r: T): T {
  for (const p of r.problems) tripped.add(p.code);
  return r;
}

describe("config: network and storage sections", () => {
  it.each([
    [{ network: { layouts: { compute: { bonds: [{ name: "bond0", nics: {}, mode: "lacp" }] } } } }, "network.layouts.compute.bonds.0.mode"],
    [{ network: { layouts: { gpu: {} } } }, 'network.layouts.gpu: unknown role "gpu"'],
    [{ network: { layouts: { compute: { bonds: [{ name: "bond0", nics: {}, mtu: 100 }] } } } }, "network.layouts.compute.bonds.0.mtu: MAAS's minimum MTU is 552"],
    [{ network: { layouts: { compute: { links: [{ network: "internal", on: "eno1" }, { network: "internal", on: "eno2" }] } } } }, "network.layouts.compute.links.1.network: internal is linked twice"],
    [{ network: { layouts: { compute: { links: [{ network: "dmz", on: "eno1" }] } } } }, "network.layouts.compute.links.0.network"],
    [{ storage: { layouts: { storage: { layout: "flat", lvSize: "10G" } } } }, "storage.layouts.storage.lvSize: lvSize applies to the lvm layout, not flat"],
    [{ storage: { layouts: { storage: { layout: "lvm", rootSize: "10 GB" } } } }, "storage.layouts.storage.rootSize"],
    [{ storage: { layouts: { compute: { layout: "zfs" } } } }, "storage.layouts.compute.layout"],
  ] as [ConfigInput, string][])("%j is refused naming %s", (raw, where) => {
    expect(() => parseConfig(raw, "site.yaml")).toThrow(where);
  });

  it("absent sections mean nothing is laid out and nothing is checked", () => {
    const cfg = parseConfig({});
    expect(cfg.network).toBeUndefined();
    expect(planHostLayout({ facts: facts({ hostname: "cmp-1" }), roles: ["compute"], order: cfg.roles.order, network: undefined, storage: undefined, model: MODEL, cephDiskIds: new Set() })).toEqual({ layout: null, problems: [] });
  });
});

describe("planning a host's layout", () => {
  it("bonds the fast NICs, puts each space's VLAN on the boot NIC, links each network's subnet and tags the data bond", () => {
    const r = plan(facts({ hostname: "cmp-1" }));
    expect(r.problems).toEqual([]);
    const l = r.layout!;
    expect(l.bonds).toEqual([{ name: "bond0", parents: ["enp65s0f0", "enp65s0f1"], mode: "802.3ad", mtu: 9000, xmitHashPolicy: "layer3+4" }]);
    expect(l.vlans.map((v) => [v.name, v.vlanId, v.space])).toEqual([
      ["eno1.100", 5002, "internal"],
      ["eno1.200", 5003, "storage"],
    ]);
    expect(l.links.map((k) => [k.interface, k.cidr, k.mode])).toEqual([
      ["eno1", SUBNET_OF(5001).cidr, "auto"],
      ["eno1.100", SUBNET_OF(5002).cidr, "auto"],
      ["eno1.200", SUBNET_OF(5003).cidr, "auto"],
      ["bond0", SUBNET_OF(5010).cidr, "auto"],
    ]);
    expect(l.interfaces).toEqual([{ name: "bond0", tags: ["neutron:physnet1"] }]);
    expect(l.networks).toEqual({ data: "data", internal: "internal", management: "management", storage: "storage" });
    expect(l.storage).toEqual({ layout: "lvm", rootDevice: { id: 12, name: "nvme0n1", sizeGiB: 447 }, params: { storage_layout: "lvm", root_device: 12, lv_size: "100G" } });
  });

  it("a bond rule that matches too few NICs fails naming the bond, the field and the NICs it saw", () => {
    const slow = facts({ hostname: "cmp-2", interfaces: facts({ hostname: "x" }).interfaces!.map((i) => ({ ...i, speedMbps: i.name === "eno1" ? 1000 : 10000 })) });
    const cfg = config({ network: { layouts: { compute: { ...COMPUTE_LAYOUT, bonds: [{ name: "bond0", nics: { minSpeedMbps: 25000, count: 2 }, mode: "802.3ad" }] } } } });
    const r = plan(slow, ["compute"], cfg);
    expect(r.problems).toContainEqual({
      code: "BOND_NO_NIC",
      role: "compute",
      field: "network.layouts.compute.bonds[0].nics",
      detail: "bond bond0 matches 0 NICs, needs 2; the machine's NICs: eno1 (boot, 1000 Mb/s), enp65s0f0 (10000 Mb/s), enp65s0f1 (10000 Mb/s)",
    });
  });

  it("a machine whose fabric has no VLAN of a needed space cannot reach it", () => {
    // fabric-0 without the storage VLAN: the host is cabled to a switch that does not carry it.
    const model = networkModel(
      FABRICS.map((f) => ({ ...f, vlans: f.vlans.filter((v) => v.id !== 5003) })),
      SUBNETS.filter((s) => s.vlan.id !== 5003),
      [range("cloud-internal-api", 2), range("cloud-public-api", 1)],
    );
    const cfg = config();
    const r = noted(planHostLayout({ facts: facts({ hostname: "cmp-3" }), roles: ["compute"], order: cfg.roles.order, network: cfg.network, storage: cfg.storage, model, cephDiskIds: new Set() }));
    expect(r.problems).toContainEqual(expect.objectContaining({ code: "NETWORK_SPACE_UNREACHABLE", field: "network.layouts.compute.vlans[1]", detail: "no tagged VLAN of space storage (network storage) on fabric-0, the fabric of eno1" }));
    expect(r.problems).toContainEqual(expect.objectContaining({ code: "NETWORK_SPACE_UNREACHABLE", field: "network.layouts.compute.links", detail: "needs network storage (MAAS space storage); its planned links reach data, internal, management" }));
  });

  it("without NIC rules for its role, a machine is checked on the spaces its interfaces are in", () => {
    const cfg = parseConfig({ network: {} });
    const r = noted(planHostLayout({ facts: facts({ hostname: "st-1" }), roles: ["storage"], order: cfg.roles.order, network: cfg.network, storage: undefined, model: MODEL, cephDiskIds: new Set() }));
    expect(r.problems.map((p) => p.detail)).toEqual([
      "needs network internal (MAAS space internal); its interfaces' VLANs are in data, management",
      "needs network storage (MAAS space storage); its interfaces' VLANs are in data, management",
      "needs network storage-cluster (MAAS space storage-cluster); its interfaces' VLANs are in data, management",
    ]);
  });

  it("the root device rule never picks a disk the plan tags for ceph, and fails when nothing is left", () => {
    const cfg = config();
    const r = noted(planHostLayout({ facts: facts({ hostname: "cmp-4" }), roles: ["compute"], order: cfg.roles.order, network: undefined, storage: cfg.storage, model: MODEL, cephDiskIds: new Set([12]) }));
    expect(r.problems).toEqual([
      { code: "STORAGE_NO_ROOT_DEVICE", role: "compute", field: "storage.layouts.compute.rootDevice", detail: "no disk matches the root device rule; disks: sda 1788 GiB hdd [rotary] (boot), nvme0n1 447 GiB ssd [ssd]" },
    ]);
  });

  it("a bond over NICs on different VLANs fails as MAAS would refuse it", () => {
    const split = facts({ hostname: "cmp-6", interfaces: facts({ hostname: "x" }).interfaces!.map((i) => (i.name === "enp65s0f1" ? { ...i, vlanId: 5001, fabricId: 0, space: "management" } : i)) });
    const r = plan(split);
    expect(r.problems).toContainEqual(
      expect.objectContaining({ code: "BOND_PARENTS_VLAN", field: "network.layouts.compute.bonds[0].nics", detail: expect.stringContaining("enp65s0f0: fabric-1 vid 0 (space data), enp65s0f1: fabric-0 vid 0 (space management)") }),
    );
  });

  it("a rule naming an interface the host does not have fails naming it", () => {
    const cfg = config({ network: { layouts: { compute: { ...COMPUTE_LAYOUT, vlans: [{ parent: "bond1", network: "internal" }], links: [{ network: "management", on: "boot" }] } } } });
    const r = plan(facts({ hostname: "cmp-7" }), ["compute"], cfg);
    expect(r.problems).toContainEqual(expect.objectContaining({ code: "LAYOUT_UNKNOWN_INTERFACE", field: "network.layouts.compute.vlans[0].parent", detail: expect.stringContaining("no interface bond1") }));
  });

  it("a blank layout, which leaves nothing mounted at '/', fails before anything changes (MAAS would refuse every deploy)", () => {
    const cfg = parseConfig({ storage: { layouts: { storage: { layout: "blank" } } } });
    const r = noted(planHostLayout({ facts: facts({ hostname: "stor-2" }), roles: ["storage"], order: cfg.roles.order, network: undefined, storage: cfg.storage, model: MODEL, cephDiskIds: new Set() }));
    expect(r.problems).toEqual([expect.objectContaining({ code: "STORAGE_NO_ROOT_MOUNT", role: "storage", field: "storage.layouts.storage.layout", detail: expect.stringContaining("Mount the root '/' filesystem to be able to deploy this node.") })]);
    expect(r.layout?.storage ?? null).toBeNull();
  });

  it("sizes that do not fit the root disk fail with the numbers", () => {
    const cfg = parseConfig({ storage: { layouts: { compute: { layout: "flat", rootSize: "2T" } } } });
    const r = noted(planHostLayout({ facts: facts({ hostname: "cmp-5" }), roles: ["compute"], order: cfg.roles.order, network: undefined, storage: cfg.storage, model: MODEL, cephDiskIds: new Set() }));
    expect(r.problems[0]).toMatchObject({ code: "STORAGE_TOO_SMALL", detail: `bootSize 0 + rootSize 2T = 2000000000000 bytes do not fit on sda (${Math.round(1788 * 1024 ** 3)} bytes)` });
  });
});

describe("plan-wide findings", () => {
  const hosts = [1, 2, 3, 4].map((i) => ({ systemId: `m${i}`, hostname: `cmp-${i}`, roles: ["compute"] }));
  const fleet = new Map(hosts.map((h) => [h.systemId, facts({ hostname: h.hostname, systemId: h.systemId })]));

  it("a missing load-balancer range fails naming the range and what MAAS has", () => {
    const model = networkModel(FABRICS, SUBNETS, [range("cloud-internal-api", 2)]);
    const cfg = config();
    const r = planLayouts({ deployment: "cloud", order: cfg.roles.order, network: cfg.network, storage: cfg.storage, model, hosts, facts: fleet, cephDiskIds: new Map() });
    r.findings.forEach((f) => tripped.add(f.code));
    expect(r.findings).toEqual([
      {
        severity: "FAIL",
        code: "LB_RANGE_MISSING",
        role: null,
        machines: [],
        message: 'network.loadBalancerRanges: MAAS has no reserved IP range with comment "cloud-public-api" (a load-balancer pool of the layers); it has 1 reserved range: 10.1.0.200-10.1.0.210 "cloud-internal-api"',
      },
    ]);
    expect(r.layouts.size).toBe(4);
  });

  it("the same problem on many hosts is one finding listing every machine and showing a few", () => {
    const cfg = config({ network: { layouts: { compute: { ...COMPUTE_LAYOUT, bonds: [{ name: "bond0", nics: { names: ["ens*"] }, mode: "802.3ad" }] } } } });
    const r = planLayouts({ deployment: "cloud", order: cfg.roles.order, network: cfg.network, storage: cfg.storage, model: MODEL, hosts, facts: fleet, cephDiskIds: new Map() });
    const bond = r.findings.find((f) => f.code === "BOND_NO_NIC");
    expect(bond?.machines.map((m) => m.hostname)).toEqual(["cmp-1", "cmp-2", "cmp-3", "cmp-4"]);
    expect(bond?.message).toMatch(/^network\.layouts\.compute\.bonds\[0\]\.nics: 4 compute machines: cmp-1 \(m1\): bond bond0 matches 0 NICs, needs 1; .*; and 1 more$/);
    // A host with a problem gets no layout: nothing is half-applied.
    expect(r.layouts.size).toBe(0);
  });
});

// ---------------------------------------------------------------- the difference against MAAS

function iface(id: number, name: string, over: Partial<Interface> = {}): Interface {
  return { id, name, type: "physical", enabled: true, mac_address: `00:16:3e:00:00:${id.toString(16).padStart(2, "0")}`, vlan: VLANS[0]!, links: [], parents: [], children: [], tags: [], params: "", effective_mtu: 1500, ...over } as Interface;
}

function planned(): HostLayout {
  return plan(facts({ hostname: "cmp-1" })).layout!;
}

describe("the difference against what MAAS has", () => {
  const after = [
    iface(1, "eno1", { links: [{ id: 91, mode: "auto", subnet: SUBNET_OF(5001) }], children: ["eno1.100", "eno1.200"] }),
    iface(2, "enp65s0f0", { vlan: VLANS[3]!, children: ["bond0"] }),
    iface(3, "enp65s0f1", { vlan: VLANS[3]!, children: ["bond0"] }),
    iface(4, "bond0", { type: "bond", vlan: VLANS[3]!, parents: ["enp65s0f0", "enp65s0f1"], params: { bond_mode: "802.3ad", mtu: 9000, bond_xmit_hash_policy: "layer3+4" }, effective_mtu: 9000, tags: ["neutron:physnet1"], links: [{ id: 92, mode: "auto", subnet: SUBNET_OF(5010) }] }),
    iface(5, "eno1.100", { type: "vlan", vlan: VLANS[1]!, parents: ["eno1"], links: [{ id: 93, mode: "auto", subnet: SUBNET_OF(5002) }] }),
    iface(6, "eno1.200", { type: "vlan", vlan: VLANS[2]!, parents: ["eno1"], links: [{ id: 94, mode: "auto", subnet: SUBNET_OF(5003) }] }),
  ];

  it("a machine laid out as planned needs nothing", () => {
    expect(networkSteps(planned(), after)).toEqual({ steps: [], problems: [] });
  });

  it("a freshly commissioned machine gets its bond first, then its VLAN interfaces, then tags and links", () => {
    const fresh = [
      iface(1, "eno1", { links: [{ id: 91, mode: "auto", subnet: SUBNET_OF(5001) }] }),
      iface(2, "enp65s0f0", { vlan: VLANS[3]!, links: [{ id: 95, mode: "link_up" }] }),
      iface(3, "enp65s0f1", { vlan: VLANS[3]!, links: [{ id: 96, mode: "link_up" }] }),
    ];
    expect(networkSteps(planned(), fresh).steps).toEqual([
      { key: "layout.createBond:bond0", op: "createBond", params: { name: "bond0", parents: [2, 3], bond_mode: "802.3ad", mtu: 9000, bond_xmit_hash_policy: "layer3+4" } },
    ]);
    const withBond = [...fresh.slice(0, 3), iface(4, "bond0", { type: "bond", vlan: VLANS[3]!, parents: ["enp65s0f0", "enp65s0f1"], params: { bond_mode: "802.3ad", mtu: 9000, bond_xmit_hash_policy: "layer3+4" }, links: [{ id: 97, mode: "link_up" }] })];
    expect(networkSteps(planned(), withBond).steps.map((s) => s.key)).toEqual(["layout.createVlanInterface:eno1.100", "layout.createVlanInterface:eno1.200"]);
    const withVlans = [...withBond, iface(5, "eno1.100", { type: "vlan", vlan: VLANS[1]!, parents: ["eno1"] }), iface(6, "eno1.200", { type: "vlan", vlan: VLANS[2]!, parents: ["eno1"] })];
    // Tags first, unlinks before links, so a stray link_up never blocks a new link.
    expect(networkSteps(planned(), withVlans).steps).toEqual([
      { key: "layout.updateInterface:bond0", op: "updateInterface", interfaceId: 4, name: "bond0", update: { tags: ["neutron:physnet1"] } },
      { key: "layout.unlinkSubnet:bond0/97", op: "unlinkSubnet", interfaceId: 4, name: "bond0", linkId: 97, what: "link_up" },
      { key: "layout.linkSubnet:eno1.100/2", op: "linkSubnet", interfaceId: 5, name: "eno1.100", params: { mode: "AUTO", subnet: 2 } },
      { key: "layout.linkSubnet:eno1.200/3", op: "linkSubnet", interfaceId: 6, name: "eno1.200", params: { mode: "AUTO", subnet: 3 } },
      { key: "layout.linkSubnet:bond0/4", op: "linkSubnet", interfaceId: 4, name: "bond0", params: { mode: "AUTO", subnet: 4 } },
    ]);
  });

  it("a bond of the wrong mode or MTU is updated in place, not created again", () => {
    const wrong = after.map((i) => (i.name === "bond0" ? { ...i, params: { bond_mode: "balance-rr", mtu: 1500, bond_xmit_hash_policy: "layer3+4" }, effective_mtu: 1500 } : i));
    expect(networkSteps(planned(), wrong).steps).toEqual([{ key: "layout.updateInterface:bond0", op: "updateInterface", interfaceId: 4, name: "bond0", update: { bond_mode: "802.3ad", mtu: 9000 } }]);
  });

  it("a NIC the plan bonds that MAAS no longer has is a problem, not a guess", () => {
    expect(networkSteps(planned(), after.filter((i) => i.name !== "enp65s0f1" && i.name !== "bond0")).problems).toEqual(["bond bond0: NIC enp65s0f1 not found"]);
  });
});

function disk(id: number, name: string, over: Partial<BlockDevice> = {}): BlockDevice {
  return { id, name, path: `/dev/disk/by-dname/${name}`, type: "physical", tags: [], size: 480e9, partitions: [], filesystem: null, used_for: "Unused", ...over } as BlockDevice;
}
function part(id: number, size: number, fstype: string, mount: string | null) {
  return { id, path: `/dev/disk/by-dname/p${id}`, size, type: "partition", uuid: `u-${id}`, filesystem: { fstype, mount_point: mount, uuid: `f-${id}`, label: null, mount_options: null } };
}

describe("the storage difference", () => {
  const lvm = planned().storage!;

  it("flat (MAAS's default after commissioning) on the boot disk → set the boot disk, then the layout", () => {
    const devices = [disk(11, "sda", { partitions: [part(1, 1.9e12, "ext4", "/")] }), disk(12, "nvme0n1")];
    expect(storageSteps(lvm, 11, devices).map((s) => s.op)).toEqual(["setBootDisk", "setStorageLayout"]);
  });

  it("the planned LV on the planned disk needs nothing", () => {
    const devices = [disk(11, "sda"), disk(12, "nvme0n1", { partitions: [part(2, 479e9, "lvm-pv", null)] }), disk(20, "vgroot-lvroot", { type: "virtual", size: 100e9 - 3e6, filesystem: { fstype: "ext4", mount_point: "/", uuid: "x", label: "root", mount_options: null } })];
    expect(storageSteps(lvm, 12, devices)).toEqual([]);
  });

  it("an LV of another size is laid out again, saying why", () => {
    const devices = [disk(12, "nvme0n1", { partitions: [part(2, 479e9, "lvm-pv", null)] }), disk(20, "vgroot-lvroot", { type: "virtual", size: 400e9, filesystem: { fstype: "ext4", mount_point: "/", uuid: "x", label: "root", mount_options: null } })];
    expect(storageSteps(lvm, 12, devices)).toEqual([{ key: "layout.setStorageLayout", op: "setStorageLayout", params: lvm.params, why: "root LV is 400000000000 bytes, want 100G" }]);
  });
});

describe("addresses by space", () => {
  it("each link's deployed address goes to its subnet's space", () => {
    const m = {
      interface_set: [
        iface(1, "eno1", { links: [{ id: 1, mode: "auto", subnet: SUBNET_OF(5001), ip_address: "10.0.0.7" }] }),
        iface(5, "eno1.100", { type: "vlan", vlan: VLANS[1]!, links: [{ id: 2, mode: "auto", subnet: SUBNET_OF(5002), ip_address: "10.1.0.7" }] }),
        iface(4, "bond0", { type: "bond", vlan: VLANS[3]!, links: [{ id: 3, mode: "link_up" }] }),
      ],
    };
    expect(addressesBySpace(m)).toEqual({ management: ["10.0.0.7"], internal: ["10.1.0.7"] });
  });
});

describe("the layout checks' closed set", () => {
  // Runs last (tests in a file run in order): every layout code was tripped above.
  it("has a tripping test for every layout finding code", () => {
    expect(LAYOUT_FINDING_CODES.filter((c) => !tripped.has(c))).toEqual([]);
  });
});
