// A small deployed fleet (3 juju, 3 control, 3 storage, 4 compute) with ceph-tagged
// disks, on the strict simulated Juju, and a layering engine over it, for the end-to-end
// layer tests. Juju's own delays are 0 ms here: the waits' consecutive reads still apply.
import { silentLogger } from "../../src/log.ts";
import { createLayering, hostFromMachine } from "../../src/layers/index.ts";
import type { Layering, LayeringOptions, LayerHost } from "../../src/layers/index.ts";
import type { HostFleetOptions } from "../../src/sim/index.ts";
import { startTestFleet } from "../sim-hosts/helpers.ts";
import type { TestFleet } from "../sim-hosts/helpers.ts";

export interface LayerFleet {
  f: TestFleet;
  hosts: { juju: LayerHost[]; control: LayerHost[]; storage: LayerHost[]; compute: LayerHost[] };
  layering(over?: Partial<LayeringOptions>): Layering;
  /** Every command run on every simulated host, in order per host. */
  history(): Map<string, string[]>;
}

export const ROLE_GROUPS = [
  { prefix: "juju", count: 3, tags: ["juju-controller"] },
  { prefix: "ctl", count: 3, tags: ["control"] },
  { prefix: "sto", count: 3, tags: ["storage"] },
  { prefix: "cmp", count: 4, tags: ["compute"] },
];

/** The load balancer's pool: a reserved range on the simulated region's loopback subnet. */
export const LB_CIDRS = ["127.254.0.1-127.254.0.62"];

/** Fast, timer-free waits: the simulated readiness never depends on wall time beyond a 0 ms timer. */
export const tick = () => new Promise<void>((r) => setTimeout(r, 0));

/** Juju's simulated delays at 0: units settle at once (the waits still need consecutive reads). */
export const FAST_JUJU: HostFleetOptions = { juju: { timings: { machineStartMs: 0, unitSettleMs: 0, haVoteMs: 0 } } };

export async function startLayerFleet(hostOpts: HostFleetOptions = FAST_JUJU, groups = ROLE_GROUPS): Promise<LayerFleet> {
  const f = await startTestFleet(groups, hostOpts);
  const all = Object.values(f.ids).flat();
  // Tag the two data disks of each storage machine `ceph`, as role assignment would.
  for (const sid of f.ids["sto"] ?? []) {
    const m = f.sim.region.get(sid);
    for (const slot of [1, 2]) await f.maas.addBlockDeviceTag(sid, m.index * 16 + slot + 1, "ceph");
  }
  await f.deploy(all);
  const read = async (prefix: string, role: string) => Promise.all((f.ids[prefix] ?? []).map(async (sid) => hostFromMachine(await f.maas.readMachine(sid), [role])));
  const hosts = { juju: await read("juju", "juju-controller"), control: await read("ctl", "control"), storage: await read("sto", "storage"), compute: await read("cmp", "compute") };
  return {
    f,
    hosts,
    layering: (over = {}) => createLayering({ ssh: f.ssh(), logger: silentLogger(), policy: { attempts: 3, backoffMs: 0, commandTimeoutMs: 5000 }, pollMs: 0, sleep: tick, loadBalancerCidrs: async () => LB_CIDRS, ...over }),
    history: () => new Map([...f.hosts.cloud.hosts.values()].map((h) => [h.hostname, [...h.history]])),
  };
}
