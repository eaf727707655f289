/**
 * Typed errors of role planning and tag sync. `ROLES_SYNC_PARTIAL` carries what was
 * applied and what was not, so a failed sync never leaves machines half-tagged
 * without saying which.
 */
import { MetalwaveError } from "../errors.ts";

export type RolesErrorCode =
  /** The deployment name or the rules cannot be planned with (names the field). */
  | "ROLES_CONFIG"
  /** The plan asks to change a tag metalwave does not own, or one MAAS manages by XPath. */
  | "ROLES_TAG_NOT_OWNED"
  /** A MAAS call failed part-way through a sync. */
  | "ROLES_SYNC_PARTIAL";

/** One unit of sync work, as reported in done/pending lists. */
export interface SyncStep {
  kind: "create-tag" | "update-nodes" | "block-device-tag";
  tag: string;
  add: string[];
  remove: string[];
  /** For block-device steps: "<system_id>/<device id>". */
  device?: string;
}

export class RolesError extends MetalwaveError<RolesErrorCode> {
  readonly code: RolesErrorCode;
  readonly done: SyncStep[];
  readonly pending: SyncStep[];
  readonly failed: SyncStep | null;

  constructor(
    code: RolesErrorCode,
    message: string,
    opts: { cause?: unknown; done?: SyncStep[]; pending?: SyncStep[]; failed?: SyncStep | null } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.done = opts.done ?? [];
    this.pending = opts.pending ?? [];
    this.failed = opts.failed ?? null;
  }
}
