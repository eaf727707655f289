/**
 * `metalwave plan`: reads MAAS, changes nothing, and prints the deployment plan a
 * rollout would run: roles per zone, spares, tag changes, waves and the pre-flight
 * findings. The rollout computes its plan with the same function from the same
 * reads, so what this prints is what runs.
 */
import { loadConfig, type ConfigInput } from "../config.ts";
import { cliOutput } from "./logging.ts";
import { renderPlanText } from "../roles/index.ts";
import { FINDING_CODES } from "../roles/types.ts";
import { planJson, readAndPlan, renderWavesText } from "../runtime/deployment-plan.ts";
import { Command } from "commander";
import { ExitCode, overrideFlags, regionFlags, withRegionOptions, type RegionOpts } from "./args.ts";
import { act, collect, exitCodesHelp, withLogOptions, type Outcome } from "./command.ts";
import type { LogFlags } from "./logging.ts";
import { withOverrides } from "./rollout.ts";
import { regionJson, regionText, simulatedRequested } from "./region.ts";
import { openSite } from "./regions.ts";

interface PlanOpts extends RegionOpts, LogFlags {
  override?: string[];
  simulated?: boolean;
  json?: boolean;
}

export function planCommand(out: Outcome): Command {
  const cmd = withRegionOptions(new Command("plan"))
    .summary("read MAAS and show the roles, tag changes, waves and pre-flight checks; changes nothing")
    .description(
      "Reads MAAS (machines, tags, who we are) and shows what a rollout would do: each role with its " +
        "machines per zone, the spares held back, the tags that would be added and removed, the waves " +
        "with their machines, and the pre-flight checks. Makes no change. A MAAS URL is required; " +
        "--simulated plans the embedded simulated fleet instead (the one metalwave start rolls out).",
    )
    .option("--override <code>", "let a pre-flight FAIL through, as rollout would (repeatable or comma-separated)", collect)
    .option("--simulated", "plan the embedded simulated region (made-up machines)")
    .option("--json", "print the plan as JSON on stdout (docs/cli.md)");
  return withLogOptions(cmd)
    .addHelpText("after", exitCodesHelp("0 nothing blocks a rollout, 6 pre-flight FAIL findings block it, 1 error, 2 bad input."))
    .action(act(out, (o: PlanOpts) => runPlan(o)));
}

async function runPlan(values: PlanOpts): Promise<number> {
  const overrides = overrideFlags("plan", values.override, FINDING_CODES);
  const flags: ConfigInput = regionFlags(values);
  const config = withOverrides(loadConfig({ ...(values.config ? { file: values.config } : {}), flags }), overrides);
  const { logger } = cliOutput("plan", values, "warn");
  // One region or several (src/cli/regions.ts): with several, each host is shown as region/system_id.
  const site = await openSite(config, { command: "plan", simulated: simulatedRequested(config, values.simulated), logger });
  const region = site.region;
  try {
    const plan = await readAndPlan(site.maas, config);
    if (values.json) console.log(JSON.stringify({ region: regionJson(region), ...(planJson(plan) as object) }, null, 2));
    else console.log(`plan for the ${regionText(region)}\n\n${renderPlanText(plan.roles)}\n\n${renderWavesText(plan)}`);
    return plan.blocking.length > 0 ? ExitCode.PREFLIGHT : ExitCode.OK;
  } finally {
    await site.close();
  }
}
