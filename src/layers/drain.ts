/**
 * A control host's Kubernetes node on its way out (juju-layering.md §5, `sunbeam cluster
 * remove`, SO:provider/maas/commands.py remove_node):
 *
 * - step 1, before anything is removed: a pod of a mysql-k8s or rabbitmq-k8s application on
 *   the node refuses the removal unless forced (the database and the queue lose a member;
 *   the reference's `--force`). The pods' applications are found by their
 *   `app.kubernetes.io/name` label in the control-plane model's status.
 * - step 4, before the k8s unit goes: the node is cordoned (`spec.unschedulable: true`),
 *   every pod on it that no DaemonSet owns is evicted through the Eviction API (policy/v1;
 *   a 429 is retried: kubernetes.io "API-initiated Eviction"), and the claims bound to it
 *   (`volume.kubernetes.io/selected-node`) are deleted, so the StatefulSets' pods start again
 *   on the other nodes instead of waiting for this one; up to 600 s, until no such pod is
 *   left on the node and no claim bound to it.
 *
 * Each change is journaled before it is made and the drain is check-then-act: a resumed
 * removal reads the node's pods again and evicts what is still there.
 */
import type { Logger } from "pino";
import { LayerError } from "./errors.ts";
import type { LayerHost } from "./host.ts";
import type { JujuOps } from "./juju-ops.ts";
import type { KubeDrainPort, KubePort } from "./kube.ts";
import { waitUntil } from "./waits.ts";

/** The charms whose pods the reference will not drain away without --force (§5 step 1). */
export const GUARDED_CHARMS: readonly string[] = ["mysql-k8s", "rabbitmq-k8s"];

/** The reference's drain timeout (§5 step 4). */
export const DRAIN_TIMEOUT_MS = 600_000;

export interface DrainStep {
  step: "cordon" | "evict" | "deleteClaim";
  /** The node, `namespace/pod` or `namespace/claim`. */
  target: string;
}

export interface DrainDeps {
  /** The Kubernetes client of this run, if the cluster was formed or re-checked in it. */
  kube: KubePort | undefined;
  /** The control-plane model (the pods' namespace and their applications). */
  controlModel: string;
  /** Take the host out even with database or queue pods on its node. */
  force: boolean;
  timeoutMs: number;
  journal: (s: DrainStep) => void;
  logger: Logger;
}

const where = (h: LayerHost, step: string) => ({ layer: "removal", step, systemId: h.systemId, hostname: h.hostname });

function drainPort(h: LayerHost, d: DrainDeps): KubeDrainPort {
  const p = d.kube?.drain;
  if (p === undefined) throw new LayerError("LAYER_PRECONDITION", where(h, "drain"), `${h.hostname} runs a k8s unit but this run has no Kubernetes client to cordon and drain its node with (the kubernetes layer was not formed or re-checked)`);
  return p;
}

/**
 * §5 step 1: refuses (LAYER_REFUSED) while a mysql-k8s or rabbitmq-k8s pod runs on the host's node,
 * unless forced. Nothing is changed before it: the host machine ends `refused` on it, the host
 * left as it is (in Juju, Deployed in MAAS), and the message says how to go on.
 */
export async function refuseGuardedPods(ops: JujuOps, h: LayerHost, d: DrainDeps): Promise<void> {
  const port = drainPort(h, d);
  const pods = await port.podsOn(h.hostname).catch((e: unknown) => {
    throw new LayerError("LAYER_KUBE", where(h, "podsOn"), `cannot list the pods on node ${h.hostname}`, { cause: e });
  });
  if (pods.length === 0) return;
  const apps = (await ops.status(d.controlModel)).applications ?? {};
  const guarded = pods.filter((p) => p.namespace === d.controlModel && GUARDED_CHARMS.includes(apps[p.app]?.["charm-name"] ?? apps[p.app]?.charm ?? ""));
  if (guarded.length === 0) return;
  const names = guarded.map((p) => `${p.namespace}/${p.name}`).join(", ");
  if (d.force) {
    d.logger.warn({ systemId: h.systemId, hostname: h.hostname, pods: names }, "database or queue pods on the node of a host being removed: forced, they are drained away");
    return;
  }
  throw new LayerError("LAYER_REFUSED", where(h, "guardedPods"), `${h.hostname}'s Kubernetes node runs ${names} (mysql-k8s / rabbitmq-k8s): removing it takes a member from the database or the queue, so it was refused and left as it is; to go on anyway: metalwave reprovision --force ${h.hostname}`);
}

/** §5 step 4: cordon, evict, delete the claims bound to the node, until nothing of them is left on it. */
export async function cordonAndDrain(ops: JujuOps, h: LayerHost, d: DrainDeps): Promise<{ evicted: string[]; claimsDeleted: string[] }> {
  const port = drainPort(h, d);
  const node = h.hostname;
  d.journal({ step: "cordon", target: node });
  await port.cordon(node).catch((e: unknown) => {
    throw new LayerError("LAYER_KUBE", where(h, "cordon"), `cannot cordon node ${node}`, { cause: e });
  });
  const evicted = new Set<string>();
  const claimsDeleted = new Set<string>();
  let left: string[] = [];
  await waitUntil(
    async () => {
      const pods = (await port.podsOn(node)).filter((p) => p.ownerKind !== "DaemonSet");
      for (const p of pods) {
        const key = `${p.namespace}/${p.name}`;
        d.journal({ step: "evict", target: key });
        if ((await port.evict(p.namespace, p.name)) !== "refused") evicted.add(key);
      }
      const bound = (await port.claims()).filter((c) => c.node === node);
      for (const c of bound) {
        const key = `${c.namespace}/${c.name}`;
        d.journal({ step: "deleteClaim", target: key });
        await port.deleteClaim(c.namespace, c.name);
        claimsDeleted.add(key);
      }
      left = (await port.podsOn(node)).filter((p) => p.ownerKind !== "DaemonSet").map((p) => `${p.namespace}/${p.name}`);
      return { ok: left.length === 0 && bound.length === 0, detail: `pods still on node ${node}: ${left.join(", ") || "(claims deleted, checking again)"}` };
    },
    { ...ops.s.waitOptions(ops.lane, "removal", "drain", h, d.timeoutMs), goodReads: 1 },
  );
  d.logger.info({ systemId: h.systemId, hostname: h.hostname, evicted: [...evicted], claimsDeleted: [...claimsDeleted] }, "node cordoned and drained");
  return { evicted: [...evicted], claimsDeleted: [...claimsDeleted] };
}
