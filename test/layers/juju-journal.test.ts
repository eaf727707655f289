/**
 * Every Juju change is journaled ahead and reconciled on resume (src/layers/juju-journal.ts):
 * an engine is stopped as by kill -9 (closed: nothing more is sent, nothing more is
 * recorded) right after the intent of a risky change was written and before its command, or
 * right after the command and before its outcome was recorded; a new engine over the same
 * journal reconciles the open intent by reading Juju and goes on. The simulated Juju's own
 * record of changes (/sim/stats `juju`, src/sim/juju/changes.ts) shows every change applied
 * exactly once: bootstrap, enable-ha, add-machine, add-unit and integrate alike.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { JujuChange, JujuChangeOp, JujuChangeOutcome, JujuJournal } from "../../src/layers/index.ts";
import type { Layering } from "../../src/layers/index.ts";
import { startLayerFleet, type LayerFleet } from "./helpers.ts";

type Point = "afterIntent" | "afterCall";

/** What a store would keep: intents and their outcomes; `crash` drops everything recorded after it. */
class Kept {
  readonly rows = new Map<number, { change: JujuChange; outcome?: JujuChangeOutcome; reconciled?: boolean }>();
  next = 1;
}

/** One process's view of the journal; `arm` makes it "die" at `point` of the first `op`. */
class CrashingJournal implements JujuJournal {
  private readonly kept: Kept;
  private readonly left: { id: number; change: JujuChange }[];
  private armed: { op: JujuChangeOp; point: Point; die: () => void } | undefined;
  dead = false;
  crashedOn: JujuChange | undefined;

  constructor(kept: Kept) {
    this.kept = kept;
    this.left = [...kept.rows].filter(([, r]) => r.outcome === undefined).map(([id, r]) => ({ id, change: r.change }));
  }

  arm(op: JujuChangeOp, point: Point, die: () => void): void {
    this.armed = { op, point, die };
  }

  private crash(c: JujuChange): void {
    this.dead = true;
    this.crashedOn = c;
    this.armed?.die();
  }

  begin(c: JujuChange): Promise<number> {
    if (this.dead) return Promise.reject(new Error("process is dead"));
    const id = this.kept.next++;
    this.kept.rows.set(id, { change: c });
    if (this.armed?.op === c.op && this.armed.point === "afterIntent") this.crash(c);
    return Promise.resolve(id);
  }

  end(id: number, outcome: JujuChangeOutcome): void {
    if (this.dead) return;
    const row = this.kept.rows.get(id);
    if (row === undefined) throw new Error(`no intent ${id}`);
    if (this.armed?.op === row.change.op && this.armed.point === "afterCall" && outcome === "ok") {
      this.crash(row.change);
      return;
    }
    row.outcome = outcome;
  }

  open(): readonly { id: number; change: JujuChange }[] {
    return this.left;
  }

  reconciled(id: number, tookEffect: boolean): void {
    const row = this.kept.rows.get(id);
    if (row === undefined) throw new Error(`no intent ${id}`);
    row.outcome = tookEffect ? "ok" : "error";
    row.reconciled = tookEffect;
  }
}

const STAGES = [
  // Over the first controller host alone (no HA below three machines): enable-ha is the next stage's.
  { barrier: "juju-controller", op: "bootstrap", first: true },
  { barrier: "juju-controller", op: "enableHa" },
  { barrier: "kubernetes", op: "addMachine" },
  { barrier: "storage", op: "addUnit" },
  { barrier: "control-plane", op: "integrate" },
] as const;

describe.each(["afterIntent", "afterCall"] as const)("an engine killed %s of a Juju change, resumed by a new one", (point) => {
  let lf: LayerFleet | undefined;
  afterAll(async () => lf?.f.close());

  it("reconciles the open intent from Juju and applies each change exactly once", { timeout: 300_000 }, async () => {
    // Votes come 2 s after enable-ha: a resume right after it finds the machines wanting a vote, not voting yet.
    lf = await startLayerFleet({ juju: { timings: { machineStartMs: 0, unitSettleMs: 0, haVoteMs: 2000 } } }, [
      { prefix: "juju", count: 3, tags: ["juju-controller"] },
      { prefix: "ctl", count: 1, tags: ["control"] },
      { prefix: "sto", count: 2, tags: ["storage"] },
      { prefix: "cmp", count: 1, tags: ["compute"] },
    ]);
    const fleet = lf;
    const kept = new Kept();
    const hostsOf = (b: (typeof STAGES)[number]["barrier"]) => (b === "juju-controller" ? fleet.hosts.juju : b === "storage" ? fleet.hosts.storage : fleet.hosts.control);
    const stageHosts = (s: (typeof STAGES)[number]) => ("first" in s ? hostsOf(s.barrier).slice(0, 1) : hostsOf(s.barrier));
    const upTo = async (engine: Layering, stage: number) => {
      for (const s of STAGES.slice(0, stage + 1)) await engine.clusterBarrier(s.barrier, stageHosts(s));
    };
    const cmds = () => [...fleet.history().values()].flat();
    for (const [i, s] of STAGES.entries()) {
      const journal = new CrashingJournal(kept);
      const doomed = fleet.layering({ journal });
      journal.arm(s.op, point, () => doomed.close());
      await upTo(doomed, i).catch(() => undefined);
      expect(journal.crashedOn?.op, `${s.op} was reached in the ${s.barrier} barrier`).toBe(s.op);
      const crashed = journal.crashedOn as JujuChange;
      // A host's change names the host it is for (the barrier's hosts included).
      if (s.op === "addMachine" || s.op === "addUnit") expect(stageHosts(s).map((h) => h.systemId)).toContain(crashed.host?.systemId);
      const open = [...kept.rows.values()].filter((r) => r.outcome === undefined && r.change === crashed);
      expect(open).toHaveLength(1);

      const resumed = fleet.layering({ journal: new CrashingJournal(kept) });
      await upTo(resumed, i);
      // Reconciled from Juju: taken effect when the command had run, not when the process died before it.
      expect(open[0]?.reconciled, `${s.op} ${JSON.stringify(crashed.target)}`).toBe(point === "afterCall");
      resumed.close();
    }
    const last = fleet.layering({ journal: new CrashingJournal(kept) });
    for (const s of STAGES) await last.clusterBarrier(s.barrier, stageHosts(s));
    await Promise.all([...fleet.hosts.control, ...fleet.hosts.storage, ...fleet.hosts.compute].map((h) => last.layerHost(h)));
    expect([...kept.rows.values()].filter((r) => r.outcome === undefined)).toEqual([]);

    const changes = fleet.f.hosts.cloud.jujuWorld.changes.stats();
    expect(changes.repeated).toEqual({});
    expect(changes.byOperation["bootstrap"]).toBe(1);
    expect(changes.byOperation["enable-ha"]).toBe(1);
    // 2 controller machines, then the 4 other hosts once each.
    expect(changes.byOperation["add-machine"]).toBe(6);
    const once = (re: RegExp) => {
      const seen = cmds().filter((c) => re.test(c));
      expect(new Set(seen).size, String(re)).toBe(seen.length);
      return seen;
    };
    expect(once(/juju bootstrap /)).toHaveLength(1);
    expect(once(/juju enable-ha /)).toHaveLength(1);
    expect(once(/juju add-machine /)).toHaveLength(6);
    once(/juju add-unit /);
    once(/juju integrate /);
    const cloud = await last.report();
    expect(cloud.applications.filter((a) => a.status !== "active")).toEqual([]);
    last.close();
  });
});
