/**
 * A host record's `lastError` (the host machine's `HostError`: phase, code, message), as
 * stored. Version 1 is the only version; the one reader checks its shape. The phase is
 * optional here: records written by hand (or damaged) may lack it, and a reader then falls
 * back to the record's own phase.
 */
import { z } from "zod";

const HostErrorDoc = z.object({
  phase: z.string().optional(),
  code: z.string(),
  message: z.string(),
});

export type StoredHostError = z.infer<typeof HostErrorDoc>;

/** The stored error, or null when none was recorded (or the record does not have the shape). */
export function readHostError(raw: unknown): StoredHostError | null {
  const e = HostErrorDoc.safeParse(raw);
  return e.success ? e.data : null;
}
