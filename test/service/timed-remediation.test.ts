/**
 * The "done when" for the service, on the simulator: a served rollout with
 * injected faults ends with its failed hosts quarantined; with `remediation.enabled`
 * the service's own timed passes then provision them again (the one quarantined while
 * commissioning is commissioned again, not marked fixed), the one that still fails is
 * quarantined for good and a spare takes its role, and the metrics count both.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { readAndPlan } from "../../src/runtime/deployment-plan.ts";
import { parseConfig, type ConfigInput } from "../../src/config.ts";
import { MaasClient } from "../../src/maas/client.ts";
import { NodeStatus } from "../../src/model/maas/status.ts";
import { harness, type Harness } from "./helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const MACHINES = 30;
const SEED = 3;
const CONFIG: ConfigInput = {
  rollout: { maxAttempts: { commission: 1, deploy: 1 }, budget: { perWave: "100%", total: "100%" } },
  roles: { definitions: { compute: { spares: 1 } } },
  remediation: { enabled: true, intervalMs: 100, coolDownMs: 0, maxAttempts: 1 },
};

/** The compute hosts and the compute spare the harness's region will have (same machines, same seed). */
async function computeHosts(): Promise<{ hosts: { systemId: string; hostname: string }[]; spare: { systemId: string; hostname: string } }> {
  const probe = await startSimulator({ machines: MACHINES, zeroDuration: true, seed: SEED });
  try {
    const plan = await readAndPlan(new MaasClient({ url: probe.url, apiKey: probe.apiKey, requestsPerSecond: 0 }), parseConfig({ ...CONFIG, layers: { enabled: false } }));
    return { hosts: plan.rollout.hosts.filter((x) => x.roles.includes("compute")), spare: plan.roles.spares["compute"]![0]! };
  } finally {
    await probe.close();
  }
}

function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("timed remediation in the service", () => {
  it("re-provisions a host that failed commissioning, quarantines one that keeps failing its deploy and hands its role to a spare, and counts both", async () => {
    const { hosts, spare } = await computeHosts();
    const [flaky, doomed] = [hosts[0]!, hosts[1]!];
    // flaky: its first commissioning fails (the rollout's one attempt): quarantined, never commissioned
    // successfully. The pass commissions it again from Broken (marked fixed, MAAS would refuse its
    // deploy: "Mount the root '/' filesystem ...", maas-network-storage.md §5), then deploys it.
    // doomed: every deploy fails.
    h = await harness({ machines: MACHINES, seed: SEED, faults: `commission.fail@${flaky.hostname}=1:first=1,deploy.fail@${doomed.hostname}=1`, config: CONFIG });
    // The timer's passes (every 100 ms, nothing to do yet) may hold the service for a moment: a
    // start then answers 409 naming the pass, and is sent again once it has ended.
    let started = await h.api("POST", "/api/v1/rollouts");
    for (let i = 0; started.status === 409 && /remediation pass is running/.test(started.json.error.message) && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      started = await h.api("POST", "/api/v1/rollouts");
    }
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const id: string = started.json.rollout.id;
    await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live === false, "the rollout to end");
    const rollout = (await h.api("GET", `/api/v1/rollouts/${id}`)).json;
    expect(rollout.failures.map((f: { hostname: string }) => f.hostname).sort()).toEqual([flaky.hostname, doomed.hostname].sort());

    // No request from here on: the service's timer runs the passes.
    await h.until(async () => {
      const m = (await h!.api("GET", "/metrics")).text;
      return sample(m, 'metalwave_remediation_hosts_total{kind="remediation",result="replaced_by_spare"}') >= 1;
    }, "a timed pass to hand the doomed host's role to the spare");

    const flakyNow = await h.maas.readMachine(flaky.systemId);
    expect(flakyNow.status).toBe(NodeStatus.DEPLOYED);
    const doomedNow = await h.maas.readMachine(doomed.systemId);
    expect(doomedNow.status).toBe(NodeStatus.BROKEN);
    expect(doomedNow.tag_names).not.toContain("compute");
    const spareNow = await h.maas.readMachine(spare.systemId);
    expect(spareNow.status).toBe(NodeStatus.DEPLOYED);
    expect(spareNow.tag_names).toContain("compute");

    const metrics = (await h.api("GET", "/metrics")).text;
    expect(sample(metrics, 'metalwave_remediation_hosts_total{kind="remediation",result="in_service"}')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'metalwave_remediation_hosts_total{kind="remediation",result="quarantined"}')).toBeGreaterThanOrEqual(1);
    const maintenance = (await h.api("GET", "/api/v1/maintenance")).json;
    expect(maintenance.remediation).toMatchObject({ enabled: true, intervalMs: 100 });
  }, 90_000);
});
