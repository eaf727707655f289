/**
 * How a run finds its rollout before any host runs (the runner's start, rollout-runner.ts):
 * the one it resumes from the store, a plan it was handed (a maintenance pass), or a new one
 * planned from MAAS; and the reads every start makes: the machines' statuses now and the
 * plan's tags, and the calls a crash left unresolved. Its caller wires the actors from
 * what this returns.
 */
import { hostname as osHostname } from "node:os";
import type { Config } from "../config.ts";
import type { MaasPort } from "../maas/port.ts";
import { isStatusCode, type NodeStatusCode } from "../model/maas/status.ts";
import type { HostRecord, RolloutRegion, RolloutStatus, Store } from "../store/index.ts";
import type { Logger } from "pino";
import type { RolloutPlan } from "./deployment-plan.ts";
import { readRolloutPlan } from "./documents/rollout-plan.ts";
import { newRolloutJournal, planNewRollout } from "./new-rollout.ts";
import type { PreparedPlan } from "./plan-prepare.ts";
import { RolloutError } from "./rollout-error.ts";
import type { CallJournal } from "./call-journal.ts";
import { isHostOperation, unknownCallTookEffect } from "./host-actors.ts";
import { READ_BATCH_SIZE } from "./observer.ts";

/**
 * Reads the machines' statuses from MAAS into `known`, in filtered reads (`id=` repeated) of
 * the observer's batch size, one after another: a plan of 100,000 hosts is 250 bounded
 * requests, never one URL of a megabyte.
 */
export async function readStatuses(maas: MaasPort, systemIds: readonly string[], known: Map<string, NodeStatusCode>, batch = READ_BATCH_SIZE): Promise<void> {
  for (let i = 0; i < systemIds.length; i += batch) {
    const machines = await maas.listMachineStates({ id: systemIds.slice(i, i + batch) });
    for (const m of machines) if (isStatusCode(m.status)) known.set(m.system_id, m.status);
  }
}

/** The plan's scope and role tags in `maas` (every region, or those answering), created where missing. */
export async function ensurePlanTags(maas: MaasPort, plan: RolloutPlan): Promise<void> {
  const wanted = new Set<string>([plan.scopeTag, ...plan.hosts.flatMap((h) => h.roles)]);
  const existing = new Set((await maas.listTags()).map((t) => t.name));
  for (const name of wanted) {
    if (existing.has(name)) continue;
    await maas.createTag({ name, comment: `metalwave: managed by deployment ${plan.deployment}` });
  }
}

/**
 * Settles the unresolved calls (a crash left their outcome unknown) of the hosts `mine`
 * keeps, by reading each machine now, before any host decides: a host that finds its
 * machine already further along never re-sends them.
 */
export async function settleUnresolvedCalls(maas: MaasPort, calls: CallJournal, me: string, known: Map<string, NodeStatusCode>, mine: (key: string) => boolean): Promise<void> {
  for (const c of calls.unresolved()) {
    if (!isHostOperation(c.op) || !mine(c.systemId)) continue;
    const m = await maas.readMachine(c.systemId);
    calls.reconciled(c.callId, unknownCallTookEffect(c.op, m, me, calls.paramsOf(c.callId)));
    if (isStatusCode(m.status)) known.set(m.system_id, m.status);
  }
}

export interface OpenDeps {
  maas: MaasPort;
  store: Store;
  config: Config;
  logger: Logger;
  region?: RolloutRegion;
}

/** The rollout a run goes on with. `ended`: a resumed rollout that had already completed or been aborted. */
export interface OpenedRollout {
  plan: RolloutPlan;
  rolloutId: string;
  /** The hosts' records (a resume; empty otherwise). */
  resumeHosts: HostRecord[];
  /** The resumed rollout had been paused (by its budget or an operator). */
  wasPaused: boolean;
  ended?: Extract<RolloutStatus, "completed" | "aborted">;
}

/**
 * Finds or makes the rollout: `resume` reads the latest from the store (and marks it
 * running again); `plan` records the plan it is given; otherwise a new plan is made from
 * `planFrom` (the regions that answer; default every region). `known` gets the statuses
 * read on the way; `alsoRead` are the keys whose statuses a resume reads now (not those of a
 * region away).
 */
export async function openRollout(
  deps: OpenDeps,
  opts: { resume: boolean; plan?: PreparedPlan; planFrom?: MaasPort; unplanned?: readonly { region: string; reason: string }[] },
  known: Map<string, NodeStatusCode>,
  alsoRead: (key: string) => boolean,
): Promise<OpenedRollout> {
  const { store, config, maas } = deps;
  const journal = (rolloutId: string, data: Record<string, unknown>) => store.appendJournal({ rolloutId, kind: "rollout", data });
  const regionOpt = deps.region ? { region: deps.region } : {};
  if (opts.resume) {
    const latest = store.latestRollout();
    if (!latest) throw new RolloutError("NOTHING_TO_RESUME", `no rollout to resume in the store ${config.store}`);
    const plan = readRolloutPlan(latest.plan, latest.id);
    const resumeHosts = store.loadHosts(latest.id);
    if (latest.status === "completed" || latest.status === "aborted") return { plan, rolloutId: latest.id, resumeHosts, wasPaused: false, ended: latest.status };
    store.setRolloutStatus(latest.id, "running");
    journal(latest.id, { event: "resumed", pid: process.pid, host: osHostname() });
    // The stored statuses are as old as the crash; MAAS moved on since (a commission
    // finished, a deploy started). Every host starts or resumes from what MAAS says now.
    await readStatuses(maas, plan.hosts.map((h) => h.systemId).filter(alsoRead), known);
    return { plan, rolloutId: latest.id, resumeHosts, wasPaused: latest.status === "paused" };
  }
  if (opts.plan) {
    const plan = opts.plan;
    await readStatuses(maas, plan.hosts.map((h) => h.systemId), known);
    const rolloutId = store.createRollout(plan, regionOpt).id;
    journal(rolloutId, { event: "planned", kind: plan.kind ?? "rollout", machines: plan.hosts.length, waves: plan.waves.length, ...(plan.reason ? { reason: plan.reason } : {}) });
    return { plan, rolloutId, resumeHosts: [], wasPaused: false };
  }
  return openNewRollout(deps, opts.planFrom ?? maas, known, opts.unplanned ?? []);
}

/**
 * Plans from MAAS, refuses on pre-flight FAILs, writes the tags and records the rollout. A
 * function of its own so the full machine list it reads is garbage as soon as it returns (a
 * suspended async frame could otherwise keep it for the whole rollout).
 */
async function openNewRollout(deps: OpenDeps, planFrom: MaasPort, known: Map<string, NodeStatusCode>, unplanned: readonly { region: string; reason: string }[]): Promise<OpenedRollout> {
  const { store, config } = deps;
  const started = await planNewRollout(planFrom, config);
  const { planned } = started;
  for (const f of planned.machines) known.set(f.systemId, f.status);
  // Several regions, some away: the plan is of those that answer; the others are planned once they do (region-plan.ts).
  const plan: RolloutPlan = unplanned.length > 0 ? { ...planned.rollout, regionsUnplanned: unplanned.map((u) => u.region) } : planned.rollout;
  const rolloutId = store.createRollout(plan, deps.region ? { region: deps.region } : {}).id;
  const notPlanned = unplanned.map((u) => ({ event: "regionNotPlanned", region: u.region, reason: u.reason }));
  for (const data of [...newRolloutJournal(started, process.env["USER"] ?? null), ...notPlanned]) store.appendJournal({ rolloutId, kind: "rollout", data });
  for (const f of planned.overridden) deps.logger.warn({ code: f.code, role: f.role }, `pre-flight FAIL let through by override: ${f.message}`);
  for (const u of unplanned) deps.logger.warn({ region: u.region, reason: u.reason }, `region ${u.region} does not answer: the rollout starts the other regions; ${u.region}'s hosts are planned and started once it answers`);
  return { plan, rolloutId, resumeHosts: [], wasPaused: false };
}
