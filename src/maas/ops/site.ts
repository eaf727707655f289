/**
 * Region-wide reads: version, the API user, zones and resource pools. All idempotent.
 */
import { ResourcePoolSchema, UserSchema, VersionSchema, ZoneSchema } from "../schemas.ts";
import type { ResourcePool, User, Version, Zone } from "../schemas.ts";
import { IDEMPOTENT } from "../transport.ts";
import type { MaasTransport } from "../transport.ts";

export function version(t: MaasTransport): Promise<Version> {
  return t.call({ operation: "version", method: "GET", path: "version/", anonymous: true, schema: VersionSchema, safety: IDEMPOTENT });
}

export function whoami(t: MaasTransport): Promise<User> {
  return t.call({ operation: "whoami", method: "GET", path: "users/", op: "whoami", schema: UserSchema, safety: IDEMPOTENT });
}

/** The API user's name, read once per client (ops that make the caller the owner reconcile against it). */
export function myName(t: MaasTransport): Promise<string> {
  return t.identity(() => whoami(t).then((u) => u.username));
}

export function listZones(t: MaasTransport): Promise<Zone[]> {
  return t.call({ operation: "listZones", method: "GET", path: "zones/", schema: ZoneSchema.array(), safety: IDEMPOTENT });
}

export function listResourcePools(t: MaasTransport): Promise<ResourcePool[]> {
  return t.call({ operation: "listResourcePools", method: "GET", path: "resourcepools/", schema: ResourcePoolSchema.array(), safety: IDEMPOTENT });
}
