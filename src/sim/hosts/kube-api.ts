/**
 * A simulated Kubernetes API on loopback: just what metalwave's layers use through
 * @kubernetes/client-node — /version, /api discovery, list/read nodes, and patching
 * node labels and `spec.unschedulable` (merge and strategic-merge patches, which agree for
 * these), services (list/read), and the applications' pods and claims with the Eviction API
 * (src/sim/hosts/kube-workloads.ts). Nodes appear when a simulated host bootstraps or joins the cluster and
 * become Ready `readyAfterMs` later. A service of type LoadBalancer gets an address in
 * `status.loadBalancer.ingress` only while the cluster's load balancer is enabled, from
 * its pools (the configured CIDRs or `start-end` ranges, in order): `k8s bootstrap`
 * leaves it off (juju-layering.md §4d). Every request needs `Authorization: Bearer <token>`.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { systemClock, wallDate, type Clock } from "../../clock.ts";
import { SimWorkloads } from "./kube-workloads.ts";

export interface SimNode {
  name: string;
  address: string;
  uid: string;
  labels: Record<string, string>;
  ready: boolean;
  createdAt: string;
  readySince: string | null;
  resourceVersion: number;
  /** Its kubelet was stopped (a simulated outage): it stays NotReady. */
  kubeletStopped?: boolean;
  /** Cordoned (`spec.unschedulable`): no new pod is scheduled on it. */
  unschedulable?: boolean;
}

export interface SimService {
  namespace: string;
  name: string;
  uid: string;
  type: "ClusterIP" | "LoadBalancer";
  clusterIP: string;
  /** Set while the load balancer is enabled and a pool address is free. */
  loadBalancerIP: string | undefined;
  annotations: Record<string, string>;
  createdAt: string;
  resourceVersion: number;
}

export interface LoadBalancerState {
  enabled: boolean;
  /** Addresses are announced (L2 or BGP mode): reachable from outside the cluster. */
  announced: boolean;
  /** `a.b.c.d/n` or `a.b.c.d-e.f.g.h`. */
  cidrs: string[];
}

const ipNum = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const ipStr = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

/** The last pool asked for, by its CIDRs: the pools change rarely, and allocation runs on every charm reconcile. */
let lastPool: { key: string; max: number; addresses: readonly string[] } | undefined;

/** Every address of the pools, in order (a /n keeps its network and broadcast addresses out). */
export function poolAddresses(cidrs: readonly string[], max = 4096): readonly string[] {
  const key = cidrs.join(" ");
  if (lastPool?.key === key && lastPool.max === max) return lastPool.addresses;
  const out: string[] = [];
  for (const c of cidrs) {
    const range = /^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$/.exec(c);
    const net = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(c);
    let [a, b] = [0, -1];
    if (range) [a, b] = [ipNum(range[1] as string), ipNum(range[2] as string)];
    else if (net) {
      const size = 2 ** (32 - Number(net[2]));
      const base = Math.floor(ipNum(net[1] as string) / size) * size;
      [a, b] = size <= 2 ? [base, base + size - 1] : [base + 1, base + size - 2];
    }
    for (let i = a; i <= b && out.length < max; i++) out.push(ipStr(i));
  }
  lastPool = { key, max, addresses: out };
  return out;
}

export const KUBE_VERSION = { major: "1", minor: "32", gitVersion: "v1.32.2", platform: "linux/amd64" };

export class SimKubeApi {
  readonly nodes = new Map<string, SimNode>();
  readonly services = new Map<string, SimService>();
  private lb: LoadBalancerState = { enabled: false, announced: false, cidrs: [] };
  readonly token: string;
  private readonly server: Server;
  /** How long a joined node (or a restarted kubelet) takes to turn Ready. */
  readonly readyAfterMs: number;
  private readonly schedule: (fn: () => void, ms: number) => void;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private version = 1;
  url = "";
  requests = 0;
  /** Pods and claims of the Kubernetes models' applications (src/sim/hosts/kube-workloads.ts). */
  readonly workloads: SimWorkloads;

  /** `schedule` is a test seam: when node readiness fires (default: a real, unref'd timer). */
  private readonly clock: Clock;

  constructor(token: string, readyAfterMs: number, schedule?: (fn: () => void, ms: number) => void, clock: Clock = systemClock) {
    this.clock = clock;
    this.workloads = new SimWorkloads(this.nodes, () => this.version++, clock);
    this.token = token;
    this.readyAfterMs = readyAfterMs;
    this.schedule =
      schedule ??
      ((fn, ms) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          fn();
        }, ms);
        t.unref();
        this.timers.add(t);
      });
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    this.url = `http://${a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  /** A host ran `k8s bootstrap` or `k8s join-cluster`. Idempotent. */
  addNode(name: string, address: string, labels: Record<string, string>): void {
    if (this.nodes.has(name)) return;
    const n: SimNode = { name, address, uid: `node-${this.version}-${name}`, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...labels }, ready: false, createdAt: wallDate(this.clock).toISOString(), readySince: null, resourceVersion: this.version++ };
    this.nodes.set(name, n);
    this.schedule(() => {
      if (this.nodes.get(name) !== n || n.kubeletStopped) return;
      n.ready = true;
      n.readySince = wallDate(this.clock).toISOString();
      n.resourceVersion = this.version++;
      this.workloads.schedule();
    }, this.readyAfterMs);
  }

  /**
   * The node's kubelet stopped (NotReady at once) or runs again (Ready `readyAfterMs`
   * later, unless it stopped again meanwhile). Unknown nodes are ignored.
   */
  setKubelet(name: string, running: boolean): void {
    const n = this.nodes.get(name);
    if (n === undefined) return;
    n.kubeletStopped = !running;
    if (!running) {
      n.ready = false;
      n.readySince = null;
      n.resourceVersion = this.version++;
      return;
    }
    this.schedule(() => {
      if (this.nodes.get(name) !== n || n.kubeletStopped || n.ready) return;
      n.ready = true;
      n.readySince = wallDate(this.clock).toISOString();
      n.resourceVersion = this.version++;
      this.workloads.schedule();
    }, this.readyAfterMs);
  }

  /** Sets and removes labels on a node as `kubectl label --overwrite` does (no-op for a missing node); a change bumps its resourceVersion. */
  applyLabels(name: string, set: Readonly<Record<string, string>>, remove: readonly string[]): void {
    const n = this.nodes.get(name);
    if (n === undefined) return;
    let changed = false;
    for (const k of remove) if (k in n.labels && !(k in set)) {
      delete n.labels[k];
      changed = true;
    }
    for (const [k, v] of Object.entries(set)) if (n.labels[k] !== v) {
      n.labels[k] = v;
      changed = true;
    }
    if (changed) n.resourceVersion = this.version++;
  }

  removeNode(name: string): void {
    if (!this.nodes.delete(name)) return;
    this.workloads.nodeGone(name);
  }

  /** Creates or keeps a service (a Kubernetes application's, created by Juju). Idempotent. */
  upsertService(namespace: string, name: string, type: SimService["type"], clusterIP: string): SimService {
    const key = `${namespace}/${name}`;
    let s = this.services.get(key);
    if (s === undefined) {
      s = { namespace, name, uid: `svc-${this.version}-${name}`, type, clusterIP, loadBalancerIP: undefined, annotations: {}, createdAt: wallDate(this.clock).toISOString(), resourceVersion: this.version++ };
      this.services.set(key, s);
    } else if (s.type !== type) {
      s.type = type;
      s.resourceVersion = this.version++;
    }
    this.allocate();
    return s;
  }

  removeService(namespace: string, name: string): void {
    this.services.delete(`${namespace}/${name}`);
    this.allocate();
  }

  /** The cluster's load-balancer settings changed (`k8s enable load-balancer`, `k8s set`, the k8s charm's config). */
  setLoadBalancer(lb: LoadBalancerState): void {
    this.lb = { ...lb, cidrs: [...lb.cidrs] };
    this.allocate();
  }

  loadBalancer(): LoadBalancerState {
    return { ...this.lb, cidrs: [...this.lb.cidrs] };
  }

  /** The announced external address of a LoadBalancer service, if it has one. */
  externalAddress(namespace: string, name: string): string | undefined {
    const s = this.services.get(`${namespace}/${name}`);
    return this.lb.announced ? s?.loadBalancerIP : undefined;
  }

  /** Gives LoadBalancer services pool addresses (keeping the ones they have), or takes them all back when disabled. */
  private allocate(): void {
    const lbs = [...this.services.values()].filter((s) => s.type === "LoadBalancer");
    const pool = this.lb.enabled ? poolAddresses(this.lb.cidrs) : [];
    const taken = new Set<string>();
    for (const s of lbs) {
      if (s.loadBalancerIP !== undefined && pool.includes(s.loadBalancerIP) && !taken.has(s.loadBalancerIP)) taken.add(s.loadBalancerIP);
      else if (s.loadBalancerIP !== undefined) {
        s.loadBalancerIP = undefined;
        s.resourceVersion = this.version++;
      }
    }
    for (const s of lbs) {
      if (s.loadBalancerIP !== undefined) continue;
      const ip = pool.find((a) => !taken.has(a));
      if (ip === undefined) continue;
      taken.add(ip);
      s.loadBalancerIP = ip;
      s.resourceVersion = this.version++;
    }
  }

  private renderService(s: SimService): object {
    return {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: s.name, namespace: s.namespace, uid: s.uid, resourceVersion: String(s.resourceVersion), creationTimestamp: s.createdAt, annotations: { ...s.annotations }, labels: { "app.kubernetes.io/name": s.name, "app.kubernetes.io/managed-by": "juju" } },
      spec: { type: s.type, clusterIP: s.clusterIP, clusterIPs: [s.clusterIP], selector: { "app.kubernetes.io/name": s.name }, ports: [{ name: "placeholder", port: 65535, protocol: "TCP", targetPort: 65535 }] },
      status: { loadBalancer: s.type === "LoadBalancer" && s.loadBalancerIP !== undefined ? { ingress: [{ ip: s.loadBalancerIP, ipMode: "VIP" }] } : {} },
    };
  }

  private render(n: SimNode): object {
    const t = n.readySince ?? n.createdAt;
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: n.name, uid: n.uid, resourceVersion: String(n.resourceVersion), creationTimestamp: n.createdAt, labels: { ...n.labels } },
      // A cordoned node carries the taint the node lifecycle controller adds for spec.unschedulable.
      spec: n.unschedulable === true ? { unschedulable: true, taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule", timeAdded: t }] } : {},
      status: {
        addresses: [
          { type: "InternalIP", address: n.address },
          { type: "Hostname", address: n.name },
        ],
        conditions: [
          { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available", lastHeartbeatTime: t, lastTransitionTime: n.createdAt },
          n.ready
            ? { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: t, lastTransitionTime: t }
            : { type: "Ready", status: "False", reason: "KubeletNotReady", message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady", lastHeartbeatTime: t, lastTransitionTime: t },
        ],
        nodeInfo: { kubeletVersion: KUBE_VERSION.gitVersion, osImage: "Ubuntu 22.04.5 LTS", containerRuntimeVersion: "containerd://1.6.36", architecture: "amd64", operatingSystem: "linux" },
      },
    };
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.json(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        this.route(req, res, Buffer.concat(chunks).toString("utf8"));
      } catch (e) {
        this.status(res, 500, "InternalError", (e as Error).message);
      }
    });
  }

  private route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? "/", "http://sim");
    const path = url.pathname.replace(/\/+$/, "");
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.status(res, 401, "Unauthorized", "Unauthorized");
    if (req.method === "GET" && path === "/version") return this.json(res, 200, { ...KUBE_VERSION, goVersion: "go1.23.6", compiler: "gc" });
    if (req.method === "GET" && path === "/api") return this.json(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: this.url.replace(/^http:\/\//, "") }] });
    if (req.method === "GET" && path === "/api/v1") {
      return this.json(res, 200, { kind: "APIResourceList", groupVersion: "v1", resources: [
          { name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: ["get", "list", "patch"] },
          { name: "services", singularName: "service", namespaced: true, kind: "Service", verbs: ["get", "list"] },
          { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["list"] },
          { name: "pods/eviction", singularName: "", namespaced: true, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
          { name: "persistentvolumeclaims", singularName: "persistentvolumeclaim", namespaced: true, kind: "PersistentVolumeClaim", verbs: ["delete", "list"] },
        ],
      });
    }
    if (path === "/api/v1/nodes" && req.method === "GET") {
      const selector = url.searchParams.get("labelSelector");
      const items = [...this.nodes.values()].filter((n) => matchesSelector(n.labels, selector)).map((n) => this.render(n));
      return this.json(res, 200, { kind: "NodeList", apiVersion: "v1", metadata: { resourceVersion: String(this.version) }, items });
    }
    const svcs = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/services(?:\/([^/]+))?$/.exec(path);
    if (svcs && req.method === "GET") {
      const ns = svcs[1] === undefined ? undefined : decodeURIComponent(svcs[1]);
      if (svcs[2] !== undefined) {
        const s = ns === undefined ? undefined : this.services.get(`${ns}/${decodeURIComponent(svcs[2])}`);
        if (s === undefined) return this.status(res, 404, "NotFound", `services "${decodeURIComponent(svcs[2])}" not found`);
        return this.json(res, 200, this.renderService(s));
      }
      const items = [...this.services.values()].filter((s) => ns === undefined || s.namespace === ns).map((s) => this.renderService(s));
      return this.json(res, 200, { kind: "ServiceList", apiVersion: "v1", metadata: { resourceVersion: String(this.version) }, items });
    }
    const w = this.workloads.route(req.method ?? "GET", path, url.searchParams, body);
    if (w !== undefined) return this.json(res, w.code, w.body);
    const m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
    if (m) {
      const name = decodeURIComponent(m[1] as string);
      const n = this.nodes.get(name);
      if (n === undefined) return this.status(res, 404, "NotFound", `nodes "${name}" not found`);
      if (req.method === "GET") return this.json(res, 200, this.render(n));
      if (req.method === "PATCH") {
        const ct = (req.headers["content-type"] ?? "").split(";")[0]?.trim();
        if (ct !== "application/merge-patch+json" && ct !== "application/strategic-merge-patch+json") {
          return this.status(res, 415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got ${ct})`);
        }
        let patch: { metadata?: { labels?: Record<string, string | null> }; spec?: { unschedulable?: unknown } };
        try {
          patch = JSON.parse(body) as typeof patch;
        } catch {
          return this.status(res, 400, "BadRequest", "the patch is not valid JSON");
        }
        for (const [k, v] of Object.entries(patch.metadata?.labels ?? {})) {
          if (v === null) delete n.labels[k];
          else n.labels[k] = String(v);
        }
        // Cordon / uncordon (`kubectl cordon` patches spec.unschedulable): a node taken back in gets the pods waiting for it.
        if (patch.spec !== undefined && "unschedulable" in patch.spec) {
          if (patch.spec.unschedulable !== null && typeof patch.spec.unschedulable !== "boolean") return this.status(res, 422, "Invalid", `Node "${name}" is invalid: spec.unschedulable: Invalid value: must be a boolean`);
          n.unschedulable = patch.spec.unschedulable === true;
          if (!n.unschedulable) this.workloads.schedule();
        }
        n.resourceVersion = this.version++;
        return this.json(res, 200, this.render(n));
      }
    }
    this.status(res, 404, "NotFound", "the server could not find the requested resource");
  }
}

/** Equality-based label selectors only ("a=b,c!=d,e"). */
function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const ne = /^([^!=]+)!=(.*)$/.exec(term);
    if (ne) return labels[ne[1] as string] !== ne[2];
    const eq = /^([^=]+)==?(.*)$/.exec(term);
    if (eq) return labels[eq[1] as string] === eq[2];
    return term in labels;
  });
}
