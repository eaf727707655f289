import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientNodeKube } from "../../src/layers/kube.ts";
import { LayerError } from "../../src/layers/errors.ts";
import { SimKubeApi } from "../../src/sim/hosts/kube-api.ts";
import { runCommandLine } from "../../src/sim/hosts/commands.ts";
import { SimCloud, SimHost } from "../../src/sim/hosts/model.ts";

/** A listening simulated API whose cluster ctl-1 bootstrapped; node readiness fires when the test runs `due`. */
function bootstrapped(token: string) {
  const due: (() => void)[] = [];
  const api = new SimKubeApi(token, 1000, (fn) => due.push(fn));
  const cloud = new SimCloud(1, api);
  const host = new SimHost("sid0", "ctl-1", "127.9.1.1", 1, []);
  const run = (line: string) => runCommandLine(line, { host, cloud, root: true, env: {}, stdin: "" });
  const start = async (): Promise<string> => {
    await api.listen("127.0.0.1");
    cloud.addHost(host);
    run("snap install k8s --classic");
    run("k8s bootstrap --timeout 3m");
    return run("k8s config").out;
  };
  return { due, api, start };
}

describe("simulated Kubernetes API through @kubernetes/client-node", () => {
  const { due, api, start } = bootstrapped("secret-token");
  let kubeconfig = "";
  beforeAll(async () => {
    kubeconfig = await start();
  });
  afterAll(async () => api.close());

  it("lists the node a bootstrap created, NotReady until its readiness fires, then Ready", async () => {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const ready = async () => (await core.listNode()).items.map((n) => [n.metadata?.name, n.status?.conditions?.find((c) => c.type === "Ready")?.status]);
    expect(await ready()).toEqual([["ctl-1", "False"]]);
    for (const fn of due.splice(0)) fn();
    expect(await ready()).toEqual([["ctl-1", "True"]]);
    const node = await core.readNode({ name: "ctl-1" });
    expect(node.metadata?.labels?.["node-role.kubernetes.io/control-plane"]).toBe("");
  });

  it("patches labels with a merge patch (null removes one)", async () => {
    const kube = clientNodeKube(kubeconfig);
    await kube.labelNode("ctl-1", { "openstack-control-plane": "enabled", openvswitch: "enabled" });
    await kube.labelNode("ctl-1", { openvswitch: null });
    const [n] = await kube.listNodes();
    expect(n?.labels["openstack-control-plane"]).toBe("enabled");
    expect(n?.labels).not.toHaveProperty("openvswitch");
    expect(api.nodes.get("ctl-1")?.labels["openstack-control-plane"]).toBe("enabled");
  });

  it("refuses a wrong bearer token, surfaced as LAYER_KUBE without the token", async () => {
    const kube = clientNodeKube(kubeconfig.replace("secret-token", "wrong-token"));
    const e = await kube.listNodes().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LayerError);
    expect((e as LayerError).code).toBe("LAYER_KUBE");
    expect((e as LayerError).message).toContain("HTTP 401");
    expect((e as LayerError).message).not.toContain("token");
  });
});

describe("simulated Kubernetes API: cordon, pods, the Eviction API and claims (what a drain uses)", () => {
  const { due, api, start } = bootstrapped("drain-token");
  let kubeconfig = "";
  beforeAll(async () => {
    kubeconfig = await start();
    api.addNode("ctl-2", "127.9.1.2", {});
    api.addNode("ctl-3", "127.9.1.3", {});
    for (const fn of due.splice(0)) fn();
    // Juju's StatefulSets: mysql with a claim per pod, keystone without storage.
    api.workloads.syncApp("openstack", "mysql", 3, "database");
    api.workloads.syncApp("openstack", "keystone", 3, undefined);
  });
  afterAll(async () => api.close());

  const where = () => Object.fromEntries([...api.workloads.pods.values()].map((p) => [p.name, p.nodeName]));

  it("spreads an application's pods over the nodes; pods on a node by field selector, owned by their StatefulSet", async () => {
    expect(where()).toEqual({ "mysql-0": "ctl-1", "mysql-1": "ctl-2", "mysql-2": "ctl-3", "keystone-0": "ctl-1", "keystone-1": "ctl-2", "keystone-2": "ctl-3" });
    const drain = clientNodeKube(kubeconfig).drain!;
    expect((await drain.podsOn("ctl-1")).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: "keystone-0", namespace: "openstack", app: "keystone", ownerKind: "StatefulSet" },
      { name: "mysql-0", namespace: "openstack", app: "mysql", ownerKind: "StatefulSet" },
    ]);
    expect((await drain.claims()).find((c) => c.name === "database-mysql-0")).toEqual({ name: "database-mysql-0", namespace: "openstack", node: "ctl-1" });
  });

  it("a cordoned node is unschedulable (with its taint); an evicted pod comes back elsewhere, one whose claim is bound here waits until the claim is deleted", async () => {
    const drain = clientNodeKube(kubeconfig).drain!;
    await drain.cordon("ctl-1");
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const node = await kc.makeApiClient(CoreV1Api).readNode({ name: "ctl-1" });
    expect(node.spec).toMatchObject({ unschedulable: true, taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] });
    expect(await drain.evict("openstack", "keystone-0")).toBe("evicted");
    expect(where()["keystone-0"]).not.toBe("ctl-1");
    expect(where()["keystone-0"]).toBeDefined();
    expect(await drain.evict("openstack", "mysql-0")).toBe("evicted");
    // Recreated under its name, Pending: its volume is on the cordoned node.
    expect(where()["mysql-0"]).toBeUndefined();
    expect(api.workloads.pods.has("openstack/mysql-0")).toBe(true);
    expect(await drain.podsOn("ctl-1")).toEqual([]);
    await drain.deleteClaim("openstack", "database-mysql-0");
    expect(["ctl-2", "ctl-3"]).toContain(where()["mysql-0"]);
    expect((await drain.claims()).find((c) => c.name === "database-mysql-0")?.node).toBe(where()["mysql-0"]);
    expect(api.workloads.evictions).toBe(2);
    // Gone already: an eviction answers 404 (the port says "gone"); deleting a missing claim is no error.
    expect(await drain.evict("openstack", "nope-0")).toBe("gone");
    await expect(drain.deleteClaim("openstack", "database-nope-0")).resolves.toBeUndefined();
  });

  it("answers an eviction with 201 and a Success Status, and refuses one whose body is not a policy/v1 Eviction of that pod", async () => {
    const post = (pod: string, body: unknown) => fetch(`${api.url}/api/v1/namespaces/openstack/pods/${pod}/eviction`, { method: "POST", headers: { authorization: "Bearer drain-token", "content-type": "application/json" }, body: JSON.stringify(body) });
    const ok = await post("keystone-1", { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "keystone-1", namespace: "openstack" } });
    expect([ok.status, await ok.json()]).toEqual([201, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 }]);
    const wrong = await post("keystone-2", { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "keystone-1" } });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { reason: string }).reason).toBe("BadRequest");
  });

  it("a deleted node's pods are recreated on the nodes left", () => {
    api.removeNode("ctl-3");
    expect(Object.values(where()).filter((n) => n === "ctl-3")).toEqual([]);
    expect(where()["mysql-2"]).toBeUndefined(); // its claim is bound to ctl-3, gone
    expect(where()["keystone-2"]).toBe("ctl-2");
  });
});
