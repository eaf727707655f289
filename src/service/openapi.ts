/**
 * The API's OpenAPI 3 description, written by hand as data and served at
 * GET /api/v1/openapi.json. test/service/openapi.test.ts holds it to the routes the
 * server serves, both ways; docs/service.md explains the same routes for people.
 */
import { FINDING_CODES } from "../roles/types.ts";

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

export const OPENAPI = {
  openapi: "3.0.3",
  info: {
    title: "metalwave service API",
    version: "1",
    description:
      "Runs metalwave rollouts (MAAS machines in waves) one at a time and reports on them. " +
      "Every route but /healthz and the dashboard's files (/, /dashboard.js, /dashboard.css) needs `Authorization: Bearer <token>`. Errors are `{error: {code, message, details?}}`.",
  },
  servers: [{ url: "http://127.0.0.1:8640" }],
  security: [{ bearer: [] }],
  paths: {
    "/healthz": {
      get: {
        operationId: "health",
        summary: "liveness (no auth)",
        security: [],
        responses: {
          "200": {
            description: "serving; role says whether this process leads (acts) or is a standby on a shared PostgreSQL store (serves reads)",
            content: json({ type: "object", properties: { status: { type: "string", enum: ["ok"] }, role: { type: "string", enum: ["leader", "standby"] } }, required: ["status", "role"] }),
          },
          "503": {
            description: "stopping, or degraded after a failed run",
            content: json({ type: "object", properties: { status: { type: "string", enum: ["stopping", "degraded"] }, role: { type: "string", enum: ["leader", "standby"] } } }),
          },
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
    schemas: {
      Error: {
        type: "object",
        required: ["error"],
        properties: {
          error: {
            type: "object",
            required: ["code", "message"],
            properties: { code: { type: "string" }, message: { type: "string" }, details: {} },
          },
        },
      },
      StartBody: {
        type: "object",
        additionalProperties: false,
        properties: { overrides: { type: "array", items: { type: "string", enum: [...FINDING_CODES] }, description: "pre-flight FAIL codes let through (journaled)" } },
      },
      ReasonBody: { type: "object", additionalProperties: false, properties: { reason: { type: "string", minLength: 1, maxLength: 500 } } },
      EmptyBody: { type: "object", additionalProperties: false },
      ReprovisionBody: {
        type: "object",
        additionalProperties: false,
        required: ["hosts"],
        properties: {
          hosts: { type: "array", minItems: 1, maxItems: 1000, items: { type: "string" }, description: "hostnames or system_ids" },
          reason: { type: "string", minLength: 1, maxLength: 500 },
          erase: { type: "string", enum: ["none", "quick", "secure"] },
          spares: { type: "boolean", description: "let spares take the roles of hosts that still fail (default true)" },
          recommission: { type: "boolean", description: "commission each host again after its release, for changed hardware; role rules and ceph disk tags are judged anew (default false)" },
        },
      },
      Maintenance: {
        type: "object",
        required: ["running", "last", "remediation"],
        properties: {
          running: {
            type: ["object", "null"],
            properties: {
              kind: { type: "string", enum: ["reprovision", "remediation"] },
              startedAt: { type: "string" },
              rolloutId: { type: "string", nullable: true, description: "the rollout the pass runs now; null until it has planned one" },
            },
          },
          last: {
            type: ["object", "null"],
            properties: {
              kind: { type: "string", enum: ["reprovision", "remediation"] },
              startedAt: { type: "string" },
              endedAt: { type: "string" },
              result: { description: "the reprovision run ({reprovision, replacements, replacement}) or remediation pass result, plus `resumed` (a rollout summary) when the pass first finished the maintenance rollout a stopped process left, and `resumedSpares` ({replacements, replacement}) when it then let spares take the roles of the hosts a re-provisioning left quarantined" },
              error: { type: ["object", "null"], properties: { code: { type: "string" }, message: { type: "string" } } },
            },
          },
          remediation: { type: "object", properties: { enabled: { type: "boolean" }, intervalMs: { type: "integer" } } },
        },
      },
      RolloutView: {
        type: "object",
        required: ["id", "state", "reason", "live", "createdAt", "updatedAt"],
        properties: {
          id: { type: "string", nullable: true },
          state: { type: "string", enum: ["planning", "running", "paused", "completed", "aborted", "failed"] },
          reason: { type: "string", nullable: true },
          live: { type: "boolean", description: "this process runs it now" },
          createdAt: { type: "string", nullable: true },
          updatedAt: { type: "string", nullable: true },
        },
      },
      RolloutList: {
        type: "object",
        required: ["rollouts", "active"],
        properties: { rollouts: { type: "array", items: ref("RolloutView") }, active: { allOf: [ref("RolloutView")], nullable: true } },
      },
      WaveProgress: {
        type: "object",
        required: ["index", "size", "settled", "failed"],
        properties: { index: { type: "integer" }, size: { type: "integer" }, settled: { type: "integer" }, failed: { type: "integer" } },
      },
      Progress: {
        type: "object",
        required: ["wave", "waves", "total", "settled", "inFlight", "byPhase", "byOutcome", "perWave", "maasRequests", "elapsedMs"],
        properties: {
          wave: { type: "integer" },
          waves: { type: "integer" },
          total: { type: "integer" },
          settled: { type: "integer" },
          inFlight: { type: "integer" },
          byPhase: { type: "object", additionalProperties: { type: "integer" } },
          byOutcome: { type: "object", additionalProperties: { type: "integer" } },
          perWave: { type: "array", items: ref("WaveProgress") },
          maasRequests: { type: "integer", nullable: true },
          elapsedMs: { type: "integer", nullable: true },
        },
      },
      HostFailure: {
        type: "object",
        required: ["systemId", "hostname", "outcome", "phase", "code", "message"],
        properties: {
          systemId: { type: "string" },
          hostname: { type: "string" },
          outcome: { type: "string", enum: ["quarantined", "aborted", "failed"] },
          phase: { type: "string" },
          code: { type: "string" },
          message: { type: "string" },
        },
      },
      RolloutDetail: {
        type: "object",
        required: ["rollout", "source", "progress", "failures"],
        properties: {
          rollout: ref("RolloutView"),
          source: { type: "string", enum: ["runner", "store"] },
          progress: { allOf: [ref("Progress")], nullable: true },
          failures: { type: "array", items: ref("HostFailure") },
        },
      },
      HostCell: {
        type: "object",
        required: ["systemId", "hostname", "wave", "zone", "roles", "phase"],
        properties: {
          systemId: { type: "string" },
          hostname: { type: "string" },
          wave: { type: "integer" },
          zone: { type: "string" },
          roles: { type: "array", items: { type: "string" } },
          phase: { type: "string", description: "the last transition's phase; `waiting` while the machine has not started" },
        },
      },
      HostsView: {
        type: "object",
        required: ["rolloutId", "full", "cursor", "phases", "budget", "kind", "hosts"],
        properties: {
          rolloutId: { type: "string" },
          full: { type: "boolean", description: "true: every planned machine; false: only those changed after `after`" },
          cursor: { type: "integer", description: "the journal position read up to; pass it as `after`" },
          phases: { type: "array", items: { type: "string" }, description: "every phase, in pipeline order" },
          budget: {
            type: "object",
            required: ["perWave", "total", "totalLimit", "perWaveLimits"],
            properties: {
              perWave: { oneOf: [{ type: "integer" }, { type: "string" }] },
              total: { oneOf: [{ type: "integer" }, { type: "string" }] },
              totalLimit: { type: "integer", description: "failed hosts (quarantined or failed) the rollout may have before it pauses" },
              perWaveLimits: { type: "array", items: { type: "integer" }, description: "the same per wave" },
            },
          },
          kind: {
            type: "string",
            enum: ["rollout", "reprovision", "replacement", "remediation"],
            description: "what the rollout is for: a deployment rollout, or a step of a re-provisioning or remediation pass",
          },
          hosts: { type: "array", items: ref("HostCell") },
        },
      },
      HostDetail: {
        type: "object",
        required: ["rolloutId", "systemId", "hostname", "wave", "roles", "phase", "outcome", "lastError", "maasStatus", "updatedAt", "history"],
        properties: {
          rolloutId: { type: "string" },
          systemId: { type: "string" },
          hostname: { type: "string" },
          wave: { type: "integer" },
          roles: { type: "array", items: { type: "string" } },
          phase: { type: "string" },
          outcome: { type: "string", nullable: true },
          lastError: { type: "object", nullable: true },
          maasStatus: { type: "object", nullable: true, properties: { code: { type: "integer" }, label: { type: "string" } } },
          updatedAt: { type: "string" },
          history: {
            type: "array",
            items: {
              type: "object",
              required: ["seq", "at", "kind", "data"],
              properties: { seq: { type: "integer" }, at: { type: "string" }, kind: { type: "string" }, data: {} },
            },
          },
        },
      },
    },
  },
} as const;
