/**
 * `systemctl` and `rm` on simulated hosts, as far as a Juju machine agent's traces need them:
 * `juju add-machine ssh:` decides a host is already provisioned when its list of service unit
 * files names a `jujud-machine` service (JJ:environs/manual/sshprovisioner/sshprovisioner.go
 * checkProvisioned, over service.ListServicesScript), and Juju's own teardown of a manual
 * machine removes the agent's unit files and its data and log directories
 * (JJ:environs/manual/sshprovisioner/remover.go TearDownScript: `/etc/systemd/system{,/multi-user.target.wants}/juju*`,
 * `/var/lib/juju`, `/var/log/juju`). The agent is the host's `jujuAgent`: its unit file is
 * `/etc/systemd/system/jujud-machine-<id>.service`; removing that file takes it off the host.
 */
import { fail, needsRoot, ok } from "./cli-util.ts";
import type { ExecContext } from "./cli-util.ts";
import type { CmdResult, SimHost } from "./model.ts";

/** Service units every installation has (the MAAS-deployed Ubuntu image's), besides the agent's. */
const BASE_UNITS = ["snapd.service", "ssh.service", "systemd-networkd.service"];

const UNIT_DIRS = ["/etc/systemd/system/", "/etc/systemd/system/multi-user.target.wants/"];

function agentUnit(h: SimHost): string | undefined {
  return h.jujuAgent === undefined ? undefined : `jujud-machine-${h.jujuAgent.machine}.service`;
}

function unitName(arg: string): string {
  return arg.endsWith(".service") ? arg : `${arg}.service`;
}

export function systemctlCmd(args: string[], ctx: ExecContext): CmdResult {
  const opts = args.filter((a) => a.startsWith("-"));
  const pos = args.filter((a) => !a.startsWith("-") && a !== "service");
  const [sub, ...units] = pos;
  const agent = agentUnit(ctx.host);
  switch (sub) {
    case "list-unit-files": {
      const all = [...BASE_UNITS, ...(agent ? [agent] : [])].sort();
      const rows = all.map((u) => `${u.padEnd(40)} enabled         enabled`);
      const legend = opts.includes("--no-legend") ? [] : ["UNIT FILE                                STATE           PRESET"];
      const tail = opts.includes("--no-legend") ? [] : ["", `${rows.length} unit files listed.`];
      return ok(`${[...legend, ...rows, ...tail].join("\n")}\n`);
    }
    case "stop":
    case "disable": {
      const denied = needsRoot(ctx, `systemctl ${sub}`);
      if (denied) return denied;
      const missing = units.map(unitName).find((u) => u !== agent && !BASE_UNITS.includes(u));
      if (missing !== undefined) return fail(sub === "stop" ? `Failed to stop ${missing}: Unit ${missing} not loaded.` : `Failed to disable unit: Unit file ${missing} does not exist.`);
      return ok();
    }
    case "daemon-reload":
      return needsRoot(ctx, "systemctl daemon-reload") ?? ok();
    default:
      return fail(`systemctl: the simulated systemctl supports list-unit-files, stop, disable and daemon-reload only (got '${sub ?? ""}')`);
  }
}

export function rmCmd(args: string[], ctx: ExecContext): CmdResult {
  const opts = args.filter((a) => a.startsWith("-")).join("");
  const paths = args.filter((a) => !a.startsWith("-"));
  const recursive = /[rR]/.test(opts);
  const force = opts.includes("f");
  const h = ctx.host;
  for (const p of paths) {
    if (!p.startsWith("/home/ubuntu/")) {
      const denied = needsRoot(ctx, `rm ${p}`);
      if (denied) return denied;
    }
    const agent = agentUnit(h);
    const isAgentUnit = agent !== undefined && UNIT_DIRS.some((d) => p === `${d}${agent}`);
    const under = [...h.files.keys()].filter((f) => f === p || (recursive && f.startsWith(`${p}/`)));
    if (!isAgentUnit && under.length === 0 && !force) return fail(`rm: cannot remove '${p}': No such file or directory`);
    for (const f of under) h.files.delete(f);
    // The agent's unit file gone, systemd no longer lists the service: the host is not provisioned any more.
    if (isAgentUnit) h.jujuAgent = undefined;
  }
  return ok();
}
