/**
 * The dashboard's constants: where it keeps the token and grouping, how often it reads,
 * the phase colours and the labels of outcomes, rollout kinds and passes.
 */
export const TOKEN_KEY = "metalwave.token";
export const GROUP_KEY = "metalwave.groupBy";
/** Least time between two reads of the changed machines, and between two reads of the rollout. */
export const HOSTS_EVERY_MS = 250;
export const DETAIL_EVERY_MS = 500;
/** While a rollout is live the machines are read at least this often, events or not. */
export const SAFETY_POLL_MS = 5_000;
/** A stream with no byte for this long (heartbeats come every 15 s) is dropped and opened again. */
export const STREAM_SILENCE_MS = 45_000;
/** Failed hosts listed; the rest are counted. */
export const MAX_FAILURE_ROWS = 500;

/** Phase colours, for the cells, the legend and the counts. */
export const PHASE_COLOURS = {
  waiting: "#d0d4da",
  enlisted: "#9fb3c8",
  commissioning: "#5b8def",
  tagging: "#7fa9f5",
  allocating: "#8e7cf0",
  deploying: "#f2b233",
  deployed: "#a5d46a",
  layering: "#3fb4a8",
  inService: "#2e9d4f",
  // A retry (released to be deployed again): purple, far in hue from the reds and oranges of quarantine and failure.
  releasing: "#ae3ec9",
  quarantining: "#e57373",
  quarantined: "#d9480f",
  aborting: "#a1887f",
  aborted: "#5d4037",
  refused: "#f08c00",
  failed: "#c92a2a",
};
export const UNKNOWN_COLOUR = "#222222";
/** Outcomes that spend the failure budget (aborted hosts were stopped on purpose). */
export const BUDGET_OUTCOMES = new Set(["quarantined", "failed"]);
export const SETTLED_BAD = new Set(["quarantined", "failed", "aborted"]);
/** What a rollout is for (its plan's kind), as the page names it. */
export const KIND_LABELS = { rollout: "rollout", reprovision: "re-provisioning", replacement: "replacement by spares", remediation: "remediation" };
export const PASS_LABELS = { reprovision: "Re-provisioning pass", remediation: "Remediation pass" };
