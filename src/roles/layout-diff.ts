/**
 * What must change in MAAS for a host to match its planned layout, judged from what
 * MAAS answers now (its interfaces, block devices and boot disk). Pure. The steps come in
 * stages because later ones need what earlier ones create: storage; bonds; VLAN
 * interfaces (on the bonds); then MTU and tags, unlinks and links. The applier
 * (src/runtime/host-layout.ts) sends one stage, reads back and asks again, until nothing
 * differs: so a host that already matches costs reads only, and a second run sends nothing.
 * Each step has a stable `key`, the operation the call journal records.
 */
import type { BlockDevice, BondParams, Interface, InterfaceUpdate, LinkSubnetParams, StorageLayoutParams, VlanInterfaceParams } from "../maas/port.ts";
import { sizeBytes, type HostLayout, type PlannedStorage } from "./layout-plan.ts";

export type LayoutStep =
  | { key: string; op: "setBootDisk"; deviceId: number; deviceName: string }
  | { key: string; op: "setStorageLayout"; params: StorageLayoutParams; why: string }
  | { key: string; op: "createBond"; params: BondParams }
  | { key: string; op: "updateInterface"; interfaceId: number; name: string; update: InterfaceUpdate }
  | { key: string; op: "createVlanInterface"; params: VlanInterfaceParams; parentName: string; name: string }
  | { key: string; op: "unlinkSubnet"; interfaceId: number; name: string; linkId: number; what: string }
  | { key: string; op: "linkSubnet"; interfaceId: number; name: string; params: LinkSubnetParams };

/** Where `/` is mounted now, as the layouts of MAAS leave it (maas-network-storage.md §5). */
export interface RootMount {
  layout: "flat" | "lvm" | "bcache" | "blank" | "other";
  /** The physical disk that holds root (the partition's disk, the PV's, the backing device's). */
  deviceId: number | null;
  /** Bytes of the filesystem's device (the root partition, the LV, the bcache device). */
  size: number | null;
  /** The virtual device's name (`vgroot-lvroot`, `bcache0`). */
  virtualName: string | null;
}

function partitionWith(devices: readonly BlockDevice[], fstype: string): { device: BlockDevice; size: number } | undefined {
  for (const d of devices) for (const p of d.partitions ?? []) if (p.filesystem?.fstype === fstype) return { device: d, size: p.size };
  return undefined;
}

export function rootMount(devices: readonly BlockDevice[]): RootMount {
  for (const d of devices) {
    for (const p of d.partitions ?? []) {
      if (p.filesystem?.mount_point === "/") return { layout: d.type === "virtual" ? "other" : "flat", deviceId: d.id, size: p.size, virtualName: null };
    }
    if (d.filesystem?.mount_point !== "/") continue;
    if (d.type !== "virtual") return { layout: "other", deviceId: d.id, size: d.size, virtualName: null };
    if (d.name.startsWith("bcache")) return { layout: "bcache", deviceId: partitionWith(devices, "bcache-backing")?.device.id ?? null, size: d.size, virtualName: d.name };
    return { layout: "lvm", deviceId: partitionWith(devices, "lvm-pv")?.device.id ?? null, size: d.size, virtualName: d.name };
  }
  const partitioned = devices.some((d) => (d.partitions ?? []).length > 0);
  return { layout: partitioned ? "other" : "blank", deviceId: null, size: null, virtualName: null };
}

/** MAAS rounds partitions down to 4 MiB and keeps table overhead; sizes within this count as equal. */
const SIZE_SLACK = 16 * 1024 * 1024;

function sizeDiffers(want: string | undefined, have: number | null): boolean {
  const bytes = sizeBytes(want);
  if (bytes === undefined || have === null) return false;
  return Math.abs(bytes - have) > Math.max(SIZE_SLACK, bytes * 0.005);
}

/** Why the layout MAAS has is not the planned one, or null when it is. */
export function storageMismatch(planned: PlannedStorage, devices: readonly BlockDevice[]): string | null {
  const now = rootMount(devices);
  const p = planned.params;
  if (now.layout !== planned.layout) return `layout is ${now.layout}, want ${planned.layout}`;
  if (planned.layout === "blank") return null;
  if (now.deviceId !== planned.rootDevice.id) return `root is on device ${now.deviceId ?? "none"}, want ${planned.rootDevice.name} (id ${planned.rootDevice.id})`;
  if (planned.layout === "lvm") {
    const name = `${p.vg_name ?? "vgroot"}-${p.lv_name ?? "lvroot"}`;
    if (now.virtualName !== name) return `root LV is ${now.virtualName ?? "none"}, want ${name}`;
    if (sizeDiffers(p.lv_size, now.size)) return `root LV is ${now.size} bytes, want ${p.lv_size}`;
  } else if (sizeDiffers(p.root_size, now.size)) {
    return `root is ${now.size} bytes, want ${p.root_size}`;
  }
  if (p.boot_size !== undefined && !devices.some((d) => (d.partitions ?? []).some((x) => x.filesystem?.mount_point === "/boot"))) return "no /boot partition, want one";
  return null;
}

/** Storage steps: boot disk first (set_boot_disk drops a filesystem on it), then the layout. */
export function storageSteps(planned: PlannedStorage, bootDiskId: number | null, devices: readonly BlockDevice[]): LayoutStep[] {
  const steps: LayoutStep[] = [];
  if (planned.layout !== "blank" && bootDiskId !== planned.rootDevice.id) {
    steps.push({ key: `layout.setBootDisk:${planned.rootDevice.id}`, op: "setBootDisk", deviceId: planned.rootDevice.id, deviceName: planned.rootDevice.name });
  }
  const why = steps.length > 0 ? "the boot disk changes" : storageMismatch(planned, devices);
  if (why !== null) steps.push({ key: "layout.setStorageLayout", op: "setStorageLayout", params: planned.params, why });
  return steps;
}

function currentMtu(i: Interface): number | undefined {
  const p = i.params;
  if (p !== null && typeof p === "object" && typeof p.mtu === "number") return p.mtu;
  return i.effective_mtu;
}

function param(i: Interface, key: string): unknown {
  const p = i.params;
  return p !== null && typeof p === "object" ? p[key] : undefined;
}

const sorted = (xs: readonly string[]) => [...xs].sort();
const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && sorted(a).every((x, i) => x === sorted(b)[i]);

/**
 * The first stage of network steps that is not yet done, and what cannot be done at all
 * (`problems`: an interface the plan needs is missing). Empty steps and problems: it matches.
 */
export function networkSteps(layout: HostLayout, ifaces: readonly Interface[]): { steps: LayoutStep[]; problems: string[] } {
  const byName = new Map(ifaces.map((i) => [i.name, i]));
  const problems: string[] = [];
  const idOf = (name: string): number | undefined => byName.get(name)?.id;

  // Stage 1: bonds.
  const bonds: LayoutStep[] = [];
  for (const b of layout.bonds) {
    const parents = b.parents.map((p) => idOf(p));
    if (parents.some((p) => p === undefined)) {
      problems.push(`bond ${b.name}: NIC ${b.parents.filter((p) => idOf(p) === undefined).join(", ")} not found`);
      continue;
    }
    const ids = parents as number[];
    const cur = byName.get(b.name);
    if (cur === undefined) {
      bonds.push({
        key: `layout.createBond:${b.name}`,
        op: "createBond",
        params: {
          name: b.name,
          parents: ids,
          bond_mode: b.mode as BondParams["bond_mode"],
          ...(b.mtu !== undefined ? { mtu: b.mtu } : {}),
          ...(b.lacpRate !== undefined ? { bond_lacp_rate: b.lacpRate as "fast" | "slow" } : {}),
          ...(b.xmitHashPolicy !== undefined ? { bond_xmit_hash_policy: b.xmitHashPolicy as BondParams["bond_xmit_hash_policy"] } : {}),
          ...(b.miimon !== undefined ? { bond_miimon: b.miimon } : {}),
        },
      });
      continue;
    }
    if (cur.type !== "bond") {
      problems.push(`${b.name} exists as a ${cur.type} interface, not a bond`);
      continue;
    }
    const update: InterfaceUpdate = {};
    if (!sameSet(cur.parents, b.parents)) update.parents = ids;
    if (param(cur, "bond_mode") !== b.mode) update.bond_mode = b.mode as InterfaceUpdate["bond_mode"];
    if (b.mtu !== undefined && currentMtu(cur) !== b.mtu) update.mtu = b.mtu;
    if (b.lacpRate !== undefined && param(cur, "bond_lacp_rate") !== b.lacpRate) update.bond_lacp_rate = b.lacpRate as "fast" | "slow";
    if (b.xmitHashPolicy !== undefined && param(cur, "bond_xmit_hash_policy") !== b.xmitHashPolicy) update.bond_xmit_hash_policy = b.xmitHashPolicy as InterfaceUpdate["bond_xmit_hash_policy"];
    if (b.miimon !== undefined && param(cur, "bond_miimon") !== b.miimon) update.bond_miimon = b.miimon;
    if (Object.keys(update).length > 0) bonds.push({ key: `layout.updateInterface:${b.name}`, op: "updateInterface", interfaceId: cur.id, name: b.name, update });
  }
  if (bonds.length > 0 || problems.length > 0) return { steps: bonds, problems };

  // Stage 2: VLAN interfaces (their parents exist now).
  const vlans: LayoutStep[] = [];
  const nameOfVlan = new Map<string, string>();
  for (const v of layout.vlans) {
    const parent = byName.get(v.parent);
    if (parent === undefined) {
      problems.push(`VLAN interface ${v.name}: parent ${v.parent} not found`);
      continue;
    }
    const cur = ifaces.find((i) => i.type === "vlan" && i.vlan?.id === v.vlanId && i.parents.includes(v.parent));
    if (cur === undefined) {
      vlans.push({ key: `layout.createVlanInterface:${v.name}`, op: "createVlanInterface", parentName: v.parent, name: v.name, params: { vlan: v.vlanId, parent: parent.id, ...(v.mtu !== undefined ? { mtu: v.mtu } : {}) } });
      continue;
    }
    nameOfVlan.set(v.name, cur.name);
    if (v.mtu !== undefined && currentMtu(cur) !== v.mtu) vlans.push({ key: `layout.updateInterface:${cur.name}`, op: "updateInterface", interfaceId: cur.id, name: cur.name, update: { mtu: v.mtu } });
  }
  if (vlans.length > 0 || problems.length > 0) return { steps: vlans, problems };
  // MAAS names a VLAN interface <parent>.<vid>; read the name it gave in case it differs.
  const real = (name: string) => byName.get(nameOfVlan.get(name) ?? name);

  // Stage 3: MTU and tags, then unlinks before links.
  const steps: LayoutStep[] = [];
  for (const r of layout.interfaces) {
    const cur = real(r.name);
    if (cur === undefined) {
      problems.push(`interface ${r.name} not found`);
      continue;
    }
    const update: InterfaceUpdate = {};
    if (r.mtu !== undefined && currentMtu(cur) !== r.mtu) update.mtu = r.mtu;
    const have = cur.tags ?? [];
    if (!r.tags.every((t) => have.includes(t))) update.tags = sorted([...new Set([...have, ...r.tags])]);
    if (Object.keys(update).length > 0) steps.push({ key: `layout.updateInterface:${cur.name}`, op: "updateInterface", interfaceId: cur.id, name: cur.name, update });
  }
  const links: LayoutStep[] = [];
  const wanted = new Map<string, HostLayout["links"]>();
  for (const k of layout.links) wanted.set(k.interface, [...(wanted.get(k.interface) ?? []), k]);
  for (const [name, want] of wanted) {
    const cur = real(name);
    if (cur === undefined) {
      problems.push(`interface ${name} not found to link`);
      continue;
    }
    const matches = (l: Interface["links"][number], k: HostLayout["links"][number]) => l.mode === k.mode && l.subnet?.id === k.subnetId;
    for (const l of cur.links) {
      if (want.some((k) => matches(l, k))) continue;
      steps.push({ key: `layout.unlinkSubnet:${cur.name}/${l.id}`, op: "unlinkSubnet", interfaceId: cur.id, name: cur.name, linkId: l.id, what: `${l.mode}${l.subnet ? ` on ${l.subnet.cidr}` : ""}` });
    }
    for (const k of want) {
      if (cur.links.some((l) => matches(l, k))) continue;
      links.push({
        key: `layout.linkSubnet:${cur.name}/${k.subnetId}`,
        op: "linkSubnet",
        interfaceId: cur.id,
        name: cur.name,
        params: { mode: k.mode.toUpperCase() as LinkSubnetParams["mode"], subnet: k.subnetId, ...(k.defaultGateway !== undefined ? { default_gateway: k.defaultGateway } : {}) },
      });
    }
  }
  return { steps: [...steps, ...links], problems };
}

/** A step as the journal and the logs show it. */
export function describeStep(s: LayoutStep): string {
  switch (s.op) {
    case "setBootDisk":
      return `set_boot_disk ${s.deviceName} (id ${s.deviceId})`;
    case "setStorageLayout":
      return `set_storage_layout ${s.params.storage_layout} (${s.why})`;
    case "createBond":
      return `create_bond ${s.params.name} of ${s.params.parents.length} NICs (${s.params.bond_mode ?? "balance-rr"})`;
    case "updateInterface":
      return `update ${s.name} ${JSON.stringify(s.update)}`;
    case "createVlanInterface":
      return `create_vlan ${s.name} on ${s.parentName}`;
    case "unlinkSubnet":
      return `unlink_subnet ${s.name} link ${s.linkId} (${s.what})`;
    case "linkSubnet":
      return `link_subnet ${s.name} ${s.params.mode} subnet ${s.params.subnet ?? "none"}`;
  }
}
