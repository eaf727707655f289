/**
 * Automatic remediation: one pass over the deployment's hosts that MAAS reports failed,
 * that metalwave quarantined, or that were in service and fail their health check, by policy.
 *
 * - With layering on and `healthChecks`, the Deployed hosts that metalwave put in service
 *   are checked first (src/layers/health.ts); each failure is journaled, and a host that
 *   failed counts as unhealthy like a failed one (released with erase when remediated).
 * - A host under its attempt cap whose cool-down has passed is provisioned again: a
 *   quarantined (Broken) one that had commissioned successfully is marked fixed first, as
 *   the first step of the pass's rollout once that is in the store (PlanPrepare: a kill
 *   never leaves a host fixed and unplanned); a Broken one that never commissioned
 *   successfully (quarantined while commissioning) is commissioned again from Broken
 *   instead (`commissionFromBroken`), its role rules judged anew from what MAAS found:
 *   marked fixed it would be Ready without the storage layout a deploy needs, and MAAS
 *   refuses that deploy ("Mount the root '/' filesystem…"); one MAAS holds then (Failed deployment, Deployed, also a Broken one
 *   that MAAS returns to Deployed) is released with erase; then the usual deploy cycle
 *   and layers. At most `maxAtOnce` per pass; each pass is a rollout of kind
 *   `remediation` in the store, so the attempts are counted from the store and survive
 *   restarts.
 * - A host in Failed testing is left to an operator (MAAS takes none of the steps above
 *   from there) and listed in `needsOperator` with why.
 * - A host at its cap stays quarantined (it is marked Broken with the reason if it was
 *   not) and a spare held back for its role takes the role (promoteSpares).
 * - When too many of the deployment's hosts are unhealthy at once, the pass does nothing
 *   and says so with the counts: the cause is then probably not the hosts.
 */
import type { Machine } from "../maas/port.ts";
import { systemClock } from "../clock.ts";
import { NodeStatus as S, isStatusCode } from "../model/maas/status.ts";
import { roleRecheckFor, scopeTagFor } from "../roles/index.ts";
import { parseBudget } from "../../state-machines/waves.ts";
import { createHealthProbe, hostFromMachine, type HostHealth, type LayerHost } from "../layers/index.ts";
import type { PlannedHost } from "./deployment-plan.ts";
import { hostsPlan, machinesAnswering, onRegionsOf, plannedHost, promoteSpares, rolesOf, withoutBudget, type Replacement } from "./reprovision.ts";
import { RolloutRunner, type PreparedPlan, type RolloutSummary, type RunnerDeps } from "./rollout-runner.ts";
import { readRolloutPlan } from "./documents/rollout-plan.ts";

/**
 * Why a pass leaves a host in Failed testing alone. MAAS takes from Failed testing only a
 * new test run or an operator's override of the failed tests (no commission, release,
 * deploy or mark_fixed); metalwave does not override failed hardware tests on its own.
 */
export const FAILED_TESTING_REASON =
  "MAAS's hardware tests failed (Failed testing): MAAS takes no commission, release, deploy or mark_fixed from there, and metalwave does not override failed hardware tests; an operator must check the hardware and test it again in MAAS (then mark it broken, and the next pass provisions it again)";

/**
 * Whether MAAS holds a successful commissioning of the machine: its current commissioning
 * script set exists and every result passed (or was skipped). MAAS's own MarkFixed node
 * action asks the same before it marks a machine fixed ("Unable to be mark fixed because
 * it has not been commissioned successfully.": canonical/maas src/maasserver/node_action.py,
 * MarkFixed.has_commissioning_data); the machine's `commissioning_status` is that set's
 * overall status (-1 without one, 2 Passed when nothing failed: models/scriptset.py,
 * get_status_from_qs). A region that does not report it is taken at its word (marked fixed).
 */
export function commissionedSuccessfully(m: Pick<Machine, "commissioning_status">): boolean {
  return m.commissioning_status === undefined || m.commissioning_status === SCRIPT_PASSED;
}

/** MAAS's SCRIPT_STATUS.PASSED (src/metadataserver/enum.py). */
const SCRIPT_PASSED = 2;

/** Statuses that mean the host is not doing its job and metalwave may act on it. */
export const UNHEALTHY: readonly number[] = [S.BROKEN, S.FAILED_DEPLOYMENT, S.FAILED_COMMISSIONING, S.FAILED_RELEASING, S.FAILED_DISK_ERASING, S.FAILED_TESTING];

export interface RemediationResult {
  /** Hosts of the deployment (members holding a role) and how many were unhealthy. */
  members: number;
  unhealthy: number;
  /** The pass did nothing because too many hosts were unhealthy at once. */
  halted: { reason: string; limit: number } | null;
  /** Hosts provisioned again in this pass, and how that rollout ended. */
  attempted: { systemId: string; hostname: string; attempt: number }[];
  rollout: RolloutSummary | null;
  /** Hosts waiting for their cool-down. */
  coolingDown: { systemId: string; hostname: string; readyAt: string }[];
  /**
   * Hosts no pass can provision again (Failed testing: MAAS's hardware tests failed, and
   * MAAS accepts no commission, release, deploy or mark_fixed from there), with why.
   */
  needsOperator: { systemId: string; hostname: string; status: string; reason: string }[];
  /**
   * Hosts of this pass's rollout whose re-provisioning was refused before anything was changed
   * (a mysql-k8s or rabbitmq-k8s pod on a control host's Kubernetes node: LAYER_REFUSED), with
   * why and how to go on. Left as they are; not an attempt toward the cap (docs/remediation.md).
   */
  refused: { systemId: string; hostname: string; reason: string }[];
  /** Hosts past their cap: quarantined, their roles handed to spares. */
  exhausted: { systemId: string; hostname: string; attempts: number }[];
  replacements: Replacement[];
  replacement: RolloutSummary | null;
  /**
   * The health checks of hosts in service: how many were checked, those that failed
   * (counted in `unhealthy`), or why none ran (`skipped`).
   */
  healthChecks: { checked: number; failed: HostHealth[]; skipped: string | null };
  /**
   * Several regions: the regions that did not answer when the pass listed the deployment's
   * hosts. Their hosts are left for a later pass; the pass waits for none of them.
   */
  regionsUnreachable: string[];
}

interface History {
  /** Attempts per host and when the last one ended, from the store's remediation rollouts. */
  attempts: Map<string, { attempts: number; lastAt: number }>;
  /** The newest rollout (of any kind) that planned each host. */
  newest: Map<string, string>;
  /** Rollouts not finished (running or paused): their hosts are still theirs. */
  unfinished: Set<string>;
}

/** Attempts per host from the store's remediation rollouts ended since `since` (older ones no longer count toward the cap). */
function history(deps: RunnerDeps, since: number): History {
  const out = new Map<string, { attempts: number; lastAt: number }>();
  const newest = new Map<string, string>();
  const unfinished = new Set<string>();
  // Newest first.
  for (const r of deps.store.listRollouts()) {
    const full = deps.store.getRollout(r.id);
    const plan = full ? readRolloutPlan(full.plan, r.id) : undefined;
    if (r.status === "running" || r.status === "paused") unfinished.add(r.id);
    for (const h of plan?.hosts ?? []) if (!newest.has(h.systemId)) newest.set(h.systemId, r.id);
    if (plan?.kind !== "remediation") continue;
    const at = Date.parse(full?.updatedAt ?? "") || 0;
    if (at < since) continue;
    for (const h of plan.hosts ?? []) {
      const prev = out.get(h.systemId) ?? { attempts: 0, lastAt: 0 };
      // A refused host was not provisioned again (nothing changed): its cool-down runs, its cap does not.
      const refused = deps.store.getHost(r.id, h.systemId)?.outcome === "refused";
      out.set(h.systemId, { attempts: prev.attempts + (refused ? 0 : 1), lastAt: Math.max(prev.lastAt, at) });
    }
  }
  return { attempts: out, newest, unfinished };
}

/**
 * Health checks of the members metalwave put in service: Deployed, and the newest rollout
 * that planned them has finished with them in service. Each failure is journaled under
 * that rollout (kind `remediation`, event `healthCheckFailed`).
 */
async function checkHealth(deps: RunnerDeps, members: readonly Machine[], past: History): Promise<RemediationResult["healthChecks"]> {
  const config = deps.config;
  const policy = config.remediation;
  if (!policy.healthChecks) return { checked: 0, failed: [], skipped: "remediation.healthChecks is false" };
  if (!deps.layering) return { checked: 0, failed: [], skipped: "layering is off: hosts in service are not reached over SSH" };
  const inService = members.filter((m) => {
    if (m.status !== S.DEPLOYED) return false;
    const rid = past.newest.get(m.system_id);
    return rid !== undefined && !past.unfinished.has(rid) && deps.store.getHost(rid, m.system_id)?.outcome === "inService";
  });
  const results: HostHealth[] = [];
  const hosts: LayerHost[] = [];
  for (const m of inService) {
    const roles = rolesOf(m, config);
    if (m.ip_addresses.length === 0) {
      results.push({ systemId: m.system_id, hostname: m.hostname, roles, healthy: false, failures: [{ check: "ssh", detail: "MAAS reports no IP address for the machine" }] });
      continue;
    }
    try {
      // Reached on its management address, as the layers reach it (src/layers/addresses.ts).
      hosts.push(hostFromMachine(m, roles, { spaces: config.network?.spaces }));
    } catch (e) {
      results.push({ systemId: m.system_id, hostname: m.hostname, roles, healthy: false, failures: [{ check: "ssh", detail: e instanceof Error ? e.message : String(e) }] });
    }
  }
  const probe = createHealthProbe({ ssh: deps.layering.ssh, logger: deps.logger.child({ component: "health" }), timeoutMs: policy.healthCheckTimeoutMs, concurrency: policy.healthCheckConcurrency });
  results.push(...(await probe.check(hosts)));
  const failed = results.filter((r) => !r.healthy).sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
  for (const f of failed) {
    const rolloutId = past.newest.get(f.systemId) as string;
    deps.store.appendJournal({ rolloutId, systemId: f.systemId, kind: "remediation", data: { event: "healthCheckFailed", hostname: f.hostname, roles: f.roles, failures: f.failures } });
  }
  deps.logger.info({ checked: results.length, failed: failed.length }, "health checks of hosts in service");
  return { checked: results.length, failed, skipped: null };
}

export async function remediate(deps: RunnerDeps, now: number = (deps.clock ?? systemClock).wallNow()): Promise<RemediationResult> {
  const config = deps.config;
  const policy = config.remediation;
  const scopeTag = scopeTagFor(config.deployment);
  // Several regions: a region that does not answer is left out, not waited for (its hosts wait
  // for a later pass), and each rollout of the pass talks to the regions of its hosts only.
  const listed = await machinesAnswering(deps.maas, { tags: [scopeTag] });
  if (listed.unreachable.length > 0) deps.logger.warn({ regions: listed.unreachable }, "remediation: regions that do not answer are left out of this pass");
  const machines = listed.machines;
  const on = (hosts: readonly { system_id: string }[]): RunnerDeps => onRegionsOf(deps, hosts.map((m) => ({ systemId: m.system_id })));
  const members = machines.filter((m) => rolesOf(m, config).length > 0);
  const past = history(deps, now - policy.attemptsWindowMs);
  const health = await checkHealth(deps, members, past);
  const failedCheck = new Set(health.failed.map((f) => f.systemId));
  const unhealthy = members.filter((m) => (isStatusCode(m.status) && UNHEALTHY.includes(m.status)) || failedCheck.has(m.system_id));
  const result: RemediationResult = {
    members: members.length,
    unhealthy: unhealthy.length,
    halted: null,
    attempted: [],
    rollout: null,
    coolingDown: [],
    needsOperator: [],
    refused: [],
    exhausted: [],
    replacements: [],
    replacement: null,
    healthChecks: health,
    regionsUnreachable: listed.unreachable,
  };
  if (unhealthy.length === 0) return result;
  const limit = parseBudget(policy.haltWhenUnhealthy, members.length, "remediation.haltWhenUnhealthy");
  if (unhealthy.length > limit) {
    result.halted = {
      limit,
      reason: `${unhealthy.length} of ${members.length} hosts are unhealthy at once, more than ${String(policy.haltWhenUnhealthy)} (${limit}): the cause is probably not the hosts (network, power, the region); nothing was remediated`,
    };
    deps.logger.warn({ unhealthy: unhealthy.length, members: members.length, limit }, "remediation halted");
    return result;
  }

  const candidates: Machine[] = [];
  const exhausted: Machine[] = [];
  for (const m of unhealthy.sort((a, b) => (a.hostname < b.hostname ? -1 : 1))) {
    const h = past.attempts.get(m.system_id) ?? { attempts: 0, lastAt: 0 };
    if (h.attempts >= policy.maxAttempts) {
      exhausted.push(m);
      result.exhausted.push({ systemId: m.system_id, hostname: m.hostname, attempts: h.attempts });
    } else if (m.status === S.FAILED_TESTING) {
      result.needsOperator.push({ systemId: m.system_id, hostname: m.hostname, status: m.status_name, reason: FAILED_TESTING_REASON });
    } else if (h.lastAt > 0 && now - h.lastAt < policy.coolDownMs) {
      result.coolingDown.push({ systemId: m.system_id, hostname: m.hostname, readyAt: new Date(h.lastAt + policy.coolDownMs).toISOString() });
    } else candidates.push(m);
  }

  const batch = candidates.slice(0, policy.maxAtOnce);
  if (batch.length > 0) {
    const hosts: PlannedHost[] = [];
    for (const m of batch) {
      // Every host is planned with a release (and erase): its host releases it when MAAS holds
      // it as it starts (Failed deployment, Deployed; a Broken one once marked fixed, which MAAS
      // returns to Deployed if it broke while Deployed), and goes straight on from Ready or
      // Failed commissioning. A Broken one that never commissioned successfully is commissioned
      // from Broken, then judged and tagged from the facts that commissioning found.
      const roles = rolesOf(m, config);
      const fromBroken = m.status === S.BROKEN && !commissionedSuccessfully(m);
      hosts.push(plannedHost(m, roles, fromBroken ? { erase: policy.erase, commissionFromBroken: true, recheck: roleRecheckFor(config.roles, roles) } : { erase: policy.erase }));
      result.attempted.push({ systemId: m.system_id, hostname: m.hostname, attempt: (past.attempts.get(m.system_id)?.attempts ?? 0) + 1 });
    }
    // Broken (quarantined) machines come back through mark_fixed, the first step of the rollout
    // once its plan is in the store: never marked fixed without a rollout that carries them on.
    // Those that never commissioned successfully are commissioned instead (above).
    const broken = batch.filter((m) => m.status === S.BROKEN && commissionedSuccessfully(m)).map((m) => ({ systemId: m.system_id, hostname: m.hostname, comment: "metalwave: remediation" }));
    const plan: PreparedPlan = {
      ...hostsPlan(config, "remediation", `remediation of ${hosts.length} unhealthy host(s)`, hosts, machines),
      ...(broken.length > 0 ? { prepare: { markFixed: broken } } : {}),
    };
    result.rollout = await new RolloutRunner({ ...on(batch), config: withoutBudget(config) }).run({ resume: false, plan });
    result.refused = result.rollout.failures.filter((f) => f.outcome === "refused").map((f) => ({ systemId: f.systemId, hostname: f.hostname, reason: f.message }));
    if (result.refused.length > 0) deps.logger.warn({ refused: result.refused.map((r) => r.hostname) }, "remediation: re-provisioning refused for host(s), left as they are (metalwave reprovision --force to go on)");
  }

  if (exhausted.length > 0) {
    for (const m of exhausted) {
      if (m.status !== S.BROKEN) await deps.maas.markBroken(m.system_id, `metalwave: ${policy.maxAttempts} remediation attempts failed; quarantined`);
    }
    // Spares come from the failed host's own region only, so the regions of the exhausted hosts are all it asks.
    const promoted = await promoteSpares(
      on(exhausted).maas,
      config,
      exhausted.map((m) => ({ systemId: m.system_id, hostname: m.hostname })),
      `replaces ${exhausted.map((m) => m.hostname).join(", ")} after ${policy.maxAttempts} remediation attempts`,
    );
    result.replacements = promoted.replacements;
    // The role tags move as the replacement rollout's first step, which journals `sparesPromoted`.
    if (promoted.plan) result.replacement = await new RolloutRunner({ ...on(exhausted), config: withoutBudget(config) }).run({ resume: false, plan: promoted.plan });
  }
  return result;
}
