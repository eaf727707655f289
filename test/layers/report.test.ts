/**
 * The cloud read-back (src/layers/report.ts) from Juju's and Kubernetes' own answers: the
 * applications of the machine and control-plane models, each relation once with both
 * endpoints (each side's status entry names only its own; nova's three database relations
 * to mysql stay three; a mysql router's two mysql_client relations stay apart), a relation to a consumed offer marked crossModel, hypervisors and
 * OVN chassis by host from the machine model, load-balancer addresses only for services
 * that have one, controllers' HA from show-controller over the controller model's machines.
 */
import { describe, expect, it } from "vitest";
import { loadLayerTemplate, type KubePort, type LayerHost } from "../../src/layers/index.ts";
import { JujuOps } from "../../src/layers/juju-ops.ts";
import { JujuChangeLog, NO_JUJU_JOURNAL } from "../../src/layers/juju-journal.ts";
import { KeyedLock, Lanes } from "../../src/layers/lane.ts";
import { readCloud } from "../../src/layers/report.ts";
import { silentLogger } from "../../src/log.ts";
import type { SshPort } from "../../src/ssh/index.ts";

const client: LayerHost = { systemId: "s0", hostname: "juju-0", address: "10.0.0.1", roles: ["juju-controller"], cephDisks: [] };

const OPENSTACK = {
  applications: {
    keystone: { "charm-name": "keystone-k8s", "application-status": { current: "active" }, relations: { database: [{ "related-application": "keystone-mysql-router", interface: "mysql_client" }] }, units: { "keystone/0": { "workload-status": { current: "active" } }, "keystone/1": { "workload-status": { current: "waiting" } } } },
    // A router speaks mysql_client on both of its endpoints: each relation is paired by the application it joins.
    "keystone-mysql-router": { "charm-name": "mysql-router-k8s", "application-status": { current: "active" }, relations: { database: [{ "related-application": "keystone", interface: "mysql_client" }], "backend-database": [{ "related-application": "mysql", interface: "mysql_client" }] }, units: {} },
    mysql: { "charm-name": "mysql-k8s", "application-status": { current: "active" }, relations: { database: [{ "related-application": "keystone-mysql-router", interface: "mysql_client" }, { "related-application": "nova", interface: "mysql_client" }, { "related-application": "nova", interface: "mysql_client" }] }, units: {} },
    nova: { "charm-name": "nova-k8s", "application-status": { current: "active" }, relations: { database: [{ "related-application": "mysql", interface: "mysql_client" }], "api-database": [{ "related-application": "mysql", interface: "mysql_client" }] }, units: {} },
    neutron: { "charm-name": "neutron-k8s", "application-status": { current: "blocked", message: "(ovsdb-cms) integration missing" }, relations: { "ovsdb-cms": [{ "related-application": "sunbeam-ovn-proxy", interface: "ovsdb-cms" }] }, units: {} },
  },
  "application-endpoints": { "sunbeam-ovn-proxy": { url: "admin/openstack-machines.sunbeam-ovn-proxy" } },
};
const MACHINE_MODEL = {
  machines: { "0": { hostname: "cmp-1" }, "1": { hostname: "cmp-2" } },
  applications: {
    "openstack-hypervisor": { "charm-name": "openstack-hypervisor", "application-status": { current: "waiting" }, units: { "openstack-hypervisor/0": { machine: "0", "workload-status": { current: "active" } }, "openstack-hypervisor/1": { machine: "1", "workload-status": { current: "waiting", message: "(workload) Not all relations are ready" } } } },
    microovn: { "charm-name": "microovn", "application-status": { current: "active" }, units: { "microovn/0": { machine: "0", "workload-status": { current: "active" }, subordinates: { "openstack-network-agents/0": { "workload-status": { current: "active" } } } } } },
    "openstack-network-agents": { "charm-name": "openstack-network-agents", "application-status": { current: "active" }, "subordinate-to": ["microovn"] },
  },
};
const MACHINES = { machines: { "0": { "dns-name": "10.0.0.1" }, "1": { "dns-name": "10.0.0.2" }, "2": { "dns-name": "10.0.0.3" } } };
const SHOW = { metalwave: { "controller-machines": { "0": { "ha-status": "ha-enabled" }, "1": { "ha-status": "ha-enabled" }, "2": { "instance-id": "(unprovisioned)", "ha-status": "ha-pending" } } } };
const MODELS = { models: [{ "short-name": "controller" }, { "short-name": "openstack-machines" }, { "short-name": "openstack" }] };

const ssh: SshPort = {
  exec: async (_t, command) => {
    const out = /juju status -m metalwave:openstack-machines/.test(command) ? MACHINE_MODEL : /juju status -m metalwave:openstack /.test(command) ? OPENSTACK : /juju machines/.test(command) ? MACHINES : /show-controller/.test(command) ? SHOW : /juju models/.test(command) ? MODELS : undefined;
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
  it("reads applications, relations, hypervisors, chassis, load-balancer addresses and controllers' HA as Juju and Kubernetes answer them", async () => {
    const lane = new Lanes({ ssh, logger: silentLogger(), policy: { attempts: 1, backoffMs: 0, commandTimeoutMs: 1000 } }).lane(undefined);
    const ops = new JujuOps({ client, tpl: loadLayerTemplate("juju"), logger: silentLogger(), locks: new KeyedLock(), main: lane, waitOptions: () => { throw new Error("no waits in a report"); }, reads: new Map(), gen: new Map(), models: new Set(), now: () => 0, changes: new JujuChangeLog(NO_JUJU_JOURNAL, silentLogger()), suspect: new Set() }, lane);
    const c = await readCloud({ ops, controllerTpl: loadLayerTemplate("juju-controller"), models: ["openstack-machines", "openstack"], kube, taggedDisks: 4, ensureOpen: () => undefined });
    expect(c.applications.map((a) => [a.name, a.model, a.charm, a.status, a.units])).toEqual([
      ["openstack-hypervisor", "openstack-machines", "openstack-hypervisor", "waiting", { total: 2, active: 1 }],
      ["microovn", "openstack-machines", "microovn", "active", { total: 1, active: 1 }],
      ["openstack-network-agents", "openstack-machines", "openstack-network-agents", "active", { total: 1, active: 1 }],
      ["keystone", "openstack", "keystone-k8s", "active", { total: 2, active: 1 }],
      ["keystone-mysql-router", "openstack", "mysql-router-k8s", "active", { total: 0, active: 0 }],
      ["mysql", "openstack", "mysql-k8s", "active", { total: 0, active: 0 }],
      ["nova", "openstack", "nova-k8s", "active", { total: 0, active: 0 }],
      ["neutron", "openstack", "neutron-k8s", "blocked", { total: 0, active: 0 }],
    ]);
    expect(c.relations).toEqual([
      { model: "openstack", endpoints: ["keystone-mysql-router:database", "keystone:database"], crossModel: false },
      { model: "openstack", endpoints: ["keystone-mysql-router:backend-database", "mysql:database"], crossModel: false },
      { model: "openstack", endpoints: ["mysql:database", "nova:database"], crossModel: false },
      { model: "openstack", endpoints: ["mysql:database", "nova:api-database"], crossModel: false },
      { model: "openstack", endpoints: ["neutron:ovsdb-cms", "sunbeam-ovn-proxy"], crossModel: true },
    ]);
    expect(c.hypervisors).toEqual({ computeHosts: ["cmp-1", "cmp-2"], computeServicesUp: ["cmp-1"], source: "juju", note: "the OpenStack API was not asked" });
    expect(c.ovn).toEqual({ chassis: ["cmp-1"] });
    expect(c.loadBalancer).toEqual({ traefik: "10.20.0.10" });
    expect(c.controllers).toEqual({ machines: [{ id: "0", address: "10.0.0.1", ha: "ha-enabled" }, { id: "1", address: "10.0.0.2", ha: "ha-enabled" }, { id: "2", address: "10.0.0.3", ha: "ha-pending" }], ha: "ha-pending" });
    expect(c.ceph).toEqual({ osds: 0, taggedDisks: 4 });
    expect(c.kubernetesNodes).toEqual([{ name: "ctl-1", ready: true, labels: {} }]);
  });
});
