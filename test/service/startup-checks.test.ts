/**
 * `metalwave serve` stops at start on what would only fail later: bad configuration
 * exits 2 naming the field (the unit's RestartPreventExitStatus=2), a taken port names
 * the address; `/readyz` says what is unreachable; a MAAS URL without /MAAS gets the fix.
 */
import { createServer, type AddressInfo, type Server } from "node:net";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MaasClient } from "../../src/maas/client.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { openStore } from "../../src/store/index.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { checkServeConfig, startService, type ServiceHandle } from "../../src/service/index.ts";
import { runCli } from "../runtime/cli.ts";
import { harness, TOKEN, type Harness } from "./helpers.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "metalwave-startup-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A config file of its own per case, with its store in the temporary directory. */
function configFile(name: string, extra: object): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ store: join(dir, `${name}.sqlite`), ...extra }));
  return file;
}

// A region that is never reached: each case stops before any MAAS call.
const REGION = { METALWAVE_MAAS_URL: "http://127.0.0.1:9/MAAS", METALWAVE_MAAS_API_KEY: "ck:tk:ts", METALWAVE_API_TOKEN: TOKEN };

describe("metalwave serve at start", () => {
  it("exits 2 naming ssh.privateKeyFile when a real region is layered without metalwave's key", async () => {
    const r = await runCli(["serve", "--listen", "127.0.0.1:0", "--config", configFile("nokey", {})], REGION);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ssh.privateKeyFile: layering reaches deployed machines over SSH");
    expect(r.stderr).toContain("[CONFIG_INVALID]");
    expect(r.stderr).not.toContain("listening");
  }, 30_000);

  it("refuses an unreadable or unusable ssh.privateKeyFile, naming the field and the file", () => {
    const missing = join(dir, "no-such-file");
    const withKey = (file: string) => parseConfig({ ssh: { privateKeyFile: file } });
    expect(() => checkServeConfig(withKey(missing), { embeddedRegion: false })).toThrow(`ssh.privateKeyFile: cannot read ${missing}: ENOENT`);
    const notAKey = join(dir, "not-a-key");
    writeFileSync(notAKey, "hello\n");
    expect(() => checkServeConfig(withKey(notAKey), { embeddedRegion: false })).toThrow("ssh.privateKeyFile: not a private key");
    // The embedded region makes its own key; without layers none is needed.
    expect(() => checkServeConfig(parseConfig({}), { embeddedRegion: true })).not.toThrow();
    expect(() => checkServeConfig(parseConfig({ layers: { enabled: false } }), { embeddedRegion: false })).not.toThrow();
  });

  it("names the address when the port is taken, and says it is in use (not [INTERNAL])", async () => {
    const blocker: Server = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await runCli(["serve", "--listen", `127.0.0.1:${port}`, "--config", configFile("taken", { layers: { enabled: false } })], REGION);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port} (--listen): the address is already in use`);
      expect(r.stderr).toContain("[LISTEN_FAILED]");
      expect(r.stderr).not.toContain("INTERNAL");
    } finally {
      blocker.close();
      await once(blocker, "close");
    }
  }, 30_000);
});

describe("GET /readyz", () => {
  let h: Harness;
  let down: ServiceHandle | undefined;
  beforeAll(async () => {
    h = await harness({ machines: 2 });
  });
  afterEach(async () => {
    await down?.stop();
    down = undefined;
  });
  afterAll(async () => {
    await h.close();
  });

  it("is 200 ready with MAAS reachable, and metalwave_maas_up is 1", async () => {
    const r = await h.api("GET", "/readyz", { token: null });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: "ready", unreachable: [], checks: { maas: { ok: true } } });
    const m = await h.api("GET", "/metrics");
    expect(m.text).toMatch(/^metalwave_maas_up 1$/m);
  });

  it("is 503 naming MAAS as unreachable (its error only with the token), and metalwave_maas_up is 0", async () => {
    const store = openStore(":memory:");
    const maas = new MaasClient({ url: "http://127.0.0.1:9/MAAS", apiKey: "ck:tk:ts", retry: { attempts: 1 }, timeoutMs: 2_000 });
    down = await startService({ store, maas, maasStats: () => maas.stats(), config: parseConfig({ layers: { enabled: false } }), logger: silentLogger(), token: TOKEN, port: 0, defaultMetrics: false });
    const bare = await fetch(`${down.url}/readyz`);
    const anon = (await bare.json()) as { status: string; unreachable: string[]; checks: { maas: { ok: boolean; error: { code: string; message?: string } } } };
    expect(bare.status).toBe(503);
    expect(anon).toMatchObject({ status: "not ready", unreachable: ["maas"], checks: { maas: { ok: false, error: { code: "MAAS_NETWORK" } } } });
    expect(anon.checks.maas.error.message).toBeUndefined();
    const authed = (await (await fetch(`${down.url}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as typeof anon;
    expect(authed.checks.maas.error.message).toContain("cannot reach MAAS at http://127.0.0.1:9/MAAS/api/2.0/");
    // Liveness is not readiness: the process answers.
    expect((await fetch(`${down.url}/healthz`)).status).toBe(200);
    const m = await (await fetch(`${down.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(m).toMatch(/^metalwave_maas_up 0$/m);
  }, 30_000);
});

describe("a MAAS URL without /MAAS", () => {
  let sim: SimHandle;
  beforeAll(async () => {
    sim = await startSimulator({ machines: 1, zeroDuration: true });
  });
  afterAll(async () => sim.close());

  it("gets a not-found naming the URL and the likely fix", async () => {
    const bare = sim.url.replace(/\/MAAS$/, "");
    const maas = new MaasClient({ url: bare, apiKey: sim.apiKey, retry: { attempts: 1 } });
    await expect(maas.listZones()).rejects.toMatchObject({
      code: "MAAS_NOT_FOUND",
      message: expect.stringContaining(`at ${bare}/api/2.0/: the MAAS URL usually ends in /MAAS (try ${bare}/MAAS;`),
    });
    // With /MAAS the same call works.
    await expect(new MaasClient({ url: sim.url, apiKey: sim.apiKey }).listZones()).resolves.toBeInstanceOf(Array);
  });
});
