/**
 * COMPATIBILITY PATH — remove once main has the `layering` rewrite (issue 15).
 *
 * The juju command as the simulated hosts answered it before the simulated Juju
 * (src/sim/juju, juju-cli.ts): it accepts today's layering sequence (templates/layers,
 * src/layers), including the mistakes issue 15 lists (add-machine'd machines in
 * show-controller, enable-ha finishing at once, `manual:<addr>` for the bootstrap machine,
 * merged `clouds`, the old mandatory relations). It runs only while `SimCloud.legacyJuju`
 * is set (HostFleetOptions.juju.legacyLayering, default LEGACY_LAYERING_DEFAULT); the
 * strict Juju is used otherwise. Kept as it was, so `npm start` works until the rewrite lands.
 */
import { parse as parseYaml } from "yaml";
import { JUJU_AGENT } from "./model.ts";
import type { CmdResult, LegacyJujuController, LegacyJujuModel } from "./model.ts";
import { fail, flags, notFound, ok } from "./cli-util.ts";
import type { ExecContext } from "./cli-util.ts";

/** Flip to false (and delete this file) when main has the layering rewrite. */
export const LEGACY_LAYERING_DEFAULT = false;

type JujuController = LegacyJujuController;
type JujuModel = LegacyJujuModel;

interface CharmSpec {
  requires: Record<string, string>;
  provides: Record<string, string>;
  version: string;
}

/** What the simulated charm store knows: endpoints and the interfaces they speak. */
const CHARMS: Record<string, CharmSpec> = {
  "mysql-k8s": { provides: { database: "mysql_client" }, requires: {}, version: "8.0.39" },
  "rabbitmq-k8s": { provides: { amqp: "rabbitmq" }, requires: {}, version: "3.12.1" },
  "self-signed-certificates": { provides: { certificates: "tls-certificates" }, requires: {}, version: "1.0" },
  "traefik-k8s": { provides: { ingress: "ingress" }, requires: { certificates: "tls-certificates" }, version: "2.11.0" },
  "keystone-k8s": { provides: { "identity-service": "keystone", "identity-credentials": "keystone-credentials" }, requires: { database: "mysql_client", "ingress-public": "ingress" }, version: "25.0.0" },
  "glance-k8s": { provides: {}, requires: { database: "mysql_client", "identity-service": "keystone", "ingress-public": "ingress", amqp: "rabbitmq" }, version: "28.0.0" },
  "nova-k8s": { provides: {}, requires: { database: "mysql_client", "identity-service": "keystone", "ingress-public": "ingress", amqp: "rabbitmq" }, version: "29.0.0" },
  "placement-k8s": { provides: {}, requires: { database: "mysql_client", "identity-service": "keystone", "ingress-public": "ingress" }, version: "11.0.0" },
  "neutron-k8s": { provides: {}, requires: { database: "mysql_client", "identity-service": "keystone", "ingress-public": "ingress", amqp: "rabbitmq" }, version: "24.0.0" },
  "cinder-k8s": { provides: {}, requires: { database: "mysql_client", "identity-service": "keystone", "ingress-public": "ingress", amqp: "rabbitmq" }, version: "24.0.0" },
  "horizon-k8s": { provides: {}, requires: { database: "mysql_client", "identity-credentials": "keystone-credentials", "ingress-public": "ingress" }, version: "24.0.0" },
};

function jujuCtl(ctx: ExecContext, name: string | undefined): JujuController | CmdResult {
  const known = [...ctx.host.jujuControllers];
  const n = name ?? (known.length === 1 ? known[0] : undefined);
  if (n === undefined) return fail("ERROR No controllers registered.\n\nPlease either create a new controller using \"juju bootstrap\" or connect to\nanother controller that you have been given access to using \"juju register\".");
  const c = ctx.cloud.juju.get(n);
  if (c === undefined || !ctx.host.jujuControllers.has(n)) return fail(`ERROR controller ${n} not found`);
  return c;
}

function jujuModel(ctx: ExecContext, spec: string | undefined): { c: JujuController; m: JujuModel } | CmdResult {
  const [cn, mn] = spec?.includes(":") ? spec.split(":") : [undefined, spec];
  const c = jujuCtl(ctx, cn);
  if ("code" in c) return c;
  if (mn === undefined) return fail("ERROR no model in focus (use -m)");
  const m = c.models.get(mn.replace(/^admin\//, ""));
  if (m === undefined) return fail(`ERROR model ${c.name}:admin/${mn} not found`);
  return { c, m };
}

function relatedEndpoints(m: JujuModel, app: string): Map<string, { app: string; iface: string }[]> {
  const out = new Map<string, { app: string; iface: string }[]>();
  for (const r of m.relations) {
    for (const [mine, other] of [
      [r.a, r.b],
      [r.b, r.a],
    ] as const) {
      const [ma, me] = mine.split(":") as [string, string];
      const [oa] = other.split(":") as [string, string];
      if (ma !== app) continue;
      const spec = CHARMS[m.apps.get(app)?.charm ?? ""];
      const iface = spec?.requires[me] ?? spec?.provides[me] ?? "?";
      const list = out.get(me) ?? [];
      list.push({ app: oa, iface });
      out.set(me, list);
    }
  }
  return out;
}

function appStatus(m: JujuModel, appName: string): { current: string; message: string } {
  const app = m.apps.get(appName);
  const spec = CHARMS[app?.charm ?? ""];
  if (app === undefined || spec === undefined) return { current: "unknown", message: "" };
  const rel = relatedEndpoints(m, appName);
  const missing = Object.keys(spec.requires).filter((ep) => !rel.has(ep));
  if (missing.length) return { current: "blocked", message: `(${missing.join(", ")}) integration${missing.length > 1 ? "s" : ""} missing` };
  if (app.readsSinceChange < 1) return { current: "maintenance", message: "installing charm software" };
  return { current: "active", message: "" };
}

function appAddress(m: JujuModel, appName: string): string {
  const i = [...m.apps.keys()].indexOf(appName);
  return `10.152.183.${20 + i}`;
}

function touched(m: JujuModel, ...apps: string[]): void {
  for (const a of apps) {
    const app = m.apps.get(a);
    if (app) app.readsSinceChange = 0;
  }
}

function jujuStatusJson(c: JujuController, m: JujuModel): string {
  const applications: Record<string, unknown> = {};
  for (const [name, app] of m.apps) {
    const st = appStatus(m, name);
    const rel = relatedEndpoints(m, name);
    const units: Record<string, unknown> = {};
    for (let i = 0; i < app.scale; i++) {
      units[`${name}/${i}`] = { "workload-status": st, "juju-status": { current: st.current === "active" ? "idle" : "executing" }, leader: i === 0 ? true : undefined, address: `10.1.${i}.${[...m.apps.keys()].indexOf(name) + 10}` };
    }
    applications[name] = {
      charm: app.charm,
      "charm-channel": app.channel,
      "charm-version": CHARMS[app.charm]?.version ?? "",
      scale: app.scale,
      trust: app.trust,
      address: appAddress(m, name),
      "application-status": st,
      relations: Object.fromEntries([...rel].map(([ep, list]) => [ep, list.map((x) => ({ "related-application": x.app, interface: x.iface, scope: "global" }))])),
      units,
    };
  }
  for (const app of m.apps.values()) app.readsSinceChange++;
  return `${JSON.stringify({ model: { name: m.name, type: "caas", controller: c.name, cloud: m.cloud, version: "3.6.4", "model-status": { current: "available" } }, machines: {}, applications })}\n`;
}

function jujuRun(ctx: ExecContext, c: JujuController, m: JujuModel, unit: string, action: string, params: string[]): CmdResult {
  const app = unit.split("/")[0] ?? "";
  const a = m.apps.get(app);
  if (a === undefined) return fail(`ERROR application "${app}" not found in model`);
  if (appStatus(m, app).current !== "active") return fail(`ERROR action "${action}" failed: unit ${app}/0 is not ready`);
  const kv = Object.fromEntries(params.map((p) => p.split("=") as [string, string]));
  let results: Record<string, string>;
  if (a.charm === "self-signed-certificates" && action === "get-ca-certificate") {
    results = { "ca-certificate": `-----BEGIN CERTIFICATE-----\n${Buffer.from(`sim-ca:${ctx.cloud.seed}:${c.name}`).toString("base64")}\n-----END CERTIFICATE-----` };
  } else if (a.charm === "rabbitmq-k8s" && action === "get-service-account") {
    if (!kv["username"] || !kv["vhost"]) return fail(`ERROR action "get-service-account" requires username and vhost`);
    results = { username: kv["username"], password: ctx.cloud.stableSecret("rabbitmq", m.name, kv["username"]), vhost: kv["vhost"], "ingress-address": appAddress(m, app), port: "5672" };
  } else if (a.charm === "keystone-k8s" && action === "get-admin-account") {
    const traefik = [...m.apps.values()].find((x) => x.charm === "traefik-k8s");
    const host = traefik ? appAddress(m, traefik.name) : appAddress(m, app);
    results = { username: "admin", password: ctx.cloud.stableSecret("keystone", m.name, "admin"), "user-domain-name": "admin_domain", "project-name": "admin", "project-domain-name": "admin_domain", region: "RegionOne", "public-endpoint": `http://${host}/${m.name}-${app}/v3`, "api-version": "3" };
  } else return fail(`ERROR action "${action}" not defined on unit "${unit}"`);
  return ok(`${JSON.stringify({ [`${app}/0`]: { id: "2", results: { ...results, "return-code": 0 }, status: "completed", "unit": `${app}/0` } })}\n`);
}

export function legacyJujuCmd(args: string[], ctx: ExecContext): CmdResult {
  const h = ctx.host;
  if (!h.snaps.has("juju")) return notFound("juju");
  const [sub, ...rest] = args;
  const cloud = ctx.cloud;
  switch (sub) {
    case "version":
      return ok("3.6.4-ubuntu-amd64\n");
    case "bootstrap": {
      const p = flags(rest, ["--config", "--bootstrap-series", "--bootstrap-base", "--constraints"]);
      if (p.bad) return fail(`ERROR ${p.bad}`);
      const [where, name] = p.pos;
      if (where === undefined || name === undefined) return fail("ERROR expected a cloud and a controller name");
      if (h.jujuControllers.has(name) || cloud.juju.has(name)) return fail(`ERROR controller "${name}" already exists`);
      const m = /^manual\/(?:[a-z]+@)?([0-9.]+)$/.exec(where);
      if (!m) return fail(`ERROR simulated juju bootstraps manual clouds only (manual/ubuntu@ADDRESS), not "${where}"`);
      const target = cloud.byAddress.get(m[1] as string);
      if (target === undefined) return fail(`ERROR failed to bootstrap model: dial tcp ${m[1]}:22: connect: connection refused`);
      cloud.juju.set(name, { name, machines: [{ id: "0", systemId: target.systemId, address: target.address, hasVote: true }], haRequested: 1, clouds: new Map(), models: new Map([["controller", { name: "controller", cloud: "manual", apps: new Map(), relations: [] }]]) });
      h.jujuControllers.add(name);
      return ok(
        `Creating Juju controller "${name}" on manual/default\nLooking for packaged Juju agent version 3.6.4 for amd64\nInstalling Juju agent on bootstrap instance\nRunning machine configuration script...\nBootstrap agent now started\nContacting Juju controller at ${target.address} to verify accessibility...\n\nBootstrap complete, controller "${name}" is now available\nController machines are in the "controller" model\n`,
      );
    }
    case "controllers": {
      const names = [...h.jujuControllers];
      return ok(`${JSON.stringify({ controllers: Object.fromEntries(names.map((n) => [n, { "controller-machines": { Active: cloud.juju.get(n)?.machines.length ?? 0 } }])), "current-controller": names[0] ?? "" })}\n`);
    }
    case "show-controller": {
      const p = flags(rest, ["--format"]);
      const c = jujuCtl(ctx, p.pos[0]);
      if ("code" in c) return c;
      const ha = c.haRequested >= 3;
      // A machine whose agent was stopped is reported down, as Juju does when it loses the agent.
      const agentDown = (mm: { systemId: string }) => cloud.hosts.get(mm.systemId)?.stopped.has(JUJU_AGENT) === true;
      const machines = Object.fromEntries(c.machines.map((mm) => [mm.id, { "instance-id": `manual:${mm.address}`, "ha-status": agentDown(mm) ? "down, lost connection" : ha ? (mm.hasVote ? "ha-enabled" : "ha-pending") : "ha-none" }]));
      return ok(`${JSON.stringify({ [c.name]: { details: { "agent-version": "3.6.4", "api-endpoints": c.machines.filter((x) => x.hasVote).map((x) => `${x.address}:17070`) }, "controller-machines": machines, models: Object.fromEntries([...c.models.keys()].map((k) => [k, {}])), account: { user: "admin", access: "superuser" } } })}\n`);
    }
    case "machines": {
      // `juju machines --format json` as wt/layering added it to the old path (their fedc342):
      // {model, machines{<id>:{...}}} with status's machine keys (JB:jubilant/statustypes.py);
      // the bootstrap machine's instance id is exactly `manual:` (§4e).
      const p = flags(rest, ["-m", "--model", "--format"]);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model") ?? "controller");
      if ("code" in r) return r;
      if (p.opts.get("--format") !== "json") return fail("ERROR simulated juju prints machines as --format json only");
      const machines =
        r.m.name !== "controller"
          ? {}
          : Object.fromEntries(
              r.c.machines.map((mm) => {
                const down = cloud.hosts.get(mm.systemId)?.stopped.has(JUJU_AGENT) === true;
                return [mm.id, { "juju-status": down ? { current: "down", message: "agent is not communicating with the server", version: "3.6.4" } : { current: "started", version: "3.6.4" }, hostname: cloud.hosts.get(mm.systemId)?.hostname ?? "", "dns-name": mm.address, "ip-addresses": [mm.address], "instance-id": mm.id === "0" ? "manual:" : `manual:${mm.address}`, "machine-status": { current: "running", message: "Manually provisioned machine" }, base: { name: "ubuntu", channel: "24.04" }, "controller-member-status": mm.hasVote ? "has-vote" : "no-vote" }];
              }),
            );
      return ok(`${JSON.stringify({ model: { name: r.m.name, type: "iaas", controller: r.c.name, cloud: r.m.cloud }, machines })}\n`);
    }
    case "add-machine": {
      const p = flags(rest, ["-m", "--model"]);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model") ?? "controller");
      if ("code" in r) return r;
      if (r.m.name !== "controller") return fail("ERROR simulated juju adds machines to the controller model only");
      const spec = /^ssh:(?:[a-z]+@)?([0-9.]+)$/.exec(p.pos[0] ?? "");
      if (!spec) return fail("ERROR simulated juju adds manual machines only (ssh:ubuntu@ADDRESS)");
      const target = cloud.byAddress.get(spec[1] as string);
      if (target === undefined) return fail(`ERROR error checking if provisioned: subprocess encountered error code 255 (ssh: connect to host ${spec[1]} port 22: Connection refused)`);
      if (r.c.machines.some((mm) => mm.systemId === target.systemId)) return fail("ERROR machine is already provisioned");
      const id = String(r.c.machines.length);
      r.c.machines.push({ id, systemId: target.systemId, address: target.address, hasVote: false });
      return { code: 0, out: "", err: `created machine ${id}\n` };
    }
    case "enable-ha": {
      const p = flags(rest, ["-c", "--controller", "-n", "--to"]);
      const c = jujuCtl(ctx, p.opts.get("-c") ?? p.opts.get("--controller"));
      if ("code" in c) return c;
      const n = Number(p.opts.get("-n") ?? "3");
      if (!Number.isInteger(n) || n < 1 || n % 2 === 0) return fail("ERROR must specify a number of controllers odd and non-negative");
      const to = (p.opts.get("--to") ?? "").split(",").filter(Boolean);
      for (const id of to) if (!c.machines.some((mm) => mm.id === id)) return fail(`ERROR machine ${id} not found`);
      const voting = c.machines.filter((mm) => mm.hasVote);
      const adding = c.machines.filter((mm) => !mm.hasVote && to.includes(mm.id)).slice(0, Math.max(0, n - voting.length));
      if (voting.length + adding.length < n) return fail(`ERROR enable-ha: not enough machines: need ${n - voting.length} more placed with --to`);
      for (const mm of adding) mm.hasVote = true;
      c.haRequested = Math.max(c.haRequested, n);
      const lines = [`maintaining machines: ${voting.map((x) => x.id).join(", ")}`];
      if (adding.length) lines.push(`converting machines: ${adding.map((x) => x.id).join(", ")}`);
      return ok(`${lines.join("\n")}\n`);
    }
    case "add-k8s": {
      const p = flags(rest, ["--controller", "-c"], ["--client"]);
      const [name] = p.pos;
      if (name === undefined) return fail("ERROR missing k8s cloud name");
      const c = jujuCtl(ctx, p.opts.get("--controller") ?? p.opts.get("-c"));
      if ("code" in c) return c;
      if (c.clouds.has(name)) return fail(`ERROR cloud "${name}" already exists on the controller`);
      let doc: { clusters?: { cluster?: { server?: string } }[]; users?: { user?: { token?: string } }[] };
      try {
        doc = parseYaml(ctx.stdin) as typeof doc;
      } catch {
        doc = {};
      }
      const server = doc?.clusters?.[0]?.cluster?.server;
      const token = doc?.users?.[0]?.user?.token;
      if (!server || !token) return fail("ERROR No k8s cluster definitions found in config");
      if (server !== cloud.kube.url || token !== cloud.kube.token) return fail(`ERROR failed to connect to ${server}: Unauthorized`);
      c.clouds.set(name, { server, token });
      return ok(`k8s substrate added as cloud "${name}" with storage provisioned\nby the existing "csi-rawfile-default" storage class.\nYou can now bootstrap to this cloud by running 'juju bootstrap ${name}'.\n`);
    }
    case "clouds": {
      const p = flags(rest, ["--controller", "-c", "--format"], ["--client"]);
      const c = jujuCtl(ctx, p.opts.get("--controller") ?? p.opts.get("-c"));
      if ("code" in c) return c;
      return ok(`${JSON.stringify(Object.fromEntries([...c.clouds.keys()].map((k) => [k, { type: "k8s", "auth-types": ["oauth2", "clientcertificate", "userpass"] }])))}\n`);
    }
    case "add-model": {
      const p = flags(rest, ["-c", "--controller", "--config"]);
      const [name, cloudName] = p.pos;
      if (name === undefined) return fail("ERROR model name not specified");
      const c = jujuCtl(ctx, p.opts.get("-c") ?? p.opts.get("--controller"));
      if ("code" in c) return c;
      if (c.models.has(name)) return fail(`ERROR model "admin/${name}" already exists`);
      if (cloudName === undefined || !c.clouds.has(cloudName)) return fail(`ERROR cloud ${cloudName ?? "(none)"} not found`);
      c.models.set(name, { name, cloud: cloudName, apps: new Map(), relations: [] });
      return { code: 0, out: "", err: `Added '${name}' model on ${cloudName}/default with credential '${cloudName}' for user 'admin'\n` };
    }
    case "models": {
      const p = flags(rest, ["-c", "--controller", "--format"]);
      const c = jujuCtl(ctx, p.opts.get("-c") ?? p.opts.get("--controller"));
      if ("code" in c) return c;
      return ok(`${JSON.stringify({ models: [...c.models.values()].map((m) => ({ name: `admin/${m.name}`, "short-name": m.name, cloud: m.cloud })) })}\n`);
    }
    case "deploy": {
      const p = flags(rest, ["-m", "--model", "--channel", "-n", "--num-units", "--base", "--config"], ["--trust"]);
      if (p.bad) return fail(`ERROR ${p.bad}`);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      if ("code" in r) return r;
      const [charm, appName = charm] = p.pos;
      if (charm === undefined) return fail("ERROR no charm name specified");
      if (CHARMS[charm] === undefined) return fail(`ERROR cannot resolve charm or bundle "${charm}": charm or bundle not found`);
      const app = appName ?? charm;
      if (r.m.apps.has(app)) return fail(`ERROR cannot add application "${app}": application already exists`);
      const n = Number(p.opts.get("-n") ?? p.opts.get("--num-units") ?? "1");
      if (!Number.isInteger(n) || n < 1) return fail(`ERROR invalid number of units: ${n}`);
      const channel = p.opts.get("--channel") ?? "latest/stable";
      r.m.apps.set(app, { name: app, charm, channel, scale: n, trust: p.opts.has("--trust"), readsSinceChange: 0 });
      return { code: 0, out: "", err: `Located charm "${charm}" in charm-hub, channel ${channel}\nDeploying "${app}" from charm-hub charm "${charm}", revision 1 in channel ${channel} on ubuntu@22.04/stable\n` };
    }
    case "scale-application": {
      const p = flags(rest, ["-m", "--model"]);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      if ("code" in r) return r;
      const [app, count] = p.pos;
      const a = r.m.apps.get(app ?? "");
      if (a === undefined) return fail(`ERROR application "${app ?? ""}" not found`);
      const n = Number(count);
      if (!Number.isInteger(n) || n < 0) return fail(`ERROR invalid scale "${count ?? ""}"`);
      a.scale = n;
      touched(r.m, a.name);
      return ok(`${a.name} scaled to ${n} units\n`);
    }
    case "integrate":
    case "relate": {
      const p = flags(rest, ["-m", "--model"]);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      if ("code" in r) return r;
      const [x, y] = p.pos;
      if (x === undefined || y === undefined) return fail("ERROR a relation must involve two applications");
      const ends = [x, y].map((e) => e.split(":") as [string, string | undefined]);
      for (const [app, ep] of ends) {
        const a = r.m.apps.get(app);
        if (a === undefined) return fail(`ERROR application "${app}" not found`);
        if (ep === undefined) return fail("ERROR simulated juju needs explicit endpoints (app:endpoint)");
        const spec = CHARMS[a.charm];
        if (spec?.requires[ep] === undefined && spec?.provides[ep] === undefined) return fail(`ERROR application "${app}" has no "${ep}" relation`);
      }
      const [[aa, ae], [ba, be]] = ends as [[string, string], [string, string]];
      const ia = CHARMS[r.m.apps.get(aa)?.charm ?? ""];
      const ib = CHARMS[r.m.apps.get(ba)?.charm ?? ""];
      const fwd = ia?.requires[ae] !== undefined && ia.requires[ae] === ib?.provides[be];
      const back = ib?.requires[be] !== undefined && ib.requires[be] === ia?.provides[ae];
      if (!fwd && !back) return fail(`ERROR no relations found between ${x} and ${y} (interfaces do not match)`);
      const key = (a: string, b: string) => [a, b].sort().join(" ");
      if (r.m.relations.some((rel) => key(rel.a, rel.b) === key(x, y))) return fail(`ERROR cannot add relation "${x} ${y}": relation ${x} ${y} already exists (already exists)`);
      r.m.relations.push({ a: x, b: y });
      touched(r.m, aa, ba);
      return ok();
    }
    case "status": {
      const p = flags(rest, ["-m", "--model", "--format"], ["--relations"]);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      if ("code" in r) return r;
      if (p.opts.get("--format") !== "json") return fail("ERROR simulated juju prints status as --format json only");
      return ok(jujuStatusJson(r.c, r.m));
    }
    case "run": {
      const p = flags(rest, ["-m", "--model", "--format", "--wait"]);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model"));
      if ("code" in r) return r;
      const [unit, action, ...params] = p.pos;
      if (unit === undefined || action === undefined) return fail("ERROR no unit or action specified");
      return jujuRun(ctx, r.c, r.m, unit, action, params);
    }
    default:
      return fail(`ERROR unrecognized command: juju ${sub ?? ""}`);
  }
}
