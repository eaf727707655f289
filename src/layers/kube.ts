/**
 * The Kubernetes port the layers use: list nodes (with readiness) and label them.
 * `clientNodeKube` implements it with @kubernetes/client-node from a kubeconfig
 * (fetched from the bootstrap node). Errors become LAYER_KUBE with the HTTP status
 * only: response bodies are not copied into messages.
 */
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
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

export function clientNodeKube(kubeconfig: string): KubePort {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  const api = kc.makeApiClient(CoreV1Api);
  return {
    async listNodes() {
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
      try {
        const list = await api.listServiceForAllNamespaces();
        return list.items.map((s) => ({ name: s.metadata?.name ?? "", namespace: s.metadata?.namespace ?? "", type: s.spec?.type ?? "", loadBalancerIp: s.status?.loadBalancer?.ingress?.[0]?.ip }));
      } catch (e) {
        throw kubeError("listServices", e);
      }
    },
    async labelNode(name, labels) {
      try {
        await api.patchNode({ name, body: { metadata: { labels } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
      } catch (e) {
        throw kubeError("labelNode", e);
      }
    },
  };
}
