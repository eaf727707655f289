/**
 * The facts role rules match on, read from a MAAS machine object, and the matching
 * itself. Pure: no I/O, no clock. Sizes are converted once here so rules speak in
 * GiB and MiB as operators think, not in the bytes and MB MAAS sends.
 */
import type { PlanningMachine } from "../maas/schemas.ts";
import type { NodeStatusCode } from "../model/maas/status.ts";
import type { CephDiskRule, MatchRule, Range } from "./schema.ts";

const GIB = 1024 ** 3;

export type DiskKind = "ssd" | "hdd" | "unknown";

export interface DiskFacts {
  id: number;
  name: string;
  sizeGiB: number;
  boot: boolean;
  kind: DiskKind;
  tags: string[];
}

export interface NicFacts {
  name: string;
  /** Mb/s; null when MAAS does not report it (older releases, disconnected links). */
  speedMbps: number | null;
}

/** One interface as the layout planner reads it (src/roles/layout-plan.ts). */
export interface InterfaceFacts {
  id: number;
  name: string;
  type: string;
  /** The VLAN's database id, null when disconnected. */
  vlanId: number | null;
  fabricId: number | null;
  /** The VLAN's space name; null for none ("undefined"). */
  space: string | null;
  parents: string[];
  speedMbps: number | null;
}

export interface MachineFacts {
  systemId: string;
  hostname: string;
  zone: string;
  pool: string | null;
  architecture: string | null;
  status: NodeStatusCode;
  statusName: string;
  owner: string | null;
  locked: boolean;
  cores: number;
  memoryMiB: number;
  storageGiB: number;
  disks: DiskFacts[];
  nics: NicFacts[];
  /** Every interface with its VLAN and space (absent on facts built by hand without them). */
  interfaces?: InterfaceFacts[];
  /** The boot interface's name. */
  bootInterface?: string | null;
  tags: string[];
  /** False until commissioning has reported CPU and memory: such a machine matches no rule. */
  commissioned: boolean;
}

/**
 * What the planner takes: MAAS machines (whole, or as planning reads them: a Machine is a
 * PlanningMachine), or their facts already read (a 10,000-machine region is planned from facts).
 */
export type MachineOrFacts = PlanningMachine | MachineFacts;

function isFacts(m: MachineOrFacts): m is MachineFacts {
  return "systemId" in m;
}

function diskKind(tags: readonly string[]): DiskKind {
  // MAAS tags every commissioned disk ssd or rotary.
  if (tags.includes("ssd")) return "ssd";
  if (tags.includes("rotary")) return "hdd";
  return "unknown";
}

/** `link_speed` / `interface_speed` (MAAS ≥ 2.7; absent before). */
function nicSpeed(nic: { link_speed?: number; interface_speed?: number }): number | null {
  for (const v of [nic.link_speed, nic.interface_speed]) if (v !== undefined && v > 0) return v;
  return null;
}

/** MAAS says "undefined" for a VLAN without a space. */
export function spaceName(s: string | null | undefined): string | null {
  return s === undefined || s === null || s === "undefined" ? null : s;
}

export function machineFacts(m: MachineOrFacts): MachineFacts {
  if (isFacts(m)) return m;
  const physical = [...m.physicalblockdevice_set].sort((a, b) => a.id - b.id);
  // Before deployment MAAS may not report boot_disk; it boots from the first disk then.
  const bootId = m.boot_disk?.id ?? physical[0]?.id ?? null;
  const disks: DiskFacts[] = physical.map((d) => ({
    id: d.id,
    name: d.name,
    sizeGiB: d.size / GIB,
    boot: d.id === bootId,
    kind: diskKind(d.tags),
    tags: [...d.tags].sort(),
  }));
  const nics: NicFacts[] = m.interface_set
    .filter((i) => i.type === "physical")
    .map((i) => ({ name: i.name, speedMbps: nicSpeed(i) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    systemId: m.system_id,
    hostname: m.hostname,
    zone: m.zone.name,
    pool: m.pool?.name ?? null,
    architecture: m.architecture,
    status: m.status,
    statusName: m.status_name,
    owner: m.owner,
    locked: m.locked ?? false,
    cores: m.cpu_count,
    memoryMiB: m.memory,
    storageGiB: disks.reduce((n, d) => n + d.sizeGiB, 0),
    disks,
    nics,
    interfaces: m.interface_set.map((i) => ({
      id: i.id,
      name: i.name,
      type: i.type,
      vlanId: i.vlan?.id ?? null,
      fabricId: i.vlan?.fabric_id ?? null,
      space: spaceName(i.vlan?.space),
      parents: [...i.parents],
      speedMbps: nicSpeed(i),
    })),
    bootInterface: m.boot_interface?.name ?? null,
    tags: [...m.tag_names].sort(),
    commissioned: m.cpu_count > 0 && m.memory > 0,
  };
}

export function inRange(value: number, r: Range | undefined): boolean {
  if (r === undefined) return true;
  return (r.min === undefined || value >= r.min) && (r.max === undefined || value <= r.max);
}

const AT_LEAST_ONE: Range = { min: 1 };

interface DiskFilter {
  minSizeGiB?: number | undefined;
  maxSizeGiB?: number | undefined;
  nonBoot?: boolean | undefined;
  kind?: "ssd" | "hdd" | "any" | undefined;
}

export function diskPasses(d: DiskFacts, f: DiskFilter): boolean {
  if (f.nonBoot === true && d.boot) return false;
  if (f.minSizeGiB !== undefined && d.sizeGiB < f.minSizeGiB) return false;
  if (f.maxSizeGiB !== undefined && d.sizeGiB > f.maxSizeGiB) return false;
  if (f.kind !== undefined && f.kind !== "any" && d.kind !== f.kind) return false;
  return true;
}

const patternCache = new Map<string, RegExp>();

/** A glob (`*`, `?`, `[a-c]`, whole name) or `/regex/flags` (anywhere in the name unless anchored). */
export function hostnamePattern(p: string): RegExp {
  let re = patternCache.get(p);
  if (re !== undefined) return re;
  const slashed = /^\/(.*)\/([a-z]*)$/s.exec(p);
  if (slashed !== null) {
    re = new RegExp(slashed[1] ?? "", slashed[2]);
  } else {
    let src = "";
    for (let i = 0; i < p.length; i++) {
      const c = p[i] ?? "";
      if (c === "*") src += ".*";
      else if (c === "?") src += ".";
      else if (c === "[") {
        const end = p.indexOf("]", i + 1);
        if (end < 0) src += "\\[";
        else {
          src += "[" + p.slice(i + 1, end).replace(/\\/g, "\\\\") + "]";
          i = end;
        }
      } else src += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
    re = new RegExp(`^${src}$`);
  }
  patternCache.set(p, re);
  return re;
}

export function architectureMatches(arch: string | null, wanted: readonly string[]): boolean {
  if (arch === null) return false;
  return wanted.some((w) => arch === w || arch.startsWith(`${w}/`));
}

/** True when the machine satisfies every condition the rule states (an empty rule matches all). */
export function matchesRule(f: MachineFacts, rule: MatchRule): boolean {
  if (!inRange(f.cores, rule.cores)) return false;
  if (!inRange(f.memoryMiB, rule.memoryMiB)) return false;
  if (!inRange(f.storageGiB, rule.storageGiB)) return false;
  if (rule.disks !== undefined) {
    const n = f.disks.filter((d) => diskPasses(d, rule.disks ?? {})).length;
    if (!inRange(n, rule.disks.count ?? AT_LEAST_ONE)) return false;
  }
  if (rule.nics !== undefined) {
    const min = rule.nics.minSpeedMbps;
    const n = f.nics.filter((nic) => min === undefined || (nic.speedMbps !== null && nic.speedMbps >= min)).length;
    if (!inRange(n, rule.nics.count ?? AT_LEAST_ONE)) return false;
  }
  if (rule.architecture !== undefined && !architectureMatches(f.architecture, rule.architecture)) return false;
  if (rule.zones !== undefined && !rule.zones.includes(f.zone)) return false;
  if (rule.pools !== undefined && (f.pool === null || !rule.pools.includes(f.pool))) return false;
  if (rule.hostname !== undefined && !hostnamePattern(rule.hostname).test(f.hostname)) return false;
  if (rule.tags !== undefined && !rule.tags.every((t) => f.tags.includes(t))) return false;
  if (rule.notTags !== undefined && rule.notTags.some((t) => f.tags.includes(t))) return false;
  return true;
}

/** The disks a ceph rule selects on this machine. */
export function cephDisksFor(f: MachineFacts, rule: CephDiskRule): DiskFacts[] {
  return f.disks.filter((d) => diskPasses(d, rule));
}

/** One block-device tag to put on, or take off, one disk of a machine. */
export interface DiskTagEdit {
  deviceId: number;
  deviceName: string;
  tag: string;
  action: "add" | "remove";
}

/**
 * What makes this machine's disks carry exactly the tags its roles' disk rules want:
 * of the `managed` tags (every role's cephDisks tag), a disk some rule selects gets the
 * rule's tag and a disk none selects loses it. Disk by disk, tags in the order given.
 */
export function diskTagEdits(f: MachineFacts, managed: readonly string[], rules: readonly CephDiskRule[]): DiskTagEdit[] {
  const want = new Map<number, Set<string>>();
  for (const rule of rules) {
    for (const d of cephDisksFor(f, rule)) {
      let s = want.get(d.id);
      if (s === undefined) want.set(d.id, (s = new Set()));
      s.add(rule.tag);
    }
  }
  const out: DiskTagEdit[] = [];
  for (const d of f.disks) {
    for (const tag of managed) {
      const wanted = want.get(d.id)?.has(tag) ?? false;
      if (wanted === d.tags.includes(tag)) continue;
      out.push({ deviceId: d.id, deviceName: d.name, tag, action: wanted ? "add" : "remove" });
    }
  }
  return out;
}

/** Fastest reported NIC, or null when none reports a speed. */
export function maxNicSpeed(f: MachineFacts): number | null {
  let best: number | null = null;
  for (const n of f.nics) if (n.speedMbps !== null && (best === null || n.speedMbps > best)) best = n.speedMbps;
  return best;
}
