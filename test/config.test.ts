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
