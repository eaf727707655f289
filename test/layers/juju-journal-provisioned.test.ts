/**
 * An `add-machine ssh:` cut short on the host's side: Juju records the machine, the provisioning
 * script installs the jujud-machine service and fails, and the client's cleanup destroys the
 * machine (the simulated hosts' `provisioningCutShort`, docs/simulated-juju.md). The host is then
 * provisioned (a jujud-machine service) and unknown to Juju, and a second add-machine is refused
 * with "machine is already provisioned" (JJ:environs/manual/sshprovisioner/sshprovisioner.go).
 * The engine is killed before the outcome is recorded; the resumed one finds the intent open and
 * no machine, checks the host, takes the half-installed agent off as Juju's teardown does
 * (journaled ahead too), and enlists the host once. Without a crash, the same engine's retry does
 * the same.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { JujuChange, JujuChangeOp, JujuChangeOutcome, JujuJournal, Layering } from "../../src/layers/index.ts";
import { runCommandLine } from "../../src/sim/hosts/index.ts";
import { startLayerFleet, type LayerFleet } from "./helpers.ts";

const GROUPS = [
  { prefix: "juju", count: 1, tags: ["juju-controller"] },
  { prefix: "ctl", count: 1, tags: ["control"] },
];
const MODEL = "openstack-machines";

type Row = { change: JujuChange; outcome?: JujuChangeOutcome; reconciled?: boolean };

/** A store's rows; each process reads the open ones at start. `dieAt` kills the process at the end of the first `op` (whatever its outcome), before the outcome is kept. */
class Journal implements JujuJournal {
  private readonly left: { id: number; change: JujuChange }[];
  private readonly rows: Map<number, Row>;
  private readonly dieAt: { op: JujuChangeOp; point: "afterIntent" | "afterCall"; die: () => void } | undefined;
  dead = false;
  constructor(rows: Map<number, Row>, dieAt?: { op: JujuChangeOp; point: "afterIntent" | "afterCall"; die: () => void }) {
    this.rows = rows;
    this.dieAt = dieAt;
    this.left = [...rows].filter(([, r]) => r.outcome === undefined).map(([id, r]) => ({ id, change: r.change }));
  }
  begin(c: JujuChange): Promise<number> {
    if (this.dead) return Promise.reject(new Error("process is dead"));
    const id = this.rows.size + 1;
    this.rows.set(id, { change: c });
    if (this.dieAt?.op === c.op && this.dieAt.point === "afterIntent") this.die();
    return Promise.resolve(id);
  }
  end(id: number, outcome: JujuChangeOutcome): void {
    if (this.dead) return;
    const row = this.rows.get(id) as Row;
    if (this.dieAt?.op === row.change.op && this.dieAt.point === "afterCall") return this.die();
    row.outcome = outcome;
  }
  open(): readonly { id: number; change: JujuChange }[] {
    return this.left;
  }
  reconciled(id: number, tookEffect: boolean): void {
    const row = this.rows.get(id) as Row;
    row.outcome = tookEffect ? "ok" : "error";
    row.reconciled = tookEffect;
  }
  private die(): void {
    this.dead = true;
    this.dieAt?.die();
  }
}

describe("an add-machine cut short after the agent's install", () => {
  let lf: LayerFleet | undefined;
  afterAll(async () => lf?.f.close());

  const setup = async () => {
    lf ??= await startLayerFleet({ juju: { timings: { machineStartMs: 0, unitSettleMs: 0, haVoteMs: 0 } } }, GROUPS);
    const fleet = lf;
    const [client] = fleet.hosts.juju;
    const [ctl] = fleet.hosts.control;
    if (client === undefined || ctl === undefined) throw new Error("fleet without hosts");
    const cloud = fleet.f.hosts.cloud;
    const model = () => cloud.jujuWorld.controller("metalwave").models.get(MODEL);
    const machinesOf = (address: string) => [...(model()?.machines.values() ?? [])].filter((m) => m.host?.address === address);
    const sim = (sid: string) => cloud.hosts.get(sid) ?? (() => { throw new Error(`no host ${sid}`); })();
    const addMachineRuns = () => sim(client.systemId).history.filter((c) => c.includes(`add-machine`) && c.includes(`ssh:ubuntu@${ctl.address}`));
    return { fleet, client, ctl, cloud, machinesOf, sim, addMachineRuns };
  };

  it.each(["afterCall", "afterIntent"] as const)("killed %s of it, then resumed: the host is cleaned the way Juju does and enlisted once", { timeout: 180_000 }, async (point) => {
    const { fleet, client, ctl, cloud, machinesOf, sim, addMachineRuns } = await setup();
    const rows = new Map<number, Row>();
    // The controller first, untouched by the crash.
    const first = fleet.layering({ journal: new Journal(rows) });
    await first.clusterBarrier("juju-controller", [client]);
    first.close();

    // afterCall: the process dies once add-machine ended (its outcome never kept). afterIntent: it dies
    // right after the cleanup's intent, before the cleanup ran (a second crash, on the resume).
    cloud.provisioningCutShort.add(ctl.systemId);
    const crash = new Journal(rows, { op: "addMachine", point: "afterCall", die: () => doomed.close() });
    const doomed: Layering = fleet.layering({ journal: crash });
    await doomed.clusterBarrier("juju-controller", [client]);
    await doomed.clusterBarrier("kubernetes", [ctl]).catch(() => undefined);
    expect(crash.dead).toBe(true);
    expect([...rows.values()].filter((r) => r.outcome === undefined).map((r) => r.change.op)).toEqual(["addMachine"]);
    // The window: the agent is on the host, the machine is not in Juju.
    expect(machinesOf(ctl.address)).toEqual([]);
    expect(sim(ctl.systemId).jujuAgent).toBeDefined();
    // The trap: add-machine again, as the resume used to, is refused with Juju's words.
    const again = runCommandLine(`juju add-machine -m metalwave:${MODEL} ssh:ubuntu@${ctl.address}`, { host: sim(client.systemId), cloud, root: false, env: {}, stdin: "" });
    expect(again.code).toBe(1);
    expect(again.err).toBe("ERROR machine is already provisioned\n");
    expect(machinesOf(ctl.address)).toEqual([]);

    if (point === "afterIntent") {
      const second = new Journal(rows, { op: "cleanManualAgent", point: "afterIntent", die: () => twice.close() });
      const twice: Layering = fleet.layering({ journal: second });
      await twice.clusterBarrier("juju-controller", [client]);
      await twice.clusterBarrier("kubernetes", [ctl]).catch(() => undefined);
      expect(second.dead).toBe(true);
      // The add-machine reconciled (not taken effect), the cleanup open; the agent still there.
      expect([...rows.values()].filter((r) => r.outcome === undefined).map((r) => r.change.op)).toEqual(["cleanManualAgent"]);
      expect(sim(ctl.systemId).jujuAgent).toBeDefined();
    }

    const resumed = fleet.layering({ journal: new Journal(rows) });
    await resumed.clusterBarrier("juju-controller", [client]);
    await resumed.clusterBarrier("kubernetes", [ctl]);
    resumed.close();

    expect([...rows.values()].filter((r) => r.outcome === undefined)).toEqual([]);
    const adds = [...rows.values()].filter((r) => r.change.op === "addMachine");
    // The cut-short one reconciled as not taken effect, then the one that enlisted the host.
    expect(adds.map((r) => [r.outcome, r.reconciled])).toEqual([["error", false], ["ok", undefined]]);
    const cleans = [...rows.values()].filter((r) => r.change.op === "cleanManualAgent");
    expect(cleans.at(-1)?.outcome).toBe("ok");
    expect(cleans.every((r) => r.change.host?.systemId === ctl.systemId && String(r.change.target["unit"]).startsWith("jujud-machine-"))).toBe(true);
    // One machine for the host, its agent the one on the host.
    const ms = machinesOf(ctl.address);
    expect(ms).toHaveLength(1);
    expect(sim(ctl.systemId).jujuAgent?.machine).toBe(ms[0]?.id);
    // The host was cleaned as Juju's teardown does before add-machine went again (and succeeded).
    const hostCmds = sim(ctl.systemId).history;
    const cleaned = hostCmds.filter((c) => c.includes("systemctl disable --now jujud-machine-") && c.includes("rm -rf /var/lib/juju /var/log/juju"));
    expect(cleaned.length).toBeGreaterThanOrEqual(1);
    // Cut short, refused by hand above (the trap), then the resume's once.
    expect(addMachineRuns()).toHaveLength(2);
    expect(again.err).toContain("already provisioned");

    // Leave the fleet for the next case: the host out of Juju and clean.
    const m = cloud.jujuWorld.controller("metalwave").models.get(MODEL);
    if (m && ms[0]) cloud.jujuWorld.removeMachine(m, ms[0].id, true, false);
    sim(ctl.systemId).jujuAgent = undefined;
    sim(ctl.systemId).history.length = 0;
    sim(client.systemId).history.length = 0;
  });

  it("without a crash, the same engine's retry cleans the host and enlists it", { timeout: 180_000 }, async () => {
    const { fleet, client, ctl, cloud, machinesOf, sim, addMachineRuns } = await setup();
    const engine = fleet.layering({ journal: new Journal(new Map()) });
    await engine.clusterBarrier("juju-controller", [client]);
    cloud.provisioningCutShort.add(ctl.systemId);
    await engine.clusterBarrier("kubernetes", [ctl]);
    engine.close();
    const ms = machinesOf(ctl.address);
    expect(ms).toHaveLength(1);
    expect(sim(ctl.systemId).jujuAgent?.machine).toBe(ms[0]?.id);
    // The cut-short one, then one after the cleanup: never refused as already provisioned.
    expect(addMachineRuns()).toHaveLength(2);
    expect(sim(ctl.systemId).history.filter((c) => c.includes("systemctl disable --now jujud-machine-"))).toHaveLength(1);
  });
});
