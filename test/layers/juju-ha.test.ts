/**
 * The Juju controller barrier against Juju 3.6's real behaviour (../shared/reference/
 * juju-layering.md §4e): `show-controller` lists only the controller machines that want a
 * vote (so a machine added by manual provisioning is not there), and `enable-ha` returns at
 * once, its new voters showing `ha-pending` for a while before `ha-enabled`. The simulated
 * hosts answer show-controller more kindly; the SSH port here rewrites their answer the way
 * the real controller would, so the barrier must find machines through `juju machines` and
 * wait for the votes.
 */
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { SshPort } from "../../src/ssh/index.ts";
import { RewritingSsh } from "../fakes/ssh.ts";
import { startLayerFleet, type LayerFleet } from "./helpers.ts";

type Show = Record<string, { "controller-machines"?: Record<string, { "instance-id"?: string; "ha-status"?: string }> }>;

/** show-controller as Juju 3.6 answers it: only machines wanting a vote; new voters pending for `pendingReads` reads. */
function realShowController(inner: SshPort, pendingReads: number): { ssh: SshPort; commands: string[] } {
  let haAskedAt: number | undefined;
  let reads = 0;
  const ssh = new RewritingSsh(inner, (command, r) => {
    if (/juju enable-ha/.test(command)) haAskedAt = reads;
    if (!/juju show-controller/.test(command) || r.exitCode !== 0) return r;
    reads++;
    const show = JSON.parse(r.stdout) as Show;
    for (const entry of Object.values(show)) {
      const ms = entry["controller-machines"] ?? {};
      for (const [id, m] of Object.entries(ms)) {
        if (m["ha-status"] === "ha-none" && id !== "0") delete ms[id];
        else if (m["ha-status"] === "ha-none") delete m["ha-status"]; // omitted with one controller
        else if (id !== "0" && haAskedAt !== undefined && reads - haAskedAt <= pendingReads) ms[id] = { "instance-id": "(unprovisioned)", "ha-status": "ha-pending" };
      }
    }
    return { ...r, stdout: `${JSON.stringify(show)}\n` };
  });
  return { ssh, commands: ssh.commands };
}

let lf: LayerFleet | undefined;
afterEach(async () => {
  await lf?.f.close();
  lf = undefined;
});

describe("juju controller barrier: HA as Juju 3.6 does it", () => {
  it("adds each machine once (found by `juju machines`), asks for HA once, and waits for the votes with consecutive good reads", async () => {
    lf = await startLayerFleet();
    const { ssh, commands } = realShowController(lf.f.ssh(), 4);
    const layering = lf.layering({ ssh });
    const r = await layering.clusterBarrier("juju-controller", lf.hosts.juju);
    expect(r.failed).toEqual([]);
    expect(commands.filter((c) => /juju add-machine/.test(c))).toHaveLength(2);
    expect(commands.filter((c) => /juju enable-ha/.test(c))).toEqual(["juju enable-ha -c metalwave -n 3 --to 1,2"]);
    // 4 reads still pending, then 3 good ones in a row.
    const after = commands.slice(commands.findIndex((c) => /enable-ha/.test(c)) + 1);
    expect(after.filter((c) => /show-controller/.test(c)).length).toBeGreaterThanOrEqual(4 + 3);
    expect((await layering.report()).controllers.ha).toBe("ha-enabled");

    // Re-run (as after a restart): nothing is added or asked again.
    const again = realShowController(lf.f.ssh(), 0);
    await lf.layering({ ssh: again.ssh }).clusterBarrier("juju-controller", lf.hosts.juju);
    expect(again.commands.filter((c) => /add-machine|enable-ha|bootstrap/.test(c))).toEqual([]);
  }, 60_000);

  it("below three controller machines asks for no HA, re-runs add nothing, and logs no warning", async () => {
    lf = await startLayerFleet();
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: "debug" }, { write: (s: string) => lines.push(JSON.parse(s) as { level: number; msg: string }) });
    const two = lf.hosts.juju.slice(0, 2);
    const first = realShowController(lf.f.ssh(), 0);
    await lf.layering({ ssh: first.ssh, logger }).clusterBarrier("juju-controller", two);
    const again = realShowController(lf.f.ssh(), 0);
    await lf.layering({ ssh: again.ssh, logger }).clusterBarrier("juju-controller", two);
    expect(first.commands.filter((c) => /add-machine/.test(c))).toHaveLength(1);
    expect([...first.commands, ...again.commands].filter((c) => /enable-ha/.test(c))).toEqual([]);
    expect(again.commands.filter((c) => /add-machine|bootstrap/.test(c))).toEqual([]);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(lines.map((l) => l.msg)).toContain("juju controller on 2 machines: HA is enabled once three controller machines are in");
  }, 60_000);
});
