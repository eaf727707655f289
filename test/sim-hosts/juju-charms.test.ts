/**
 * Charms, relations, offers and spaces of the simulated Juju (juju-layering.md §3, §6):
 * statuses and messages as the real charms show them until their mandatory relations
 * exist, relation rules, cross-model offers, subordinates, and the charms' effects on
 * the hosts and Kubernetes (nodes, load balancer).
 */
import { describe, expect, it } from "vitest";
import { jujuWorld } from "./juju-world.ts";

interface AppStatus {
  "application-status": { current: string; message?: string };
  units?: Record<string, { "workload-status": { current: string; message?: string }; subordinates?: Record<string, { "workload-status": { current: string } }> }>;
  "subordinate-to"?: string[];
}
interface Status {
  applications: Record<string, AppStatus>;
  "application-endpoints"?: Record<string, { url: string; "application-status": { current: string } }>;
  offers?: Record<string, { "total-connected-count": number }>;
}

/** A controller with a machine model of `n` manual machines and a Kubernetes model on the simulated cluster. */
function cloudWith(n: number) {
  const w = jujuWorld(n + 1);
  const a = w.hosts[0]!;
  const ok = (line: string, stdin = "") => {
    const r = w.run(a, line, stdin);
    if (r.code !== 0) throw new Error(`${line}: ${r.err}`);
    return r;
  };
  ok(`juju bootstrap manual/ubuntu@${a.address} mw`);
  ok("juju add-model openstack-machines");
  for (const h of w.hosts.slice(1)) ok(`juju add-machine ssh:ubuntu@${h.address}`);
  const status = (m: string) => w.json<Status>(a, `juju status -m mw:${m} --format json`);
  const app = (m: string, name: string) => status(m).applications[name];
  return { ...w, a, ok, status, app };
}

function withK8sModel(n: number) {
  const c = cloudWith(n);
  const kc = `clusters:\n- cluster:\n    server: ${c.cloud.kube.url}\nusers:\n- user:\n    token: ${c.cloud.kube.token}\n`;
  c.ok("juju add-k8s mw-k8s --controller mw", kc);
  c.ok("juju add-model openstack mw-k8s");
  return c;
}

describe("simulated charms: statuses until their relations exist", () => {
  it("an ops-sunbeam charm is blocked on its first missing mandatory relation, then waits for remote data, then is active", () => {
    const c = withK8sModel(1);
    const m = "-m mw:openstack";
    c.ok(`juju deploy ${m} mysql-k8s mysql`);
    c.ok(`juju deploy ${m} traefik-k8s traefik`);
    c.ok(`juju deploy ${m} keystone-k8s keystone`);
    c.advance(3000);
    expect(c.app("openstack", "keystone")?.["application-status"]).toMatchObject({ current: "blocked", message: "(database) integration missing" });
    c.ok(`juju integrate ${m} keystone:database mysql:database`);
    expect(c.app("openstack", "keystone")?.["application-status"]).toMatchObject({ current: "blocked", message: "(ingress-internal) integration missing" });
    // The old template's ingress-public does not satisfy keystone's mandatory ingress-internal.
    c.ok(`juju integrate ${m} keystone:ingress-public traefik:ingress`);
    expect(c.app("openstack", "keystone")?.["application-status"].message).toBe("(ingress-internal) integration missing");
    c.ok(`juju integrate ${m} keystone:ingress-internal traefik:ingress`);
    expect(c.app("openstack", "keystone")?.["application-status"]).toMatchObject({ current: "waiting", message: "(workload) Not all relations are ready" });
    c.advance(3000);
    expect(c.app("openstack", "keystone")?.["application-status"].current).toBe("active");
  });

  it("nova stays blocked until its api and cell databases and its service relations exist", () => {
    const c = withK8sModel(1);
    const m = "-m mw:openstack";
    for (const [charm, name] of [["mysql-k8s", "mysql"], ["traefik-k8s", "traefik"], ["rabbitmq-k8s", "rabbitmq"], ["keystone-k8s", "keystone"], ["placement-k8s", "placement"], ["nova-k8s", "nova"]] as const) c.ok(`juju deploy ${m} ${charm} ${name}`);
    for (const [x, y] of [["nova:database", "mysql:database"], ["nova:ingress-internal", "traefik:ingress"], ["nova:amqp", "rabbitmq:amqp"], ["nova:identity-service", "keystone:identity-service"]]) c.ok(`juju integrate ${m} ${x} ${y}`);
    c.advance(3000);
    expect(c.app("openstack", "nova")?.["application-status"].message).toBe("(ingress-metadata) integration missing");
    for (const [x, y] of [["nova:ingress-metadata", "traefik:ingress"], ["nova:traefik-route-internal", "traefik:traefik-route"]]) c.ok(`juju integrate ${m} ${x} ${y}`);
    expect(c.app("openstack", "nova")?.["application-status"].message).toBe("(api-database) integration missing");
    for (const [x, y] of [["nova:api-database", "mysql:database"], ["nova:cell-database", "mysql:database"]]) c.ok(`juju integrate ${m} ${x} ${y}`);
    expect(c.app("openstack", "nova")?.["application-status"].message).toBe("(placement) integration missing");
    c.ok(`juju integrate ${m} nova:placement placement:placement`);
    c.advance(3000);
    expect(c.app("openstack", "nova")?.["application-status"].current).toBe("active");
  });

  it("glance without ceph says its ceph integration and local storage are not available", () => {
    const c = withK8sModel(1);
    c.ok("juju deploy -m mw:openstack glance-k8s glance");
    for (const [charm, name] of [["mysql-k8s", "mysql"], ["traefik-k8s", "traefik"], ["keystone-k8s", "keystone"]] as const) c.ok(`juju deploy -m mw:openstack ${charm} ${name}`);
    for (const [x, y] of [["glance:database", "mysql:database"], ["glance:ingress-internal", "traefik:ingress"], ["glance:identity-service", "keystone:identity-service"]]) c.ok(`juju integrate -m mw:openstack ${x} ${y}`);
    c.advance(3000);
    expect(c.app("openstack", "glance")?.["application-status"]).toMatchObject({ current: "blocked", message: "(ceph) ceph integration and local storage are not available" });
  });

  it("machine charms refuse a Kubernetes model and Kubernetes charms a machine model", () => {
    const c = withK8sModel(1);
    expect(c.run(c.a, "juju deploy -m mw:openstack microceph").err).toContain("machine charm");
    expect(c.run(c.a, "juju deploy -m mw:openstack-machines keystone-k8s").err).toContain("requires a Kubernetes model");
  });

  it("microovn waits for the token distributor, then for its role assignment, and needs a central node", () => {
    const c = cloudWith(2);
    const m = "-m mw:openstack-machines";
    c.ok(`juju deploy ${m} microovn --to 0,1 -n 2`);
    c.ok(`juju deploy ${m} microcluster-token-distributor --to 0`);
    c.ok(`juju deploy ${m} role-distributor --to 0`);
    c.advance(5000);
    expect(c.app("openstack-machines", "microovn")?.["application-status"]).toMatchObject({ current: "maintenance", message: "Waiting for token distrbutor relation" });
    c.ok(`juju integrate ${m} microovn:cluster microcluster-token-distributor:microcluster-cluster`);
    c.ok(`juju integrate ${m} microovn:role-assignment role-distributor:role-assignment`);
    c.advance(3000);
    expect(c.app("openstack-machines", "microovn")?.["application-status"]).toMatchObject({ current: "waiting", message: "Waiting for role assignment" });
    c.ok(`juju config ${m} role-distributor role-mapping={openstack-machines:{microovn:{machines:{"0":{roles:[chassis]},"1":{roles:[chassis]}}}}}`);
    expect(c.app("openstack-machines", "microovn")?.["application-status"].message).toMatch(/^microovn has no central nodes/);
    c.ok(`juju config ${m} role-distributor role-mapping={openstack-machines:{microovn:{machines:{"0":{roles:[chassis,central]},"1":{roles:[chassis]}}}}}`);
    expect(c.app("openstack-machines", "microovn")?.["application-status"].current).toBe("active");
    expect([...c.cloud.ovnChassis].sort()).toEqual(["node-1", "node-2"]);
  });
});

describe("simulated mysql-router-k8s: each service's database goes through its own router", () => {
  // canonical/mysql-router-k8s-operator: src/abstract_charm.py (app status, set by the leader), src/workload.py
  // (unit WaitingStatus() until bootstrapped), src/relations/database_requires.py / database_provides.py / remote_databag.py.
  const m = "-m mw:openstack";
  const unitsOf = (c: ReturnType<typeof withK8sModel>, app: string) => Object.values(c.app("openstack", app)?.units ?? {}).map((u) => u["workload-status"]);

  it("a router without its backend-database relation waits and hands out no database: the service behind it waits too; with mysql behind it both go active", () => {
    const c = withK8sModel(1);
    for (const [charm, name] of [["mysql-k8s", "mysql"], ["traefik-k8s", "traefik"], ["keystone-k8s", "keystone"], ["mysql-router-k8s", "keystone-mysql-router"]] as const) c.ok(`juju deploy ${m} ${charm} ${name}`);
    c.advance(3000);
    expect(c.app("openstack", "keystone-mysql-router")?.["application-status"]).toMatchObject({ current: "blocked", message: "Missing relation: backend-database" });
    // WaitingStatus() has no message: status omits it, as Juju does for an empty one.
    expect(unitsOf(c, "keystone-mysql-router").map((s) => [s.current, s.message])).toEqual([["waiting", undefined]]);
    c.ok(`juju integrate ${m} keystone:database keystone-mysql-router:database`);
    c.ok(`juju integrate ${m} keystone:ingress-internal traefik:ingress`);
    c.advance(3000);
    // Related, but the router has nothing to give: keystone never gets its database.
    expect(c.app("openstack", "keystone")?.["application-status"]).toMatchObject({ current: "waiting", message: "(workload) Not all relations are ready" });
    expect(c.app("openstack", "keystone-mysql-router")?.["application-status"].message).toBe("Missing relation: backend-database");
    c.ok(`juju integrate ${m} keystone-mysql-router:backend-database mysql:database`);
    expect(c.app("openstack", "keystone-mysql-router")?.["application-status"]).toMatchObject({ current: "waiting", message: "Waiting for mysql app on backend-database endpoint" });
    c.advance(3000);
    expect(c.app("openstack", "keystone-mysql-router")?.["application-status"].current).toBe("active");
    expect(unitsOf(c, "keystone-mysql-router").map((s) => s.current)).toEqual(["active"]);
    expect(c.app("openstack", "keystone")?.["application-status"].current).toBe("active");
  });

  it("a router with its backend but nobody on its database endpoint is blocked on that", () => {
    const c = withK8sModel(1);
    c.ok(`juju deploy ${m} mysql-k8s mysql`);
    c.ok(`juju deploy ${m} mysql-router-k8s nova-api-mysql-router`);
    c.ok(`juju integrate ${m} nova-api-mysql-router:backend-database mysql:database`);
    c.advance(3000);
    expect(c.app("openstack", "nova-api-mysql-router")?.["application-status"]).toMatchObject({ current: "blocked", message: "Missing relation: database" });
    // The unit itself is bootstrapped against mysql: only the application says what is missing.
    expect(unitsOf(c, "nova-api-mysql-router").map((s) => s.current)).toEqual(["active"]);
  });

  it("relating a service's database to a router that was never deployed is refused: the service stays blocked on its database", () => {
    const c = withK8sModel(1);
    for (const [charm, name] of [["mysql-k8s", "mysql"], ["traefik-k8s", "traefik"], ["keystone-k8s", "keystone"]] as const) c.ok(`juju deploy ${m} ${charm} ${name}`);
    c.ok(`juju integrate ${m} keystone:ingress-internal traefik:ingress`);
    expect(c.run(c.a, `juju integrate ${m} keystone:database keystone-mysql-router:database`).err).toBe('ERROR application "keystone-mysql-router" not found\n');
    c.advance(3000);
    expect(c.app("openstack", "keystone")?.["application-status"]).toMatchObject({ current: "blocked", message: "(database) integration missing" });
  });

  it("Juju refuses a database relation to anything that does not provide mysql_client, and a router's second backend", () => {
    const c = withK8sModel(1);
    for (const [charm, name] of [["mysql-k8s", "mysql"], ["mysql-k8s", "mysql-b"], ["traefik-k8s", "traefik"], ["rabbitmq-k8s", "rabbitmq"], ["keystone-k8s", "keystone"], ["mysql-router-k8s", "keystone-mysql-router"]] as const) c.ok(`juju deploy ${m} ${charm} ${name}`);
    // JJ:state/state.go InferEndpoints: no pair of endpoints whose interfaces match.
    for (const other of ["traefik:ingress", "rabbitmq:amqp", "rabbitmq", "keystone-mysql-router:backend-database"]) expect(c.run(c.a, `juju integrate ${m} keystone:database ${other}`).err).toBe("ERROR no relations found\n");
    expect(c.run(c.a, `juju integrate ${m} keystone-mysql-router:backend-database traefik`).err).toBe("ERROR no relations found\n");
    c.ok(`juju integrate ${m} keystone-mysql-router:backend-database mysql:database`);
    expect(c.run(c.a, `juju integrate ${m} keystone-mysql-router:backend-database mysql-b:database`).err).toBe(
      'ERROR cannot add relation "keystone-mysql-router:backend-database mysql-b:database": establishing a new relation for keystone-mysql-router:backend-database would exceed its maximum relation limit of 1 (quota limit exceeded)\n',
    );
    c.advance(3000);
    expect(c.app("openstack", "keystone")?.["application-status"]).toMatchObject({ current: "blocked", message: "(database) integration missing" });
  });
});

describe("simulated relations", () => {
  it("refuses mismatched interfaces, ambiguity, duplicates and an endpoint past its limit", () => {
    const c = cloudWith(1);
    const m = "-m mw:openstack-machines";
    c.ok(`juju deploy ${m} microovn --to 0`);
    c.ok(`juju deploy ${m} microcluster-token-distributor tokens-a --to 0`);
    c.ok(`juju deploy ${m} microcluster-token-distributor tokens-b --to 0`);
    c.ok(`juju deploy ${m} sunbeam-machine --to 0`);
    expect(c.run(c.a, `juju integrate ${m} microovn:cluster sunbeam-machine:sunbeam-machine`).err).toBe("ERROR no relations found\n");
    expect(c.run(c.a, `juju integrate ${m} microovn:nope tokens-a`).err).toBe('ERROR application "microovn" has no "nope" relation\n');
    c.ok(`juju integrate ${m} microovn tokens-a`);
    expect(c.run(c.a, `juju integrate ${m} microovn:cluster tokens-a:microcluster-cluster`).err).toContain("already exists");
    expect(c.run(c.a, `juju integrate ${m} microovn:cluster tokens-b:microcluster-cluster`).err).toBe(
      'ERROR cannot add relation "microovn:cluster tokens-b:microcluster-cluster": establishing a new relation for microovn:cluster would exceed its maximum relation limit of 1 (quota limit exceeded)\n',
    );
  });

  it("a subordinate deploys without units and gets one per principal unit through a container relation, nested under it", () => {
    const c = cloudWith(2);
    const m = "-m mw:openstack-machines";
    expect(c.run(c.a, `juju deploy ${m} epa-orchestrator -n 1`).err).toBe("ERROR subordinate application must be deployed without units\n");
    c.ok(`juju deploy ${m} sunbeam-machine -n 2 --to 0,1`);
    c.ok(`juju deploy ${m} epa-orchestrator`);
    expect(c.app("openstack-machines", "epa-orchestrator")?.units).toBeUndefined();
    c.ok(`juju integrate ${m} epa-orchestrator sunbeam-machine`);
    c.advance(5000);
    const s = c.status("openstack-machines");
    expect(Object.keys(s.applications["sunbeam-machine"]?.units?.["sunbeam-machine/0"]?.subordinates ?? {})).toEqual(["epa-orchestrator/0"]);
    expect(s.applications["epa-orchestrator"]?.["subordinate-to"]).toEqual(["sunbeam-machine"]);
    expect(s.applications["epa-orchestrator"]?.["application-status"].current).toBe("active");
  });
});

describe("simulated offers (cross-model relations)", () => {
  it("integrating with an offer fails until it exists; consumers show under application-endpoints; a live offer is not removed without --force", () => {
    const c = withK8sModel(1);
    c.ok("juju deploy -m mw:openstack-machines microceph --to 0");
    c.ok("juju deploy -m mw:openstack glance-k8s glance");
    const early = c.run(c.a, "juju integrate -m mw:openstack glance:ceph admin/openstack-machines.microceph");
    expect(early.err).toBe('ERROR application offer "admin/openstack-machines.microceph" not found\n');
    expect(c.ok("juju offer openstack-machines.microceph:ceph microceph").out).toBe('Application "microceph" endpoints [ceph] available at "admin/openstack-machines.microceph"\n');
    c.ok("juju integrate -m mw:openstack glance:ceph admin/openstack-machines.microceph");
    const s = c.status("openstack");
    expect(s["application-endpoints"]?.["microceph"]?.url).toBe("mw:admin/openstack-machines.microceph");
    expect(c.status("openstack-machines").offers?.["microceph"]?.["total-connected-count"]).toBe(1);
    expect(c.run(c.a, "juju remove-offer admin/openstack-machines.microceph").err).toBe('ERROR cannot delete application offer "microceph": offer has 1 relations\n');
    c.ok("juju remove-offer admin/openstack-machines.microceph --force");
  });
});

describe("simulated spaces and bindings", () => {
  it("add-space needs subnets the model knows; a binding to a space a machine has no address in is refused", () => {
    const c = cloudWith(1);
    const m = "-m mw:openstack-machines";
    expect(c.run(c.a, `juju add-space ${m} internal 10.20.0.0/24`).err).toBe('ERROR cannot add space "internal": subnet "10.20.0.0/24" not found\n');
    c.ok(`juju add-space ${m} management 127.0.0.0/8`);
    expect(c.json<{ space: { subnets: { cidr: string }[] } }>(c.a, `juju show-space ${m} management --format json`).space.subnets).toEqual([{ cidr: "127.0.0.0/8", "vlan-tag": 0 }]);
    expect(c.run(c.a, `juju deploy ${m} k8s --to 0 --bind "management cluster=nowhere"`).err).toBe('ERROR space "nowhere" not found\n');
    c.ok(`juju add-space ${m} internal`);
    expect(c.run(c.a, `juju deploy ${m} k8s --to 0 --bind "management cluster=internal"`).err).toBe('ERROR cannot assign unit to machine 0: machine 0 has no address in space "internal"\n');
    c.ok(`juju deploy ${m} k8s --to 0 --bind management`);
  });
});

describe("charm effects on the hosts and Kubernetes", () => {
  it("k8s units form the cluster (nodes in the API); the load balancer stays off unless the charm's config enables it in L2 mode, and only then can machines reach rabbitmq", () => {
    const c = withK8sModel(2);
    const mm = "-m mw:openstack-machines";
    c.ok(`juju deploy ${mm} k8s -n 2 --to 0,1`);
    c.advance(10_000);
    c.status("openstack-machines");
    expect([...c.cloud.kube.nodes.keys()].sort()).toEqual(["node-1", "node-2"]);
    const kc = c.json<Record<string, { status: string; results: { kubeconfig: string } }>>(c.a, `juju run ${mm} k8s/leader get-kubeconfig --format json`);
    expect(kc["k8s/0"]?.results.kubeconfig).toContain(c.cloud.kube.url);

    // The hypervisor's four mandatory relations: three offers from the Kubernetes model, one in-model.
    for (const [charm, name] of [["rabbitmq-k8s", "rabbitmq"], ["keystone-k8s", "keystone"], ["nova-k8s", "nova"], ["traefik-k8s", "traefik"]] as const) c.ok(`juju deploy -m mw:openstack ${charm} ${name}`);
    for (const o of ["rabbitmq:amqp rabbitmq", "keystone:identity-credentials keystone-credentials", "nova:nova-service nova"]) c.ok(`juju offer openstack.${o}`);
    c.ok(`juju deploy ${mm} microovn --to 1`);
    c.ok(`juju deploy ${mm} sunbeam-ovn-proxy --to 0`);
    c.ok(`juju integrate ${mm} sunbeam-ovn-proxy:ovsdb microovn:ovsdb`);
    c.ok(`juju deploy ${mm} openstack-hypervisor --to 1`);
    expect(c.run(c.a, `juju integrate ${mm} openstack-hypervisor:amqp admin/openstack.rabbitmq`).code).toBe(0);
    c.advance(5000);
    expect(c.app("openstack-machines", "openstack-hypervisor")?.["application-status"].message).toBe("(identity-credentials) integration missing");
    c.ok(`juju integrate ${mm} openstack-hypervisor:identity-credentials admin/openstack.keystone-credentials`);
    c.ok(`juju integrate ${mm} openstack-hypervisor:nova-service admin/openstack.nova`);
    expect(c.app("openstack-machines", "openstack-hypervisor")?.["application-status"].message).toBe("(ovsdb-cms) integration missing");
    c.ok(`juju integrate ${mm} openstack-hypervisor:ovsdb-cms sunbeam-ovn-proxy:ovsdb-cms`);
    c.advance(5000);
    c.status("openstack");
    expect(c.cloud.kube.services.get("openstack/rabbitmq")).toMatchObject({ type: "LoadBalancer", loadBalancerIP: undefined });
    // Every relation is there, but without a load balancer no data from the Kubernetes model reaches the machine.
    expect(c.app("openstack-machines", "openstack-hypervisor")?.["application-status"]).toMatchObject({ current: "waiting", message: "(workload) Not all relations are ready" });

    c.ok(`juju config ${mm} k8s load-balancer-enabled=true load-balancer-cidrs=10.20.0.100-10.20.0.110`);
    c.status("openstack-machines");
    expect(c.cloud.kube.services.get("openstack/rabbitmq")?.loadBalancerIP).toBe("10.20.0.100");
    // Allocated, but the charm's default l2-mode=false announces nothing.
    expect(c.cloud.kube.externalAddress("openstack", "rabbitmq")).toBeUndefined();
    expect(c.app("openstack-machines", "openstack-hypervisor")?.["application-status"].current).toBe("waiting");
    c.ok(`juju config ${mm} k8s load-balancer-l2-mode=true`);
    c.status("openstack-machines");
    expect(c.cloud.kube.externalAddress("openstack", "rabbitmq")).toBe("10.20.0.100");
    expect(c.app("openstack-machines", "openstack-hypervisor")?.["application-status"].current).toBe("active");
    expect(c.hosts[2]?.snaps.has("openstack-hypervisor")).toBe(true);
  });
});

describe("simulated k8s charm: node-labels on every reconcile (K8O:charms/worker/k8s/src/charm.py _apply_node_labels)", () => {
  it("labels nodes that joined before the config had the label, puts back a label taken off a node, and removes one dropped from the config", () => {
    const c = withK8sModel(3);
    const mm = "-m mw:openstack-machines";
    const label = (n: string) => c.cloud.kube.nodes.get(n)?.labels["sunbeam/deployment"];
    c.ok(`juju deploy ${mm} k8s -n 2 --to 0,1`);
    c.advance(10_000);
    c.status("openstack-machines");
    expect([label("node-1"), label("node-2")]).toEqual([undefined, undefined]);
    // Set once both nodes exist: the charm's config-changed labels the existing nodes, not only later joiners.
    c.ok(`juju config ${mm} k8s node-labels=sunbeam/deployment=mw`);
    expect([label("node-1"), label("node-2")]).toEqual(["mw", "mw"]);
    // A node that joins later gets it too.
    c.ok(`juju add-unit ${mm} k8s --to 2`);
    c.advance(10_000);
    c.status("openstack-machines");
    expect(label("node-3")).toBe("mw");
    // Taken off by hand: the next reconcile (any hook) puts it back.
    c.cloud.kube.applyLabels("node-2", {}, ["sunbeam/deployment"]);
    c.status("openstack-machines");
    expect(label("node-2")).toBe("mw");
    // Dropped from the config: the charm removes what it had set, and leaves labels it did not set.
    c.cloud.kube.applyLabels("node-1", { "openstack-control-plane": "enabled" }, []);
    c.ok(`juju config ${mm} k8s node-labels=other=x`);
    expect(["node-1", "node-2", "node-3"].map((n) => [label(n), c.cloud.kube.nodes.get(n)?.labels["other"]])).toEqual([[undefined, "x"], [undefined, "x"], [undefined, "x"]]);
    expect(c.cloud.kube.nodes.get("node-1")?.labels["openstack-control-plane"]).toBe("enabled");
  });
});

describe("simulated removal of a host's units (juju-layering.md §5)", () => {
  it("a removed microceph unit's stop hook takes its host out of the MicroCeph cluster (not the last member); a unit removed with its dead machine runs no hook, so its member stays until `cluster remove --force` on a surviving member", () => {
    const c = cloudWith(4);
    const m = "-m mw:openstack-machines";
    c.ok(`juju deploy ${m} microceph -n 4 --to 0,1,2,3`);
    c.advance(5000);
    c.ok(`juju status ${m} --format json`);
    const [, h1, h2, h3, h4] = c.hosts;
    const members = () => [...(c.cloud.ceph?.members.keys() ?? [])].sort();
    expect(members()).toEqual([h1!.systemId, h2!.systemId, h3!.systemId, h4!.systemId].sort());

    // A live unit removed: its stop hook runs `microceph cluster remove <host> --force`.
    c.ok(`juju remove-unit ${m} microceph/0 --no-prompt`);
    expect(members()).not.toContain(h1!.systemId);

    // A dead machine (agent down): remove-machine refuses while it has units, --force takes them, and no hook runs.
    h2!.stopped.add("jujud");
    expect(c.run(c.a, `juju remove-machine ${m} 1 --no-prompt`).err).toBe('ERROR machine 1 has unit "microceph/1" assigned\n');
    c.ok(`juju remove-machine ${m} 1 --force --no-prompt`);
    expect(Object.keys(c.status("openstack-machines").applications["microceph"]?.units ?? {})).toEqual(["microceph/2", "microceph/3"]);
    expect(members()).toContain(h2!.systemId);
    // MicroCeph refuses to drop a member with its disks, or one below 3 mon, without --force; with it, the member goes.
    c.cloud.ceph!.osds.push({ id: 9, systemId: h2!.systemId, hostname: h2!.hostname, deployment: h2!.deployment, path: `/dev/disk/by-id/data-2` });
    expect(c.run(h3!, `sudo microceph cluster remove ${h2!.hostname}`).err).toBe("Error: failed to remove cluster member: node still has disks configured, remove them first or use --force\n");
    expect(c.run(h3!, `sudo microceph cluster remove ${h2!.hostname} --force`).code).toBe(0);
    expect(members()).toEqual([h3!.systemId, h4!.systemId].sort());
  });

  it("the last MicroCeph member's stop hook is skipped: the cluster keeps it", () => {
    const c = cloudWith(1);
    const m = "-m mw:openstack-machines";
    c.ok(`juju deploy ${m} microceph --to 0`);
    c.advance(5000);
    c.ok(`juju status ${m} --format json`);
    expect(c.cloud.ceph?.members.size).toBe(1);
    c.ok(`juju remove-unit ${m} microceph/0 --no-prompt`);
    expect(c.cloud.ceph?.members.size).toBe(1);
  });
});
