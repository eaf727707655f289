import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLayerFleet } from "./helpers.ts";
import type { LayerFleet } from "./helpers.ts";
import type { Layering } from "../../src/layers/index.ts";

describe("layers end to end on a simulated fleet", () => {
  let lf: LayerFleet;
  let layering: Layering;
  beforeAll(async () => {
    lf = await startLayerFleet();
    layering = lf.layering();
  });
  afterAll(async () => lf.f.close());

  it("bootstraps a Juju controller on the first machine and enables HA across three", async () => {
    const r = await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    expect(r.failed).toEqual([]);
    const ctl = lf.f.hosts.cloud.juju.get("metalwave");
    expect(ctl?.machines.map((m) => [m.address, m.hasVote])).toEqual(lf.hosts.juju.map((h) => [h.address, true]));
  });

  it("forms Kubernetes, waits for Ready nodes, labels them and registers the cloud with Juju", async () => {
    const r = await layering.clusterBarrier("kubernetes", lf.hosts.control);
    expect(r.failed).toEqual([]);
    const nodes = [...lf.f.hosts.cloud.kube.nodes.values()];
    expect(nodes.map((n) => [n.name, n.ready, n.labels["openstack-control-plane"]])).toEqual(lf.hosts.control.map((h) => [h.hostname, true, "enabled"]));
    expect([...(lf.f.hosts.cloud.juju.get("metalwave")?.clouds.keys() ?? [])]).toEqual(["metalwave-k8s"]);
  });

  it("forms MicroCeph with every ceph-tagged disk as an OSD and pool size min(storage, 3)", async () => {
    const r = await layering.clusterBarrier("storage", lf.hosts.storage);
    expect(r.failed).toEqual([]);
    const ceph = lf.f.hosts.cloud.ceph;
    expect(ceph?.members.size).toBe(3);
    expect(ceph?.osds.map((o) => o.path).sort()).toEqual(lf.hosts.storage.flatMap((h) => h.cephDisks).sort());
    expect(lf.hosts.storage.every((h) => h.cephDisks.length === 2)).toBe(true);
    expect(Object.fromEntries(ceph?.pools ?? [])).toEqual({ images: 3, volumes: 3, vms: 3 });
  });

  it("deploys the control plane with replicas from the control count, related and active", async () => {
    const r = await layering.clusterBarrier("control-plane", lf.hosts.control);
    expect(r.failed).toEqual([]);
    const model = lf.f.hosts.cloud.juju.get("metalwave")?.models.get("openstack");
    const scales = Object.fromEntries([...(model?.apps.values() ?? [])].map((a) => [a.name, a.scale]));
    expect(scales).toMatchObject({ mysql: 3, rabbitmq: 3, keystone: 3, nova: 3, "certificate-authority": 1, traefik: 3 });
    expect(model?.relations.length).toBe(25);
  });

  it("configures the hypervisor on every compute host with the control plane's endpoints", async () => {
    await Promise.all(lf.hosts.compute.map((h) => layering.layerHost(h)));
    for (const h of lf.hosts.compute) {
      const snap = lf.f.hosts.host(h.systemId)?.snaps.get("openstack-hypervisor");
      expect(snap?.config.get("identity.auth-url")).toMatch(/^http:\/\/10\.152\.183\.\d+\/openstack-keystone\/v3$/);
      expect(snap?.config.get("rabbitmq.url")).toMatch(/^rabbit:\/\/nova:[a-z0-9]+@10\.152\.183\.\d+:5672\/openstack$/);
      expect(snap?.config.get("ca.bundle")).toContain("BEGIN CERTIFICATE");
    }
  });

  it("re-running every finished layer runs only checks and queries", async () => {
    const before = lf.history();
    const again = lf.layering();
    await again.clusterBarrier("juju-controller", lf.hosts.juju);
    await again.clusterBarrier("kubernetes", lf.hosts.control);
    await again.clusterBarrier("storage", lf.hosts.storage);
    await again.clusterBarrier("control-plane", lf.hosts.control);
    await Promise.all([...lf.hosts.compute, ...lf.hosts.juju, ...lf.hosts.storage].map((h) => again.layerHost(h)));
    const after = lf.history();
    const added = [...after].flatMap(([host, cmds]) => cmds.slice(before.get(host)?.length ?? 0));
    expect(added.length).toBeGreaterThan(0);
    const actions = /snap install|snap set|snap restart|bootstrap|join-cluster|cluster join|get-join-token|cluster add|add-machine|enable-ha|add-k8s|add-model|juju deploy|scale-application|integrate|disk add|pool create|pool set|config set/;
    expect(added.filter((c) => actions.test(c))).toEqual([]);
  });
});
