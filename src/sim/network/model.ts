/**
 * The region's networks (maas-network-storage.md §2.1–2.2): fabrics, VLANs, spaces,
 * subnets and IP ranges, numbered as MAAS numbers them (fabric 0 `fabric-0`, VLAN ids from
 * 5001, `vid` apart from `id`), and the addresses handed out on them. Every subnet is a
 * loopback range (fleet.ts), so an address chosen by space is one a simulated host
 * really listens on.
 */
import { cidrBounds, intToIp, ipToInt } from "../fleet.ts";
import type { NetworksSpec } from "../fleet.ts";
import { formFailure, textFailure } from "../errors.ts";

export interface Fabric {
  id: number;
  name: string;
  classType: string | null;
}

export interface Vlan {
  id: number;
  vid: number;
  name: string | null;
  fabricId: number;
  mtu: number;
  dhcpOn: boolean;
  spaceId: number | null;
  primaryRack: string | null;
  description: string;
}

export interface Space {
  id: number;
  name: string;
  description: string;
}

export interface Subnet {
  id: number;
  name: string;
  cidr: string;
  vlanId: number;
  gatewayIp: string | null;
  dnsServers: string[];
  description: string;
  first: number;
  last: number;
}

export interface IpRange {
  id: number;
  type: "reserved" | "dynamic";
  subnetId: number;
  start: number;
  end: number;
  comment: string;
  user: string;
}

/** The rack controller every simulated VLAN with DHCP names (a region has at least one). */
export const RACK_ID = "rack01";

export class Network {
  readonly fabrics = new Map<number, Fabric>();
  readonly vlans = new Map<number, Vlan>();
  readonly spaces = new Map<number, Space>();
  readonly subnets = new Map<number, Subnet>();
  readonly ranges = new Map<number, IpRange>();
  /** Addresses in use (static and auto links), as 32-bit numbers. */
  private readonly used = new Set<number>();
  private nextFabricId = 0;
  // MAAS's migration 0040 restarts the VLAN sequence at 5001 (maas-network-storage.md §2.1).
  private nextVlanId = 5001;
  private nextSpaceId = 1;
  private nextSubnetId = 1;
  private nextRangeId = 1;
  /** True for the region without a fleet `networks:` section: one 127.0.0.0/8 subnet. */
  readonly legacy: boolean;

  constructor(spec: NetworksSpec | undefined, admin: string) {
    this.legacy = spec === undefined;
    if (spec === undefined) {
      const f = this.addFabric("fabric-0");
      const v = this.untagged(f.id);
      v.dhcpOn = true;
      v.primaryRack = RACK_ID;
      this.addSubnet({ cidr: "127.0.0.0/8", vlanId: v.id, gatewayIp: "127.0.0.1" });
      return;
    }
    const spaceIds = new Map<string, number>();
    for (const s of spec.spaces) spaceIds.set(s.name, this.addSpace(s.name, s.description).id);
    spec.fabrics.forEach((fs, fi) => {
      const f = this.addFabric(fs.name);
      for (const vs of fs.vlans) {
        const v = vs.vid === 0 ? this.untagged(f.id) : this.addVlan(f.id, vs.vid, vs.name ?? null);
        if (vs.name !== undefined) v.name = vs.name;
        v.mtu = vs.mtu;
        v.spaceId = vs.space === undefined ? null : (spaceIds.get(vs.space) ?? null);
        for (const ss of vs.subnets) {
          const s = this.addSubnet({ cidr: ss.cidr, vlanId: v.id, gatewayIp: ss.gateway_ip ?? null, name: ss.name, description: ss.description, dnsServers: ss.dns_servers });
          for (const r of ss.ranges) this.addRange({ type: r.type, subnetId: s.id, start: r.start, end: r.end, comment: r.comment, user: admin });
        }
        if (vs.subnets.some((ss) => ss.ranges.some((r) => r.type === "dynamic"))) v.dhcpOn = true;
      }
      // The first fabric's untagged VLAN is where machines PXE-boot: DHCP from the rack.
      if (fi === 0) {
        const u = this.untagged(f.id);
        u.dhcpOn = true;
        u.primaryRack = RACK_ID;
      }
    });
  }

  addFabric(name: string | null, classType: string | null = null): Fabric {
    const id = this.nextFabricId++;
    const f: Fabric = { id, name: name ?? `fabric-${id}`, classType };
    this.fabrics.set(id, f);
    // A new fabric always gets its untagged VLAN (vid 0).
    this.addVlan(id, 0, "untagged");
    return f;
  }

  addVlan(fabricId: number, vid: number, name: string | null): Vlan {
    const v: Vlan = { id: this.nextVlanId++, vid, name, fabricId, mtu: 1500, dhcpOn: false, spaceId: null, primaryRack: null, description: "" };
    this.vlans.set(v.id, v);
    return v;
  }

  untagged(fabricId: number): Vlan {
    for (const v of this.vlans.values()) if (v.fabricId === fabricId && v.vid === 0) return v;
    throw new Error(`fabric ${fabricId} has no untagged VLAN`);
  }

  addSpace(name: string, description = ""): Space {
    const s: Space = { id: this.nextSpaceId++, name, description };
    this.spaces.set(s.id, s);
    return s;
  }

  addSubnet(o: { cidr: string; vlanId: number; gatewayIp: string | null; name?: string; description?: string; dnsServers?: string[] }): Subnet {
    const b = cidrBounds(o.cidr);
    const s: Subnet = { id: this.nextSubnetId++, name: o.name ?? o.cidr, cidr: o.cidr, vlanId: o.vlanId, gatewayIp: o.gatewayIp, dnsServers: o.dnsServers ?? [], description: o.description ?? "", first: b.first, last: b.last };
    this.subnets.set(s.id, s);
    return s;
  }

  addRange(o: { type: "reserved" | "dynamic"; subnetId: number; start: string; end: string; comment: string; user: string }): IpRange {
    const r: IpRange = { id: this.nextRangeId++, type: o.type, subnetId: o.subnetId, start: ipToInt(o.start), end: ipToInt(o.end), comment: o.comment, user: o.user };
    this.ranges.set(r.id, r);
    return r;
  }

  fabricByName(name: string): Fabric | undefined {
    for (const f of this.fabrics.values()) if (f.name === name) return f;
    return undefined;
  }

  vlanOf(id: number | null): Vlan | undefined {
    return id === null ? undefined : this.vlans.get(id);
  }

  spaceName(v: Vlan | undefined): string {
    const s = v?.spaceId == null ? undefined : this.spaces.get(v.spaceId);
    return s?.name ?? "undefined";
  }

  subnetsOn(vlanId: number): Subnet[] {
    return [...this.subnets.values()].filter((s) => s.vlanId === vlanId);
  }

  /** A subnet by id, CIDR or name (MAAS's subnet specifiers `cidr:`, `name:` or a bare value). */
  findSubnet(spec: string): Subnet | undefined {
    const bare = spec.replace(/^(id|cidr|name):/, "");
    if (/^\d+$/.test(bare)) return this.subnets.get(Number(bare));
    for (const s of this.subnets.values()) if (s.cidr === bare || s.name === bare) return s;
    return undefined;
  }

  getSubnet(spec: string): Subnet {
    const s = this.findSubnet(spec);
    if (s === undefined) throw textFailure(404, "No Subnet matches the given query.");
    return s;
  }

  /** A space by id or name; `undefined` is the pseudo-space of VLANs without one (id -1). */
  findSpace(spec: string): Space | undefined {
    if (/^-?\d+$/.test(spec)) return this.spaces.get(Number(spec));
    for (const s of this.spaces.values()) if (s.name === spec) return s;
    return undefined;
  }

  subnetOfIp(ip: number): Subnet | undefined {
    for (const s of this.subnets.values()) if (ip >= s.first && ip <= s.last) return s;
    return undefined;
  }

  inRange(subnetId: number, ip: number, type?: "reserved" | "dynamic"): IpRange | undefined {
    for (const r of this.ranges.values()) if (r.subnetId === subnetId && ip >= r.start && ip <= r.end && (type === undefined || r.type === type)) return r;
    return undefined;
  }

  isUsed(ip: number): boolean {
    return this.used.has(ip);
  }

  /**
   * The next free host address of a subnet, from a preferred one (derived from the
   * machine's index so a fleet's addresses do not depend on request order): not the
   * network or broadcast address, the gateway, an address in a reserved or dynamic
   * range, or one in use. 503 when the subnet is full, as MAAS answers IP exhaustion.
   */
  allocate(s: Subnet, preferred: number): string {
    const size = s.last - s.first - 1;
    if (size <= 0) throw textFailure(503, `No more IPs available in subnet: ${s.cidr}.`);
    const start = preferred >= s.first + 1 && preferred <= s.last - 1 ? preferred - s.first - 1 : 0;
    const gw = s.gatewayIp === null ? -1 : ipToInt(s.gatewayIp);
    const ranges = [...this.ranges.values()].filter((r) => r.subnetId === s.id);
    for (let k = 0; k < size; k++) {
      const ip = s.first + 1 + ((start + k) % size);
      if (ip === gw || this.used.has(ip)) continue;
      const r = ranges.find((x) => ip >= x.start && ip <= x.end);
      if (r !== undefined) {
        k += r.end - ip;
        continue;
      }
      this.used.add(ip);
      return intToIp(ip);
    }
    throw textFailure(503, `No more IPs available in subnet: ${s.cidr}.`);
  }

  /** Claims a given static address; 400 on the `ip_address` field as MAAS's link form says. */
  claim(s: Subnet, ip: string): string {
    const n = ipToInt(ip);
    if (!(n > s.first && n < s.last)) throw formFailure({ ip_address: [`IP address is not in the given subnet '${s.name}'.`] });
    if (this.inRange(s.id, n, "dynamic")) throw formFailure({ ip_address: [`IP address is inside a dynamic range ${intToIp(this.inRange(s.id, n, "dynamic")?.start ?? 0)} to ${intToIp(this.inRange(s.id, n, "dynamic")?.end ?? 0)}.`] });
    if (this.used.has(n)) throw formFailure({ ip_address: [`IP address ${ip} already in use.`] });
    this.used.add(n);
    return ip;
  }

  free(ip: string): void {
    this.used.delete(ipToInt(ip));
  }

  /** The subnet's addresses in use (statistics). */
  usedIn(s: Subnet): number {
    let n = 0;
    for (const ip of this.used) if (ip >= s.first && ip <= s.last) n++;
    return n;
  }
}
