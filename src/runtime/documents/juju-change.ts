/**
 * The intent of a Juju change (src/layers/juju-journal.ts), as the runtime keeps it in the
 * store's write-ahead table of external calls (`maas_call`, operation `juju.<op>`, docs/store.md):
 * `{ schemaVersion: 1, change: { op, model, target, host? } }` in its `params`.
 *
 * Version 1 is the only version. A record of a newer version, or of a shape this build does
 * not read, is refused (a `StoreError`): reconciling a change one cannot read could
 * apply it twice (`STORE_SCHEMA`: a newer version; `STORE_CORRUPT`: the wrong shape), as for
 * host snapshots. A later version adds its upgrade step in `upgrade`.
 */
import { z } from "zod";
import { JUJU_CHANGE_OPS, type JujuChange } from "../../layers/index.ts";
import { StoreError, type StoreErrorInit } from "../../store/index.ts";

export const JUJU_CHANGE_DOC_VERSION = 1;

/** The store operation of a Juju change: `juju.<op>` (the MAAS calls' operations have no dot but `layout.`). */
export const JUJU_OPERATION_PREFIX = "juju.";

const ChangeV1 = z.object({
  op: z.enum(JUJU_CHANGE_OPS),
  model: z.string(),
  target: z.record(z.string(), z.union([z.string(), z.number()])),
  host: z.object({ systemId: z.string(), hostname: z.string() }).optional(),
});

const Envelope = z.object({ schemaVersion: z.number().int().positive(), change: z.unknown() });

export function isJujuOperation(operation: string): boolean {
  return operation.startsWith(JUJU_OPERATION_PREFIX);
}

/** The stored document of a change (validated at write time: a bug shows where it is made). */
export function writeJujuChange(c: JujuChange): { schemaVersion: number; change: JujuChange } {
  return { schemaVersion: JUJU_CHANGE_DOC_VERSION, change: ChangeV1.parse(c) as JujuChange };
}

/** Brings a document of an older version to the current one (none yet: version 1 is the first). */
function upgrade(version: number, change: unknown, where: StoreErrorInit): unknown {
  if (version === JUJU_CHANGE_DOC_VERSION) return change;
  throw new StoreError("STORE_SCHEMA", `Juju change document of version ${version}: this build reads version ${JUJU_CHANGE_DOC_VERSION} (upgrade metalwave to resume this rollout)`, where);
}

/** The change a stored intent names; throws a StoreError when it cannot be read. */
export function readJujuChange(raw: unknown, what: string, where: StoreErrorInit = {}): JujuChange {
  const env = Envelope.safeParse(raw);
  if (!env.success) throw new StoreError("STORE_CORRUPT", `${what}: not a Juju change document: ${env.error.message.slice(0, 200)}`, where);
  if (env.data.schemaVersion > JUJU_CHANGE_DOC_VERSION) throw new StoreError("STORE_SCHEMA", `${what}: Juju change document of version ${env.data.schemaVersion} is newer than this build reads (${JUJU_CHANGE_DOC_VERSION}): upgrade metalwave to resume this rollout`, where);
  const c = ChangeV1.safeParse(upgrade(env.data.schemaVersion, env.data.change, where));
  if (!c.success) throw new StoreError("STORE_CORRUPT", `${what}: Juju change of the wrong shape: ${c.error.message.slice(0, 200)}`, where);
  return c.data as JujuChange;
}
