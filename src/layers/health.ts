/**
 * Health checks of hosts in service, by role, over the same SSH port and Kubernetes
 * client the layers use (docs/remediation.md). Read-only: every command is a query
 * step of the layer templates, so a site's templates apply to the checks too.
 *
 * - every host: answers SSH (`ssh`: a trivial command within the timeout);
 * - every compute, storage and control host: a machine of the machine model whose agent is
 *   not down, lost or in error (`juju-machine`), read from Juju's status of that model
 *   (`juju status --format json`, FullStatus behind the CLI), read once per probe through the
 *   juju client of a controller machine that knows the controller, not per host;
 * - compute: its openstack-hypervisor unit there, not in error or blocked (`hypervisor-unit`);
 * - storage: its microceph unit there, not in error or blocked (`ceph-unit`), and the host's
 *   OSDs up in `ceph osd tree` (`ceph-osds`);
 * - control: its k8s unit there, not in error or blocked (`kubernetes-unit`), and its node
 *   Ready through the Kubernetes API (`kubernetes-node`). The nodes are read with the kubeconfig
 *   of the first control host (by hostname) whose API answers; a control host whose
 *   kubeconfig or API does not answer fails `kubernetes-api`, and the next one is tried;
 * - juju-controller: a machine whose juju client knows the controller must reach it
 *   (`juju machines` of the controller model), and that model must hold every controller host
 *   as a machine (matched by address: the bootstrap machine's instance id is `manual:`)
 *   whose agent is not down (`juju-controller`). When no machine's client knows the
 *   controller, its machines cannot be judged and none fails for it (a warning is logged):
 *   the cause is then not one host, and failing them all would re-provision a whole cluster.
 *   The same holds for the Juju checks of the other hosts (`juju-machine`, `*-unit`).
 *
 * The probe never throws for a host's problem: each one becomes a failure with its check
 * and a detail (no secrets: the kubeconfig query is secret and its output is never kept).
 * Hosts are probed at most `concurrency` at a time, so a fleet of thousands neither opens
 * thousands of connections nor waits on them one by one.
 */
import type { Logger } from "pino";
import { SshError } from "../ssh/errors.ts";
import type { SshPort } from "../ssh/port.ts";
import { LayerError } from "./errors.ts";
import { addressesOf } from "./host.ts";
import { unitsOf, type StatusJson } from "./juju-ops.ts";
import { clientNodeKube, type KubeNode, type KubePort } from "./kube.ts";
import type { LayerHost } from "./layering.ts";
import { loadLayerTemplate, type LayerName, type LayerTemplate, type Values } from "./render.ts";
import { StepRunner } from "./steps.ts";
import { TemplateError } from "./templates.ts";

export const HEALTH_CHECKS = ["ssh", "juju-machine", "hypervisor-unit", "ceph-unit", "ceph-osds", "kubernetes-unit", "kubernetes-api", "kubernetes-node", "juju-controller"] as const;
export type HealthCheck = (typeof HEALTH_CHECKS)[number];

export interface HealthFailure {
  check: HealthCheck;
  detail: string;
}

export interface HostHealth {
  systemId: string;
  hostname: string;
  roles: string[];
  healthy: boolean;
  failures: HealthFailure[];
}

export interface HealthProbeOptions {
  ssh: SshPort;
  logger: Logger;
  /** Builds the Kubernetes port from a kubeconfig. Default: @kubernetes/client-node. */
  kube?: (kubeconfig: string) => KubePort;
  /** Template texts instead of templates/layers/*.yaml, as for the layer engine. */
  templates?: Partial<Record<LayerName, string>>;
  /** Overrides of template defaults, as for the layer engine. */
  values?: Partial<Record<LayerName, Values>>;
  /** Each command, and the Kubernetes API read, must answer within this. Default 30 s. */
  timeoutMs?: number;
  /** Hosts probed at once. Default 32. */
  concurrency?: number;
}

export interface HealthProbe {
  /** One result per host, in the order given. */
  check(hosts: readonly LayerHost[]): Promise<HostHealth[]>;
}

/** The query steps the checks run, by layer template: a template without one fails when the probe is created. */
export const HEALTH_STEPS: Readonly<Partial<Record<LayerName, readonly string[]>>> = {
  storage: ["osdTree"],
  kubernetes: ["kubeconfig"],
  "juju-controller": ["controllers", "machines"],
  juju: ["status"],
  // No step: its default `model` names the machine model the Juju checks read.
  machines: [],
};

/** The unit each role's host must run, by check: its application in the machine model. */
const ROLE_UNITS: readonly { role: string; app: string; check: HealthCheck }[] = [
  { role: "compute", app: "openstack-hypervisor", check: "hypervisor-unit" },
  { role: "storage", app: "microceph", check: "ceph-unit" },
  { role: "control", app: "k8s", check: "kubernetes-unit" },
];

/** Workload statuses a unit in service must not show (error: a failed hook; blocked: the charm needs an operator). */
const SICK_WORKLOAD = new Set(["error", "blocked"]);
/** Machine agent statuses of a machine that is not serving (Juju core/status). */
const SICK_AGENT = new Set(["down", "lost", "error"]);

export function createHealthProbe(o: HealthProbeOptions): HealthProbe {
  return new Probe(o);
}

/** `juju machines -m <controller>:controller --format json` (JB:jubilant/statustypes.py machine keys). */
interface ControllerMachines {
  machines?: Record<string, { "dns-name"?: string; "ip-addresses"?: string[]; "juju-status"?: { current?: string; message?: string } }>;
}

interface OsdTree {
  nodes?: { id?: number; name?: string; type?: string; status?: string; children?: number[] }[];
}

/** A check's detail from an error: the first line of the message (no output tail: it may be long). */
function detailOf(e: unknown): string {
  if (e instanceof SshError) {
    const why: Record<SshError["code"], string> = {
      SSH_CONNECT: "does not answer SSH",
      SSH_AUTH: "refuses metalwave's key",
      SSH_HOST_KEY_CHANGED: "presents a changed host key",
      SSH_HOST_KEY_UNKNOWN: "has no pinned host key",
      SSH_TIMEOUT: "did not answer in time",
      SSH_DROPPED: "dropped the connection",
      SSH_EXIT: "command failed",
      SSH_CLOSED: "the SSH port is closed",
    };
    return `${why[e.code]} (${e.code}): ${firstLine(e.message)}`;
  }
  if (e instanceof LayerError) return e.cause instanceof SshError ? detailOf(e.cause) : `${e.code}: ${firstLine(e.reason)}`;
  return firstLine(e instanceof Error ? e.message : String(e));
}

function firstLine(s: string): string {
  return (s.split("\n")[0] ?? "").slice(0, 500);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Runs `fn` over `items`, at most `limit` at a time; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

class Probe implements HealthProbe {
  private readonly o: HealthProbeOptions;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly steps: StepRunner;
  private readonly tpls = new Map<LayerName, LayerTemplate>();

  constructor(o: HealthProbeOptions) {
    this.o = o;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.concurrency = Math.max(1, o.concurrency ?? 32);
    // One attempt per query: a check that fails is the finding, not something to retry.
    this.steps = new StepRunner(o.ssh, o.logger, { attempts: 1, backoffMs: 0, commandTimeoutMs: this.timeoutMs }, async () => undefined);
    for (const [layer, names] of Object.entries(HEALTH_STEPS) as [LayerName, readonly string[]][]) {
      const t = loadLayerTemplate(layer, o.templates?.[layer]);
      for (const n of names) if (!(n in t.steps)) throw new TemplateError(`template ${t.file}: step '${n}' is missing (the health checks run it)`);
      this.tpls.set(layer, { ...t, defaults: { ...t.defaults, ...o.values?.[layer] } });
    }
  }

  private tpl(layer: LayerName): LayerTemplate {
    return this.tpls.get(layer) as LayerTemplate;
  }

  async check(hosts: readonly LayerHost[]): Promise<HostHealth[]> {
    const results = await mapLimit(hosts, this.concurrency, (h) => this.hostChecks(h));
    const byId = new Map(results.map((r, i) => [(hosts[i] as LayerHost).systemId, r]));
    const reachable = hosts.filter((h) => byId.get(h.systemId)?.reachable === true);
    const withRole = (role: string) => hosts.filter((h) => h.roles.includes(role));
    const add = (h: LayerHost, f: HealthFailure) => byId.get(h.systemId)?.failures.push(f);

    const controls = withRole("control");
    if (controls.length > 0) {
      const nodes = await this.kubernetesNodes(reachable.filter((h) => h.roles.includes("control")), add);
      for (const h of nodes === undefined ? [] : controls) {
        const node = nodes?.find((n) => n.name === h.hostname);
        if (node === undefined) add(h, { check: "kubernetes-node", detail: `${h.hostname} is not a node of the Kubernetes cluster` });
        else if (!node.ready) add(h, { check: "kubernetes-node", detail: `node ${h.hostname} is NotReady` });
      }
    }

    const controllers = withRole("juju-controller");
    const controller = String(this.tpl("juju-controller").defaults["controller"] ?? "");
    const client = controllers.find((h) => byId.get(h.systemId)?.show !== undefined);
    const show = client === undefined ? undefined : byId.get(client.systemId)?.show;
    await this.jujuChecks(client, reachable.filter((h) => !h.roles.includes("juju-controller") && ROLE_UNITS.some((r) => h.roles.includes(r.role))), add);
    if (controllers.length > 0 && show === undefined) this.o.logger.warn({ controller }, "no juju-controller machine's client reached the controller: its machines were not checked");
    for (const h of show === undefined ? [] : controllers) {
      // By address: the bootstrap machine of a manual cloud has instance id `manual:` with no host in it.
      const machine = Object.entries(show?.machines ?? {}).find(([, m]) => m["dns-name"] === h.address || (m["ip-addresses"] ?? []).includes(h.address));
      const agent = machine?.[1]["juju-status"];
      if (machine === undefined) add(h, { check: "juju-controller", detail: `${h.hostname} (${h.address}) is not a machine of controller ${controller}` });
      else if (agent?.current === "down" || agent?.current === "lost") add(h, { check: "juju-controller", detail: `controller machine ${machine[0]} is ${agent.current}${agent.message ? ` (${agent.message})` : ""}` });
    }

    return hosts.map((h) => {
      const failures = byId.get(h.systemId)?.failures ?? [];
      const r: HostHealth = { systemId: h.systemId, hostname: h.hostname, roles: [...h.roles], healthy: failures.length === 0, failures };
      if (!r.healthy) this.o.logger.warn({ systemId: h.systemId, hostname: h.hostname, failures }, "host failed its health check");
      return r;
    });
  }

  /** SSH first; if it answers, the checks of each of the host's roles that run on the host itself. */
  private async hostChecks(h: LayerHost): Promise<{ reachable: boolean; failures: HealthFailure[]; show?: ControllerMachines }> {
    const failures: HealthFailure[] = [];
    const reach = () => this.o.ssh.exec(h, "true", { timeoutMs: this.timeoutMs });
    try {
      // (A pooled connection the host closed while idle is replaced by the SSH port itself.)
      await reach();
    } catch (e) {
      return { reachable: false, failures: [{ check: "ssh", detail: detailOf(e) }] };
    }
    const roles = new Set(h.roles);
    if (roles.has("storage")) {
      const o = await this.osds(h);
      if (o) failures.push(o);
    }
    let show: ControllerMachines | undefined;
    if (roles.has("juju-controller")) {
      const f = await this.guard("juju-controller", async () => {
        const tpl = this.tpl("juju-controller");
        const controller = String(tpl.defaults["controller"] ?? "");
        const known = await this.steps.run(h, tpl, "controllers", {}, { allowNonZero: true });
        const names = known.exitCode === 0 ? Object.keys((JSON.parse(known.stdout) as { controllers?: Record<string, unknown> }).controllers ?? {}) : [];
        if (!names.includes(controller)) return undefined;
        const r = await this.steps.run(h, tpl, "machines", {}, { allowNonZero: true });
        if (r.exitCode !== 0) return `controller ${controller} does not answer this machine's juju client: ${firstLine(r.stderr.trim() || r.stdout.trim())}`;
        show = JSON.parse(r.stdout) as ControllerMachines;
        return undefined;
      });
      if (f) failures.push(f);
    }
    return { reachable: true, failures, ...(show ? { show } : {}) };
  }

  /** Runs one check; a thrown error is the check's failure. */
  private async guard(check: HealthCheck, fn: () => Promise<string | undefined>): Promise<HealthFailure | undefined> {
    try {
      const detail = await fn();
      return detail === undefined ? undefined : { check, detail };
    } catch (e) {
      return { check, detail: detailOf(e) };
    }
  }

  /**
   * The Juju checks of compute, storage and control hosts, from one read of the machine
   * model's status through `client`'s juju client: each host a machine whose agent serves
   * (`juju-machine`), with its role's unit there neither in error nor blocked (`*-unit`).
   * Without a client that knows the controller, or when the read fails, nothing is judged.
   */
  private async jujuChecks(client: LayerHost | undefined, hosts: readonly LayerHost[], add: (h: LayerHost, f: HealthFailure) => void): Promise<void> {
    if (hosts.length === 0) return;
    const model = String(this.tpl("machines").defaults["model"] ?? "openstack-machines");
    if (client === undefined) {
      this.o.logger.warn({ model }, "no juju-controller machine's client reached the controller: the hosts' Juju machines and units were not checked");
      return;
    }
    let st: StatusJson;
    try {
      st = await withTimeout(this.steps.queryJson<StatusJson>(client, this.tpl("juju"), "status", { model }), this.timeoutMs, "juju status");
    } catch (e) {
      this.o.logger.warn({ model, err: detailOf(e) }, "Juju's status of the machine model could not be read: the hosts' Juju machines and units were not checked");
      return;
    }
    for (const h of hosts) {
      const addrs = addressesOf(h);
      const machine = Object.entries(st.machines ?? {}).find(([, m]) => [m["dns-name"], ...(m["ip-addresses"] ?? [])].some((a) => a !== undefined && addrs.includes(a)));
      if (machine === undefined) {
        add(h, { check: "juju-machine", detail: `${h.hostname} (${h.address}) is not a machine of model ${model}` });
        continue;
      }
      const [id, m] = machine;
      const agent = m["juju-status"];
      if (agent?.current !== undefined && SICK_AGENT.has(agent.current)) add(h, { check: "juju-machine", detail: `machine ${id} agent is ${agent.current}${agent.message ? ` (${agent.message})` : ""}` });
      for (const r of ROLE_UNITS) {
        if (!h.roles.includes(r.role)) continue;
        const u = unitsOf(st, r.app).find((x) => x.machine === id);
        if (u === undefined) add(h, { check: r.check, detail: `no ${r.app} unit on machine ${id}` });
        else if (SICK_WORKLOAD.has(u.status)) add(h, { check: r.check, detail: `${u.name} is ${u.status}${u.message ? ` (${u.message})` : ""}` });
      }
    }
  }

  private osds(h: LayerHost): Promise<HealthFailure | undefined> {
    return this.guard("ceph-osds", async () => {
      const tree = await this.steps.queryJson<OsdTree>(h, this.tpl("storage"), "osdTree", {});
      const nodes = tree.nodes ?? [];
      const bucket = nodes.find((n) => n.type === "host" && n.name === h.hostname);
      const mine = nodes.filter((n) => n.type === "osd" && n.id !== undefined && (bucket?.children ?? []).includes(n.id));
      if (mine.length === 0) return h.cephDisks.length > 0 ? `no OSD on ${h.hostname} (${h.cephDisks.length} ceph-tagged disk(s))` : undefined;
      const down = mine.filter((n) => n.status !== "up");
      return down.length > 0 ? `${down.length} of ${mine.length} OSD(s) on ${h.hostname} not up: ${down.map((n) => `${n.name ?? `osd.${String(n.id)}`} ${n.status ?? "missing"}`).join(", ")}` : undefined;
    });
  }

  /**
   * The cluster's nodes, read through the kubeconfig of the first control host (by
   * hostname) whose API answers. Each host tried before it fails `kubernetes-api`;
   * undefined when none answers.
   */
  private async kubernetesNodes(controls: readonly LayerHost[], add: (h: LayerHost, f: HealthFailure) => void): Promise<KubeNode[] | undefined> {
    for (const c of [...controls].sort((a, b) => (a.hostname < b.hostname ? -1 : 1))) {
      let kubeconfig: string;
      try {
        kubeconfig = await this.steps.query(c, this.tpl("kubernetes"), "kubeconfig", {});
      } catch (e) {
        add(c, { check: "kubernetes-api", detail: `no kubeconfig from k8s config: ${detailOf(e)}` });
        continue;
      }
      try {
        const kube = (this.o.kube ?? clientNodeKube)(kubeconfig);
        return await withTimeout(kube.listNodes(), this.timeoutMs, "the Kubernetes API");
      } catch (e) {
        add(c, { check: "kubernetes-api", detail: `the Kubernetes API of this host's kubeconfig does not answer: ${detailOf(e)}` });
      }
    }
    return undefined;
  }
}
