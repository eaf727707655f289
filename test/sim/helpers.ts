// A tiny MAAS client for the simulator tests: plain fetch plus an OAuth 1.0 PLAINTEXT
// header, so these tests do not depend on src/maas/client.ts.
import { startSimulator } from "../../src/sim/index.ts";
import type { SimHandle, SimOptions } from "../../src/sim/index.ts";

let nonceCounter = 0;

export function oauthHeader(apiKey: string, over: { nonce?: string; timestamp?: number; secret?: string; consumer?: string } = {}): string {
  const [consumer = "", token = "", secret = ""] = apiKey.split(":");
  const ts = over.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = over.nonce ?? `n${process.pid}-${nonceCounter++}`;
  return (
    `OAuth realm="", oauth_version="1.0", oauth_signature_method="PLAINTEXT", ` +
    `oauth_consumer_key="${over.consumer ?? consumer}", oauth_token="${token}", ` +
    `oauth_signature="%26${encodeURIComponent(over.secret ?? secret)}", oauth_nonce="${nonce}", oauth_timestamp="${ts}"`
  );
}

export type Form = Record<string, string | number | boolean | readonly string[]>;

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export class Maas {
  readonly sim: SimHandle;
  constructor(sim: SimHandle) {
    this.sim = sim;
  }

  async call(method: string, path: string, opts: { query?: Form; form?: Form; multipart?: boolean; auth?: string | null } = {}): Promise<Res> {
    const url = new URL(`${this.sim.url}/api/2.0/${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) for (const x of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(x));
    const headers: Record<string, string> = {};
    const auth = opts.auth === undefined ? oauthHeader(this.sim.apiKey) : opts.auth;
    if (auth !== null) headers.authorization = auth;
    let body: URLSearchParams | FormData | undefined;
    if (opts.form) {
      if (opts.multipart) {
        const fd = new FormData();
        for (const [k, v] of Object.entries(opts.form)) for (const x of Array.isArray(v) ? v : [v]) fd.append(k, String(x));
        body = fd;
      } else {
        const sp = new URLSearchParams();
        for (const [k, v] of Object.entries(opts.form)) for (const x of Array.isArray(v) ? v : [v]) sp.append(k, String(x));
        body = sp;
      }
    }
    const r = await fetch(url, { method, headers, body, redirect: "manual" });
    const text = await r.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, headers: r.headers, text, json };
  }

  get(path: string, query?: Form): Promise<Res> {
    return this.call("GET", path, { query });
  }
  post(path: string, form?: Form): Promise<Res> {
    return this.call("POST", path, { form });
  }
  put(path: string, form?: Form): Promise<Res> {
    return this.call("PUT", path, { form });
  }
  delete(path: string): Promise<Res> {
    return this.call("DELETE", path);
  }
  /** Machine op shorthand: POST machines/<sid>/?op=<op>. */
  op(sid: string, op: string, form?: Form): Promise<Res> {
    return this.call("POST", `machines/${sid}/`, { query: { op }, form });
  }
  async machine(sid: string): Promise<Res["json"]> {
    return (await this.get(`machines/${sid}/`)).json;
  }
}

/** A simulator on a manual clock (time moves only with `advance`), at realistic speed. */
export async function manualSim(opts: SimOptions = {}): Promise<{ sim: SimHandle; maas: Maas }> {
  const sim = await startSimulator({ machines: 6, seed: 42, clock: "manual", ...opts });
  return { sim, maas: new Maas(sim) };
}

export const MINUTE = 60_000;
