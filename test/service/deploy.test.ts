/**
 * What deploy/ ships for operators, checked with the tools they use: the service's
 * /metrics passes `promtool check metrics` (prom-client's own `*_total` gauges left out),
 * the alert rules pass `promtool check rules` and their `promtool test rules` cases, and
 * every metric the alerts and the Grafana dashboard name is one the service exports.
 * promtool comes from Debian's `prometheus` package (test/setup/system-deps.ts).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Registry, collectDefaultMetrics } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harness, type Harness } from "./helpers.ts";

const repo = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const ALERTS = repo("deploy/prometheus/metalwave-alerts.yaml");
const DASHBOARD = repo("deploy/grafana/metalwave-dashboard.json");

function promtool(args: string[], input?: string, cwd?: string): { status: number | null; out: string } {
  const r = spawnSync("promtool", args, { input, encoding: "utf8", cwd });
  if (r.error) throw new Error(`promtool is needed (Debian package prometheus; npm test's pretest installs it): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

let h: Harness;
beforeAll(async () => {
  // A rollout with failures, so the failure counters and the budget gauge have series.
  h = await harness({
    machines: 10,
    seed: 5,
    faults: "deploy.fail=0.4",
    defaultMetrics: true,
    config: { rollout: { budget: { perWave: "100%", total: "100%" }, maxAttempts: { commission: 1, deploy: 1, layer: 1, release: 1 } } },
  });
  const started = await h.api("POST", "/api/v1/rollouts", { body: {} });
  const id: string = started.json.rollout.id;
  await h.until(async () => (await h.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live === false, "the rollout to end");
}, 60_000);
afterAll(async () => {
  await h.close();
});

describe("metrics for Prometheus", () => {
  it("pass promtool check metrics, prom-client's defaults included", async () => {
    const text = (await h.api("GET", "/metrics")).text;
    expect(text).toContain("process_cpu_seconds_total");
    expect(text).toMatch(/^metalwave_build_info\{version="\d+\.\d+\.\d+[^"]*",node="24\.[^"]+"\} 1$/m);
    expect(text).toMatch(/^metalwave_failure_budget_remaining\{scope="total"\} \d+$/m);
    expect(text).toMatch(/^metalwave_failure_budget_remaining\{scope="wave"\} -?\d+$/m);
    expect(text).toMatch(/^metalwave_maas_up 1$/m);
    const r = promtool(["check", "metrics"], text);
    expect(r.out).toBe("");
    expect(r.status).toBe(0);
  });

  it("promtool does flag prom-client's unfiltered defaults (the check can fail)", async () => {
    const raw = new Registry();
    collectDefaultMetrics({ register: raw });
    const r = promtool(["check", "metrics"], await raw.metrics());
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('nodejs_active_handles_total non-counter metrics should not have "_total" suffix');
  });

  it("the budget gauge is the config's limit less the rollout's failed hosts", async () => {
    const text = (await h.api("GET", "/metrics")).text;
    const rollout = (await h.api("GET", "/api/v1/rollouts")).json.rollouts[0].id as string;
    const detail = (await h.api("GET", `/api/v1/rollouts/${rollout}`)).json;
    const failed = detail.progress.byOutcome.quarantined + detail.progress.byOutcome.failed;
    expect(failed).toBeGreaterThan(0);
    const total = Number(/^metalwave_failure_budget_remaining\{scope="total"\} (-?\d+)$/m.exec(text)?.[1]);
    // total: "100%" of 10 machines.
    expect(total).toBe(10 - failed);
  });
});

describe("alert rules and the Grafana dashboard (deploy/)", () => {
  it("pass promtool check rules and their promtool test rules cases", () => {
    const check = promtool(["check", "rules", ALERTS]);
    expect(check.out).toContain("SUCCESS: 9 rules found");
    expect(check.status).toBe(0);
    const cases = promtool(["test", "rules", "metalwave-alerts.promtool.yaml"], undefined, repo("test/service"));
    expect(cases.out).toContain("SUCCESS");
    expect(cases.status).toBe(0);
  });

  it("name only metrics the service exports", async () => {
    const exported = new Set((await h.service.metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const exprs = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...[...readFileSync(ALERTS, "utf8").matchAll(/expr: (\|[^]*?)(?=\n\s+(?:for|labels):)|expr: (.+)/g)].map((m) => m[1] ?? m[2] ?? "")];
    expect(exprs.length).toBeGreaterThan(15);
    const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(metalwave_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ""))));
    expect(named.size).toBeGreaterThan(10);
    for (const n of named) expect(exported, n).toContain(n);
  });
});
