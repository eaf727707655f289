/**
 * Allocate's storage, interface and subnet constraints (maas-network-storage.md §6): the
 * `storage=` grammar in GB of 10⁹ bytes (the first entry is the root device), the
 * `interfaces=` labels by space, fabric, VLAN, name, type or tag, `subnets`/`not_subnets`
 * specifiers, and the device ids `constraints_by_type` reports.
 */
import { formFailure, textFailure } from "../errors.ts";
import type { Params } from "../params.ts";
import type { MachineRecord } from "./records.ts";
import type { RegionState } from "./state.ts";

interface StorageEntry {
  label: string | null;
  bytes: number;
  tags: string[];
}

interface InterfaceEntry {
  label: string;
  terms: [string, string][];
}

export interface Matches {
  storage?: Record<string, (number | string)[]>;
  interfaces?: Record<string, number[]>;
}

const STORAGE_RE = /^(?:([a-zA-Z0-9]+):)?(\d+(?:\.\d+)?)(?:\(([a-zA-Z0-9_,-]*)\))?$/;

/** `[label:]size[(tag,…)]` joined by `,`; anything that does not re-render to itself is malformed (§6). */
export function parseStorage(text: string): StorageEntry[] {
  const out: StorageEntry[] = [];
  const parts = text.match(/[^,(]+(?:\([^)]*\))?/g) ?? [];
  const malformed = () => formFailure({ storage: [`Malformed storage constraint, "${text}".`] });
  if (parts.join(",") !== text) throw malformed();
  for (const p of parts) {
    const m = STORAGE_RE.exec(p);
    if (!m) throw malformed();
    out.push({ label: m[1] ?? null, bytes: Number(m[2]) * 1e9, tags: m[3] ? m[3].split(",").filter((t) => t !== "") : [] });
  }
  return out;
}

const IFACE_KEYS = ["id", "fabric", "fabric_class", "ip", "mode", "name", "hostname", "subnet", "space", "subnet_cidr", "type", "vlan", "vid", "tag", "link_speed"];

export function parseInterfaces(text: string): InterfaceEntry[] {
  const format = "(required format: <label>:<key>=<value>[,<key>=<value>[,...]][;<label>:...])";
  return text.split(";").map((chunk) => {
    const m = /^([a-zA-Z0-9][a-zA-Z0-9_-]*):(.+)$/.exec(chunk);
    if (!m) throw formFailure({ interfaces: [`Malformed constraint: '${chunk}' ${format}`] });
    const terms = (m[2] ?? "").split(",").map((kv): [string, string] => {
      const [k = "", v] = kv.split("=");
      if (v === undefined) throw formFailure({ interfaces: [`Malformed constraint: '${chunk}' ${format}`] });
      const base = k.replace(/^not_/, "");
      if (!IFACE_KEYS.includes(base)) throw formFailure({ interfaces: [`Unknown interfaces constraint: '${k}`] });
      return [k, v];
    });
    return { label: m[1] ?? "", terms };
  });
}

/** The device holding `/` and its size and tags (the root entry matches it, §6). */
function rootDevice(r: RegionState, m: MachineRecord, partition: boolean): { id: number | string; size: number; tags: string[] } | undefined {
  const st = m.storage;
  if (st === null) return undefined;
  const lv = st.lvs.find((l) => l.fs?.mountPoint === "/");
  if (lv) return { id: lv.id, size: lv.size, tags: lv.tags };
  for (const d of st.disks) {
    const spec = m.hw?.disks[d.slot];
    const facts = r.diskFacts(m, d.slot);
    if (spec === undefined || facts === undefined) continue;
    if (d.fs?.mountPoint === "/") return { id: facts.id, size: spec.sizeBytes, tags: facts.tags };
    const p = d.partitions.find((x) => x.fs?.mountPoint === "/");
    if (p) return partition ? { id: `partition:${p.id}`, size: p.size, tags: p.tags } : { id: facts.id, size: spec.sizeBytes, tags: facts.tags };
  }
  return undefined;
}

function matchStorage(r: RegionState, m: MachineRecord, entries: readonly StorageEntry[]): Record<string, (number | string)[]> | null {
  const [root, ...rest] = entries;
  const out: Record<string, (number | string)[]> = {};
  if (root) {
    const wantPartition = root.tags.includes("partition");
    const dev = rootDevice(r, m, wantPartition);
    const tags = root.tags.filter((t) => t !== "partition");
    if (!dev || dev.size < root.bytes || !tags.every((t) => dev.tags.includes(t))) return null;
    if (root.label) out[root.label] = [dev.id];
  }
  const used = new Set<number>();
  for (const e of [...rest].sort((a, b) => b.tags.length - a.tags.length)) {
    const candidates: { id: number; size: number }[] = [];
    for (const d of m.storage?.disks ?? []) {
      const facts = r.diskFacts(m, d.slot);
      if (!facts || d.ptable !== null || d.fs !== null || used.has(facts.id)) continue;
      if (facts.spec.sizeBytes >= e.bytes && e.tags.every((t) => facts.tags.includes(t))) candidates.push({ id: facts.id, size: facts.spec.sizeBytes });
    }
    candidates.sort((a, b) => a.size - b.size || a.id - b.id);
    const pick = candidates[0];
    if (!pick) return null;
    used.add(pick.id);
    if (e.label) out[e.label] = [pick.id];
  }
  return out;
}

function ifaceMatches(r: RegionState, m: MachineRecord, ifaceId: number, terms: readonly [string, string][]): boolean {
  const i = m.ifaces.find((x) => x.id === ifaceId);
  if (!i) return false;
  const v = r.net.vlanOf(i.vlanId);
  const values = (key: string): string[] => {
    switch (key) {
      case "space": {
        const s = v?.spaceId == null ? undefined : r.net.spaces.get(v.spaceId);
        return s ? [s.name, String(s.id)] : ["undefined"];
      }
      case "fabric": {
        const f = v ? r.net.fabrics.get(v.fabricId) : undefined;
        return f ? [f.name, String(f.id)] : [];
      }
      case "vid":
        return v ? [String(v.vid)] : [];
      case "vlan":
        return v ? [String(v.id)] : [];
      case "name":
        return [i.name];
      case "type":
        return [i.type];
      case "tag":
        return i.tags;
      case "id":
        return [String(i.id)];
      case "subnet":
      case "subnet_cidr":
        return i.links.flatMap((l) => (l.subnetId === null ? [] : [String(l.subnetId), r.net.subnets.get(l.subnetId)?.cidr ?? ""]));
      case "link_speed":
        return [String(i.speedMbps)];
      default:
        return [];
    }
  };
  // Different keys AND together; a repeated key ORs its values (§6).
  const byKey = new Map<string, string[]>();
  for (const [k, val] of terms) byKey.set(k, [...(byKey.get(k) ?? []), val]);
  for (const [k, wanted] of byKey) {
    const neg = k.startsWith("not_");
    const have = values(neg ? k.slice(4) : k);
    const hit = wanted.some((w) => have.includes(w));
    if (hit === neg) return false;
  }
  return true;
}

function matchInterfaces(r: RegionState, m: MachineRecord, entries: readonly InterfaceEntry[]): Record<string, number[]> | null {
  const out: Record<string, number[]> = {};
  const used = new Set<number>();
  for (const e of entries) {
    const pick = m.ifaces.find((i) => !used.has(i.id) && ifaceMatches(r, m, i.id, e.terms));
    if (!pick) return null;
    used.add(pick.id);
    out[e.label] = [pick.id];
  }
  return out;
}

/** Subnet ids a specifier names: an id, `space:`, `fabric:`, `vid:`, `vlan:`, `ip:`, `cidr:`, `name:` (§6). */
function subnetIds(r: RegionState, spec: string): Set<number> {
  const [kind, value = ""] = spec.includes(":") ? [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)] : ["", spec];
  const out = new Set<number>();
  for (const s of r.net.subnets.values()) {
    const v = r.net.vlans.get(s.vlanId);
    const space = v?.spaceId == null ? undefined : r.net.spaces.get(v.spaceId);
    const fabric = v ? r.net.fabrics.get(v.fabricId) : undefined;
    const hit =
      kind === "space" ? (space ? space.name === value || String(space.id) === value : value === "undefined")
      : kind === "fabric" ? fabric?.name === value || String(fabric?.id) === value
      : kind === "vid" ? String(v?.vid) === value
      : kind === "vlan" ? String(v?.id) === value
      : kind === "name" ? s.name === value
      : kind === "cidr" ? s.cidr === value
      : String(s.id) === value || s.cidr === value;
    if (hit) out.add(s.id);
  }
  return out;
}

/**
 * A predicate and the ids it matched, for allocate's storage, interfaces, subnets and
 * not_subnets. Throws MAAS's 400s (malformed, `spaces` is no constraint) and 404 (unknown space).
 */
export function networkStorageMatcher(r: RegionState, params: Params): (m: MachineRecord) => Matches | null {
  for (const k of ["spaces", "not_spaces"]) if (params.has(k)) throw formFailure({ [k]: ["No such constraint."] });
  const storageText = params.get("storage");
  const storage = storageText ? parseStorage(storageText) : [];
  const ifaceText = params.get("interfaces");
  const ifaces = ifaceText ? parseInterfaces(ifaceText) : [];
  for (const e of ifaces) {
    for (const [k, v] of e.terms) if ((k === "space" || k === "not_space") && v !== "undefined" && r.net.findSpace(v) === undefined) throw textFailure(404, "No Space matches the given query.");
  }
  const want = params.all("subnets").flatMap((s) => s.split(",")).map((s) => subnetIds(r, s));
  const avoid = new Set(params.all("not_subnets").flatMap((s) => s.split(",")).flatMap((s) => [...subnetIds(r, s)]));
  return (m) => {
    const onSubnets = new Set(m.ifaces.flatMap((i) => i.links.flatMap((l) => (l.subnetId === null ? [] : [l.subnetId]))));
    if ([...onSubnets].some((s) => avoid.has(s))) return null;
    if (!want.every((set) => [...set].some((s) => onSubnets.has(s)))) return null;
    const out: Matches = {};
    if (storage.length > 0) {
      const s = matchStorage(r, m, storage);
      if (s === null) return null;
      out.storage = s;
    }
    if (ifaces.length > 0) {
      const i = matchInterfaces(r, m, ifaces);
      if (i === null) return null;
      out.interfaces = i;
    }
    return out;
  };
}
