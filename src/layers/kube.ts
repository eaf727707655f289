/**
 * The Kubernetes port the layers use: list nodes (with readiness) and label them; for a
 * control host's removal, cordon its node and drain it (pods evicted through the Eviction
 * API, policy/v1; the claims bound to the node deleted).
 * `clientNodeKube` implements it with @kubernetes/client-node from a kubeconfig
 * (fetched from the bootstrap node). Errors become LAYER_KUBE with the HTTP status
 * only: response bodies are not copied into messages.
 *
 * The library is loaded on the first call, not when this module is: it is by far the
 * heaviest import metalwave has (seconds on a loaded machine), and every `metalwave`
 * command (`--version`, a usage error, a rollout without layers) would pay for it.
 */
import type * as KubeClient from "@kubernetes/client-node";
import type { CoreV1Api } from "@kubernetes/client-node";
import { LayerError } from "./errors.ts";

export interface KubeNode {
  name: string;
  ready: boolean;
  labels: Record<string, string>;
}

export interface KubePort {
  /** Idempotent. */
  listNodes(): Promise<KubeNode[]>;
  /** Idempotent (a merge patch of metadata.labels; null removes a label). */
  labelNode(name: string, labels: Readonly<Record<string, string | null>>): Promise<void>;
  /** Services of every namespace with their load-balancer address, if any (read-only; for the cloud report). */
  listServices?(): Promise<KubeService[]>;
  /** Cordon and drain (src/layers/drain.ts). */
  drain?: KubeDrainPort;
}

/** A pod as the drain sees it. */
export interface KubePod {
  name: string;
  namespace: string;
  /** `app.kubernetes.io/name`: the Juju application (Juju's Kubernetes provider sets it). */
  app: string;
  /** The controller that owns it (StatefulSet, DaemonSet, …), if any. */
  ownerKind: string | undefined;
}

export interface KubeClaim {
  name: string;
  namespace: string;
  /** `volume.kubernetes.io/selected-node`: the node its volume is bound to, if any. */
  node: string | undefined;
}

/** The eviction's answer: granted, the pod was gone already, or refused for now (HTTP 429: a disruption budget). */
export type EvictionResult = "evicted" | "gone" | "refused";

export interface KubeDrainPort {
  /** Idempotent: a merge patch of `spec.unschedulable: true`. */
  cordon(node: string): Promise<void>;
  /** The pods bound to the node (field selector `spec.nodeName`). */
  podsOn(node: string): Promise<KubePod[]>;
  /** POST …/pods/<name>/eviction with a policy/v1 Eviction. */
  evict(namespace: string, name: string): Promise<EvictionResult>;
  /** Claims of every namespace. */
  claims(): Promise<KubeClaim[]>;
  /** Idempotent (a claim already gone is no error). */
  deleteClaim(namespace: string, name: string): Promise<void>;
}

export interface KubeService {
  name: string;
  namespace: string;
  type: string;
  /** status.loadBalancer.ingress[0].ip, once the load balancer gave it one. */
  loadBalancerIp: string | undefined;
}

function kubeError(step: string, e: unknown): LayerError {
  const code = (e as { code?: unknown }).code;
  const status = typeof code === "number" ? `HTTP ${code}` : e instanceof Error ? e.name : "error";
  return new LayerError("LAYER_KUBE", { layer: "kubernetes", step }, `Kubernetes API call failed (${status})`, { cause: e });
}

type KubeLib = typeof KubeClient;
let lib: Promise<KubeLib> | undefined;
function kubeLib(): Promise<KubeLib> {
  lib ??= import("@kubernetes/client-node");
  return lib;
}

export function clientNodeKube(kubeconfig: string): KubePort {
  let client: Promise<{ api: CoreV1Api; k8s: KubeLib }> | undefined;
  const connect = (step: string) => {
    client ??= kubeLib().then((k8s) => {
      const kc = new k8s.KubeConfig();
      kc.loadFromString(kubeconfig);
      return { api: kc.makeApiClient(k8s.CoreV1Api), k8s };
    });
    return client.catch((e: unknown) => {
      client = undefined;
      throw kubeError(step, e);
    });
  };
  return {
    async listNodes() {
      const { api } = await connect("listNodes");
      try {
        const list = await api.listNode();
        return list.items.map((n) => ({
          name: n.metadata?.name ?? "",
          ready: n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true,
          labels: { ...(n.metadata?.labels ?? {}) },
        }));
      } catch (e) {
        throw kubeError("listNodes", e);
      }
    },
    async listServices() {
      const { api } = await connect("listServices");
      try {
        const list = await api.listServiceForAllNamespaces();
        return list.items.map((s) => ({ name: s.metadata?.name ?? "", namespace: s.metadata?.namespace ?? "", type: s.spec?.type ?? "", loadBalancerIp: s.status?.loadBalancer?.ingress?.[0]?.ip }));
      } catch (e) {
        throw kubeError("listServices", e);
      }
    },
    drain: {
      async cordon(node) {
        const { api, k8s } = await connect("cordon");
        try {
          await api.patchNode({ name: node, body: { spec: { unschedulable: true } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
        } catch (e) {
          throw kubeError("cordon", e);
        }
      },
      async podsOn(node) {
        const { api } = await connect("podsOn");
        try {
          const list = await api.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
          return list.items.map((p) => ({ name: p.metadata?.name ?? "", namespace: p.metadata?.namespace ?? "", app: p.metadata?.labels?.["app.kubernetes.io/name"] ?? "", ownerKind: p.metadata?.ownerReferences?.[0]?.kind }));
        } catch (e) {
          throw kubeError("podsOn", e);
        }
      },
      async evict(namespace, name) {
        const { api } = await connect("evict");
        try {
          await api.createNamespacedPodEviction({ name, namespace, body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace } } });
          return "evicted";
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          if (code === 404) return "gone";
          if (code === 429) return "refused";
          throw kubeError("evict", e);
        }
      },
      async claims() {
        const { api } = await connect("claims");
        try {
          const list = await api.listPersistentVolumeClaimForAllNamespaces();
          return list.items.map((c) => ({ name: c.metadata?.name ?? "", namespace: c.metadata?.namespace ?? "", node: c.metadata?.annotations?.["volume.kubernetes.io/selected-node"] }));
        } catch (e) {
          throw kubeError("claims", e);
        }
      },
      async deleteClaim(namespace, name) {
        const { api } = await connect("deleteClaim");
        try {
          await api.deleteNamespacedPersistentVolumeClaim({ name, namespace });
        } catch (e) {
          if ((e as { code?: unknown }).code === 404) return;
          throw kubeError("deleteClaim", e);
        }
      },
    },
    async labelNode(name, labels) {
      const { api, k8s } = await connect("labelNode");
      try {
        await api.patchNode({ name, body: { metadata: { labels } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
      } catch (e) {
        throw kubeError("labelNode", e);
      }
    },
  };
}
