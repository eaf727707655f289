/**
 * The dashboard in a real headless browser (Debian's chromium driven by
 * playwright-core) against a running service on a time-scaled simulated region: the
 * page is served without the token but reads nothing without it, takes the token from
 * the address fragment and sends it only as a header, shows every machine and the
 * per-phase counts the API gives, follows the rollout as it moves, and its button
 * pauses and resumes the rollout through the API; a maintenance pass shows as a
 * banner naming it, and its rollout is labelled with its kind.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { MaasClient } from "../../src/maas/client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { startService, type ServiceHandle } from "../../src/service/index.ts";
import { TOKEN, type Json } from "./helpers.ts";
import { until } from "../fakes/until.ts";

const CHROMIUM = "/usr/bin/chromium";
const MACHINES = 24;
/** Realistic seconds / SPEED: a wave takes about 0.6 s, the rollout (5 waves) about 3 s. */
const SPEED = 6000;

let sim: SimHandle;
let store: Store;
let service: ServiceHandle;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the dashboard test drives Debian's chromium at ${CHROMIUM}, which is missing: install it with 'apt-get install -y --no-install-recommends chromium'`);
  }
  sim = await startSimulator({ machines: MACHINES, speed: SPEED, durations: { commission: 1200, deploy: 2400 }, seed: 5 });
  const maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  store = openStore(":memory:", { writeBehindMs: 50 });
  const config = parseConfig({ layers: { enabled: false }, rollout: { backoffMs: { base: 1, max: 5 } } });
  service = await startService({
    store,
    maas,
    maasStats: () => maas.stats(),
    config,
    logger: silentLogger(),
    token: TOKEN,
    port: 0,
    timeScale: SPEED,
    observerPollMs: 20,
    heartbeatMs: 1_000,
    defaultMetrics: false,
    region: { kind: "simulated", url: sim.url },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  store?.close();
  await sim?.close();
});

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(service.url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

/** The page and the API show a change within 15 s, well inside each test's own limit. */
function within<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  return until(what, probe, { limitMs: 15_000, everyMs: 25 });
}

/** Just the DOM this test reads (the project's TypeScript has no DOM library). */
interface Doc {
  querySelectorAll(selector: string): Iterable<{ hidden: boolean; getAttribute(name: string): string | null; querySelector(selector: string): { textContent: string | null } | null }>;
  getElementById(id: string): { textContent: string | null } | null;
}
/** The per-phase counts the page shows (its phase table; rows at 0 are hidden), read in one go (one evaluation in the page). */
function pageCounts(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const out: Record<string, number> = {};
    for (const r of (globalThis as unknown as { document: Doc }).document.querySelectorAll("#phases tbody tr[data-phase]")) {
      if (!r.hidden) out[r.getAttribute("data-phase") ?? "?"] = Number(r.querySelector(".count")?.textContent);
    }
    return out;
  });
}

/** The machines per phase as the cells are coloured (the canvas's data-tally). */
async function cellTally(page: Page): Promise<Record<string, number>> {
  return JSON.parse((await page.getAttribute("#cells", "data-tally")) ?? "{}") as Record<string, number>;
}

describe("the dashboard", () => {
  it("is served without the token, and without one asks for it and reads nothing", async () => {
    for (const [path, type] of [
      ["/", /^text\/html/],
      ["/dashboard.js", /^text\/javascript/],
      ["/dashboard.css", /^text\/css/],
    ] as const) {
      const res = await fetch(service.url + path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.headers.get("content-type")).toMatch(type);
      expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await res.text()).not.toContain(TOKEN);
    }
    expect((await fetch(`${service.url}/api/v1/rollouts`)).status).toBe(401);

    const page = await browser.newPage();
    try {
      const apiCalls: string[] = [];
      page.on("request", (r) => {
        if (new URL(r.url()).pathname.startsWith("/api/")) apiCalls.push(r.url());
      });
      await page.goto(`${service.url}/`);
      await page.waitForSelector("#login:not([hidden])");
      expect(await page.isHidden("#main")).toBe(true);
      expect(apiCalls).toEqual([]);

      // A wrong token is refused by the service, and the page asks again.
      await page.fill("#token", "not-the-token-0123456789");
      await page.click("#login button[type=submit]");
      await page.waitForFunction(() => (globalThis as unknown as { document: Doc }).document.getElementById("login-error")?.textContent?.includes("401"));
      expect(await page.isHidden("#main")).toBe(true);
    } finally {
      await page.close();
    }
  }, 20_000);

  it("shows every machine and the API's counts, follows the rollout, and its button pauses and resumes it", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const seen: { url: string; auth: string | undefined }[] = [];
      page.on("request", (r) => seen.push({ url: r.url(), auth: r.headers()["authorization"] }));
      await page.goto(`${service.url}/#token=${TOKEN}`);
      await page.waitForSelector('#conn[data-conn="live"]');
      // The token leaves the address bar at once and lives in this tab only.
      expect(await page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash)).toBe("");
      expect(await page.textContent("#rollout-id")).toBe("no rollout yet");

      const started = await api("POST", "/api/v1/rollouts");
      expect(started.status).toBe(201);
      const id: string = started.json.rollout.id;
      const total: number = started.json.progress.total;
      expect(total).toBe(MACHINES);

      // One cell per machine.
      await page.waitForSelector(`#cells[data-count="${MACHINES}"]`);
      expect(await page.textContent("#rollout-id")).toBe(id);
      // The rollout runs on the embedded simulator: the header says so.
      await page.waitForSelector("#rollout-region:not([hidden])");
      expect(await page.textContent("#rollout-region")).toBe("SIMULATED");
      expect(await page.getAttribute("#rollout-region", "title")).toContain(sim.url);

      // The counts move while the rollout runs; each snapshot accounts for every machine.
      const snapshots = new Set<string>();
      await within("the page to show the counts moving", async () => {
        const c = await pageCounts(page);
        if (Object.keys(c).length > 0) {
          expect({ c, sum: Object.values(c).reduce((a, b) => a + b, 0) }).toEqual({ c, sum: MACHINES });
          snapshots.add(JSON.stringify(c));
        }
        return snapshots.size >= 3;
      });
      expect((await api("GET", `/api/v1/rollouts/${id}`)).json.rollout.state).toBe("running");

      // Pause from the page.
      await page.waitForSelector('#control[data-action="pause"]:not([disabled])');
      await page.click("#control");
      const paused = await within("the API to show the rollout paused", async () => {
        const d = (await api("GET", `/api/v1/rollouts/${id}`)).json;
        return d.rollout.state === "paused" ? d : undefined;
      });
      expect(paused.rollout.reason).toBe("paused from the dashboard");
      const stopped = await within("the paused run to stop", async () => {
        const d = (await api("GET", `/api/v1/rollouts/${id}`)).json;
        return d.rollout.live === false ? d : undefined;
      });
      expect(stopped.rollout.state).toBe("paused");
      // Paused part-way: some machines never started.
      expect(stopped.progress.byPhase["waiting"]).toBeGreaterThan(0);

      // Once the run has stopped the page agrees with the API: counts, cells, state, button.
      await within("the page's counts and cells to match the API's", async () => {
        const [c, t] = [await pageCounts(page), await cellTally(page)];
        return JSON.stringify(sorted(c)) === JSON.stringify(sorted(stopped.progress.byPhase)) && JSON.stringify(sorted(t)) === JSON.stringify(sorted(stopped.progress.byPhase));
      });
      await page.waitForSelector('#rollout-state[data-state="paused"]');
      await page.waitForSelector('#control[data-action="resume"]:not([disabled])');

      // Resume from the page: the rollout runs to the end, and the page follows it there.
      await page.click("#control");
      const done = await within("the rollout to complete", async () => {
        const d = (await api("GET", `/api/v1/rollouts/${id}`)).json;
        return d.rollout.state === "completed" && !d.rollout.live ? d : undefined;
      });
      expect(done.progress.byPhase).toEqual({ inService: MACHINES });
      await within("the page to show every machine in service", async () => {
        const [c, t] = [await pageCounts(page), await cellTally(page)];
        return c["inService"] === MACHINES && Object.keys(c).length === 1 && t["inService"] === MACHINES && Object.keys(t).length === 1;
      });
      await page.waitForSelector('#rollout-state[data-state="completed"]');
      expect(await page.isDisabled("#control")).toBe(true);
      expect(await page.textContent("#failure-count")).toBe("0");

      // Every API call carried the token as a header; no address ever held it.
      const apiCalls = seen.filter((s) => new URL(s.url).pathname.startsWith("/api/"));
      expect(apiCalls.length).toBeGreaterThan(3);
      for (const s of apiCalls) expect(s.auth).toBe(`Bearer ${TOKEN}`);
      for (const s of seen) expect(s.url).not.toContain(TOKEN);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 30_000);
});

function sorted(o: Record<string, number>): [string, number][] {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}

describe("GET /api/v1/rollouts/{id}/hosts", () => {
  it("lists every planned machine once, then only the machines that changed after a cursor", async () => {
    // The rollout the dashboard test above ran to completion.
    const list = (await api("GET", "/api/v1/rollouts")).json;
    const id: string = list.rollouts[0].id;
    const full = (await api("GET", `/api/v1/rollouts/${id}/hosts`)).json;
    expect(full).toMatchObject({ rolloutId: id, full: true, budget: { totalLimit: 1, perWaveLimits: [0, 2, 0, 1, 1] } });
    expect(full.hosts).toHaveLength(MACHINES);
    expect(new Set(full.hosts.map((h: Json) => h.systemId)).size).toBe(MACHINES);
    expect(full.hosts.every((h: Json) => h.phase === "inService" && typeof h.zone === "string" && Array.isArray(h.roles))).toBe(true);
    expect(full.phases[0]).toBe("waiting");

    const after = (await api("GET", `/api/v1/rollouts/${id}/hosts?after=${full.cursor}`)).json;
    expect(after).toMatchObject({ full: false, cursor: full.cursor, hosts: [] });
    const fromStart = (await api("GET", `/api/v1/rollouts/${id}/hosts?after=0`)).json;
    expect(fromStart.hosts).toHaveLength(MACHINES);

    const bad = await api("GET", `/api/v1/rollouts/${id}/hosts?after=-1`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("BAD_REQUEST");
    expect((await api("GET", "/api/v1/rollouts/20990101-000000-ffff/hosts")).status).toBe(404);
  });
});

describe("the dashboard during a maintenance pass", () => {
  it("names the pass running and since when, follows its rollout labelled with its kind, then shows what became of its hosts", async () => {
    // Runs after the tests above: the 48-machine rollout is completed, no pass has run yet.
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const deployment: string = (await api("GET", "/api/v1/rollouts")).json.rollouts[0].id;
      await page.goto(`${service.url}/#token=${TOKEN}`);
      await page.waitForSelector('#conn[data-conn="live"]');
      await page.waitForSelector(`#cells[data-count="${MACHINES}"]`);
      expect(await page.isHidden("#maintenance")).toBe(true);
      expect(await page.isHidden("#rollout-kind")).toBe(true);
      expect(await page.getAttribute("#grid", "data-kind")).toBe("rollout");

      const target = (await api("GET", `/api/v1/rollouts/${deployment}/hosts`)).json.hosts[0];
      const accepted = await api("POST", "/api/v1/reprovision", { hosts: [target.hostname], reason: "disk errors" });
      expect(accepted.status).toBe(202);

      // While it runs: the banner names the pass and its start; the page moves to the pass's rollout of one machine, labelled.
      await page.waitForSelector('#maintenance[data-state="running"][data-kind="reprovision"]');
      expect(await page.textContent("#maint-title")).toBe("Re-provisioning pass running");
      expect(await page.textContent("#maint-text")).toMatch(/^since /);
      expect(await page.isDisabled("#control")).toBe(true);
      await page.waitForSelector('#cells[data-count="1"]');
      await page.waitForSelector('#rollout-kind[data-kind="reprovision"]:not([hidden])');
      expect(await page.textContent("#rollout-kind")).toBe("re-provisioning");
      expect(await page.getAttribute("#grid", "data-kind")).toBe("reprovision");
      expect(await page.textContent("#cell-count")).toBe("1 machine of a re-provisioning rollout");

      // Once it has ended: what became of its hosts, and the page on the pass's rollout as the API has it.
      await page.waitForSelector('#maintenance[data-state="ended"][data-kind="reprovision"]', { timeout: 20_000 });
      expect(await page.textContent("#maint-title")).toBe("Last re-provisioning pass ended");
      const ended = (await page.textContent("#maint-text")) ?? "";
      for (const part of ["1 back in service", "0 quarantined", "0 replaced by a spare"]) expect(ended).toContain(part);
      const pass = (await api("GET", "/api/v1/rollouts")).json.rollouts[0];
      expect(pass.id).not.toBe(deployment);
      expect((await api("GET", `/api/v1/rollouts/${pass.id}/hosts`)).json).toMatchObject({ kind: "reprovision", hosts: [{ systemId: target.systemId, phase: "inService" }] });
      expect(await page.textContent("#rollout-id")).toBe(pass.id);
      await page.waitForSelector('#rollout-state[data-state="completed"]');
      await within("the pass's machine to show in service", async () => JSON.stringify(await cellTally(page)) === JSON.stringify({ inService: 1 }));

      // A remediation pass with nothing to remediate: the banner says which pass ran and what it found.
      expect((await api("POST", "/api/v1/remediation")).status).toBe(202);
      await page.waitForSelector('#maintenance[data-state="ended"][data-kind="remediation"]');
      expect(await page.textContent("#maint-title")).toBe("Last remediation pass ended");
      expect(await page.textContent("#maint-text")).toContain(`0 of ${MACHINES} hosts unhealthy`);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 30_000);
});

describe("the dashboard's details", () => {
  const FAILING = 16;
  let sim2: SimHandle;
  let store2: Store;
  let service2: ServiceHandle;

  beforeAll(async () => {
    // A region where deploys fail often and are not retried: several hosts quarantined for one reason.
    sim2 = await startSimulator({ machines: FAILING, speed: SPEED, durations: { commission: 1200, deploy: 2400 }, seed: 7, faults: "deploy.fail=0.5" });
    const maas = new MaasClient({ url: sim2.url, apiKey: sim2.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    store2 = openStore(":memory:", { writeBehindMs: 50 });
    const config = parseConfig({
      layers: { enabled: false },
      rollout: { backoffMs: { base: 1, max: 5 }, budget: { perWave: "100%", total: "100%" }, maxAttempts: { commission: 1, deploy: 1, layer: 1, release: 1 } },
    });
    service2 = await startService({ store: store2, maas, maasStats: () => maas.stats(), config, logger: silentLogger(), token: TOKEN, port: 0, timeScale: SPEED, observerPollMs: 20, heartbeatMs: 1_000, defaultMetrics: false, maasUrl: sim2.url });
  }, 30_000);
  afterAll(async () => {
    await service2?.stop();
    store2?.close();
    await sim2?.close();
  });

  it("takes a #token= link in a tab already showing the page, out of the address and history", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${service2.url}/`);
      await page.waitForSelector("#login:not([hidden])");
      // Only the fragment changes: no reload, the page must notice.
      await page.evaluate((t) => ((globalThis as unknown as { location: { hash: string } }).location.hash = `token=${t}`), TOKEN);
      await page.waitForSelector('#conn[data-conn="live"]');
      expect(await page.isHidden("#login")).toBe(true);
      const where = () => page.evaluate(() => (globalThis as unknown as { location: { href: string } }).location.href);
      expect(await where()).toBe(`${service2.url}/`);
      // The history entry the link made holds the clean address too.
      await page.evaluate(() => (globalThis as unknown as { history: { back(): void } }).history.back());
      await page.waitForFunction(() => true);
      expect(await where()).not.toContain(TOKEN);
    } finally {
      await page.close();
    }
  }, 20_000);

  it("groups failures with one reason under a count, links each machine to MAAS, keeps the run time at the end, and draws retries and quarantine apart", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${service2.url}/#token=${TOKEN}`);
      await page.waitForSelector('#conn[data-conn="live"]');
      const started = await api2("POST", "/api/v1/rollouts");
      const id: string = started.json.rollout.id;
      await page.waitForSelector(`#cells[data-count="${FAILING}"]`);
      const done = await within("the rollout to end", async () => {
        const d = (await api2("GET", `/api/v1/rollouts/${id}`)).json;
        return d.rollout.state === "completed" && !d.rollout.live ? d : undefined;
      });
      const failures: { systemId: string; code: string; phase: string; outcome: string }[] = done.failures;
      const byReason = new Map<string, number>();
      for (const f of failures) byReason.set(`${f.outcome}/${f.phase}/${f.code}`, (byReason.get(`${f.outcome}/${f.phase}/${f.code}`) ?? 0) + 1);
      const biggest = Math.max(...byReason.values());
      expect(biggest).toBeGreaterThan(1);
      await page.waitForSelector('#rollout-state[data-state="completed"]');
      await page.waitForFunction((n) => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById("failure-count").textContent === String(n), failures.length);

      // One row per reason, with its count; the largest first.
      const rows = await page.$$eval("#failures tbody tr", (trs) => trs.map((tr) => Number((tr as unknown as { dataset: { count: string } }).dataset.count)));
      expect(rows).toEqual([...byReason.values()].sort((a, b) => b - a));
      expect(await page.textContent("#failures tbody tr:first-child summary")).toBe(`${biggest} hosts`);
      // Each machine links to its page in the MAAS UI.
      const hrefs = await page.$$eval("#failures a.maas-link", (as) => as.map((a) => (a as unknown as { href: string }).href));
      expect(hrefs.length).toBe(failures.length);
      for (const f of failures) expect(hrefs).toContain(`${sim2.url}/r/machine/${f.systemId}/summary`);

      // The run time stays once the run has ended (the rollout is read from the store then).
      expect(await page.textContent("#meta")).toMatch(/ this run/);

      // The "this wave" bar keeps a usable width beside its (long) text.
      const barWidth = await page.$eval('.budget-row[data-budget="wave"] .bar', (b) => (b as unknown as { getBoundingClientRect(): { width: number } }).getBoundingClientRect().width);
      expect(barWidth).toBeGreaterThan(100);

      // Releasing (a retry) and quarantined are far apart in colour.
      // A string, so the page (not the test's bundler) runs the import.
      const colours = (await page.evaluate("import('/dashboard.js').then((m) => m.PHASE_COLOURS)")) as Record<string, string>;
      expect(hueDistance(colours["releasing"]!, colours["quarantined"]!)).toBeGreaterThan(60);

      // A tooltip goes when the cells are regrouped.
      const box = (await page.$("#cells"))!;
      const rect = (await box.boundingBox())!;
      let shown = false;
      for (let y = 4; y < Math.min(rect.height, 80) && !shown; y += 6) {
        for (let x = 4; x < Math.min(rect.width, 200) && !shown; x += 6) {
          await page.mouse.move(rect.x + x, rect.y + y);
          shown = !(await page.isHidden("#tip"));
        }
      }
      expect(shown).toBe(true);
      // Grouped by wave, the first cells are wave 1's: the API counts waves from 1 and the page shows its number.
      expect(await page.textContent("#tip")).toMatch(/\nwave 1 · zone /);
      // A region recorded as not simulated (this service names none): no badge.
      expect(await page.isHidden("#rollout-region")).toBe(true);
      await page.selectOption("#group-by", "zone");
      expect(await page.isHidden("#tip")).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 40_000);

  async function api2(method: string, path: string): Promise<{ status: number; json: Json }> {
    const res = await fetch(service2.url + path, { method, headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.status, json: await res.json() };
  }
});

/** Hue difference in degrees (0–180) between two #rrggbb colours. */
function hueDistance(a: string, b: string): number {
  const hue = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
    const max = Math.max(r, g, bl);
    const d = max - Math.min(r, g, bl);
    if (d === 0) return 0;
    const h = max === r ? ((g - bl) / d) % 6 : max === g ? (bl - r) / d + 2 : (r - g) / d + 4;
    return (h * 60 + 360) % 360;
  };
  const diff = Math.abs(hue(a) - hue(b));
  return Math.min(diff, 360 - diff);
}
