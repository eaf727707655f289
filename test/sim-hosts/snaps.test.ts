/**
 * The snaps' CLIs on simulated hosts and their traps (juju-layering.md §4d, §4e): k8s calls
 * time out after 90 s by default and the load balancer is off until enabled; Ceph refuses
 * pool size 1 unless allowed; MicroCeph refuses to remove a member with disks or below
 * quorum, and a disk holding an old OSD without --wipe; MicroOVN keeps its last central.
 */
import { describe, expect, it } from "vitest";
import { jujuWorld } from "./juju-world.ts";

describe("k8s snap", () => {
  it("bootstrap and join-cluster time out at the default 1m30s when the work takes longer; a larger --timeout passes", () => {
    const w = jujuWorld(2);
    const [a, b] = w.hosts as [NonNullable<(typeof w.hosts)[0]>, NonNullable<(typeof w.hosts)[0]>];
    for (const h of [a, b]) w.run(h, "sudo snap install k8s --classic");
    const slow = w.run(a, `sudo k8s bootstrap --address ${a.address}`);
    expect(slow.code).toBe(1);
    expect(slow.err).toContain("context deadline exceeded");
    expect(w.run(a, "sudo k8s bootstrap --timeout bogus").err).toContain('invalid argument "bogus" for "--timeout" flag');
    expect(w.run(a, `sudo k8s bootstrap --address ${a.address} --timeout 5m`).code).toBe(0);
    const token = w.run(a, `sudo k8s get-join-token ${b.hostname}`).out.trim();
    expect(w.run(b, `sudo k8s join-cluster ${token}`).err).toContain("context deadline exceeded");
    expect(w.run(b, `sudo k8s join-cluster ${token} --timeout 3m`).code).toBe(0);
  });

  it("the load balancer is off after bootstrap: LoadBalancer services get an address only once it is enabled, from its CIDRs", () => {
    const w = jujuWorld(1);
    const a = w.hosts[0]!;
    w.run(a, "sudo snap install k8s --classic");
    w.run(a, "sudo k8s bootstrap --timeout 5m");
    w.cloud.kube.upsertService("openstack", "traefik", "LoadBalancer", "10.152.183.20");
    expect(w.run(a, "sudo k8s status").out).toContain("load-balancer:            disabled");
    expect(w.run(a, "sudo k8s get load-balancer.enabled").out).toBe("false\n");
    expect(w.cloud.kube.services.get("openstack/traefik")?.loadBalancerIP).toBeUndefined();
    expect(w.run(a, "sudo k8s set load-balancer.cidrs=10.0.0.5-10.0.0.6 load-balancer.l2-mode=true").code).toBe(0);
    expect(w.cloud.kube.services.get("openstack/traefik")?.loadBalancerIP).toBeUndefined();
    expect(w.run(a, "sudo k8s enable load-balancer").out).toBe("load-balancer enabled.\n");
    expect(w.cloud.kube.externalAddress("openstack", "traefik")).toBe("10.0.0.5");
    expect(w.run(a, "sudo k8s status").out).toContain("load-balancer:            enabled, L2 mode");
    expect(w.run(a, "sudo k8s set load-balancer.cidrs=not-a-cidr").err).toContain('Invalid CIDR or IP range "not-a-cidr"');
    w.run(a, "sudo k8s disable load-balancer");
    expect(w.cloud.kube.services.get("openstack/traefik")?.loadBalancerIP).toBeUndefined();
  });
});

describe("microceph snap", () => {
  function ceph(n: number) {
    const w = jujuWorld(n);
    const [a, ...rest] = w.hosts;
    for (const h of w.hosts) w.run(h, "sudo snap install microceph");
    w.run(a!, "sudo microceph cluster bootstrap");
    for (const h of rest) w.run(h, `sudo microceph cluster join ${w.run(a!, `sudo microceph cluster add ${h.hostname}`).out.trim()}`);
    return { ...w, a: a! };
  }

  it("refuses pool size 1 as Ceph does; pool set-rf, or the flag and --yes-i-really-mean-it, set it", () => {
    const w = ceph(1);
    w.run(w.a, "sudo microceph.ceph osd pool create images");
    const r = w.run(w.a, "sudo microceph.ceph osd pool set images size 1");
    expect(r.code).toBe(1);
    expect(r.err).toContain("configuring pool size as 1 is disabled by default");
    expect(w.run(w.a, "sudo microceph.ceph osd pool get images size").out).toBe("size: 3\n");
    expect(w.run(w.a, "sudo microceph pool set-rf --size 1 images").code).toBe(0);
    expect(w.run(w.a, "sudo microceph.ceph osd pool get images size").out).toBe("size: 1\n");
    w.run(w.a, "sudo microceph.ceph osd pool create vms");
    w.run(w.a, "sudo microceph pool set-rf --size 3 *");
    expect(w.run(w.a, "sudo microceph.ceph osd pool set vms size 1").code).toBe(1);
    w.run(w.a, "sudo microceph.ceph config set global mon_allow_pool_size_one true");
    expect(w.run(w.a, "sudo microceph.ceph osd pool set vms size 1 --yes-i-really-mean-it").code).toBe(0);
  });

  it("cluster remove without --force refuses a member with disks, or one that would leave too few; --force removes", () => {
    const w = ceph(4);
    w.run(w.hosts[3]!, "sudo microceph disk add /dev/disk/by-id/data-3");
    expect(w.run(w.a, "sudo microceph cluster remove node-3").err).toContain("still has disks configured");
    expect(w.run(w.a, "sudo microceph cluster remove node-2").code).toBe(0);
    expect(w.run(w.a, "sudo microceph cluster remove node-1").err).toContain("need at least 3 mon, 1 mds, and 1 mgr");
    expect(w.run(w.a, "sudo microceph cluster remove node-3 --force").code).toBe(0);
  });

  it("a disk that held an OSD of an earlier installation is added only with --wipe", () => {
    const w = ceph(2);
    const b = w.hosts[1]!;
    w.run(b, "sudo microceph disk add /dev/disk/by-id/data-1");
    w.run(w.a, "sudo microceph cluster remove node-1 --force");
    const fresh = w.redeploy(1);
    w.run(fresh, "sudo snap install microceph");
    w.run(fresh, `sudo microceph cluster join ${w.run(w.a, "sudo microceph cluster add node-1").out.trim()}`);
    expect(w.run(fresh, "sudo microceph disk add /dev/disk/by-id/data-1").err).toContain("add it with --wipe");
    expect(w.run(fresh, "sudo microceph disk add /dev/disk/by-id/data-1 --wipe").out).toContain("Success");
  });
});

describe("microovn snap", () => {
  it("joins with a token issued for the node and keeps its last central unless told", () => {
    const w = jujuWorld(2);
    const [a, b] = w.hosts as [NonNullable<(typeof w.hosts)[0]>, NonNullable<(typeof w.hosts)[0]>];
    for (const h of [a, b]) w.run(h, "sudo snap install microovn");
    expect(w.run(a, "sudo microovn status").err).toContain("not yet initialized");
    w.run(a, "sudo microovn cluster bootstrap");
    const t = w.run(a, "sudo microovn cluster add node-1").out.trim();
    expect(w.run(b, `sudo microovn cluster join ${t}`).code).toBe(0);
    expect(w.run(a, "sudo microovn status").out).toContain("Services: central, chassis, switch");
    expect(w.run(a, "sudo microovn disable central").err).toContain("last central");
    expect(w.run(a, "sudo microovn disable central --allow-disable-last-central").code).toBe(0);
  });
});

describe("openstack-hypervisor snap", () => {
  const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  const services = (w: ReturnType<typeof jujuWorld>, h: (typeof w.hosts)[number]) => /openstack-hypervisor\.nova-compute\s+enabled\s+(\S+)/.exec(w.run(h, "snap services openstack-hypervisor").out)?.[1];

  it("nova-compute stays inactive with keystone's admin account and a plain-PEM CA; the service account's whole identity section and a base64 ca.bundle run it", () => {
    const w = jujuWorld(1);
    const h = w.hosts[0]!;
    w.run(h, "sudo snap install openstack-hypervisor");
    const admin = `identity.auth-url=https://10.20.0.100/openstack-keystone/v3 identity.username=admin identity.password=x identity.user-domain-name=admin_domain identity.project-name=admin rabbitmq.url=rabbit://nova:x@10.20.0.101:5672/openstack`;
    expect(w.run(h, `sudo snap set openstack-hypervisor ${admin} 'ca.bundle=${PEM}'`).code).toBe(0);
    expect(services(w, h)).toBe("inactive");
    w.run(h, "sudo snap set openstack-hypervisor identity.user-domain-id=d1 identity.project-domain-id=d1 identity.username=nova-hypervisor");
    // Still inactive: the PEM bundle is not base64, so it is ignored and the https endpoint cannot be verified.
    expect(services(w, h)).toBe("inactive");
    w.run(h, `sudo snap set openstack-hypervisor ca.bundle=${Buffer.from(PEM).toString("base64")}`);
    expect(services(w, h)).toBe("active");
  });
});
