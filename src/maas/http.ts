/**
 * One HTTP exchange with MAAS over node:http(s): the request as given, the answer's
 * status, headers and body as text, whatever the status (the transport classifies it).
 * No redirect is followed (a redirect would re-send a POST blindly; MAAS does not
 * redirect its API) and no proxy is used (the MAAS region is reached directly, as the
 * rollout's own hosts reach it). A compressed answer is inflated, should a front end
 * compress although the request asks for none.
 *
 * Why not axios, which this replaced: the transport needs none of its features, and at
 * 100,000 machines its per-request configuration merging, header normalisation and
 * proxy lookups cost more CPU than the request itself (docs/bench.md, issue 12).
 * Connections are kept alive by Node's global agents (keepAlive is on by default).
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { Readable } from "node:stream";

export interface HttpExchange {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal: AbortSignal;
  /**
   * Takes a 2xx answer's body chunk by chunk as it arrives instead of collecting it (a
   * machine list read element by element, src/maas/json-array.ts); the answer's `body`
   * is then "". If it throws, the exchange stops and rejects with that error, wrapped
   * in a `SinkError` so that it is not taken for a network failure.
   */
  sink?: ((chunk: Buffer) => void) | undefined;
  /** Called when the answer starts and on each chunk of it (the transport's timeout counts from the last). */
  onProgress?: (() => void) | undefined;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The exchange's `sink` threw: `cause` is what it threw. */
export class SinkError extends Error {
  readonly code = "HTTP_SINK";
}

/** Sends one request; rejects with the socket's error (its `code`: ECONNREFUSED, ECONNRESET …) or the signal's reason. */
export function exchange(x: HttpExchange): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(x.url);
    const send = u.protocol === "https:" ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { ...x.headers };
    if (x.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(x.body));
    const req = send(u, { method: x.method, headers, signal: x.signal }, (res) => {
      x.onProgress?.();
      const chunks: Buffer[] = [];
      const status = res.statusCode ?? 0;
      const sink = status >= 200 && status < 300 ? x.sink : undefined;
      res.on("error", reject);
      const stream = decoded(res);
      let sunk = false;
      stream.on("data", (c: Buffer) => {
        x.onProgress?.();
        if (sink === undefined) {
          chunks.push(c);
          return;
        }
        if (sunk) return;
        try {
          sink(c);
        } catch (e) {
          sunk = true;
          reject(new SinkError(e instanceof Error ? e.message : String(e), { cause: e }));
          // Without an error: given one, a response already read whole re-emitted it where
          // nothing listens (an uncaught exception), and the promise is settled already.
          req.destroy();
        }
      });
      stream.on("error", reject);
      stream.on("end", () => resolve({ status, headers: res.headers, body: sink === undefined ? Buffer.concat(chunks).toString("utf8") : "" }));
    });
    req.on("error", reject);
    req.end(x.body);
  });
}

function decoded(res: IncomingMessage): Readable {
  switch ((res.headers["content-encoding"] ?? "").trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return res.pipe(createGunzip());
    case "deflate":
      return res.pipe(createInflate());
    case "br":
      return res.pipe(createBrotliDecompress());
    default:
      return res;
  }
}
