/**
 * The OpenAPI description is a valid OpenAPI 3.0.3 document (swagger-parser), generated
 * from the zod schemas the routes validate with, with `servers` the address listened on;
 * it and the routes the server serves are the same set, both ways; every documented
 * route answers (not the router's 404/405); real answers parse with the answer schemas.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import SwaggerParser from "@apidevtools/swagger-parser";
import type { z } from "zod";
import { apiSchemas, OPENAPI, openApiDocument, toOpenApi30 } from "../../src/service/index.ts";
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

  it("is served at /api/v1/openapi.json with servers the address listened on", async () => {
    const r = await h.api("GET", "/api/v1/openapi.json");
    expect(r.status).toBe(200);
    expect(r.json.servers).toEqual([{ url: h.service.url, description: expect.any(String) }]);
    expect(r.json).toEqual(JSON.parse(JSON.stringify(openApiDocument(h.service.url))));
    expect(r.json.openapi).toBe("3.0.3");
  });

  it("is a valid OpenAPI 3.0.3 document (swagger-parser), with no JSON Schema `type` arrays", async () => {
    const served = (await h.api("GET", "/api/v1/openapi.json")).json;
    await expect(SwaggerParser.validate(served)).resolves.toBeDefined();
    expect(JSON.stringify(served)).not.toMatch(/"type":\[/);
    // The validator does reject what JSON Schema allows and 3.0.3 does not (the old document's fault).
    const broken = JSON.parse(JSON.stringify(served));
    broken.components.schemas.Maintenance.properties.running = { type: ["object", "null"] };
    await expect(SwaggerParser.validate(broken)).rejects.toThrow();
  });

  it("adapts JSON Schema to OpenAPI 3.0.3: type arrays become nullable, const an enum, $id and $schema go", () => {
    expect(toOpenApi30({ $schema: "x", $id: "y", type: ["object", "null"], properties: { k: { const: "a" }, n: { type: ["integer", "string"] } } })).toEqual({
      type: "object",
      nullable: true,
      properties: { k: { enum: ["a"] }, n: { anyOf: [{ type: "integer" }, { type: "string" }] } },
    });
  });

  it("documents the request bodies the routes validate with: the same schemas", () => {
    const schemas = OPENAPI.components.schemas as Record<string, { properties?: Record<string, unknown>; additionalProperties?: unknown; required?: string[] }>;
    expect(Object.keys(schemas.ReprovisionBody!.properties!)).toEqual(Object.keys(apiSchemas.ReprovisionBody.shape));
    expect(schemas.ReprovisionBody!.required).toEqual(["hosts"]);
    expect(schemas.StartBody!.additionalProperties).toBe(false);
  });

  it("answers as the answer schemas say (strict: no field they lack)", async () => {
    const parse = (schema: z.ZodType, body: unknown, what: string) => {
      const r = schema.safeParse(body);
      expect(r.success ? [] : r.error.issues, what).toEqual([]);
    };
    parse(apiSchemas.Health, (await h.api("GET", "/healthz")).json, "healthz");
    parse(apiSchemas.Readiness, (await h.api("GET", "/readyz")).json, "readyz");
    parse(apiSchemas.ErrorAnswer, (await h.api("GET", "/api/v1/rollouts/nosuch")).json, "error");
    parse(apiSchemas.Maintenance, (await h.api("GET", "/api/v1/maintenance")).json, "maintenance");
    const started = await h.api("POST", "/api/v1/rollouts", { body: {} });
    expect(started.status).toBe(201);
    parse(apiSchemas.RolloutDetail, started.json, "start");
    const id = started.json.rollout.id as string;
    await h.until(async () => (await h.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.state === "completed", "the rollout completes");
    parse(apiSchemas.RolloutDetail, (await h.api("GET", `/api/v1/rollouts/${id}`)).json, "detail");
    parse(apiSchemas.RolloutList, (await h.api("GET", "/api/v1/rollouts")).json, "list");
    const hosts = (await h.api("GET", `/api/v1/rollouts/${id}/hosts`)).json;
    parse(apiSchemas.HostsView, hosts, "hosts");
    parse(apiSchemas.HostDetail, (await h.api("GET", `/api/v1/rollouts/${id}/hosts/${hosts.hosts[0].systemId}`)).json, "host");
  }, 60_000);

  it("has a route answering for every documented path and method", async () => {
    const before = h.store.listRollouts().length;
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
    expect(h.store.listRollouts().length).toBe(before);
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
