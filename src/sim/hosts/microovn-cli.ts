/**
 * MicroOVN's CLI on simulated hosts (juju-layering.md §4d, MO:microovn/cmd/microovn):
 * `cluster bootstrap|add <name>|join <token>|remove <name> [--force]`, `status`,
 * `enable|disable <central|chassis|switch>` (the last central is kept unless
 * `--allow-disable-last-central`), `waitready`. One cluster per simulated cloud.
 */
import type { CmdResult } from "./model.ts";
import { fail, flags, needsRoot, notFound, ok } from "./cli-util.ts";
import type { ExecContext } from "./cli-util.ts";
import { useToken } from "./k8s-cli.ts";

const SERVICES = ["central", "chassis", "switch"] as const;
const NOT_INIT = "Error: Daemon not yet initialized";

export function microovnCmd(args: string[], ctx: ExecContext): CmdResult {
  const h = ctx.host;
  if (!h.snaps.has("microovn")) return notFound("microovn");
  const denied = needsRoot(ctx, "microovn");
  if (denied) return denied;
  const [sub, sub2, ...rest] = args;
  const cl = ctx.cloud.ovn;
  const member = cl?.members.get(h.systemId);
  if (sub === "cluster") {
    switch (sub2) {
      case "bootstrap":
        if (member) return fail("Error: Unable to initialize cluster: the node is already bootstrapped");
        if (cl !== null) return fail(`Error: simulated hosts support one MicroOVN cluster; it was already bootstrapped on ${[...cl.members.values()][0]?.hostname ?? "?"}`);
        ctx.cloud.ovn = { members: new Map([[h.systemId, { hostname: h.hostname, services: new Set(SERVICES) }]]), tokens: new Map() };
        return ok();
      case "add": {
        const [name] = rest;
        if (name === undefined) return fail("Error: accepts 1 arg(s), received 0");
        if (!member || cl === null) return fail(NOT_INIT);
        if ([...cl.members.values()].some((x) => x.hostname === name)) return fail(`Error: Failed to issue token: a cluster member named "${name}" already exists`);
        const token = ctx.cloud.newToken("microovn");
        cl.tokens.set(token, { token, hostname: name, used: false });
        return ok(`${token}\n`);
      }
      case "join": {
        const [token] = rest;
        if (token === undefined) return fail("Error: accepts 1 arg(s), received 0");
        if (member) return fail("Error: Unable to join cluster: the node is already part of a cluster");
        if (cl === null) return fail("Error: Unable to join cluster: failed to join: invalid token");
        const why = useToken(cl.tokens, token, h.hostname);
        if (why) return fail(`Error: Unable to join cluster: failed to join: ${why}`);
        cl.members.set(h.systemId, { hostname: h.hostname, services: new Set(["chassis", "switch"]) });
        return ok();
      }
      case "remove": {
        const p = flags(rest, [], ["--force"]);
        const [name] = p.pos;
        if (!member || cl === null) return fail(NOT_INIT);
        const sid = [...cl.members].find(([, x]) => x.hostname === name)?.[0];
        if (sid === undefined) return fail(`Error: failed to remove cluster member: member "${name ?? ""}" not found`);
        cl.members.delete(sid);
        return ok();
      }
      default:
        return fail(`Error: unknown command "${sub2 ?? ""}" for "microovn cluster"`);
    }
  }
  if (sub === "status") {
    if (!member || cl === null) return fail(NOT_INIT);
    const lines = ["MicroOVN deployment summary:"];
    for (const [sid, x] of cl.members) lines.push(`- ${x.hostname} (${ctx.cloud.hosts.get(sid)?.address ?? "?"})`, `  Services: ${[...x.services].sort().join(", ")}`);
    return ok(`${lines.join("\n")}\n`);
  }
  if (sub === "enable" || sub === "disable") {
    const p = flags([sub2 ?? "", ...rest].filter(Boolean), [], ["--allow-disable-last-central"]);
    const [svc] = p.pos;
    if (!member || cl === null) return fail(NOT_INIT);
    if (svc === undefined || !(SERVICES as readonly string[]).includes(svc)) return fail(`Error: unknown service "${svc ?? ""}" (known: ${SERVICES.join(", ")})`);
    if (sub === "enable") member.services.add(svc);
    else {
      const centrals = [...cl.members.values()].filter((x) => x.services.has("central")).length;
      if (svc === "central" && centrals <= 1 && member.services.has("central") && !p.opts.has("--allow-disable-last-central")) return fail("Error: cannot disable the last central service in the cluster (use --allow-disable-last-central)");
      member.services.delete(svc);
    }
    return ok(`Service ${svc} ${sub}d\n`);
  }
  if (sub === "waitready") return member ? ok() : fail(NOT_INIT);
  return fail(`Error: unknown command "${sub ?? ""}" for "microovn"`);
}
