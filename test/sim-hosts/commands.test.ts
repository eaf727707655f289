import { describe, expect, it } from "vitest";
import { runCommandLine } from "../../src/sim/hosts/commands.ts";
import { HostFaultDice, parseHostFaults, formatHostFaults } from "../../src/sim/hosts/faults.ts";
import { SimKubeApi } from "../../src/sim/hosts/kube-api.ts";
import { SimCloud, SimHost } from "../../src/sim/hosts/model.ts";
import { parseScript } from "../../src/sim/hosts/shell.ts";

function world(n = 3) {
  const cloud = new SimCloud(1, new SimKubeApi("t", 0, () => undefined));
  const hosts = Array.from({ length: n }, (_, i) => {
    const h = new SimHost(`sid${i}`, `node-${i}`, `127.9.0.${i + 1}`, 1, [
      { idPath: `/dev/disk/by-id/root-${i}`, sizeBytes: 4.8e11, root: true, tags: ["ssd"] },
      { idPath: `/dev/disk/by-id/data-${i}`, sizeBytes: 4e12, root: false, tags: ["ceph"] },
    ]);
    cloud.addHost(h);
    return h;
  });
  const run = (h: SimHost, line: string, stdin = "") => runCommandLine(line, { host: h, cloud, root: false, env: {}, stdin });
  return { cloud, hosts, run };
}

describe("simulated host commands", () => {
  it("systemctl lists a Juju machine agent's service; Juju's teardown (rm of its unit file, as root) takes it off", () => {
    const { hosts, run } = world(1);
    const h = hosts[0] as SimHost;
    const list = "systemctl list-unit-files --no-legend --no-pager --type=service";
    expect(run(h, list).out).not.toContain("jujud-machine");
    h.jujuAgent = { controller: "c", model: "m", machine: "7" };
    expect(run(h, list).out).toMatch(/^jujud-machine-7\.service\s+enabled/m);
    expect(run(h, "systemctl disable --now jujud-machine-7.service").err).toContain("access denied");
    expect(run(h, "sudo systemctl disable --now jujud-machine-8.service").code).toBe(1);
    expect(run(h, "rm -f /etc/systemd/system/jujud-machine-7.service").err).toContain("access denied");
    expect(h.jujuAgent).toBeDefined();
    const clean = "sudo systemctl disable --now jujud-machine-7.service ; sudo rm -f /etc/systemd/system/jujud-machine-7.service /etc/systemd/system/multi-user.target.wants/jujud-machine-7.service && sudo rm -rf /var/lib/juju /var/log/juju && sudo systemctl daemon-reload";
    expect(run(h, clean).code).toBe(0);
    expect(h.jujuAgent).toBeUndefined();
    expect(run(h, list).out).not.toContain("jujud-machine");
    expect(run(h, "sudo rm /var/lib/juju").code).toBe(1);
  });

  it("needs sudo to install a snap, and a second install is a no-op", () => {
    const { hosts, run } = world(1);
    const h = hosts[0] as SimHost;
    expect(run(h, "snap install k8s --classic").err).toContain("access denied");
    expect(run(h, "sudo snap install k8s --classic --channel 1.32-classic/stable").out).toContain("k8s (1.32-classic/stable)");
    expect(run(h, "sudo snap install k8s --classic").out).toContain("already installed");
    expect(run(h, "snap list k8s").code).toBe(0);
    expect(run(h, "snap list juju").code).toBe(1);
  });

  it("k8s: a second bootstrap says it is already bootstrapped", () => {
    const { hosts, run } = world(1);
    const h = hosts[0] as SimHost;
    run(h, "sudo snap install k8s --classic");
    expect(run(h, "sudo k8s bootstrap --timeout 5m").code).toBe(0);
    const again = run(h, "sudo k8s bootstrap --timeout 5m");
    expect(again.code).toBe(1);
    expect(again.err).toContain("already bootstrapped");
  });

  it("k8s: a join needs a valid, unused token issued for this node", () => {
    const { hosts, run, cloud } = world(3);
    const [a, b, c] = hosts as [SimHost, SimHost, SimHost];
    for (const h of hosts) run(h, "sudo snap install k8s --classic");
    run(a, "sudo k8s bootstrap --timeout 5m");
    expect(run(b, "sudo k8s join-cluster bm90LWEtdG9rZW4= --timeout 5m").err).toContain("invalid token");
    const forB = run(a, "sudo k8s get-join-token node-1").out.trim();
    expect(run(c, `sudo k8s join-cluster ${forB} --timeout 5m`).err).toContain('not valid for node "node-2"');
    expect(run(b, `sudo k8s join-cluster ${forB} --timeout 5m`).code).toBe(0);
    expect(run(b, "sudo k8s status").code).toBe(0);
    const reused = run(b, `sudo k8s join-cluster ${forB} --timeout 5m`);
    expect(reused.code).toBe(1);
    const forC = run(a, "sudo k8s get-join-token node-2").out.trim();
    expect(run(c, `sudo k8s join-cluster ${forC} --timeout 5m`).code).toBe(0);
    expect(run(c, `sudo k8s join-cluster ${forC} --timeout 5m`).err).toContain("already part of a cluster");
    expect([...cloud.kube.nodes.keys()]).toEqual(["node-0", "node-1", "node-2"]);
  });

  it("microceph: disk add accepts the machine's own data disks only, once", () => {
    const { hosts, run, cloud } = world(1);
    const h = hosts[0] as SimHost;
    run(h, "sudo snap install microceph");
    expect(run(h, "sudo microceph disk add /dev/disk/by-id/data-0").err).toContain("not yet initialized");
    run(h, "sudo microceph cluster bootstrap");
    expect(run(h, "sudo microceph cluster bootstrap").err).toContain("already bootstrapped");
    expect(run(h, "sudo microceph disk add /dev/disk/by-id/unknown").err).toContain("no such file or directory");
    expect(run(h, "sudo microceph disk add /dev/disk/by-id/root-0").err).toContain("root filesystem");
    expect(run(h, "sudo microceph disk add /dev/disk/by-id/data-0 --wipe").out).toContain("Success");
    expect(run(h, "sudo microceph disk add /dev/disk/by-id/data-0").err).toContain("already in use");
    expect(cloud.ceph?.osds.map((o) => o.path)).toEqual(["/dev/disk/by-id/data-0"]);
  });

  it("runs a tiny shell: sh -c, quoting, && and ||, /dev/null redirections; refuses pipes and expansions", () => {
    const { hosts, run } = world(1);
    const h = hosts[0] as SimHost;
    expect(run(h, `sudo -n sh -c 'test -e /nope && echo yes || echo "no way"'`).out).toBe("no way\n");
    expect(run(h, "hostname >/dev/null 2>&1; whoami").out).toBe("ubuntu\n");
    expect(run(h, "cat /nope 2>&1").out).toContain("No such file");
    expect(run(h, "cat /nope 2>/dev/null").err).toBe("");
    expect(run(h, "hostname | cat").code).toBe(2);
    expect(run(h, "echo $HOME").code).toBe(2);
    expect(run(h, "frobnicate").code).toBe(127);
    expect(parseScript(`A=1 juju status -m 'a b'`)).toEqual([{ op: ";", cmd: { env: { A: "1" }, argv: ["juju", "status", "-m", "a b"] } }]);
  });
});

describe("host faults", () => {
  it("parses the spec and renders it back", () => {
    const s = "fail=0.05,hang@node-3=0.1,drop=1:match=k8s join:first=2,fail=1:code=3";
    expect(formatHostFaults(parseHostFaults(s))).toBe(s);
    expect(() => parseHostFaults("explode=1")).toThrow(/unknown fault 'explode'/);
    expect(() => parseHostFaults("hang=1:code=2")).toThrow(/code applies to fail only/);
    expect(() => parseHostFaults("fail=2")).toThrow(/probability/);
  });

  it("rolls the same outcomes for the same seed, host and command sequence; `first` limits a rule", () => {
    const host = { systemId: "abc", hostname: "n1", deployment: 1 };
    const seq = (seed: number) => {
      const d = new HostFaultDice(parseHostFaults("fail=0.5"), seed);
      return Array.from({ length: 20 }, () => d.roll(host, "x").kind).join();
    };
    expect(seq(1)).toBe(seq(1));
    expect(seq(1)).not.toBe(seq(2));
    const d = new HostFaultDice(parseHostFaults("fail=1:match=join:first=2:code=4"), 1);
    expect([d.roll(host, "join"), d.roll(host, "status"), d.roll(host, "join"), d.roll(host, "join")]).toEqual([{ kind: "fail", code: 4 }, { kind: "none" }, { kind: "fail", code: 4 }, { kind: "none" }]);
  });
});
