// Harness for the service tests: the real service on port 0, the real MaasClient and
// runner, an in-process simulated region (zero durations; a manual clock where a test
// needs a rollout to stay in flight until it says so), layers off (no SSH).
import { Writable } from "node:stream";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { startSimulator, type SimHandle } from "../../src/sim/index.ts";
import { MaasClient } from "../../src/maas/client.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { parseConfig, type ConfigInput } from "../../src/config.ts";
import { startService, type ServiceHandle } from "../../src/service/index.ts";
import type { Logger } from "../../src/log.ts";
import type { Clock } from "../../src/clock.ts";

export const TOKEN = "test-token-7f3a9c2e51b04d68";

/** Parsed JSON of an answer; the tests read it field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Harness {
  sim: SimHandle;
  maas: MaasClient;
  store: Store;
  service: ServiceHandle;
  /** Every log line the service wrote, as text. */
  logs: string[];
  api(method: string, path: string, opts?: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; json: Json; text: string }>;
  /** Moves the manual clock until `done` holds (real clock: just waits for it). */
  until(done: () => boolean | Promise<boolean>, what: string): Promise<void>;
  /** Starts another service on the same region and store (after the first one stopped). */
  restart(): Promise<ServiceHandle>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  machines?: number;
  manualClock?: boolean;
  faults?: string;
  seed?: number;
  /** A store file in a temporary directory instead of :memory:. */
  fileStore?: boolean;
  config?: ConfigInput;
  /** prom-client's process and Node.js metrics (default off). */
  defaultMetrics?: boolean;
  /** The service's clock (its runs, their status observer, its probes); the system clock unless given. */
  clock?: Clock;
}

function memoryLogger(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString("utf8"));
      cb();
    },
  });
  return pino({ level: "debug" }, sink);
}

export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const manual = opts.manualClock === true;
  const sim = await startSimulator({
    machines: opts.machines ?? 12,
    zeroDuration: true,
    seed: opts.seed ?? 3,
    ...(manual ? { clock: "manual" as const } : {}),
    ...(opts.faults ? { faults: opts.faults } : {}),
  });
  const maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  const dir = opts.fileStore ? mkdtempSync(join(tmpdir(), "metalwave-service-test-")) : undefined;
  const store = openStore(dir ? join(dir, "metalwave.sqlite") : ":memory:", { writeBehindMs: 50 });
  const config = parseConfig({
    ...opts.config,
    layers: { enabled: false },
    rollout: { backoffMs: { base: 1, max: 5 }, ...opts.config?.rollout },
  });
  const logs: string[] = [];
  const logger = memoryLogger(logs);
  const start = () =>
    startService({
      store,
      maas,
      maasStats: () => maas.stats(),
      observeMaasRequests: (o) => maas.observeRequests(o),
      config,
      logger,
      token: TOKEN,
      port: 0,
      timeScale: 1000,
      observerPollMs: 5,
      heartbeatMs: 50,
      region: { kind: "simulated", url: sim.url },
      defaultMetrics: opts.defaultMetrics ?? false,
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
  let service = await start();

  const h: Harness = {
    sim,
    maas,
    store,
    get service() {
      return service;
    },
    logs,
    async api(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const token = o.token === undefined ? TOKEN : o.token;
      if (token !== null) headers["authorization"] = `Bearer ${token}`;
      let body: string | undefined;
      if (o.rawBody !== undefined) body = o.rawBody;
      else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers["content-type"] = "application/json";
      }
      const res = await fetch(service.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, json, text };
    },
    async until(done, what) {
      const deadline = Date.now() + 20_000;
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        if (manual) sim.advance(Infinity);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async restart() {
      service = await start();
      return service;
    },
    async close() {
      await service.stop().catch(() => undefined);
      store.close();
      await sim.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** A server-sent-events client over fetch: collects every event it reads. */
export interface EventClient {
  events: { id: string | undefined; type: string; data: Json }[];
  /** Comment lines (heartbeats) seen. */
  comments: number;
  waitFor(pred: (e: { type: string; data: Json }) => boolean, what: string): Promise<{ type: string; data: Json }>;
  close(): void;
}

export async function openEvents(url: string, token: string): Promise<EventClient> {
  const ac = new AbortController();
  const res = await fetch(`${url}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  if (res.status !== 200 || !res.body) throw new Error(`event stream answered ${res.status}`);
  const client: EventClient = {
    events: [],
    comments: 0,
    async waitFor(pred, what) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const hit = client.events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no event: ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => ac.abort(),
  };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let type = "message";
          let id: string | undefined;
          const data: string[] = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith(":")) client.comments++;
            else if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("id: ")) id = line.slice(4);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length) client.events.push({ id, type, data: JSON.parse(data.join("\n")) });
        }
      }
    } catch {
      // Aborted by close(), or the server ended the stream.
    }
  })();
  return client;
}
