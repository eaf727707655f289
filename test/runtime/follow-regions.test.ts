/**
 * The runner follows each region's availability (src/runtime/regions.ts followRegions): a
 * region found down before it started following (during a run's first reads) is journaled
 * and told to the rollout machine at once, not only on its next change; a region that
 * answers is not; and it is told once it is back.
 */
import { describe, expect, it } from "vitest";
import { MaasError } from "../../src/maas/errors.ts";
import { RegionLink } from "../../src/maas/region-link.ts";
import { RegionsMaas } from "../../src/maas/regions.ts";
import type { MaasPort } from "../../src/maas/port.ts";
import { FakeMaas } from "../fakes/maas.ts";
import { until } from "../fakes/until.ts";
import { followRegions } from "../../src/runtime/regions.ts";
import type { RolloutEvent } from "../../state-machines/rollout.ts";
import { silentLogger } from "../../src/log.ts";

function region(state: { away: boolean }): MaasPort {
  const refused = () => new MaasError("MAAS_NETWORK", "cannot reach MAAS (ECONNREFUSED)", { operation: "version" });
  const port = new FakeMaas().add({ system_id: "abc" }) satisfies MaasPort;
  port.before = () => {
    if (state.away) throw refused();
  };
  return port;
}

describe("followRegions", () => {
  it("tells of a region already down when it starts following, then of its return", async () => {
    const east = { away: false };
    const west = { away: true };
    const links = [new RegionLink({ name: "east", port: region(east), probeIntervalMs: 5 }), new RegionLink({ name: "west", port: region(west), probeIntervalMs: 5 })];
    const maas = new RegionsMaas(links);
    // A first read finds west away (as a resume's status reads would) before anything follows.
    const held = maas.readMachine("west/abc");
    await until("west found away", () => !links[1]!.isUp, { limitMs: 5_000 });

    const journaled: Record<string, unknown>[] = [];
    const sent: RolloutEvent[] = [];
    const stop = followRegions(maas, { journal: (d) => journaled.push(d), send: (e) => sent.push(e), changed: () => undefined }, silentLogger());
    expect(sent).toEqual([{ type: "REGION_DOWN", region: "west" }]);
    expect(journaled).toMatchObject([{ event: "regionDown", region: "west", reason: expect.stringContaining("ECONNREFUSED") }]);

    west.away = false;
    await expect(held).resolves.toMatchObject({ system_id: "west/abc" });
    expect(sent).toEqual([{ type: "REGION_DOWN", region: "west" }, { type: "REGION_UP", region: "west" }]);
    stop();
    for (const l of links) l.close();
  });
});
