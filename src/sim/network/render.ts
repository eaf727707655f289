/**
 * MAAS-shaped JSON for the network model (maas-network-storage.md §2.2, §2.3, §8; shapes
 * checked against maas-examples/{fabrics,spaces,subnets,ipranges,machines}.json).
 * Link keys are omitted, never null (gomaasapi rejects a null `ip_address`).
 */
import { intToIp } from "../fleet.ts";
import { childrenOf, effectiveMtu } from "./interfaces.ts";
import type { Iface } from "./interfaces.ts";
import type { IpRange, Network, Space, Subnet, Vlan } from "./model.ts";

const API = "/MAAS/api/2.0";

export function renderVlan(net: Network, v: Vlan): Record<string, unknown> {
  return {
    vid: v.vid,
    mtu: v.mtu,
    dhcp_on: v.dhcpOn,
    external_dhcp: null,
    relay_vlan: null,
    fabric: net.fabrics.get(v.fabricId)?.name ?? `fabric-${v.fabricId}`,
    space: net.spaceName(v),
    primary_rack: v.primaryRack,
    secondary_rack: null,
    // The fabric's first VLAN always renders `untagged` (§2.1).
    name: v.vid === 0 ? "untagged" : v.name,
    id: v.id,
    fabric_id: v.fabricId,
    resource_uri: `${API}/vlans/${v.id}/`,
  };
}

export function renderSubnet(net: Network, s: Subnet): Record<string, unknown> {
  const v = net.vlans.get(s.vlanId);
  return {
    name: s.name,
    description: s.description,
    vlan: v ? renderVlan(net, v) : null,
    cidr: s.cidr,
    rdns_mode: 2,
    gateway_ip: s.gatewayIp,
    dns_servers: s.dnsServers,
    allow_dns: true,
    allow_proxy: true,
    active_discovery: false,
    managed: true,
    disabled_boot_architectures: [],
    id: s.id,
    space: net.spaceName(v),
    resource_uri: `${API}/subnets/${s.id}/`,
  };
}

export function renderFabric(net: Network, id: number): Record<string, unknown> {
  const f = net.fabrics.get(id);
  return {
    id,
    name: f?.name ?? `fabric-${id}`,
    class_type: f?.classType ?? null,
    vlans: [...net.vlans.values()].filter((v) => v.fabricId === id).map((v) => renderVlan(net, v)),
    resource_uri: `${API}/fabrics/${id}/`,
  };
}

export function renderSpace(net: Network, s: Space): Record<string, unknown> {
  const vlans = [...net.vlans.values()].filter((v) => v.spaceId === s.id);
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    vlans: vlans.map((v) => renderVlan(net, v)),
    subnets: [...net.subnets.values()].filter((x) => vlans.some((v) => v.id === x.vlanId)).map((x) => renderSubnet(net, x)),
    resource_uri: `${API}/spaces/${s.id}/`,
  };
}

/** `GET spaces/` lists a pseudo-space `undefined` (id -1) holding what has no space, while any VLAN lacks one (§2.2). */
export function renderSpaces(net: Network): Record<string, unknown>[] {
  const out = [...net.spaces.values()].map((s) => renderSpace(net, s));
  const loose = [...net.vlans.values()].filter((v) => v.spaceId === null);
  if (loose.length > 0) {
    out.push({
      id: -1,
      name: "undefined",
      description: "",
      vlans: loose.map((v) => renderVlan(net, v)),
      subnets: [...net.subnets.values()].filter((x) => loose.some((v) => v.id === x.vlanId)).map((x) => renderSubnet(net, x)),
      resource_uri: `${API}/spaces/undefined/`,
    });
  }
  return out;
}

export function renderUserRef(username: string): Record<string, unknown> {
  return { is_superuser: true, username, email: `${username}@example.com`, is_local: true, resource_uri: `${API}/users/${username}/` };
}

export function renderIpRange(net: Network, r: IpRange): Record<string, unknown> {
  const s = net.subnets.get(r.subnetId);
  return {
    id: r.id,
    type: r.type,
    start_ip: intToIp(r.start),
    end_ip: intToIp(r.end),
    comment: r.comment,
    user: renderUserRef(r.user),
    subnet: s ? renderSubnet(net, s) : null,
    resource_uri: `${API}/ipranges/${r.id}/`,
  };
}

export function renderInterface(net: Network, systemId: string, ifaces: readonly Iface[], i: Iface, hw: { vendor: string; product: string } | undefined): Record<string, unknown> {
  const v = net.vlanOf(i.vlanId);
  const names = (list: readonly Iface[]) => list.map((x) => x.name).sort();
  return {
    system_id: systemId,
    name: i.name,
    type: i.type,
    id: i.id,
    mac_address: i.mac,
    enabled: i.enabled,
    tags: [...i.tags],
    params: i.params,
    parents: names(ifaces.filter((x) => i.parents.includes(x.id))),
    children: names(childrenOf(ifaces, i)),
    vlan: v ? renderVlan(net, v) : null,
    links: i.links.map((l) => {
      const s = l.subnetId === null ? undefined : net.subnets.get(l.subnetId);
      return { id: l.id, mode: l.mode, ...(s ? { subnet: renderSubnet(net, s) } : {}), ...(l.ip !== null ? { ip_address: l.ip } : {}) };
    }),
    discovered: null,
    effective_mtu: effectiveMtu(net, ifaces, i),
    numa_node: i.type === "physical" ? 0 : null,
    vendor: hw?.vendor ?? null,
    product: hw?.product ?? null,
    firmware_version: hw ? "1.0" : null,
    link_connected: i.linkConnected,
    link_speed: i.speedMbps,
    interface_speed: i.speedMbps,
    sriov_max_vf: 0,
    resource_uri: `${API}/nodes/${systemId}/interfaces/${i.id}/`,
  };
}
