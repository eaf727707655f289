/**
 * The API's OpenAPI 3.0.3 description, served at GET /api/v1/openapi.json. The paths
 * are written here (what each route does, its answers); every body and answer schema
 * is generated from the zod schemas in api-schemas.ts, the ones the routes validate
 * with, so the two cannot drift. zod's JSON Schema output (target openapi-3.0) is put
 * through `toOpenApi30`, which enforces 3.0.3's rules where JSON Schema differs (no
 * `type` arrays: `nullable`; no `const`, `$id`, `$schema`). `servers` is the address the
 * service listens on. test/service/openapi.test.ts validates the document with
 * @apidevtools/swagger-parser and holds it to the routes served, both ways.
 */
import { z } from "zod";
import { API_SCHEMAS } from "./api-schemas.ts";

const COMPONENTS = "#/components/schemas/";

/** A JSON Schema (draft 2020-12 or zod's openapi-3.0 output) made a valid OpenAPI 3.0.3 Schema Object. */
export function toOpenApi30(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toOpenApi30);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema as Record<string, unknown>)) {
    if (k === "$id" || k === "$schema") continue;
    if (k === "const") {
      out["enum"] = [v];
      continue;
    }
    if (k === "type" && Array.isArray(v)) {
      const types = v.filter((t) => t !== "null");
      if (types.length < v.length) out["nullable"] = true;
      if (types.length === 1) out["type"] = types[0];
      else if (types.length > 1) out["anyOf"] = types.map((t) => ({ type: t }));
      continue;
    }
    out[k] = typeof v === "object" ? toOpenApi30(v) : v;
  }
  // `nullable` with nothing to make nullable is meaningless in 3.0.3 (and `null` alone has no type there).
  if (out["nullable"] === true && Object.keys(out).length === 1) return {};
  return out;
}

function componentSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(API_SCHEMAS, { target: "openapi-3.0", uri: (id) => `${COMPONENTS}${id}`, unrepresentable: "throw" });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, toOpenApi30(s)]));
}

const json = (schema: object) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => ({ description, content: json(ref("Error")) });

const ERRORS = {
  "401": error("missing or wrong bearer token; nothing was done"),
};

const idParam = { name: "id", in: "path", required: true, description: "rollout id, e.g. 20250102-030405-a1b2", schema: { type: "string" } };
const systemIdParam = { name: "systemId", in: "path", required: true, description: "MAAS system_id of the machine", schema: { type: "string" } };

const control = (summary: string, description: string, body: string | undefined, extra: Record<string, object>) => ({
  post: {
    operationId: summary.split(" ")[0]!.toLowerCase() + "Rollout",
    summary,
    description,
    parameters: [idParam],
    ...(body ? { requestBody: { required: false, content: json(ref(body)) } } : {}),
    responses: {
      "202": { description: "accepted; the rollout as it is now", content: json(ref("RolloutDetail")) },
      "400": error("bad body (the message names the field)"),
      ...ERRORS,
      "404": error("no such rollout"),
      ...extra,
      "503": error("the service is stopping, or is a standby (STANDBY: send changes to the leader)"),
    },
  },
});

/** The document, its `servers` entry the service's own address (e.g. http://127.0.0.1:8640). */
export function openApiDocument(serverUrl = "http://127.0.0.1:8640") {
  return {
    openapi: "3.0.3",
    info: {
      title: "metalwave service API",
      version: "1",
      description:
        "Runs metalwave rollouts (MAAS machines in waves) one at a time and reports on them. " +
        "Every route but /healthz and the dashboard's files (/, /dashboard.js, /dashboard.css) needs `Authorization: Bearer <token>`. Errors are `{error: {code, message, details?}}`.",
    },
    servers: [{ url: serverUrl, description: "where this service listens (--listen)" }],
    security: [{ bearer: [] }],
    paths: {
      "/healthz": {
        get: {
          operationId: "health",
          summary: "liveness (no auth)",
          security: [],
          responses: {
            "200": { description: "serving; `role` says whether this process leads or is a standby on a shared PostgreSQL store", content: json(ref("Health")) },
            "503": { description: "stopping, or degraded after a failed run", content: json(ref("Health")) },
          },
        },
      },
      "/readyz": {
        get: {
          operationId: "ready",
          summary: "readiness (no auth): MAAS reachable and the key accepted; the error's message only with the token",
          security: [],
          responses: {
            "200": { description: "ready", content: json(ref("Readiness")) },
            "503": { description: "not ready (MAAS unreachable), stopping, or degraded", content: json(ref("Readiness")) },
          },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics",
          summary: "Prometheus metrics (text exposition format)",
          responses: { "200": { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } }, ...ERRORS },
        },
      },
      "/": {
        get: {
          operationId: "dashboard",
          summary: "the live dashboard page (no auth: it holds no data and asks for the token)",
          security: [],
          responses: { "200": { description: "HTML", content: { "text/html": { schema: { type: "string" } } } } },
        },
      },
      "/dashboard.js": {
        get: {
          operationId: "dashboardScript",
          summary: "the dashboard's script (an ES module; no auth)",
          security: [],
          responses: { "200": { description: "JavaScript", content: { "text/javascript": { schema: { type: "string" } } } } },
        },
      },
      "/constants.js": {
        get: {
          operationId: "dashboardConstants",
          summary: "a module the dashboard's script imports: its constants (no auth)",
          security: [],
          responses: { "200": { description: "JavaScript", content: { "text/javascript": { schema: { type: "string" } } } } },
        },
      },
      "/sse.js": {
        get: {
          operationId: "dashboardSse",
          summary: "a module the dashboard's script imports: its event-stream parser (no auth)",
          security: [],
          responses: { "200": { description: "JavaScript", content: { "text/javascript": { schema: { type: "string" } } } } },
        },
      },
      "/cells.js": {
        get: {
          operationId: "dashboardCells",
          summary: "a module the dashboard's script imports: the machines on one canvas (no auth)",
          security: [],
          responses: { "200": { description: "JavaScript", content: { "text/javascript": { schema: { type: "string" } } } } },
        },
      },
      "/page.js": {
        get: {
          operationId: "dashboardPage",
          summary: "a module the dashboard's script imports: errors, storage, token and formatting (no auth)",
          security: [],
          responses: { "200": { description: "JavaScript", content: { "text/javascript": { schema: { type: "string" } } } } },
        },
      },
      "/panels.js": {
        get: {
          operationId: "dashboardPanels",
          summary: "a module the dashboard's script imports: what it draws from what it read (no auth)",
          security: [],
          responses: { "200": { description: "JavaScript", content: { "text/javascript": { schema: { type: "string" } } } } },
        },
      },
      "/dashboard.css": {
        get: {
          operationId: "dashboardStyle",
          summary: "the dashboard's style sheet (no auth)",
          security: [],
          responses: { "200": { description: "CSS", content: { "text/css": { schema: { type: "string" } } } } },
        },
      },
      "/api/v1/openapi.json": {
        get: {
          operationId: "openapi",
          summary: "this document",
          responses: { "200": { description: "OpenAPI 3 document", content: json({ type: "object" }) }, ...ERRORS },
        },
      },
      "/api/v1/events": {
        get: {
          operationId: "events",
          summary: "server-sent events: `rollout` (state changes), `progress` (runner snapshots), `shutdown`; heartbeat comments",
          responses: { "200": { description: "an event stream", content: { "text/event-stream": { schema: { type: "string" } } } }, ...ERRORS },
        },
      },
      "/api/v1/rollouts": {
        get: {
          operationId: "listRollouts",
          summary: "every rollout in the store, newest first, and the live one",
          responses: { "200": { description: "rollouts", content: json(ref("RolloutList")) }, ...ERRORS },
        },
        post: {
          operationId: "startRollout",
          summary: "plan and start a new rollout; answers once it has started (or pre-flight refused it)",
          requestBody: { required: false, content: json(ref("StartBody")) },
          responses: {
            "201": { description: "started", headers: { Location: { schema: { type: "string" } } }, content: json(ref("RolloutDetail")) },
            "400": error("bad body (the message names the field)"),
            ...ERRORS,
            "409": error("a rollout is live here (ROLLOUT_ACTIVE)"),
            "422": error("pre-flight checks failed (PREFLIGHT_FAILED, details.findings) or nothing to deploy (EMPTY_FLEET); nothing was changed"),
            "502": error("MAAS failed"),
            "503": error("the service is stopping or degraded, or is a standby (STANDBY: send changes to the leader)"),
          },
        },
      },
      "/api/v1/rollouts/{id}": {
        get: {
          operationId: "getRollout",
          summary: "a rollout: state, waves, counts by phase and outcome, failures",
          parameters: [idParam],
          responses: { "200": { description: "the rollout", content: json(ref("RolloutDetail")) }, ...ERRORS, "404": error("no such rollout") },
        },
      },
      "/api/v1/rollouts/{id}/hosts": {
        get: {
          operationId: "listHosts",
          summary: "every planned machine of a rollout with its phase now, or (with `after`) only those whose phase changed since",
          description:
            "Phases are read from the journal's transitions. Pass an answer's `cursor` as `after` to get only the machines " +
            "whose phase changed after it (the dashboard does so on each progress event).",
          parameters: [idParam, { name: "after", in: "query", required: false, description: "a `cursor` from an earlier answer", schema: { type: "integer", minimum: 0 } }],
          responses: {
            "200": { description: "the machines", content: json(ref("HostsView")) },
            "400": error("`after` is not a non-negative integer"),
            ...ERRORS,
            "404": error("no such rollout"),
          },
        },
      },
      "/api/v1/rollouts/{id}/hosts/{systemId}": {
        get: {
          operationId: "getHost",
          summary: "one machine of a rollout: phase, outcome, last error, MAAS status, history from the journal",
          parameters: [idParam, systemIdParam],
          responses: { "200": { description: "the host", content: json(ref("HostDetail")) }, ...ERRORS, "404": error("no such rollout, or the machine has not started in it") },
        },
      },
      "/api/v1/rollouts/{id}/pause": control(
        "Pause the live rollout",
        "No new host starts; hosts in flight finish their current phase work. The run stays live until they have settled.",
        "ReasonBody",
        { "409": error("the rollout is not live here (ROLLOUT_NOT_ACTIVE)") },
      ),
      "/api/v1/rollouts/{id}/resume": control(
        "Resume the latest rollout",
        "A live paused run carries on; otherwise a new run continues the latest rollout from the store (run({resume: true})).",
        "EmptyBody",
        { "409": error("another rollout is live, it is already running, it is not the latest, it is finished, or its region is gone") },
      ),
      "/api/v1/maintenance": {
        get: {
          operationId: "getMaintenance",
          summary: "the re-provisioning or remediation pass running, the last one's result or error, and the remediation policy's switch",
          responses: { "200": { description: "maintenance", content: json(ref("Maintenance")) }, ...ERRORS },
        },
      },
      "/api/v1/reprovision": {
        post: {
          operationId: "reprovision",
          summary: "re-provision hosts (release with erase, re-commission if asked, redeploy, re-layer); spares take the roles of those that still fail; runs in the background",
          requestBody: { required: true, content: json(ref("ReprovisionBody")) },
          responses: {
            "202": { description: "started", content: json(ref("Maintenance")) },
            "400": error("bad body (the message names the field)"),
            ...ERRORS,
            "409": error("a rollout or another pass is running (ROLLOUT_ACTIVE), or the latest rollout is a deployment rollout left unfinished and not running (paused, or stopped with hosts in flight): resume or abort it first (ROLLOUT_NOT_ACTIVE)"),
            "503": error("the service is stopping or degraded, or is a standby (STANDBY: send changes to the leader)"),
          },
        },
      },
      "/api/v1/remediation": {
        post: {
          operationId: "remediate",
          summary: "one remediation pass by the config's policy (docs/remediation.md); runs in the background",
          requestBody: { required: false, content: json(ref("EmptyBody")) },
          responses: {
            "202": { description: "started", content: json(ref("Maintenance")) },
            ...ERRORS,
            "409": error("a rollout or another pass is running (ROLLOUT_ACTIVE), or the latest rollout is a deployment rollout left unfinished and not running (paused, or stopped with hosts in flight): resume or abort it first (ROLLOUT_NOT_ACTIVE)"),
            "503": error("the service is stopping or degraded, or is a standby (STANDBY: send changes to the leader)"),
          },
        },
      },
      "/api/v1/rollouts/{id}/abort": control(
        "Abort a rollout",
        "A live run aborts its hosts in flight. A paused rollout with nothing in flight is marked aborted.",
        "ReasonBody",
        { "409": error("finished, or unsettled hosts and not live here (resume it first)") },
      ),
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: componentSchemas(),
    },
  } as const;
}

/** The document for the default address (127.0.0.1:8640). */
export const OPENAPI = openApiDocument();
