/**
 * The event log: `events/?op=query`. Idempotent; the query is checked before sending.
 */
import { MaasError, formatFieldErrors } from "../errors.ts";
import type { EventsQuery } from "../port.ts";
import { EventsPageSchema } from "../schemas.ts";
import type { EventsPage } from "../schemas.ts";
import { IDEMPOTENT } from "../transport.ts";
import type { MaasTransport } from "../transport.ts";

/** MAAS's own limit on `events/?op=query`. */
const MAX_EVENTS_LIMIT = 1000;

export async function queryEvents(t: MaasTransport, query: EventsQuery = {}): Promise<EventsPage> {
  const fields: Record<string, string[]> = {};
  if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit >= 1 && query.limit <= MAX_EVENTS_LIMIT)) {
    fields.limit = [`must be an integer from 1 to ${MAX_EVENTS_LIMIT} (got ${query.limit})`];
  }
  if (query.after !== undefined && query.before !== undefined) {
    fields.__all__ = ["give either after or before, not both"];
  }
  if (Object.keys(fields).length > 0) {
    throw new MaasError("MAAS_BAD_REQUEST", `queryEvents: invalid query (not sent): ${formatFieldErrors(fields)}`, { operation: "queryEvents", fields });
  }
  return t.call({ operation: "queryEvents", method: "GET", path: "events/", op: "query", params: { ...query }, schema: EventsPageSchema, safety: IDEMPOTENT });
}
