// The real controller's facade schema (../shared/reference/juju-api-schema, read at test
// time and never copied), and a checker of answers against it: types, required keys, no
// unknown keys where the schema forbids them (the JSON-schema subset the file uses).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface Node {
  $ref?: string;
  type?: string;
  properties?: Record<string, Node>;
  patternProperties?: Record<string, Node>;
  additionalProperties?: boolean | Node;
  required?: string[];
  items?: Node;
}

interface Facade {
  Name: string;
  Version: number;
  Schema: { properties: Record<string, { properties?: { Params?: Node; Result?: Node } }>; definitions?: Record<string, Node> };
}

export const SCHEMA_PATH = process.env["JUJU_API_SCHEMA"] ?? fileURLToPath(new URL("../../../shared/reference/juju-api-schema/schemas-juju-3.3.0.json", import.meta.url));

let cache: Facade[] | undefined;
function facades(): Facade[] {
  if (cache) return cache;
  if (!existsSync(SCHEMA_PATH)) throw new Error(`the Juju facade schema is not at ${SCHEMA_PATH} (set JUJU_API_SCHEMA to its path)`);
  cache = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as Facade[];
  return cache;
}

/** Problems of `value` as the Result of `facade.method` at `version` (empty: it conforms). */
export function checkResult(facade: string, version: number, method: string, value: unknown): string[] {
  const f = facades().find((x) => x.Name === facade && x.Version === version);
  if (f === undefined) return [`the schema has no facade ${facade} v${version}`];
  const m = f.Schema.properties[method]?.properties?.Result;
  if (m === undefined) return [`the schema's ${facade} v${version} has no result for ${method}`];
  const defs = f.Schema.definitions ?? {};
  const out: string[] = [];
  check(m, defs, value, `${facade}.${method}`, out);
  return out;
}

function check(n: Node, defs: Record<string, Node>, v: unknown, path: string, out: string[]): void {
  if (n.$ref) {
    const d = defs[n.$ref.replace("#/definitions/", "")];
    if (d === undefined) return void out.push(`${path}: unknown $ref ${n.$ref}`);
    return check(d, defs, v, path, out);
  }
  switch (n.type) {
    case "string":
      if (typeof v !== "string") out.push(`${path}: want string, got ${JSON.stringify(v)}`);
      return;
    case "integer":
      if (!Number.isInteger(v)) out.push(`${path}: want integer, got ${JSON.stringify(v)}`);
      return;
    case "number":
      if (typeof v !== "number") out.push(`${path}: want number, got ${JSON.stringify(v)}`);
      return;
    case "boolean":
      if (typeof v !== "boolean") out.push(`${path}: want boolean, got ${JSON.stringify(v)}`);
      return;
    case "array":
      if (!Array.isArray(v)) return void out.push(`${path}: want array, got ${JSON.stringify(v)}`);
      if (n.items) v.forEach((x, i) => check(n.items as Node, defs, x, `${path}[${i}]`, out));
      return;
    case "object": {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return void out.push(`${path}: want object, got ${JSON.stringify(v)}`);
      const o = v as Record<string, unknown>;
      for (const k of n.required ?? []) if (!(k in o)) out.push(`${path}: missing required "${k}"`);
      for (const [k, x] of Object.entries(o)) {
        const p = n.properties?.[k] ?? n.patternProperties?.[".*"];
        if (p) check(p, defs, x, `${path}.${k}`, out);
        else if (n.additionalProperties === false) out.push(`${path}: unknown key "${k}"`);
      }
      return;
    }
    default:
      return;
  }
}
