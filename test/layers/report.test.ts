/**
 * The cloud read-back (src/layers/report.ts) from Juju's and Kubernetes' own answers: each
 * relation once with both endpoints (each side's status entry names only its own), a relation to
 * a consumed offer marked crossModel, load-balancer addresses only for services that have one,
 * controllers' HA from show-controller over the controller model's machines.
 */
import { describe, expect, it } from "vitest";
import { loadLayerTemplate, StepRunner, type KubePort, type LayerHost } from "../../src/layers/index.ts";
import { readCloud } from "../../src/layers/report.ts";
import { silentLogger } from "../../src/log.ts";
import type { SshPort } from "../../src/ssh/index.ts";

const client: LayerHost = { systemId: "s0", hostname: "juju-0", address: "10.0.0.1", roles: ["juju-controller"], cephDisks: [] };

const STATUS = {
  applications: {
    keystone: { "charm-name": "keystone-k8s", "application-status": { current: "active" }, relations: { database: [{ "related-application": "mysql", interface: "mysql_client" }] }, units: { "keystone/0": { "workload-status": { current: "active" } }, "keystone/1": { "workload-status": { current: "waiting" } } } },
    mysql: { "charm-name": "mysql-k8s", "application-status": { current: "active" }, relations: { database: [{ "related-application": "keystone", interface: "mysql_client" }] }, units: {} },
    neutron: { "charm-name": "neutron-k8s", "application-status": { current: "blocked", message: "(ovsdb-cms) integration missing" }, relations: { "ovsdb-cms": [{ "related-application": "sunbeam-ovn-proxy", interface: "ovsdb-cms" }] }, units: {} },
  },
  "application-endpoints": { "sunbeam-ovn-proxy": { url: "admin/openstack-machines.sunbeam-ovn-proxy" } },
};
const MACHINES = { machines: { "0": { "dns-name": "10.0.0.1" }, "1": { "dns-name": "10.0.0.2" }, "2": { "dns-name": "10.0.0.3" } } };
const SHOW = { metalwave: { "controller-machines": { "0": { "ha-status": "ha-enabled" }, "1": { "ha-status": "ha-enabled" }, "2": { "instance-id": "(unprovisioned)", "ha-status": "ha-pending" } } } };

const ssh: SshPort = {
  exec: async (_t, command) => {
    const out = /juju status/.test(command) ? STATUS : /juju machines/.test(command) ? MACHINES : /show-controller/.test(command) ? SHOW : undefined;
    if (out === undefined) throw new Error(`unexpected command ${command}`);
    return { exitCode: 0, stdout: JSON.stringify(out), stderr: "" };
  },
  noteDeployed: async () => undefined,
  close: async () => undefined,
};

const kube: KubePort = {
  listNodes: async () => [{ name: "ctl-1", ready: true, labels: {} }],
  labelNode: async () => undefined,
  listServices: async () => [
    { name: "traefik", namespace: "openstack", type: "LoadBalancer", loadBalancerIp: "10.20.0.10" },
    { name: "rabbitmq", namespace: "openstack", type: "LoadBalancer", loadBalancerIp: undefined },
    { name: "keystone", namespace: "openstack", type: "ClusterIP", loadBalancerIp: undefined },
  ],
};

describe("cloud read-back", () => {
  it("reads applications, relations, load-balancer addresses and controllers' HA as Juju and Kubernetes answer them", async () => {
    const steps = new StepRunner(ssh, silentLogger(), { attempts: 1, backoffMs: 0, commandTimeoutMs: 1000 }, async () => undefined);
    const c = await readCloud({
      steps,
      juju: { client, controllerTpl: loadLayerTemplate("juju-controller"), controlPlaneTpl: loadLayerTemplate("control-plane"), model: "openstack", modelExists: true },
      kube,
      taggedDisks: 4,
      computeHosts: ["cmp-2", "cmp-1"],
      ensureOpen: () => undefined,
    });
    expect(c.applications.map((a) => [a.name, a.charm, a.status, a.units])).toEqual([
      ["keystone", "keystone-k8s", "active", { total: 2, active: 1 }],
      ["mysql", "mysql-k8s", "active", { total: 0, active: 0 }],
      ["neutron", "neutron-k8s", "blocked", { total: 0, active: 0 }],
    ]);
    expect(c.relations).toEqual([
      { endpoints: ["keystone:database", "mysql:database"], crossModel: false },
      { endpoints: ["neutron:ovsdb-cms", "sunbeam-ovn-proxy"], crossModel: true },
    ]);
    expect(c.loadBalancer).toEqual({ traefik: "10.20.0.10" });
    expect(c.controllers).toEqual({ machines: [{ id: "0", address: "10.0.0.1", ha: "ha-enabled" }, { id: "1", address: "10.0.0.2", ha: "ha-enabled" }, { id: "2", address: "10.0.0.3", ha: "ha-pending" }], ha: "ha-pending" });
    expect(c.ceph).toEqual({ osds: 0, taggedDisks: 4 });
    expect(c.hypervisors).toEqual({ computeHosts: ["cmp-1", "cmp-2"], computeServicesUp: null });
    expect(c.kubernetesNodes).toEqual([{ name: "ctl-1", ready: true, labels: {} }]);
  });
});
