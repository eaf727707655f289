/**
 * No silent simulator: a command meant for a real MAAS region without a URL is a usage error
 * naming where the URL is given, whatever the environment holds (a mistyped variable
 * included); the embedded simulated region runs only when asked for by name, and then every
 * output says so.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { runCliHere } from "../runtime/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "mw-region-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** No URL anywhere: the real variable empty, a mistyped one set (the case). */
const NO_URL = { METALWAVE_MAAS_URL: "", METALWAVE_MAAS_URI: "http://maas.example:5240/MAAS", METALWAVE_API_TOKEN: "t0ken-for-serve-only" };

const small = join(dir, "small.yaml");
writeFileSync(small, ["simulator: { machines: 3, speed: 0 }", "layers: { enabled: false }", "rollout: { waves: [1, 100%], overrides: [COUNT_SHORT, ROLE_EMPTY] }", `store: "${join(dir, "store.sqlite")}"`].join("\n"));

describe("a command meant for a real region without a MAAS URL", () => {
  it.each([
    ["plan", ["plan"]],
    ["rollout", ["rollout", "--store", join(dir, "r.sqlite")]],
    ["serve", ["serve", "--listen", "127.0.0.1:0", "--store", join(dir, "s.sqlite")]],
    ["reprovision", ["reprovision", "node-1", "--store", join(dir, "p.sqlite")]],
    ["remediate", ["remediate", "--store", join(dir, "m.sqlite")]],
  ])("metalwave %s is a usage error naming the flag, the variable and the config field", async (name, args) => {
    const out = await runCliHere(args, NO_URL);
    expect(out.code, out.stderr).toBe(2);
    expect(out.stderr).toContain(`metalwave ${name}: no MAAS region given`);
    expect(out.stderr).toContain("--maas-url");
    expect(out.stderr).toContain("METALWAVE_MAAS_URL");
    expect(out.stderr).toContain("maas.url");
    // Nothing was planned or run on a made-up region.
    expect(out.stdout).toBe("");
    expect(out.stderr).not.toMatch(/simulated MAAS region started/);
  }, 30_000);

  it("--simulated and a MAAS URL exclude each other", async () => {
    const out = await runCliHere(["plan", "--simulated", "--maas-url", "http://maas.example:5240/MAAS"], NO_URL);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("exclude each other");
  }, 30_000);
});

describe("the embedded simulated region, asked for by name", () => {
  it("plan --simulated says simulated in its JSON and its text", async () => {
    const json = await runCliHere(["plan", "--simulated", "--config", small, "--json"], NO_URL);
    expect(json.code, json.stderr).toBe(0);
    const plan = JSON.parse(json.stdout) as { region: { simulated: boolean; url: string; note: string }; waves: unknown[] };
    expect(plan.region.simulated).toBe(true);
    expect(plan.region.note).toMatch(/simulated/);
    expect(plan.region.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/MAAS$/);
    const text = await runCliHere(["plan", "--simulated", "--config", small], NO_URL);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split("\n")[0]).toMatch(/^plan for the SIMULATED MAAS region/);
  }, 60_000);

  it("simulator.embedded in the config asks for it as --simulated does; rollout's JSON and text say simulated", async () => {
    const cfg = join(dir, "embedded.yaml");
    writeFileSync(cfg, ["simulator: { embedded: true, machines: 2, speed: 0 }", "layers: { enabled: false }", "rollout: { waves: [1, 100%], overrides: [COUNT_SHORT, ROLE_EMPTY] }", `store: "${join(dir, "embedded.sqlite")}"`].join("\n"));
    const out = await runCliHere(["rollout", "--config", cfg, "--json"], NO_URL);
    expect(out.code, out.stderr).toBe(0);
    const summary = JSON.parse(out.stdout) as { region: { simulated: boolean }; state: string; byOutcome: { inService: number } };
    expect(summary.region.simulated).toBe(true);
    expect(summary).toMatchObject({ state: "completed", byOutcome: { inService: 2 } });
    // The store recorded the region with the rollout: `status` (no region of its own) says simulated too.
    const status = await runCliHere(["status", "--store", join(dir, "embedded.sqlite"), "--json"], NO_URL);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { region: { simulated: boolean; url: string } }).region).toMatchObject({ simulated: true, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/MAAS$/) });
    expect((await runCliHere(["status", "--store", join(dir, "embedded.sqlite")], NO_URL)).stdout).toMatch(/\[SIMULATED\]: completed\n {2}region: SIMULATED MAAS region/);
    const text = await runCliHere(["rollout", "--simulated", "--config", small, "--store", join(dir, "text.sqlite")], NO_URL);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toMatch(/region: SIMULATED MAAS region/);
  }, 60_000);

  it("a region given by URL is reported as not simulated", async () => {
    const sim = await startSimulator({ machines: 3, seed: 7, zeroDuration: true });
    try {
      const keyFile = join(dir, "maas.key");
      writeFileSync(keyFile, sim.apiKey);
      const out = await runCliHere(["plan", "--maas-url", sim.url, "--api-key-file", keyFile, "--config", small, "--json"], NO_URL);
      expect(out.code, out.stderr).toBe(0);
      expect((JSON.parse(out.stdout) as { region: unknown }).region).toEqual({ simulated: false, url: sim.url });
    } finally {
      await sim.close();
    }
  }, 30_000);
});
