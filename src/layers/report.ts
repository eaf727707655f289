/**
 * The cloud as metalwave reads it back at the end of a run (`Layering.report()`, the `cloud`
 * of `metalwave rollout --json` / `npm start --json`, docs/cli.md): everything is read live
 * from Juju (`juju status` of the machine and control-plane models, `juju machines` and
 * `show-controller` of the controller), MicroCeph (`ceph osd tree`), the Kubernetes API and
 * nova's compute services (the OpenStack API), never from what the engine believes it did.
 * A part the run did not reach is empty.
 */
import type { JujuOps, StatusJson } from "./juju-ops.ts";
import { unitsOf } from "./juju-ops.ts";
import type { LayerHost } from "./host.ts";
import type { KubePort } from "./kube.ts";
import type { LayerTemplate } from "./render.ts";
import type { OpenStackReach } from "./openstack.ts";

export interface CloudReport {
  /** Every application of the machine and control-plane models, as `juju status` shows it. */
  applications: { name: string; model: string; charm: string; status: string; message: string; units: { total: number; active: number } }[];
  /** Each relation once, its two `app:endpoint` ends sorted; crossModel when one end is a remote (offered) application. */
  relations: { model: string; endpoints: [string, string]; crossModel: boolean }[];
  /** Load-balancer address per Kubernetes service of type LoadBalancer that has one (traefik, rabbitmq, ...). */
  loadBalancer: Record<string, string>;
  /** OSDs up in `ceph osd tree`; the `ceph`-tagged disks of the storage hosts layered in this run. */
  ceph: { osds: number; taggedDisks: number };
  /** Hosts whose microovn unit is active with the `chassis` role. */
  ovn: { chassis: string[] };
  /**
   * computeHosts: hosts with an openstack-hypervisor unit. computeServicesUp: the hosts of nova's
   * nova-compute services that are up and enabled, as `GET /os-services` lists them (source
   * "nova"); when the API cannot be read, the hosts whose hypervisor unit is active (source
   * "juju", with the reason in `note`).
   */
  hypervisors: { computeHosts: string[]; computeServicesUp: string[]; source: "nova" | "juju"; note?: string };
  /** The controller model's machines, with their HA status from show-controller; `ha` over all of them. */
  controllers: { machines: { id: string; address: string; ha: string }[]; ha: "ha-enabled" | "ha-pending" | "none" };
  kubernetesNodes: { name: string; ready: boolean; labels: Record<string, string> }[];
}

export interface ReportSources {
  ops?: JujuOps;
  controllerTpl?: LayerTemplate;
  /** The machine model first, then the control-plane model. */
  models?: readonly string[];
  kube?: KubePort;
  ceph?: { host: LayerHost; tpl: LayerTemplate };
  taggedDisks: number;
  ensureOpen: (step: string) => void;
  /** The OpenStack API (nova's compute services); absent: computeServicesUp from Juju's units. */
  openstack?: () => Promise<OpenStackReach>;
}

export function emptyCloud(): CloudReport {
  return { applications: [], relations: [], loadBalancer: {}, ceph: { osds: 0, taggedDisks: 0 }, ovn: { chassis: [] }, hypervisors: { computeHosts: [], computeServicesUp: [], source: "juju" }, controllers: { machines: [], ha: "none" }, kubernetesNodes: [] };
}

interface OsdTree {
  nodes?: { type?: string; status?: string }[];
}

function hostnames(st: StatusJson, app: string, only?: (status: string) => boolean): string[] {
  const machines = (st.machines ?? {}) as Record<string, { hostname?: string }>;
  return [...new Set(unitsOf(st, app).filter((u) => only === undefined || only(u.status)).map((u) => machines[u.machine ?? ""]?.hostname ?? u.machine ?? ""))].sort();
}

export async function readCloud(s: ReportSources): Promise<CloudReport> {
  const out = emptyCloud();
  out.ceph.taggedDisks = s.taggedDisks;
  if (s.ops && s.controllerTpl) {
    const ops = s.ops;
    const c = ops.s.client;
    const machines = await ops.lane.steps.queryJson<{ machines?: Record<string, { "dns-name"?: string }> }>(c, s.controllerTpl, "machines", {});
    const show = await ops.lane.steps.queryJson<Record<string, { "controller-machines"?: Record<string, { "ha-status"?: string }> }>>(c, s.controllerTpl, "showController", {});
    const voters = Object.values(show)[0]?.["controller-machines"] ?? {};
    out.controllers.machines = Object.entries(machines.machines ?? {}).map(([id, m]) => ({ id, address: m["dns-name"] ?? "", ha: voters[id]?.["ha-status"] ?? (id in voters ? "" : "no-vote") }));
    const has = out.controllers.machines.map((m) => m.ha);
    out.controllers.ha = has.includes("ha-pending") ? "ha-pending" : has.filter((h) => h === "ha-enabled").length >= 3 ? "ha-enabled" : "none";
    const known = new Set(await ops.models().catch((): string[] => []));
    for (const [i, model] of (s.models ?? []).entries()) {
      if (!known.has(model)) continue;
      const st = await ops.status(model).catch((): StatusJson => ({}));
      const remote = new Set(Object.keys(st["application-endpoints"] ?? {}));
      const seen = new Map<string, { model: string; endpoints: [string, string]; crossModel: boolean }>();
      const apps = st.applications ?? {};
      for (const [name, a] of Object.entries(apps)) {
        const units = unitsOf(st, name);
        out.applications.push({ name, model, charm: a["charm-name"] ?? a.charm ?? "", status: a["application-status"]?.current ?? "unknown", message: a["application-status"]?.message ?? "", units: { total: units.length, active: units.filter((u) => u.status === "active").length } });
        for (const [ep, rels] of Object.entries(a.relations ?? {})) {
          for (const r of rels) {
            const other = r["related-application"] ?? "";
            if (other === name) continue; // peers join no two applications
            // The other side's endpoint: its one endpoint related back with the same interface; a remote application is named alone.
            const back = Object.entries(apps[other]?.relations ?? {}).filter(([, l]) => l.some((x) => x["related-application"] === name && x.interface === r.interface)).map(([e]) => e);
            if (!remote.has(other) && back.length !== 1) continue;
            const ends = [`${name}:${ep}`, remote.has(other) ? other : `${other}:${back[0] ?? ""}`].sort() as [string, string];
            seen.set(ends.join(" "), { model, endpoints: ends, crossModel: remote.has(other) });
          }
        }
      }
      out.relations.push(...seen.values());
      if (i === 0) {
        out.hypervisors.computeHosts = hostnames(st, "openstack-hypervisor");
        out.hypervisors.computeServicesUp = hostnames(st, "openstack-hypervisor", (x) => x === "active");
        out.hypervisors.note = "the OpenStack API was not asked";
        // Every microovn unit is mapped `chassis` (§2e: every node; control hosts also central): its active units are the chassis.
        out.ovn.chassis = hostnames(st, "microovn", (x) => x === "active");
      }
    }
  }
  s.ensureOpen("report");
  if (s.openstack) {
    const { note: _, ...juju } = out.hypervisors;
    out.hypervisors = { ...juju, ...(await computeServicesUp(s.openstack)) };
  }
  if (s.kube) {
    out.kubernetesNodes = (await s.kube.listNodes()).map((n) => ({ name: n.name, ready: n.ready, labels: n.labels }));
    for (const svc of (await s.kube.listServices?.()) ?? []) if (svc.loadBalancerIp) out.loadBalancer[svc.name] = svc.loadBalancerIp;
  }
  if (s.ceph && s.ops) {
    const tree = await s.ops.lane.steps.queryJson<OsdTree>(s.ceph.host, s.ceph.tpl, "osdTree", {});
    out.ceph.osds = (tree.nodes ?? []).filter((n) => n.type === "osd" && n.status === "up").length;
  }
  return out;
}


/** Nova's view: hosts of nova-compute services up and enabled; on failure, Juju's view stays with the reason. */
async function computeServicesUp(openstack: () => Promise<OpenStackReach>): Promise<Pick<CloudReport["hypervisors"], "source"> & Partial<CloudReport["hypervisors"]>> {
  let why: string;
  try {
    const reach = await openstack();
    if (reach.kind === "ready") {
      const list = await reach.port.computeServices({ binary: "nova-compute" });
      const up = [...new Set(list.filter((x) => x.state === "up" && x.status === "enabled").map((x) => x.host))].sort();
      return { computeServicesUp: up, source: "nova" };
    }
    why = reach.reason;
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
  }
  return { source: "juju", note: `nova's compute services could not be read (${why}): hosts whose openstack-hypervisor unit is active` };
}
