/**
 * `npm run bench`'s Juju watch section (docs/bench.md §4): what watching a model of N
 * units costs a client, through the AllWatcher (src/juju/watch.ts) and the naive way
 * (Client.FullStatus every 5 s), measured in the same run against the same simulated
 * controller while its units change status at a fixed rate (the charms' `status-set`).
 * The controller (src/sim/hosts/juju-api-server.ts) runs in this process; each client is
 * its own process (test/bench/juju-watch-client.ts) so its CPU time is its own. Figures
 * are per unit per minute (requests, bytes received) and CPU ms per minute of watching.
 */
import { join } from "node:path";
import { loadavg } from "node:os";
import { JujuApiServer } from "../../src/sim/hosts/juju-api-server.ts";
import { jujuWorld } from "../sim-hosts/juju-world.ts";
import type { ClientFigures } from "./juju-watch-client.ts";
import { BenchError, REPO, runChild } from "./procs.ts";
import { systemClock } from "../../src/clock.ts";

/** The five machine charms whose units become active without relations (the simulator's `plain` and relation-free charms). */
const APPS = ["sunbeam-machine", "role-distributor", "microcluster-token-distributor", "sunbeam-clusterd", "self-signed-certificates"];

export interface JujuWatchBenchOptions {
  units: number;
  seconds: number;
  /** Status changes per unit per minute. */
  changeRate: number;
  pollMs: number;
  dir: string;
  note: (s: string) => void;
}

export interface ClientCost extends ClientFigures {
  requestsPerUnitMinute: number;
  bytesPerUnitMinute: number;
  cpuMsPerMinute: number;
}

export interface JujuWatchFigures {
  units: number;
  machines: number;
  seconds: number;
  changeRate: number;
  pollMs: number;
  /** Status changes made during the clients' windows. */
  changesMade: number;
  setupMs: number;
  watch: ClientCost;
  poll: ClientCost;
  /** The watch as the layers use it: one shared watch, one unit wait per machine (src/layers/watch-waits.ts). */
  layers: ClientCost;
  /** Requests the simulated controller answered during the windows (both clients). */
  serverRequests: number;
  load1m: { before: number; after: number };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function cost(f: ClientFigures): ClientCost {
  const unitMinutes = f.units * (f.windowMs / 60_000);
  return { ...f, requestsPerUnitMinute: round(f.requests / unitMinutes, 5), bytesPerUnitMinute: round(f.bytesReceived / unitMinutes, 1), cpuMsPerMinute: round(f.cpuMs / (f.windowMs / 60_000), 1) };
}

export async function runJujuWatchBench(o: JujuWatchBenchOptions): Promise<JujuWatchFigures> {
  const perMachine = APPS.length;
  const machines = Math.ceil(o.units / perMachine);
  o.note(`juju watch: ${o.units} units on ${machines} machines, ${o.changeRate} status change(s) per unit per minute, ${o.seconds} s`);
  const t0 = performance.now();
  const w = jujuWorld(machines + 1, { clock: systemClock });
  const a = w.hosts[0]!;
  const ok = (line: string) => {
    const r = w.run(a, line);
    if (r.code !== 0) throw new BenchError("BENCH_INCOMPLETE", `juju watch setup: ${line}: ${r.err}`);
    return r;
  };
  ok(`juju bootstrap manual/ubuntu@${a.address} bench`);
  ok("juju add-model openstack-machines");
  for (const h of w.hosts.slice(1)) ok(`juju add-machine ssh:ubuntu@${h.address}`);
  const c = w.cloud.jujuWorld.controller("bench");
  const m = c.models.get("openstack-machines")!;
  let left = o.units;
  for (const app of APPS) {
    const n = Math.min(machines, left);
    left -= n;
    if (n === 0) break;
    w.cloud.jujuWorld.deploy(m, app, Date.now(), { app, n, to: Array.from({ length: n }, (_, i) => String(i)) });
  }
  // The simulated controller recomputes the model to answer a blocked Next (a real one is
  // told of changes); at thousands of units that is the bench's largest cost, so it looks
  // once a second here, which the watch's own 1 s coalescing matches.
  const server = new JujuApiServer(w.cloud, { port: 0, pollMs: 1000 });
  try {
    await server.sync();
    const ep = server.endpoint(a.address);
    if (ep === undefined) throw new BenchError("BENCH_INCOMPLETE", "juju watch: the simulated controller does not listen");
    // Let every machine start and every unit settle (the simulator's timings) before measuring.
    const { machineStartMs, unitSettleMs } = w.cloud.jujuWorld.timings;
    await new Promise((r) => setTimeout(r, machineStartMs + unitSettleMs + 200));
    const setupMs = performance.now() - t0;
    const units = [...m.apps.values()].flatMap((x) => [...x.units.keys()]);
    const env = { BENCH_JUJU_ENDPOINT: `${ep.host}:${ep.port}`, BENCH_JUJU_MODEL: m.uuid, BENCH_JUJU_PASSWORD: c.adminSecret, BENCH_WINDOW_S: String(o.seconds), BENCH_POLL_MS: String(o.pollMs) };
    // The changer: every 100 ms, a share of the units flips between active and maintenance.
    // Units are visited with a prime stride, so each is changed once per 1/changeRate minutes.
    let changesMade = 0;
    let carry = 0;
    let i = 0;
    const stride = units.length % 7919 === 0 ? 1 : 7919;
    let last = performance.now();
    const changer = setInterval(() => {
      const now = performance.now();
      carry += ((now - last) / 60_000) * units.length * o.changeRate;
      last = now;
      for (; carry >= 1; carry--) {
        const u = units[(i = (i + stride) % units.length)] as string;
        const at = Date.now();
        const cur = m.apps.get(u.split("/")[0] ?? "")?.units.get(u)?.charmStatus?.current;
        w.cloud.jujuWorld.setWorkloadStatus(m, u, cur === "maintenance" ? "active" : "maintenance", cur === "maintenance" ? "" : "reconfiguring", at);
        changesMade++;
      }
    }, 100);
    const load0 = round(loadavg()[0] ?? 0);
    const req0 = server.requests;
    const child = (mode: "watch" | "poll" | "layers") =>
      runChild([join(REPO, "test/bench/juju-watch-client.ts"), mode], { logFile: join(o.dir, `juju-watch-${mode}.log`), rssFile: join(o.dir, `juju-watch-${mode}.rss.json`), env, timeoutMs: (o.seconds + 120) * 1000 }).then((r) => {
        if (r.exitCode !== 0) throw new BenchError("BENCH_CHILD", `juju watch ${mode} client exited with code ${r.exitCode}; see ${join(o.dir, `juju-watch-${mode}.log`)}`);
        return JSON.parse(r.stdout) as ClientFigures;
      });
    let watch: ClientFigures;
    let poll: ClientFigures;
    let layers: ClientFigures;
    try {
      [watch, poll, layers] = await Promise.all([child("watch"), child("poll"), child("layers")]);
    } finally {
      clearInterval(changer);
    }
    return { units: units.length, machines, seconds: o.seconds, changeRate: o.changeRate, pollMs: o.pollMs, changesMade, setupMs: round(setupMs, 0), watch: cost(watch), poll: cost(poll), layers: cost(layers), serverRequests: server.requests - req0, load1m: { before: load0, after: round(loadavg()[0] ?? 0) } };
  } finally {
    await server.close();
  }
}

/** The section's lines for the printed report. */
export function jujuWatchSection(f: JujuWatchFigures, table: (rows: string[][]) => string): string[] {
  const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString("en") : String(x));
  const row = (label: string, c: ClientCost) => [label, fmt(c.requestsPerUnitMinute), fmt(c.bytesPerUnitMinute), fmt(c.cpuMsPerMinute), `${c.reads}`, `${c.connect.requests} req, ${fmt(round(c.connect.bytesReceived / 1024, 0))} KiB, ${fmt(round(c.connect.cpuMs, 0))} ms`];
  const ratio = (x: number, y: number) => (y > 0 ? `${round(x / y, 1)}×` : "∞");
  return [
    "",
    `4. Juju watch: ${f.units.toLocaleString("en")} units on ${f.machines.toLocaleString("en")} machines, ${f.changeRate} status change per unit per minute (${f.changesMade.toLocaleString("en")} changes while the clients ran), both clients watching for the same ${f.seconds} s`,
    table([
      ["client", "requests/unit/min", "bytes in/unit/min", "client CPU ms/min", "reads", "connect (not in the rates)"],
      row("AllWatcher (src/juju/watch.ts)", f.watch),
      row(`FullStatus every ${f.pollMs / 1000} s (naive)`, f.poll),
      row(`AllWatcher as the layers use it: ${(f.layers.waits ?? 0).toLocaleString("en")} host waits share it`, f.layers),
    ]),
    `  polling ÷ watching: requests ${ratio(f.poll.requestsPerUnitMinute, f.watch.requestsPerUnitMinute)}, bytes ${ratio(f.poll.bytesPerUnitMinute, f.watch.bytesPerUnitMinute)}, CPU ${ratio(f.poll.cpuMsPerMinute, f.watch.cpuMsPerMinute)}; ` +
      `unit changes seen: watch ${f.watch.unitChangesSeen.toLocaleString("en")}, poll ${f.poll.unitChangesSeen.toLocaleString("en")} (a 5 s poll misses a unit that flips back in between)`,
    `  simulated controller answered ${f.serverRequests.toLocaleString("en")} requests; setup ${Math.round(f.setupMs).toLocaleString("en")} ms; load average ${f.load1m.before} before, ${f.load1m.after} after`,
  ];
}

/** The section's row in the report's summary. */
export function jujuWatchSummaryRow(f: JujuWatchFigures): string[] {
  const c = (x: ClientCost) => `${x.requestsPerUnitMinute} req, ${Math.round(x.bytesPerUnitMinute).toLocaleString("en")} B, ${Math.round(x.cpuMsPerMinute)} CPU ms/min`;
  return [`Juju watch at ${f.units.toLocaleString("en")} units, per unit per minute`, `AllWatcher ${c(f.watch)}; as the layers use it (${f.layers.waits ?? 0} host waits) ${c(f.layers)}; FullStatus/${f.pollMs / 1000} s ${c(f.poll)}`, "", ""];
}
