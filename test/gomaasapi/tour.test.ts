// Juju's own MAAS client tours the simulator (test/gomaasapi/main.go on Debian's gomaasapi,
// built offline from Debian's GOPATH sources): strict parsing of every machine, the network
// objects, allocation by tags, zone, storage and spaces, deploy, release and error answers.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseFleet, startSimulator } from "../../src/sim/index.ts";
import type { SimHandle } from "../../src/sim/index.ts";

/** Debian's GOPATH for golang-github-juju-gomaasapi-dev (test/setup/system-deps.ts installs it). */
export const DEBIAN_GOPATH = "/usr/share/gocode";

function tourFleet() {
  return parseFleet(
    {
      classes: { node: { cpu_count: 16, memory_gib: 64, disks: [{ size_gb: 480, kind: "ssd" }, { size_gb: 960, kind: "ssd" }, { size_gb: 4000, kind: "hdd" }], nics: [{ count: 3, speed_mbps: 25000 }] } },
      zones: [{ name: "az1" }],
      groups: [
        { class: "node", count: 3, zone: "az1", hostname_prefix: "cmp", status: "ready", tags: ["compute"], fabrics: ["fabric-0", "public", "storage"] },
        ...(["new", "ready", "allocated", "deployed", "broken", "failed_deployment", "failed_commissioning"] as const).map((status) => ({ class: "node", count: 1, zone: "az1", hostname_prefix: status.replace("_", "-"), status })),
      ],
      networks: {
        spaces: [{ name: "internal" }, { name: "public" }, { name: "storage" }],
        fabrics: [
          { name: "fabric-0", vlans: [{ vid: 0, space: "internal", subnets: [{ cidr: "127.16.0.0/16", gateway_ip: "127.16.0.1" }] }] },
          { name: "public", vlans: [{ vid: 0, space: "public", subnets: [{ cidr: "127.17.0.0/24", gateway_ip: "127.17.0.1", ranges: [{ start: "127.17.0.200", end: "127.17.0.250", comment: "load balancers" }] }] }] },
          { name: "storage", vlans: [{ vid: 0 }, { vid: 30, space: "storage", subnets: [{ cidr: "127.18.0.0/24" }] }] },
        ],
      },
    },
    "tour fleet",
  );
}

describe("gomaasapi tours the simulator", () => {
  let sim: SimHandle;
  let binary: string;
  beforeAll(async () => {
    if (!existsSync(join(DEBIAN_GOPATH, "src/github.com/juju/gomaasapi"))) throw new Error(`gomaasapi is missing from ${DEBIAN_GOPATH}: run npm test (its pretest installs golang-github-juju-gomaasapi-dev)`);
    binary = join(mkdtempSync(join(tmpdir(), "metalwave-gomaasapi-")), "tour");
    // GOPATH mode, no network: everything comes from Debian's packaged sources.
    execFileSync("go", ["build", "-o", binary, "."], {
      cwd: import.meta.dirname,
      env: { ...process.env, GOPATH: DEBIAN_GOPATH, GO111MODULE: "off", GOFLAGS: "", GOPROXY: "off", GOCACHE: process.env.GOCACHE ?? join(tmpdir(), "metalwave-gocache") },
      stdio: "pipe",
    });
    sim = await startSimulator({ fleet: tourFleet(), zeroDuration: true, seed: 5 });
  }, 180_000);
  afterAll(async () => sim?.close());

  it("lists, allocates by tags, zone, storage and space, deploys, reads partitions and links, releases, and gets MAAS's errors", async () => {
    const out = await new Promise<string>((resolve, reject) => {
      import("node:child_process").then(({ execFile }) =>
        execFile(binary, [], { env: { ...process.env, MAAS_URL: sim.url, MAAS_KEY: sim.apiKey }, timeout: 60_000 }, (err, stdout, stderr) => {
          if (err && !stdout.includes("FAIL")) reject(new Error(`${err.message}\n${stderr}`));
          else resolve(stdout);
        }),
      );
    });
    expect(out.split("\n").filter((l) => l.startsWith("FAIL"))).toEqual([]);
    expect(out).toContain("ok spaces: [internal public storage undefined]");
    expect(out).toMatch(/ok machines: 10 in map\[Allocated:1 Broken:1 Deployed:1 Failed commissioning:1 Failed deployment:1 New:1 Ready:4\]/);
    expect(out).toMatch(/ok allocate: cmp-000\d \(Allocated\) root \d+ data \d+ pub eno2/);
    expect(out).toMatch(/ok interfaces: eno1 auto 127\.16\.\d+\.\d+ on 127\.16\.0\.0\/16 \(space internal\)/);
    expect(out).toContain("TOUR PASSED");
  }, 90_000);
});
