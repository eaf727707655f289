/**
 * The journal's documents, as the runtime writes them and every reader reads them:
 *
 * - a `transition` entry (one per host phase change): `{ from, to, attempt }`;
 * - a `rollout` entry (what happened to the rollout, or to one host outside its phases):
 *   `{ event, ... }`, where `event` names what happened (`planned`, `waveStarted`, `paused`,
 *   `prepared`, `sparesPromoted` …) and the other fields depend on it.
 *
 * Version 1 is the only version so far (entries carry no version field). Readers ask here
 * rather than casting `data`, so an entry that does not have the shape is skipped in one
 * place, and a later version's upgrade step goes here.
 */
import { z } from "zod";
import type { JournalEntry } from "../../store/index.ts";

const Transition = z.object({
  from: z.string().nullable(),
  to: z.string(),
  attempt: z.number().int().nonnegative(),
});

export type TransitionEntry = z.infer<typeof Transition>;

const RolloutEvent = z.looseObject({ event: z.string() });

export type RolloutEventEntry = z.infer<typeof RolloutEvent>;

/** A `transition` entry's data, or undefined when the entry is not one (or is damaged). */
export function readTransition(entry: Pick<JournalEntry, "kind" | "data">): TransitionEntry | undefined {
  if (entry.kind !== "transition") return undefined;
  const t = Transition.safeParse(entry.data);
  return t.success ? t.data : undefined;
}

/** A `rollout` entry's data (`event` and its fields), or undefined when the entry is not one. */
export function readRolloutEvent(entry: Pick<JournalEntry, "kind" | "data">): RolloutEventEntry | undefined {
  if (entry.kind !== "rollout") return undefined;
  const e = RolloutEvent.safeParse(entry.data);
  return e.success ? e.data : undefined;
}

/** Some `rollout` entry of these says `event`. */
export function hasRolloutEvent(entries: readonly Pick<JournalEntry, "kind" | "data">[], event: string): boolean {
  return entries.some((j) => readRolloutEvent(j)?.event === event);
}
