import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig, resolveApiKey } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

function file(text: string, name = "c.yaml"): string {
  const dir = mkdtempSync(join(tmpdir(), "mw-config-"));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("configuration", () => {
  it("gives sensible defaults without a file", () => {
    const c = parseConfig({});
    expect(c.rollout.waves).toEqual([1, 10, "5%", "25%", "100%"]);
    expect(c.maas.maxInFlight).toBe(4);
    expect(c.store).toBe(".metalwave/metalwave.sqlite");
    expect(c.maas.url).toBeUndefined();
  });

  it("applies defaults < file < environment < flags", () => {
    const p = file("maas:\n  url: http://file:5240/MAAS\n  maxInFlight: 8\nrollout:\n  maxInFlight: 50\n");
    const fromFile = loadConfig({ file: p, env: {} });
    expect(fromFile.maas.url).toBe("http://file:5240/MAAS");
    expect(fromFile.maas.maxInFlight).toBe(8);
    expect(fromFile.rollout.maxInFlight).toBe(50);
    expect(fromFile.rollout.phaseCaps.deploying).toBe(200);
    const fromEnv = loadConfig({ file: p, env: { METALWAVE_MAAS_URL: "http://env:5240/MAAS" } });
    expect(fromEnv.maas.url).toBe("http://env:5240/MAAS");
    const fromFlags = loadConfig({ file: p, env: { METALWAVE_MAAS_URL: "http://env:5240/MAAS" }, flags: { maas: { url: "http://flag:5240/MAAS" } } });
    expect(fromFlags.maas.url).toBe("http://flag:5240/MAAS");
    expect(fromFlags.maas.maxInFlight).toBe(8);
  });

  it("names the file and the field path of a bad value", () => {
    const p = file('rollout:\n  waves: [1, "lots"]\n');
    expect(() => loadConfig({ file: p, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file: p, env: {} })).toThrow(new RegExp(`${p.replace(/[/.]/g, "\\$&")}: rollout\\.waves\\.1: `));
  });

  it("refuses unknown keys rather than ignoring a typo", () => {
    expect(() => parseConfig({ rollout: { maxInflight: 3 } }, "x.yaml")).toThrow(/x\.yaml: .*rollout.*maxInflight/);
  });

  it("says which file cannot be read or parsed", () => {
    expect(() => loadConfig({ file: "/nonexistent/metalwave.yaml", env: {} })).toThrow(/\/nonexistent\/metalwave\.yaml: cannot read the config file \(ENOENT\)/);
    expect(() => loadConfig({ file: file("a: [1,\n"), env: {} })).toThrow(/not valid YAML/);
  });

  it("takes the API key from the environment first, else the key file, and never puts it in an error", () => {
    const c = parseConfig({ maas: { apiKeyFile: file("ck:tk:secret-value\n", "k") } });
    expect(resolveApiKey(c, {})).toBe("ck:tk:secret-value");
    expect(resolveApiKey(c, { METALWAVE_MAAS_API_KEY: "a:b:c" })).toBe("a:b:c");
    const missing = parseConfig({ maas: { apiKeyFile: "/nonexistent/key" } });
    expect(() => resolveApiKey(missing, {})).toThrow(/maas\.apiKeyFile: cannot read the API key file \/nonexistent\/key/);
  });
});

describe("several regions (regions:)", () => {
  const east = { name: "east", url: "http://maas-east:5240/MAAS", apiKeyFile: "/etc/metalwave/east.key" };
  const west = { name: "west", url: "http://maas-west:5240/MAAS", apiKeyFile: "/etc/metalwave/west.key", maxInFlight: 8 };

  it("reads each region with its own request limits, defaults filled in", () => {
    const c = parseConfig({ regions: [east, west] });
    expect(c.regions?.map((r) => [r.name, r.maxInFlight, r.requestsPerSecond, r.timeoutMs])).toEqual([
      ["east", 4, 50, 30_000],
      ["west", 8, 50, 30_000],
    ]);
    expect(c.rollout.budget.perRegion).toBeUndefined();
  });

  it("keeps the single-region form as it was: no regions unless listed", () => {
    const c = parseConfig({ maas: { url: "http://maas:5240/MAAS", apiKeyFile: "/k" } });
    expect(c.regions).toBeUndefined();
    expect(c.maas.url).toBe("http://maas:5240/MAAS");
  });

  it("refuses two regions of the same name, naming the file and the entry", () => {
    const p = file(`regions:\n  - { name: east, url: "http://a:5240/MAAS", apiKeyFile: /a }\n  - { name: east, url: "http://b:5240/MAAS", apiKeyFile: /b }\n`);
    expect(() => loadConfig({ file: p, env: {} })).toThrow(new RegExp(`${p.replace(/[/.]/g, "\\$&")}: regions\\.1\\.name: "east" is already the name of regions\\.0`));
  });

  it("refuses regions with maas.url, a name that is not a DNS label, and a region without a key file", () => {
    expect(() => parseConfig({ regions: [east], maas: { url: "http://maas:5240/MAAS" } }, "s.yaml")).toThrow(/s\.yaml: maas\.url: regions and maas\.url exclude each other/);
    expect(() => parseConfig({ regions: [{ ...east, name: "East_1" }] }, "s.yaml")).toThrow(/s\.yaml: regions\.0\.name: a lower-case DNS label/);
    expect(() => parseConfig({ regions: [{ name: "east", url: east.url }] }, "s.yaml")).toThrow(/s\.yaml: regions\.0\.apiKeyFile/);
  });

  it("takes network layouts with several regions (each region's hosts are laid out on its own networks)", () => {
    expect(parseConfig({ regions: [east, west], network: { roleNetworks: { compute: ["data"] } } }).network?.roleNetworks).toEqual({ compute: ["data"] });
  });

  it("takes a per-region failure budget", () => {
    expect(parseConfig({ regions: [east, west], rollout: { budget: { perRegion: "10%" } } }).rollout.budget.perRegion).toBe("10%");
    expect(() => parseConfig({ rollout: { budget: { perRegion: "ten" } } }, "s.yaml")).toThrow(/rollout\.budget\.perRegion/);
  });
});
