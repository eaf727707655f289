/**
 * A simulated Kubernetes API on loopback: just what metalwave's layers use through
 * @kubernetes/client-node — /version, /api discovery, list/read nodes, and patching
 * node labels (merge and strategic-merge patches, which agree for labels). Nodes
 * appear when a simulated host bootstraps or joins the cluster and become Ready
 * `readyAfterMs` later. Every request needs `Authorization: Bearer <token>`.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

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
}

export const KUBE_VERSION = { major: "1", minor: "32", gitVersion: "v1.32.2", platform: "linux/amd64" };

export class SimKubeApi {
  readonly nodes = new Map<string, SimNode>();
  readonly token: string;
  private readonly server: Server;
  private readonly readyAfterMs: number;
  private readonly schedule: (fn: () => void, ms: number) => void;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private version = 1;
  url = "";
  requests = 0;

  /** `schedule` is a test seam: when node readiness fires (default: a real, unref'd timer). */
  constructor(token: string, readyAfterMs: number, schedule?: (fn: () => void, ms: number) => void) {
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
    const n: SimNode = { name, address, uid: `node-${this.version}-${name}`, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...labels }, ready: false, createdAt: new Date().toISOString(), readySince: null, resourceVersion: this.version++ };
    this.nodes.set(name, n);
    this.schedule(() => {
      if (this.nodes.get(name) !== n || n.kubeletStopped) return;
      n.ready = true;
      n.readySince = new Date().toISOString();
      n.resourceVersion = this.version++;
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
      n.readySince = new Date().toISOString();
      n.resourceVersion = this.version++;
    }, this.readyAfterMs);
  }

  removeNode(name: string): void {
    this.nodes.delete(name);
  }

  private render(n: SimNode): object {
    const t = n.readySince ?? n.createdAt;
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: n.name, uid: n.uid, resourceVersion: String(n.resourceVersion), creationTimestamp: n.createdAt, labels: { ...n.labels } },
      spec: {},
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
      return this.json(res, 200, { kind: "APIResourceList", groupVersion: "v1", resources: [{ name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: ["get", "list", "patch"] }] });
    }
    if (path === "/api/v1/nodes" && req.method === "GET") {
      const selector = url.searchParams.get("labelSelector");
      const items = [...this.nodes.values()].filter((n) => matchesSelector(n.labels, selector)).map((n) => this.render(n));
      return this.json(res, 200, { kind: "NodeList", apiVersion: "v1", metadata: { resourceVersion: String(this.version) }, items });
    }
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
        let patch: { metadata?: { labels?: Record<string, string | null> } };
        try {
          patch = JSON.parse(body) as typeof patch;
        } catch {
          return this.status(res, 400, "BadRequest", "the patch is not valid JSON");
        }
        for (const [k, v] of Object.entries(patch.metadata?.labels ?? {})) {
          if (v === null) delete n.labels[k];
          else n.labels[k] = String(v);
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
