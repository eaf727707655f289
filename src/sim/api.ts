/**
 * The MAAS REST API 2.0 surface the simulator serves: one table of MAAS's handlers
 * (api/machines.ts, api/network.ts, api/interfaces.ts, api/storage.ts), the router built from it, and the
 * describe document generated from the same table (maas-network-storage.md §1).
 */
import { eventsHandler, machineHandler, machinesHandler, poolHandler, poolsHandler, tagHandler, tagsHandler, usersHandler, versionHandler, zoneHandler, zonesHandler } from "./api/machines.ts";
import { interfaceHandlers } from "./api/interfaces.ts";
import { networkHandlers } from "./api/network.ts";
import { storageHandlers } from "./api/storage.ts";
import { describe, Router } from "./routes.ts";
import type { Description, HandlerDef } from "./routes.ts";

export const HANDLERS: readonly HandlerDef[] = [
  versionHandler,
  machinesHandler,
  machineHandler,
  tagsHandler,
  tagHandler,
  eventsHandler,
  usersHandler,
  zonesHandler,
  zoneHandler,
  poolsHandler,
  poolHandler,
  ...networkHandlers,
  ...interfaceHandlers,
  ...storageHandlers,
];

export const router = new Router(HANDLERS);

/** The describe document without `uri`s (added per request); computed once: the table does not change. */
export const DESCRIPTION: Description = describe(HANDLERS);

export { unrecognised } from "./routes.ts";
export type { Reply } from "./routes.ts";
