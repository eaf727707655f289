// Builders for role tests: MAAS machine objects shaped as src/maas/schemas.ts parses them
// (and as the simulator renders them), tags and generated fleets. The region they sit in is
// test/fakes/maas.ts (FakeMaas).
import type { Machine, Tag } from "../../src/maas/port.ts";
import { MachineSchema, TagSchema } from "../../src/maas/schemas.ts";
import { NodeStatus, STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";
import { RolesConfigSchema, type RolesConfig, type RolesConfigInput } from "../../src/roles/schema.ts";

const API = "/MAAS/api/2.0";
const GB = 1e9;

export interface DiskSpec {
  /** Decimal GB as vendors label disks (MAAS reports bytes). */
  gb: number;
  kind?: "ssd" | "hdd" | "nvme";
  tags?: string[];
}

export interface MachineSpec {
  hostname: string;
  systemId?: string;
  zone?: string;
  pool?: string | null;
  arch?: string | null;
  cores?: number;
  memoryMiB?: number;
  disks?: DiskSpec[];
  /** Mb/s per physical NIC; null = MAAS reports no speed. */
  nics?: (number | null)[];
  tags?: string[];
  status?: NodeStatusCode;
  owner?: string | null;
  locked?: boolean;
  /** Leave boot_disk null, as MAAS does before deployment on some versions. */
  noBootDisk?: boolean;
}

/** A stable 6-character system_id from the hostname, like MAAS's. */
export function sidFor(hostname: string): string {
  let h = 2166136261;
  for (let i = 0; i < hostname.length; i++) h = Math.imul(h ^ hostname.charCodeAt(i), 16777619) >>> 0;
  return h.toString(36).padStart(6, "0").slice(-6);
}

let deviceSeq = 1;

export function machine(spec: MachineSpec): Machine {
  const sid = spec.systemId ?? sidFor(spec.hostname);
  const status = spec.status ?? NodeStatus.READY;
  const zone = spec.zone ?? "zone-1";
  const pool = spec.pool === undefined ? "default" : spec.pool;
  const disks = (spec.disks ?? [{ gb: 960, kind: "ssd" }]).map((d, i) => {
    const id = deviceSeq++;
    const name = d.kind === "nvme" ? `nvme${i}n1` : `sd${String.fromCharCode(97 + i)}`;
    return {
      id,
      name,
      path: `/dev/disk/by-dname/${name}`,
      id_path: `/dev/disk/by-id/wwn-0x5000c500${id.toString(16).padStart(8, "0")}`,
      type: "physical",
      used_for: "Unused",
      tags: d.tags ?? [d.kind === "hdd" ? "rotary" : "ssd"],
      size: d.gb * GB,
      block_size: d.kind === "hdd" ? 4096 : 512,
      used_size: 0,
      available_size: d.gb * GB,
      partitions: [],
      model: d.kind === "hdd" ? "ST16000NM002G" : "SAMSUNG MZ7L3960",
      serial: `S${id}`,
      system_id: sid,
      resource_uri: `${API}/nodes/${sid}/blockdevices/${id}/`,
    };
  });
  const vlan = { id: 5001, fabric: "fabric-0", fabric_id: 0, vid: 0, mtu: 1500, dhcp_on: true, name: "untagged", resource_uri: `${API}/vlans/5001/` };
  const interfaces = (spec.nics ?? [25000, 25000]).map((speed, i) => ({
    id: deviceSeq++,
    name: `eno${i + 1}`,
    type: "physical",
    enabled: true,
    mac_address: `52:54:00:${sid.slice(0, 2)}:${sid.slice(2, 4)}:${String(i).padStart(2, "0")}`,
    vlan,
    links: [],
    effective_mtu: 1500,
    parents: [],
    children: [],
    tags: [],
    ...(speed === null ? {} : { link_speed: speed, interface_speed: speed }),
    resource_uri: `${API}/nodes/${sid}/interfaces/${i}/`,
  }));
  const raw = {
    resource_uri: `${API}/machines/${sid}/`,
    system_id: sid,
    hostname: spec.hostname,
    fqdn: `${spec.hostname}.maas`,
    status,
    status_name: STATUS_LABEL[status],
    status_message: null,
    owner: spec.owner ?? null,
    locked: spec.locked ?? false,
    tag_names: [...(spec.tags ?? [])],
    owner_data: {},
    architecture: spec.arch === undefined ? "amd64/generic" : spec.arch,
    osystem: "",
    distro_series: "",
    power_state: "off",
    power_type: "ipmi",
    memory: spec.memoryMiB ?? 131072,
    cpu_count: spec.cores ?? 32,
    storage: disks.reduce((n, d) => n + d.size, 0) / 1e6,
    ip_addresses: [],
    interface_set: interfaces,
    boot_interface: interfaces[0] ?? null,
    blockdevice_set: disks,
    physicalblockdevice_set: disks,
    boot_disk: spec.noBootDisk ? null : (disks[0] ?? null),
    zone: { name: zone, description: "", resource_uri: `${API}/zones/${zone}/` },
    pool: pool === null ? null : { name: pool, description: "", resource_uri: `${API}/resourcepool/1/` },
    domain: { name: "maas" },
    hardware_info: { system_vendor: "Dell Inc.", system_product: "PowerEdge R650" },
    netboot: true,
    node_type_name: "Machine",
  };
  return MachineSchema.parse(raw);
}

export function tag(name: string, definition = "", comment = ""): Tag {
  return TagSchema.parse({ name, definition, comment, kernel_opts: null, resource_uri: `${API}/tags/${name}/` });
}

export function config(input: RolesConfigInput = {}): RolesConfig {
  return RolesConfigSchema.parse(input);
}

/** Hardware classes like machines/hardware-classes.yaml. */
export const CLASSES = {
  controlSmall: { cores: 16, memoryMiB: 131072, disks: [{ gb: 480, kind: "ssd" }, { gb: 480, kind: "ssd" }], nics: [10000, 10000] },
  computeStd: { cores: 64, memoryMiB: 524288, disks: [{ gb: 960, kind: "ssd" }, { gb: 960, kind: "ssd" }], nics: [25000, 25000] },
  computeLarge: {
    cores: 128,
    memoryMiB: 1048576,
    disks: [{ gb: 960, kind: "ssd" }, { gb: 960, kind: "ssd" }, { gb: 3840, kind: "nvme" }, { gb: 3840, kind: "nvme" }],
    nics: [100000, 100000],
  },
  storageDense: {
    cores: 32,
    memoryMiB: 262144,
    disks: [{ gb: 480, kind: "ssd" }, { gb: 480, kind: "ssd" }, ...Array.from({ length: 10 }, () => ({ gb: 16000, kind: "hdd" as const }))],
    nics: [25000, 25000],
  },
  tiny: { cores: 4, memoryMiB: 8192, disks: [{ gb: 240, kind: "ssd" }], nics: [1000] },
} satisfies Record<string, Omit<MachineSpec, "hostname">>;

export type ClassName = keyof typeof CLASSES;

/** `count` machines of one class, hostnames `${prefix}-NNN`, round-robin over `zones`. */
export function rack(prefix: string, cls: ClassName, count: number, zones: readonly string[] = ["zone-1", "zone-2", "zone-3"], extra: Partial<MachineSpec> = {}): Machine[] {
  return Array.from({ length: count }, (_, i) =>
    machine({ hostname: `${prefix}-${String(i + 1).padStart(4, "0")}`, zone: zones[i % zones.length] ?? "zone-1", ...CLASSES[cls], ...extra }),
  );
}

/** A deterministic shuffle (no Math.random: the tests must not depend on luck). */
export function shuffled<T>(list: readonly T[], seed = 42): T[] {
  const out = [...list];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
