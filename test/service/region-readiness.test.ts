/**
 * Readiness over several regions: one region away does not make the service unready (a run
 * goes on in the others): `/readyz` stays 200 and names the region in `checks.maas.regions`,
 * `metalwave_maas_up` stays 1 and `metalwave_region_up` is 0 for that region only; with
 * every region away the service is not ready. Two embedded simulated regions (src/cli/regions.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSite, type Site } from "../../src/cli/regions.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { startService, type ServiceHandle } from "../../src/service/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { TOKEN } from "./helpers.ts";

const config = parseConfig({ layers: { enabled: false }, simulator: { regions: 2, machines: 2, speed: 0 } });

let site: Site;
let store: Store;
let service: ServiceHandle;
beforeAll(async () => {
  site = await openSite(config, { command: "serve", simulated: true, logger: silentLogger() });
  store = openStore(":memory:");
  // readyProbeMs 50: a /readyz after a region goes away soon gets a probe made after it (`settled`).
  service = await startService({ store, maas: site.maas, maasStats: site.stats, probeMaas: site.probe, readyProbeMs: 50, config, logger: silentLogger(), token: TOKEN, port: 0, defaultMetrics: false });
}, 30_000);
afterAll(async () => {
  await service?.stop();
  store?.close();
  await site?.close();
});

type Ready = { status: string; unreachable: string[]; checks: { maas: { ok: boolean; regions?: { region: string; ok: boolean; error?: { code: string; message?: string } }[] } } };
const ready = async (token: string | null): Promise<{ status: number; body: Ready }> => {
  const res = await fetch(`${service.url}/readyz`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: (await res.json()) as Ready };
};
/** The /readyz answer once it is from a probe made after the change: the first that `done` accepts. */
const settled = async (done: (r: { status: number; body: Ready }) => boolean, token: string | null = null): Promise<{ status: number; body: Ready }> => {
  const end = Date.now() + 20_000;
  for (;;) {
    const r = await ready(token);
    if (done(r) || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
};
const metrics = async () => (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();

describe("readiness over two regions", () => {
  it("is ready with both answering, each region up", async () => {
    const r = await ready(null);
    expect(r.status).toBe(200);
    expect(r.body.checks.maas.regions).toEqual([
      { region: "r1", ok: true },
      { region: "r2", ok: true },
    ]);
    const m = await metrics();
    expect(m).toMatch(/^metalwave_maas_up 1$/m);
    expect(m).toMatch(/^metalwave_region_up\{region="r2"\} 1$/m);
  });

  it("stays ready with one region away, naming it (its error's words only with the token), and that region alone is down in the metrics", async () => {
    await site.sims.get("r2")!.goAway();
    try {
      const anon = await settled((r) => r.body.checks.maas.regions?.[1]?.ok === false);
      expect(anon.status).toBe(200);
      expect(anon.body).toMatchObject({ status: "ready", unreachable: [], checks: { maas: { ok: true } } });
      expect(anon.body.checks.maas.regions).toEqual([
        { region: "r1", ok: true },
        { region: "r2", ok: false, error: { code: "MAAS_NETWORK" } },
      ]);
      const authed = await ready(TOKEN);
      expect(authed.body.checks.maas.regions?.[1]?.error?.message).toMatch(/cannot reach MAAS/);
      const m = await metrics();
      expect(m).toMatch(/^metalwave_maas_up 1$/m);
      expect(m).toMatch(/^metalwave_region_up\{region="r1"\} 1$/m);
      expect(m).toMatch(/^metalwave_region_up\{region="r2"\} 0$/m);

      // Every region away: not ready, and MAAS is down.
      await site.sims.get("r1")!.goAway();
      try {
        const none = await settled((r) => r.status === 503);
        expect(none.status).toBe(503);
        expect(none.body).toMatchObject({ status: "not ready", unreachable: ["maas"], checks: { maas: { ok: false } } });
        expect(await metrics()).toMatch(/^metalwave_maas_up 0$/m);
      } finally {
        await site.sims.get("r1")!.comeBack();
      }
    } finally {
      await site.sims.get("r2")!.comeBack();
    }
    expect((await settled((r) => r.body.checks.maas.regions?.every((a) => a.ok) === true)).status).toBe(200);
  }, 60_000);
});
