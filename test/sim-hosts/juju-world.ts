// A simulated cloud of N hosts with the strict Juju and a hand-driven clock, for the
// juju, snap and charm tests (no SSH: commands run straight against the model).
import { runCommandLine } from "../../src/sim/hosts/commands.ts";
import { SimKubeApi } from "../../src/sim/hosts/kube-api.ts";
import { SimCloud, SimHost } from "../../src/sim/hosts/model.ts";
import type { SimCloudOptions } from "../../src/sim/hosts/model.ts";
import { HandClock } from "../fakes/clock.ts";

export interface JujuTestWorld {
  cloud: SimCloud;
  hosts: SimHost[];
  run(h: SimHost, line: string, stdin?: string): { code: number; out: string; err: string };
  /** Parsed stdout of a command that must succeed. */
  json<T = Record<string, unknown>>(h: SimHost, line: string): T;
  advance(ms: number): void;
  /** A fresh installation of host i (a MAAS redeploy): same address, new deployment. */
  redeploy(i: number): SimHost;
}

export function jujuWorld(n = 3, opts: SimCloudOptions = {}): JujuTestWorld {
  const clock = new HandClock(Date.UTC(2026, 0, 1));
  const cloud = new SimCloud(1, new SimKubeApi("t", 0, (fn) => fn()), { clock, jujuTimings: { machineStartMs: 1000, unitSettleMs: 2000, haVoteMs: 10_000 }, ...opts });
  const mk = (i: number, deployment: number) => {
    const h = new SimHost(`sid${i}`, `node-${i}`, `127.9.0.${i + 1}`, deployment, [
      { idPath: `/dev/disk/by-id/root-${i}`, sizeBytes: 4.8e11, root: true, tags: ["ssd"] },
      { idPath: `/dev/disk/by-id/data-${i}`, sizeBytes: 4e12, root: false, tags: ["ceph"] },
    ]);
    cloud.addHost(h);
    return h;
  };
  const hosts = Array.from({ length: n }, (_, i) => mk(i, 1));
  // Not listening: add-k8s only compares the kubeconfig's server and token with the API's.
  cloud.kube.url = "http://127.0.0.1:16443";
  for (const h of hosts) h.snaps.set("juju", { channel: "3.6/stable", version: "3.6.4", revision: 1, classic: false, config: new Map() });
  const run = (h: SimHost, line: string, stdin = "") => runCommandLine(line, { host: h, cloud, root: false, env: {}, stdin });
  return {
    cloud,
    hosts,
    run,
    json<T>(h: SimHost, line: string): T {
      const r = run(h, line);
      if (r.code !== 0) throw new Error(`${line} failed: ${r.err}`);
      return JSON.parse(r.out) as T;
    },
    advance(ms) {
      clock.t += ms;
    },
    redeploy(i) {
      const old = hosts[i] as SimHost;
      cloud.removeHost(old.systemId);
      const h = mk(i, old.deployment + 1);
      hosts[i] = h;
      return h;
    },
  };
}
