/**
 * The drain of a control host's Kubernetes node (src/layers/drain.ts) against a scripted
 * Kubernetes port and `juju status`: the refusal for mysql-k8s / rabbitmq-k8s pods without
 * force (juju-layering.md §5 step 1), an eviction the API refuses for now (HTTP 429, a
 * disruption budget) retried until granted, DaemonSet pods left alone, the claims bound to
 * the node deleted, each change journaled before it is made, and no drain without a
 * Kubernetes client.
 */
import { JujuChangeLog, NO_JUJU_JOURNAL } from "../../src/layers/juju-journal.ts";
import { describe, expect, it } from "vitest";
import { loadLayerTemplate, LayerError, type LayerHost } from "../../src/layers/index.ts";
import { cordonAndDrain, refuseGuardedPods, type DrainDeps, type DrainStep } from "../../src/layers/drain.ts";
import { JujuOps } from "../../src/layers/juju-ops.ts";
import type { EvictionResult, KubeClaim, KubeDrainPort, KubePod } from "../../src/layers/kube.ts";
import { KeyedLock, Lanes } from "../../src/layers/lane.ts";
import { silentLogger } from "../../src/log.ts";
import type { SshPort } from "../../src/ssh/index.ts";

const client: LayerHost = { systemId: "s0", hostname: "juju-0", address: "10.0.0.1", roles: ["juju-controller"], cephDisks: [] };
const host: LayerHost = { systemId: "s1", hostname: "ctl-1", address: "10.0.0.2", roles: ["control"], cephDisks: [] };

const STATUS = { applications: { mysql: { "charm-name": "mysql-k8s" }, rabbitmq: { "charm-name": "rabbitmq-k8s" }, keystone: { "charm-name": "keystone-k8s" } } };

function opsWith(): JujuOps {
  const ssh: SshPort = {
    exec: async (_t, command) => {
      if (!/juju status -m metalwave:openstack /.test(command)) throw new Error(`unexpected command ${command}`);
      return { exitCode: 0, stdout: JSON.stringify(STATUS), stderr: "" };
    },
    noteDeployed: async () => undefined,
    close: async () => undefined,
  };
  const lane = new Lanes({ ssh, logger: silentLogger(), policy: { attempts: 1, backoffMs: 0, commandTimeoutMs: 1000 } }).lane(undefined);
  let t = 0;
  const waitOptions = (_l: unknown, layer: string, step: string, _h: LayerHost, timeoutMs: number) => ({ layer, step, timeoutMs, pollMs: 1000, now: () => t, sleep: async (ms: number) => void (t += ms), ensureOpen: () => undefined });
  return new JujuOps({ client, tpl: loadLayerTemplate("juju"), logger: silentLogger(), locks: new KeyedLock(), main: lane, waitOptions, reads: new Map(), gen: new Map(), models: new Set(), now: () => t, changes: new JujuChangeLog(NO_JUJU_JOURNAL, silentLogger()), suspect: new Set() }, lane);
}

/** A node's pods and claims; an eviction of a pod in `refuseFirst` answers 429 once. */
function cluster(pods: KubePod[], claims: KubeClaim[], refuseFirst: string[] = []) {
  const calls: string[] = [];
  const refused = new Set<string>();
  const port: KubeDrainPort = {
    cordon: async (n) => void calls.push(`cordon ${n}`),
    podsOn: async () => [...pods],
    evict: async (ns, name): Promise<EvictionResult> => {
      calls.push(`evict ${ns}/${name}`);
      if (refuseFirst.includes(name) && !refused.has(name)) {
        refused.add(name);
        return "refused";
      }
      pods.splice(pods.findIndex((p) => p.name === name), 1);
      return "evicted";
    },
    claims: async () => [...claims],
    deleteClaim: async (ns, name) => {
      calls.push(`deleteClaim ${ns}/${name}`);
      claims.splice(claims.findIndex((c) => c.name === name), 1);
    },
  };
  return { port, calls };
}

const pod = (app: string, n: number, ownerKind = "StatefulSet"): KubePod => ({ name: `${app}-${n}`, namespace: "openstack", app, ownerKind });

function deps(port: KubeDrainPort | undefined, journal: DrainStep[], force = false): DrainDeps {
  return { kube: { listNodes: async () => [], labelNode: async () => undefined, ...(port ? { drain: port } : {}) }, controlModel: "openstack", force, timeoutMs: 600_000, journal: (s) => journal.push(s), logger: silentLogger() };
}

describe("draining a control host's Kubernetes node", () => {
  it("refuses while a mysql-k8s or rabbitmq-k8s pod runs on the node, unless forced; other pods do not stop it", async () => {
    const ops = opsWith();
    const { port } = cluster([pod("mysql", 0), pod("keystone", 1)], []);
    const e = await refuseGuardedPods(ops, host, deps(port, [])).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LayerError);
    expect(e).toMatchObject({ code: "LAYER_REFUSED", step: "guardedPods", hostname: "ctl-1" });
    expect((e as Error).message).toContain("openstack/mysql-0");
    expect((e as Error).message).toContain("metalwave reprovision --force ctl-1");
    await expect(refuseGuardedPods(ops, host, deps(port, [], true))).resolves.toBeUndefined();
    await expect(refuseGuardedPods(ops, host, deps(cluster([pod("keystone", 0)], []).port, []))).resolves.toBeUndefined();
  });

  it("cordons, evicts every pod no DaemonSet owns (a 429 retried), deletes the claims bound to the node, journaling each change first", async () => {
    const pods = [pod("mysql", 0), pod("keystone", 1), pod("cilium", 0, "DaemonSet")];
    const { port, calls } = cluster(pods, [{ name: "database-mysql-0", namespace: "openstack", node: "ctl-1" }, { name: "database-mysql-1", namespace: "openstack", node: "ctl-2" }], ["keystone-1"]);
    const journal: DrainStep[] = [];
    const r = await cordonAndDrain(opsWith(), host, deps(port, journal));
    expect(calls).toEqual(["cordon ctl-1", "evict openstack/mysql-0", "evict openstack/keystone-1", "deleteClaim openstack/database-mysql-0", "evict openstack/keystone-1"]);
    expect(journal.map((s) => `${s.step} ${s.target}`)).toEqual(calls);
    expect(r).toEqual({ evicted: ["openstack/mysql-0", "openstack/keystone-1"], claimsDeleted: ["openstack/database-mysql-0"] });
    expect(pods.map((p) => p.name)).toEqual(["cilium-0"]);
  });

  it("without a Kubernetes client there is no drain: the removal is refused", async () => {
    const e = await cordonAndDrain(opsWith(), host, deps(undefined, [])).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "LAYER_PRECONDITION", step: "drain" });
  });
});
