/**
 * Small HTTP helpers over node:http: JSON replies, the error envelope, and reading a
 * JSON body through a zod schema into a 400 that names the field at fault.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import { ServiceError } from "./errors.ts";

/** Request bodies are small control messages; anything larger is refused. */
export const MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

export function errorBody(e: ServiceError): { error: { code: string; message: string; details?: unknown } } {
  return { error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } };
}

export function sendError(res: ServerResponse, e: ServiceError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, e.status, errorBody(e), headers);
}

async function readRaw(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > MAX_BODY_BYTES) throw new ServiceError("PAYLOAD_TOO_LARGE", `the request body is larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ServiceError("PAYLOAD_TOO_LARGE", `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** `overrides.0` style paths, as zod reports them, joined for people. */
function fieldOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(body)" : path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join(".").replace(/\.\[/g, "[");
}

/**
 * Reads and validates a JSON body. An empty body is `{}`, so every field of a body
 * schema can be optional. A body needs `Content-Type: application/json`.
 */
export async function readBody<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.infer<S>> {
  const text = await readRaw(req);
  let raw: unknown = {};
  if (text.trim() !== "") {
    const type = String(req.headers["content-type"] ?? "");
    if (!/^application\/json\b/i.test(type)) {
      throw new ServiceError("UNSUPPORTED_MEDIA_TYPE", `a request body must be JSON (Content-Type: application/json), got ${JSON.stringify(type || "none")}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ServiceError("BAD_REQUEST", `the request body is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const details = r.error.issues.map((i) => ({ field: fieldOf(i.path), message: i.message }));
    throw new ServiceError("BAD_REQUEST", details.map((d) => `${d.field}: ${d.message}`).join("; "), { details });
  }
  return r.data;
}
