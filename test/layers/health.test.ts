/**
 * The health probe's judgement over a fake SSH port and Kubernetes client: an
 * unreachable host fails `ssh` only for its own checks; a control host whose kubeconfig
 * does not answer fails `kubernetes-api` and the nodes are read through the next one;
 * when no machine's juju client knows the controller, no controller host fails for it;
 * compute, storage and control hosts fail for their Juju machine's agent, their role's unit
 * in error or blocked, or their Kubernetes node, each for its own cause, from one status read.
 */
import { describe, expect, it } from "vitest";
import { createHealthProbe, type KubePort, type LayerHost } from "../../src/layers/index.ts";
import { SshError, type ExecOptions, type ExecResult, type SshPort, type SshTarget } from "../../src/ssh/index.ts";
import { silentLogger } from "../../src/log.ts";

const host = (n: number, hostname: string, roles: string[]): LayerHost => ({ systemId: `sid${n}`, hostname, address: `10.0.0.${n}`, roles, cephDisks: [] });

/** Answers by hostname and command; `down` hosts refuse to connect. */
function fakeSsh(answers: Record<string, Record<string, Partial<ExecResult>>>, down: readonly string[] = []): SshPort & { commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    async exec(t: SshTarget, command: string, opts: ExecOptions = {}) {
      commands.push(`${t.hostname}: ${command}`);
      if (down.includes(t.hostname)) throw new SshError("SSH_CONNECT", { systemId: t.systemId, hostname: t.hostname, attempts: 4 }, "unreachable after 4 attempts: connection refused");
      const inner = /^sudo -n sh -c '(.*)'$/.exec(command)?.[1] ?? command;
      const a = answers[t.hostname]?.[inner] ?? (inner === "true" ? {} : { exitCode: 127, stderr: `${inner}: not answered` });
      const r = { exitCode: 0, stdout: "", stderr: "", ...a };
      // As the real port: a non-zero exit throws unless the caller allows it.
      if (r.exitCode !== 0 && !opts.allowNonZero) throw new SshError("SSH_EXIT", { systemId: t.systemId, hostname: t.hostname, command: inner, exitCode: r.exitCode }, `exited with status ${r.exitCode}`);
      return r;
    },
    async noteDeployed() {},
    async close() {},
  };
}

/** `juju status -m metalwave:openstack-machines --format json` as Juju 3.6 prints it (JB:statustypes.py keys). */
function machineModelStatus(): string {
  const m = (n: number, agent = "started", message = "") => ({ "dns-name": `10.0.0.${n}`, "ip-addresses": [`10.0.0.${n}`], "instance-id": `manual:10.0.0.${n}`, "juju-status": { current: agent, ...(message ? { message } : {}) } });
  const u = (machine: string, current: string, message = "") => ({ machine, "workload-status": { current, ...(message ? { message } : {}) }, "juju-status": { current: "idle" } });
  return JSON.stringify({
    model: { name: "openstack-machines" },
    machines: { "0": m(11), "1": m(12, "down", "agent is not communicating with the server"), "2": m(14), "3": m(21), "4": m(22), "5": m(31), "6": m(32), "7": m(33) },
    applications: {
      "openstack-hypervisor": { units: { "openstack-hypervisor/0": u("0", "error", 'hook failed: "update-status"'), "openstack-hypervisor/1": u("1", "unknown", "agent lost, see 'juju show-status-log openstack-hypervisor/1'") } },
      microceph: { units: { "microceph/0": u("3", "blocked", "(ceph) integration missing"), "microceph/1": u("4", "waiting", "waiting for peers") } },
      k8s: { units: { "k8s/0": u("5", "active"), "k8s/1": u("6", "error", 'hook failed: "config-changed"'), "k8s/2": u("7", "active") } },
    },
  });
}

describe("health probe", () => {
  it("an unreachable host fails ssh and none of its checks on the host run", async () => {
    const ssh = fakeSsh({}, ["cmp-2"]);
    const r = await createHealthProbe({ ssh, logger: silentLogger() }).check([host(1, "cmp-1", ["compute"]), host(2, "cmp-2", ["compute"])]);
    expect(r.map((x) => [x.hostname, x.healthy, x.failures.map((f) => f.check)])).toEqual([
      ["cmp-1", true, []],
      ["cmp-2", false, ["ssh"]],
    ]);
    expect(r[1]?.failures[0]?.detail).toMatch(/^does not answer SSH \(SSH_CONNECT\)/);
    expect(ssh.commands.filter((c) => c.startsWith("cmp-2")).every((c) => c.endsWith(": true"))).toBe(true);
  });

  it("a control host whose kubeconfig does not answer fails kubernetes-api; the nodes are read through the next one", async () => {
    const ok = {};
    const ssh = fakeSsh({ "ctl-1": { ...ok, "k8s config": { exitCode: 1, stderr: "Error: daemon down" } }, "ctl-2": { ...ok, "k8s config": { stdout: "kubeconfig-of-ctl-2" } }, "ctl-3": ok });
    const seen: string[] = [];
    const kube = (kubeconfig: string): KubePort => {
      seen.push(kubeconfig);
      return {
        listNodes: async () => [
          { name: "ctl-1", ready: true, labels: {} },
          { name: "ctl-2", ready: true, labels: {} },
          { name: "ctl-3", ready: false, labels: {} },
        ],
        labelNode: async () => undefined,
      };
    };
    const r = await createHealthProbe({ ssh, logger: silentLogger(), kube }).check([host(1, "ctl-1", ["control"]), host(2, "ctl-2", ["control"]), host(3, "ctl-3", ["control"])]);
    expect(seen).toEqual(["kubeconfig-of-ctl-2"]);
    expect(r.map((x) => [x.hostname, x.failures.map((f) => f.check)])).toEqual([
      ["ctl-1", ["kubernetes-api"]],
      ["ctl-2", []],
      ["ctl-3", ["kubernetes-node"]],
    ]);
    expect(r[0]?.failures[0]?.detail).toMatch(/^no kubeconfig from k8s config: command failed \(SSH_EXIT\)/);
    expect(r[2]?.failures[0]?.detail).toBe("node ctl-3 is NotReady");
  });

  it("compute, storage and control hosts are judged from Juju's machine and unit status and the Kubernetes node, each failing for its own cause", async () => {
    const knows = {
      "juju controllers --format json": { stdout: JSON.stringify({ controllers: { metalwave: {} } }) },
      "juju machines -m metalwave:controller --format json": { stdout: JSON.stringify({ machines: { "0": { "dns-name": "10.0.0.1", "juju-status": { current: "started" } } } }) },
      "juju status -m metalwave:openstack-machines --format json": { stdout: machineModelStatus() },
    };
    const kubeconfig = { "k8s config": { stdout: "kubeconfig" } };
    const kube = (): KubePort => ({ listNodes: async () => [{ name: "ctl-31", ready: true, labels: {} }, { name: "ctl-32", ready: true, labels: {} }, { name: "ctl-33", ready: false, labels: {} }], labelNode: async () => undefined });
    const ssh = fakeSsh({ "juju-1": knows, "ctl-31": kubeconfig, "ctl-32": kubeconfig, "ctl-33": kubeconfig, "sto-21": { "microceph.ceph osd tree --format json": { stdout: JSON.stringify({ nodes: [] }) } }, "sto-22": { "microceph.ceph osd tree --format json": { stdout: JSON.stringify({ nodes: [] }) } } });
    const hosts = [host(1, "juju-1", ["juju-controller"]), host(11, "cmp-11", ["compute"]), host(12, "cmp-12", ["compute"]), host(13, "cmp-13", ["compute"]), host(14, "cmp-14", ["compute"]), host(21, "sto-21", ["storage"]), host(22, "sto-22", ["storage"]), host(31, "ctl-31", ["control"]), host(32, "ctl-32", ["control"]), host(33, "ctl-33", ["control"])];
    const r = await createHealthProbe({ ssh, logger: silentLogger(), kube }).check(hosts);
    expect(Object.fromEntries(r.map((x) => [x.hostname, x.failures.map((f) => [f.check, f.detail])]))).toEqual({
      "juju-1": [],
      "cmp-11": [["hypervisor-unit", 'openstack-hypervisor/0 is error (hook failed: "update-status")']],
      // Its agent is down: the unit's `unknown (agent lost)` is the machine's failure, not the unit's.
      "cmp-12": [["juju-machine", "machine 1 agent is down (agent is not communicating with the server)"]],
      "cmp-13": [["juju-machine", "cmp-13 (10.0.0.13) is not a machine of model openstack-machines"]],
      "cmp-14": [["hypervisor-unit", "no openstack-hypervisor unit on machine 2"]],
      "sto-21": [["ceph-unit", "microceph/0 is blocked ((ceph) integration missing)"]],
      // Waiting is a passing state (the charm is settling), not a failure.
      "sto-22": [],
      "ctl-31": [],
      "ctl-32": [["kubernetes-unit", 'k8s/1 is error (hook failed: "config-changed")']],
      "ctl-33": [["kubernetes-node", "node ctl-33 is NotReady"]],
    });
    // One status read for the whole fleet, through the controller machine's juju client; no snap services anywhere.
    expect(ssh.commands.filter((c) => c.includes("juju status"))).toEqual(["juju-1: juju status -m metalwave:openstack-machines --format json"]);
    expect(ssh.commands.filter((c) => c.includes("snap services") || c.includes("k8s status"))).toEqual([]);

    // When no machine's client knows the controller, the hosts' Juju machines and units are not judged.
    const none = { "juju controllers --format json": { stdout: JSON.stringify({ controllers: {} }) } };
    const unjudged = await createHealthProbe({ ssh: fakeSsh({ "juju-1": none }), logger: silentLogger(), kube }).check(hosts.filter((h) => !h.roles.includes("control") && !h.roles.includes("storage")));
    expect(unjudged.every((x) => x.healthy)).toBe(true);
  });

  it("controller machines are judged from a client that knows the controller, and not at all when none does", async () => {
    // As Juju 3.6 answers: the bootstrap machine's instance id is `manual:`, with no host in it.
    const show = JSON.stringify({ model: { name: "controller" }, machines: { "0": { "instance-id": "manual:", "dns-name": "10.0.0.1", "ip-addresses": ["10.0.0.1"], "juju-status": { current: "started" } }, "1": { "instance-id": "manual:10.0.0.2", "dns-name": "10.0.0.2", "ip-addresses": ["10.0.0.2"], "juju-status": { current: "down", message: "agent is not communicating with the server" } } } });
    const hosts = [host(1, "juju-1", ["juju-controller"]), host(2, "juju-2", ["juju-controller"]), host(3, "juju-3", ["juju-controller"])];
    const knows = { "juju controllers --format json": { stdout: JSON.stringify({ controllers: { metalwave: {} } }) }, "juju machines -m metalwave:controller --format json": { stdout: show } };
    const none = { "juju controllers --format json": { stdout: JSON.stringify({ controllers: {} }) } };
    const judged = await createHealthProbe({ ssh: fakeSsh({ "juju-1": knows, "juju-2": none, "juju-3": none }), logger: silentLogger() }).check(hosts);
    expect(judged.map((x) => x.failures.map((f) => f.detail))).toEqual([[], ["controller machine 1 is down (agent is not communicating with the server)"], ["juju-3 (10.0.0.3) is not a machine of controller metalwave"]]);

    const unjudged = await createHealthProbe({ ssh: fakeSsh({ "juju-1": none, "juju-2": none, "juju-3": none }), logger: silentLogger() }).check(hosts);
    expect(unjudged.every((x) => x.healthy)).toBe(true);

    const silent = { ...knows, "juju machines -m metalwave:controller --format json": { exitCode: 1, stderr: "ERROR cannot connect to the controller" } };
    const refused = await createHealthProbe({ ssh: fakeSsh({ "juju-1": silent, "juju-2": none, "juju-3": none }), logger: silentLogger() }).check(hosts);
    expect(refused.map((x) => x.failures.map((f) => f.detail))).toEqual([["controller metalwave does not answer this machine's juju client: ERROR cannot connect to the controller"], [], []]);
  });
});
