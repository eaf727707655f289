/**
 * The per-host network and storage layout: from a machine's facts, its roles, the
 * site's network model (fabrics, VLANs and their spaces, subnets, reserved ranges) and
 * the `network`/`storage` config, what each host should look like in MAAS before it
 * deploys, and the pre-flight findings when it cannot (a needed space out of reach, a
 * bond rule matching no NIC, no root disk, a missing load-balancer range). Pure: no
 * I/O. The plan is JSON-ready: it is stored with the rollout and shown by `metalwave plan`.
 * docs/roles.md ("Network and storage layout") states the rules.
 */
import type { Fabric, IpRange, StorageLayoutParams, SubnetWithVlan } from "../maas/port.ts";
import { hostnamePattern, spaceName, type DiskFacts, type InterfaceFacts, type MachineFacts } from "./facts.ts";
import { networksOf, spaceOf, type DiskSelector, type NetworkConfig, type NetworkName, type NicLayout, type StorageConfig, type StorageLayoutRule } from "./layout-schema.ts";
import type { FindingCode } from "./types.ts";

const GIB = 1024 ** 3;

export interface PlannedBond {
  name: string;
  parents: string[];
  mode: string;
  mtu?: number;
  lacpRate?: string;
  xmitHashPolicy?: string;
  miimon?: number;
}

export interface PlannedVlan {
  /** `<parent>.<vid>`, as MAAS names it. */
  name: string;
  parent: string;
  /** The VLAN's database id (what create_vlan takes). */
  vlanId: number;
  vid: number;
  network: NetworkName;
  space: string;
  mtu?: number;
}

export interface PlannedLink {
  interface: string;
  network: NetworkName;
  space: string;
  subnetId: number;
  cidr: string;
  mode: "auto" | "static" | "dhcp" | "link_up";
  defaultGateway?: boolean;
}

export interface PlannedInterface {
  name: string;
  mtu?: number;
  tags: string[];
}

export interface PlannedStorage {
  layout: StorageLayoutRule["layout"];
  rootDevice: { id: number; name: string; sizeGiB: number };
  /** What set_storage_layout is sent (root_device and cache_device as block-device ids). */
  params: StorageLayoutParams;
}

/** What a host should look like in MAAS before deploy; JSON-ready. */
export interface HostLayout {
  /** The role whose NIC rules apply (the first of the host's roles, in role order, that has some); null: none. */
  networkRole: string | null;
  bonds: PlannedBond[];
  vlans: PlannedVlan[];
  links: PlannedLink[];
  interfaces: PlannedInterface[];
  /** null: the storage layout is left as MAAS has it. */
  storage: PlannedStorage | null;
  /** Each network the host's roles need → the MAAS space that serves it. */
  networks: Partial<Record<NetworkName, string>>;
}

/** The site's network model as the planner reads it. */
export interface NetworkModel {
  vlans: Map<number, { id: number; vid: number; fabricId: number; fabric: string; space: string | null; mtu: number }>;
  /** VLAN id → its subnets, lowest id first. */
  subnetsByVlan: Map<number, { id: number; cidr: string }[]>;
  reserved: { comment: string; startIp: string; endIp: string; cidr: string; space: string | null }[];
}

export function networkModel(fabrics: readonly Fabric[], subnets: readonly SubnetWithVlan[], ranges: readonly IpRange[]): NetworkModel {
  const vlans: NetworkModel["vlans"] = new Map();
  for (const f of fabrics) {
    for (const v of f.vlans) vlans.set(v.id, { id: v.id, vid: v.vid, fabricId: v.fabric_id ?? f.id, fabric: f.name, space: spaceName(v.space), mtu: v.mtu });
  }
  const subnetsByVlan: NetworkModel["subnetsByVlan"] = new Map();
  for (const s of [...subnets].sort((a, b) => a.id - b.id)) {
    const list = subnetsByVlan.get(s.vlan.id) ?? [];
    list.push({ id: s.id, cidr: s.cidr });
    subnetsByVlan.set(s.vlan.id, list);
  }
  const reserved = ranges
    .filter((r) => r.type === "reserved")
    .map((r) => ({ comment: r.comment ?? "", startIp: r.start_ip, endIp: r.end_ip, cidr: r.subnet.cidr, space: spaceName(r.subnet.vlan.space ?? r.subnet.space) }));
  return { vlans, subnetsByVlan, reserved };
}

/** One problem on one host; the caller groups them into findings. */
export interface LayoutProblem {
  code: FindingCode;
  role: string;
  /** The config path of the rule at fault, e.g. `network.layouts.compute.bonds[0]`. */
  field: string;
  detail: string;
}

export interface LayoutInput {
  facts: MachineFacts;
  roles: readonly string[];
  /** Role order: the first of the host's roles with rules applies. */
  order: readonly string[];
  network: NetworkConfig | undefined;
  storage: StorageConfig | undefined;
  model: NetworkModel | undefined;
  /** Disks the plan puts the ceph tag on: never the root disk. */
  cephDiskIds: ReadonlySet<number>;
}

function firstWith<T>(roles: readonly string[], order: readonly string[], rules: Readonly<Record<string, T>> | undefined): [string, T] | undefined {
  if (rules === undefined) return undefined;
  const ranked = [...roles].sort((a, b) => rank(order, a) - rank(order, b));
  for (const r of ranked) {
    const rule = rules[r];
    if (rule !== undefined) return [r, rule];
  }
  return undefined;
}

function rank(order: readonly string[], r: string): number {
  const i = order.indexOf(r);
  return i < 0 ? order.length : i;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function nicLabel(n: InterfaceFacts, boot: string | null): string {
  const speed = n.speedMbps === null ? "speed unknown" : `${n.speedMbps} Mb/s`;
  return `${n.name} (${n.name === boot ? "boot, " : ""}${speed})`;
}

interface IfaceInfo {
  vlanId: number | null;
  fabricId: number | null;
  space: string | null;
}

/** Plans one host's layout; `problems` empty means it can be applied as planned. */
export function planHostLayout(input: LayoutInput): { layout: HostLayout | null; problems: LayoutProblem[] } {
  const { facts, network, storage, model } = input;
  const problems: LayoutProblem[] = [];
  const networks: Partial<Record<NetworkName, string>> = {};
  const layout: HostLayout = { networkRole: null, bonds: [], vlans: [], links: [], interfaces: [], storage: null, networks };
  const ifaces = facts.interfaces;

  if (network !== undefined && model !== undefined && ifaces !== undefined) {
    for (const r of input.roles) for (const n of networksOf(network, r)) networks[n] = spaceOf(network, n);
    const chosen = firstWith(input.roles, input.order, network.layouts);
    let reached: Set<string>;
    if (chosen !== undefined) {
      layout.networkRole = chosen[0];
      reached = planNics(input, network, chosen[0], chosen[1], layout, problems, model);
    } else {
      // No NIC rules: the spaces it reaches are those of its interfaces' VLANs (what Sunbeam checks).
      reached = new Set(ifaces.map((i) => i.space).filter((s): s is string => s !== null));
    }
    for (const r of input.roles) {
      for (const n of networksOf(network, r)) {
        const space = spaceOf(network, n);
        if (reached.has(space)) continue;
        const via = chosen === undefined ? "its interfaces' VLANs are in" : "its planned links reach";
        problems.push({
          code: "NETWORK_SPACE_UNREACHABLE",
          role: r,
          field: chosen === undefined ? `network.layouts.${r}` : `network.layouts.${chosen[0]}.links`,
          detail: `needs network ${n} (MAAS space ${space}); ${via} ${reached.size === 0 ? "no space" : [...reached].sort().join(", ")}`,
        });
      }
    }
  }

  if (storage !== undefined) {
    const chosen = firstWith(input.roles, input.order, storage.layouts);
    if (chosen !== undefined) layout.storage = planStorage(input, chosen[0], chosen[1], problems);
  }
  const empty = layout.networkRole === null && layout.storage === null && Object.keys(networks).length === 0;
  return { layout: empty ? null : layout, problems };
}

function planNics(
  input: LayoutInput,
  network: NetworkConfig,
  role: string,
  rules: NicLayout,
  layout: HostLayout,
  problems: LayoutProblem[],
  model: NetworkModel,
): Set<string> {
  const { facts } = input;
  const ifaces = facts.interfaces ?? [];
  const at = `network.layouts.${role}`;
  const physical = ifaces.filter((i) => i.type === "physical").sort(byName);
  const boot = facts.bootInterface ?? physical[0]?.name ?? null;
  const info = new Map<string, IfaceInfo>(ifaces.map((i) => [i.name, { vlanId: i.vlanId, fabricId: i.fabricId, space: i.space }]));
  const resolve = (ref: string) => (ref === "boot" ? (boot ?? "boot") : ref);
  const used = new Set<string>();

  rules.bonds.forEach((b, i) => {
    const field = `${at}.bonds[${i}]`;
    const sel = b.nics;
    const matches = physical.filter((n) => {
      if (used.has(n.name)) return false;
      if (sel.excludeBoot && n.name === boot) return false;
      if (sel.names !== undefined && !sel.names.some((g) => hostnamePattern(g).test(n.name))) return false;
      if (sel.minSpeedMbps !== undefined && (n.speedMbps === null || n.speedMbps < sel.minSpeedMbps)) return false;
      return true;
    });
    const need = sel.count ?? 1;
    if (matches.length < need) {
      problems.push({
        code: "BOND_NO_NIC",
        role,
        field: `${field}.nics`,
        detail: `bond ${b.name} matches ${matches.length} NIC${matches.length === 1 ? "" : "s"}, needs ${need}; the machine's NICs: ${physical.map((n) => nicLabel(n, boot)).join(", ") || "none"}`,
      });
      return;
    }
    const parents = (sel.count === undefined ? matches : matches.slice(0, sel.count)).map((n) => n.name);
    parents.forEach((p) => used.add(p));
    const vlanIds = new Set(parents.map((p) => info.get(p)?.vlanId ?? null));
    if (vlanIds.size > 1) {
      problems.push({
        code: "BOND_PARENTS_VLAN",
        role,
        field: `${field}.nics`,
        detail: `bond ${b.name}'s NICs are on different VLANs (${parents.map((p) => `${p}: ${vlanLabel(model, info.get(p)?.vlanId ?? null)}`).join(", ")}); MAAS needs all parents on one VLAN`,
      });
      return;
    }
    info.set(b.name, info.get(parents[0] ?? "") ?? { vlanId: null, fabricId: null, space: null });
    layout.bonds.push({
      name: b.name,
      parents,
      mode: b.mode,
      ...(b.mtu !== undefined ? { mtu: b.mtu } : {}),
      ...(b.lacpRate !== undefined ? { lacpRate: b.lacpRate } : {}),
      ...(b.xmitHashPolicy !== undefined ? { xmitHashPolicy: b.xmitHashPolicy } : {}),
      ...(b.miimon !== undefined ? { miimon: b.miimon } : {}),
    });
  });

  const vlanIfaceOf = new Map<string, PlannedVlan>();
  rules.vlans.forEach((v, i) => {
    const field = `${at}.vlans[${i}]`;
    const parent = resolve(v.parent);
    const p = info.get(parent);
    const space = spaceOf(network, v.network);
    if (p === undefined) {
      problems.push({ code: "LAYOUT_UNKNOWN_INTERFACE", role, field: `${field}.parent`, detail: `no interface ${parent} (NICs: ${physical.map((n) => n.name).join(", ")}; bonds of this layout: ${layout.bonds.map((b) => b.name).join(", ") || "none"})` });
      return;
    }
    const candidates = [...model.vlans.values()].filter((x) => x.fabricId === p.fabricId && x.space === space && x.vid !== 0).sort((a, b) => a.vid - b.vid);
    const target = candidates[0];
    if (target === undefined) {
      const fabric = p.fabricId === null ? "no fabric (disconnected)" : (vlanLabel(model, p.vlanId).split(" ")[0] ?? "");
      problems.push({ code: "NETWORK_SPACE_UNREACHABLE", role, field, detail: `no tagged VLAN of space ${space} (network ${v.network}) on ${fabric}, the fabric of ${parent}` });
      return;
    }
    const planned: PlannedVlan = { name: `${parent}.${target.vid}`, parent, vlanId: target.id, vid: target.vid, network: v.network, space, ...(v.mtu !== undefined ? { mtu: v.mtu } : {}) };
    layout.vlans.push(planned);
    vlanIfaceOf.set(`${parent}/${v.network}`, planned);
    info.set(planned.name, { vlanId: target.id, fabricId: target.fabricId, space });
  });

  const reached = new Set<string>();
  rules.links.forEach((k, i) => {
    const field = `${at}.links[${i}]`;
    const base = resolve(k.on);
    const space = spaceOf(network, k.network);
    const name = vlanIfaceOf.get(`${base}/${k.network}`)?.name ?? base;
    const f = info.get(name);
    if (f === undefined) {
      problems.push({ code: "LAYOUT_UNKNOWN_INTERFACE", role, field: `${field}.on`, detail: `no interface ${name} to link ${k.network} on` });
      return;
    }
    if (f.space !== space) {
      problems.push({
        code: "NETWORK_SPACE_UNREACHABLE",
        role,
        field,
        detail: `${name} is on ${vlanLabel(model, f.vlanId)}, not in space ${space} (network ${k.network}); add a VLAN of ${k.network} on ${base} under vlans, or link another interface`,
      });
      return;
    }
    const subnet = f.vlanId === null ? undefined : model.subnetsByVlan.get(f.vlanId)?.[0];
    if (subnet === undefined) {
      problems.push({ code: "NETWORK_SPACE_UNREACHABLE", role, field, detail: `${vlanLabel(model, f.vlanId)} (space ${space}) has no subnet to link ${name} to` });
      return;
    }
    reached.add(space);
    layout.links.push({ interface: name, network: k.network, space, subnetId: subnet.id, cidr: subnet.cidr, mode: k.mode, ...(k.defaultGateway !== undefined ? { defaultGateway: k.defaultGateway } : {}) });
  });

  rules.interfaces.forEach((r, i) => {
    const base = resolve(r.on);
    const name = r.network === undefined ? base : (vlanIfaceOf.get(`${base}/${r.network}`)?.name ?? base);
    if (!info.has(name)) {
      problems.push({ code: "LAYOUT_UNKNOWN_INTERFACE", role, field: `${at}.interfaces[${i}].on`, detail: `no interface ${name}` });
      return;
    }
    layout.interfaces.push({ name, ...(r.mtu !== undefined ? { mtu: r.mtu } : {}), tags: [...r.tags] });
  });
  return reached;
}

function vlanLabel(model: NetworkModel, vlanId: number | null): string {
  if (vlanId === null) return "no VLAN (disconnected)";
  const v = model.vlans.get(vlanId);
  if (v === undefined) return `VLAN ${vlanId}`;
  return `${v.fabric} vid ${v.vid} (space ${v.space ?? "undefined"})`;
}

function diskLabel(d: DiskFacts): string {
  return `${d.name} ${d.sizeGiB.toFixed(0)} GiB ${d.kind}${d.tags.length > 0 ? ` [${d.tags.join(",")}]` : ""}${d.boot ? " (boot)" : ""}`;
}

function pickDisk(disks: readonly DiskFacts[], sel: DiskSelector, exclude: ReadonlySet<number>): DiskFacts | undefined {
  const ok = disks.filter((d) => {
    if (exclude.has(d.id)) return false;
    if (sel.kind !== "any" && d.kind !== sel.kind) return false;
    if (sel.minSizeGiB !== undefined && d.sizeGiB < sel.minSizeGiB) return false;
    if (sel.maxSizeGiB !== undefined && d.sizeGiB > sel.maxSizeGiB) return false;
    if (sel.names !== undefined && !sel.names.some((g) => hostnamePattern(g).test(d.name))) return false;
    if (sel.notTags.some((t) => d.tags.includes(t))) return false;
    return true;
  });
  ok.sort((a, b) => (sel.pick === "smallest" ? a.sizeGiB - b.sizeGiB : b.sizeGiB - a.sizeGiB) || a.id - b.id);
  return ok[0];
}

/** Bytes of an absolute MAAS size (`24G` = 24·10⁹); undefined for a percentage. */
export function sizeBytes(s: string | number | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (typeof s === "number") return s;
  const m = /^(\d+(?:\.\d+)?)([KMGTPE]?)$/.exec(s);
  if (m === null) return undefined;
  const pow = " KMGTPE".indexOf(m[2] || " ");
  return Math.floor(Number(m[1]) * 1000 ** pow);
}

function planStorage(input: LayoutInput, role: string, rule: StorageLayoutRule, problems: LayoutProblem[]): PlannedStorage | null {
  const { facts } = input;
  const at = `storage.layouts.${role}`;
  const disks = facts.disks;
  let root: DiskFacts | undefined;
  if (rule.rootDevice !== undefined) {
    root = pickDisk(disks, rule.rootDevice, input.cephDiskIds);
    if (root === undefined) {
      problems.push({ code: "STORAGE_NO_ROOT_DEVICE", role, field: `${at}.rootDevice`, detail: `no disk matches the root device rule; disks: ${disks.map(diskLabel).join(", ") || "none"}` });
      return null;
    }
  } else {
    root = disks.find((d) => d.boot) ?? disks[0];
    if (root === undefined) {
      problems.push({ code: "STORAGE_NO_ROOT_DEVICE", role, field: at, detail: "the machine has no disk" });
      return null;
    }
  }
  if (rule.layout === "blank") {
    // MAAS refuses to deploy a machine with nothing mounted at `/` (canonical/maas
    // src/maasserver/models/node.py, Node.storage_layout_issues): "Mount the root '/'
    // filesystem to be able to deploy this node." metalwave lays out no partitions of its own
    // after `blank`, so the deploy of every such host would fail; say so before anything changes.
    problems.push({
      code: "STORAGE_NO_ROOT_MOUNT",
      role,
      field: `${at}.layout`,
      detail: `layout blank leaves nothing mounted at '/', and MAAS refuses to deploy such a machine ("Mount the root '/' filesystem to be able to deploy this node."); use flat, lvm or bcache`,
    });
    return null;
  }
  const rootBytes = Math.round(root.sizeGiB * GIB);
  const wanted = (sizeBytes(rule.bootSize) ?? 0) + (sizeBytes(rule.rootSize) ?? 0);
  if (wanted > rootBytes) {
    problems.push({
      code: "STORAGE_TOO_SMALL",
      role,
      field: at,
      detail: `bootSize ${rule.bootSize ?? 0} + rootSize ${rule.rootSize ?? 0} = ${wanted} bytes do not fit on ${root.name} (${rootBytes} bytes)`,
    });
    return null;
  }
  const params: StorageLayoutParams = { storage_layout: rule.layout, root_device: root.id };
  if (rule.bootSize !== undefined) params.boot_size = String(rule.bootSize);
  if (rule.rootSize !== undefined) params.root_size = String(rule.rootSize);
  if (rule.vgName !== undefined) params.vg_name = rule.vgName;
  if (rule.lvName !== undefined) params.lv_name = rule.lvName;
  if (rule.lvSize !== undefined) params.lv_size = String(rule.lvSize);
  if (rule.layout === "bcache") {
    const cache = pickDisk(disks, rule.cacheDevice ?? { kind: "ssd", notTags: ["ceph"], pick: "smallest" }, new Set([...input.cephDiskIds, root.id]));
    if (cache === undefined) {
      problems.push({ code: "STORAGE_NO_ROOT_DEVICE", role, field: `${at}.cacheDevice`, detail: `no disk other than ${root.name} matches the bcache cache device rule; disks: ${disks.map(diskLabel).join(", ")}` });
      return null;
    }
    params.cache_device = cache.id;
    if (rule.cacheMode !== undefined) params.cache_mode = rule.cacheMode;
    if (rule.cacheSize !== undefined) params.cache_size = String(rule.cacheSize);
  }
  return { layout: rule.layout, rootDevice: { id: root.id, name: root.name, sizeGiB: Math.round(root.sizeGiB * 10) / 10 }, params };
}

/** The reserved ranges the layers' load-balancer pools need that MAAS does not have: one problem each. */
export function missingLoadBalancerRanges(network: NetworkConfig, model: NetworkModel, deployment: string): { comment: string; detail: string }[] {
  const out: { comment: string; detail: string }[] = [];
  for (const pattern of network.loadBalancerRanges) {
    const comment = pattern.split("{deployment}").join(deployment);
    if (model.reserved.some((r) => r.comment === comment)) continue;
    const have = model.reserved.map((r) => `${r.startIp}-${r.endIp} "${r.comment}"`);
    out.push({
      comment,
      detail: `MAAS has no reserved IP range with comment "${comment}" (a load-balancer pool of the layers); it has ${have.length} reserved range${have.length === 1 ? "" : "s"}${have.length > 0 ? `: ${have.slice(0, 5).join(", ")}${have.length > 5 ? ", ..." : ""}` : ""}`,
    });
  }
  return out;
}
