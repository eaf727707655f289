/**
 * When a layered rollout ends, the layers are done with the SSH port: no command of
 * theirs is still running (nothing the rollout no longer waits for, such as the control
 * plane deployed again in the background, goes on polling `juju status`), and after the
 * caller has read the cloud back (`report()`), closed the engine and closed the port, no
 * command reaches the closed port (none ends as SSH_CLOSED). Simulated region and hosts,
 * real ssh2 port, as `metalwave rollout` runs them.
 */
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { startSimulator } from "../../src/sim/index.ts";
import { LAYERED_14, layeredRigPerTest, simClient, simDeps } from "./sim-client.ts";
import { openStore } from "../../src/store/index.ts";
import { RolloutRunner } from "../../src/runtime/rollout-runner.ts";
import { parseConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { layeringFor } from "../../src/cli/rollout.ts";
import type { SshCommandResult } from "../../src/ssh/port.ts";


const rig = layeredRigPerTest();

describe("the end of a layered rollout", () => {
  it("leaves no layer command running, and none reaches the SSH port once it is closed", async () => {
    rig.sim = await startSimulator({ fleet: LAYERED_14, zeroDuration: true, seed: 11, hosts: { sshPort: 0, nodeReadyMs: 20 } });
    const maas = simClient(rig.sim);
    rig.store = openStore(":memory:");
    const config = parseConfig({ rollout: { backoffMs: { base: 1, max: 5 } }, layers: { stepAttempts: 1 } });
    rig.layering = layeringFor(config, silentLogger(), rig.sim)!;
    const ssh = rig.layering.ssh;

    // Every command: how many run at a time, which start once the port is closed, how each ended.
    let running = 0;
    let portClosed = false;
    const afterClose: string[] = [];
    const exec = ssh.exec.bind(ssh);
    ssh.exec = async (target, command, opts) => {
      if (portClosed) afterClose.push(command);
      running++;
      try {
        return await exec(target, command, opts);
      } finally {
        running--;
      }
    };
    const ended = new Map<SshCommandResult, number>();
    ssh.observeCommands((e) => ended.set(e.result, (ended.get(e.result) ?? 0) + 1));

    const runner = new RolloutRunner(simDeps(maas, rig.store, rig.layering.config, rig.layering, ssh));
    const summary = await runner.run({ resume: false });
    expect(summary.state).toBe("completed");
    expect(summary.byOutcome.inService).toBe(summary.total);
    expect(running).toBe(0);

    // What the CLI does next: read the cloud back, then stop the engine, then close the port.
    const cloud = await rig.layering.engine.report();
    expect(cloud.applications.length).toBeGreaterThan(0);
    rig.layering.engine.close();
    portClosed = true;
    await ssh.close();
    // Time for several of the layers' polls (50 ms on the embedded simulator) to come round.
    await delay(300);

    expect(afterClose).toEqual([]);
    expect(ended.get("SSH_CLOSED") ?? 0).toBe(0);
    expect(ended.get("exit0")).toBeGreaterThan(0);
  }, 600_000); // a 14-machine rollout (every layer; the size adds nothing to what is checked) through Juju and its charms: several thousand juju commands over SSH to the simulated hosts
});
