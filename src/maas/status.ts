/**
 * Re-export of the pure MAAS status model, which lives in src/model/maas/status.ts.
 * Kept for the simulator (src/sim/, being split on its own branch), which still
 * imports it from here; new code imports src/model/maas/status.ts directly.
 */
export * from "../model/maas/status.ts";
