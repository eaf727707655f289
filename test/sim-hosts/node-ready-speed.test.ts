/**
 * A simulated Kubernetes node turns Ready at the region's speed, as the simulated Juju's
 * delays do: at once with zero durations, 50 ms at `metalwave start`'s speed 600, and never
 * later than HostFleet's own 1 s default (speed 1); a caller's `nodeReadyMs` wins.
 */
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import type { SimOptions } from "../../src/sim/index.ts";

async function readyAfter(opts: Omit<SimOptions, "machines">): Promise<number | undefined> {
  const sim = await startSimulator({ machines: 1, seed: 1, ...opts });
  try {
    return sim.hosts?.cloud.kube.readyAfterMs;
  } finally {
    await sim.close();
  }
}

describe("simulated node readiness", () => {
  it("follows the region's speed unless the caller sets nodeReadyMs", async () => {
    expect(await readyAfter({ zeroDuration: true, hosts: { sshPort: 0 } })).toBe(0);
    expect(await readyAfter({ speed: 600, hosts: { sshPort: 0 } })).toBe(50);
    expect(await readyAfter({ speed: 1, hosts: { sshPort: 0 } })).toBe(1000);
    expect(await readyAfter({ zeroDuration: true, hosts: { sshPort: 0, nodeReadyMs: 7 } })).toBe(7);
  });
});
