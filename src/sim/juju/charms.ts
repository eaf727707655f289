/**
 * The simulated charm store: the charms the reference deployer (Sunbeam) deploys, with
 * their endpoints, the interfaces they speak, which `requires` are mandatory, and the
 * family of status rules each follows until its relations and config exist. Facts from
 * ../shared/reference/juju-layering.md §3a, §3b, §3d, §3e (sources there: SC = sunbeam-charms,
 * K8O = k8s-operator, CMC = charm-microceph, MOO = microovn-operator, TF = sunbeam-terraform).
 * Endpoint interfaces on the providing side are taken from the consumers' requires in those
 * tables and the TF plans; `juju-info` is implicit on every machine charm, as in Juju.
 */

export type EndpointRole = "requires" | "provides" | "peers";

export interface CharmEndpoint {
  name: string;
  interface: string;
  role: EndpointRole;
  /** A requires the charm does not block on (ops-sunbeam: not in its mandatory set). */
  optional?: boolean;
  /** Juju refuses a relation beyond this many on the endpoint. */
  limit?: number;
  /** container: a subordinate's relation to its principal. */
  scope?: "global" | "container";
}

/**
 * How the charm's workload status follows its relations (§3e):
 * - ops-sunbeam: blocked "(<ep>) integration missing" for the first missing mandatory
 *   requires, waiting "(workload) Not all relations are ready" while one lacks remote data;
 * - glance: as ops-sunbeam, but a missing `ceph` says "ceph integration and local storage are not available";
 * - microovn, k8s: their own messages (MOO:src/charm.py, K8O:src/charm.py);
 * - mysql-router (mysql-router-k8s, canonical/mysql-router-k8s-operator src/abstract_charm.py,
 *   src/workload.py, src/relations/database_requires.py, database_provides.py, remote_databag.py):
 *   the unit waits with no message until its `backend-database` relation has mysql's data, and
 *   the leader sets the application's status: blocked "Missing relation: backend-database",
 *   waiting "Waiting for <app> app on backend-database endpoint", blocked "Missing relation:
 *   database" (no consumer), waiting "Waiting for <app> app on database endpoint" (blocked first,
 *   then waiting; among equals the backend first). It serves its consumers only once its backend is ready;
 * - plain: active once settled (store charms whose rules were not read: mysql, rabbitmq, traefik, CA).
 */
export type StatusFamily = "ops-sunbeam" | "glance" | "microovn" | "k8s" | "mysql-router" | "plain";

export interface CharmSpec {
  name: string;
  /** machine charms deploy to IaaS models, k8s charms to CAAS models (Juju refuses the other). */
  kind: "machine" | "k8s";
  subordinate: boolean;
  family: StatusFamily;
  channel: string;
  /** workload-version shown in status. */
  version: string;
  base: string;
  endpoints: CharmEndpoint[];
  actions: readonly string[];
}

const req = (name: string, iface: string, extra: Partial<CharmEndpoint> = {}): CharmEndpoint => ({ name, interface: iface, role: "requires", ...extra });
const opt = (name: string, iface: string, extra: Partial<CharmEndpoint> = {}): CharmEndpoint => ({ name, interface: iface, role: "requires", optional: true, ...extra });
const prov = (name: string, iface: string, extra: Partial<CharmEndpoint> = {}): CharmEndpoint => ({ name, interface: iface, role: "provides", ...extra });
const peer = (name: string, iface: string): CharmEndpoint => ({ name, interface: iface, role: "peers" });
const sub = (name: string, iface: string): CharmEndpoint => ({ name, interface: iface, role: "requires", scope: "container" });

const machine = (name: string, family: StatusFamily, channel: string, version: string, endpoints: CharmEndpoint[], actions: readonly string[] = [], subordinate = false): CharmSpec => ({
  name,
  kind: "machine",
  subordinate,
  family,
  channel,
  version,
  base: "ubuntu@24.04",
  endpoints: [...endpoints, prov("juju-info", "juju-info")],
  actions,
});

const k8s = (name: string, family: StatusFamily, channel: string, version: string, endpoints: CharmEndpoint[], actions: readonly string[] = [], base = "ubuntu@24.04"): CharmSpec => ({ name, kind: "k8s", subordinate: false, family, channel, version, base, endpoints, actions });

const SB = "2026.1/stable";
const api = (extra: CharmEndpoint[] = []) => [req("database", "mysql_client"), req("ingress-internal", "ingress"), opt("ingress-public", "ingress"), opt("receive-ca-cert", "certificate_transfer"), ...extra];

export const CHARMS: Readonly<Record<string, CharmSpec>> = Object.fromEntries(
  [
    // --- machine model (§3a, §2e)
    machine("sunbeam-machine", "ops-sunbeam", SB, "2026.1", [prov("sunbeam-machine", "sunbeam-machine")]),
    machine("epa-orchestrator", "ops-sunbeam", SB, "2026.1", [sub("sunbeam-machine", "sunbeam-machine")], [], true),
    machine("k8s", "k8s", "1.32/stable", "1.32.2", [peer("cluster", "k8s-cluster"), prov("k8s-cluster", "k8s-cluster"), prov("kube-control", "kube-control")], ["get-kubeconfig"]),
    machine(
      "microceph",
      "plain",
      "squid/stable",
      "19.2.0",
      [opt("identity-service", "keystone"), opt("traefik-route-rgw", "traefik_route"), opt("receive-ca-cert", "certificate_transfer"), prov("ceph", "ceph-client"), prov("ceph-nfs", "ceph-nfs"), prov("radosgw", "ceph-rgw-ready")],
      ["list-disks", "add-osd", "set-pool-size"],
    ),
    machine("cinder-volume", "ops-sunbeam", SB, "2026.1", [req("amqp", "rabbitmq"), req("database", "mysql_client"), req("identity-credentials", "keystone-credentials"), opt("receive-ca-cert", "certificate_transfer"), prov("storage-backend", "cinder-backend"), prov("cinder-volume", "cinder-volume", { scope: "container" })]),
    machine("cinder-volume-ceph", "ops-sunbeam", SB, "2026.1", [req("ceph", "ceph-client"), sub("cinder-volume", "cinder-volume"), prov("ceph-access", "cinder-ceph-key")], [], true),
    machine("microovn", "microovn", "26.03/stable", "26.03", [req("cluster", "worker-cluster", { limit: 1 }), req("certificates", "tls-certificates"), req("ovsdb-external", "ovsdb-cms"), opt("role-assignment", "role-assignment"), prov("ovsdb", "ovsdb")]),
    machine("role-distributor", "plain", "latest/stable", "1.0", [prov("role-assignment", "role-assignment")]),
    machine("microcluster-token-distributor", "plain", "v1/stable", "1.0", [prov("microcluster-cluster", "worker-cluster")]),
    machine("openstack-network-agents", "ops-sunbeam", SB, "2026.1", [sub("juju-info", "juju-info")], ["set-network-agents-local-settings"], true),
    machine("sunbeam-ovn-proxy", "ops-sunbeam", SB, "2026.1", [req("ovsdb", "ovsdb"), prov("ovsdb-cms", "ovsdb-cms")]),
    machine(
      "openstack-hypervisor",
      "ops-sunbeam",
      SB,
      "2026.1",
      [req("amqp", "rabbitmq"), req("identity-credentials", "keystone-credentials"), req("ovsdb-cms", "ovsdb-cms"), req("nova-service", "nova"), opt("certificates", "tls-certificates"), opt("receive-ca-cert", "certificate_transfer"), opt("ceph-access", "cinder-ceph-key"), opt("ceilometer-service", "ceilometer"), prov("cos-agent", "cos_agent")],
      ["running-guests", "disable", "enable"],
    ),
    machine("sunbeam-clusterd", "plain", SB, "2026.1", [opt("certificates", "tls-certificates")], ["get-credentials"]),
    // self-signed-certificates deploys on machines (openstack-infra's tls-operator) and on Kubernetes alike.
    machine("self-signed-certificates", "plain", "1/stable", "1.0", [prov("certificates", "tls-certificates"), prov("send-ca-cert", "certificate_transfer")], ["get-ca-certificate"]),
    // --- Kubernetes model (§3b)
    k8s("mysql-k8s", "plain", "8.0/stable", "8.0.39", [prov("database", "mysql_client")], [], "ubuntu@22.04"),
    // canonical/mysql-router-k8s-operator metadata.yaml: backend-database and certificates limit 1 (the charm does not block on certificates).
    k8s("mysql-router-k8s", "mysql-router", "8.0/stable", "8.0.39", [req("backend-database", "mysql_client", { limit: 1 }), opt("certificates", "tls-certificates", { limit: 1 }), prov("database", "mysql_client")], [], "ubuntu@22.04"),
    k8s("rabbitmq-k8s", "plain", "3.12/stable", "3.12.1", [prov("amqp", "rabbitmq")], ["get-service-account"]),
    k8s("traefik-k8s", "plain", "latest/stable", "2.11.0", [opt("certificates", "tls-certificates"), prov("ingress", "ingress"), prov("traefik-route", "traefik_route")], [], "ubuntu@26.04"),
    k8s("keystone-k8s", "ops-sunbeam", SB, "2026.1", [...api(), prov("identity-service", "keystone"), prov("identity-credentials", "keystone-credentials"), prov("identity-ops", "keystone-resources"), prov("send-ca-cert", "certificate_transfer")], ["get-admin-account", "get-service-account"]),
    k8s("glance-k8s", "glance", SB, "2026.1", api([req("identity-service", "keystone"), req("ceph", "ceph-client"), opt("amqp", "rabbitmq")])),
    k8s(
      "nova-k8s",
      "ops-sunbeam",
      SB,
      "2026.1",
      api([req("ingress-metadata", "ingress"), req("traefik-route-internal", "traefik_route"), req("api-database", "mysql_client"), req("cell-database", "mysql_client"), req("amqp", "rabbitmq"), req("identity-service", "keystone"), req("placement", "placement"), prov("nova-service", "nova")]),
    ),
    k8s("neutron-k8s", "ops-sunbeam", SB, "2026.1", api([req("amqp", "rabbitmq"), req("identity-service", "keystone"), req("ovsdb-cms", "ovsdb-cms")])),
    k8s("placement-k8s", "ops-sunbeam", SB, "2026.1", api([req("identity-service", "keystone"), prov("placement", "placement")])),
    k8s("horizon-k8s", "ops-sunbeam", SB, "2026.1", api([req("identity-credentials", "keystone-credentials")])),
    k8s("cinder-k8s", "ops-sunbeam", SB, "2026.1", api([req("identity-service", "keystone"), req("amqp", "rabbitmq"), req("storage-backend", "cinder-backend")])),
  ].map((c) => [c.name, c] as const),
);

/** The Kubernetes flavour of a charm that deploys on both substrates (self-signed-certificates). */
export function charmFor(name: string, modelType: "iaas" | "caas"): CharmSpec | undefined {
  const c = CHARMS[name];
  if (c === undefined) return undefined;
  if (name === "self-signed-certificates") return { ...c, kind: modelType === "caas" ? "k8s" : "machine" };
  return c;
}

export function endpointOf(c: CharmSpec, name: string): CharmEndpoint | undefined {
  return c.endpoints.find((e) => e.name === name);
}

/** Mandatory requires, in handler order (ops-sunbeam reports the first one missing). */
export function mandatoryRequires(c: CharmSpec): CharmEndpoint[] {
  if (c.family === "plain" || c.family === "k8s" || c.family === "mysql-router") return [];
  return c.endpoints.filter((e) => e.role === "requires" && !e.optional && !(c.subordinate && e.scope === "container"));
}
