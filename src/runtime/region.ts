/**
 * How a region is shown wherever metalwave answers: the CLI's `--json` `region`, `status`,
 * and the service's rollout answers. A rollout records the kind of region it ran against
 * (store schema 2), so a rehearsal on the embedded simulator says "simulated" in every
 * answer about it, long after the run. docs/cli.md, "Which region".
 */
import type { RolloutRegion } from "../store/index.ts";

/** What `--json` outputs and the API's rollout answers carry as `region`. */
export interface RegionJson {
  simulated: boolean;
  url: string;
  /** Only on a simulated region: what it is, in words. */
  note?: string;
}

export const SIMULATED_NOTE = "embedded simulated MAAS region: made-up machines, nothing real was touched";

export function regionRecordJson(r: RolloutRegion): RegionJson {
  switch (r.kind) {
    case "simulated":
      return { simulated: true, url: r.url, note: SIMULATED_NOTE };
    case "real":
      return { simulated: false, url: r.url };
  }
}

/** One line for human output: the region, and on a simulated one that it is simulated. */
export function regionRecordText(r: RolloutRegion | null): string {
  if (r === null) return "region not recorded (a rollout of an older metalwave)";
  switch (r.kind) {
    case "simulated":
      return `SIMULATED MAAS region (embedded, made-up machines; nothing real is touched) at ${r.url}`;
    case "real":
      return `MAAS region ${r.url}`;
  }
}
