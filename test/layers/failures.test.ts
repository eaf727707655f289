/**
 * Layer failures on the charm flow: a failing juju command is retried by its step; a host
 * whose part cannot be done fails alone and the cluster forms without it; a unit in error
 * fails that host's layering at once with the unit, its status and message in the error; a
 * unit blocked past its timeout fails it the same way (LAYER_NOT_READY); an unreachable host
 * fails with LAYER_UNREACHABLE.
 */
import { afterEach, describe, expect, it } from "vitest";
import { LayerError } from "../../src/layers/index.ts";
import type { SshPort } from "../../src/ssh/index.ts";
import { RewritingSsh } from "../fakes/ssh.ts";
import { FAST_JUJU, startLayerFleet } from "./helpers.ts";
import type { LayerFleet } from "./helpers.ts";

type Unit = { "workload-status"?: { current?: string; message?: string }; machine?: string };
type Status = { machines?: Record<string, { "dns-name"?: string }>; applications?: Record<string, { units?: Record<string, Unit> }> };

/** `juju status` of the machine model as a real controller would show it if the unit of `app` on the host at `address` were in `status`. */
function unitStatus(inner: SshPort, app: string, address: string, status: string, message: string): SshPort {
  return new RewritingSsh(inner, (command, r) => {
    if (!/juju status -m \S+:openstack-machines/.test(command) || r.exitCode !== 0) return r;
    const st = JSON.parse(r.stdout) as Status;
    const id = Object.entries(st.machines ?? {}).find(([, m]) => m["dns-name"] === address)?.[0];
    for (const u of Object.values(st.applications?.[app]?.units ?? {})) if (u.machine === id) u["workload-status"] = { current: status, message };
    return { ...r, stdout: `${JSON.stringify(st)}\n` };
  });
}

let lf: LayerFleet | undefined;
afterEach(async () => {
  await lf?.f.close();
  lf = undefined;
});

const fleet = [
  { prefix: "juju", count: 1, tags: ["juju-controller"] },
  { prefix: "sto", count: 3, tags: ["storage"] },
];

describe("layer failures on the charm flow", { timeout: 120_000 }, () => {
  it("retries a failing juju command; a storage host whose ceph-tagged disk is not free fails alone, named, and the cluster forms without it", async () => {
    // The first two add-unit commands fail (on the juju client machine, where every juju command runs).
    lf = await startLayerFleet({ ...FAST_JUJU, faults: "fail=1:match=juju add-unit:first=2" }, fleet);
    // sto-0003's root disk tagged ceph too: MicroCeph does not list it as free, and the reference fails such a host.
    const bad = lf.hosts.storage[2]!;
    const broken = { ...bad, cephDisks: [...bad.cephDisks, "/dev/disk/by-id/not-free"] };
    const layering = lf.layering();
    await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    const r = await layering.clusterBarrier("storage", [...lf.hosts.storage.slice(0, 2), broken]);
    const adds = lf.history().get("juju-0001")?.filter((c) => c.includes("juju add-unit")) ?? [];
    // Beyond the first host's deploys: sunbeam-machine and microceph on two more hosts, cinder-volume on the one good
    // host left (the broken one fails before it); and the two that failed, retried.
    expect(adds.length).toBe(2 + 2 + 1 + 2);
    expect(r.ready).toEqual(lf.hosts.storage.slice(0, 2).map((h) => h.systemId));
    expect(r.failed.map((f) => f.hostname)).toEqual([bad.hostname]);
    const e = r.failed[0]?.error as LayerError;
    expect(e).toBeInstanceOf(LayerError);
    expect(e.code).toBe("LAYER_PRECONDITION");
    expect(e.message).toContain("ceph-tagged disks neither OSDs nor unpartitioned");
    expect(e.message).toContain("/dev/disk/by-id/not-free");
    // Its good disks aside, the OSDs are those of the hosts that made it; pool size min(3 members, 3).
    expect(lf.f.hosts.cloud.ceph?.osds.filter((o) => o.hostname !== bad.hostname).map((o) => o.path).sort()).toEqual(lf.hosts.storage.slice(0, 2).flatMap((h) => h.cephDisks).sort());
  });

  it("a unit in error fails its host's layering at once, with the unit, its status and message", async () => {
    lf = await startLayerFleet(FAST_JUJU, fleet);
    const bad = lf.hosts.storage[1]!;
    const layering = lf.layering({ ssh: unitStatus(lf.f.ssh(), "microceph", bad.address, "error", 'hook failed: "install"') });
    await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    const r = await layering.clusterBarrier("storage", lf.hosts.storage);
    expect(r.failed.map((f) => f.hostname)).toEqual([bad.hostname]);
    const e = r.failed[0]?.error as LayerError;
    expect(e.code).toBe("LAYER_UNIT_ERROR");
    expect(e.unit).toEqual({ name: expect.stringMatching(/^microceph\/\d+$/) as string, status: "error", message: 'hook failed: "install"' });
    expect(e.message).toMatch(/unit microceph\/\d+ is error \(hook failed: "install"\)/);
    expect(r.ready).toHaveLength(2);
  });

  it("a unit still blocked at its timeout fails its host's layering with LAYER_NOT_READY naming the unit", async () => {
    lf = await startLayerFleet(FAST_JUJU, fleet);
    const bad = lf.hosts.storage[0]!;
    const layering = lf.layering({ unitTimeoutMs: 300, ssh: unitStatus(lf.f.ssh(), "microceph", bad.address, "blocked", "(ceph) integration missing") });
    await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    const r = await layering.clusterBarrier("storage", lf.hosts.storage);
    expect(r.failed.map((f) => f.hostname)).toEqual([bad.hostname]);
    const e = r.failed[0]?.error as LayerError;
    expect(e.code).toBe("LAYER_NOT_READY");
    expect(e.unit).toMatchObject({ status: "blocked", message: "(ceph) integration missing" });
  });

  it("fails with LAYER_UNREACHABLE when the host key changed without a redeploy notice", async () => {
    lf = await startLayerFleet(FAST_JUJU, fleet);
    const { MemoryKnownHosts } = await import("../../src/ssh/index.ts");
    const known = new MemoryKnownHosts();
    const h = lf.hosts.juju[0]!;
    await known.set(h.systemId, { pin: { algorithm: "ssh-ed25519", fingerprint: "SHA256:not-this-one", pinnedAt: "2025-01-01T00:00:00Z" }, expectNewKey: false });
    const layering = lf.layering({ ssh: lf.f.ssh({ knownHosts: known, unknownHosts: "refuse" }) });
    const e = await layering.clusterBarrier("juju-controller", [h]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LayerError);
    expect((e as LayerError).code).toBe("LAYER_UNREACHABLE");
    expect((e as LayerError).message).toContain("SSH_HOST_KEY_CHANGED");
  });
});
