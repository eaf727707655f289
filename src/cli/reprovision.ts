/**
 * `metalwave reprovision HOST...`: release (with erase), redeploy and re-layer hosts of
 * the deployment, keeping their roles; a host that ends quarantined has its role taken
 * by a spare held back for it, which is deployed and layered in its stead.
 */
import { reprovisionHosts } from "../runtime/reprovision.ts";
import type { EraseMode } from "../../state-machines/host.ts";
import { Command } from "commander";
import { ExitCode, UsageError, withRegionOptions, type RegionOpts } from "./args.ts";
import { act, exitCodesHelp, withLogOptions, type Outcome } from "./command.ts";
import type { LogFlags } from "./logging.ts";
import { summaryText } from "./progress.ts";
import { withLastingRegion } from "./rollout.ts";
import { finishLeftMaintenance } from "../runtime/maintenance.ts";

interface ReprovisionOpts extends RegionOpts, LogFlags {
  reason?: string;
  erase: string;
  recommission?: boolean;
  force?: boolean;
  spares: boolean;
  json?: boolean;
}

export function reprovisionCommand(out: Outcome): Command {
  const cmd = new Command("reprovision")
    .summary("release with erase, redeploy and re-layer hosts; spares take the roles of hosts that still fail")
    .description(
      "Re-provisions hosts of the deployment (hostnames or system_ids): each is released with its " +
        "disks erased, deployed again and layered again with the roles its tags give it. A host that " +
        "still fails is quarantined (Broken in MAAS, with the reason) and a spare held back for its " +
        "role (tag metalwave-spare-<role>; its zone first) takes the role: tagged, deployed and layered " +
        "in its stead.",
    )
    .argument("[host...]", "hostnames or system_ids (at least one)")
    .option("--reason <text>", "why (journaled, and in the MAAS comments)")
    .option("--erase <mode>", "quick, secure or none", "quick")
    .option("--recommission", "commission each host again after its release, for changed hardware: its role rules and ceph disk tags are judged anew")
    .option("--force", "take a control host out of Juju even when a mysql-k8s or rabbitmq-k8s pod runs on its Kubernetes node (the database or the queue loses a member until it is back)")
    .option("--no-spares", "do not let spares take the roles of hosts that fail");
  return withLogOptions(withRegionOptions(cmd).option("--json", "print the outcome as JSON on stdout"))
    .addHelpText("after", exitCodesHelp("0 every host back in service or replaced by a spare, 1 error or a host neither\nre-provisioned nor replaced, 2 bad input, 5 the store is locked."))
    .action(act(out, (hosts: string[], o: ReprovisionOpts) => runReprovision(hosts, o)));
}

const ERASE_MODES: readonly EraseMode[] = ["none", "quick", "secure"];

async function runReprovision(positionals: string[], values: ReprovisionOpts): Promise<number> {
  if (positionals.length === 0) throw new UsageError("metalwave reprovision: name at least one host (hostname or system_id); see --help");
  const erase = values.erase as EraseMode;
  if (!ERASE_MODES.includes(erase)) throw new UsageError(`metalwave reprovision: --erase ${values.erase}: expected one of ${ERASE_MODES.join(", ")}`);
  return withLastingRegion(values, { command: "reprovision", why: "re-provisioning needs the region the hosts were deployed from; the embedded simulator starts afresh each run", lockCommand: `reprovision ${positionals.join(" ")}` }, async (deps) => {
    // A pass a stopped process left is finished first, as the service and `remediate` do
    // (src/runtime/maintenance.ts): a new rollout would leave it behind, no longer the latest.
    const finished = await finishLeftMaintenance(deps, "resume it first (metalwave rollout --resume), or abort it (metalwave rollout --abort)");
    const run = { ...(await reprovisionHosts(deps, { hosts: positionals, reason: values.reason ?? "re-provisioned by an operator", erase, recommission: values.recommission === true, force: values.force === true }, { spares: values.spares })), ...finished };
    const replaced = new Set(run.replacements.filter((r) => r.spare).map((r) => r.failed.systemId));
    const lost = run.reprovision.failures.filter((f) => !replaced.has(f.systemId)).length + (run.replacement?.failures.length ?? 0);
    if (values.json) console.log(JSON.stringify(run, null, 2));
    else {
      if (run.resumed) console.error(`finished first: rollout ${run.resumed.rolloutId} a stopped pass left (${run.resumed.byOutcome.inService} in service, ${run.resumed.byOutcome.quarantined} quarantined)`);
      console.error(summaryText(run.reprovision));
      for (const r of run.replacements) {
        console.error(r.spare ? `spare ${r.spare.hostname} (${r.spare.systemId}) takes role ${r.role} of ${r.failed.hostname}` : `no spare for role ${r.role} of ${r.failed.hostname}: ${r.note ?? ""}`);
      }
      if (run.replacement) console.error(summaryText(run.replacement));
    }
    return lost === 0 ? ExitCode.OK : ExitCode.ERROR;
  });
}
