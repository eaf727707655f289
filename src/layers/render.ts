/**
 * Layer templates (templates/layers/<layer>.yaml): loaded, validated and rendered.
 * Placeholders are those of src/layers/templates.ts (`{{name}}`), but a value
 * goes into a shell command single-quoted for sh when it needs quoting, and into an
 * `expect` pattern regex-escaped, so no value (a hostname, a token, a CA bundle) can
 * change what the command or pattern means.
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { loadTemplate, TemplateError } from "./templates.ts";
import { shQuote } from "../ssh/client.ts";

export const LAYERS = ["juju-controller", "juju", "machines", "kubernetes", "storage", "ovn", "control-plane", "hypervisor"] as const;
export type LayerName = (typeof LAYERS)[number];

export type Values = Readonly<Record<string, string | number>>;

const StepSchema = z.strictObject({
  run: z.string().min(1),
  check: z.string().min(1).optional(),
  /** A regular expression the check's stdout must match (multiline) for "done". */
  expect: z.string().optional(),
  sudo: z.boolean().default(false),
  /** The output is secret: never logged nor kept in error tails. */
  secret: z.boolean().default(false),
  /** Shown instead of the command line (which holds a token or password). */
  display: z.string().optional(),
  timeoutMs: z.number().int().positive().optional(),
});
export type StepTemplate = z.infer<typeof StepSchema>;

const BaseSchema = z.looseObject({
  defaults: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
  steps: z.record(z.string(), StepSchema).default({}),
});

const name = z.string().regex(/^[a-z][a-z0-9-]*$/);
const LabelsSchema = z.record(z.string(), z.record(z.string(), z.string()));
/** Only when the rollout has storage hosts. */
const When = z.literal("storage");
/** A machine charm of a bundle: where its units go (host roles; `first-control`: one unit on the first control host). */
const MachineAppSchema = z.strictObject({
  app: name,
  charm: name,
  channel: z.string().min(1),
  base: z.string().default("ubuntu@24.04"),
  roles: z.array(z.string()).default([]),
  subordinate: z.boolean().default(false),
  /** Charm config; `{{name}}` in a value is one of the engine's values (e.g. loadBalancerCidrs). */
  config: z.record(z.string(), z.string()).default({}),
  /** Endpoint → MAAS space ("" the default binding); only spaces Juju has are bound. */
  bindings: z.record(z.string(), z.string()).default({}),
});
export type MachineApp = z.infer<typeof MachineAppSchema>;
const K8sAppSchema = z.strictObject({
  app: name,
  charm: name,
  channel: z.string().min(1),
  kind: z.enum(["database", "queue", "api", "single", "ingress"]),
  config: z.record(z.string(), z.string()).default({}),
  when: When.optional(),
});
export type ControlPlaneApp = z.infer<typeof K8sAppSchema>;
const endpointRef = z.string().regex(/^[a-z0-9-]+:[a-z0-9-]+$/);
/** The other end: `app:endpoint` in the model, or an offer URL `owner/model.offer`. */
const otherEnd = z.string().regex(/^([a-z0-9-]+:[a-z0-9-]+|[a-z0-9-]+\/[a-z0-9-]+\.[a-z0-9-]+)$/);
const RelationSchema = z.union([z.tuple([endpointRef, otherEnd]), z.tuple([endpointRef, otherEnd, When])]);
export type RelationSpec = z.infer<typeof RelationSchema>;
const OfferSchema = z.strictObject({ app: name, endpoints: z.array(name).min(1), name, when: When.optional() });
export type OfferSpec = z.infer<typeof OfferSchema>;
const bundle = { applications: z.array(MachineAppSchema).default([]), relations: z.array(RelationSchema).default([]), offers: z.array(OfferSchema).default([]) };

export const EXTRA_SCHEMAS = {
  "juju-controller": z.looseObject({}),
  juju: z.looseObject({}),
  machines: z.looseObject(bundle),
  kubernetes: z.looseObject({ ...bundle, labels: LabelsSchema.default({}) }),
  storage: z.looseObject(bundle),
  ovn: z.looseObject({ ...bundle, roles: z.record(z.string(), z.array(z.enum(["chassis", "central", "gateway"]))).default({}) }),
  "control-plane": z.looseObject({
    applications: z.array(K8sAppSchema).min(1),
    relations: z.array(RelationSchema).default([]),
    offers: z.array(OfferSchema).default([]),
    machineRelations: z.array(RelationSchema).default([]),
    loadBalanced: z.array(name).default([]),
  }),
  hypervisor: z.looseObject(bundle),
} as const;

const JUJU_STEPS = ["models", "addMachineModel", "addCloudModel", "status", "machines", "addMachine", "agentServices", "cleanManualAgent", "removeMachine", "removeUnit", "removeEmptyMachine", "runningGuests", "disableHypervisor", "setPoolSize", "spaces", "addSpace", "moveToSpace", "deployMachine", "deployBound", "deploySubordinate", "deployK8s", "addUnit", "scale", "config", "setConfig", "integrate", "offer", "getKubeconfig", "listDisks", "addOsd", "addOsdWipe", "clouds", "addK8s"] as const;

/** The steps each layer's engine code calls: a template missing one fails at load. */
export const REQUIRED_STEPS: Record<LayerName, readonly string[]> = {
  "juju-controller": ["install", "bootstrap", "showController", "machines", "addMachine", "enableHa"],
  juju: JUJU_STEPS,
  machines: [],
  kubernetes: [],
  storage: ["clusterRemove"],
  ovn: [],
  "control-plane": [],
  hypervisor: [],
};

export interface LayerTemplate<L extends LayerName = LayerName> {
  layer: L;
  file: string;
  defaults: Values;
  steps: Record<string, StepTemplate>;
  extra: z.infer<(typeof EXTRA_SCHEMAS)[L]>;
}

/** Parses a layer template from text (tests) or, by default, from templates/layers/. */
export function loadLayerTemplate<L extends LayerName>(layer: L, text?: string): LayerTemplate<L> {
  const file = `layers/${layer}.yaml`;
  let doc: unknown;
  try {
    doc = parseYaml(text ?? loadTemplate(file));
  } catch (e) {
    if (e instanceof TemplateError) throw e;
    throw new TemplateError(`template ${file}: not valid YAML`, { cause: e });
  }
  const base = BaseSchema.safeParse(doc);
  if (!base.success) throw new TemplateError(`template ${file}: ${base.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`);
  const extra = EXTRA_SCHEMAS[layer].safeParse(doc);
  if (!extra.success) throw new TemplateError(`template ${file}: ${extra.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`);
  for (const s of REQUIRED_STEPS[layer]) if (!(s in base.data.steps)) throw new TemplateError(`template ${file}: step '${s}' is missing`);
  return { layer, file, defaults: base.data.defaults, steps: base.data.steps, extra: extra.data as LayerTemplate<L>["extra"] };
}

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g;

function render(where: string, text: string, values: Values, encode: (v: string) => string): string {
  return text.replace(PLACEHOLDER, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new TemplateError(`template ${where}: no value for {{${key}}}`);
    return encode(String(v));
  });
}

/** A command with every placeholder replaced by its sh-quoted value. */
export function renderCommand(where: string, text: string, values: Values): string {
  return render(where, text, values, shQuote);
}

/** An `expect` pattern with every placeholder replaced by its regex-escaped value. */
export function renderExpect(where: string, text: string, values: Values): RegExp {
  return new RegExp(
    render(where, text, values, (v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
    "m",
  );
}
