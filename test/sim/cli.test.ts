import { EventEmitter } from "node:events";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runSim } from "../../src/sim/cli.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("metalwave sim", () => {
  it("prints help", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    expect(await runSim(["--help"])).toBe(0);
    expect(log.mock.calls[0]?.[0]).toMatch(/Usage: metalwave sim/);
  });

  it("refuses a bad faults spec with a message naming the item", async () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runSim(["--port", "0", "--faults", "deploy.fail=oops"])).toBe(1);
    expect(err.mock.calls[0]?.[0]).toMatch(/faults item 'deploy.fail=oops'/);
  });

  it("refuses unknown options", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runSim(["--colour", "red"])).toBe(2);
  });

  it("serves until SIGTERM, prints the URL and key, and writes the key file with mode 0600", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((s: string) => void lines.push(s));
    const dir = mkdtempSync(join(tmpdir(), "mw-sim-"));
    const keyFile = join(dir, "maas.key");
    const signals = new EventEmitter();
    const running = runSim(["--port", "0", "--machines", "3", "--seed", "7", "--speed", "600", "--key-file", keyFile], signals);
    await vi.waitFor(() => expect(lines.some((l) => l.startsWith("API key:"))).toBe(true));
    const url = /MAAS simulator: (\S+)/.exec(lines.join("\n"))?.[1];
    const key = readFileSync(keyFile, "utf8").trim();
    expect(lines).toContain(`API key: ${key}`);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const r = await fetch(`${url}/api/2.0/version/`);
    expect(r.status).toBe(200);
    signals.emit("SIGTERM");
    expect(await running).toBe(0);
    await expect(fetch(`${url}/api/2.0/version/`)).rejects.toThrow();
  });
});
