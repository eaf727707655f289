import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientNodeKube } from "../../src/layers/kube.ts";
import { LayerError } from "../../src/layers/errors.ts";
import { SimKubeApi } from "../../src/sim/hosts/kube-api.ts";
import { runCommandLine } from "../../src/sim/hosts/commands.ts";
import { SimCloud, SimHost } from "../../src/sim/hosts/model.ts";

describe("simulated Kubernetes API through @kubernetes/client-node", () => {
  const due: (() => void)[] = [];
  const api = new SimKubeApi("secret-token", 1000, (fn) => due.push(fn));
  const cloud = new SimCloud(1, api);
  const host = new SimHost("sid0", "ctl-1", "127.9.1.1", 1, []);
  const run = (line: string) => runCommandLine(line, { host, cloud, root: true, env: {}, stdin: "" });
  let kubeconfig = "";
  beforeAll(async () => {
    await api.listen("127.0.0.1");
    cloud.addHost(host);
    run("snap install k8s --classic");
    run("k8s bootstrap --timeout 3m");
    kubeconfig = run("k8s config").out;
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
