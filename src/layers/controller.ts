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
 *
 * Its changes (bootstrap, add-machine, enable-ha) are journaled ahead (juju-journal.ts); an
 * intent the earlier run left open is reconciled here before anything is sent: the bootstrap
 * when `show-controller` answers (the step's check), then a machine with the
 * host's address is in the controller model (add-machine took effect), `show-controller` lists
 * the machines enable-ha was asked for (it took effect; their votes may still be coming).
 * enable-ha is sent only while fewer machines than asked for want a vote, and its votes are
 * waited on whether this run or the earlier one sent it.
 */
import type { Logger } from "pino";
import type { HostFailure, LayerHost } from "./host.ts";
import type { JujuChangeLog } from "./juju-journal.ts";
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
  changes: JujuChangeLog;
}

/** Forms (or re-checks) the controller over `first` and `others`; the members that made it. */
export async function formController(d: ControllerDeps, first: LayerHost, others: readonly LayerHost[]): Promise<{ members: LayerHost[]; failed: HostFailure[] }> {
  const { lane, tpl } = d;
  await lane.steps.ensure(first, tpl, "install", {});
  const host = { systemId: first.systemId, hostname: first.hostname };
  // A bootstrap the earlier run sent: done when the controller answers (the step's own check).
  await d.changes.reconcile((c) => c.op === "bootstrap", () => lane.steps.check(first, tpl, "bootstrap", { address: first.address }));
  await lane.steps.ensure(first, tpl, "bootstrap", { address: first.address }, {
    act: async () => {
      await d.changes.change({ op: "bootstrap", model: "controller", target: { address: first.address }, host }, () => lane.steps.run(first, tpl, "bootstrap", { address: first.address }));
    },
  });
  const machines = async () => {
    const j = await lane.steps.queryJson<JujuMachines>(first, tpl, "machines", {});
    return Object.entries(j.machines ?? {}).map(([id, m]) => ({ id, addresses: [m["dns-name"], ...(m["ip-addresses"] ?? [])].filter((a): a is string => typeof a === "string") }));
  };
  // The machines that want a vote (show-controller lists no other), and those of them that have it.
  const wanting = async () => {
    const j = await lane.steps.queryJson<ShowController>(first, tpl, "showController", {});
    return Object.entries(Object.values(j)[0]?.["controller-machines"] ?? {}).map(([id, m]) => ({ id, voting: m["ha-status"] === "ha-enabled" }));
  };
  const voters = async () => (await wanting()).filter((m) => m.voting).map((m) => m.id);
  const inModel = async (address: string) => (await machines()).some((m) => m.addresses.includes(address));
  await d.changes.reconcile(
    (c) => c.op === "controllerAddMachine" || c.op === "enableHa",
    async (c) => (c.op === "enableHa" ? (await wanting()).length >= Number(c.target["count"]) : inModel(String(c.target["address"]))),
  );
  const installed = await d.eachHost(others, (h) => lane.steps.ensure(h, tpl, "install", {}).then(() => undefined));
  // One at a time: failures stay attributable to their host.
  const added = await d.sequential(installed.ok, async (h) => {
    await lane.steps.ensure(first, tpl, "addMachine", { address: h.address }, {
      satisfied: () => inModel(h.address),
      act: async () => {
        await d.changes.change({ op: "controllerAddMachine", model: "controller", target: { address: h.address }, host: { systemId: h.systemId, hostname: h.hostname } }, () => lane.steps.run(first, tpl, "addMachine", { address: h.address }));
      },
    });
  });
  const members = [first, ...added.ok];
  const failed = [...installed.failed, ...added.failed];
  if (members.length >= 3) {
    const n = Math.min(7, members.length % 2 === 1 ? members.length : members.length - 1);
    const ms = await machines();
    const to = ms.filter((m) => m.id !== "0" && members.some((h) => m.addresses.includes(h.address))).slice(0, n - 1).map((m) => m.id);
    if ((await voters()).length < n) {
      // Asked for once: machines that already want a vote (this run's or the earlier run's enable-ha) are waited on, not asked again.
      await lane.steps.ensure(first, tpl, "enableHa", { count: n, to: to.join(",") }, {
        satisfied: async () => (await wanting()).length >= n,
        act: async () => {
          await d.changes.change({ op: "enableHa", model: "controller", target: { count: n, to: to.join(",") } }, () => lane.steps.run(first, tpl, "enableHa", { count: n, to: to.join(",") }));
        },
      });
      await waitUntil(async () => {
        const v = await voters();
        return { ok: v.length >= n, detail: `${v.length} of ${n} controller machines have a vote` };
      }, d.waitOptions(lane, tpl.layer, "haVotes", first, d.haTimeoutMs));
    }
  } else {
    d.logger.info({ controllers: members.length }, `juju controller on ${members.length} machine${members.length === 1 ? "" : "s"}: HA is enabled once three controller machines are in`);
  }
  return { members, failed };
}
