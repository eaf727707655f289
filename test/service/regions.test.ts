/**
 * The service over two regions, after a rollout in which one host of region b failed:
 * its dashboard in a real headless browser (Debian's chromium, playwright-core) has a row
 * per region with its machines in service and failed, groups the cells by region on
 * request, and links the failed host to its own region's MAAS UI with its system_id there
 * (not the key); its metrics count machines, transitions and failures by region.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { MaasClient } from "../../src/maas/client.ts";
import { RegionLink } from "../../src/maas/region-link.ts";
import { RegionsMaas } from "../../src/maas/regions.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { sumStats } from "../../src/cli/regions.ts";
import { startService, type ServiceHandle } from "../../src/service/index.ts";
import { TOKEN, type Json } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Its first deploy fails: quarantined in region b. */
const BAD = "b-az1-compute-std-0001";

let sims: SimHandle[] = [];
let store: Store;
let service: ServiceHandle;
let browser: Browser;
let rolloutId = "";

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`the dashboard test drives Debian's chromium at ${CHROMIUM}, which is missing: apt-get install -y --no-install-recommends chromium`);
  sims = await Promise.all([
    startSimulator({ machines: 10, zeroDuration: true, seed: 41, hostnamePrefix: "a" }),
    startSimulator({ machines: 10, zeroDuration: true, seed: 42, hostnamePrefix: "b", faults: `deploy.fail@${BAD}=1` }),
  ]);
  const clients = sims.map((s) => new MaasClient({ url: s.url, apiKey: s.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } }));
  const maas = new RegionsMaas(["a", "b"].map((name, i) => new RegionLink({ name, port: clients[i]!, probeIntervalMs: 20 })));
  store = openStore(":memory:", { writeBehindMs: 50 });
  const config = parseConfig({ layers: { enabled: false }, rollout: { backoffMs: { base: 1, max: 5 }, maxAttempts: { deploy: 1 }, budget: { perWave: 2, total: 4, perRegion: 2 } } });
  service = await startService({
    store,
    maas,
    maasStats: () => sumStats(clients.map((c) => c.stats())),
    config,
    logger: silentLogger(),
    token: TOKEN,
    port: 0,
    timeScale: 1000,
    observerPollMs: 10,
    heartbeatMs: 1_000,
    defaultMetrics: false,
    region: { kind: "real", url: `a=${sims[0]!.url}, b=${sims[1]!.url}` },
    regionUrls: new Map([
      ["a", "http://maas-a.example:5240/MAAS"],
      ["b", "http://maas-b.example:5240/MAAS"],
    ]),
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  const started = await api("POST", "/api/v1/rollouts", {});
  rolloutId = started.rollout.id as string;
  const deadline = Date.now() + 30_000;
  while ((await api("GET", `/api/v1/rollouts/${rolloutId}`)).rollout.state !== "completed") {
    if (Date.now() > deadline) throw new Error("the rollout did not complete");
    await new Promise((r) => setTimeout(r, 25));
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  store?.close();
  await Promise.all(sims.map((s) => s.close()));
});

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await fetch(service.url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

/** Just the DOM this test reads (the project's TypeScript has no DOM library). */
interface Doc {
  querySelectorAll(selector: string): Iterable<{ getAttribute(name: string): string | null; querySelectorAll(s: string): Iterable<{ textContent: string | null }> }>;
}

describe("the service over two regions", () => {
  it("counts machines, transitions and failures by region in its metrics", async () => {
    const view = await api("GET", `/api/v1/rollouts/${rolloutId}/hosts`);
    expect(view.budget.perRegionLimits).toEqual({ a: 2, b: 2 });
    const cells = view.hosts as { region: string }[];
    const planned = (r: string) => cells.filter((c) => c.region === r).length;
    const text = await (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
    expect(value('metalwave_machines_by_region{region="a",phase="inService"}')).toBe(planned("a"));
    expect(value('metalwave_machines_by_region{region="b",phase="inService"}')).toBe(planned("b") - 1);
    expect(value('metalwave_machines_by_region{region="b",phase="quarantined"}')).toBe(1);
    expect(value('metalwave_host_failures_total{code="MAAS_FAILED_STATUS",outcome="quarantined",region="b"}')).toBe(1);
    expect(text).not.toMatch(/metalwave_host_failures_total\{[^}]*region="a"/);
    expect(value('metalwave_host_transitions_total{to="inService",region="a"}')).toBe(planned("a"));
    expect(value('metalwave_host_transitions_total{to="inService",region="b"}')).toBe(planned("b") - 1);
    expect(value('metalwave_region_up{region="a"}')).toBe(1);
  });

  it("shows each region's machines on the dashboard, groups the cells by region, and links a host to its own region's MAAS", async () => {
    const cells = (await api("GET", `/api/v1/rollouts/${rolloutId}/hosts`)).hosts as { region: string }[];
    const planned = (r: string) => cells.filter((c) => c.region === r).length;

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${service.url}/#token=${TOKEN}`);
      await page.waitForSelector("#regions:not([hidden]) tbody tr[data-region=b]");
      const rows = await page.evaluate(() =>
        [...(globalThis as unknown as { document: Doc }).document.querySelectorAll("#regions tbody tr")].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
      );
      // region, machines, in service, failed, in flight, waiting, budget used (the budget: 2 per region)
      expect(rows).toEqual([
        ["a", String(planned("a")), String(planned("a")), "0", "0", "0", "0 of 2"],
        ["b", String(planned("b")), String(planned("b") - 1), "1", "0", "0", "1 of 2"],
      ]);

      // Grouping by region is offered, and gives one group per region.
      expect(await page.$eval('#group-by option[value="region"]', (o) => (o as unknown as { hidden: boolean }).hidden)).toBe(false);
      await page.selectOption("#group-by", "region");
      await page.waitForFunction(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem("metalwave.groupBy") === "region");

      // The failed host links to region b's UI, with its system_id in b (the key without "b/").
      const link = await page.waitForSelector("#failures tbody a.maas-link");
      const href = (await link.getAttribute("href")) ?? "";
      const key = (await link.textContent())?.match(/\((b\/[a-z0-9]+)\)/)?.[1] ?? "";
      expect(key).toMatch(/^b\//);
      expect(href).toBe(`http://maas-b.example:5240/MAAS/r/machine/${key.slice(2)}/summary`);
    } finally {
      await page.close();
    }
  }, 60_000);
});
