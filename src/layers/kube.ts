/**
 * The Kubernetes port the layers use: list nodes (with readiness) and label them.
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
