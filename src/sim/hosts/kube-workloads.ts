/**
 * The pods and claims of the simulated Kubernetes cluster, as Juju's Kubernetes provider
 * makes them: one StatefulSet per application of a Kubernetes model (namespace = model),
 * pods `<app>-<ordinal>` labelled `app.kubernetes.io/name=<app>`, and for a charm with
 * storage one PersistentVolumeClaim per pod, `<storage>-<pod>` (the StatefulSet
 * volumeClaimTemplate naming), bound to the node the pod first ran on
 * (`volume.kubernetes.io/selected-node`, the local-storage class binds on first consumer).
 * The storage names are the charms' own (charm-effects.ts CHARM_STORAGE): mysql-k8s `database`
 * (canonical/mysql-k8s-operator metadata.yaml), glance-k8s `local-repository`
 * (canonical/sunbeam-charms charms/glance-k8s/charmcraft.yaml), so a pod's claim is
 * `database-mysql-0` or `local-repository-glance-0` as on a real cluster.
 *
 * What `kubectl drain` and the reference's removal rely on (juju-layering.md §5 step 4):
 * - a cordoned node (`spec.unschedulable: true`, with the `node.kubernetes.io/unschedulable`
 *   taint) gets no new pod;
 * - an eviction (policy/v1 Eviction, POST …/pods/<name>/eviction; kubernetes.io docs,
 *   "API-initiated Eviction") deletes the pod; its StatefulSet recreates it under the same
 *   name, Pending until a schedulable Ready node takes it;
 * - a recreated pod whose claim is bound to a node can only run there: it stays Pending
 *   while that node is cordoned or gone, until the claim is deleted (the StatefulSet then
 *   makes a new, unbound one);
 * - pods of a deleted node are recreated elsewhere the same way.
 * No PodDisruptionBudgets: Juju creates none for charms, so every eviction is granted.
 */
import { wallDate, type Clock } from "../../clock.ts";

/** What the scheduler reads of a node (src/sim/hosts/kube-api.ts SimNode). */
export interface SchedulableNode {
  name: string;
  ready: boolean;
  unschedulable?: boolean;
}

export interface SimPod {
  namespace: string;
  name: string;
  app: string;
  uid: string;
  nodeName: string | undefined;
  /** The claim template (storage) name, when the charm has storage. */
  storage: string | undefined;
  createdAt: string;
  resourceVersion: number;
}

export interface SimClaim {
  namespace: string;
  name: string;
  pod: string;
  uid: string;
  selectedNode: string | undefined;
  createdAt: string;
  resourceVersion: number;
}

/** An answer to one request: status code and JSON body. */
export interface KubeAnswer {
  code: number;
  body: unknown;
}

const failure = (code: number, reason: string, message: string): KubeAnswer => ({ code, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code } });

export class SimWorkloads {
  readonly pods = new Map<string, SimPod>();
  readonly claims = new Map<string, SimClaim>();
  /** Evictions granted (the tests read it). */
  evictions = 0;
  private readonly nodes: ReadonlyMap<string, SchedulableNode>;
  private readonly nextVersion: () => number;
  private readonly clock: Clock;
  private uids = 0;

  constructor(nodes: ReadonlyMap<string, SchedulableNode>, nextVersion: () => number, clock: Clock) {
    this.nodes = nodes;
    this.nextVersion = nextVersion;
    this.clock = clock;
  }

  /** The StatefulSet of an application at `replicas` (Juju scales it with the units). Idempotent. */
  syncApp(namespace: string, app: string, replicas: number, storage: string | undefined): void {
    for (let i = 0; i < replicas; i++) if (!this.pods.has(`${namespace}/${app}-${i}`)) this.createPod(namespace, app, `${app}-${i}`, storage);
    for (const p of [...this.pods.values()]) {
      if (p.namespace !== namespace || p.app !== app) continue;
      // Scaled down: the highest ordinals go; their claims stay (the StatefulSet's default retention).
      if (Number(p.name.slice(app.length + 1)) >= replicas) this.pods.delete(`${namespace}/${p.name}`);
    }
    this.schedule();
  }

  /** The application is gone: its pods go (claims stay, as a StatefulSet's do). */
  removeApp(namespace: string, app: string): void {
    for (const [k, p] of [...this.pods]) if (p.namespace === namespace && p.app === app) this.pods.delete(k);
  }

  /** Applications with a StatefulSet in `namespace`. */
  appsIn(namespace: string): Set<string> {
    return new Set([...this.pods.values()].filter((p) => p.namespace === namespace).map((p) => p.app));
  }

  /** A node was deleted: its pods are recreated by their StatefulSets, Pending until a node takes them. */
  nodeGone(name: string): void {
    for (const p of [...this.pods.values()]) if (p.nodeName === name) this.recreate(p);
    this.schedule();
  }

  /** Binds Pending pods to schedulable Ready nodes: a pod whose claim is bound goes only to that node; otherwise the node with the fewest pods of its app, then the fewest pods. */
  schedule(): void {
    const ready = [...this.nodes.values()].filter((n) => n.ready && n.unschedulable !== true).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const p of this.pods.values()) {
      if (p.nodeName !== undefined) continue;
      const claim = p.storage === undefined ? undefined : this.claim(p);
      const fits = claim?.selectedNode !== undefined ? ready.filter((n) => n.name === claim.selectedNode) : ready;
      const load = (n: string, app?: string) => [...this.pods.values()].filter((x) => x.nodeName === n && (app === undefined || x.app === app)).length;
      const best = [...fits].sort((a, b) => load(a.name, p.app) - load(b.name, p.app) || load(a.name) - load(b.name))[0];
      if (best === undefined) continue;
      p.nodeName = best.name;
      p.resourceVersion = this.nextVersion();
      if (claim !== undefined && claim.selectedNode === undefined) {
        claim.selectedNode = best.name;
        claim.resourceVersion = this.nextVersion();
      }
    }
  }

  /** GET/POST/DELETE on pods, evictions and claims; undefined when the path is none of theirs. */
  route(method: string, path: string, query: URLSearchParams, body: string): KubeAnswer | undefined {
    const list = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/(pods|persistentvolumeclaims)$/.exec(path);
    if (list && method === "GET") {
      const ns = list[1] === undefined ? undefined : decodeURIComponent(list[1]);
      const fields = parseFieldSelector(query.get("fieldSelector"));
      if (typeof fields === "string") return failure(400, "BadRequest", fields);
      if (list[2] === "pods") {
        const items = [...this.pods.values()].filter((p) => (ns === undefined || p.namespace === ns) && matchFields(fields, { "metadata.name": p.name, "metadata.namespace": p.namespace, "spec.nodeName": p.nodeName ?? "" })).map((p) => this.renderPod(p));
        return { code: 200, body: { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: String(this.nextVersion()) }, items } };
      }
      const items = [...this.claims.values()].filter((c) => (ns === undefined || c.namespace === ns) && matchFields(fields, { "metadata.name": c.name, "metadata.namespace": c.namespace })).map((c) => this.renderClaim(c));
      return { code: 200, body: { kind: "PersistentVolumeClaimList", apiVersion: "v1", metadata: { resourceVersion: String(this.nextVersion()) }, items } };
    }
    const evict = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(path);
    if (evict && method === "POST") return this.evict(decodeURIComponent(evict[1] as string), decodeURIComponent(evict[2] as string), body);
    const claim = /^\/api\/v1\/namespaces\/([^/]+)\/persistentvolumeclaims\/([^/]+)$/.exec(path);
    if (claim && method === "DELETE") {
      const key = `${decodeURIComponent(claim[1] as string)}/${decodeURIComponent(claim[2] as string)}`;
      const c = this.claims.get(key);
      if (c === undefined) return failure(404, "NotFound", `persistentvolumeclaims "${decodeURIComponent(claim[2] as string)}" not found`);
      this.claims.delete(key);
      // The StatefulSet makes the claim again for a pod still waiting on it, unbound this time.
      this.schedule();
      const gone = this.renderClaim(c) as { metadata: Record<string, unknown> };
      gone.metadata["deletionTimestamp"] = wallDate(this.clock).toISOString();
      return { code: 200, body: gone };
    }
    return undefined;
  }

  private evict(namespace: string, name: string, body: string): KubeAnswer {
    let e: { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    try {
      e = JSON.parse(body) as typeof e;
    } catch {
      return failure(400, "BadRequest", "the request body is not valid JSON");
    }
    if (e.kind !== "Eviction" || (e.apiVersion !== "policy/v1" && e.apiVersion !== "policy/v1beta1")) return failure(400, "BadRequest", `expected an Eviction of policy/v1, got ${String(e.kind)} of ${String(e.apiVersion)}`);
    if (e.metadata?.name !== name) return failure(400, "BadRequest", `name in URL does not match name in Eviction object`);
    const p = this.pods.get(`${namespace}/${name}`);
    if (p === undefined) return failure(404, "NotFound", `pods "${name}" not found`);
    this.evictions++;
    this.recreate(p);
    this.schedule();
    return { code: 201, body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 } };
  }

  /** The pod is deleted; its StatefulSet creates it again under the same name, unscheduled. */
  private recreate(p: SimPod): void {
    this.pods.delete(`${p.namespace}/${p.name}`);
    this.createPod(p.namespace, p.app, p.name, p.storage);
  }

  private createPod(namespace: string, app: string, name: string, storage: string | undefined): void {
    this.pods.set(`${namespace}/${name}`, { namespace, name, app, uid: `pod-${++this.uids}-${name}`, nodeName: undefined, storage, createdAt: wallDate(this.clock).toISOString(), resourceVersion: this.nextVersion() });
  }

  /** The pod's claim, made by its StatefulSet when missing. */
  private claim(p: SimPod): SimClaim {
    const name = `${p.storage ?? ""}-${p.name}`;
    const key = `${p.namespace}/${name}`;
    let c = this.claims.get(key);
    if (c === undefined) {
      c = { namespace: p.namespace, name, pod: p.name, uid: `pvc-${++this.uids}-${name}`, selectedNode: undefined, createdAt: wallDate(this.clock).toISOString(), resourceVersion: this.nextVersion() };
      this.claims.set(key, c);
    }
    return c;
  }

  private renderPod(p: SimPod): object {
    const claim = p.storage === undefined ? undefined : this.claims.get(`${p.namespace}/${p.storage}-${p.name}`);
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: p.name,
        namespace: p.namespace,
        uid: p.uid,
        resourceVersion: String(p.resourceVersion),
        creationTimestamp: p.createdAt,
        labels: { "app.kubernetes.io/name": p.app, "statefulset.kubernetes.io/pod-name": p.name },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: p.app, uid: `sts-${p.namespace}-${p.app}`, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...(p.nodeName !== undefined ? { nodeName: p.nodeName } : {}), volumes: claim ? [{ name: p.storage, persistentVolumeClaim: { claimName: claim.name } }] : [] },
      status: p.nodeName !== undefined ? { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } : { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }] },
    };
  }

  private renderClaim(c: SimClaim): object {
    return {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: c.name, namespace: c.namespace, uid: c.uid, resourceVersion: String(c.resourceVersion), creationTimestamp: c.createdAt, annotations: c.selectedNode !== undefined ? { "volume.kubernetes.io/selected-node": c.selectedNode } : {}, labels: { "app.kubernetes.io/name": c.pod.replace(/-\d+$/, "") } },
      spec: { accessModes: ["ReadWriteOnce"], storageClassName: "csi-rawfile-default", resources: { requests: { storage: "1Gi" } } },
      status: { phase: c.selectedNode !== undefined ? "Bound" : "Pending" },
    };
  }
}

/** `a=b,c==d,e!=f` over the fields the API supports for the resource; an unknown field is refused as the API server does. */
function parseFieldSelector(s: string | null): { field: string; value: string; eq: boolean }[] | string {
  if (!s) return [];
  const out: { field: string; value: string; eq: boolean }[] = [];
  for (const term of s.split(",")) {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(term);
    if (!m) return `invalid selector: '${s}'; can't understand '${term}'`;
    out.push({ field: m[1] as string, value: m[3] as string, eq: m[2] !== "!=" });
  }
  return out;
}

function matchFields(sel: readonly { field: string; value: string; eq: boolean }[], have: Record<string, string>): boolean {
  return sel.every((t) => t.field in have && (have[t.field] === t.value) === t.eq);
}
