/**
 * One client of the bench's Juju watch section (test/bench/juju-watch.ts), run as its own
 * process so its CPU time is its own: `watch` keeps a view through the AllWatcher
 * (src/juju/watch.ts) with one wait over every unit pending, as a layer waiting on its
 * units would; `poll` is the naive way, Client.FullStatus every POLL_MS through jujulib,
 * each answer parsed into the same view; `layers` is the watch as the layers use it
 * (src/layers/watch-waits.ts): one watch shared by one unit wait per machine (a host waiting
 * on its units, 3 consecutive reads never reached), each reading its own machine's units
 * on every batch. All run for WINDOW_S seconds after connecting
 * and print one JSON line: requests, bytes both ways and CPU ms in the window, and the
 * connect's own cost. The password comes in the environment, never in argv.
 *
 *   node test/bench/juju-watch-client.ts watch|poll|layers
 *   env: BENCH_JUJU_ENDPOINT, BENCH_JUJU_MODEL, BENCH_JUJU_PASSWORD, BENCH_WINDOW_S, BENCH_POLL_MS
 */
import { connect } from "@canonical/jujulib";
import ClientV7 from "@canonical/jujulib/dist/api/facades/client/ClientV7.js";
import { WebSocket as WsSocket } from "ws";
import { fromFullStatus } from "../../src/juju/view.ts";
import { createJujuWatch } from "../../src/juju/watch.ts";
import { waitUnitsOnView } from "../../src/layers/watch-waits.ts";

const env = (k: string) => {
  const v = process.env[k];
  if (v === undefined || v === "") throw new Error(`juju-watch-client: ${k} is not set`);
  return v;
};

export interface ClientFigures {
  mode: "watch" | "poll" | "layers";
  /** Waits pending (layers: one per machine). */
  waits?: number;
  windowMs: number;
  requests: number;
  bytesReceived: number;
  bytesSent: number;
  cpuMs: number;
  /** Delta batches (watch) or FullStatus answers (poll) in the window. */
  reads: number;
  /** Unit status changes seen in the window (watch: unit deltas; poll: units whose status differed from the last poll). */
  unitChangesSeen: number;
  connect: { requests: number; bytesReceived: number; cpuMs: number; ms: number };
  units: number;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

async function watchMode(endpoint: string, modelUuid: string, password: string, windowMs: number): Promise<ClientFigures> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const jw = createJujuWatch();
  await jw.connect({ endpoints: [endpoint], modelUuid, credentials: { username: "admin", password }, security: { kind: "plain" } });
  const atConnect = jw.stats();
  const connectFig = { requests: atConnect.requests, bytesReceived: atConnect.bytesReceived, cpuMs: cpuMs(c0), ms: performance.now() - t0 };
  const units = jw.view().units.size;
  let changes = 0;
  let last = jw.view();
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  // A layer's wait over every unit: it reads the whole view on every batch.
  const wait = jw
    .waitFor(
      (v) => {
        for (const [name, u] of v.units) if (last.units.get(name)?.workload !== u.workload) changes++;
        last = v;
        for (const u of v.units.values()) if (u.workload.current !== "active") return false;
        return true;
      },
      { consecutive: 1_000_000, intervalMs: 10_000, timeoutMs: windowMs, what: "the bench window" },
    )
    .catch((e: unknown) => e);
  await wait;
  const s = jw.stats();
  const fig: ClientFigures = { mode: "watch", windowMs: performance.now() - t1, requests: s.requests - atConnect.requests, bytesReceived: s.bytesReceived - atConnect.bytesReceived, bytesSent: s.bytesSent - atConnect.bytesSent, cpuMs: cpuMs(c1), reads: s.batches - atConnect.batches, unitChangesSeen: changes, connect: connectFig, units };
  await jw.close();
  return fig;
}

async function layersMode(endpoint: string, modelUuid: string, password: string, windowMs: number): Promise<ClientFigures> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const jw = createJujuWatch();
  await jw.connect({ endpoints: [endpoint], modelUuid, credentials: { username: "admin", password }, security: { kind: "plain" } });
  const atConnect = jw.stats();
  const connectFig = { requests: atConnect.requests, bytesReceived: atConnect.bytesReceived, cpuMs: cpuMs(c0), ms: performance.now() - t0 };
  const v0 = jw.view();
  const apps = new Map<string, Set<string>>();
  for (const u of v0.units.values()) (apps.get(u.machine) ?? apps.set(u.machine, new Set()).get(u.machine))?.add(u.application);
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  // One host's wait per machine, on the shared watch, as the layers' waitUnits does: they end at the window's deadline.
  await Promise.all(
    [...apps].map(([machine, names]) =>
      waitUnitsOnView(jw, "openstack-machines", [...names], { layer: "bench", step: "unitsActive", host: { systemId: `m${machine}`, hostname: `host-${machine}`, address: "", roles: [], cephDisks: [] }, timeoutMs: windowMs, machines: new Set([machine]), }, { goodReads: 1_000_000, intervalMs: 10_000, stopped: () => undefined }).catch(() => undefined),
    ),
  );
  const s = jw.stats();
  const fig: ClientFigures = { mode: "layers", windowMs: performance.now() - t1, requests: s.requests - atConnect.requests, bytesReceived: s.bytesReceived - atConnect.bytesReceived, bytesSent: s.bytesSent - atConnect.bytesSent, cpuMs: cpuMs(c1), reads: s.batches - atConnect.batches, unitChangesSeen: s.deltas - atConnect.deltas, connect: connectFig, units: v0.units.size, waits: apps.size };
  await jw.close();
  return fig;
}

async function pollMode(endpoint: string, modelUuid: string, password: string, windowMs: number, pollMs: number): Promise<ClientFigures> {
  const counters = { requests: 0, bytesReceived: 0, bytesSent: 0 };
  class CountingSocket extends WsSocket {
    constructor(url: string) {
      super(url);
      this.on("message", (d: Buffer) => (counters.bytesReceived += d.length));
    }
    override send(data: string, ...rest: unknown[]): void {
      counters.requests++;
      counters.bytesSent += Buffer.byteLength(data);
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  }
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const client = await connect(`ws://${endpoint}/model/${modelUuid}/api`, { facades: [ClientV7], wsclass: CountingSocket as unknown as typeof WebSocket, closeCallback: () => undefined });
  const conn = await client.login({ username: "admin", password }, "3.6.4");
  const facade = (conn?.facades as { client?: ClientV7 } | undefined)?.client;
  if (facade === undefined) throw new Error("juju-watch-client: no Client facade");
  let view = fromFullStatus(modelUuid, await facade.fullStatus({ patterns: [] }));
  const connectFig = { requests: counters.requests, bytesReceived: counters.bytesReceived, cpuMs: cpuMs(c0), ms: performance.now() - t0 };
  const base = { ...counters };
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  let reads = 0;
  let changes = 0;
  while (performance.now() - t1 < windowMs) {
    const next = performance.now() + pollMs;
    const fresh = fromFullStatus(modelUuid, await facade.fullStatus({ patterns: [] }));
    for (const [name, u] of fresh.units) {
      const was = view.units.get(name)?.workload;
      if (was?.current !== u.workload.current || was.message !== u.workload.message) changes++;
    }
    view = fresh;
    reads++;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, windowMs - (performance.now() - t1))));
  }
  const fig: ClientFigures = { mode: "poll", windowMs: performance.now() - t1, requests: counters.requests - base.requests, bytesReceived: counters.bytesReceived - base.bytesReceived, bytesSent: counters.bytesSent - base.bytesSent, cpuMs: cpuMs(c1), reads, unitChangesSeen: changes, connect: connectFig, units: view.units.size };
  client.logout();
  return fig;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const endpoint = env("BENCH_JUJU_ENDPOINT");
  const model = env("BENCH_JUJU_MODEL");
  const password = env("BENCH_JUJU_PASSWORD");
  const windowMs = Number(env("BENCH_WINDOW_S")) * 1000;
  let fig: ClientFigures;
  if (mode === "watch") fig = await watchMode(endpoint, model, password, windowMs);
  else if (mode === "layers") fig = await layersMode(endpoint, model, password, windowMs);
  else if (mode === "poll") fig = await pollMode(endpoint, model, password, windowMs, Number(process.env["BENCH_POLL_MS"] ?? 5000));
  else throw new Error(`juju-watch-client: mode must be watch, poll or layers, not ${mode ?? "(none)"}`);
  process.stdout.write(`${JSON.stringify(fig)}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
