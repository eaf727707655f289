/**
 * The service's metrics of a layered rollout on the simulated region and its simulated
 * hosts: machines by role and phase (each role's machines add up to the plan's), and
 * the SSH commands the layers ran, by outcome — a command the host fails shows up as
 * `failed`, a check's "not yet" as `nonzero_allowed` — with their durations.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { MaasClient } from "../../src/maas/client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor } from "../../src/cli/rollout.ts";
import { startService, type ServiceHandle } from "../../src/service/index.ts";
import { SSH_OUTCOMES } from "../../src/service/metrics.ts";
import { TOKEN, type Json } from "./helpers.ts";
import { LAYERED_14 } from "../runtime/sim-client.ts";

/** The first three `juju add-machine` (run on the juju client machine) exit 4; each step's second attempt succeeds. */
const HOST_FAULTS = "fail=1:match=juju add-machine:first=3:code=4";

let sim: SimHandle;
let store: Store;
let service: ServiceHandle;

beforeAll(async () => {
  sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11, hosts: { sshPort: 0, nodeReadyMs: 20, faults: HOST_FAULTS } });
  const maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  store = openStore(":memory:", { writeBehindMs: 50 });
  const config = parseConfig({ rollout: { backoffMs: { base: 1, max: 5 } }, layers: { stepAttempts: 2 } });
  service = await startService({
    store,
    maas,
    maasStats: () => maas.stats(),
    config,
    logger: silentLogger(),
    token: TOKEN,
    port: 0,
    timeScale: 1000,
    observerPollMs: 5,
    heartbeatMs: 1_000,
    defaultMetrics: false,
    layering: () => layeringFor(config, silentLogger(), sim),
  });
}, 30_000);

afterAll(async () => {
  await service?.stop();
  store?.close();
  await sim?.close();
});

async function api(method: string, path: string): Promise<{ status: number; json: Json; text: string }> {
  const res = await fetch(service.url + path, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Every sample of a metric: its labels and value. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-z_]+)="([^"]*)"/g)) labels[k!] = v!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  return samples(text, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe("metrics of a layered rollout", () => {
  it("counts machines by role and phase, adding up to the plan's hosts per role", async () => {
    const started = await api("POST", "/api/v1/rollouts");
    expect(started.status).toBe(201);
    const id: string = started.json.rollout.id;
    const deadline = Date.now() + 60_000;
    while ((await api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live) {
      if (Date.now() > deadline) throw new Error("the rollout did not end");
      await new Promise((r) => setTimeout(r, 20));
    }
    const detail = (await api("GET", `/api/v1/rollouts/${id}`)).json;
    expect(detail.rollout.state).toBe("completed");

    const hosts: { roles: string[]; phase: string }[] = (await api("GET", `/api/v1/rollouts/${id}/hosts`)).json.hosts;
    const perRole = new Map<string, number>();
    for (const h of hosts) for (const r of h.roles) perRole.set(r, (perRole.get(r) ?? 0) + 1);
    expect(perRole.size).toBeGreaterThan(2);

    const text = (await api("GET", "/metrics")).text;
    const byRole = samples(text, "metalwave_machines_by_role");
    const sums = new Map<string, number>();
    for (const s of byRole) sums.set(s.labels["role"]!, (sums.get(s.labels["role"]!) ?? 0) + s.value);
    expect(Object.fromEntries(sums)).toEqual(Object.fromEntries(perRole));
    // Every machine is in service, and the by-role phases agree with the by-phase gauge.
    expect(new Set(byRole.map((s) => s.labels["phase"]))).toEqual(new Set(["inService"]));
    expect(value(text, "metalwave_machines", { phase: "inService" })).toBe(hosts.length);
    // No series names a machine.
    for (const h of store.loadHosts(id)) expect(text).not.toContain(h.hostname);
  }, 90_000);

  it("counts the SSH commands the layers ran by outcome: a command the host failed is `failed`", async () => {
    // The rollout of the test above.
    const id: string = (await api("GET", "/api/v1/rollouts")).json.rollouts[0].id;
    const computes = (await api("GET", `/api/v1/rollouts/${id}/hosts`)).json.hosts.filter((h: Json) => h.roles.includes("compute")).length;
    expect(computes).toBeGreaterThan(0);

    const text = (await api("GET", "/metrics")).text;
    const counts = Object.fromEntries(samples(text, "metalwave_ssh_commands_total").map((s) => [s.labels["outcome"], s.value]));
    // Every outcome has its series from the start.
    expect(Object.keys(counts).sort()).toEqual([...SSH_OUTCOMES].sort());
    expect(counts["ok"]).toBeGreaterThan(computes);
    expect(counts["failed"]).toBe(3);
    expect(counts["nonzero_allowed"]).toBeGreaterThan(0);
    // Nothing runs on the port once the run has ended (Layering.close before the port's), so `closed` is 0 too.
    for (const o of ["timeout", "connection_error", "refused", "closed", "error"]) expect({ o, n: counts[o] }).toEqual({ o, n: 0 });
    // The histogram saw the same commands.
    for (const o of ["ok", "failed"]) {
      expect(value(text, "metalwave_ssh_command_duration_seconds_count", { outcome: o })).toBe(counts[o]);
      expect(value(text, "metalwave_ssh_command_duration_seconds_bucket", { outcome: o, le: "+Inf" })).toBe(counts[o]);
    }
  });

  // The pass re-provisions the compute host: it leaves Juju before its release (its agent is down, so
  // by remove-machine --force), so the control plane's re-check in the pass no longer waits on its old
  // units, whose agent is lost (which held the pass in layering for ever before).
  it("counts a remediation pass's health checks: hosts by result, failures by check", async () => {
    const id: string = (await api("GET", "/api/v1/rollouts")).json.rollouts[0].id;
    const hosts: Json[] = (await api("GET", `/api/v1/rollouts/${id}/hosts`)).json.hosts;
    const compute = hosts.find((h: Json) => h.roles.includes("compute"))!;
    // One compute host's Juju machine agent stops after it was in service (Juju reports the machine down).
    sim.hosts!.stopService(compute.hostname, "jujud");
    const before = (await api("GET", "/metrics")).text;
    expect(value(before, "metalwave_health_checked_hosts_total", { result: "healthy" })).toBe(0);

    expect((await api("POST", "/api/v1/remediation")).status).toBe(202);
    for (let i = 0; i < 600 && (await api("GET", "/api/v1/maintenance")).json.running !== null; i++) await new Promise((r) => setTimeout(r, 50));
    const last = (await api("GET", "/api/v1/maintenance")).json.last;
    expect(last.error).toBeNull();
    expect(last.result.healthChecks.failed.map((f: Json) => f.hostname)).toEqual([compute.hostname]);

    const text = (await api("GET", "/metrics")).text;
    expect(value(text, "metalwave_health_checked_hosts_total", { result: "unhealthy" })).toBe(1);
    expect(value(text, "metalwave_health_checked_hosts_total", { result: "healthy" })).toBe(last.result.healthChecks.checked - 1);
    expect(value(text, "metalwave_health_check_failures_total", { check: "juju-machine" })).toBe(1);
    expect(value(text, "metalwave_health_check_failures_total", { check: "ssh" })).toBe(0);
  }, 90_000);
});
