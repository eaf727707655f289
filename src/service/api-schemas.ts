/**
 * The API's schemas, in zod: the request bodies the routes validate with (readBody in
 * server.ts) and the answers they send. openapi.ts generates the OpenAPI document from
 * these same schemas (zod's JSON Schema output, adapted to OpenAPI 3.0.3), so the
 * document cannot drift from what is validated; test/service/openapi.test.ts parses
 * real answers with the answer schemas (strict: a field the schema lacks fails it).
 */
import { z } from "zod";
import { FINDING_CODES } from "../roles/types.ts";

/** Every schema named in the document's components, by its name there. */
export const API_SCHEMAS = z.registry<{ id: string }>();

function named<T extends z.ZodType>(id: string, schema: T): T {
  API_SCHEMAS.add(schema, { id });
  return schema;
}

const int = () => z.number().int().min(0);
/** A wave's number: every answer counts waves from 1, as the CLI, `status` and the dashboard do. */
const waveNumber = () => z.number().int().min(1).meta({ description: "counting from 1" });
const reason = () => z.string().trim().min(1).max(500);
const MAINTENANCE_KINDS = ["reprovision", "remediation"] as const;

// ---- request bodies -----------------------------------------------------------------

export const StartBody = named(
  "StartBody",
  z.strictObject({ overrides: z.array(z.enum(FINDING_CODES)).max(FINDING_CODES.length).optional().meta({ description: "pre-flight FAIL codes let through (journaled)" }) }),
);
export const ReasonBody = named("ReasonBody", z.strictObject({ reason: reason().optional() }));
export const EmptyBody = named("EmptyBody", z.strictObject({}));
export const ReprovisionBody = named(
  "ReprovisionBody",
  z.strictObject({
    hosts: z.array(z.string().trim().min(1).max(255)).min(1).max(1000).meta({ description: "hostnames or system_ids" }),
    reason: reason().optional(),
    erase: z.enum(["none", "quick", "secure"]).optional().meta({ description: "how the disks are erased on release (default quick)" }),
    spares: z.boolean().optional().meta({ description: "let spares take the roles of hosts that still fail (default true)" }),
    recommission: z.boolean().optional().meta({ description: "commission each host again after its release, for changed hardware; role rules and ceph disk tags are judged anew (default false)" }),
  }),
);

// ---- answers ------------------------------------------------------------------------

export const ErrorAnswer = named(
  "Error",
  z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string(), details: z.unknown().optional() }) }),
);

/** `role`: whether this process leads (acts) or is a standby on a shared PostgreSQL store (serves reads). */
export const Health = named("Health", z.strictObject({ status: z.enum(["ok", "stopping", "degraded"]), role: z.enum(["leader", "standby"]) }));

export const Readiness = named(
  "Readiness",
  z.strictObject({
    status: z.enum(["ready", "not ready", "stopping", "degraded"]),
    unreachable: z.array(z.enum(["maas"])).meta({ description: "the dependencies the last probes could not reach" }),
    checks: z.strictObject({
      maas: z.strictObject({
        ok: z.boolean(),
        checkedAt: z.string(),
        latencyMs: z.number().min(0),
        error: z.strictObject({ code: z.string(), message: z.string().optional().meta({ description: "only with the token" }) }).optional(),
      }),
    }),
  }),
);

export const Region = named(
  "Region",
  z.strictObject({
    simulated: z.boolean().meta({ description: "true: the embedded simulated region (made-up machines, nothing real touched)" }),
    url: z.string(),
    note: z.string().optional().meta({ description: "only on a simulated region: what it is, in words" }),
  }),
);

export const RolloutView = named(
  "RolloutView",
  z.strictObject({
    id: z.string().nullable().meta({ description: "null while the first run is still planning" }),
    state: z.enum(["planning", "running", "paused", "completed", "aborted", "failed"]),
    reason: z.string().nullable(),
    live: z.boolean().meta({ description: "this process runs it now" }),
    createdAt: z.string().nullable(),
    updatedAt: z.string().nullable(),
    region: Region.nullable().meta({ description: "the region the rollout ran against, as recorded with it (`simulated: true` for a rehearsal); null for a rollout an older metalwave recorded without one" }),
  }),
);

export const RolloutList = named("RolloutList", z.strictObject({ rollouts: z.array(RolloutView), active: RolloutView.nullable() }));

export const WaveProgress = named("WaveProgress", z.strictObject({ index: waveNumber(), size: int(), settled: int(), failed: int() }));

export const Progress = named(
  "Progress",
  z.strictObject({
    wave: waveNumber().meta({ description: "the first wave not yet settled (the last once all are), counting from 1" }),
    waves: int(),
    total: int(),
    settled: int(),
    inFlight: int(),
    byPhase: z.record(z.string(), int()),
    byOutcome: z.record(z.string(), int()),
    perWave: z.array(WaveProgress),
    maasRequests: int().nullable().meta({ description: "MAAS requests of the live run (null when read from the store)" }),
    elapsedMs: z.number().min(0).nullable().meta({ description: "time since the live run started or resumed (null when read from the store)" }),
    regionsDown: z.array(z.string()).optional().meta({ description: "live run over several regions: the regions not answering now (their hosts wait)" }),
    waitingOnRegion: int()
      .optional()
      .meta({ description: "live run over several regions: hosts in flight at a resume whose region was away, held until it answers (restored then)" }),
    regionsUnplanned: z
      .array(z.string())
      .optional()
      .meta({ description: "live run over several regions: regions away when the rollout was planned; each one's hosts are planned and join the waves once it answers" }),
  }),
);

export const HostFailure = named(
  "HostFailure",
  z.strictObject({
    systemId: z.string(),
    region: z.string().nullable().meta({ description: "several regions (`regions:`): the host's region, also the prefix of its key `<region>/<system_id>`; null with one region" }),
    hostname: z.string(),
    outcome: z.enum(["quarantined", "aborted", "refused", "failed"]).meta({ description: "refused: its re-provisioning was refused before anything was changed (code LAYER_REFUSED; the message says why and how to go on); not a failure, spends no budget" }),
    phase: z.string(),
    code: z.string(),
    message: z.string(),
  }),
);

export const RolloutDetail = named(
  "RolloutDetail",
  z.strictObject({
    rollout: RolloutView,
    source: z.enum(["runner", "store"]).meta({ description: "runner: the live runner's own counts; store: the hosts' records" }),
    progress: Progress.nullable(),
    failures: z.array(HostFailure),
  }),
);

export const HostCell = named(
  "HostCell",
  z.strictObject({
    systemId: z.string(),
    region: z.string().nullable().meta({ description: "several regions (`regions:`): the host's region, also the prefix of its key `<region>/<system_id>`; null with one region" }),
    hostname: z.string(),
    wave: waveNumber(),
    zone: z.string(),
    roles: z.array(z.string()),
    phase: z.string().meta({ description: "the last transition's phase; `waiting` while the machine has not started" }),
  }),
);

const budgetValue = z.union([z.number().int().min(0), z.string()]);

export const HostsView = named(
  "HostsView",
  z.strictObject({
    rolloutId: z.string(),
    full: z.boolean().meta({ description: "true: every planned machine; false: only those changed after `after`" }),
    cursor: int().meta({ description: "the journal position read up to; pass it as `after`" }),
    phases: z.array(z.string()).meta({ description: "every phase, in pipeline order" }),
    budget: z.strictObject({
      perWave: budgetValue,
      total: budgetValue,
      totalLimit: int().meta({ description: "failed hosts (quarantined or failed) the rollout may have before it pauses" }),
      perWaveLimits: z.array(int()).meta({ description: "the same per wave: item i is wave i + 1's limit" }),
      perRegionLimits: z.record(z.string(), int()).meta({ description: "several regions: the same per region (`rollout.budget.perRegion`, else the total's spec, of that region's hosts); {} with one region" }),
    }),
    kind: z.enum(["rollout", "reprovision", "replacement", "remediation"]).meta({ description: "what the rollout is for: a deployment rollout, or a step of a re-provisioning or remediation pass" }),
    maasMachineUrl: z.string().nullable().meta({ description: "a machine's page in the MAAS web UI, `{systemId}` standing for its system_id; null when the region has no UI (the embedded simulator) or with several regions" }),
    regionMachineUrls: z.record(z.string(), z.string()).meta({ description: "several regions: each region's machine page by region name, `{systemId}` standing for the machine's system_id within its region (the host key without `<region>/`); {} with one region" }),
    hosts: z.array(HostCell),
  }),
);

export const HostDetail = named(
  "HostDetail",
  z.strictObject({
    rolloutId: z.string(),
    systemId: z.string(),
    region: z.string().nullable().meta({ description: "several regions (`regions:`): the host's region, also the prefix of its key `<region>/<system_id>`; null with one region" }),
    hostname: z.string(),
    wave: waveNumber(),
    roles: z.array(z.string()),
    phase: z.string(),
    outcome: z.string().nullable(),
    lastError: z.unknown().meta({ description: "the last error ({phase, code, message, ...}) or null" }),
    maasStatus: z.strictObject({ code: z.number().int(), label: z.string() }).nullable().meta({ description: "the last MAAS status the runner saw" }),
    updatedAt: z.string(),
    history: z.array(z.strictObject({ seq: int(), at: z.string(), kind: z.string(), data: z.unknown() })).meta({ description: "the host's journal entries, oldest first" }),
  }),
);

export const Maintenance = named(
  "Maintenance",
  z.strictObject({
    running: z
      .strictObject({
        kind: z.enum(MAINTENANCE_KINDS),
        startedAt: z.string(),
        rolloutId: z.string().nullable().meta({ description: "the rollout the pass runs now; null until it has planned one" }),
      })
      .nullable(),
    last: z
      .strictObject({
        kind: z.enum(MAINTENANCE_KINDS),
        startedAt: z.string(),
        endedAt: z.string(),
        result: z.unknown().meta({
          description:
            "the reprovision run ({reprovision, replacements, replacement}) or remediation pass result, plus `resumed` (a rollout summary) when the pass first finished the maintenance rollout a stopped process left, and `resumedSpares` ({replacements, replacement}) when it then let spares take the roles of the hosts a re-provisioning left quarantined",
        }),
        error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
      })
      .nullable(),
    remediation: z.strictObject({ enabled: z.boolean(), intervalMs: z.number().int().positive() }),
  }),
);
