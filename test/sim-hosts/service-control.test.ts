/**
 * Outages of simulated hosts in service, for health-check tests and rehearsals: a stopped
 * service shows inactive (and its cluster sees it: OSDs down, node NotReady, controller
 * machine down) until it is started again; an unreachable host refuses SSH; the same
 * controls answer over `/sim/hosts/...`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommandLine, startService, stopService } from "../../src/sim/hosts/commands.ts";
import { SimKubeApi } from "../../src/sim/hosts/kube-api.ts";
import { SimCloud, SimHost } from "../../src/sim/hosts/model.ts";
import { startSimulator } from "../../src/sim/index.ts";
import { SshError } from "../../src/ssh/index.ts";
import { startTestFleet, type TestFleet } from "./helpers.ts";
import { HandClock } from "../fakes/clock.ts";

function world() {
  // Readiness fires at once, so a restarted kubelet is Ready without waiting.
  const clock = new HandClock(0);
  const cloud = new SimCloud(1, new SimKubeApi("t", 0, (fn) => fn()), { clock });
  const h = new SimHost("sid0", "node-0", "127.9.0.1", 1, [
    { idPath: "/dev/disk/by-id/root-0", sizeBytes: 4.8e11, root: true, tags: ["ssd"] },
    { idPath: "/dev/disk/by-id/data-0", sizeBytes: 4e12, root: false, tags: ["ceph"] },
  ]);
  cloud.addHost(h);
  const run = (line: string) => runCommandLine(line, { host: h, cloud, root: false, env: {}, stdin: "" });
  return { cloud, h, run, clock };
}

const statusOf = (out: string, service: string) => new RegExp(`^${service.replace(/\./g, "\\.")}\\s+enabled\\s+(\\S+)`, "m").exec(out)?.[1];

describe("simulated outages of hosts in service", () => {
  it("a stopped snap service shows inactive until snap restart, one service or the whole snap", () => {
    const { h, cloud, run } = world();
    run("sudo snap install microceph");
    stopService({ host: h, cloud }, "microceph.osd");
    stopService({ host: h, cloud }, "microceph.mon");
    const out = run("snap services microceph").out;
    expect([statusOf(out, "microceph.osd"), statusOf(out, "microceph.mon"), statusOf(out, "microceph.daemon")]).toEqual(["inactive", "inactive", "active"]);
    expect(run("sudo snap restart microceph.osd").code).toBe(0);
    expect(statusOf(run("snap services microceph").out, "microceph.osd")).toBe("active");
    expect(statusOf(run("snap services microceph").out, "microceph.mon")).toBe("inactive");
    expect(run("sudo snap restart microceph.nope").err).toContain('has no service "nope"');
    run("sudo snap restart microceph");
    expect(h.stopped.size).toBe(0);
  });

  it("a stopped OSD daemon shows its OSDs down in ceph osd tree; a stopped kubelet makes the node NotReady", () => {
    const { h, cloud, run } = world();
    run("sudo snap install microceph");
    run("sudo microceph cluster bootstrap");
    run("sudo microceph disk add /dev/disk/by-id/data-0 --wipe");
    const osds = () => (JSON.parse(run("sudo microceph.ceph osd tree --format json").out) as { nodes: { name: string; type: string; status?: string; children?: number[] }[] }).nodes.filter((n) => n.type !== "root");
    expect(osds()).toMatchObject([
      { name: "node-0", type: "host", children: [1] },
      { name: "osd.1", type: "osd", status: "up" },
    ]);
    stopService({ host: h, cloud }, "microceph.osd");
    expect(osds()[1]?.status).toBe("down");

    run("sudo snap install k8s --classic");
    run("sudo k8s bootstrap --timeout 5m");
    expect(cloud.kube.nodes.get("node-0")?.ready).toBe(true);
    stopService({ host: h, cloud }, "k8s.kubelet");
    expect(cloud.kube.nodes.get("node-0")?.ready).toBe(false);
    startService({ host: h, cloud }, "k8s.kubelet");
    expect(cloud.kube.nodes.get("node-0")?.ready).toBe(true);
  });

  it("a stopped juju agent shows its controller machine down in juju machines", () => {
    const { h, cloud, run, clock } = world();
    run("sudo snap install juju");
    run("juju bootstrap manual/ubuntu@127.9.0.1 metalwave");
    clock.t += 60_000;
    const agent = () => (JSON.parse(run("juju machines -m metalwave:controller --format json").out) as { machines: Record<string, { "juju-status": { current: string } }> }).machines["0"]?.["juju-status"].current;
    expect(agent()).toBe("started");
    stopService({ host: h, cloud }, "jujud");
    expect(agent()).toBe("down");
  });
});

describe("controls of simulated hosts (HostFleet and /sim/hosts)", () => {
  let f: TestFleet;
  let base: string;
  beforeAll(async () => {
    f = await startTestFleet([{ prefix: "node", count: 1, tags: ["compute"] }]);
    await f.deploy(f.ids["node"]!);
    base = f.sim.url.replace(/\/MAAS$/, "");
  });
  afterAll(async () => f.close());

  it("stops and starts a service over HTTP, refusing unknown hosts and services", async () => {
    const sid = f.ids["node"]![0]!;
    const ssh = f.ssh();
    await ssh.exec(f.target(sid), "snap install openstack-hypervisor", { sudo: true });
    const post = (path: string) => fetch(`${base}${path}`, { method: "POST" });

    const stopped = await post("/sim/hosts/node-0001/stop?service=openstack-hypervisor.nova-compute");
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ systemId: sid, hostname: "node-0001", reachable: true, stopped: ["openstack-hypervisor.nova-compute"] });
    const services = (await ssh.exec(f.target(sid), "snap services openstack-hypervisor")).stdout;
    expect(statusOf(services, "openstack-hypervisor.nova-compute")).toBe("inactive");

    const unknown = await post("/sim/hosts/node-0001/stop?service=k8s.kubelet");
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("runs no such service");
    expect((await post("/sim/hosts/no-such-host/stop?service=jujud")).status).toBe(404);
    expect((await fetch(`${base}/sim/hosts/${sid}/stop?service=jujud`)).status).toBe(405);

    const started = await post(`/sim/hosts/${sid}/start`);
    expect(await started.json()).toMatchObject({ stopped: [] });
    expect(((await (await fetch(`${base}/sim/hosts/node-0001`)).json()) as { stopped: string[] }).stopped).toEqual([]);
  });

  it("an unreachable host refuses SSH until it is reachable again", async () => {
    const sid = f.ids["node"]![0]!;
    const ssh = f.ssh();
    expect((await ssh.exec(f.target(sid), "true")).exitCode).toBe(0);
    expect((await fetch(`${base}/sim/hosts/node-0001/unreachable`, { method: "POST" })).status).toBe(200);
    // A fresh port: the old one's pooled connection was closed under it.
    const err = await f.ssh().exec(f.target(sid), "true").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect((err as SshError).code).toBe("SSH_CONNECT");
    f.hosts.setReachable("node-0001", true);
    expect((await f.ssh().exec(f.target(sid), "true")).exitCode).toBe(0);
  });

  it("a simulator without hosts answers 404 to host controls", async () => {
    const bare = await startSimulator({ machines: 1, zeroDuration: true });
    try {
      const r = await fetch(`${bare.url.replace(/\/MAAS$/, "")}/sim/hosts/x/stop?service=jujud`, { method: "POST" });
      expect(r.status).toBe(404);
      expect(await r.text()).toContain("without simulated hosts");
    } finally {
      await bare.close();
    }
  });
});
