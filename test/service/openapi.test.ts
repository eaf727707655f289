/**
 * The OpenAPI description and the routes the server serves are the same set, both
 * ways; every documented route answers (not the router's 404/405); every $ref resolves.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPENAPI } from "../../src/service/index.ts";
import { harness, TOKEN, type Harness } from "./helpers.ts";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.close();
});

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];

function documented(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((k) => METHODS.includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

describe("the OpenAPI description", () => {
  it("lists exactly the routes the server serves", () => {
    const served = h.service.routes().map((r) => `${r.method} ${r.path}`).sort();
    expect(documented(OPENAPI as unknown as { paths: Record<string, Record<string, unknown>> })).toEqual(served);
    expect(new Set(served).size).toBe(served.length);
  });

  it("is served at /api/v1/openapi.json as written", async () => {
    const r = await h.api("GET", "/api/v1/openapi.json");
    expect(r.status).toBe(200);
    expect(r.json).toEqual(JSON.parse(JSON.stringify(OPENAPI)));
    expect(r.json.openapi).toMatch(/^3\./);
  });

  it("has a route answering for every documented path and method", async () => {
    for (const line of documented(OPENAPI as unknown as { paths: Record<string, Record<string, unknown>> })) {
      const [method, template] = line.split(" ") as [string, string];
      const path = template.replace("{id}", "20990101-000000-ffff").replace("{systemId}", "nosuch");
      if (path === "/api/v1/events") {
        const ac = new AbortController();
        const res = await fetch(h.service.url + path, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ac.signal });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
        ac.abort();
        continue;
      }
      // A POST gets a body with an unknown field: the route validates it, and nothing starts.
      const r = await h.api(method, path, method === "POST" ? { body: { bogus: 1 } } : {});
      expect({ line, code: r.json?.error?.code ?? "ok" }).not.toMatchObject({ code: expect.stringMatching(/^(NOT_FOUND|METHOD_NOT_ALLOWED)$/) });
      if (method === "POST") expect({ line, status: r.status }).toEqual({ line, status: 400 });
    }
    expect(h.store.listRollouts()).toEqual([]);
  });

  it("resolves every $ref and names an operationId once per operation", () => {
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) {
          if (k === "$ref" && typeof x === "string") refs.push(x);
          else walk(x);
        }
      }
    };
    walk(OPENAPI);
    expect(refs.length).toBeGreaterThan(0);
    const schemas = OPENAPI.components.schemas as Record<string, unknown>;
    for (const r of refs) expect(schemas[r.replace("#/components/schemas/", "")], r).toBeDefined();
    const ids = Object.values(OPENAPI.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(ids.every((x) => typeof x === "string")).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("docs/service.md names every route and every metalwave_ metric", async () => {
    const doc = readFileSync(new URL("../../docs/service.md", import.meta.url), "utf8");
    for (const r of h.service.routes()) expect(doc, `${r.method} ${r.path}`).toContain(`\`${r.method} ${r.path}\``);
    const names = (await h.service.metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith("metalwave_"));
    expect(names.length).toBeGreaterThan(5);
    for (const n of names) expect(doc, n).toContain(`\`${n}\``);
  });
});
