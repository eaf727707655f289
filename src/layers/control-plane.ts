/**
 * The control plane (templates/layers/control-plane.yaml, juju-layering.md §2b#13-15, §3b-3d):
 * OVN first on the control hosts (MicroOVN, its distributors and the OVN proxy, §2e), then a
 * model on the Kubernetes cloud with the charmed services at the reference's scales, every
 * mandatory relation, the cross-model relations with the machine model's offers, its own
 * offers and the machine charms' relations with them (the second pass), then the wait: every
 * unit of the control plane and of the machine charms that depend on it active in
 * consecutive reads, and a load-balancer address for the ingress and the queue.
 */
import type { KubePort } from "./kube.ts";
import { LayerError } from "./errors.ts";
import type { LayerHost } from "./host.ts";
import type { Lane } from "./lane.ts";
import type { JujuOps } from "./juju-ops.ts";
import { fill } from "./juju-ops.ts";
import type { ControlPlaneApp, LayerTemplate, Values } from "./render.ts";
import { waitUntil, type WaitOptions } from "./waits.ts";

/** What compute hosts need of the control plane: where its offers are. */
export interface ControlPlaneEndpoints {
  model: string;
  /** Offer name → URL (admin/<model>.<offer>). */
  offers: Record<string, string>;
  /** Load-balancer address per service named in `loadBalanced` (traefik, rabbitmq). */
  loadBalancer: Record<string, string>;
}

/** Replicas for a control-plane application from the number of control machines (the reference's rule, §3c). */
export function replicasFor(kind: ControlPlaneApp["kind"], controlCount: number): number {
  const n = Math.max(1, controlCount);
  switch (kind) {
    case "database":
    case "queue":
      return n >= 3 ? 3 : 1;
    case "api":
      return n >= 10 ? Math.min(n + 2, 7) : Math.min(n, 3);
    case "ingress":
      return Math.min(n, 3);
    case "single":
      return 1;
  }
}

export interface ControlPlaneDeps {
  tpl: LayerTemplate<"control-plane">;
  machineModel: string;
  k8sCloud: string;
  hasStorage: boolean;
  timeoutMs: number;
  waitOptions: (lane: Lane, layer: string, step: string, host: LayerHost, timeoutMs: number) => WaitOptions;
  kube: KubePort;
  values: Values;
}

export async function deployControlPlane(ops: JujuOps, d: ControlPlaneDeps, controlCount: number): Promise<ControlPlaneEndpoints> {
  const tpl = d.tpl;
  const model = String(tpl.defaults["model"] ?? "openstack");
  const c = ops.s.client;
  const wanted = <T extends { when?: "storage" | undefined }>(x: T) => x.when === undefined || d.hasStorage;
  const rels = (list: typeof tpl.extra.relations) => list.filter((r) => r[2] === undefined || d.hasStorage);
  await ops.ensureModel(model, d.k8sCloud);
  const apps = tpl.extra.applications.filter(wanted);
  // One read, then what is missing: deploys, scales, config (each verified and retried as a step).
  const st = await ops.status(model);
  for (const app of apps) {
    const scale = replicasFor(app.kind, controlCount);
    const base = { app: app.app, charm: app.charm, channel: app.channel };
    const have = st.applications?.[app.app];
    if (have === undefined) {
      await ops.lane.steps.ensure(c, ops.s.tpl, "deployK8s", { model, ...base, scale }, {
        satisfied: async () => (await ops.status(model)).applications?.[app.app] !== undefined,
        act: async () => {
          await ops.lane.steps.run(c, ops.s.tpl, "deployK8s", { model, ...base, scale });
        },
      });
    } else if (have.scale !== scale) {
      await ops.lane.steps.ensure(c, ops.s.tpl, "scale", { model, app: app.app, scale }, { satisfied: async () => (await ops.status(model)).applications?.[app.app]?.scale === scale, act: () => ops.act(model, "scale", { app: app.app, scale }) });
    }
    if (have === undefined || Object.keys(app.config).length > 0) await ops.ensureConfig(model, app.app, Object.fromEntries(Object.entries(app.config).map(([k, v]) => [k, fill(v, d.values, app.app)])));
  }
  await ops.ensureRelations(model, rels(tpl.extra.relations));
  const offers: Record<string, string> = {};
  for (const o of tpl.extra.offers.filter(wanted)) {
    await ops.ensureOffer(model, o);
    offers[o.name] = `admin/${model}.${o.name}`;
  }
  await ops.ensureRelations(d.machineModel, rels(tpl.extra.machineRelations));
  // Every unit active in consecutive reads (§2: 3,600 s; traefik accepts maintenance).
  const wait = (m: string, names: string[], accept?: string[]) => ops.waitUnits(m, names, { layer: "control-plane", step: "waitActive", host: c, timeoutMs: d.timeoutMs, ...(accept ? { accept } : {}) });
  await wait(model, apps.filter((a) => a.kind !== "ingress").map((a) => a.app));
  await wait(model, apps.filter((a) => a.kind === "ingress").map((a) => a.app), ["active", "maintenance"]);
  const machineApps = [...new Set(rels(tpl.extra.machineRelations).map((r) => r[0].split(":")[0] ?? ""))];
  await wait(d.machineModel, machineApps);
  const loadBalancer = await loadBalancerAddresses(ops.lane, d, c, tpl.extra.loadBalanced);
  return { model, offers, loadBalancer };
}

/** The services' load-balancer addresses from the Kubernetes API, in consecutive reads. */
async function loadBalancerAddresses(lane: Lane, d: ControlPlaneDeps, client: LayerHost, names: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const list = d.kube.listServices;
  if (names.length === 0) return out;
  if (list === undefined) throw new LayerError("LAYER_PRECONDITION", { layer: "control-plane", step: "loadBalancer" }, "the Kubernetes port cannot list services");
  await waitUntil(async () => {
    lane.ensureOpen("loadBalancer");
    const svcs = await list.call(d.kube);
    const missing = names.filter((n) => svcs.find((s) => s.name === n)?.loadBalancerIp === undefined);
    for (const n of names) {
      const ip = svcs.find((s) => s.name === n)?.loadBalancerIp;
      if (ip !== undefined) out[n] = ip;
    }
    return { ok: missing.length === 0, detail: `no load-balancer address for ${missing.join(", ")}` };
  }, d.waitOptions(lane, "control-plane", "loadBalancer", client, d.timeoutMs));
  return out;
}
