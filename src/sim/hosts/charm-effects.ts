/**
 * What the simulated charms do to the hosts and the Kubernetes cluster once their units
 * run, and their actions. The Juju model (src/sim/juju) stays pure; this adapter
 * reconciles the world from it after every juju command or API call:
 * - `k8s` units: the snap on the host, the cluster (the leader bootstraps, the others join),
 *   Kubernetes nodes, and the load balancer from the charm's config (`load-balancer-enabled`,
 *   `-l2-mode`, `-cidrs`; charm defaults false, false: K8O:charmcraft.yaml);
 * - `microceph` units: the snap, the MicroCeph cluster, `default-pool-size`; a removed unit's
 *   stop hook runs `cluster remove --force` unless it is the last member (CMC:src/charm.py), and
 *   never for a unit removed with its dead machine (`remove-machine --force`: no agent, no hook);
 * - `microovn` units: the snap and the OVN chassis of hosts given the `chassis` role;
 * - `openstack-hypervisor` units: the snap, configured from its relations, and nova-compute
 *   started (its service registered with the simulated nova, src/sim/openstack/state.ts); a
 *   removed unit's snap goes with it (the charm's remove hook);
 * - OVN chassis (active microovn units) and the metadata agent of the hypervisor snap: their
 *   neutron agents;
 * - applications of a Kubernetes model on the simulated cluster: their Services
 *   (traefik-k8s and rabbitmq-k8s, and any app with `expose-external=loadbalancer`, as LoadBalancer)
 *   and their StatefulSets' pods and claims (src/sim/hosts/kube-workloads.ts).
 * Actions (juju-layering.md §6): `{status, results}` with `completed`/`failed`.
 */
import { kubeServiceAddress } from "../juju/render.ts";
import { StatusReader } from "../juju/status.ts";
import type { JujuController, JujuModel, JujuUnit } from "../juju/types.ts";
import { fail } from "./cli-util.ts";
import type { ExecContext } from "./cli-util.ts";
import { kubeconfig, syncLoadBalancer } from "./k8s-cli.ts";
import { addOsd, unpartitioned } from "./microceph-cli.ts";
import type { CmdResult, SimCloud, SimHost } from "./model.ts";

const SNAP_VERSIONS: Record<string, string> = { k8s: "v1.32.2", microceph: "19.2.0", microovn: "26.03", "openstack-hypervisor": "2026.1" };

function ensureSnap(h: SimHost, name: string, channel: string): void {
  if (h.snaps.has(name)) return;
  h.snaps.set(name, { channel, version: SNAP_VERSIONS[name] ?? "1.0", revision: 100 + name.length, classic: name === "k8s", config: new Map() });
}

/** The current installation a unit runs on, if it is the one its machine was provisioned on. */
function hostOf(cloud: SimCloud, r: StatusReader, m: JujuModel, u: JujuUnit): SimHost | undefined {
  const mm = r.machineOf(m, u);
  const h = mm?.host ? cloud.hosts.get(mm.host.systemId) : undefined;
  return h !== undefined && h.deployment === mm?.host?.deployment ? h : undefined;
}

export function reconcileCharms(cloud: SimCloud): void {
  const r = new StatusReader(cloud.jujuWorld, cloud.jujuEnv, cloud.now());
  const k8sHosts = new Set<string>();
  const cephHosts = new Set<string>();
  const hypervisors = new Set<string>();
  const chassis: SimHost[] = [];
  cloud.ovnChassis.clear();
  for (const c of cloud.jujuWorld.controllers.values()) {
    for (const m of c.models.values()) {
      if (m.type === "caas") {
        services(cloud, c, m);
        continue;
      }
      for (const app of m.apps.values()) {
        const active = r.units(m, app).filter((v) => v.workload.current === "active");
        for (const v of active) {
          const h = hostOf(cloud, r, m, v.unit);
          if (h === undefined) continue;
          switch (app.charm.name) {
            case "k8s": {
              ensureSnap(h, "k8s", app.channel);
              cloud.k8s ??= { bootstrapHost: h.hostname, members: new Map(), tokens: new Map(), loadBalancer: { enabled: false, l2Mode: false, bgpMode: false, cidrs: [] } };
              if (!cloud.k8s.members.has(h.systemId)) {
                cloud.k8s.members.set(h.systemId, h.hostname);
                cloud.kube.addNode(h.hostname, h.address, { "node-role.kubernetes.io/control-plane": "" });
              }
              nodeLabels(cloud, h, app.config["node-labels"]);
              k8sHosts.add(h.systemId);
              if (v.leader) {
                cloud.k8s.loadBalancer = { enabled: app.config["load-balancer-enabled"] === "true", l2Mode: app.config["load-balancer-l2-mode"] === "true", bgpMode: app.config["load-balancer-bgp-mode"] === "true", cidrs: (app.config["load-balancer-cidrs"] ?? "").split(/[ ,]+/).filter(Boolean) };
                syncLoadBalancer(cloud);
              }
              break;
            }
            case "microceph": {
              ensureSnap(h, "microceph", app.channel);
              cloud.ceph ??= { members: new Map(), tokens: new Map(), osds: [], pools: new Map(), defaultSize: 3, allowSizeOne: false };
              cloud.ceph.members.set(h.systemId, h.hostname);
              const size = Number(app.config["default-pool-size"] ?? "3");
              if (Number.isInteger(size) && size > 0) cloud.ceph.defaultSize = size;
              cephHosts.add(h.systemId);
              break;
            }
            case "microovn": {
              ensureSnap(h, "microovn", app.channel);
              cloud.ovnChassis.add(h.hostname);
              chassis.push(h);
              break;
            }
            case "openstack-hypervisor":
              ensureSnap(h, "openstack-hypervisor", app.channel);
              configureHypervisor(cloud, h, m.name);
              hypervisors.add(h.systemId);
              break;
          }
        }
      }
    }
  }
  // Units that went away: their hosts leave what the charm had joined them to.
  for (const [sid, name] of [...(cloud.k8s?.members ?? [])]) {
    if (!k8sHosts.has(sid) && cloud.charmK8s.has(sid)) {
      cloud.k8s?.members.delete(sid);
      cloud.kube.removeNode(name);
      cloud.charmK8s.delete(sid);
      cloud.k8sCharmLabels.delete(sid);
    }
  }
  for (const sid of k8sHosts) cloud.charmK8s.add(sid);
  for (const sid of [...cloud.charmCeph]) {
    // The stop hook: `microceph cluster remove <host> --force`, skipped for the last member; OSDs are not removed first.
    // A unit removed with its dead machine ran no stop hook: the member stays until `cluster remove --force` elsewhere.
    if (!cephHosts.has(sid) && cloud.ceph && cloud.ceph.members.size > 1 && !cloud.removedUnhooked.has(sid)) cloud.ceph.members.delete(sid);
    if (!cephHosts.has(sid)) cloud.charmCeph.delete(sid);
  }
  for (const sid of cephHosts) {
    cloud.charmCeph.add(sid);
    cloud.removedUnhooked.delete(sid);
  }
  // A hypervisor unit that went away took its snap (and nova-compute, the metadata agent) with it.
  for (const sid of [...cloud.charmHypervisor]) {
    if (hypervisors.has(sid)) continue;
    cloud.charmHypervisor.delete(sid);
    if (!cloud.removedUnhooked.has(sid)) cloud.hosts.get(sid)?.snaps.delete("openstack-hypervisor");
  }
  for (const sid of hypervisors) cloud.charmHypervisor.add(sid);
  cloud.openstack.syncAgents(chassis.map((h) => ({ systemId: h.systemId, hostname: h.hostname, deployment: h.deployment })), hypervisors);
}

/**
 * An active hypervisor unit has its relations' data (the status rules say so): the charm fills
 * the snap from them (SC:charms/openstack-hypervisor: keystone's service account in the service
 * domain from `identity-credentials`, the queue's URL from `amqp`, the CA base64 as `ca.bundle`;
 * HV:hooks.py), so nova-compute runs.
 */
function configureHypervisor(cloud: SimCloud, h: SimHost, model: string): void {
  const c = h.snaps.get("openstack-hypervisor")?.config;
  if (c === undefined || c.has("identity.auth-url")) return;
  const set: Record<string, string> = {
    "identity.auth-url": "http://keystone.openstack.svc/v3",
    "identity.username": "hypervisor",
    "identity.password": cloud.stableSecret("keystone", model, "hypervisor"),
    "identity.user-domain-name": "service_domain",
    "identity.user-domain-id": "service_domain",
    "identity.project-name": "services",
    "identity.project-domain-id": "service_domain",
    "rabbitmq.url": `rabbit://hypervisor:${cloud.stableSecret("rabbitmq", model, "hypervisor")}@rabbitmq:5672/openstack`,
    "ca.bundle": Buffer.from(`sim-ca:${cloud.seed}`).toString("base64"),
    "node.fqdn": h.hostname,
    "node.ip-address": h.address,
  };
  for (const [k, v] of Object.entries(set)) c.set(k, v);
  // nova-compute starts with its configuration: its service record, found again by host if nova still has one.
  cloud.openstack.computeStarted({ systemId: h.systemId, hostname: h.hostname, deployment: h.deployment });
}

/**
 * The k8s charm's LabelMaker on every reconcile of a unit, not only when its node joins
 * (K8O:charms/worker/k8s/src/charm.py `_reconcile` → `_apply_node_labels`; charms.node_base
 * LabelMaker.apply_node_labels): each `key=value` of `node-labels` is set on the unit's own node
 * with --overwrite, and a label it set before that is no longer configured is removed. So an
 * existing node gets a label added to the config later, and a node that lost one gets it back.
 */
function nodeLabels(cloud: SimCloud, h: SimHost, spec: string | undefined): void {
  const want = labels(spec);
  const before = cloud.k8sCharmLabels.get(h.systemId) ?? {};
  cloud.kube.applyLabels(h.hostname, want, Object.keys(before).filter((k) => !(k in want)));
  if (cloud.kube.nodes.has(h.hostname)) cloud.k8sCharmLabels.set(h.systemId, want);
}

function labels(spec: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (spec ?? "").split(/\s+/).filter(Boolean)) {
    const eq = kv.indexOf("=");
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** Services of a Kubernetes model's applications, when the model's cloud is the simulated cluster. */
/**
 * The storage (claim template) of the Kubernetes charms that have one, as their charms declare it:
 * mysql-k8s `database` (filesystem; canonical/mysql-k8s-operator metadata.yaml, branch main),
 * glance-k8s `local-repository` (filesystem; canonical/sunbeam-charms charms/glance-k8s/charmcraft.yaml).
 */
const CHARM_STORAGE: Readonly<Record<string, string>> = { "mysql-k8s": "database", "glance-k8s": "local-repository" };

function services(cloud: SimCloud, c: JujuController, m: JujuModel): void {
  const def = c.clouds.get(m.cloud);
  if (def?.server !== cloud.kube.url) return;
  const want = new Set<string>();
  for (const app of m.apps.values()) {
    const lb = app.charm.name === "traefik-k8s" || app.charm.name === "rabbitmq-k8s" || app.config["expose-external"] === "loadbalancer";
    cloud.kube.upsertService(m.name, app.name, lb ? "LoadBalancer" : "ClusterIP", kubeServiceAddress(m, app.name));
    // Its StatefulSet: a pod per unit, a claim per pod for a charm with storage.
    cloud.kube.workloads.syncApp(m.name, app.name, app.units.size, CHARM_STORAGE[app.charm.name]);
    want.add(app.name);
  }
  for (const s of [...cloud.kube.services.values()]) if (s.namespace === m.name && !want.has(s.name)) cloud.kube.removeService(m.name, s.name);
  for (const a of cloud.kube.workloads.appsIn(m.name)) if (!want.has(a)) cloud.kube.workloads.removeApp(m.name, a);
}

// ------------------------------------------------------------------ actions

function actionResult(unit: string, id: number, status: "completed" | "failed", results: Record<string, unknown>, message = ""): CmdResult {
  const body = { [unit]: { id: String(id), status, ...(message ? { message } : {}), results: { ...results, "return-code": status === "completed" ? 0 : 1 }, unit, log: [] } };
  return { code: status === "completed" ? 0 : 1, out: `${JSON.stringify(body)}\n`, err: "" };
}

/** `juju run <unit|app/leader> <action> k=v...` */
export function runAction(ctx: ExecContext, c: JujuController, m: JujuModel, unitSpec: string, action: string, params: Record<string, string>): CmdResult {
  const cloud = ctx.cloud;
  const r = new StatusReader(cloud.jujuWorld, cloud.jujuEnv, cloud.now());
  const [appName = "", n = ""] = unitSpec.split("/");
  const app = m.apps.get(appName);
  if (app === undefined) return fail(`ERROR application "${appName}" not found in model`);
  const unit = n === "leader" ? r.leader(app) : app.units.get(unitSpec);
  if (unit === undefined) return fail(`ERROR unit "${unitSpec}" not found`);
  if (!app.charm.actions.includes(action)) return fail(`ERROR action "${action}" not defined on unit "${unit.name}"`);
  const view = r.unit(m, app, unit);
  if (view.agent.current !== "idle") return fail(`ERROR timed out waiting for results from: unit ${unit.name}`);
  const id = ++cloud.actionCount;
  const done = (results: Record<string, unknown>) => actionResult(unit.name, id, "completed", results);
  const failed = (message: string) => actionResult(unit.name, id, "failed", {}, message);
  const host = hostOf(cloud, r, m, unit);
  switch (action) {
    case "get-kubeconfig":
      if (cloud.k8s === null || host === undefined || !cloud.k8s.members.has(host.systemId)) return failed("k8s is not bootstrapped on this unit yet");
      return done({ kubeconfig: kubeconfig(cloud) });
    case "list-disks": {
      if (host === undefined || cloud.ceph === null) return failed("microceph is not ready on this unit");
      const mine = cloud.ceph.osds.filter((o) => o.systemId === host.systemId && o.deployment === host.deployment);
      const free = unpartitioned(cloud, cloud.ceph, host);
      return done({ osds: JSON.stringify(mine.map((o) => ({ osd: o.id, path: o.path, location: o.hostname }))), "unpartitioned-disks": JSON.stringify(free.map((d) => ({ path: d.idPath, size: `${Math.round(d.sizeBytes / 1e9)}GB`, type: "scsi", model: "sim" }))) });
    }
    case "add-osd": {
      if (host === undefined || cloud.ceph === null) return failed("microceph is not ready on this unit");
      const paths = (params["device-id"] ?? "").split(",").filter(Boolean);
      if (paths.length === 0) return failed("device-id is required");
      for (const p of paths) {
        const why = addOsd(cloud, cloud.ceph, host, p, params["wipe"] === "true");
        if (why) return failed(`Failed to add disk ${p}: ${why}`);
      }
      return done({ status: "success" });
    }
    case "set-pool-size": {
      if (cloud.ceph === null) return failed("microceph is not ready");
      const size = Number(params["size"]);
      if (!Number.isInteger(size) || size < 1) return failed(`invalid size "${params["size"] ?? ""}"`);
      for (const p of (params["pools"] ?? "").split(",").filter(Boolean)) cloud.ceph.pools.set(p, size);
      cloud.ceph.allowSizeOne = size === 1;
      return done({ status: "success" });
    }
    case "get-ca-certificate":
      return done({ "ca-certificate": `-----BEGIN CERTIFICATE-----\n${Buffer.from(`sim-ca:${cloud.seed}:${c.name}:${m.name}`).toString("base64")}\n-----END CERTIFICATE-----` });
    case "get-admin-account":
      return done({ username: "admin", password: cloud.stableSecret("keystone", m.name, "admin"), "user-domain-name": "admin_domain", "project-name": "admin", "project-domain-name": "admin_domain", region: "RegionOne", "public-endpoint": cloud.keystoneUrl(m) ?? `http://${kubeServiceAddress(m, "traefik")}/${m.name}-${app.name}/v3`, "api-version": "3" });
    case "get-service-account":
      if (!params["username"] || !params["vhost"]) return failed("username and vhost are required");
      return done({ username: params["username"], password: cloud.stableSecret("rabbitmq", m.name, params["username"]), vhost: params["vhost"], "ingress-address": cloud.kube.externalAddress(m.name, app.name) ?? kubeServiceAddress(m, app.name), port: "5672" });
    case "running-guests":
      // The instances nova places on this host (none unless a test or rehearsal put some there).
      return done({ result: JSON.stringify(host ? (cloud.openstack.computeOf(host.hostname)?.instances ?? []) : []) });
    case "disable":
    case "enable":
      // The snap's `hypervisor disable|enable`: nova's compute service of this host, disabled or enabled.
      if (host) cloud.openstack.setComputeDisabled(host.hostname, action === "disable");
      return done({});
    case "get-credentials":
      return done({ url: `https://${host?.address ?? ""}:7000`, "certificate-authority": "sim-ca", certificate: "sim-cert", "private-key-secret": `secret:${cloud.stableSecret("clusterd", m.name)}` });
    case "set-network-agents-local-settings":
      for (const [k, v] of Object.entries(params)) app.config[`local:${k}`] = v;
      return done({});
    default:
      return failed(`action "${action}" is not simulated`);
  }
}
