/**
 * Layer 1, the Juju controller (templates/layers/juju-controller.yaml): `juju bootstrap
 * manual/ubuntu@ADDR` on the first juju-controller machine (the Juju client lives there),
 * the other controller machines enlisted into the controller model by manual provisioning,
 * and HA from three machines, waited on (juju-layering.md §2a#2-3, §4e):
 * `show-controller` lists only the machines that want a vote, so membership is read from
 * `juju machines` (matched by address: the bootstrap machine's instance id is `manual:`);
 * `enable-ha` returns at once, so the new votes are waited on with consecutive reads; below
 * three machines HA is not asked for (Sunbeam's HA step skips), and a later controller host
 * re-runs this barrier, which asks for it then.
 */
import type { Logger } from "pino";
import type { HostFailure, LayerHost } from "./host.ts";
import type { Lane } from "./lane.ts";
import type { LayerTemplate } from "./render.ts";
import { waitUntil, type WaitOptions } from "./waits.ts";

interface ShowController {
  [name: string]: { "controller-machines"?: Record<string, { "instance-id"?: string; "ha-status"?: string }> };
}

interface JujuMachines {
  machines?: Record<string, { "dns-name"?: string; "ip-addresses"?: string[] }>;
}

export interface ControllerDeps {
  lane: Lane;
  tpl: LayerTemplate<"juju-controller">;
  logger: Logger;
  waitOptions: (lane: Lane, layer: string, step: string, host: LayerHost, timeoutMs: number) => WaitOptions;
  haTimeoutMs: number;
  eachHost: (hosts: readonly LayerHost[], fn: (h: LayerHost) => Promise<void>) => Promise<{ ok: LayerHost[]; failed: HostFailure[] }>;
  sequential: (hosts: readonly LayerHost[], fn: (h: LayerHost) => Promise<void>) => Promise<{ ok: LayerHost[]; failed: HostFailure[] }>;
}

/** Forms (or re-checks) the controller over `first` and `others`; the members that made it. */
export async function formController(d: ControllerDeps, first: LayerHost, others: readonly LayerHost[]): Promise<{ members: LayerHost[]; failed: HostFailure[] }> {
  const { lane, tpl } = d;
  await lane.steps.ensure(first, tpl, "install", {});
  await lane.steps.ensure(first, tpl, "bootstrap", { address: first.address });
  const machines = async () => {
    const j = await lane.steps.queryJson<JujuMachines>(first, tpl, "machines", {});
    return Object.entries(j.machines ?? {}).map(([id, m]) => ({ id, addresses: [m["dns-name"], ...(m["ip-addresses"] ?? [])].filter((a): a is string => typeof a === "string") }));
  };
  const voters = async () => {
    const j = await lane.steps.queryJson<ShowController>(first, tpl, "showController", {});
    const entry = Object.values(j)[0];
    return Object.entries(entry?.["controller-machines"] ?? {}).filter(([, m]) => m["ha-status"] === "ha-enabled").map(([id]) => id);
  };
  const installed = await d.eachHost(others, (h) => lane.steps.ensure(h, tpl, "install", {}).then(() => undefined));
  // One at a time: failures stay attributable to their host.
  const added = await d.sequential(installed.ok, async (h) => {
    await lane.steps.ensure(first, tpl, "addMachine", { address: h.address }, { satisfied: async () => (await machines()).some((m) => m.addresses.includes(h.address)) });
  });
  const members = [first, ...added.ok];
  const failed = [...installed.failed, ...added.failed];
  if (members.length >= 3) {
    const n = Math.min(7, members.length % 2 === 1 ? members.length : members.length - 1);
    const ms = await machines();
    const to = ms.filter((m) => m.id !== "0" && members.some((h) => m.addresses.includes(h.address))).slice(0, n - 1).map((m) => m.id);
    await lane.steps.ensure(first, tpl, "enableHa", { count: n, to: to.join(",") }, {
      satisfied: async () => (await voters()).length >= n,
      act: async () => {
        await lane.steps.run(first, tpl, "enableHa", { count: n, to: to.join(",") });
        await waitUntil(async () => {
          const v = await voters();
          return { ok: v.length >= n, detail: `${v.length} of ${n} controller machines have a vote` };
        }, d.waitOptions(lane, tpl.layer, "haVotes", first, d.haTimeoutMs));
      },
    });
  } else {
    d.logger.info({ controllers: members.length }, `juju controller on ${members.length} machine${members.length === 1 ? "" : "s"}: HA is enabled once three controller machines are in`);
  }
  return { members, failed };
}
