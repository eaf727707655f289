import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LayerError } from "../../src/layers/index.ts";
import { startLayerFleet } from "./helpers.ts";
import type { LayerFleet } from "./helpers.ts";

describe("layer failures", () => {
  let lf: LayerFleet;
  beforeAll(async () => {
    // The bootstrap fails twice then works; sto-0003 can never join (exit 7).
    lf = await startLayerFleet({ faults: "fail=1:match=cluster bootstrap:first=2,fail@sto-0003=1:match=microceph cluster join:code=7" });
  });
  afterAll(async () => lf.f.close());

  it("retries a failing step, and a host that keeps failing is reported with command, exit code and output tail while the cluster forms without it", async () => {
    const r = await lf.layering().clusterBarrier("storage", lf.hosts.storage);
    const history = lf.history();
    expect(history.get("sto-0001")?.filter((c) => c.includes("cluster bootstrap")).length).toBe(3);

    expect(r.ready).toEqual(lf.hosts.storage.slice(0, 2).map((h) => h.systemId));
    expect(r.failed.map((f) => f.hostname)).toEqual(["sto-0003"]);
    const e = r.failed[0]?.error as LayerError;
    expect(e).toBeInstanceOf(LayerError);
    expect(e.code).toBe("LAYER_COMMAND_FAILED");
    expect(e.step).toBe("join");
    expect(e.attempts).toBe(3);
    expect(e.command).toBe("microceph cluster join [token]");
    expect(e.exitCode).toBe(7);
    expect(e.outputTail).toContain("simulated fault: command failed with status 7");
    expect(e.message).toContain("exit code 7");
    // The token never appears, though the failing command line carried it.
    expect(e.message).not.toMatch(/join [A-Za-z0-9+/=]{20,}/);
    expect(history.get("sto-0003")?.filter((c) => c.includes("cluster join")).length).toBe(3);

    // Pool size follows the machines that made it: min(2, 3).
    expect(Object.fromEntries(lf.f.hosts.cloud.ceph?.pools ?? [])).toEqual({ images: 2, volumes: 2, vms: 2 });
  });

  it("fails a per-host layer with LAYER_UNREACHABLE when the host key changed without a redeploy notice", async () => {
    const { MemoryKnownHosts } = await import("../../src/ssh/index.ts");
    const known = new MemoryKnownHosts();
    const h = lf.hosts.compute[0];
    if (!h) throw new Error("no compute host");
    await known.set(h.systemId, { pin: { algorithm: "ssh-ed25519", fingerprint: "SHA256:not-this-one", pinnedAt: "2025-01-01T00:00:00Z" }, expectNewKey: false });
    const layering = lf.layering({ ssh: lf.f.ssh({ knownHosts: known, unknownHosts: "refuse" }) });
    const e = await layering.clusterBarrier("juju-controller", [{ ...h, roles: ["juju-controller"] }]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LayerError);
    expect((e as LayerError).code).toBe("LAYER_UNREACHABLE");
    expect((e as LayerError).message).toContain("SSH_HOST_KEY_CHANGED");
  });
});
