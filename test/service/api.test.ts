/**
 * Request validation and routing: bodies checked by zod into 400s naming the field,
 * unknown paths 404, wrong methods 405, every error as {error: {code, message}}.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harness, type Harness } from "./helpers.ts";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h.close();
});

describe("service API validation and routing", () => {
  it("answers 400 naming the field for a bad start body, and starts nothing", async () => {
    const bad: { body?: unknown; rawBody?: string; headers?: Record<string, string>; field: string | RegExp }[] = [
      { body: { overrides: ["NOPE"] }, field: "overrides[0]" },
      { body: { overrides: "COUNT_SHORT" }, field: "overrides" },
      { body: { overides: ["COUNT_SHORT"] }, field: /overides/ },
      { body: [], field: "(body)" },
      { rawBody: "{not json", headers: { "content-type": "application/json" }, field: /not valid JSON/ },
    ];
    for (const b of bad) {
      const r = await h.api("POST", "/api/v1/rollouts", b);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe("BAD_REQUEST");
      if (typeof b.field === "string") {
        expect(r.json.error.message.startsWith(`${b.field}:`)).toBe(true);
        expect(r.json.error.details[0].field).toBe(b.field);
      } else {
        expect(r.json.error.message).toMatch(b.field);
      }
    }
    expect(h.store.listRollouts()).toEqual([]);
    expect(h.sim.stats().statusCounts).toEqual({ New: 12 });
  });

  it("answers 400 naming the field for a bad control body", async () => {
    for (const action of ["pause", "abort"]) {
      const r = await h.api("POST", `/api/v1/rollouts/x/${action}`, { body: { reason: 5 } });
      expect(r.status).toBe(400);
      expect(r.json.error.details[0].field).toBe("reason");
    }
    const r = await h.api("POST", "/api/v1/rollouts/x/resume", { body: { force: true } });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/force/);
  });

  it("refuses a non-JSON body with 415", async () => {
    const r = await h.api("POST", "/api/v1/rollouts", { rawBody: "overrides=COUNT_SHORT", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(r.status).toBe(415);
    expect(r.json.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("answers 404 for unknown paths and rollouts, 405 with Allow for wrong methods", async () => {
    const unknown = await h.api("GET", "/api/v1/nothing");
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });

    const rollout = await h.api("GET", "/api/v1/rollouts/20990101-000000-ffff");
    expect(rollout.status).toBe(404);
    expect(rollout.json.error.code).toBe("ROLLOUT_NOT_FOUND");

    const method = await h.api("DELETE", "/api/v1/rollouts");
    expect(method.status).toBe(405);
    expect(method.json.error.code).toBe("METHOD_NOT_ALLOWED");
    expect(method.headers.get("allow")).toBe("GET, POST");

    const pauseGet = await h.api("GET", "/api/v1/rollouts/x/pause");
    expect(pauseGet.status).toBe(405);
    expect(pauseGet.headers.get("allow")).toBe("POST");
  });

  it("answers 404 when pausing a rollout the store does not have", async () => {
    const r = await h.api("POST", "/api/v1/rollouts/20990101-000000-ffff/pause");
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe("ROLLOUT_NOT_FOUND");
  });
});
