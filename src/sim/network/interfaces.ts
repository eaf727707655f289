/**
 * A machine's interfaces and their links (maas-network-storage.md §2.3–2.4, §4): physical
 * NICs from the hardware, bonds, VLAN interfaces and bridges made over the API, links in
 * the four modes (auto, DHCP, static, link-up), the addresses auto links claim when
 * deployment starts, and the machine-state rules with MAAS's wrong-state answers.
 */
import { NodeStatus } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import { formFailure, SimulatedFailure, textFailure } from "../errors.ts";
import type { Params } from "../params.ts";
import type { Network, Subnet, Vlan } from "./model.ts";

export type LinkMode = "auto" | "dhcp" | "static" | "link_up";
export type IfaceType = "physical" | "bond" | "bridge" | "vlan";

export interface Link {
  /** MAAS's StaticIPAddress row id: one region-wide sequence, new for every link. */
  id: number;
  mode: LinkMode;
  subnetId: number | null;
  /** Static: claimed when linked; auto: claimed at deploy, released on release. */
  ip: string | null;
}

export type IfaceParams = Record<string, string | number | boolean>;

export interface Iface {
  id: number;
  name: string;
  type: IfaceType;
  mac: string;
  vlanId: number | null;
  /** Parent interface ids (bond members, a VLAN's or bridge's parent). */
  parents: number[];
  params: IfaceParams;
  tags: string[];
  enabled: boolean;
  mtu: number | null;
  links: Link[];
  /** Index into the hardware's NICs, for physical interfaces. */
  slot: number | null;
  speedMbps: number;
  linkConnected: boolean;
}

/** The region-wide sequences interfaces and links draw from. */
export interface IdSource {
  nextId(): number;
}

const S = NodeStatus;

// §4: interface changes are allowed in New, Ready, Allocated, Broken and Failed testing.
const CHANGE_STATES: readonly NodeStatusCode[] = [S.NEW, S.READY, S.ALLOCATED, S.BROKEN, S.FAILED_TESTING];

/** 409 `Cannot <op> interface because the machine is not New, Ready, Allocated, or Broken.` (§4). */
export function assertCanChange(status: NodeStatusCode, op: string, allowDeployed = false): void {
  if (CHANGE_STATES.includes(status) || (allowDeployed && status === S.DEPLOYED)) return;
  throw textFailure(409, `Cannot ${op} interface because the machine is not New, Ready, Allocated, or Broken.`);
}

/** §0: interface edits need a MAAS admin, even for the machine's owner: 403 with an empty body. */
export function assertAdmin(isAdmin: boolean): void {
  if (!isAdmin) throw new SimulatedFailure(403, "", "text/plain; charset=utf-8");
}

export function findIface(ifaces: readonly Iface[], spec: string): Iface {
  const i = /^\d+$/.test(spec) ? ifaces.find((x) => x.id === Number(spec)) : ifaces.find((x) => x.name === spec);
  if (i === undefined) throw textFailure(404, "No Interface matches the given query.");
  return i;
}

export function childrenOf(ifaces: readonly Iface[], i: Iface): Iface[] {
  return ifaces.filter((x) => x.parents.includes(i.id));
}

/** own mtu, else the VLAN's, else 1500, raised to the largest child's (§2.3). */
export function effectiveMtu(net: Network, ifaces: readonly Iface[], i: Iface): number {
  const own = i.mtu ?? net.vlanOf(i.vlanId)?.mtu ?? 1500;
  return Math.max(own, ...childrenOf(ifaces, i).map((c) => effectiveMtu(net, ifaces, c)));
}

function linkUp(ids: IdSource, subnetId: number | null = null): Link {
  return { id: ids.nextId(), mode: "link_up", subnetId, ip: null };
}

/**
 * The networking MAAS sets when commissioning finishes (and restore_networking_configuration
 * restores): the boot NIC `auto` on a subnet of its VLAN (else `dhcp`), the others `link_up`.
 */
export function initialLinks(net: Network, ifaces: Iface[], ids: IdSource): void {
  for (const i of ifaces) {
    for (const l of i.links) if (l.ip !== null) net.free(l.ip);
    if (i.type !== "physical") continue;
    const subnet = i.vlanId === null ? undefined : net.subnetsOn(i.vlanId)[0];
    if (i.slot === 0) i.links = [subnet ? { id: ids.nextId(), mode: "auto", subnetId: subnet.id, ip: null } : { id: ids.nextId(), mode: "dhcp", subnetId: null, ip: null }];
    else i.links = [linkUp(ids)];
  }
}

function bool(params: Params, key: string): boolean | undefined {
  return params.bool(key);
}

function int(params: Params, key: string): number | undefined {
  const v = params.get(key);
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw formFailure({ [key]: ["Enter a whole number."] });
  return n;
}

function choice(params: Params, key: string, choices: readonly string[], fallback: string): string {
  const v = params.get(key);
  if (v === undefined || v === "") return fallback;
  if (!choices.includes(v)) throw formFailure({ [key]: [`'${v}' is not a valid ${key}.  It should be one of: ${choices.map((c) => `'${c}'`).join(", ")}.`] });
  return v;
}

const BOND_MODES = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"] as const;
const LACP_RATES = ["fast", "slow"] as const;
const XMIT_POLICIES = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"] as const;
const BRIDGE_TYPES = ["standard", "ovs"] as const;

/** mtu (min 552) and accept_ra go into params only when given (§2.3). */
function commonParams(params: Params, into: IfaceParams): number | null {
  const mtu = int(params, "mtu");
  if (mtu !== undefined && mtu < 552) throw formFailure({ mtu: ["Ensure this value is greater than or equal to 552."] });
  if (mtu !== undefined) into.mtu = mtu;
  const ra = bool(params, "accept_ra");
  if (ra !== undefined) into["accept-ra"] = ra;
  return mtu ?? null;
}

/** Bond parameters with MAAS's creation defaults (balance-rr, fast; §2.3), then the given ones. */
function bondParams(params: Params, base: IfaceParams = {}): IfaceParams {
  return {
    ...base,
    bond_mode: choice(params, "bond_mode", BOND_MODES, String(base.bond_mode ?? "balance-rr")),
    bond_miimon: int(params, "bond_miimon") ?? Number(base.bond_miimon ?? 100),
    bond_downdelay: int(params, "bond_downdelay") ?? Number(base.bond_downdelay ?? 0),
    bond_updelay: int(params, "bond_updelay") ?? Number(base.bond_updelay ?? 0),
    bond_lacp_rate: choice(params, "bond_lacp_rate", LACP_RATES, String(base.bond_lacp_rate ?? "fast")),
    bond_xmit_hash_policy: choice(params, "bond_xmit_hash_policy", XMIT_POLICIES, String(base.bond_xmit_hash_policy ?? "layer2")),
    bond_num_grat_arp: int(params, "bond_num_grat_arp") ?? Number(base.bond_num_grat_arp ?? 1),
  };
}

function requireName(ifaces: readonly Iface[], name: string | undefined, self?: Iface): string {
  if (name === undefined || name === "") throw formFailure({ name: ["This field is required."] });
  if (ifaces.some((x) => x !== self && x.name === name)) throw formFailure({ name: [`Interface with this name already exists on this node.`] });
  return name;
}

function vlanParam(net: Network, params: Params, key = "vlan"): Vlan | undefined {
  const v = params.get(key);
  if (v === undefined || v === "") return undefined;
  const vlan = /^\d+$/.test(v) ? net.vlans.get(Number(v)) : undefined;
  if (vlan === undefined) throw formFailure({ [key]: ["Select a valid choice. That choice is not one of the available choices."] });
  return vlan;
}

function parentsParam(ifaces: readonly Iface[], params: Params, key: string): Iface[] {
  const ids = params.all(key);
  if (ids.length === 0) throw formFailure({ [key]: ["This field is required."] });
  return ids.map((id) => {
    const p = ifaces.find((x) => String(x.id) === id);
    if (p === undefined) throw formFailure({ [key]: [`Select a valid choice. ${id} is not one of the available choices.`] });
    return p;
  });
}

/** A parent already in a bond or bridge → `Interfaces already in-use: eth0.` (§2.3). */
function assertFree(ifaces: readonly Iface[], parents: readonly Iface[], key: string): void {
  const busy = parents.filter((p) => childrenOf(ifaces, p).some((c) => c.type === "bond" || c.type === "bridge"));
  if (busy.length > 0) throw formFailure({ [key]: [`Interfaces already in-use: ${busy.map((p) => p.name).join(", ")}.`] });
}

function dropLinks(net: Network, i: Iface): void {
  for (const l of i.links) if (l.ip !== null) net.free(l.ip);
  i.links = [];
}

export function createPhysical(net: Network, ifaces: Iface[], ids: IdSource, params: Params): Iface {
  const mac = (params.get("mac_address") ?? "").toLowerCase();
  if (mac === "") throw formFailure({ mac_address: ["This field is required."] });
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw formFailure({ mac_address: [`'${mac}' is not a valid MAC address.`] });
  if (ifaces.some((x) => x.type === "physical" && x.mac === mac)) throw formFailure({ mac_address: ["This MAC address is already in use."] });
  let n = 0;
  while (ifaces.some((x) => x.name === `eth${n}`)) n++;
  const name = params.get("name") || `eth${n}`;
  requireName(ifaces, name);
  const vlan = vlanParam(net, params);
  const p: IfaceParams = {};
  const mtu = commonParams(params, p);
  const i: Iface = { id: ids.nextId(), name, type: "physical", mac, vlanId: vlan?.id ?? null, parents: [], params: p, tags: params.all("tags"), enabled: true, mtu, links: [], slot: null, speedMbps: 0, linkConnected: true };
  if (vlan) i.links = [linkUp(ids)];
  ifaces.push(i);
  return i;
}

export function createBond(net: Network, ifaces: Iface[], ids: IdSource, params: Params): Iface {
  const name = requireName(ifaces, params.get("name"));
  const parents = parentsParam(ifaces, params, "parents");
  assertFree(ifaces, parents, "parents");
  const vlans = new Set(parents.map((p) => p.vlanId));
  if (vlans.size > 1) throw formFailure({ parents: ["All parents must belong to the same VLAN."] });
  const vlan = vlanParam(net, params) ?? net.vlanOf(parents[0]?.vlanId ?? null);
  const p = bondParams(params);
  const mtu = commonParams(params, p);
  const mac = (params.get("mac_address") ?? parents[0]?.mac ?? "").toLowerCase();
  // Saving a bond clears its parents' links and moves them to its VLAN (§2.3).
  for (const parent of parents) {
    dropLinks(net, parent);
    parent.vlanId = vlan?.id ?? null;
  }
  const i: Iface = { id: ids.nextId(), name, type: "bond", mac, vlanId: vlan?.id ?? null, parents: parents.map((x) => x.id), params: p, tags: params.all("tags"), enabled: true, mtu, links: vlan ? [linkUp(ids)] : [], slot: null, speedMbps: Math.max(0, ...parents.map((x) => x.speedMbps)), linkConnected: true };
  ifaces.push(i);
  return i;
}

export function createVlanIface(net: Network, ifaces: Iface[], ids: IdSource, params: Params): Iface {
  const vlan = vlanParam(net, params);
  if (vlan === undefined) throw formFailure({ vlan: ["This field is required."] });
  const [parent] = parentsParam(ifaces, params, "parent");
  if (parent === undefined) throw formFailure({ parent: ["This field is required."] });
  const parentVlan = net.vlanOf(parent.vlanId);
  if (vlan.vid === 0) throw formFailure({ vlan: ["A VLAN interface can only belong to a tagged VLAN."] });
  if (parentVlan === undefined || parentVlan.fabricId !== vlan.fabricId) {
    throw formFailure({ vlan: ["A VLAN interface can only belong to a VLAN on the same fabric as its parent."] });
  }
  const name = `${parent.name}.${vlan.vid}`;
  if (ifaces.some((x) => x.type === "vlan" && x.parents[0] === parent.id && x.vlanId === vlan.id)) {
    throw formFailure({ __all__: [`Interface with this name already exists on this node.`] });
  }
  const p: IfaceParams = {};
  const mtu = commonParams(params, p);
  const i: Iface = { id: ids.nextId(), name, type: "vlan", mac: parent.mac, vlanId: vlan.id, parents: [parent.id], params: p, tags: params.all("tags"), enabled: true, mtu, links: [linkUp(ids)], slot: null, speedMbps: parent.speedMbps, linkConnected: true };
  ifaces.push(i);
  return i;
}

export function createBridge(net: Network, ifaces: Iface[], ids: IdSource, params: Params, allocated: boolean): Iface {
  const [parent] = parentsParam(ifaces, params, "parent");
  if (parent === undefined) throw formFailure({ parent: ["This field is required."] });
  assertFree(ifaces, [parent], "parent");
  const name = requireName(ifaces, params.get("name") || `br-${parent.name}`);
  // On an Allocated machine `vlan` is ignored: the parent's is used (§2.3).
  const vlan = allocated ? net.vlanOf(parent.vlanId) : (vlanParam(net, params) ?? net.vlanOf(parent.vlanId));
  const p: IfaceParams = {
    bridge_type: choice(params, "bridge_type", BRIDGE_TYPES, "standard"),
    bridge_stp: bool(params, "bridge_stp") ?? false,
    bridge_fd: int(params, "bridge_fd") ?? 15,
  };
  const mtu = commonParams(params, p);
  dropLinks(net, parent);
  const i: Iface = { id: ids.nextId(), name, type: "bridge", mac: (params.get("mac_address") ?? parent.mac).toLowerCase(), vlanId: vlan?.id ?? null, parents: [parent.id], params: p, tags: params.all("tags"), enabled: true, mtu, links: vlan ? [linkUp(ids)] : [], slot: null, speedMbps: parent.speedMbps, linkConnected: true };
  ifaces.push(i);
  return i;
}

/** PUT: on a Deployed machine only name, mac_address, link_connected and the speeds (§2.3). */
export function updateIface(net: Network, ifaces: Iface[], ids: IdSource, i: Iface, params: Params, deployed: boolean): void {
  const name = params.get("name");
  if (name !== undefined && name !== i.name) i.name = requireName(ifaces, name, i);
  const mac = params.get("mac_address");
  if (mac !== undefined && mac !== "") i.mac = mac.toLowerCase();
  const connected = bool(params, "link_connected");
  if (connected !== undefined) i.linkConnected = connected;
  const speed = int(params, "interface_speed") ?? int(params, "link_speed");
  if (speed !== undefined) i.speedMbps = speed;
  if (deployed) return;
  const vlan = vlanParam(net, params);
  if (vlan !== undefined && vlan.id !== i.vlanId) {
    i.vlanId = vlan.id;
    dropLinks(net, i);
    i.links = [linkUp(ids)];
  }
  if (i.type === "bond") i.params = bondParams(params, i.params);
  if (i.type === "bridge") {
    i.params.bridge_type = choice(params, "bridge_type", BRIDGE_TYPES, String(i.params.bridge_type ?? "standard"));
    i.params.bridge_stp = bool(params, "bridge_stp") ?? Boolean(i.params.bridge_stp);
    i.params.bridge_fd = int(params, "bridge_fd") ?? Number(i.params.bridge_fd ?? 15);
  }
  const mtu = commonParams(params, i.params);
  if (mtu !== null) i.mtu = mtu;
  const tags = params.all("tags");
  if (tags.length > 0) i.tags = tags.flatMap((t) => t.split(",")).filter((t) => t !== "");
}

export function deleteIface(net: Network, ifaces: Iface[], i: Iface): void {
  dropLinks(net, i);
  for (const c of childrenOf(ifaces, i)) deleteIface(net, ifaces, c);
  const at = ifaces.indexOf(i);
  if (at >= 0) ifaces.splice(at, 1);
}

const MODES: Record<string, LinkMode> = { AUTO: "auto", DHCP: "dhcp", STATIC: "static", LINK_UP: "link_up" };

/** link_subnet (§2.4); returns nothing: the caller renders the whole interface. */
export function linkSubnet(net: Network, ifaces: Iface[], ids: IdSource, i: Iface, params: Params): void {
  const raw = params.get("mode");
  if (raw === undefined || raw === "") throw formFailure({ mode: ["This field is required."] });
  const mode = MODES[raw.toUpperCase()];
  if (mode === undefined) throw formFailure({ mode: [`Select a valid choice. ${raw} is not one of the available choices.`] });
  const bond = childrenOf(ifaces, i).find((c) => c.type === "bond");
  if (bond) throw formFailure({ bond: [`Cannot link interface(${i.name}) when interface is in a bond(${bond.name}).`] });
  const force = bool(params, "force") === true;
  const spec = params.get("subnet");
  let subnet: Subnet | undefined;
  if (spec !== undefined && spec !== "") {
    subnet = net.findSubnet(spec);
    if (subnet === undefined) throw formFailure({ subnet: [`Select a valid choice. That choice is not one of the available choices.`] });
    if (i.vlanId !== null && subnet.vlanId !== i.vlanId && !force) throw formFailure({ subnet: ["Select a valid choice. That choice is not one of the available choices."] });
  }
  if ((mode === "auto" || mode === "static") && subnet === undefined) throw formFailure({ subnet: ["This field is required."] });
  if (mode === "link_up") {
    const others = i.links.filter((l) => l.mode !== "link_up");
    if (others.length > 0 && !force) {
      throw formFailure({ mode: ["Cannot configure interface to link up (with no IP address) while other links are already configured. Specify force=True to override this behavior and delete all links."] });
    }
    dropLinks(net, i);
  }
  if (mode === "dhcp") {
    const dhcp = i.links.find((l) => l.mode === "dhcp");
    if (dhcp) throw formFailure({ mode: [`Interface is already set to DHCP from '${dhcp.subnetId === null ? "" : (net.subnets.get(dhcp.subnetId)?.name ?? "")}'.`] });
  }
  // A linked disconnected NIC adopts the subnet's VLAN.
  if (subnet && i.vlanId === null) i.vlanId = subnet.vlanId;
  // AUTO/DHCP/STATIC replace the link_up link (AUTO also the DHCP one).
  if (mode !== "link_up") i.links = i.links.filter((l) => l.mode !== "link_up" && !(mode === "auto" && l.mode === "dhcp"));
  let ip: string | null = null;
  if (mode === "static" && subnet) {
    const given = params.get("ip_address");
    ip = given !== undefined && given !== "" ? net.claim(subnet, given) : net.allocate(subnet, subnet.first + 1);
  }
  i.links.push({ id: ids.nextId(), mode, subnetId: subnet?.id ?? null, ip });
}

export function unlinkSubnet(net: Network, ids: IdSource, i: Iface, params: Params): void {
  const id = params.get("id");
  if (id === undefined || id === "") throw formFailure({ id: ["This field is required."] });
  const l = i.links.find((x) => String(x.id) === id);
  if (l === undefined) throw formFailure({ id: [`Select a valid choice. ${id} is not one of the available choices.`] });
  if (l.ip !== null) net.free(l.ip);
  i.links = i.links.filter((x) => x !== l);
  // An interface left with no link gets its link_up one back.
  if (i.links.length === 0 && i.vlanId !== null) i.links = [linkUp(ids)];
}

export function disconnect(net: Network, i: Iface): void {
  dropLinks(net, i);
  i.vlanId = null;
}

/** Deployment claims an address for every auto link (§2.4); 503 when a subnet is full. */
export function claimAutoAddresses(net: Network, ifaces: readonly Iface[], preferred: (s: Subnet) => number): void {
  for (const i of ifaces) {
    for (const l of i.links) {
      if (l.mode !== "auto" || l.ip !== null || l.subnetId === null) continue;
      const s = net.subnets.get(l.subnetId);
      if (s) l.ip = net.allocate(s, preferred(s));
    }
  }
}

/** Release gives the auto addresses back (static ones stay). */
export function releaseAutoAddresses(net: Network, ifaces: readonly Iface[]): void {
  for (const i of ifaces) {
    for (const l of i.links) {
      if (l.mode === "auto" && l.ip !== null) {
        net.free(l.ip);
        l.ip = null;
      }
    }
  }
}

/** Deploy needs a link with a subnet that is not link_up: 400 `{"network": [...]}` (§2.4). */
export function assertDeployable(ifaces: readonly Iface[]): void {
  if (!ifaces.some((i) => i.links.some((l) => l.mode !== "link_up" && l.subnetId !== null))) {
    throw formFailure({ network: ["Node must be configured to use a network"] });
  }
}

/** Every address the machine holds, boot interface first. */
export function addressesOf(ifaces: readonly Iface[]): string[] {
  const out: string[] = [];
  const ordered = [...ifaces].sort((a, b) => (a.slot === 0 ? -1 : b.slot === 0 ? 1 : 0));
  for (const i of ordered) for (const l of i.links) if (l.ip !== null) out.push(l.ip);
  return out;
}
