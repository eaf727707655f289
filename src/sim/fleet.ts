/**
 * Fleets as data: hardware classes, zones, pools and groups of machines, read from
 * YAML and validated with zod. Errors name the file and the YAML path at fault.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { SimError } from "./errors.ts";

/** Statuses a machine may start in. Busy ones begin their phase when the simulator starts. */
export const INITIAL_STATUSES = [
  "new",
  "ready",
  "allocated",
  "deployed",
  "broken",
  "failed_commissioning",
  "failed_deployment",
  "commissioning",
  "deploying",
] as const;
export type InitialStatus = (typeof INITIAL_STATUSES)[number];

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;
const name = z.string().regex(NAME_RE, "must be letters, digits, '-' or '_'");

const diskSchema = z.strictObject({
  count: z.number().int().min(1).max(16).default(1),
  size_gb: z.number().positive(),
  kind: z.enum(["ssd", "hdd", "nvme"]),
  model: z.string().min(1).optional(),
});

const nicSchema = z.strictObject({
  count: z.number().int().min(1).max(16).default(1),
  speed_mbps: z.number().int().positive(),
  vendor: z.string().min(1).optional(),
  product: z.string().min(1).optional(),
});

const hardwareClassSchema = z.strictObject({
  architecture: z.string().regex(/^[a-z0-9]+\/[a-z0-9]+$/, "must look like amd64/generic").default("amd64/generic"),
  cpu_count: z.number().int().min(1).max(1024),
  cpu_speed_mhz: z.number().int().positive().default(2400),
  cpu_model: z.string().min(1).default("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"),
  memory_gib: z.number().positive(),
  vendor: z.string().min(1).default("Dell Inc."),
  product: z.string().min(1).default("PowerEdge R650"),
  power_type: z.string().min(1).default("ipmi"),
  disks: z.array(diskSchema).min(1).refine((d) => d.reduce((n, x) => n + x.count, 0) <= 16, "at most 16 disks per machine"),
  nics: z.array(nicSchema).min(1).refine((d) => d.reduce((n, x) => n + x.count, 0) <= 16, "at most 16 NICs per machine"),
});

const statusSchema = z.union(
  [
    z.enum(INITIAL_STATUSES),
    z.partialRecord(z.enum(INITIAL_STATUSES), z.number().min(0)).refine((m) => Object.values(m).some((w) => (w ?? 0) > 0), "needs at least one positive weight"),
  ],
  { error: `must be one of ${INITIAL_STATUSES.join(", ")}, or a map of those to weights` },
);

const groupSchema = z.strictObject({
  class: name,
  count: z.number().int().min(0).max(100_000),
  zone: name.default("default"),
  pool: name.default("default"),
  /** Hostnames `<prefix>-0001`…; without it machines get petnames like a real region. */
  hostname_prefix: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "must be a lower-case DNS label").optional(),
  status: statusSchema.default("new"),
  tags: z.array(name).default([]),
  /** The fabric each NIC is cabled to, by NIC order; the last one repeats. Default: the first fabric. */
  fabrics: z.array(name).min(1).optional(),
});

const zoneSchema = z.strictObject({ name, description: z.string().default("") });

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const ipv4 = z.string().regex(IPV4_RE, "must be an IPv4 address");
// Addresses stay reachable on one machine: every subnet is a loopback range (Linux routes
// all of 127.0.0.0/8 to lo), so a simulated host can listen on its address in each space.
const loopbackCidr = z
  .string()
  .regex(/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}\/(8|9|1\d|2[0-8])$/, "must be a loopback range 127.x.y.z/8 to /28 (the simulator's hosts listen on their addresses)");

const ipRangeSchema = z.strictObject({
  type: z.enum(["reserved", "dynamic"]).default("reserved"),
  start: ipv4,
  end: ipv4,
  comment: z.string().default(""),
});

const subnetSchema = z.strictObject({
  cidr: loopbackCidr,
  name: z.string().min(1).optional(),
  description: z.string().default(""),
  gateway_ip: ipv4.optional(),
  dns_servers: z.array(ipv4).default([]),
  /** Reserved ranges (e.g. the load-balancer pools the layers use) and dynamic ones. */
  ranges: z.array(ipRangeSchema).default([]),
});

const vlanSchema = z.strictObject({
  vid: z.number().int().min(0).max(4094),
  name: z.string().min(1).optional(),
  mtu: z.number().int().min(552).max(65535).default(1500),
  space: name.optional(),
  subnets: z.array(subnetSchema).default([]),
});

const fabricSchema = z.strictObject({ name, vlans: z.array(vlanSchema).default([]) });

const networksSchema = z.strictObject({
  spaces: z.array(zoneSchema).default([]),
  fabrics: z.array(fabricSchema).min(1),
});

const classesFileSchema = z.strictObject({ classes: z.record(name, hardwareClassSchema) });

const fleetFileSchema = z.strictObject({
  description: z.string().optional(),
  /** Files of hardware classes, relative to this file. */
  include: z.array(z.string().min(1)).default([]),
  classes: z.record(name, hardwareClassSchema).default({}),
  zones: z.array(zoneSchema).default([]),
  pools: z.array(zoneSchema).default([]),
  groups: z.array(groupSchema).min(1),
  /** The site's networks (docs/simulator.md "Network model"); one loopback subnet when absent. */
  networks: networksSchema.optional(),
});

export type HardwareClassSpec = z.output<typeof hardwareClassSchema>;
export type GroupSpec = z.output<typeof groupSchema>;
export type NetworksSpec = z.output<typeof networksSchema>;
export type SubnetSpec = z.output<typeof subnetSchema>;
export interface ZoneSpec {
  name: string;
  description: string;
}

/** A fleet with its classes resolved: what `startSimulator({ fleet })` takes. */
export interface FleetSpec {
  classes: Record<string, HardwareClassSpec>;
  zones: ZoneSpec[];
  pools: ZoneSpec[];
  groups: GroupSpec[];
  /** The site's fabrics, VLANs, spaces, subnets and ranges; absent = the one default loopback subnet. */
  networks?: NetworksSpec;
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out === "" ? "(top level)" : out;
}

function zodFail(source: string, error: z.ZodError): SimError {
  const [first, ...others] = error.issues;
  const more = others.slice(0, 4).map((i) => `; ${pathText(i.path)}: ${i.message}`);
  return new SimError("SIM_FLEET_INVALID", `${source}: ${first ? pathText(first.path) : "(top level)"}`, `${first?.message ?? "invalid"}${more.join("")}`, { cause: error });
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new SimError("SIM_FLEET_INVALID", file, "cannot read the file", { cause });
  }
  try {
    return parseYaml(text);
  } catch (cause) {
    throw new SimError("SIM_FLEET_INVALID", file, `not valid YAML (${(cause as Error).message.split("\n")[0]})`, { cause });
  }
}

/**
 * Validates a parsed fleet document; `include`d class files are read relative to `baseDir`.
 * `source` names the document in error messages.
 */
export function parseFleet(doc: unknown, source: string, baseDir = process.cwd()): FleetSpec {
  const parsed = fleetFileSchema.safeParse(doc);
  if (!parsed.success) throw zodFail(source, parsed.error);
  const file = parsed.data;
  const classes: Record<string, HardwareClassSpec> = {};
  for (const inc of file.include) {
    const incPath = resolve(baseDir, inc);
    const incParsed = classesFileSchema.safeParse(readYaml(incPath));
    if (!incParsed.success) throw zodFail(incPath, incParsed.error);
    Object.assign(classes, incParsed.data.classes);
  }
  Object.assign(classes, file.classes);
  const zones = withDefault(file.zones, "zones", source);
  const pools = withDefault(file.pools, "pools", source);
  file.groups.forEach((g, i) => {
    const where = `${source}: groups[${i}]`;
    if (classes[g.class] === undefined) {
      throw new SimError("SIM_FLEET_INVALID", `${where}.class`, `unknown hardware class '${g.class}' (known: ${Object.keys(classes).join(", ") || "none"})`);
    }
    if (!zones.some((z) => z.name === g.zone)) throw new SimError("SIM_FLEET_INVALID", `${where}.zone`, `zone '${g.zone}' is not listed under zones`);
    if (!pools.some((p) => p.name === g.pool)) throw new SimError("SIM_FLEET_INVALID", `${where}.pool`, `pool '${g.pool}' is not listed under pools`);
    g.fabrics?.forEach((f, j) => {
      const known = file.networks?.fabrics.map((x) => x.name) ?? ["fabric-0"];
      if (!known.includes(f)) throw new SimError("SIM_FLEET_INVALID", `${where}.fabrics[${j}]`, `fabric '${f}' is not listed under networks.fabrics (known: ${known.join(", ")})`);
    });
  });
  if (file.networks) checkNetworks(file.networks, source);
  return { classes, zones, pools, groups: file.groups, ...(file.networks ? { networks: file.networks } : {}) };
}

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

/** Network, broadcast and prefix length of an IPv4 CIDR. */
export function cidrBounds(cidr: string): { first: number; last: number; bits: number } {
  const [ip = "", bits = "32"] = cidr.split("/");
  const b = Number(bits);
  const size = 2 ** (32 - b);
  const first = Math.floor(ipToInt(ip) / size) * size;
  return { first, last: first + size - 1, bits: b };
}

/** Names resolve, CIDRs do not overlap, gateways and ranges lie inside their subnet. */
function checkNetworks(n: NetworksSpec, source: string): void {
  const fail = (where: string, message: string): never => {
    throw new SimError("SIM_FLEET_INVALID", `${source}: networks.${where}`, message);
  };
  const spaces = new Set<string>();
  n.spaces.forEach((s, i) => {
    if (s.name === "undefined") fail(`spaces[${i}].name`, "'undefined' is MAAS's name for VLANs without a space; choose another");
    if (spaces.has(s.name)) fail(`spaces[${i}].name`, `duplicate name '${s.name}'`);
    spaces.add(s.name);
  });
  const fabrics = new Set<string>();
  const cidrs: { cidr: string; first: number; last: number; where: string }[] = [];
  n.fabrics.forEach((f, fi) => {
    if (fabrics.has(f.name)) fail(`fabrics[${fi}].name`, `duplicate name '${f.name}'`);
    fabrics.add(f.name);
    const vids = new Set<number>();
    f.vlans.forEach((v, vi) => {
      const at = `fabrics[${fi}].vlans[${vi}]`;
      if (vids.has(v.vid)) fail(`${at}.vid`, `duplicate vid ${v.vid} on fabric '${f.name}'`);
      vids.add(v.vid);
      if (v.space !== undefined && !spaces.has(v.space)) fail(`${at}.space`, `space '${v.space}' is not listed under networks.spaces`);
      v.subnets.forEach((s, si) => {
        const where = `${at}.subnets[${si}]`;
        const b = cidrBounds(s.cidr);
        if (ipToInt(s.cidr.split("/")[0] ?? "") !== b.first) fail(`${where}.cidr`, `${s.cidr} has host bits set (the network is ${intToIp(b.first)}/${b.bits})`);
        const clash = cidrs.find((c) => c.first <= b.last && b.first <= c.last);
        if (clash) fail(`${where}.cidr`, `${s.cidr} overlaps ${clash.cidr} (${clash.where})`);
        cidrs.push({ cidr: s.cidr, first: b.first, last: b.last, where });
        const inside = (ip: string) => ipToInt(ip) > b.first && ipToInt(ip) < b.last;
        if (s.gateway_ip !== undefined && !inside(s.gateway_ip)) fail(`${where}.gateway_ip`, `${s.gateway_ip} is not a host address of ${s.cidr}`);
        s.ranges.forEach((r, ri) => {
          if (!inside(r.start)) fail(`${where}.ranges[${ri}].start`, `${r.start} is not a host address of ${s.cidr}`);
          if (!inside(r.end)) fail(`${where}.ranges[${ri}].end`, `${r.end} is not a host address of ${s.cidr}`);
          if (ipToInt(r.end) < ipToInt(r.start)) fail(`${where}.ranges[${ri}]`, `end ${r.end} comes before start ${r.start}`);
        });
      });
    });
  });
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function withDefault(list: ZoneSpec[], key: string, source: string): ZoneSpec[] {
  const seen = new Set<string>();
  list.forEach((z, i) => {
    if (seen.has(z.name)) throw new SimError("SIM_FLEET_INVALID", `${source}: ${key}[${i}].name`, `duplicate name '${z.name}'`);
    seen.add(z.name);
  });
  // A region always has a "default" zone and pool.
  return seen.has("default") ? list : [{ name: "default", description: "" }, ...list];
}

/** Reads and validates a fleet YAML file. */
export function loadFleetFile(file: string): FleetSpec {
  return parseFleet(readYaml(file), file, dirname(resolve(file)));
}

export function fleetSize(fleet: FleetSpec): number {
  return fleet.groups.reduce((n, g) => n + g.count, 0);
}

const DEFAULT_CLASSES: Record<string, HardwareClassSpec> = {
  "compute-std": hardwareClassSchema.parse({
    cpu_count: 64,
    memory_gib: 512,
    product: "PowerEdge R650",
    disks: [{ count: 2, size_gb: 960, kind: "ssd", model: "SAMSUNG MZ7L3960" }],
    nics: [{ count: 2, speed_mbps: 25000, vendor: "Mellanox Technologies", product: "MT27800 Family [ConnectX-5]" }],
  }),
  "storage-dense": hardwareClassSchema.parse({
    cpu_count: 32,
    memory_gib: 256,
    product: "PowerEdge R740xd2",
    disks: [
      { count: 2, size_gb: 480, kind: "ssd", model: "INTEL SSDSC2KG48" },
      { count: 10, size_gb: 16000, kind: "hdd", model: "ST16000NM002G" },
    ],
    nics: [{ count: 2, speed_mbps: 25000, vendor: "Mellanox Technologies", product: "MT27800 Family [ConnectX-5]" }],
  }),
  "control-small": hardwareClassSchema.parse({
    cpu_count: 16,
    memory_gib: 128,
    product: "PowerEdge R450",
    disks: [{ count: 2, size_gb: 480, kind: "ssd", model: "INTEL SSDSC2KG48" }],
    nics: [{ count: 2, speed_mbps: 10000, vendor: "Intel Corporation", product: "Ethernet Controller X710" }],
  }),
};

/** The plausible fleet `--machines N` builds: three zones, mostly compute, some storage and control. */
/**
 * `hostnamePrefix` (one simulated region of several): hostnames `<prefix>-<zone>-<class>-0001`…
 * instead of petnames, so no two regions list the same hostname.
 */
export function defaultFleet(machines: number, opts: { hostnamePrefix?: string } = {}): FleetSpec {
  const zones = ["az1", "az2", "az3"];
  const mix: [string, number][] = [
    ["compute-std", 0.7],
    ["storage-dense", 0.2],
    ["control-small", 0.1],
  ];
  const groups: GroupSpec[] = [];
  let left = machines;
  zones.forEach((zone, zi) => {
    const inZone = zi === zones.length - 1 ? left : Math.floor(machines / zones.length) + (zi < machines % zones.length ? 1 : 0);
    left -= inZone;
    let zoneLeft = inZone;
    mix.forEach(([cls, share], ci) => {
      const count = ci === mix.length - 1 ? zoneLeft : Math.round(inZone * share);
      const n = Math.min(count, zoneLeft);
      zoneLeft -= n;
      const prefix = opts.hostnamePrefix ? { hostname_prefix: `${opts.hostnamePrefix}-${zone}-${cls}` } : {};
      if (n > 0) groups.push(groupSchema.parse({ class: cls, count: n, zone, pool: "default", ...prefix }));
    });
  });
  return {
    classes: DEFAULT_CLASSES,
    zones: [{ name: "default", description: "" }, ...zones.map((z) => ({ name: z, description: `Availability zone ${z}` }))],
    pools: [{ name: "default", description: "Default pool" }],
    groups,
  };
}
