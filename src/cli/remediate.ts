/**
 * `metalwave remediate`: one remediation pass by the `remediation` policy of the config
 * (docs/remediation.md): failed and quarantined hosts of the deployment are provisioned
 * again up to their cap, then spares take their roles.
 */
import { remediate, type RemediationResult } from "../runtime/remediation.ts";
import { finishLeftMaintenance, type FinishedLeftBehind } from "../runtime/maintenance.ts";
import { Command } from "commander";
import { ExitCode, withRegionOptions, type RegionOpts } from "./args.ts";
import { act, exitCodesHelp, withLogOptions, type Outcome } from "./command.ts";
import type { LogFlags } from "./logging.ts";
import { withLastingRegion } from "./rollout.ts";

const DESCRIPTION = `One remediation pass over the deployment's hosts that MAAS reports failed, that metalwave quarantined, or that were in service and fail their health check (with layering on and remediation.healthChecks), by the config's \`remediation\` policy: each is provisioned again (marked fixed or released with erase, redeployed, re-layered) up to maxAttempts, with coolDownMs between tries and at most maxAtOnce per pass; past its cap a spare held back for its role takes the role. Nothing is done when more hosts than haltWhenUnhealthy are unhealthy at once. A host in Failed testing is left to an operator (listed with why). Every pass is a rollout in the store.

First, what a killed pass (of this command, \`metalwave reprovision\` or the service) left is finished, as the service does on start: its unfinished rollout is resumed from the store (never planned again), and a re-provisioning's spares take the roles of the hosts it left quarantined. A deployment rollout left unfinished (paused, or stopped with hosts in flight) stops the pass: resume it first (metalwave rollout --resume), or abort it (metalwave rollout --abort).`;

interface RemediateOpts extends RegionOpts, LogFlags {
  json?: boolean;
}

export function remediateCommand(out: Outcome): Command {
  const cmd = withRegionOptions(new Command("remediate"))
    .summary("one remediation pass: failed and quarantined hosts provisioned again by policy, spares past the cap")
    .description(DESCRIPTION)
    .option("--json", "print the pass's outcome as JSON on stdout");
  return withLogOptions(cmd)
    .addHelpText("after", exitCodesHelp("0 nothing left unhealthy that this pass could act on, 1 error, hosts still\nunhealthy or a region not answering, 2 bad input, 3 halted (too many unhealthy at once), 5 locked."))
    .action(act(out, (o: RemediateOpts) => runRemediate(o)));
}

export function remediationText(r: RemediationResult & FinishedLeftBehind): string {
  const lines: string[] = [];
  if (r.resumed) lines.push(`finished first: rollout ${r.resumed.rolloutId} a stopped pass left (${r.resumed.byOutcome.inService} in service, ${r.resumed.byOutcome.quarantined} quarantined)`);
  for (const x of r.resumedSpares?.replacements ?? []) lines.push(x.spare ? `  spare ${x.spare.hostname} takes role ${x.role} of ${x.failed.hostname}` : `  no spare for role ${x.role} of ${x.failed.hostname}: ${x.note ?? ""}`);
  lines.push(`remediation: ${r.unhealthy} of ${r.members} hosts unhealthy`);
  if (r.regionsUnreachable.length > 0) lines.push(`  regions not answering, left for a later pass: ${r.regionsUnreachable.join(", ")}`);
  const hc = r.healthChecks;
  if (hc.skipped !== null) lines.push(`  health checks: not run (${hc.skipped})`);
  else lines.push(`  health checks: ${hc.checked} host(s) in service checked, ${hc.failed.length} failed`);
  for (const f of hc.failed) for (const x of f.failures) lines.push(`  health check failed: ${f.hostname} (${f.systemId}) ${x.check}: ${x.detail}`);
  if (r.halted) lines.push(`  halted: ${r.halted.reason}`);
  for (const a of r.attempted) lines.push(`  provisioned again: ${a.hostname} (${a.systemId}), attempt ${a.attempt}`);
  if (r.rollout) lines.push(`  that rollout ${r.rollout.rolloutId}: ${r.rollout.byOutcome.inService} in service, ${r.rollout.byOutcome.quarantined} quarantined`);
  for (const c of r.coolingDown) lines.push(`  cooling down: ${c.hostname} (${c.systemId}) until ${c.readyAt}`);
  for (const x of r.refused) lines.push(`  refused, left as it is: ${x.hostname} (${x.systemId}): ${x.reason}`);
  for (const n of r.needsOperator) lines.push(`  needs an operator: ${n.hostname} (${n.systemId}) ${n.status}: ${n.reason}`);
  for (const e of r.exhausted) lines.push(`  past its cap: ${e.hostname} (${e.systemId}) after ${e.attempts} attempts`);
  for (const x of r.replacements) lines.push(x.spare ? `  spare ${x.spare.hostname} takes role ${x.role} of ${x.failed.hostname}` : `  no spare for role ${x.role} of ${x.failed.hostname}: ${x.note ?? ""}`);
  return lines.join("\n");
}

async function runRemediate(values: RemediateOpts): Promise<number> {
  return withLastingRegion(values, { command: "remediate", why: "remediation needs the region the hosts were deployed from; the embedded simulator starts afresh each run", lockCommand: "remediate" }, async (deps) => {
    // Resume first, the same step the service takes (src/runtime/maintenance.ts).
    const finished = await finishLeftMaintenance(deps, "resume it first (metalwave rollout --resume), or abort it (metalwave rollout --abort)");
    const r = { ...(await remediate(deps)), ...finished };
    if (values.json) console.log(JSON.stringify(r, null, 2));
    else console.error(remediationText(r));
    if (r.halted) return ExitCode.PAUSED;
    const stillBad =
      (r.rollout?.byOutcome.quarantined ?? 0) +
      r.coolingDown.length +
      r.needsOperator.length +
      // Refused (nothing changed): still unhealthy, an operator's decision (reprovision --force).
      r.refused.length +
      r.replacements.filter((x) => !x.spare).length +
      (r.replacement?.failures.length ?? 0) +
      (r.resumedSpares?.replacements.filter((x) => !x.spare).length ?? 0) +
      (r.resumedSpares?.replacement?.failures.length ?? 0) +
      // A region that did not answer: its hosts were not looked at.
      r.regionsUnreachable.length;
    return stillBad === 0 ? ExitCode.OK : ExitCode.ERROR;
  });
}
