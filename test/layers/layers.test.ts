/**
 * The layers end to end on a simulated fleet with the strict simulated Juju: the controller
 * with HA, every other host enlisted by manual provisioning, the machine charms by role,
 * Kubernetes through the k8s charm with its load balancer, MicroCeph with an OSD per
 * ceph-tagged disk, OVN before the control plane, the control plane with every mandatory
 * relation (the simulated charms stay blocked without them), and the hypervisors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLayerFleet } from "./helpers.ts";
import type { LayerFleet } from "./helpers.ts";
import type { Layering } from "../../src/layers/index.ts";

// Real SSH to every simulated host, hundreds of juju commands per layer: seconds on an idle machine, more on a loaded one.
describe("layers end to end on a simulated fleet (strict Juju)", { timeout: 120_000 }, () => {
  let lf: LayerFleet;
  let layering: Layering;
  beforeAll(async () => {
    lf = await startLayerFleet();
    layering = lf.layering();
  });
  afterAll(async () => lf.f.close());
  const world = () => lf.f.hosts.cloud.jujuWorld.controller("metalwave");

  it("bootstraps a Juju controller on the first machine and enables HA across three, waited on", async () => {
    const r = await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    expect(r.failed).toEqual([]);
    const ctl = world().models.get("controller");
    expect([...(ctl?.machines.values() ?? [])].map((m) => [m.host?.address, m.wantsVoteSince !== undefined])).toEqual(lf.hosts.juju.map((h) => [h.address, true]));
  });

  it("enlists the control hosts in the machine model and forms Kubernetes through the k8s charm with the load balancer on (L2, MAAS's reserved range)", async () => {
    const r = await layering.clusterBarrier("kubernetes", lf.hosts.control);
    expect(r.failed).toEqual([]);
    const mm = world().models.get("openstack-machines");
    expect([...(mm?.machines.values() ?? [])].map((m) => m.instanceId).sort()).toEqual(lf.hosts.control.map((h) => `manual:${h.address}`).sort());
    expect(mm?.apps.get("k8s")?.config).toMatchObject({ "load-balancer-enabled": "true", "load-balancer-l2-mode": "true", "load-balancer-cidrs": "127.254.0.1-127.254.0.62" });
    expect(mm?.apps.get("sunbeam-machine")?.units.size).toBe(3);
    const nodes = [...lf.f.hosts.cloud.kube.nodes.values()];
    expect(nodes.map((n) => [n.name, n.ready, n.labels["openstack-control-plane"]]).sort()).toEqual(lf.hosts.control.map((h) => [h.hostname, true, "enabled"]).sort());
    expect([...world().clouds.keys()]).toContain("metalwave-k8s");
  });

  it("forms MicroCeph with every ceph-tagged disk as an OSD (OSDs = tagged disks) and pool size min(storage, 3)", async () => {
    const r = await layering.clusterBarrier("storage", lf.hosts.storage);
    expect(r.failed).toEqual([]);
    const ceph = lf.f.hosts.cloud.ceph;
    expect(ceph?.osds.map((o) => o.path).sort()).toEqual(lf.hosts.storage.flatMap((h) => h.cephDisks).sort());
    expect(lf.hosts.storage.every((h) => h.cephDisks.length === 2)).toBe(true);
    expect(ceph?.defaultSize).toBe(3);
    expect(world().models.get("openstack-machines")?.offers.has("microceph")).toBe(true);
  });

  it("puts OVN on the control hosts, then the control plane with every mandatory relation, all active, with load-balancer addresses for traefik and rabbitmq", async () => {
    const r = await layering.clusterBarrier("control-plane", lf.hosts.control);
    expect(r.failed).toEqual([]);
    const cloud = await layering.report();
    const cp = cloud.applications.filter((a) => a.model === "openstack");
    expect(cp.map((a) => a.name)).toEqual(expect.arrayContaining(["mysql", "rabbitmq", "keystone", "glance", "nova", "placement", "neutron", "cinder", "horizon", "traefik"]));
    expect(cloud.applications.filter((a) => a.status !== "active")).toEqual([]);
    expect(Object.fromEntries(cp.map((a) => [a.name, a.units.total]))).toMatchObject({ mysql: 3, rabbitmq: 3, keystone: 3, nova: 3, "certificate-authority": 1, traefik: 3 });
    // The mandatory relations the old templates lacked, the cross-model ones among them.
    const rel = (a: string, b: string) => cloud.relations.find((x) => x.endpoints.includes(a) && x.endpoints.includes(b));
    // Every service's database through its own router (mysql-router-k8s at the service's scale), none straight to mysql.
    for (const [svc, ep, router] of [["keystone", "database", "keystone"], ["glance", "database", "glance"], ["nova", "database", "nova"], ["nova", "api-database", "nova-api"], ["nova", "cell-database", "nova-cell"], ["placement", "database", "placement"], ["neutron", "database", "neutron"], ["cinder", "database", "cinder"], ["horizon", "database", "horizon"]] as const) {
      expect(rel(`${svc}:${ep}`, `${router}-mysql-router:database`)).toMatchObject({ crossModel: false });
      expect(rel(`${router}-mysql-router:backend-database`, "mysql:database")).toMatchObject({ crossModel: false });
      expect(cp.find((a) => a.name === `${router}-mysql-router`)).toMatchObject({ charm: "mysql-router-k8s", status: "active", units: { total: 3, active: 3 } });
    }
    expect(cloud.relations.filter((x) => x.endpoints.includes("mysql:database")).map((x) => x.endpoints.find((e) => e !== "mysql:database")).sort()).toEqual(
      ["cinder", "cinder-volume", "glance", "horizon", "keystone", "neutron", "nova", "nova-api", "nova-cell", "placement"].map((r) => `${r}-mysql-router:backend-database`).sort(),
    );
    expect(rel("cinder-volume:database", "cinder-volume-mysql-router")).toMatchObject({ crossModel: true });
    expect(rel("nova:placement", "placement:placement")).toBeDefined();
    expect(rel("nova:traefik-route-internal", "traefik:traefik-route")).toBeDefined();
    expect(rel("neutron:ovsdb-cms", "sunbeam-ovn-proxy")).toMatchObject({ crossModel: true });
    expect(rel("cinder:storage-backend", "cinder-volume")).toMatchObject({ crossModel: true });
    expect(rel("glance:ceph", "microceph")).toMatchObject({ crossModel: true });
    expect(Object.keys(cloud.loadBalancer)).toEqual(expect.arrayContaining(["traefik", "rabbitmq"]));
    for (const ip of [cloud.loadBalancer["traefik"], cloud.loadBalancer["rabbitmq"]]) expect(ip).toMatch(/^127\.254\.0\.\d+$/);
    expect(cloud.ovn.chassis).toEqual(lf.hosts.control.map((h) => h.hostname).sort());
  });

  it("gives every compute host its hypervisor through its relations: an OVN chassis and an up compute service on each", async () => {
    await Promise.all(lf.hosts.compute.map((h) => layering.layerHost(h)));
    const cloud = await layering.report();
    const compute = lf.hosts.compute.map((h) => h.hostname).sort();
    expect(cloud.hypervisors).toEqual({ computeHosts: compute, computeServicesUp: compute, source: "nova" });
    expect(cloud.ovn.chassis).toEqual(expect.arrayContaining(compute));
    expect(cloud.applications.filter((a) => a.status !== "active")).toEqual([]);
    expect(cloud.ceph).toEqual({ osds: 6, taggedDisks: 6 });
    expect(cloud.controllers.ha).toBe("ha-enabled");
    for (const h of lf.hosts.compute) expect(lf.f.hosts.host(h.systemId)?.snaps.has("openstack-hypervisor")).toBe(true);
  });

  it("re-running every finished layer changes nothing in Juju: only checks and queries", async () => {
    const before = lf.history();
    const again = lf.layering();
    await again.clusterBarrier("juju-controller", lf.hosts.juju);
    await again.clusterBarrier("kubernetes", lf.hosts.control);
    await again.clusterBarrier("storage", lf.hosts.storage);
    await again.clusterBarrier("control-plane", lf.hosts.control);
    await Promise.all([...lf.hosts.compute, ...lf.hosts.juju, ...lf.hosts.storage, ...lf.hosts.control].map((h) => again.layerHost(h)));
    const after = lf.history();
    const added = [...after].flatMap(([host, cmds]) => cmds.slice(before.get(host)?.length ?? 0));
    expect(added.length).toBeGreaterThan(0);
    const changes = /snap install|bootstrap|add-machine|enable-ha|add-k8s|add-model|juju deploy|add-unit|scale-application|integrate|juju offer|add-space|move-to-space|add-osd|juju config \S+ \S+ \S+=/;
    expect(added.filter((c) => changes.test(c))).toEqual([]);
    // Every control host's node carries the k8s charm's node-labels (its LabelMaker runs on every reconcile, not only on join).
    const nodes = [...lf.f.hosts.cloud.kube.nodes.values()];
    expect(nodes.map((n) => [n.name, n.labels["sunbeam/deployment"]]).sort()).toEqual(lf.hosts.control.map((h) => [h.hostname, "metalwave"]).sort());
  });
});
