/**
 * The stored rollout plan: one versioned schema, its upgrade step and the one reader
 * every part of metalwave uses (the runner on resume, the maintenance passes, the
 * service's read models and metrics). The store keeps the plan as written; what a reader
 * gets is always the current version, checked.
 *
 * Versions:
 * - 1 (no `version` field): written before disks and bulk tagging; `hosts` may be
 *   absent (the oldest plans kept only `waves`). Upgraded to 2 with no disk changes,
 *   `machineTagsSynced: false` (each host tags itself, as it was planned) and, when
 *   `hosts` is absent, hosts named by their system ids from `waves`.
 * - 2: the current version, `RolloutPlan` in src/runtime/deployment-plan.ts plus the
 *   maintenance fields (`prepare`, `spares`).
 */
import type { HostLayout } from "../../roles/layout-plan.ts";
import { z } from "zod";
import { MetalwaveError } from "../../errors.ts";
import type { RoleRecheck } from "../../roles/recheck.ts";
import type { RolloutPlan } from "../deployment-plan.ts";
import type { PlanPrepare } from "../plan-prepare.ts";

export const ROLLOUT_PLAN_VERSION = 2;

export class StoredDocumentError extends MetalwaveError<"STORED_DOCUMENT_INVALID"> {
  readonly code = "STORED_DOCUMENT_INVALID" as const;
}

const DiskTagChange = z.object({
  deviceId: z.number().int(),
  deviceName: z.string(),
  tag: z.string(),
  action: z.enum(["add", "remove"]),
});

const Recheck = z.custom<RoleRecheck>(
  (v) => typeof v === "object" && v !== null && Array.isArray((v as { match?: unknown }).match) && Array.isArray((v as { diskTags?: unknown }).diskTags) && Array.isArray((v as { cephDisks?: unknown }).cephDisks),
  "a role recheck: { match, diskTags, cephDisks }",
);

const Reprovision = z.object({
  erase: z.enum(["none", "quick", "secure"]),
  recommission: z.boolean().optional(),
  /** Leave Juju even with database or queue pods on the host's Kubernetes node (`reprovision --force`; src/layers/drain.ts). */
  force: z.boolean().optional(),
  /** Broken and never commissioned successfully: commissioned from Broken (a remediation pass). */
  commissionFromBroken: z.boolean().optional(),
  recheck: Recheck.optional(),
});

/** A host's planned layout (src/roles/layout-plan.ts), checked for its shape's top level. */
const Layout = z.custom<HostLayout>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    ["bonds", "vlans", "links", "interfaces"].every((k) => Array.isArray((v as Record<string, unknown>)[k])) &&
    "storage" in v &&
    "networks" in v,
  { message: "expected a host layout (bonds, vlans, links, interfaces, storage, networks)" },
);

const PlannedHost = z.object({
  systemId: z.string().min(1),
  /** Several regions: the host's region (plans before it have none; the key's prefix says the same). */
  region: z.string().optional(),
  hostname: z.string(),
  zone: z.string().default(""),
  wave: z.number().int().nonnegative(),
  roles: z.array(z.string()).default([]),
  disks: z.array(DiskTagChange).default([]),
  reprovision: Reprovision.optional(),
  layout: Layout.optional(),
});

const Prepare = z.object({
  markFixed: z.array(z.object({ systemId: z.string(), hostname: z.string(), comment: z.string() })).optional(),
  tags: z.array(z.object({ tag: z.string(), add: z.array(z.string()), remove: z.array(z.string()) })).optional(),
  done: z.object({ data: z.record(z.string(), z.unknown()), alsoUnder: z.string().optional() }).optional(),
});

/** Version 2. Fields a newer build adds are kept (loose), so reading and writing back loses nothing. */
const PlanV2 = z.looseObject({
  version: z.literal(2),
  deployment: z.string(),
  scopeTag: z.string(),
  machineTagsSynced: z.boolean().default(false),
  hosts: z.array(PlannedHost),
  waves: z.array(z.array(z.string())),
  kind: z.enum(["rollout", "reprovision", "replacement", "remediation"]).optional(),
  reason: z.string().optional(),
  layerPeers: z.array(z.object({ systemId: z.string(), hostname: z.string(), roles: z.array(z.string()) })).optional(),
  prepare: Prepare.optional(),
  spares: z.boolean().optional(),
  regionsUnplanned: z.array(z.string()).optional(),
});

/** Version 1: what the upgrade step reads. */
const PlanV1 = z.looseObject({
  deployment: z.string().default(""),
  scopeTag: z.string().default(""),
  hosts: z.array(z.looseObject({ systemId: z.string(), hostname: z.string().optional(), zone: z.string().optional(), wave: z.number().int().nonnegative().optional(), roles: z.array(z.string()).optional() })).optional(),
  waves: z.array(z.array(z.string())).default([]),
});

/** The stored plan as every reader sees it: the current version with the maintenance fields. */
export type StoredPlan = RolloutPlan & { prepare?: PlanPrepare; spares?: boolean };

// The schema describes the same document the runtime's types do.
type PlanFromSchema = z.infer<typeof PlanV2>;
const _planMatches = (p: PlanFromSchema): StoredPlan => p;
void _planMatches;

export type RolloutKind = NonNullable<RolloutPlan["kind"]>;

/** Brings a version 1 plan to version 2. */
export function upgradePlanV1(v1: z.infer<typeof PlanV1>): z.input<typeof PlanV2> {
  const hosts =
    v1.hosts?.map((h) => ({ systemId: h.systemId, hostname: h.hostname ?? h.systemId, zone: h.zone ?? "", wave: h.wave ?? 0, roles: h.roles ?? [], disks: [] })) ??
    v1.waves.flatMap((w, wave) => w.map((systemId) => ({ systemId, hostname: systemId, zone: "", wave, roles: [], disks: [] })));
  return { ...v1, version: 2, deployment: v1.deployment, scopeTag: v1.scopeTag, machineTagsSynced: false, hosts, waves: v1.waves };
}

function issue(e: z.ZodError): string {
  const first = e.issues[0];
  if (!first) return "invalid";
  return `${first.path.length ? first.path.map(String).join(".") : "(root)"}: ${first.message}`;
}

/**
 * The one reader of a stored plan: checks it, upgrades an older version, refuses a newer
 * one or a damaged one with a StoredDocumentError naming the rollout and the field.
 */
export function readRolloutPlan(raw: unknown, rolloutId: string): StoredPlan {
  const where = `the plan of rollout ${rolloutId}`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new StoredDocumentError(`${where} is not an object`);
  const version = (raw as { version?: unknown }).version;
  let body: unknown = raw;
  if (version === undefined || version === 1) {
    const v1 = PlanV1.safeParse(raw);
    if (!v1.success) throw new StoredDocumentError(`${where} (version 1) is invalid: ${issue(v1.error)}`, { cause: v1.error });
    body = upgradePlanV1(v1.data);
  } else if (typeof version === "number" && version > ROLLOUT_PLAN_VERSION) {
    throw new StoredDocumentError(`${where} is version ${version}, written by a newer metalwave (this one reads up to ${ROLLOUT_PLAN_VERSION})`);
  } else if (version !== ROLLOUT_PLAN_VERSION) {
    throw new StoredDocumentError(`${where} has version ${JSON.stringify(version)}, not one metalwave wrote`);
  }
  const plan = PlanV2.safeParse(body);
  if (!plan.success) throw new StoredDocumentError(`${where} is invalid: ${issue(plan.error)}`, { cause: plan.error });
  return plan.data;
}

/** A stored plan's kind; absent (a deployment rollout) is `rollout`. */
export function planKind(plan: StoredPlan): RolloutKind {
  return plan.kind ?? "rollout";
}
