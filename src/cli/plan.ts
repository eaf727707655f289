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
import { ExitCode, LOG_OPTIONS, overrideFlags, parseFlags, regionFlags } from "./args.ts";
import { clientFor, withOverrides } from "./rollout.ts";
import { regionJson, regionText, resolveRegion, simulatedRequested } from "./region.ts";

const PLAN_HELP = `usage: metalwave plan [options]

Reads MAAS (machines, tags, who we are) and shows what a rollout would do: each
role with its machines per zone, the spares held back, the tags that would be
added and removed, the waves with their machines, and the pre-flight checks.
Makes no change. A MAAS URL is required; --simulated plans the embedded
simulated fleet instead (the one metalwave start rolls out).

options:
  --config FILE         YAML or JSON config (roles, waves: see docs/configuration.md, docs/roles.md)
  --maas-url URL        MAAS region URL (env METALWAVE_MAAS_URL)
  --api-key-file F      file holding the API key (env METALWAVE_MAAS_API_KEY holds the key itself)
  --override CODE       let a pre-flight FAIL through, as rollout would (repeatable)
  --simulated           plan the embedded simulated region (made-up machines)
  --json                print the plan as JSON on stdout (docs/cli.md)
  -h, --help            this help

exit codes: 0 nothing blocks a rollout, 6 pre-flight FAIL findings block it,
1 error, 2 bad input.`;

export async function runPlanCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags("plan", argv, {
    ...LOG_OPTIONS,
    config: { type: "string" },
    "maas-url": { type: "string" },
    "api-key-file": { type: "string" },
    override: { type: "string", multiple: true },
    simulated: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(PLAN_HELP);
    return ExitCode.OK;
  }
  const overrides = overrideFlags("plan", values.override, FINDING_CODES);
  const flags: ConfigInput = regionFlags(values);
  const config = withOverrides(loadConfig({ ...(values.config ? { file: values.config } : {}), flags }), overrides);
  const { logger } = cliOutput("plan", values, "warn");
  const region = await resolveRegion(config, { command: "plan", simulated: simulatedRequested(config, values.simulated), logger });
  try {
    const plan = await readAndPlan(clientFor(config, region.url, region.apiKey, logger), config);
    if (values.json) console.log(JSON.stringify({ region: regionJson(region), ...(planJson(plan) as object) }, null, 2));
    else console.log(`plan for the ${regionText(region)}\n\n${renderPlanText(plan.roles)}\n\n${renderWavesText(plan)}`);
    return plan.blocking.length > 0 ? ExitCode.PREFLIGHT : ExitCode.OK;
  } finally {
    if (region.simulated) await region.sim.close();
  }
}
