/**
 * The `roles` section of metalwave's config: which machines may be claimed into the
 * deployment, and per role the rules that pick its machines (facts to match, how
 * many, which first, spares, zone spread, ceph disks). Rules are data, so operators
 * can keep them in the config file or in machines/roles-*.yaml. docs/roles.md
 * documents every field; change both together.
 *
 * The five built-in roles always exist. A role named in `definitions` that is
 * built in is merged over the built-in one field by field (`match` and `prefer`
 * are replaced whole); giving any of count/min/max replaces the built-in's counts.
 */
import { z } from "zod";

export const BUILTIN_ROLES = ["juju-controller", "control", "storage", "network", "compute"] as const;
export type BuiltinRole = (typeof BUILTIN_ROLES)[number];

/** Role names become MAAS tag names; `metalwave-*` is reserved for scope and spare tags. */
const ROLE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const roleName = z
  .string()
  .regex(ROLE_NAME, "role names are lower-case letters, digits, - and _ (they become MAAS tag names)")
  .refine((n) => !n.startsWith("metalwave"), "names starting with 'metalwave' are reserved for scope and spare tags");

const percent = z.string().regex(/^\d+(\.\d+)?%$/, 'expected a whole number or a percentage such as "25%"');

const range = z
  .strictObject({ min: z.number().nonnegative().optional(), max: z.number().nonnegative().optional() })
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, "min is larger than max");
export type Range = z.infer<typeof range>;

/** A hostname glob (`*`, `?`, `[a-c]`) or, between slashes, a regular expression (`/^cmp-dc[12]-/i`). */
const hostnamePattern = z.string().min(1).superRefine((p, ctx) => {
  const re = /^\/(.*)\/([a-z]*)$/s.exec(p);
  if (re === null) return;
  try {
    new RegExp(re[1] ?? "", re[2]);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `not a valid regular expression: ${(e as Error).message}` });
  }
});

const diskKind = z.enum(["ssd", "hdd", "any"]);

/** Which disks count: every filter given must hold for a disk to count. */
const diskFilter = {
  minSizeGiB: z.number().nonnegative().optional(),
  maxSizeGiB: z.number().nonnegative().optional(),
  /** Leave out the boot disk. */
  nonBoot: z.boolean().optional(),
  kind: diskKind.optional(),
};

const diskMatch = z.strictObject({
  /** How many disks pass the filters; default at least one. */
  count: range.optional(),
  ...diskFilter,
});

const nicMatch = z.strictObject({
  /** How many physical interfaces pass the filters; default at least one. */
  count: range.optional(),
  /** Interfaces whose speed MAAS does not report never pass a speed filter. */
  minSpeedMbps: z.number().nonnegative().optional(),
});

export const MatchSchema = z.strictObject({
  cores: range.optional(),
  memoryMiB: range.optional(),
  /** Sum of the physical disks. */
  storageGiB: range.optional(),
  disks: diskMatch.optional(),
  nics: nicMatch.optional(),
  /** Any of these; "amd64" matches "amd64/generic". */
  architecture: z.array(z.string().min(1)).optional(),
  zones: z.array(z.string().min(1)).optional(),
  pools: z.array(z.string().min(1)).optional(),
  hostname: hostnamePattern.optional(),
  /** The machine carries all of these tags. */
  tags: z.array(z.string().min(1)).optional(),
  /** The machine carries none of these tags. */
  notTags: z.array(z.string().min(1)).optional(),
});
export type MatchRule = z.infer<typeof MatchSchema>;

export const PREFER_KEYS = ["cores", "memory", "storage", "disks", "nicSpeed", "hostname"] as const;
export type PreferKey = (typeof PREFER_KEYS)[number];
const prefer = z.strictObject({ by: z.enum(PREFER_KEYS), order: z.enum(["asc", "desc"]).default("desc") });
export type Prefer = z.infer<typeof prefer>;

const cephDisks = z.strictObject({
  /** The block-device tag; `ceph` is what the storage layer looks for. */
  tag: z
    .string()
    .regex(/^[a-zA-Z0-9_:.-]+$/, "a block-device tag such as ceph")
    .default("ceph"),
  ...diskFilter,
});
export type CephDiskRule = z.infer<typeof cephDisks>;

/** What an operator writes for one role; every field optional so built-ins can be partly overridden. */
const roleInput = z.strictObject({
  description: z.string().optional(),
  /** Exactly this many, or "rest": every matching machine left after the other roles. */
  count: z.union([z.number().int().nonnegative(), z.literal("rest")]).optional(),
  min: z.number().int().nonnegative().optional(),
  /** A number, or a percentage of the machines eligible for the deployment. */
  max: z.union([z.number().int().nonnegative(), percent]).optional(),
  match: MatchSchema.optional(),
  prefer: z.array(prefer).optional(),
  spares: z.number().int().nonnegative().optional(),
  exclusiveWith: z.array(roleName).optional(),
  /** The plan warns when members sit on fewer distinct zones than this (or than exist). */
  spreadZones: z.number().int().nonnegative().optional(),
  cephDisks: cephDisks.optional(),
});
type RoleInput = z.input<typeof roleInput>;

export interface RoleDefinition {
  description: string;
  /** Exactly (min = max), a range, or "rest" (assigned last, takes what is left up to max). */
  count: number | "rest" | null;
  min: number;
  max: number | string | null;
  match: MatchRule;
  prefer: Prefer[];
  spares: number;
  exclusiveWith: string[];
  spreadZones: number;
  cephDisks: CephDiskRule | null;
}

const CONTROLLER_MATCH: MatchRule = { cores: { min: 2 }, memoryMiB: { min: 4000 } };
const WORKER_MATCH: MatchRule = { cores: { min: 16 }, memoryMiB: { min: 32000 } };
/** A storage chassis: several large data disks, not a compute node with a couple of local NVMe. */
const STORAGE_MATCH: MatchRule = { disks: { count: { min: 4 }, minSizeGiB: 1000, nonBoot: true } };

/** The built-in roles' rules, in the shape an operator would write them. */
export const BUILTIN_DEFINITIONS: Readonly<Record<BuiltinRole, RoleInput>> = {
  "juju-controller": {
    description: "Juju controllers (HA needs 3)",
    count: 3,
    match: CONTROLLER_MATCH,
    // The smallest machines that qualify: a controller needs little and big machines are worth more elsewhere.
    prefer: [
      { by: "storage", order: "asc" },
      { by: "memory", order: "asc" },
    ],
    spreadZones: 3,
  },
  control: {
    description: "Kubernetes and the OpenStack control plane",
    count: 3,
    match: WORKER_MATCH,
    prefer: [
      { by: "storage", order: "asc" },
      { by: "memory", order: "desc" },
    ],
    spreadZones: 3,
  },
  storage: {
    description: "Ceph OSD hosts (microceph)",
    min: 3,
    max: "50%",
    match: STORAGE_MATCH,
    prefer: [{ by: "storage", order: "desc" }],
    spreadZones: 3,
    cephDisks: { tag: "ceph", nonBoot: true, minSizeGiB: 1000 },
  },
  network: {
    description: "Dedicated network gateways (none unless asked for)",
    count: 0,
    match: WORKER_MATCH,
  },
  compute: {
    description: "Hypervisors",
    count: "rest",
    match: WORKER_MATCH,
    prefer: [{ by: "cores", order: "desc" }],
  },
};

export const DEFAULT_ORDER: readonly string[] = ["juju-controller", "control", "storage", "network", "compute"];

const candidates = z.strictObject({
  /** Add the scope tag to eligible machines that the plan gives a role or keeps as a spare. */
  claim: z.boolean().default(true),
  /** Empty = any. */
  pools: z.array(z.string().min(1)).default([]),
  zones: z.array(z.string().min(1)).default([]),
  /** Must carry all of these. */
  tags: z.array(z.string().min(1)).default([]),
  /** Must carry none of these. */
  notTags: z.array(z.string().min(1)).default([]),
  hostname: hostnamePattern.default("*"),
});
export type CandidateSelector = z.infer<typeof candidates>;

const COUNT_FIELDS = ["count", "min", "max"] as const;

function mergeRole(base: RoleInput | undefined, over: RoleInput | undefined): RoleInput {
  if (base === undefined) return over ?? {};
  if (over === undefined) return base;
  const merged: RoleInput = { ...base, ...over };
  if (COUNT_FIELDS.some((k) => over[k] !== undefined)) {
    for (const k of COUNT_FIELDS) if (over[k] === undefined) delete merged[k];
  }
  return merged;
}

function finishRole(r: RoleInput): RoleDefinition {
  const count = r.count ?? null;
  return {
    description: r.description ?? "",
    count,
    min: typeof count === "number" ? count : (r.min ?? 0),
    max: typeof count === "number" ? count : (r.max ?? null),
    match: r.match ?? {},
    prefer: (r.prefer ?? []).map((p) => ({ by: p.by, order: p.order ?? "desc" })),
    spares: r.spares ?? 0,
    exclusiveWith: r.exclusiveWith ?? [],
    spreadZones: r.spreadZones ?? 0,
    cephDisks: r.cephDisks ? { ...r.cephDisks, tag: r.cephDisks.tag ?? "ceph" } : null,
  };
}

export const RolesConfigSchema = z
  .strictObject({
    candidates: candidates.prefault({}),
    // Keys are checked in superRefine: zod's own record-key error does not say what is wrong.
    definitions: z.record(z.string(), roleInput).default({}),
    /** Assignment order; roles not listed follow in name order; "rest" roles always come last. */
    order: z.array(roleName).optional(),
    /** Groups of roles that may share one machine; otherwise a machine holds one role. */
    hyperconverged: z.array(z.array(roleName).min(2)).default([]),
  })
  .superRefine((raw, ctx) => {
    for (const [name, r] of Object.entries(raw.definitions)) {
      const at = ["definitions", name];
      const named = roleName.safeParse(name);
      if (!named.success) ctx.addIssue({ code: "custom", path: at, message: named.error.issues.map((i) => i.message).join("; ") });
      if (typeof r.count === "number" && (r.min !== undefined || r.max !== undefined)) {
        ctx.addIssue({ code: "custom", path: [...at, "count"], message: "give either count or min/max, not both" });
      }
      if (r.min !== undefined && typeof r.max === "number" && r.min > r.max) {
        ctx.addIssue({ code: "custom", path: [...at, "min"], message: `min ${r.min} is larger than max ${r.max}` });
      }
    }
    const defined = new Set<string>([...BUILTIN_ROLES, ...Object.keys(raw.definitions)]);
    const unknown = (name: string, path: (string | number)[]) => {
      if (!defined.has(name)) ctx.addIssue({ code: "custom", path, message: `unknown role "${name}" (define it under roles.definitions)` });
    };
    raw.order?.forEach((n, i) => unknown(n, ["order", i]));
    raw.hyperconverged.forEach((g, i) => g.forEach((n, j) => unknown(n, ["hyperconverged", i, j])));
    for (const [name, r] of Object.entries(raw.definitions)) r.exclusiveWith?.forEach((n, i) => unknown(n, ["definitions", name, "exclusiveWith", i]));
    // A group that allows two roles together while one excludes the other is a contradiction.
    const exclusive = (a: string, b: string): boolean => {
      const ea = mergeRole(BUILTIN_DEFINITIONS[a as BuiltinRole], raw.definitions[a]).exclusiveWith ?? [];
      const eb = mergeRole(BUILTIN_DEFINITIONS[b as BuiltinRole], raw.definitions[b]).exclusiveWith ?? [];
      return ea.includes(b) || eb.includes(a);
    };
    raw.hyperconverged.forEach((g, i) => {
      for (const a of g) for (const b of g) {
        if (a < b && exclusive(a, b)) ctx.addIssue({ code: "custom", path: ["hyperconverged", i], message: `${a} and ${b} are declared exclusive, they cannot share a machine` });
      }
    });
  })
  .transform((raw) => {
    const names = [...new Set<string>([...BUILTIN_ROLES, ...Object.keys(raw.definitions)])].sort();
    const definitions: Record<string, RoleDefinition> = {};
    for (const n of names) definitions[n] = finishRole(mergeRole(BUILTIN_DEFINITIONS[n as BuiltinRole], raw.definitions[n]));
    const listed = raw.order ?? DEFAULT_ORDER;
    const order = [...new Set([...listed, ...names])];
    return { candidates: raw.candidates, definitions, order, hyperconverged: raw.hyperconverged };
  });

export type RolesConfig = z.output<typeof RolesConfigSchema>;
export type RolesConfigInput = z.input<typeof RolesConfigSchema>;

/** The rules a fleet gets with no `roles` section at all. */
export function defaultRolesConfig(): RolesConfig {
  return RolesConfigSchema.parse({});
}
