/**
 * Encodes parameters the way MAAS's Django forms read them: one key per value
 * (`id=a&id=b`, never `id[]=` or commas), booleans as "true"/"false", and absent
 * values left out so MAAS applies its own defaults.
 */
export type ParamValue = string | number | boolean | readonly (string | number)[] | undefined | null;

export function encodeParams(params: Readonly<Record<string, ParamValue>>, into = new URLSearchParams()): URLSearchParams {
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const v of value as readonly (string | number)[]) into.append(key, String(v));
    } else if (typeof value === "boolean") {
      into.append(key, value ? "true" : "false");
    } else {
      into.append(key, String(value));
    }
  }
  return into;
}

/** MAAS's deploy form decodes `user_data` from base64 before storing it. */
export function base64UserData(userData: string): string {
  return Buffer.from(userData, "utf8").toString("base64");
}
