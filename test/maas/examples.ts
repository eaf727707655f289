// Real MAAS 3.5.3 example answers, read at test time from ../shared/reference/maas-examples
// (canonical/maas src/maasserver/api/examples/*.json; never copied into the repository).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DIR = fileURLToPath(new URL("../../../shared/reference/maas-examples/", import.meta.url));

/** False on a checkout without the shared reference next to it: those tests are skipped, and say so. */
export const HAVE_EXAMPLES = existsSync(DIR);

/** One example answer, e.g. `example("nodes", "interfaces-read")`. */
export function example(file: string, key: string): unknown {
  const all = JSON.parse(readFileSync(`${DIR}${file}.json`, "utf8")) as Record<string, unknown>;
  if (!(key in all)) throw new Error(`maas-examples/${file}.json has no example ${key}`);
  return structuredClone(all[key]);
}
