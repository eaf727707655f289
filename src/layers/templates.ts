/**
 * Loads and renders files from templates/ (the cloud-init user-data of a deploy, the layer
 * templates of src/layers/render.ts), for the runtime and the layers alike.
 * Renders files from templates/ with `{{name}}` placeholders. Values are inserted
 * as JSON, which is valid YAML and shell-quoting-free, so a hostname or role can
 * never break the document. A placeholder without a value, or a value without a
 * placeholder, is an error naming the template: a half-rendered user-data would
 * deploy a machine we cannot reach.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MetalwaveError } from "../errors.ts";

export class TemplateError extends MetalwaveError<"TEMPLATE_INVALID"> {
  readonly code = "TEMPLATE_INVALID" as const;
}

export const TEMPLATES_DIR = fileURLToPath(new URL("../../templates/", import.meta.url));

const cache = new Map<string, string>();

export function loadTemplate(relPath: string): string {
  let t = cache.get(relPath);
  if (t === undefined) {
    try {
      t = readFileSync(TEMPLATES_DIR + relPath, "utf8");
    } catch (e) {
      throw new TemplateError(`template ${relPath}: cannot read it`, { cause: e });
    }
    cache.set(relPath, t);
  }
  return t;
}

export function renderTemplate(name: string, text: string, values: Readonly<Record<string, unknown>>): string {
  const used = new Set<string>();
  const out = text.replace(/\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g, (_m, key: string) => {
    if (!(key in values)) throw new TemplateError(`template ${name}: no value for {{${key}}}`);
    used.add(key);
    return JSON.stringify(values[key]);
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new TemplateError(`template ${name}: values without a placeholder: ${unused.join(", ")}`);
  return out;
}

export interface UserDataInput {
  hostname: string;
  systemId: string;
  roles: readonly string[];
  sshAuthorizedKeys: readonly string[];
  /** Proxies for apt and snapd on the deployed machine, when the site needs them. */
  proxy?: { http?: string | undefined; https?: string | undefined };
}

export function renderUserData(input: UserDataInput): string {
  const name = "cloud-init/user-data.yaml";
  return renderTemplate(name, loadTemplate(name), {
    hostname: input.hostname,
    sshAuthorizedKeys: input.sshAuthorizedKeys,
    hostJson: JSON.stringify({ systemId: input.systemId, roles: input.roles }),
    firstBoot: `echo metalwave: ${input.systemId} deployed > /var/log/metalwave-firstboot.log`,
    apt: {
      ...(input.proxy?.http ? { http_proxy: input.proxy.http } : {}),
      ...(input.proxy?.https ? { https_proxy: input.proxy.https } : {}),
    },
    // cloud-init runs these as argv lists, no shell: a URL cannot change the command.
    snapCommands: [
      ...(input.proxy?.http ? [["snap", "set", "system", `proxy.http=${input.proxy.http}`]] : []),
      ...(input.proxy?.https ? [["snap", "set", "system", `proxy.https=${input.proxy.https}`]] : []),
    ],
  });
}
