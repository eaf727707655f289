/**
 * The package installs as operators install such tools: `npm pack` builds it (prepack:
 * `npm run emit`, tsc to dist/ with the imports rewritten to .js, without the type check
 * `npm test` has done already) and ships no tests or CI files, and
 * `npm install -g` of the tarball into an empty prefix gives a `metalwave` that runs on
 * Node 24 from the built JavaScript (never the TypeScript sources, which Node refuses to
 * strip under node_modules). One test: packing and installing take a while.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
const dir = mkdtempSync(join(tmpdir(), "mw-package-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }), 120_000);

describe("the npm package", () => {
  it("packs without tests or CI files, installs with npm -g into an empty prefix, and its metalwave runs on Node 24", () => {
    // Node 24 (the repository's, node_modules/.bin/node) first on PATH, as on an operator's machine with Node 24.
    const nodeBin = dirname(process.execPath);
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(24);
    const env = { ...process.env, PATH: `${nodeBin}:${process.env["PATH"] ?? ""}`, npm_config_loglevel: "error", npm_config_fund: "false", npm_config_audit: "false", npm_config_update_notifier: "false" };
    const npm = (args: string[], cwd: string) => execFileSync("npm", args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

    const packed = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], REPO)) as { filename: string; files: { path: string; mode: number }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files.filter((f) => /^(test|\.ci|src|state-machines)\//.test(f))).toEqual([]);
    expect(files).toContain("bin/metalwave.js");
    expect(files).toContain("dist/src/cli/main.js");
    expect(files).toContain("dist/templates/cloud-init/user-data.yaml");
    expect(files.some((f) => f.endsWith(".ts"))).toBe(false);
    // The built JavaScript imports .js files: the rewrite of relative .ts imports happened.
    expect(readFileSync(join(REPO, "dist/src/cli/main.js"), "utf8")).toMatch(/from "\.\/rollout\.js"/);

    const prefix = join(dir, "prefix");
    // --ignore-scripts: the only install scripts in the tree are ssh2's and cpu-features'
    // optional native builds (node-gyp compiling C++, most of this test's time on a loaded
    // machine). Neither can fail an install: ssh2's install.js exits 0 when its build fails
    // (it falls back to its JavaScript crypto) and cpu-features is an optionalDependency of
    // ssh2. metalwave itself has no install script (prepack runs at pack time, above).
    expect(Object.keys((JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts).filter((k) => /install|prepare/.test(k))).toEqual([]);
    npm(["install", "-g", "--prefix", prefix, "--prefer-offline", "--ignore-scripts", join(dir, packed[0]!.filename)], dir);
    const metalwave = join(prefix, "bin", "metalwave");
    expect(existsSync(metalwave)).toBe(true);
    expect(existsSync(join(prefix, "lib/node_modules/metalwave/test"))).toBe(false);

    const run = (args: string[]) => spawnSync(metalwave, args, { cwd: dir, env: { ...env, METALWAVE_MAAS_URL: "" }, encoding: "utf8", timeout: 300_000 });
    const version = run(["--version"]);
    expect({ status: version.status, stdout: version.stdout, stderr: version.stderr }).toEqual({ status: 0, stdout: `${pkg.version}\n`, stderr: "" });
    const start = run(["start", "--machines", "10", "--speed", "0", "--json"]);
    expect(start.status, start.stderr.slice(-3000)).toBe(0);
    const summary = JSON.parse(start.stdout) as { region: { simulated: boolean }; state: string; byOutcome: { inService: number }; cloud?: unknown };
    expect(summary).toMatchObject({ region: { simulated: true }, state: "completed", byOutcome: { inService: 10 } });
    // The layers' templates came from the package (dist/templates): the cloud was layered.
    expect(summary.cloud).toBeDefined();
  }, 900_000);
});
