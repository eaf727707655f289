/**
 * The juju CLI (3.6) on simulated hosts, over the simulated Juju (src/sim/juju): the subset
 * juju-layering.md §4a lists, with the real outputs (JSON shapes, `created machine N` on
 * stderr) and refusals ("ERROR " + the controller's words). The client side is per host:
 * the controllers it bootstrapped and its `--client` clouds. Manual provisioning happens
 * here (client-side, as in Juju): the target must answer SSH and must not run a Juju
 * machine agent yet.
 */
import { parse as parseYaml } from "yaml";
import { JujuError, JUJU_VERSION, splitUrlEndpoint } from "../juju/controller.ts";
import { cloudJson, machineJson, modelsJson, showControllerJson, statusJson } from "../juju/render.ts";
import { StatusReader } from "../juju/status.ts";
import type { CloudDef, JujuController, JujuModel, MachineHost } from "../juju/types.ts";
import { fail, flags, ok, okErr } from "./cli-util.ts";
import type { ExecContext } from "./cli-util.ts";
import { reconcileCharms, runAction } from "./charm-effects.ts";
import type { CmdResult, SimHost } from "./model.ts";

const E = (e: unknown): CmdResult => {
  if (e instanceof JujuError) return fail(`ERROR ${e.message}`);
  throw e;
};

export function machineHost(h: SimHost): MachineHost {
  return { systemId: h.systemId, hostname: h.hostname, address: h.address, deployment: h.deployment, interfaces: h.interfaces.map((i) => ({ ...i })) };
}

function reader(ctx: ExecContext): StatusReader {
  return new StatusReader(ctx.cloud.jujuWorld, ctx.cloud.jujuEnv, ctx.cloud.now());
}

const NO_CONTROLLERS = 'ERROR No controllers registered.\n\nPlease either create a new controller using "juju bootstrap" or connect to\nanother controller that you have been given access to using "juju register".';

function controllerOf(ctx: ExecContext, name: string | undefined): JujuController {
  const client = ctx.host.juju;
  const n = name ?? client.current;
  if (n === undefined) throw new JujuError("not found", NO_CONTROLLERS.replace(/^ERROR /, ""));
  if (!client.controllers.has(n)) throw new JujuError("not found", `controller ${n} not found`);
  return ctx.cloud.jujuWorld.controller(n);
}

/** `-m [controller:]model`, or the client's current model. */
function modelOf(ctx: ExecContext, spec: string | undefined): { c: JujuController; m: JujuModel } {
  const [cn, mn] = spec?.includes(":") ? (spec.split(":") as [string, string]) : [undefined, spec];
  const c = controllerOf(ctx, cn);
  const name = mn ?? ctx.host.juju.currentModel.get(c.name);
  if (name === undefined) throw new JujuError("not found", "no model in focus (use -m)");
  return { c, m: ctx.cloud.jujuWorld.model(c, name) };
}

const MODEL = ["-m", "--model"];
const FORMAT = ["--format", "-o", "--output"];

/** `k=v k2=v2` constraints or config as a map. */
function pairs(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf("=");
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

function json(v: unknown): CmdResult {
  return ok(`${JSON.stringify(v)}\n`);
}

export function jujuCmd(args: string[], ctx: ExecContext): CmdResult {
  if (!ctx.host.snaps.has("juju")) return fail("sh: 1: juju: not found", 127);
  try {
    const r = run(args, ctx);
    reconcileCharms(ctx.cloud);
    return r;
  } catch (e) {
    return E(e);
  }
}

function run(args: string[], ctx: ExecContext): CmdResult {
  const [sub, ...rest] = args;
  const w = ctx.cloud.jujuWorld;
  const now = ctx.cloud.now();
  const h = ctx.host;
  switch (sub) {
    case "version":
      return ok(`${JUJU_VERSION}-ubuntu-amd64\n`);
    case "bootstrap": {
      const p = flags(rest, ["--config", "--bootstrap-base", "--bootstrap-constraints", "--constraints", "--to", "--controller-charm-path", "--bootstrap-series"], ["--no-gui"]);
      if (p.bad) return fail(`ERROR ${p.bad}`);
      const [where, name] = p.pos;
      if (where === undefined) return fail("ERROR expected a cloud name");
      if (name === undefined) return fail("ERROR controller name not specified");
      const mm = /^manual\/(?:([a-z][a-z0-9-]*)@)?([0-9.]+)$/.exec(where);
      if (!mm) return fail(`ERROR unknown cloud "${where}", please try "juju update-public-clouds" (the simulated controllers bootstrap on manual/[user@]ADDRESS)`);
      if (p.opts.has("--to")) return fail(`ERROR --to placement is not supported by the manual provider: the bootstrap machine is ${mm[2]}`);
      if (/\btags=/.test(p.opts.get("--bootstrap-constraints") ?? "")) return fail(`ERROR invalid constraint value: tags=...: manual provider does not support constraint "tags"`);
      const target = ctx.cloud.byAddress.get(mm[2] as string);
      if (target === undefined) return fail(`ERROR failed to bootstrap model: subprocess encountered error code 255 (ssh: connect to host ${mm[2]} port 22: Connection refused)`);
      if (target.jujuAgent) return fail(`ERROR failed to bootstrap model: machine is already provisioned`);
      const c = w.bootstrap(name, machineHost(target), now);
      target.jujuAgent = { controller: name, model: "controller", machine: "0" };
      h.juju.controllers.add(name);
      h.juju.current = name;
      h.juju.currentModel.set(name, "controller");
      return okErr(
        `Creating Juju controller "${name}" on manual/default\nLooking for packaged Juju agent version ${JUJU_VERSION} for amd64\nInstalling Juju agent on bootstrap instance\nRunning machine configuration script...\nBootstrap agent now started\nContacting Juju controller at ${target.address} to verify accessibility...\n\nBootstrap complete, controller "${c.name}" is now available\nController machines are in the "controller" model\n`,
      );
    }
    case "controllers": {
      const r = reader(ctx);
      const names = [...h.juju.controllers];
      return json({
        controllers: Object.fromEntries(
          names.map((n) => {
            const c = w.controller(n);
            const voters = [...(c.models.get("controller")?.machines.values() ?? [])].filter((m) => m.wantsVoteSince !== undefined);
            return [n, { "current-model": h.juju.currentModel.get(n) ?? "", user: "admin", access: "superuser", "recent-server": voters[0]?.host ? `${voters[0].host.address}:17070` : "", uuid: c.uuid, "api-endpoints": voters.filter((m) => m.host).map((m) => `${m.host?.address ?? ""}:17070`), cloud: c.cloud, region: "default", "agent-version": JUJU_VERSION, "controller-machines": { Active: voters.filter((m) => r.hasVote(m)).length, Total: voters.length } }];
          }),
        ),
        "current-controller": h.juju.current ?? "",
      });
    }
    case "show-controller": {
      const p = flags(rest, FORMAT, ["--show-password"]);
      const c = controllerOf(ctx, p.pos[0]);
      return json(showControllerJson(reader(ctx), c, ctx.cloud.jujuApiPorts, p.opts.has("--show-password")));
    }
    case "enable-ha": {
      const p = flags(rest, ["-c", "--controller", "-n", "--constraints", "--to", ...FORMAT]);
      if (p.bad) return fail(`ERROR ${p.bad}`);
      const c = controllerOf(ctx, p.opts.get("-c") ?? p.opts.get("--controller"));
      const to = (p.opts.get("--to") ?? "").split(",").filter(Boolean);
      if (to.some((t) => !/^\d+$/.test(t))) return fail(`ERROR invalid --to placement: ${to.find((t) => !/^\d+$/.test(t)) ?? ""} (the manual provider places controllers on machines of the controller model only)`);
      const r = w.enableHa(c, Number(p.opts.get("-n") ?? "0"), to, now);
      if (p.opts.get("--format") === "json") return json(r);
      const lines = [r.maintained.length ? `maintaining machines: ${r.maintained.join(", ")}` : "", r.converted.length ? `converting machines: ${r.converted.join(", ")}` : "", r.added.length ? `adding machines: ${r.added.join(", ")}` : ""].filter(Boolean);
      return ok(`${lines.join("\n")}\n`);
    }
    case "add-machine": {
      const p = flags(rest, [...MODEL, "--base", "--series", "--constraints", "-n", "--private-key", "--public-key"]);
      if (p.bad) return fail(`ERROR ${p.bad}`);
      const { c, m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const placement = p.pos[0];
      const constraints = p.opts.get("--constraints") ?? "";
      if (placement === undefined) {
        const n = Number(p.opts.get("-n") ?? "1");
        const ids = Array.from({ length: n }, () => w.addUnprovisionedMachine(m, now, constraints).id);
        return okErr(ids.map((id) => `created machine ${id}`).join("\n"));
      }
      const ssh = /^ssh:(?:([a-z][a-z0-9-]*)@)?([0-9.]+)$/.exec(placement);
      if (!ssh) return fail(`ERROR invalid placement "${placement}" for the manual provider: use ssh:[user@]host`);
      const target = ctx.cloud.byAddress.get(ssh[2] as string);
      if (target === undefined) return fail(`ERROR error checking if provisioned: subprocess encountered error code 255 (ssh: connect to host ${ssh[2]} port 22: Connection refused)`);
      // The client refuses a host that already runs a jujud-machine service (JJ:environs/manual/sshprovisioner).
      if (target.jujuAgent) return fail("ERROR machine is already provisioned");
      // Juju's order (JJ:environs/manual/sshprovisioner/provisioner.go): the machine is recorded in the
      // controller first, then the provisioning script installs the agent (the jujud-machine-N service).
      const mm = w.addManualMachine(m, machineHost(target), now, { base: p.opts.get("--base"), constraints });
      target.jujuAgent = { controller: c.name, model: m.name, machine: mm.id };
      if (ctx.cloud.provisioningCutShort.delete(target.systemId)) {
        // The script failed after the service was installed; the client's deferred cleanup destroys the
        // machine it recorded, and nothing takes the service off the host.
        w.removeMachine(m, mm.id, true, false);
        return fail(`ERROR provisioning failed, removing machine ${mm.id}: subprocess encountered error code 1\nERROR subprocess encountered error code 1`);
      }
      return okErr(`created machine ${mm.id}`);
    }
    case "machines": {
      const p = flags(rest, [...MODEL, ...FORMAT]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const r = reader(ctx);
      return json({ model: { name: m.name, type: m.type }, machines: Object.fromEntries([...m.machines.values()].map((mm) => [mm.id, machineJson(r, m, mm)])) });
    }
    case "remove-machine": {
      const p = flags(rest, MODEL, ["--force", "--no-prompt", "--keep-instance", "--no-wait"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      for (const id of p.pos) {
        const mm = m.machines.get(id);
        const alive = mm !== undefined && reader(ctx).agentAlive(mm);
        w.removeMachine(m, id, p.opts.has("--force"), alive);
        // A dead agent runs no stop hook: what the charms joined the host to stays (charm-effects.ts).
        if (mm?.host && !alive && !m.machines.has(id)) ctx.cloud.removedUnhooked.add(mm.host.systemId);
        // The agent uninstalls itself from a host it still runs on (manual machines).
        const host = mm?.host ? ctx.cloud.hosts.get(mm.host.systemId) : undefined;
        if (host?.jujuAgent?.model === m.name && host.jujuAgent.machine === id && !m.machines.has(id)) host.jujuAgent = undefined;
      }
      return okErr(p.pos.map((id) => `removing machine ${id}`).join("\n"));
    }
    case "add-cloud":
    case "add-k8s":
      return addCloud(sub, rest, ctx);
    case "clouds":
    case "list-clouds": {
      // With --client and -c, one map: client clouds, then the controller's overwrite same names;
      // with neither, the client's and the current controller's (JJ:cmd/juju/cloud/list.go, modelcmd).
      const p = flags(rest, ["-c", "--controller", ...FORMAT], ["--client", "--all"]);
      const cn = p.opts.get("-c") ?? p.opts.get("--controller");
      const client = p.opts.has("--client");
      const out: Record<string, unknown> = {};
      if (client || cn === undefined) for (const cl of [BUILTIN_LOCALHOST, ...h.juju.clouds.values()]) out[cl.name] = cloudJson(cl);
      if (cn !== undefined || (!client && h.juju.current !== undefined)) for (const cl of controllerOf(ctx, cn).clouds.values()) out[cl.name] = cloudJson(cl);
      return json(out);
    }
    case "add-credential":
      return ok();
    case "add-model": {
      const p = flags(rest, ["-c", "--controller", "--config", "--credential", "--owner"], ["--no-switch"]);
      const [name, cloudRegion] = p.pos;
      if (name === undefined) return fail("ERROR model name not specified");
      const c = controllerOf(ctx, p.opts.get("-c") ?? p.opts.get("--controller"));
      const cloudName = cloudRegion?.split("/")[0];
      if (cloudName !== undefined && !c.clouds.has(cloudName)) {
        const onClient = h.juju.clouds.has(cloudName) ? ` (cloud "${cloudName}" is known to this client only: add it to the controller with --controller ${c.name})` : "";
        return fail(`ERROR cloud ${cloudName} not found${onClient}`);
      }
      const m = w.addModel(c, name, cloudName, now, pairs((p.opts.get("--config") ?? "").split(/\s+/)));
      if (!p.opts.has("--no-switch")) h.juju.currentModel.set(c.name, m.name);
      return okErr(`Added '${name}' model on ${m.cloud}/${m.region} with credential '${m.credential}' for user 'admin'`);
    }
    case "models": {
      const p = flags(rest, ["-c", "--controller", ...FORMAT], ["--all"]);
      return json(modelsJson(controllerOf(ctx, p.opts.get("-c") ?? p.opts.get("--controller"))));
    }
    case "switch": {
      const [target] = rest;
      if (target === undefined) return fail("ERROR no controller or model specified");
      const { c, m } = modelOf(ctx, target.includes(":") ? target : `${h.juju.current ?? ""}:${target}`);
      h.juju.currentModel.set(c.name, m.name);
      return okErr(`${c.name} (controller) -> ${c.name}:admin/${m.name}`);
    }
    case "deploy": {
      const p = flags(rest, [...MODEL, "--channel", "-n", "--num-units", "--base", "--config", "--to", "--bind", "--constraints", "--revision"], ["--trust"]);
      if (p.bad) return fail(`ERROR ${p.bad}`);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [charm, app] = p.pos;
      if (charm === undefined) return fail("ERROR no charm name specified");
      const n = p.opts.get("-n") ?? p.opts.get("--num-units");
      const bind = bindings(p.opts.get("--bind"));
      const a = w.deploy(m, charm, now, { app, n: n === undefined ? undefined : Number(n), to: p.opts.get("--to")?.split(",").filter(Boolean), channel: p.opts.get("--channel"), base: p.opts.get("--base"), config: configArg(ctx, p.opts.get("--config")), bind, trust: p.opts.has("--trust") });
      return okErr(`Located charm "${a.charm.name}" in charm-hub, channel ${a.channel}\nDeploying "${a.name}" from charm-hub charm "${a.charm.name}", revision ${a.revision} in channel ${a.channel} on ${a.base}/stable`);
    }
    case "add-unit": {
      const p = flags(rest, [...MODEL, "-n", "--num-units", "--to"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [app] = p.pos;
      if (app === undefined) return fail("ERROR no application specified");
      const us = w.addUnits(m, app, Number(p.opts.get("-n") ?? p.opts.get("--num-units") ?? "1"), p.opts.get("--to")?.split(",").filter(Boolean) ?? [], now);
      return okErr(us.map((u) => `added unit ${u.name}`).join("\n"));
    }
    case "remove-unit": {
      const p = flags(rest, [...MODEL, "--num-units"], ["--force", "--no-prompt", "--no-wait", "--destroy-storage"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      if (m.type === "caas") {
        const [app] = p.pos;
        const n = Number(p.opts.get("--num-units"));
        if (app === undefined || !Number.isInteger(n) || n < 1) return fail("ERROR removing units on a k8s model requires --num-units and an application name");
        w.scale(m, app, Math.max(0, w.app(m, app).units.size - n), now);
        return okErr(`scaling down to ${w.app(m, app).units.size} units`);
      }
      for (const u of p.pos) w.removeUnit(m, u);
      return okErr(p.pos.map((u) => `will remove unit ${u}`).join("\n"));
    }
    case "remove-application": {
      const p = flags(rest, MODEL, ["--force", "--no-prompt", "--no-wait", "--destroy-storage"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      for (const a of p.pos) w.removeApplication(m, a);
      return okErr(p.pos.map((a) => `will remove application ${a}`).join("\n"));
    }
    case "scale-application": {
      const p = flags(rest, MODEL);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [app, count] = p.pos;
      w.scale(m, app ?? "", Number(count), now);
      return ok(`${app ?? ""} scaled to ${count ?? ""} units\n`);
    }
    case "config": {
      const p = flags(rest, [...MODEL, ...FORMAT, "--file"], ["--reset"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [app, ...kv] = p.pos;
      const a = w.app(m, app ?? "");
      if (kv.length === 0) return json({ application: a.name, charm: a.charm.name, settings: Object.fromEntries(Object.entries(a.config).map(([k, v]) => [k, { value: v, source: "user" }])) });
      if (kv.length === 1 && !kv[0]?.includes("=")) return ok(`${a.config[kv[0] as string] ?? ""}\n`);
      w.setConfig(m, a.name, pairs(kv));
      return ok();
    }
    case "integrate":
    case "relate": {
      const p = flags(rest, MODEL, ["--via"]);
      const { c, m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [x, y] = p.pos;
      if (x === undefined || y === undefined) return fail("ERROR a relation must involve two applications");
      w.integrate(c, m, x, y, now);
      return ok();
    }
    case "remove-relation": {
      const p = flags(rest, MODEL, ["--force"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      w.removeRelation(m, p.pos[0] ?? "", p.pos[1] ?? "");
      return ok();
    }
    case "offer": {
      const p = flags(rest, ["-c", "--controller"]);
      const [spec, name] = p.pos;
      const mm = /^(?:([a-z0-9-]+)\.)?([a-z0-9-]+):([a-z0-9-]+(?:,[a-z0-9-]+)*)$/.exec(spec ?? "");
      if (!mm) return fail(`ERROR invalid offer "${spec ?? ""}" (want [model.]application:endpoint[,endpoint])`);
      const { m } = modelOf(ctx, mm[1] === undefined ? undefined : `${p.opts.get("-c") ?? p.opts.get("--controller") ?? h.juju.current ?? ""}:${mm[1]}`);
      const url = w.offer(m, mm[2] as string, (mm[3] as string).split(","), name, now);
      return ok(`Application "${mm[2] ?? ""}" endpoints [${(mm[3] as string).split(",").join(" ")}] available at "${url}"\n`);
    }
    case "consume": {
      const p = flags(rest, MODEL);
      const { c, m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [url, alias] = p.pos;
      const r = w.consume(c, m, splitUrlEndpoint(url ?? "")[0], alias);
      return okErr(`Added ${url ?? ""} as ${r.alias}`);
    }
    case "remove-offer": {
      const p = flags(rest, ["-c", "--controller"], ["--force", "-y", "--yes", "--no-prompt"]);
      const c = controllerOf(ctx, p.opts.get("-c") ?? p.opts.get("--controller"));
      for (const u of p.pos) w.removeOffer(c, u, p.opts.has("--force"));
      return ok();
    }
    case "remove-saas": {
      const p = flags(rest, MODEL, ["--force", "--no-wait"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      for (const a of p.pos) w.removeSaas(m, a);
      return okErr(p.pos.map((a) => `will remove SAAS application ${a}`).join("\n"));
    }
    case "add-space":
    case "move-to-space": {
      const p = flags(rest, MODEL, ["--force"]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [name, ...cidrs] = p.pos;
      if (name === undefined) return fail("ERROR space name is required");
      if (sub === "add-space") {
        w.addSpace(m, name, cidrs);
        return ok(`added space "${name}" with subnets ${cidrs.join(", ")}\n`);
      }
      w.moveToSpace(m, name, cidrs);
      return ok(`Subnet ${cidrs.join(", ")} moved to space "${name}"\n`);
    }
    case "spaces": {
      const p = flags(rest, [...MODEL, ...FORMAT]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      return json({ spaces: [...m.spaces.values()].map((s) => ({ id: s.id, name: s.name, subnets: Object.fromEntries(s.cidrs.map((c) => [c, { type: "ipv4", "provider-id": "", status: "in-use", zones: ["default"] }])) })) });
    }
    case "show-space": {
      const p = flags(rest, [...MODEL, ...FORMAT]);
      const { m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const s = m.spaces.get(p.pos[0] ?? "");
      if (s === undefined) return fail(`ERROR space "${p.pos[0] ?? ""}" not found`);
      const apps = [...m.apps.values()].filter((a) => Object.values(a.bindings).includes(s.name)).map((a) => a.name);
      return json({ space: { id: s.id, name: s.name, subnets: s.cidrs.map((cidr) => ({ cidr, "vlan-tag": 0 })) }, applications: apps, "machine-count": [...m.machines.values()].filter((mm) => (mm.host?.interfaces ?? []).some((i) => s.cidrs.includes(i.cidr))).length });
    }
    case "status": {
      const p = flags(rest, [...MODEL, ...FORMAT], ["--relations", "--color", "--no-color"]);
      const { c, m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const fmt = p.opts.get("--format") ?? p.opts.get("-o") ?? p.opts.get("--output");
      if (fmt !== "json") return fail("ERROR the simulated juju prints status as --format json only");
      return json(statusJson(w, reader(ctx), c, m));
    }
    case "run": {
      const p = flags(rest, [...MODEL, ...FORMAT, "--wait", "--params"], ["--background"]);
      const { c, m } = modelOf(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      const [unit, action, ...params] = p.pos;
      if (unit === undefined || action === undefined) return fail("ERROR no unit or action specified");
      return runAction(ctx, c, m, unit, action, pairs(params));
    }
    default:
      return fail(`ERROR unrecognized command: juju ${sub ?? ""}`);
  }
}

/** The lxd cloud every client knows (built-in): in `juju clouds --client`, never on a manual controller. */
const BUILTIN_LOCALHOST: CloudDef = { name: "localhost", type: "lxd", authTypes: ["certificate"], endpoint: "", regions: ["localhost"] };

/** `--bind "space ep=space ..."`: a bare space is the default binding. */
function bindings(spec: string | undefined): Record<string, string> | undefined {
  if (spec === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const part of spec.split(/\s+/).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 0) out[""] = part;
    else out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** `--config k=v` or `--config file.yaml` (a file on the host, `{app: {k: v}}` or flat). */
function configArg(ctx: ExecContext, v: string | undefined): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (v.includes("=")) return pairs([v]);
  const text = ctx.host.files.get(v);
  if (text === undefined) throw new JujuError("not found", `cannot read config file "${v}": no such file or directory`);
  const doc = (parseYaml(text) ?? {}) as Record<string, unknown>;
  const inner = Object.values(doc).length === 1 && typeof Object.values(doc)[0] === "object" ? (Object.values(doc)[0] as Record<string, unknown>) : doc;
  return Object.fromEntries(Object.entries(inner).map(([k, x]) => [k, String(x)]));
}

/**
 * `juju add-cloud` / `juju add-k8s`: `--client` writes the client's copy only, `-c` the
 * controller's; neither: both, with the current controller (OptionalControllerCommand).
 * add-k8s reads the kubeconfig from stdin or $KUBECONFIG and must reach the cluster.
 */
function addCloud(sub: "add-cloud" | "add-k8s", rest: string[], ctx: ExecContext): CmdResult {
  const p = flags(rest, ["-c", "--controller", "-f", "--file", "--cloud", "--region", "--storage", "--credential"], ["--client", "--force", "--skip-storage"]);
  if (p.bad) return fail(`ERROR ${p.bad}`);
  const [name] = p.pos;
  if (name === undefined) return fail(`ERROR missing ${sub === "add-k8s" ? "k8s " : ""}cloud name`);
  const cn = p.opts.get("-c") ?? p.opts.get("--controller");
  const toClient = p.opts.has("--client") || cn === undefined;
  const toController = cn !== undefined || (!p.opts.has("--client") && ctx.host.juju.current !== undefined);
  let def: CloudDef;
  if (sub === "add-k8s") {
    const text = ctx.stdin || (ctx.env["KUBECONFIG"] ? (ctx.host.files.get(ctx.env["KUBECONFIG"]) ?? "") : "");
    type Kubeconfig = { clusters?: { cluster?: { server?: string } }[]; users?: { user?: { token?: string } }[] } | null;
    let doc: Kubeconfig;
    try {
      doc = parseYaml(text) as Kubeconfig;
    } catch {
      doc = null;
    }
    const server = doc?.clusters?.[0]?.cluster?.server;
    const token = doc?.users?.[0]?.user?.token;
    if (!server || !token) return fail("ERROR No k8s cluster definitions found in config");
    if (server !== ctx.cloud.kube.url || token !== ctx.cloud.kube.token) return fail(`ERROR failed to connect to ${server}: Unauthorized`);
    def = { name, type: "kubernetes", authTypes: ["oauth2", "clientcertificate"], endpoint: server, regions: ["localhost"], server, token, hostCloudRegion: "k8s/localhost" };
  } else {
    const file = p.opts.get("-f") ?? p.opts.get("--file");
    const text = file ? ctx.host.files.get(file) : undefined;
    if (file && text === undefined) return fail(`ERROR reading cloud definition file "${file}": no such file or directory`);
    const doc = (text ? parseYaml(text) : {}) as { clouds?: Record<string, { type?: string; endpoint?: string; "auth-types"?: string[] }> } | null;
    const d = doc?.clouds?.[name];
    if (!d?.type) return fail(`ERROR cloud "${name}" not found in file "${file ?? ""}"`);
    def = { name, type: d.type, authTypes: d["auth-types"] ?? [], endpoint: d.endpoint ?? "", regions: ["default"] };
  }
  const lines: string[] = [];
  if (toClient) {
    if (ctx.host.juju.clouds.has(name) && !p.opts.has("--force")) return fail(`ERROR cloud "${name}" already exists on this client`);
    ctx.host.juju.clouds.set(name, def);
    lines.push(`${sub === "add-k8s" ? "k8s substrate" : "Cloud"} "${name}" added to this client.`);
  }
  if (toController) {
    const c = controllerOf(ctx, cn);
    ctx.cloud.jujuWorld.addCloud(c, def);
    lines.push(sub === "add-k8s" ? `k8s substrate added as cloud "${name}" with storage provisioned\nby the existing "csi-rawfile-default" storage class on controller ${c.name}.` : `Cloud "${name}" added to controller "${c.name}".`);
  }
  return ok(`${lines.join("\n")}\n`);
}
