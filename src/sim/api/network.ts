/**
 * Handlers for fabrics, VLANs, spaces, subnets and IP ranges (maas-network-storage.md
 * §2.1–2.2). Changes to the region's networks need a MAAS admin (§0); reserved IP
 * ranges any user may make.
 */
import { formFailure, SimulatedFailure, textFailure } from "../errors.ts";
import { intToIp, ipToInt } from "../fleet.ts";
import type { Network, Subnet, Vlan } from "../network/model.ts";
import { renderFabric, renderIpRange, renderSpace, renderSpaces, renderSubnet, renderVlan } from "../network/render.ts";
import type { Call, HandlerDef, Reply } from "../routes.ts";
import { admin, isAdmin, ok } from "./common.ts";

const deleted: Reply = { status: 204 };

function fabricOf(net: Network, id: string | undefined): number {
  const n = Number(id);
  if (!Number.isInteger(n) || !net.fabrics.has(n)) throw textFailure(404, "No Fabric matches the given query.");
  return n;
}

function vlanOf(net: Network, fabricId: string | undefined, vid: string | undefined): Vlan {
  const f = fabricOf(net, fabricId);
  const v = [...net.vlans.values()].find((x) => x.fabricId === f && String(x.vid) === vid);
  if (v === undefined) throw textFailure(404, "No VLAN matches the given query.");
  return v;
}

function vlanById(net: Network, id: string | undefined): Vlan {
  const v = net.vlans.get(Number(id));
  if (v === undefined) throw textFailure(404, "No VLAN matches the given query.");
  return v;
}

function spaceParam(net: Network, c: Call): number | null | undefined {
  const s = c.body.get("space");
  if (s === undefined) return undefined;
  if (s === "" || s === "undefined") return null;
  const sp = net.findSpace(s);
  if (sp === undefined) throw formFailure({ space: ["Select a valid choice. That choice is not one of the available choices."] });
  return sp.id;
}

function int(c: Call, key: string): number | undefined {
  const v = c.body.get(key);
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw formFailure({ [key]: ["Enter a whole number."] });
  return n;
}

function updateVlan(c: Call, v: Vlan): Reply {
  admin(c);
  const net = c.region.net;
  const name = c.body.get("name");
  if (name !== undefined) v.name = name;
  const mtu = int(c, "mtu");
  if (mtu !== undefined) v.mtu = mtu;
  const space = spaceParam(net, c);
  if (space !== undefined) v.spaceId = space;
  const description = c.body.get("description");
  if (description !== undefined) v.description = description;
  const dhcp = c.body.bool("dhcp_on");
  if (dhcp === true && !net.subnetsOn(v.id).some((s) => [...net.ranges.values()].some((r) => r.subnetId === s.id && r.type === "dynamic"))) {
    throw formFailure({ dhcp_on: ["dhcp can only be turned on when a dynamic IP range is defined."] });
  }
  if (dhcp !== undefined) v.dhcpOn = dhcp;
  return ok(renderVlan(net, v));
}

function deleteVlan(c: Call, v: Vlan): Reply {
  admin(c);
  if (v.vid === 0) throw textFailure(400, "Cannot delete the default VLAN of a fabric.");
  c.region.net.vlans.delete(v.id);
  return deleted;
}

const vlanActions = (find: (c: Call) => Vlan): HandlerDef["actions"] => [
  { method: "GET", op: null, doc: "Retrieves a VLAN on a given fabric_id.", handler: (c) => ok(renderVlan(c.region.net, find(c))) },
  { method: "PUT", op: null, doc: "Updates a given VLAN.", handler: (c) => updateVlan(c, find(c)) },
  { method: "DELETE", op: null, doc: "Delete VLAN on a given fabric.", handler: (c) => deleteVlan(c, find(c)) },
];

function spaceOf(c: Call) {
  const s = c.region.net.findSpace(c.args[0] ?? "");
  if (s === undefined) throw textFailure(404, "No Space matches the given query.");
  return s;
}

function subnetOf(c: Call): Subnet {
  return c.region.net.getSubnet(c.args[0] ?? "");
}

function rangesOf(net: Network, s: Subnet): { start: number; end: number; purpose: string }[] {
  const out: { start: number; end: number; purpose: string }[] = [];
  if (s.gatewayIp) out.push({ start: ipToInt(s.gatewayIp), end: ipToInt(s.gatewayIp), purpose: "gateway-ip" });
  for (const r of net.ranges.values()) if (r.subnetId === s.id) out.push({ start: r.start, end: r.end, purpose: r.type === "dynamic" ? "dynamic" : "reserved" });
  for (let ip = s.first + 1; ip < s.last && s.last - s.first < 65536; ip++) if (net.isUsed(ip)) out.push({ start: ip, end: ip, purpose: "assigned-ip" });
  return out.sort((a, b) => a.start - b.start);
}

function unreserved(net: Network, s: Subnet): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let next = s.first + 1;
  for (const r of rangesOf(net, s)) {
    if (r.start > next) out.push({ start: next, end: r.start - 1 });
    next = Math.max(next, r.end + 1);
  }
  if (next <= s.last - 1) out.push({ start: next, end: s.last - 1 });
  return out;
}

function rangeOf(c: Call) {
  const r = c.region.net.ranges.get(Number(c.args[0]));
  if (r === undefined) throw textFailure(404, "No IPRange matches the given query.");
  return r;
}

function rangeForm(c: Call, current?: { type: string; start: number; end: number; subnetId: number }): { type: "reserved" | "dynamic"; start: string; end: string; subnet: Subnet; comment: string } {
  const net = c.region.net;
  const errors: Record<string, string[]> = {};
  const type = c.body.get("type") ?? current?.type;
  if (type === undefined || type === "") errors.type = ["This field is required."];
  else if (type !== "reserved" && type !== "dynamic") errors.type = [`Select a valid choice. ${type} is not one of the available choices.`];
  const start = c.body.get("start_ip") ?? (current ? intToIp(current.start) : undefined);
  const end = c.body.get("end_ip") ?? (current ? intToIp(current.end) : undefined);
  if (!start) errors.start_ip = ["This field is required."];
  if (!end) errors.end_ip = ["This field is required."];
  if (Object.keys(errors).length > 0) throw formFailure(errors);
  const spec = c.body.get("subnet");
  const subnet = spec ? net.findSubnet(spec) : current ? net.subnets.get(current.subnetId) : net.subnetOfIp(ipToInt(start ?? ""));
  if (subnet === undefined) throw formFailure({ subnet: ["No subnet found for the given start_ip."] });
  const inside = (ip: string) => ipToInt(ip) > subnet.first && ipToInt(ip) < subnet.last;
  if (!inside(start ?? "")) throw formFailure({ start_ip: [`Start IP address must be within subnet: ${subnet.cidr}.`] });
  if (!inside(end ?? "")) throw formFailure({ end_ip: [`End IP address must be within subnet: ${subnet.cidr}.`] });
  if (ipToInt(end ?? "") < ipToInt(start ?? "")) throw formFailure({ end_ip: ["End IP address must not be less than Start IP address."] });
  if (type === "dynamic" && !isAdmin(c.user)) throw new SimulatedFailure(403, "Unable to create dynamic IP range. You don't have sufficient privileges.", "text/plain; charset=utf-8");
  return { type: type as "reserved" | "dynamic", start: start ?? "", end: end ?? "", subnet, comment: c.body.get("comment") ?? "" };
}

export const networkHandlers: HandlerDef[] = [
  {
    name: "FabricsHandler",
    doc: "Manage fabrics.",
    path: "fabrics/",
    stats: "fabrics",
    collection: true,
    actions: [
      { method: "GET", op: null, doc: "List all fabrics.", handler: (c) => ok([...c.region.net.fabrics.keys()].map((id) => renderFabric(c.region.net, id))) },
      {
        method: "POST",
        op: null,
        doc: "Create a fabric.",
        handler: (c) => {
          admin(c);
          const f = c.region.net.addFabric(c.body.get("name") || null, c.body.get("class_type") || null);
          return ok(renderFabric(c.region.net, f.id));
        },
      },
    ],
  },
  {
    name: "FabricHandler",
    doc: "Manage fabric.",
    path: "fabrics/{id}/",
    stats: "fabric",
    collection: false,
    actions: [
      { method: "GET", op: null, doc: "Read a fabric.", handler: (c) => ok(renderFabric(c.region.net, fabricOf(c.region.net, c.args[0]))) },
      {
        method: "PUT",
        op: null,
        doc: "Update a fabric.",
        handler: (c) => {
          admin(c);
          const f = c.region.net.fabrics.get(fabricOf(c.region.net, c.args[0]));
          const name = c.body.get("name");
          if (f && name) f.name = name;
          if (f && c.body.get("class_type") !== undefined) f.classType = c.body.get("class_type") || null;
          return ok(renderFabric(c.region.net, f?.id ?? 0));
        },
      },
      {
        method: "DELETE",
        op: null,
        doc: "Delete a fabric.",
        handler: (c) => {
          admin(c);
          const id = fabricOf(c.region.net, c.args[0]);
          // §2.1: the default fabric (id 0) cannot be deleted.
          if (id === 0) throw textFailure(400, "Cannot delete the default fabric.");
          for (const v of [...c.region.net.vlans.values()]) if (v.fabricId === id) c.region.net.vlans.delete(v.id);
          c.region.net.fabrics.delete(id);
          return deleted;
        },
      },
    ],
  },
  {
    name: "VlansHandler",
    doc: "Manage VLANs on a fabric.",
    path: "fabrics/{fabric_id}/vlans/",
    stats: "vlans",
    collection: true,
    actions: [
      { method: "GET", op: null, doc: "List all VLANs belonging to fabric.", handler: (c) => ok([...c.region.net.vlans.values()].filter((v) => v.fabricId === fabricOf(c.region.net, c.args[0])).map((v) => renderVlan(c.region.net, v))) },
      {
        method: "POST",
        op: null,
        doc: "Creates a new VLAN.",
        handler: (c) => {
          admin(c);
          const net = c.region.net;
          const f = fabricOf(net, c.args[0]);
          const vid = int(c, "vid");
          if (vid === undefined) throw formFailure({ vid: ["This field is required."] });
          if (vid < 0 || vid > 4094) throw formFailure({ vid: ["VID must be between 0 and 4094."] });
          if ([...net.vlans.values()].some((v) => v.fabricId === f && v.vid === vid)) throw formFailure({ __all__: ["VLAN with this Fabric and Vid already exists."] });
          const v = net.addVlan(f, vid, c.body.get("name") || null);
          v.mtu = int(c, "mtu") ?? 1500;
          v.spaceId = spaceParam(net, c) ?? null;
          v.description = c.body.get("description") ?? "";
          return ok(renderVlan(net, v));
        },
      },
    ],
  },
  { name: "VlanHandler", doc: "Manage a VLAN on a fabric.", path: "fabrics/{fabric_id}/vlans/{vid}/", stats: "vlan", collection: false, actions: vlanActions((c) => vlanOf(c.region.net, c.args[0], c.args[1])) },
  // The VLAN's resource_uri: `vlans/{id}/` by database id (§1 "Extra routes not in describe").
  { name: "VlanHandler", doc: "Manage a VLAN on a fabric.", path: "vlans/{vlan_id}/", stats: "vlan", collection: false, hidden: true, actions: vlanActions((c) => vlanById(c.region.net, c.args[0])) },
  {
    name: "SpacesHandler",
    doc: "Manage spaces.",
    path: "spaces/",
    stats: "spaces",
    collection: true,
    actions: [
      { method: "GET", op: null, doc: "Generates a list of all spaces.", handler: (c) => ok(renderSpaces(c.region.net)) },
      {
        method: "POST",
        op: null,
        doc: "Create a space.",
        handler: (c) => {
          admin(c);
          const name = c.body.get("name") ?? "";
          if (name === "undefined" || [...c.region.net.spaces.values()].some((s) => s.name === name)) throw formFailure({ name: ["Space with this Name already exists."] });
          const s = c.region.net.addSpace(name || `space-${c.region.net.spaces.size + 1}`, c.body.get("description") ?? "");
          return ok(renderSpace(c.region.net, s));
        },
      },
    ],
  },
  {
    name: "SpaceHandler",
    doc: "Manage space.",
    path: "spaces/{id}/",
    stats: "space",
    collection: false,
    actions: [
      {
        method: "GET",
        op: null,
        doc: "Gets a space with the given ID.",
        handler: (c) => {
          const net = c.region.net;
          if (c.args[0] === "undefined" || c.args[0] === "-1") {
            const all = renderSpaces(net);
            const u = all.find((x) => x.id === -1);
            if (u) return ok(u);
          }
          const s = net.findSpace(c.args[0] ?? "");
          if (s === undefined) throw textFailure(404, "No Space matches the given query.");
          return ok(renderSpace(net, s));
        },
      },
      {
        method: "PUT",
        op: null,
        doc: "Updates a space with the given ID.",
        handler: (c) => {
          admin(c);
          const s = spaceOf(c);
          s.name = c.body.get("name") || s.name;
          s.description = c.body.get("description") ?? s.description;
          return ok(renderSpace(c.region.net, s));
        },
      },
      {
        method: "DELETE",
        op: null,
        doc: "Deletes a space with the given ID.",
        handler: (c) => {
          admin(c);
          const s = spaceOf(c);
          for (const v of c.region.net.vlans.values()) if (v.spaceId === s.id) v.spaceId = null;
          c.region.net.spaces.delete(s.id);
          return deleted;
        },
      },
    ],
  },
  {
    name: "SubnetsHandler",
    doc: "Manage subnets.",
    path: "subnets/",
    stats: "subnets",
    collection: true,
    actions: [
      { method: "GET", op: null, doc: "Get a list of all subnets.", handler: (c) => ok([...c.region.net.subnets.values()].map((s) => renderSubnet(c.region.net, s))) },
      {
        method: "POST",
        op: null,
        doc: "Creates a new subnet.",
        handler: (c) => {
          admin(c);
          const net = c.region.net;
          const cidr = c.body.get("cidr");
          if (!cidr) throw formFailure({ cidr: ["This field is required."] });
          if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) throw formFailure({ cidr: ["Required format: <network>/<prefixlen>."] });
          if ([...net.subnets.values()].some((s) => s.cidr === cidr)) throw formFailure({ cidr: ["Subnet with this Cidr already exists."] });
          const vlanSpec = c.body.get("vlan");
          const vlan = vlanSpec ? vlanById(net, vlanSpec) : net.untagged(c.body.get("fabric") ? fabricOf(net, c.body.get("fabric")) : 0);
          const s = net.addSubnet({ cidr, vlanId: vlan.id, gatewayIp: c.body.get("gateway_ip") || null, name: c.body.get("name") || undefined, description: c.body.get("description") ?? "", dnsServers: (c.body.get("dns_servers") ?? "").split(/[,\s]+/).filter((x) => x !== "") });
          return ok(renderSubnet(net, s));
        },
      },
    ],
  },
  {
    name: "SubnetHandler",
    doc: "Manage subnet.",
    path: "subnets/{id}/",
    stats: "subnet",
    collection: false,
    actions: [
      { method: "GET", op: null, doc: "Get information about a subnet with the given ID.", handler: (c) => ok(renderSubnet(c.region.net, subnetOf(c))) },
      {
        method: "PUT",
        op: null,
        doc: "Update a subnet with the given ID.",
        handler: (c) => {
          admin(c);
          const s = subnetOf(c);
          s.name = c.body.get("name") || s.name;
          if (c.body.get("gateway_ip") !== undefined) s.gatewayIp = c.body.get("gateway_ip") || null;
          if (c.body.get("description") !== undefined) s.description = c.body.get("description") ?? "";
          if (c.body.get("dns_servers") !== undefined) s.dnsServers = (c.body.get("dns_servers") ?? "").split(/[,\s]+/).filter((x) => x !== "");
          return ok(renderSubnet(c.region.net, s));
        },
      },
      {
        method: "DELETE",
        op: null,
        doc: "Delete a subnet with the given ID.",
        handler: (c) => {
          admin(c);
          const s = subnetOf(c);
          c.region.net.subnets.delete(s.id);
          for (const r of [...c.region.net.ranges.values()]) if (r.subnetId === s.id) c.region.net.ranges.delete(r.id);
          return deleted;
        },
      },
      {
        method: "GET",
        op: "reserved_ip_ranges",
        doc: "Lists IP ranges currently reserved in the subnet.",
        handler: (c) => {
          const s = subnetOf(c);
          return ok(rangesOf(c.region.net, s).map((r) => ({ start: intToIp(r.start), end: intToIp(r.end), num_addresses: r.end - r.start + 1, purpose: [r.purpose] })));
        },
      },
      {
        method: "GET",
        op: "unreserved_ip_ranges",
        doc: "Lists IP ranges currently unreserved in the subnet.",
        handler: (c) => ok(unreserved(c.region.net, subnetOf(c)).map((r) => ({ start: intToIp(r.start), end: intToIp(r.end), num_addresses: r.end - r.start + 1 }))),
      },
      {
        method: "GET",
        op: "statistics",
        doc: "Returns statistics for the specified subnet.",
        handler: (c) => {
          const s = subnetOf(c);
          const free = unreserved(c.region.net, s);
          const total = s.last - s.first - 1;
          const available = free.reduce((n, r) => n + r.end - r.start + 1, 0);
          const usage = total > 0 ? (total - available) / total : 0;
          return ok({
            num_available: available,
            largest_available: Math.max(0, ...free.map((r) => r.end - r.start + 1)),
            num_unavailable: total - available,
            total_addresses: total,
            usage,
            usage_string: `${Math.round(usage * 100)}%`,
            available_string: `${Math.round((1 - usage) * 100)}%`,
            first_address: intToIp(s.first + 1),
            last_address: intToIp(s.last - 1),
            ip_version: 4,
          });
        },
      },
    ],
  },
  {
    name: "IPRangesHandler",
    doc: "Manage IP ranges.",
    path: "ipranges/",
    stats: "ipranges",
    collection: true,
    actions: [
      { method: "GET", op: null, doc: "List all available IP ranges.", handler: (c) => ok([...c.region.net.ranges.values()].map((r) => renderIpRange(c.region.net, r))) },
      {
        method: "POST",
        op: null,
        doc: "Create a new IP range.",
        handler: (c) => {
          const f = rangeForm(c);
          const r = c.region.net.addRange({ type: f.type, subnetId: f.subnet.id, start: f.start, end: f.end, comment: f.comment, user: c.user });
          return ok(renderIpRange(c.region.net, r));
        },
      },
    ],
  },
  {
    name: "IPRangeHandler",
    doc: "Manage IP range.",
    path: "ipranges/{id}/",
    stats: "iprange",
    collection: false,
    actions: [
      { method: "GET", op: null, doc: "Get IP range.", handler: (c) => ok(renderIpRange(c.region.net, rangeOf(c))) },
      {
        method: "PUT",
        op: null,
        doc: "Update IP range.",
        handler: (c) => {
          const r = rangeOf(c);
          if (r.user !== c.user && !isAdmin(c.user)) throw new SimulatedFailure(403, "Unable to modify IP range. You don't own the IP range.", "text/plain; charset=utf-8");
          const f = rangeForm(c, r);
          Object.assign(r, { type: f.type, subnetId: f.subnet.id, start: ipToInt(f.start), end: ipToInt(f.end), comment: c.body.get("comment") ?? r.comment });
          return ok(renderIpRange(c.region.net, r));
        },
      },
      {
        method: "DELETE",
        op: null,
        doc: "Delete IP range.",
        handler: (c) => {
          const r = rangeOf(c);
          if (r.user !== c.user && !isAdmin(c.user)) throw new SimulatedFailure(403, "Unable to delete IP range. You don't own the IP range.", "text/plain; charset=utf-8");
          c.region.net.ranges.delete(r.id);
          return deleted;
        },
      },
    ],
  },
];

