/**
 * The layers pick each address by MAAS space (src/layers/addresses.ts): the SSH target is
 * the host's management address even when MAAS lists another first, a network served by a
 * space of another name (`network.spaces`) is followed, a site without spaces uses the
 * machine's one address, and a host without an address on the space a layer needs is
 * refused naming the space.
 */
import { describe, expect, it } from "vitest";
import type { Interface, Machine } from "../../src/maas/port.ts";
import { fakeInterface, fakeMachine, fakeSubnet, fakeVlan } from "../fakes/maas.ts";
import { endpointAddress, hostAddressing, hostFromMachine, LayerError } from "../../src/layers/index.ts";

function iface(id: number, name: string, space: string | null, address: string | null): Interface {
  const vlan = fakeVlan({ id: 5000 + id, space: space ?? "undefined" });
  const subnet = fakeSubnet({ id, cidr: "127.0.0.0/8", space: space ?? "undefined", vlan });
  return fakeInterface({ id, name, vlan, links: [{ id, mode: "auto", subnet, ip_address: address }] });
}

function machine(interfaces: Interface[]): Machine {
  const ips = interfaces.flatMap((i) => i.links.map((l) => l.ip_address).filter((a): a is string => typeof a === "string"));
  return fakeMachine({ system_id: "abc123", hostname: "cmp-1", interface_set: interfaces, ip_addresses: ips });
}

describe("addresses by space for the layers", () => {
  it("reaches the host on its management address although MAAS lists its data address first; a node is matched on internal", () => {
    const m = machine([iface(1, "bond0", "data", "127.18.0.5"), iface(2, "eno1", "management", "127.16.0.5"), iface(3, "eno1.100", "internal", "127.17.0.5")]);
    expect(m.ip_addresses[0]).toBe("127.18.0.5");
    const h = hostFromMachine(m, ["compute"]);
    expect(h.address).toBe("127.16.0.5");
    expect(h.addressing?.bySpace).toEqual({ data: ["127.18.0.5"], management: ["127.16.0.5"], internal: ["127.17.0.5"] });
    expect(endpointAddress(h, "kubernetesApi")).toBe("127.16.0.5");
    expect(endpointAddress(h, "kubernetesNode")).toBe("127.17.0.5");
    expect(endpointAddress(h, "hypervisorData")).toBe("127.18.0.5");
  });

  it("follows network.spaces when a network is served by a space of another name", () => {
    const m = machine([iface(1, "eno1", "oam", "127.20.0.9"), iface(2, "eno2", "mgmt", "127.21.0.9")]);
    const h = hostFromMachine(m, ["juju-controller"], { spaces: { management: "mgmt" } });
    expect(h.address).toBe("127.21.0.9");
  });

  it("uses the machine's first address on a site without spaces", () => {
    const m = machine([iface(1, "enp1s0", null, "127.0.5.1"), iface(2, "enp2s0", null, "127.0.5.2")]);
    const h = hostFromMachine(m, ["control"]);
    expect(h.address).toBe("127.0.5.1");
    expect(endpointAddress(h, "cephCluster")).toBe("127.0.5.1");
  });

  it("refuses a host with spaced links but none on the space a layer needs, naming the space and where its addresses are", () => {
    const m = machine([iface(1, "eno1", "internal", "127.17.0.7"), iface(2, "bond0", "data", "127.18.0.7")]);
    let e: unknown;
    try {
      hostFromMachine(m, ["compute"]);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(LayerError);
    expect(e).toMatchObject({ code: "LAYER_PRECONDITION", systemId: "abc123", hostname: "cmp-1", step: "address" });
    expect((e as Error).message).toContain("no address on MAAS space management (network management, which ssh binds to); its addresses are on data, internal");
    const addressing = hostAddressing(m);
    expect(() => endpointAddress({ systemId: "abc123", hostname: "cmp-1", addressing }, "cephPublic")).toThrow(/MAAS space storage/);
  });

  it("a machine without any address is refused as before", () => {
    expect(() => hostFromMachine(machine([]), ["compute"])).toThrow(/reports no IP address/);
  });
});
