/**
 * Health checks of hosts in service feeding remediation, on a layered cloud of the
 * simulated region and its hosts: a healthy cloud passes every check; each role's check
 * fails for its own cause (a unit in error or blocked, a machine agent down, a node NotReady,
 * OSDs down); a compute host whose Juju machine agent went down after it was in service is
 * found by a remediation pass, re-provisioned and healthy again; a host that
 * does not answer SSH is unhealthy and counts toward the halt threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle, type HostFleet } from "../../src/sim/index.ts";
import { LAYERED_14, simClient, simDeps } from "./sim-client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { RolloutRunner, type RunnerDeps } from "../../src/runtime/rollout-runner.ts";
import { remediate } from "../../src/runtime/remediation.ts";
import type { PlannedHost } from "../../src/runtime/deployment-plan.ts";
import { parseConfig, type Config, type ConfigInput } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor, type LayeringSetup } from "../../src/cli/rollout.ts";
import { remediationText } from "../../src/cli/remediate.ts";
import { createHealthProbe, hostFromMachine, type LayerHost } from "../../src/layers/index.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";

function configWith(remediation: ConfigInput["remediation"] = {}): Config {
  return parseConfig({
    rollout: { backoffMs: { base: 1, max: 5 }, maxAttempts: { layer: 2 } },
    layers: { stepAttempts: 1 },
    remediation: { coolDownMs: 0, maxAttempts: 2, haltWhenUnhealthy: "20%", healthCheckTimeoutMs: 5000, ...remediation },
  });
}

let sim: SimHandle;
let fleet: HostFleet;
let store: Store;
let layering: LayeringSetup;
let deps: RunnerDeps;
let planned: PlannedHost[];
let firstRollout: string;

const withRole = (role: string) => planned.filter((h) => h.roles.includes(role));
const depsWith = (remediation: ConfigInput["remediation"]): RunnerDeps => ({ ...deps, config: { ...deps.config, remediation: configWith(remediation).remediation } });

async function layerHost(h: PlannedHost): Promise<LayerHost> {
  return hostFromMachine(await deps.maas.readMachine(h.systemId), h.roles);
}

beforeAll(async () => {
  sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11, hosts: { sshPort: 0, nodeReadyMs: 20 } });
  fleet = sim.hosts as HostFleet;
  const maas = simClient(sim);
  store = openStore(":memory:");
  layering = layeringFor(configWith(), silentLogger(), sim) as LayeringSetup;
  deps = simDeps(maas, store, layering.config, layering);
  const summary = await new RolloutRunner(deps).run({ resume: false });
  expect(summary.state).toBe("completed");
  expect(summary.failures).toEqual([]);
  firstRollout = summary.rolloutId;
  planned = (store.getRollout(summary.rolloutId)?.plan as { hosts: PlannedHost[] }).hosts;
}, 120_000); // a 14-machine rollout (every role, each check has its hosts) through Juju and its charms over SSH

afterAll(async () => {
  // The engine first, as the CLI and the service do: nothing is sent on a closed port.
  layering?.engine.close();
  await layering?.ssh.close();
  store?.close();
  await sim?.close();
});

describe("health checks of hosts in service", () => {
  it("a healthy layered cloud passes every check: nothing is unhealthy, nothing is remediated", async () => {
    for (const role of ["juju-controller", "control", "storage", "compute"]) expect(withRole(role).length).toBeGreaterThan(0);
    const r = await remediate(deps);
    expect(r.healthChecks).toEqual({ checked: planned.length, failed: [], skipped: null });
    expect(r.unhealthy).toBe(0);
    expect(r.attempted).toEqual([]);
  }, 60_000);

  it("each role's check fails for its own cause (Juju's machine and unit status, the Kubernetes node, the OSDs), and passes once that is over", async () => {
    const compute = withRole("compute")[0]!;
    const agentless = withRole("compute")[2]!;
    const storage = withRole("storage")[0]!;
    const blockedStorage = withRole("storage")[1]!;
    const control = withRole("control")[0]!;
    const erredControl = withRole("control")[1]!;
    // The controller, asked through the machine whose juju client knows it, reports this machine down.
    const juju = withRole("juju-controller").sort((a, b) => (a.hostname < b.hostname ? -1 : 1))[1]!;
    const stops: [PlannedHost, string][] = [
      [agentless, "jujud"],
      [storage, "microceph.osd"],
      [control, "k8s.kubelet"],
      [juju, "jujud"],
    ];
    const probe = createHealthProbe({ ssh: layering.ssh, logger: silentLogger(), timeoutMs: 5000 });
    const hosts = await Promise.all(planned.map(layerHost));
    // As the charms would show it: a failed hook (error), a charm that needs an operator (blocked).
    const world = fleet.cloud.jujuWorld;
    const mm = world.controller("metalwave").models.get("openstack-machines")!;
    const unitOf = (h: PlannedHost, app: string) => {
      const id = [...mm.machines.values()].find((m) => m.host?.systemId === h.systemId)?.id;
      return [...(mm.apps.get(app)?.units.values() ?? [])].find((u) => u.machine === id)!.name;
    };
    const hv = unitOf(compute, "openstack-hypervisor");
    const ceph = unitOf(blockedStorage, "microceph");
    const k8s = unitOf(erredControl, "k8s");
    for (const [h, service] of stops) fleet.stopService(h.hostname, service);
    world.failHook(mm, hv, "update-status", fleet.cloud.now());
    world.setWorkloadStatus(mm, ceph, "blocked", "(ceph) integration missing", fleet.cloud.now());
    world.failHook(mm, k8s, "config-changed", fleet.cloud.now());
    try {
      const sick = (await probe.check(hosts)).filter((r) => !r.healthy);
      expect(Object.fromEntries(sick.map((r) => [r.hostname, r.failures.map((f) => [f.check, f.detail])]))).toEqual({
        [compute.hostname]: [["hypervisor-unit", `${hv} is error (hook failed: "update-status")`]],
        [agentless.hostname]: [["juju-machine", expect.stringMatching(/^machine \d+ agent is down \(agent is not communicating with the server\)$/)]],
        [storage.hostname]: [["ceph-osds", expect.stringMatching(new RegExp(`^(\\d+) of \\1 OSD\\(s\\) on ${storage.hostname} not up: osd\\.\\d+ down(, osd\\.\\d+ down)*$`))]],
        // The simulated charms act on their statuses: a blocked microceph unit's host leaves MicroCeph (its osd tree fails too).
        [blockedStorage.hostname]: [
          ["ceph-osds", expect.stringMatching(/^command failed \(SSH_EXIT\): .* running 'microceph\.ceph osd tree --format json': exited with status 1$/)],
          ["ceph-unit", `${ceph} is blocked ((ceph) integration missing)`],
        ],
        [control.hostname]: [["kubernetes-node", `node ${control.hostname} is NotReady`]],
        // …and a k8s unit in error no longer runs its node.
        [erredControl.hostname]: [
          ["kubernetes-node", `${erredControl.hostname} is not a node of the Kubernetes cluster`],
          ["kubernetes-unit", `${k8s} is error (hook failed: "config-changed")`],
        ],
        [juju.hostname]: [["juju-controller", expect.stringMatching(/^controller machine \d+ is down \(agent is not communicating with the server\)$/)]],
      });
    } finally {
      for (const [h] of stops) fleet.startService(h.hostname);
      world.resolved(mm, hv);
      world.resolved(mm, k8s);
      world.setWorkloadStatus(mm, ceph, "active", "", fleet.cloud.now());
    }
    await expect.poll(async () => (await probe.check(hosts)).filter((r) => !r.healthy), { timeout: 5000, interval: 25 }).toEqual([]);
  }, 60_000);

  it("a compute host whose Juju machine agent went down after it was in service is re-provisioned by a remediation pass and is healthy again", async () => {
    const victim = withRole("compute")[1]!;
    const deployedBefore = fleet.view(victim.hostname).deployment;
    // Its Juju machine agent stops: Juju reports the machine down.
    fleet.stopService(victim.hostname, "jujud");

    // Without health checks MAAS still says Deployed, so nothing notices.
    const blind = await remediate(depsWith({ healthChecks: false }));
    expect(blind.healthChecks).toEqual({ checked: 0, failed: [], skipped: "remediation.healthChecks is false" });
    expect(blind.unhealthy).toBe(0);

    const r = await remediate(deps);
    expect(r.healthChecks.checked).toBe(planned.length);
    const down = { check: "juju-machine", detail: expect.stringMatching(/^machine \d+ agent is down \(agent is not communicating with the server\)$/) as string };
    expect(r.healthChecks.failed).toEqual([{ systemId: victim.systemId, hostname: victim.hostname, roles: ["compute"], healthy: false, failures: [down] }]);
    const detail = r.healthChecks.failed[0]!.failures[0]!.detail;
    expect(r.unhealthy).toBe(1);
    // `metalwave remediate` prints the failed check.
    expect(remediationText(r)).toContain(`health check failed: ${victim.hostname} (${victim.systemId}) juju-machine: ${detail}`);
    expect(r.attempted).toEqual([{ systemId: victim.systemId, hostname: victim.hostname, attempt: 1 }]);
    expect(r.rollout?.byOutcome.inService).toBe(1);
    expect(r.rollout?.failures).toEqual([]);

    // Released with erase and deployed again: a fresh installation, in service, enlisted in Juju again.
    expect((await deps.maas.readMachine(victim.systemId)).status).toBe(NodeStatus.DEPLOYED);
    const stats = sim.stats().machines?.find((m) => m.system_id === victim.systemId);
    expect({ erased: stats?.erased, deployed: stats?.deployed }).toEqual({ erased: 1, deployed: 2 });
    expect(fleet.view(victim.hostname)).toMatchObject({ deployment: deployedBefore + 1, stopped: [] });

    // The failed check is in the journal, under the rollout that had put the host in service.
    const entries = store.journal(firstRollout, { systemId: victim.systemId, kind: "remediation" });
    expect(entries.map((e) => e.data)).toEqual([{ event: "healthCheckFailed", hostname: victim.hostname, roles: ["compute"], failures: [{ check: "juju-machine", detail }] }]);

    // The next pass checks it again (now from its remediation rollout) and finds every host healthy.
    const after = await remediate(deps);
    expect(after.healthChecks).toEqual({ checked: planned.length, failed: [], skipped: null });
    expect(after.attempted).toEqual([]);
  }, 240_000);

  it("a host that does not answer SSH is unhealthy, and counts toward the halt threshold", async () => {
    const mute = withRole("storage")[1]!;
    fleet.setReachable(mute.hostname, false);
    try {
      const r = await remediate(depsWith({ haltWhenUnhealthy: 0 }));
      expect(r.healthChecks.failed.map((f) => ({ hostname: f.hostname, checks: f.failures.map((x) => x.check) }))).toEqual([{ hostname: mute.hostname, checks: ["ssh"] }]);
      expect(r.healthChecks.failed[0]?.failures[0]?.detail).toMatch(/^does not answer SSH \(SSH_CONNECT\)/);
      expect(r.unhealthy).toBe(1);
      expect(r.halted?.reason).toMatch(/^1 of \d+ hosts are unhealthy at once, more than 0 \(0\)/);
      expect(r.attempted).toEqual([]);
      expect((await deps.maas.readMachine(mute.systemId)).status).toBe(NodeStatus.DEPLOYED);
    } finally {
      fleet.setReachable(mute.hostname, true);
    }
  }, 60_000);
});
