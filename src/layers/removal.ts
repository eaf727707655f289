/**
 * Taking a host out of Juju before MAAS releases it for re-provisioning, in the order of the
 * reference's `sunbeam cluster remove` (juju-layering.md §5, SO:provider/maas/commands.py
 * remove_node):
 *
 * 1. the hypervisor: action `running-guests` (guests still running stop the removal), action
 *    `disable`, then its unit removed and waited gone; then, through the OpenStack API, every
 *    nova-compute service on the host disabled and deleted and its neutron agents deleted
 *    (openstack.ts; canonical/snap-openstack sunbeam-python/sunbeam/steps/hypervisor.py
 *    RemoveHypervisorUnitStep.run);
 * 2. the other units, each removed and waited gone, in the order cinder-volume → microceph
 *    (its stop hook takes the host out of the MicroCeph cluster with `--force`; no
 *    `disk remove`) → microovn → the OVN helpers if the host carries them → k8s, its node
 *    cordoned and drained first (src/layers/drain.ts) → sunbeam-machine (subordinates go
 *    with their principals); a host with a k8s unit whose node runs a mysql-k8s or
 *    rabbitmq-k8s pod is refused before anything is removed, unless forced;
 * 3. `remove-machine` (no `--force`: nothing is left on it);
 * 4. when the host was a MicroCeph member: `default-pool-size` and action `set-pool-size` on
 *    the microceph leader for MicroCeph's own pools, both min(remaining members, 3);
 * 5. once its machine is gone, nova and neutron once more: an OVN agent deleted while the host's
 *    ovn-controller still ran (step 1: microovn leaves after the hypervisor) is written again by
 *    it (neutron's mech_driver.py delete_agent), and a removal resumed after its hypervisor left
 *    finds what step 1 did not finish. Nothing is left: this finds nothing.
 *
 * Every change is written ahead to the rollout's journal (`journal`) and is check-then-act:
 * each step reads `juju status` first and acts only on what is still there, so a removal cut
 * short by a crash resumes where it stopped when the release runs again. A step that fails
 * ends the removal with a LAYER_* error naming the host and the unit. It runs on the host's
 * lane (layering.ts `leaveHost` with the host's signal): an abort stops it at its next command
 * or wait with LAYER_STOPPED, and the release run again (after a resume) finishes it.
 *
 * A dead host (its machine agent is down: the machine is off or unreachable) cannot run
 * actions or hooks: the reference's operator answer is `--force`. Its machine goes with
 * `remove-machine --force` (units and all), and its MicroCeph member, which no stop hook
 * removes then, is removed from a surviving member with `microceph cluster remove <host>
 * --force`. Its nova services and neutron agents are still deleted; a failure of the API there
 * is logged and passed over, as the reference does with `--force`.
 *
 * The OpenStack steps run only where the deployment has a control plane (keystone in its
 * model); one whose API cannot be used ends a removal that is not forced with LAYER_OPENSTACK.
 */
import type { Logger } from "pino";
import { LayerError } from "./errors.ts";
import type { LayerHost } from "./host.ts";
import type { JujuOps, StatusJson } from "./juju-ops.ts";
import { unitsOf } from "./juju-ops.ts";
import type { LayerTemplate } from "./render.ts";
import { waitUntil } from "./waits.ts";
import { cordonAndDrain, DRAIN_TIMEOUT_MS, refuseGuardedPods, type DrainStep } from "./drain.ts";
import type { KubePort } from "./kube.ts";
import { forgetHost, type OpenStackReach, type OpenStackStep } from "./openstack.ts";

/** Principal applications in the order their units leave (§5 step 3-4); any other goes before sunbeam-machine. */
export const REMOVAL_ORDER: readonly string[] = [
  "openstack-hypervisor",
  "cinder-volume",
  "microceph",
  "microovn",
  "microovn-arm64",
  "role-distributor",
  "microcluster-token-distributor",
  "sunbeam-ovn-proxy",
  "k8s",
  "sunbeam-machine",
];

/** MicroCeph's own pools whose size the reference resets after a member left (§5 step 6). */
export const MICROCEPH_POOLS = ".mgr,.rgw.root,default.rgw.log,default.rgw.control,default.rgw.meta";

/** One change the removal is about to make, journaled before it is made. */
export interface RemovalStep {
  step: "disableHypervisor" | "removeUnit" | "removeEmptyMachine" | "removeMachine" | "clusterRemove" | "setPoolSize" | OpenStackStep["step"] | DrainStep["step"];
  /** The unit, machine or member it acts on. */
  target: string;
  /** Why the --force path was taken (dead host). */
  force?: boolean;
}

export interface RemovalDeps {
  model: string;
  logger: Logger;
  /** Writes the intent of a change ahead of it (the rollout's journal). */
  journal: (s: RemovalStep) => void;
  /** Each unit's and the machine's wait until gone. */
  timeoutMs: number;
  /** A storage member still in service, to remove a dead host's MicroCeph member from. */
  cephPeer: LayerHost | undefined;
  storageTpl: LayerTemplate<"storage">;
  /** The OpenStack API, when the deployment has one (absent: no nova or neutron to clean up). */
  openstack?: () => Promise<OpenStackReach>;
  /** The Kubernetes client of this run (a k8s unit's node is cordoned and drained through it). */
  kube: KubePort | undefined;
  /** The control-plane model: the namespace of the pods, and their applications' charms. */
  controlModel: string;
  /** Take the host out even with database or queue pods on its node (the reference's --force). */
  force?: boolean;
  /** The drain's limit (default the reference's 600 s). */
  drainTimeoutMs?: number;
}

export interface RemovalResult {
  /** The host's machine in the model when the removal began (undefined: it was not in Juju). */
  machine: string | undefined;
  /** The machine agent was down: the --force path was taken. */
  forced: boolean;
  /** Units removed (principals; their subordinates went with them). */
  removed: string[];
  /** The MicroCeph members left, when the host was one (its pools were then resized). */
  cephMembersLeft?: number;
}

function rank(app: string): number {
  const i = REMOVAL_ORDER.indexOf(app);
  return i >= 0 ? i : REMOVAL_ORDER.indexOf("sunbeam-machine") - 0.5;
}

/** The principal units on machine `id`, in removal order. */
export function principalsOn(st: StatusJson, id: string): { name: string; app: string }[] {
  const out: { name: string; app: string }[] = [];
  for (const [app, a] of Object.entries(st.applications ?? {})) {
    for (const [name, u] of Object.entries(a.units ?? {})) if (u.machine === id) out.push({ name, app });
  }
  return out.sort((x, y) => rank(x.app) - rank(y.app) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** Takes `h` out of the machine model; a host that is not there is left alone. */
export async function leaveJuju(ops: JujuOps, h: LayerHost, d: RemovalDeps): Promise<RemovalResult> {
  const model = d.model;
  const id = await ops.machineOf(model, h);
  if (id === undefined) {
    // Not (or no longer) in Juju. A storage host's removal may have stopped after its machine went and
    // before its MicroCeph member and the pool sizes were seen to: both are safe to do again.
    // So may a host's OpenStack clean-up (step 5), which finds nothing when it was done.
    await leaveOpenStack(h, d, false);
    if (!h.roles.includes("storage") || unitsOf(await ops.status(model), "microceph").length === 0) return { machine: undefined, forced: false, removed: [] };
    await removeCephMember(ops, h, d);
    return { machine: undefined, forced: false, removed: [], cephMembersLeft: await resizePools(ops, h, d) };
  }
  const where = (step: string, unit?: string) => ({ layer: "removal", step, systemId: h.systemId, hostname: h.hostname, ...(unit ? { unit: { name: unit, status: "removing", message: "" } } : {}) });
  const st0 = await ops.status(model);
  const forced = st0.machines?.[id]?.["juju-status"]?.current === "down";
  const wasCeph = unitsOf(st0, "microceph").some((u) => u.machine === id);
  const removed: string[] = [];
  // Gone is gone (a removed unit or machine does not come back): one read that no longer shows it
  // ends the wait, unlike the waits for a status to settle. Returns that read.
  const gone = async (step: string, unit: string | undefined, isGone: (st: StatusJson) => boolean, what: string): Promise<StatusJson> => {
    let last: StatusJson = {};
    await waitUntil(async () => {
      last = await ops.status(model);
      return { ok: isGone(last), detail: `${what} still in ${model}` };
    }, { ...ops.s.waitOptions(ops.lane, "removal", step, h, d.timeoutMs), goodReads: 1 }).catch((e: unknown) => {
      if (e instanceof LayerError && e.code === "LAYER_NOT_READY") throw new LayerError("LAYER_NOT_READY", where(step, unit), `${what} did not leave ${model}: ${e.reason}`, { cause: e });
      throw e;
    });
    return last;
  };

  if (forced) {
    // Dead host: no agent runs its actions or hooks. `remove-machine --force` takes it and its units.
    d.logger.warn({ systemId: h.systemId, hostname: h.hostname, machine: id }, "host's Juju machine agent is down: removing it with --force");
    removed.push(...principalsOn(st0, id).map((u) => u.name));
    d.journal({ step: "removeMachine", target: id, force: true });
    await ops.act(model, "removeMachine", { id });
    await gone("removeMachine", undefined, (st) => st.machines?.[id] === undefined, `machine ${id}`);
    if (wasCeph) await removeCephMember(ops, h, d);
    await leaveOpenStack(h, d, true);
  } else {
    const drain = { kube: d.kube, controlModel: d.controlModel, force: d.force === true, timeoutMs: d.drainTimeoutMs ?? DRAIN_TIMEOUT_MS, journal: d.journal, logger: d.logger };
    // §5 step 1: checked before anything is removed.
    if (principalsOn(st0, id).some((u) => u.app === "k8s")) await refuseGuardedPods(ops, h, drain);
    // Each round acts on the last read: a resumed removal finds only what is still there.
    let st = st0;
    for (;;) {
      const next = principalsOn(st, id)[0];
      if (next === undefined) break;
      if (next.app === "openstack-hypervisor") await hypervisorOff(ops, h, next.name, d);
      if (next.app === "k8s") await cordonAndDrain(ops, h, drain);
      d.journal({ step: "removeUnit", target: next.name });
      try {
        await ops.act(model, "removeUnit", { unit: next.name });
      } catch (e) {
        // Stopped (the host's work aborted): not sent, not refused.
        if (e instanceof LayerError && e.code === "LAYER_STOPPED") throw e;
        throw new LayerError("LAYER_COMMAND_FAILED", where("removeUnit", next.name), `juju refused to remove ${next.name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      st = await gone("removeUnit", next.name, (s) => !unitsOf(s, next.app).some((u) => u.name === next.name), `unit ${next.name}`);
      removed.push(next.name);
      if (next.app === "openstack-hypervisor") await leaveOpenStack(h, d, false);
    }
    if (st.machines?.[id] !== undefined) {
      d.journal({ step: "removeEmptyMachine", target: id });
      await ops.act(model, "removeEmptyMachine", { id });
      await gone("removeEmptyMachine", undefined, (st) => st.machines?.[id] === undefined, `machine ${id}`);
    }
    await leaveOpenStack(h, d, false);
  }
  const result: RemovalResult = { machine: id, forced, removed };
  if (wasCeph) result.cephMembersLeft = await resizePools(ops, h, d);
  d.logger.info({ systemId: h.systemId, hostname: h.hostname, machine: id, forced, removed }, "host left Juju");
  return result;
}

/** The host's nova services and neutron agents deleted (openstack.ts); forced: a failure is logged and passed over. */
async function leaveOpenStack(h: LayerHost, d: RemovalDeps, forced: boolean): Promise<void> {
  if (d.openstack === undefined) return;
  try {
    const reach = await d.openstack();
    switch (reach.kind) {
      case "absent":
        return;
      case "unreachable":
        throw new LayerError("LAYER_OPENSTACK", { layer: "removal", step: "openstack", systemId: h.systemId, hostname: h.hostname }, `cannot take ${h.hostname} out of nova and neutron: ${reach.reason}`, { cause: reach.cause });
      case "ready":
        await forgetHost(reach.port, h, d.journal, d.logger);
        return;
    }
  } catch (e) {
    if (!forced || !(e instanceof LayerError) || e.code !== "LAYER_OPENSTACK") throw e;
    d.logger.warn({ systemId: h.systemId, hostname: h.hostname, err: e.message }, "dead host: its nova services or neutron agents could not be deleted; passed over (--force)");
  }
}

/** §5 step 3: guests still running stop the removal; the hypervisor is disabled before its unit goes. */
async function hypervisorOff(ops: JujuOps, h: LayerHost, unit: string, d: RemovalDeps): Promise<void> {
  const run = (step: string) =>
    ops.action(d.model, step, unit).catch((e: unknown) => {
      if (e instanceof LayerError && e.code === "LAYER_STOPPED") throw e;
      throw new LayerError("LAYER_COMMAND_FAILED", { layer: "removal", step, systemId: h.systemId, hostname: h.hostname, unit: { name: unit, status: "active", message: "" } }, `action on ${unit} failed: ${e instanceof LayerError ? e.reason : String(e)}`, { cause: e });
    });
  const r = await run("runningGuests");
  let guests: unknown[];
  try {
    const v: unknown = typeof r["result"] === "string" ? JSON.parse(r["result"]) : [];
    guests = Array.isArray(v) ? v : [];
  } catch {
    throw new LayerError("LAYER_BAD_OUTPUT", { layer: "removal", step: "runningGuests", systemId: h.systemId, hostname: h.hostname, unit: { name: unit, status: "active", message: "" } }, `running-guests on ${unit} gave no guest list: ${String(r["result"]).slice(0, 200)}`);
  }
  if (guests.length > 0) {
    throw new LayerError("LAYER_PRECONDITION", { layer: "removal", step: "runningGuests", systemId: h.systemId, hostname: h.hostname, unit: { name: unit, status: "active", message: `${guests.length} guest(s) running` } }, `${h.hostname} still runs ${guests.length} guest(s): migrate or stop them before it is re-provisioned (the reference refuses without --force)`);
  }
  d.journal({ step: "disableHypervisor", target: unit });
  await run("disableHypervisor");
}

/** A dead storage host's MicroCeph member, removed from a surviving member (check first: `member not found` means done). */
async function removeCephMember(ops: JujuOps, h: LayerHost, d: RemovalDeps): Promise<void> {
  const peer = d.cephPeer;
  if (peer === undefined || peer.systemId === h.systemId) {
    d.logger.warn({ systemId: h.systemId, hostname: h.hostname }, "no storage member in service to remove the dead host's MicroCeph member from: it stays in the cluster (remove it by hand: microceph cluster remove <host> --force)");
    return;
  }
  d.journal({ step: "clusterRemove", target: h.hostname, force: true });
  const r = await ops.lane.steps.run(peer, d.storageTpl, "clusterRemove", { name: h.hostname }, { allowNonZero: true });
  if (r.exitCode !== 0 && !/not found/.test(r.stderr + r.stdout)) {
    throw new LayerError("LAYER_COMMAND_FAILED", { layer: "removal", step: "clusterRemove", systemId: h.systemId, hostname: h.hostname, exitCode: r.exitCode, outputTail: r.stderr.slice(-2000) }, `MicroCeph refused to remove member ${h.hostname} on ${peer.hostname}`);
  }
}

/** §5 step 6: pool sizes min(remaining members, 3): `default-pool-size` and MicroCeph's own pools through the leader. */
async function resizePools(ops: JujuOps, h: LayerHost, d: RemovalDeps): Promise<number> {
  const left = unitsOf(await ops.status(d.model), "microceph").length;
  if (left === 0) return 0;
  const size = String(Math.min(left, 3));
  await ops.ensureConfig(d.model, "microceph", { "default-pool-size": size });
  d.journal({ step: "setPoolSize", target: `microceph/leader size=${size}` });
  try {
    await ops.action(d.model, "setPoolSize", "microceph/leader", { pools: MICROCEPH_POOLS, size });
  } catch (e) {
    if (e instanceof LayerError && e.code === "LAYER_STOPPED") throw e;
    throw new LayerError("LAYER_COMMAND_FAILED", { layer: "removal", step: "setPoolSize", systemId: h.systemId, hostname: h.hostname, unit: { name: "microceph/leader", status: "active", message: "" } }, `set-pool-size ${size} failed after ${h.hostname} left: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return left;
}
