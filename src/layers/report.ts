/**
 * The cloud as metalwave reads it back at the end of a run (`Layering.report()`, the `cloud`
 * of `metalwave rollout --json` / `npm start --json`, docs/cli.md): everything is read live
 * from Juju (`juju status`, `juju machines`, `show-controller` on the juju client machine),
 * MicroCeph (`disk list`) and the Kubernetes API, never from what the engine believes it did.
 * A part the run did not reach is empty (no controller: no applications; no load balancer:
 * no addresses).
 */
import type { KubePort } from "./kube.ts";
import type { LayerTemplate } from "./render.ts";
import type { StepRunner } from "./steps.ts";
import type { LayerHost } from "./layering.ts";

export interface CloudReport {
  /** Every application of the control-plane model, as `juju status` shows it. */
  applications: { name: string; model: string; charm: string; status: string; message: string; units: { total: number; active: number } }[];
  /** Each relation once, its two `app:endpoint` ends sorted; crossModel when one end is a remote (offered) application. */
  relations: { endpoints: [string, string]; crossModel: boolean }[];
  /** Load-balancer address per Kubernetes service of type LoadBalancer that has one (e.g. traefik, rabbitmq). */
  loadBalancer: Record<string, string>;
  ceph: { osds: number; taggedDisks: number };
  /** OVN chassis registered (no OVN layer yet: empty). */
  ovn: { chassis: string[] };
  /** computeServicesUp: as the control plane lists them; null while metalwave has no way to ask it. */
  hypervisors: { computeHosts: string[]; computeServicesUp: string[] | null };
  /** The controller model's machines, with their HA status from show-controller; `ha` over all of them. */
  controllers: { machines: { id: string; address: string; ha: string }[]; ha: "ha-enabled" | "ha-pending" | "none" };
  kubernetesNodes: { name: string; ready: boolean; labels: Record<string, string> }[];
}

interface StatusJson {
  applications?: Record<string, { charm?: string; "charm-name"?: string; "application-status"?: { current?: string; message?: string }; relations?: Record<string, { "related-application"?: string; interface?: string }[]>; units?: Record<string, { "workload-status"?: { current?: string } }> }>;
  "application-endpoints"?: Record<string, unknown>;
}

export interface ReportSources {
  steps: StepRunner;
  juju?: { client: LayerHost; controllerTpl: LayerTemplate; controlPlaneTpl: LayerTemplate; model: string; modelExists: boolean };
  kube?: KubePort;
  ceph?: { bootstrap: LayerHost; tpl: LayerTemplate };
  taggedDisks: number;
  computeHosts: readonly string[];
  ensureOpen: (step: string) => void;
}

export function emptyCloud(): CloudReport {
  return { applications: [], relations: [], loadBalancer: {}, ceph: { osds: 0, taggedDisks: 0 }, ovn: { chassis: [] }, hypervisors: { computeHosts: [], computeServicesUp: null }, controllers: { machines: [], ha: "none" }, kubernetesNodes: [] };
}

export async function readCloud(s: ReportSources): Promise<CloudReport> {
  const out = emptyCloud();
  out.ceph.taggedDisks = s.taggedDisks;
  out.hypervisors.computeHosts = [...s.computeHosts].sort();
  if (s.juju) {
    const j = s.juju;
    const machines = await s.steps.queryJson<{ machines?: Record<string, { "dns-name"?: string }> }>(j.client, j.controllerTpl, "machines", {});
    const show = await s.steps.queryJson<Record<string, { "controller-machines"?: Record<string, { "ha-status"?: string }> }>>(j.client, j.controllerTpl, "showController", {});
    const voters = Object.values(show)[0]?.["controller-machines"] ?? {};
    out.controllers.machines = Object.entries(machines.machines ?? {}).map(([id, m]) => ({ id, address: m["dns-name"] ?? "", ha: voters[id]?.["ha-status"] ?? (id in voters ? "" : "no-vote") }));
    const has = out.controllers.machines.map((m) => m.ha);
    out.controllers.ha = has.includes("ha-pending") ? "ha-pending" : has.filter((h) => h === "ha-enabled").length >= 3 ? "ha-enabled" : "none";
    if (j.modelExists) {
      // The model may be missing (the control plane never got that far): then it has no applications.
      const st = await s.steps.queryJson<StatusJson>(j.client, j.controlPlaneTpl, "status", {}).catch((): StatusJson => ({}));
      const remote = new Set(Object.keys(st["application-endpoints"] ?? {}));
      // A relation is the pair of applications and its interface; each side's entry names its own endpoint.
      const seen = new Map<string, { ends: Map<string, string>; crossModel: boolean }>();
      for (const [name, a] of Object.entries(st.applications ?? {})) {
        const units = Object.values(a.units ?? {});
        out.applications.push({ name, model: j.model, charm: a["charm-name"] ?? a.charm ?? "", status: a["application-status"]?.current ?? "unknown", message: a["application-status"]?.message ?? "", units: { total: units.length, active: units.filter((u) => u["workload-status"]?.current === "active").length } });
        for (const [ep, rels] of Object.entries(a.relations ?? {})) {
          for (const r of rels) {
            const other = r["related-application"] ?? "";
            const key = `${[name, other].sort().join(" ")} ${r.interface ?? ""}`;
            const rel = seen.get(key) ?? { ends: new Map<string, string>([[other, other]]), crossModel: remote.has(other) };
            rel.ends.set(name, `${name}:${ep}`);
            seen.set(key, rel);
          }
        }
      }
      // Peer relations (an application with itself) are left out: they join no two applications.
      out.relations = [...seen.values()].filter((r) => r.ends.size === 2).map((r) => ({ endpoints: [...r.ends.values()].sort() as [string, string], crossModel: r.crossModel }));
    }
  }
  s.ensureOpen("report");
  if (s.kube) {
    out.kubernetesNodes = (await s.kube.listNodes()).map((n) => ({ name: n.name, ready: n.ready, labels: n.labels }));
    for (const svc of (await s.kube.listServices?.()) ?? []) if (svc.loadBalancerIp) out.loadBalancer[svc.name] = svc.loadBalancerIp;
  }
  if (s.ceph) {
    const d = await s.steps.queryJson<{ ConfiguredDisks?: unknown[] }>(s.ceph.bootstrap, s.ceph.tpl, "disks", {});
    out.ceph.osds = (d.ConfiguredDisks ?? []).length;
  }
  return out;
}
