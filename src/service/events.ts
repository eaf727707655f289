/**
 * Server-sent events: every connected client gets each event as
 * `id: N\nevent: TYPE\ndata: JSON\n\n`, and a comment line as a heartbeat so proxies
 * and clients can tell a quiet stream from a dead one. A client that disconnects is
 * dropped at once; one that stops reading (its socket buffer keeps growing) is
 * dropped too, so a stuck client cannot make the service hold progress in memory.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { wallDate, type Clock } from "../clock.ts";

/** Bytes a client may leave unread before it is dropped. */
export const MAX_UNREAD_BYTES = 1024 * 1024;

export type ServiceEventType = "progress" | "rollout" | "maintenance" | "shutdown";

interface Client {
  id: number;
  res: ServerResponse;
}

export class EventHub {
  private readonly clients = new Map<number, Client>();
  private nextClient = 1;
  private seq = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly log: Logger;
  private closed = false;

  private readonly clock: Clock;

  constructor(opts: { heartbeatMs: number; logger: Logger; clock: Clock }) {
    this.log = opts.logger;
    this.clock = opts.clock;
    this.heartbeat = setInterval(() => this.writeAll(`: heartbeat ${wallDate(this.clock).toISOString()}\n\n`), opts.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over the response as an event stream; `first` events go to this client only, before any other. */
  connect(req: IncomingMessage, res: ServerResponse, first: { type: ServiceEventType; data: unknown }[]): void {
    if (this.closed) {
      res.writeHead(503).end();
      return;
    }
    const client: Client = { id: this.nextClient++, res };
    // The connection serves this stream only: when the stream ends, so does the connection.
    res.shouldKeepAlive = false;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    // Reconnecting clients wait this long (ms) before trying again.
    res.write("retry: 2000\n\n");
    for (const e of first) res.write(this.frame(e.type, e.data));
    this.clients.set(client.id, client);
    // The response closes when the client goes away (or the stream is ended here).
    const drop = () => this.drop(client.id);
    req.socket.on("close", drop);
    res.on("close", drop);
    res.on("error", drop);
    this.log.debug({ client: client.id, clients: this.clients.size }, "event stream opened");
  }

  publish(type: ServiceEventType, data: unknown): void {
    if (this.clients.size === 0) {
      this.seq++;
      return;
    }
    this.writeAll(this.frame(type, data));
  }

  /** Sends `shutdown` to every client and ends their streams. */
  close(): void {
    if (this.closed) return;
    this.publish("shutdown", { at: wallDate(this.clock).toISOString() });
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const c of [...this.clients.values()]) {
      c.res.end();
      this.drop(c.id);
    }
  }

  private frame(type: ServiceEventType, data: unknown): string {
    return `id: ${++this.seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private writeAll(text: string): void {
    for (const c of [...this.clients.values()]) {
      if (c.res.writableLength > MAX_UNREAD_BYTES) {
        this.log.warn({ client: c.id }, "dropping an event-stream client that stopped reading");
        c.res.destroy();
        this.drop(c.id);
        continue;
      }
      c.res.write(text);
    }
  }

  private drop(id: number): void {
    if (this.clients.delete(id)) this.log.debug({ client: id, clients: this.clients.size }, "event stream closed");
  }
}
