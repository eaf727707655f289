#!/usr/bin/env node
/**
 * The `metalwave` command. Each subcommand parses its own flags and has its own
 * --help; flags and exit codes are an interface documented in docs/cli.md.
 */
import { MetalwaveError } from "../errors.ts";
import { ExitCode, UsageError } from "./args.ts";
import { runRolloutCommand, runStartCommand, runStatusCommand } from "./rollout.ts";
import { runSim } from "../sim/cli.ts";
import { runPlanCommand } from "./plan.ts";
import { runReprovisionCommand } from "./reprovision.ts";
import { runRemediateCommand } from "./remediate.ts";

type Command = { summary: string; run: (argv: string[]) => Promise<number> };

const COMMANDS: Record<string, Command> = {
  start: { summary: "full rollout on the embedded simulated region, with progress (npm start)", run: runStartCommand },
  plan: { summary: "read MAAS and show the roles, tag changes, waves and pre-flight checks; changes nothing", run: runPlanCommand },
  rollout: { summary: "plan and run a rollout against a MAAS region (or resume one)", run: runRolloutCommand },
  reprovision: { summary: "release with erase, redeploy and re-layer hosts; spares take the roles of hosts that still fail", run: runReprovisionCommand },
  remediate: { summary: "one remediation pass: failed and quarantined hosts provisioned again by policy, spares past the cap", run: runRemediateCommand },
  status: { summary: "show where every machine of the latest rollout is, from the store", run: runStatusCommand },
  sim: { summary: "serve a simulated MAAS region on loopback", run: runSim },
  serve: { summary: "run the metalwave service: rollouts on request over an HTTP API, events and metrics", run: async (argv) => (await import("./serve.ts")).runServeCommand(argv) },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "usage: metalwave <command> [options]",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'metalwave <command> --help' for a command's options.",
  ].join("\n");
}

function exitCodeForError(code: string): ExitCode {
  switch (code) {
    case "STORE_LOCKED":
      return ExitCode.LOCKED;
    case "CONFIG_INVALID":
      return ExitCode.USAGE;
    case "PREFLIGHT_FAILED":
      return ExitCode.PREFLIGHT;
    default:
      return ExitCode.ERROR;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" ? rest[0] : undefined;
    if (target && COMMANDS[target]) return COMMANDS[target].run(["--help"]);
    console.log(usage());
    return name ? ExitCode.OK : ExitCode.USAGE;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`metalwave: unknown command '${name}'\n\n${usage()}`);
    return ExitCode.USAGE;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      return ExitCode.USAGE;
    }
    if (e instanceof MetalwaveError) {
      console.error(`metalwave ${name}: ${e.message} [${e.code}]`);
      return exitCodeForError(e.code);
    }
    console.error(`metalwave ${name}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return ExitCode.ERROR;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = ExitCode.ERROR;
    },
  );
}
