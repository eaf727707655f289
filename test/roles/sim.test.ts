import { afterEach, describe, expect, it } from "vitest";
import { MaasClient } from "../../src/maas/client.ts";
import { planRoles } from "../../src/roles/plan.ts";
import { defaultRolesConfig } from "../../src/roles/schema.ts";
import { syncTags } from "../../src/roles/sync.ts";
import type { RolePlan } from "../../src/roles/types.ts";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("roles against the simulated region", () => {
  it("plans from real MAAS JSON, syncs through the HTTP client, and a second plan has nothing to do", async () => {
    sim = await startSimulator({ fleet: new URL("../../machines/fleet-mixed-50.yaml", import.meta.url).pathname, zeroDuration: true, seed: 7 });
    const maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
    const user = (await maas.whoami()).username;
    const planNow = async (): Promise<RolePlan> =>
      planRoles({ machines: await maas.listMachines(), tags: await maas.listTags(), config: defaultRolesConfig(), deployment: "cloud", maasUser: user });

    const plan = await planNow();
    // The broken machine is not claimed; everything else is.
    expect(plan.claimed).toHaveLength(49);
    expect(plan.byRole.storage?.count).toBeGreaterThanOrEqual(3);
    expect(plan.byRole.control?.count).toBe(3);
    expect(Object.keys(plan.byRole.control?.zones ?? {})).toHaveLength(3);

    const r = await syncTags(maas, plan);
    expect(r.updateCalls).toBe(plan.tagChanges.length);
    const storageHost = plan.byRole.storage?.zones["zone-3"]?.[0];
    const m = await maas.readMachine(storageHost?.systemId ?? "");
    expect(m.tag_names).toEqual(expect.arrayContaining(["metalwave-cloud", "storage"]));
    expect(m.physicalblockdevice_set.filter((d) => d.tags.includes("ceph"))).toHaveLength(10);

    const again = await planNow();
    expect(again.tagChanges).toEqual([]);
    expect(again.blockDeviceTags).toEqual([]);
    expect(await syncTags(maas, again)).toEqual({ created: [], updateCalls: 0, blockDeviceCalls: 0 });
  });

});
