// Shared fixtures and seams for the MAAS client tests.
import { readFileSync } from "node:fs";
import nock from "nock";
import { MaasClient } from "../../src/maas/client.ts";
import type { MaasClientOptions, RequestInfo } from "../../src/maas/client.ts";
import { HandClock } from "../fakes/clock.ts";
import type { NodeStatusCode } from "../../src/model/maas/status.ts";
import { STATUS_LABEL } from "../../src/model/maas/status.ts";

export const ORIGIN = "http://maas.test:5240";
export const API = "/MAAS/api/2.0";
export const CONSUMER_KEY = "Lq8cZ3vSxYb2Tn7Hk4";
export const TOKEN_KEY = "Wm5dR9fPzE1uGa6Jc2";
export const TOKEN_SECRET = "s3cr3tN9wQ2xV7bK4mZ8pL1hT6yF0dJa";
export const API_KEY = `${CONSUMER_KEY}:${TOKEN_KEY}:${TOKEN_SECRET}`;

const READY = JSON.parse(readFileSync(new URL("./fixtures/machine-ready.json", import.meta.url), "utf8")) as Record<string, unknown>;
export const EVENTS_PAGE = JSON.parse(readFileSync(new URL("./fixtures/events-page.json", import.meta.url), "utf8")) as Record<string, unknown>;

/** The realistic Ready machine, with the given status/owner/etc. */
export function machineJson(over: { system_id?: string; status?: NodeStatusCode; owner?: string | null; power_state?: string; [k: string]: unknown } = {}): Record<string, unknown> {
  const m = structuredClone(READY);
  const sid = over.system_id ?? (m.system_id as string);
  Object.assign(m, over, { system_id: sid, resource_uri: `${API}/machines/${sid}/` });
  if (over.status !== undefined) m.status_name = STATUS_LABEL[over.status];
  return m;
}

/**
 * The client's clock in these tests: hand-driven, each sleep moves it on and is recorded
 * (test/fakes/clock.ts). Its wall time starts at the real time, since the client's OAuth
 * timestamps come from it and a region checks them against its own clock.
 */
export type VirtualClock = HandClock;
export function virtualClock(): VirtualClock {
  return new HandClock(0, Date.now());
}

export interface Harness {
  client: MaasClient;
  clock: VirtualClock;
  requests: RequestInfo[];
}

export function harness(over: Partial<MaasClientOptions> = {}): Harness {
  const clock = virtualClock();
  const requests: RequestInfo[] = [];
  const client = new MaasClient({
    url: `${ORIGIN}/MAAS`,
    apiKey: API_KEY,
    clock,
    random: () => 1,
    requestsPerSecond: 0,
    retry: { attempts: 5, baseDelayMs: 100, maxDelayMs: 20_000 },
    onRequest: (i) => requests.push(i),
    ...over,
  });
  return { client, clock, requests };
}

export function maas(): nock.Scope {
  return nock(ORIGIN);
}

/** Parses `OAuth k="v", ...` into its parameters, keeping order. */
export function parseOAuthHeader(h: string): { scheme: string; params: [string, string][] } {
  const m = /^(\S+) (.*)$/.exec(h);
  if (!m) throw new Error(`not an auth header: ${h}`);
  const params = (m[2] ?? "").split(", ").map((kv): [string, string] => {
    const p = /^([a-z_]+)="([^"]*)"$/.exec(kv);
    if (!p) throw new Error(`bad param: ${kv}`);
    return [p[1] ?? "", p[2] ?? ""];
  });
  return { scheme: m[1] ?? "", params };
}

/** Form or query string → key → values (keeps repeated keys). */
export function multi(qs: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  new URLSearchParams(qs).forEach((v, k) => (out[k] ??= []).push(v));
  return out;
}

/** What a socket error looks like to axios (nock needs a real Error to emit it). */
export function netError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}
