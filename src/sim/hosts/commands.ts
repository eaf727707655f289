/**
 * The commands simulated hosts answer, with realistic output and the state rules
 * of the real tools: snap, juju (juju-cli.ts over src/sim/juju), k8s (k8s-cli.ts),
 * microceph and microceph.ceph (microceph-cli.ts), microovn (microovn-cli.ts), the
 * openstack-hypervisor snap, and the few basics the layer checks use. Everything
 * runs against the shared model (model.ts); nothing touches the real system.
 */
import { ShellSyntaxError, parseScript } from "./shell.ts";
import { snapServices } from "./model.ts";
import type { CmdResult, SimCloud, SimHost } from "./model.ts";
import { fail, flags, needsRoot, notFound, ok } from "./cli-util.ts";
import type { ExecContext, Handler } from "./cli-util.ts";
import { jujuCmd } from "./juju-cli.ts";
import { k8sCmd } from "./k8s-cli.ts";
import { microcephCmd, cephCmd } from "./microceph-cli.ts";
import { microovnCmd } from "./microovn-cli.ts";
import { rmCmd, systemctlCmd } from "./systemd-cli.ts";

export type { ExecContext } from "./cli-util.ts";

/** Runs one command line as the shell would (see shell.ts for what is supported). */
export function runCommandLine(line: string, ctx: ExecContext): CmdResult {
  let links;
  try {
    links = parseScript(line);
  } catch (e) {
    if (e instanceof ShellSyntaxError) return fail(`sh: simulated shell: ${e.message}`, 2);
    throw e;
  }
  let out = "";
  let err = "";
  let code = 0;
  for (const link of links) {
    if (link.op === "&&" && code !== 0) continue;
    if (link.op === "||" && code === 0) continue;
    const r = runArgv(link.cmd.argv, { ...ctx, env: { ...ctx.env, ...link.cmd.env } });
    let o = r.out;
    let e = r.err;
    for (const rd of link.cmd.redirects ?? []) {
      if (rd.fd === "1") [o, e] = rd.target === "/dev/null" ? ["", e] : rd.target === "&2" ? ["", e + o] : [o, e];
      else [o, e] = rd.target === "/dev/null" ? [o, ""] : rd.target === "&1" ? [o + e, ""] : [o, e];
    }
    out += o;
    err += e;
    code = r.code;
  }
  return { code, out, err };
}

function runArgv(argv: string[], ctx: ExecContext): CmdResult {
  const [name, ...args] = argv;
  if (name === undefined) return ok();
  if (name === "sudo") {
    let i = 0;
    while (i < args.length && (args[i] as string).startsWith("-")) {
      if (args[i] === "--") {
        i++;
        break;
      }
      if (!["-n", "-E", "-H"].includes(args[i] as string)) return fail(`sudo: simulated sudo does not support ${args[i]}`);
      i++;
    }
    if (i >= args.length) return fail("usage: sudo -h | -K | -k | -V");
    return runArgv(args.slice(i), { ...ctx, root: true });
  }
  if (name === "sh" || name === "bash") {
    const rest = args.filter((a) => a !== "-e");
    if (rest[0] !== "-c" || rest[1] === undefined) return fail(`${name}: simulated shell only runs '${name} -c SCRIPT'`, 2);
    return runCommandLine(rest[1], ctx);
  }
  const h = HANDLERS[name];
  if (h === undefined) return notFound(name);
  return h(args, ctx);
}

// ------------------------------------------------------------------ services

/**
 * A stopped service of the host runs again. Side effects the cluster sees: a kubelet
 * that runs again makes the node Ready (after the API's readiness delay).
 */
export function startService(ctx: { host: SimHost; cloud: SimCloud }, service: string): void {
  if (!ctx.host.stopped.delete(service)) return;
  if (service === "k8s.kubelet") ctx.cloud.kube.setKubelet(ctx.host.hostname, true);
}

/** Stops a service of the host: `snap services` shows it inactive; a stopped kubelet makes the node NotReady. */
export function stopService(ctx: { host: SimHost; cloud: SimCloud }, service: string): void {
  ctx.host.stopped.add(service);
  if (service === "k8s.kubelet") ctx.cloud.kube.setKubelet(ctx.host.hostname, false);
}

// ------------------------------------------------------------------ snaps

const SNAPS: Record<string, { channel: string; version: string; revision: number; classic: boolean }> = {
  juju: { channel: "3.6/stable", version: "3.6.4", revision: 29001, classic: false },
  k8s: { channel: "1.32-classic/stable", version: "v1.32.2", revision: 3521, classic: true },
  microceph: { channel: "squid/stable", version: "19.2.0+snap3b53a4b0bd", revision: 1228, classic: false },
  "openstack-hypervisor": { channel: "2024.1/stable", version: "2024.1", revision: 203, classic: false },
  microovn: { channel: "26.03/stable", version: "26.03", revision: 667, classic: false },
};

/**
 * What openstack-hypervisor's nova-compute needs before it runs (HV:openstack_hypervisor/hooks.py
 * REQUIRED_CONFIG): the whole identity section, whose keys without a default are these
 * (the others default to keystone's service account: user-domain-name=service_domain,
 * project-name=services), plus rabbitmq.url.
 */
const HYPERVISOR_REQUIRED = ["identity.auth-url", "identity.username", "identity.password", "identity.user-domain-id", "identity.project-domain-id", "rabbitmq.url"];

/** TLS material (ca.bundle, compute.cert, network.ovn-*) is base64; an undecodable value is logged and ignored (HV:hooks.py _parse_tls). */
function decodesAsBase64(v: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(v.replace(/\s+/g, "")) && v.replace(/\s+/g, "").length % 4 === 0;
}

/** Whether the hypervisor's services can run with this configuration. */
function hypervisorConfigured(cloud: SimCloud, config: Map<string, string>): boolean {
  if (!HYPERVISOR_REQUIRED.every((k) => config.has(k))) return false;
  // Over https the identity endpoint is verified with ca.bundle: an ignored (undecodable) bundle leaves none.
  const ca = config.get("ca.bundle");
  return !config.get("identity.auth-url")?.startsWith("https:") || (ca !== undefined && decodesAsBase64(ca));
}

function snapCmd(args: string[], ctx: ExecContext): CmdResult {
  const [sub, ...rest] = args;
  const h = ctx.host;
  switch (sub) {
    case "install": {
      const p = flags(rest, ["--channel"], ["--classic"]);
      if (p.bad) return fail(`error: ${p.bad}`);
      const denied = needsRoot(ctx, "snap install");
      if (denied) return denied;
      const out: string[] = [];
      for (const name of p.pos) {
        const known = SNAPS[name];
        if (known === undefined) return fail(`error: snap "${name}" not found`);
        if (h.snaps.has(name)) {
          out.push(`snap "${name}" is already installed, see 'snap help refresh'`);
          continue;
        }
        if (known.classic && !p.opts.has("--classic")) return fail(`error: This revision of snap "${name}" was published using classic confinement and thus may perform\n       arbitrary system changes outside of the security sandbox that snaps are usually confined to,\n       which may put your system at risk.\n\n       If you understand and want to proceed repeat the command including --classic.`);
        const channel = p.opts.get("--channel") ?? known.channel;
        h.snaps.set(name, { channel, version: known.version, revision: known.revision, classic: known.classic, config: new Map() });
        // A reinstalled control node's kubelet runs again (its node record outlives the old installation).
        if (name === "k8s") ctx.cloud.kube.setKubelet(h.hostname, true);
        out.push(`${name} (${channel}) ${known.version} from Canonical** installed`);
      }
      return ok(out.map((l) => `${l}\n`).join(""));
    }
    case "list": {
      const names = rest.length ? rest : [...h.snaps.keys()];
      const rows = names.filter((n) => h.snaps.has(n));
      if (rows.length === 0) return fail(rest.length ? "error: no matching snaps installed" : "No snaps are installed yet.");
      const lines = ["Name                  Version                Rev    Tracking             Publisher   Notes"];
      for (const n of rows) {
        const s = h.snaps.get(n);
        if (s) lines.push(`${n.padEnd(22)}${s.version.padEnd(23)}${String(s.revision).padEnd(7)}${s.channel.padEnd(21)}canonical** ${s.classic ? "classic" : "-"}`);
      }
      return ok(`${lines.join("\n")}\n`);
    }
    case "set": {
      const [name, ...pairs] = rest;
      if (name === undefined) return fail("error: the required argument `<snap>` was not provided");
      const denied = needsRoot(ctx, "snap set");
      if (denied) return denied;
      const s = h.snaps.get(name);
      if (s === undefined) return fail(`error: snap "${name}" is not installed`);
      for (const kv of pairs) {
        const eq = kv.indexOf("=");
        if (eq <= 0) return fail(`error: invalid configuration: "${kv}" (want key=value)`);
        s.config.set(kv.slice(0, eq), kv.slice(eq + 1));
      }
      // snapd stores any value; the snap's hook logs an undecodable TLS value and ignores it (HYPERVISOR_BASE64).
      return ok();
    }
    case "get": {
      const p = flags(rest, [], ["-d"]);
      const [name, key] = p.pos;
      if (name === undefined) return fail("error: the required argument `<snap>` was not provided");
      const s = h.snaps.get(name);
      if (s === undefined) return fail(`error: snap "${name}" is not installed`);
      if (key === undefined || p.opts.has("-d")) return ok(`${JSON.stringify(Object.fromEntries(s.config), null, 2)}\n`);
      const v = s.config.get(key);
      if (v === undefined) return fail(`error: snap "${name}" has no "${key}" configuration option`);
      return ok(`${v}\n`);
    }
    case "services": {
      const [name] = rest;
      if (name === undefined || !h.snaps.has(name)) return fail(`error: snap "${name ?? ""}" not found`);
      const s = h.snaps.get(name);
      const configured = name !== "openstack-hypervisor" || (s !== undefined && hypervisorConfigured(ctx.cloud, s.config));
      const lines = ["Service                                    Startup  Current   Notes"];
      for (const svc of snapServices(name)) {
        const active = configured && !h.stopped.has(`${name}.${svc}`);
        lines.push(`${`${name}.${svc}`.padEnd(43)}enabled  ${(active ? "active" : "inactive").padEnd(10)}-`);
      }
      return ok(`${lines.join("\n")}\n`);
    }
    case "wait":
      return ok();
    case "start":
    case "restart": {
      // `snap restart SNAP` or `snap restart SNAP.SERVICE`: stopped services run again.
      const target = rest.find((a) => !a.startsWith("-"));
      const denied = needsRoot(ctx, `snap ${sub}`);
      if (denied) return denied;
      const dot = target?.indexOf(".") ?? -1;
      const name = target !== undefined && dot > 0 ? target.slice(0, dot) : target;
      if (name === undefined || !h.snaps.has(name)) return fail(`error: snap "${name ?? ""}" not found`);
      const one = target !== undefined && dot > 0 ? target.slice(dot + 1) : undefined;
      if (one !== undefined && !snapServices(name).includes(one)) return fail(`error: snap "${name}" has no service "${one}"`);
      for (const svc of one !== undefined ? [one] : snapServices(name)) startService(ctx, `${name}.${svc}`);
      return ok(sub === "start" ? `Started.\n` : `Restarted.\n`);
    }
    default:
      return fail(`error: unknown command "${sub ?? ""}", see 'snap help'.`);
  }
}

// ------------------------------------------------------------------ basics

function cat(args: string[], ctx: ExecContext): CmdResult {
  let out = "";
  for (const f of args) {
    const t = ctx.host.files.get(f);
    if (t === undefined) return { code: 1, out, err: `cat: ${f}: No such file or directory\n` };
    out += t;
  }
  return ok(out);
}

function testCmd(args: string[], ctx: ExecContext): CmdResult {
  const [op, path] = args;
  if ((op === "-e" || op === "-f" || op === "-s") && path !== undefined) {
    const t = ctx.host.files.get(path);
    return { code: t !== undefined && (op !== "-s" || t.length > 0) ? 0 : 1, out: "", err: "" };
  }
  return fail("test: simulated test supports -e, -f and -s only", 2);
}

function install(args: string[], ctx: ExecContext): CmdResult {
  const p = flags(args, ["-m"], ["-D"]);
  if (p.bad) return fail(`install: ${p.bad}`);
  const [src, dest] = p.pos;
  if (src !== "/dev/stdin" || dest === undefined) return fail("install: the simulated install copies /dev/stdin to one file only");
  if (!dest.startsWith("/home/ubuntu/") && !ctx.root) return fail(`install: cannot create regular file '${dest}': Permission denied`);
  ctx.host.files.set(dest, ctx.stdin);
  return ok();
}

const BASICS: Record<string, Handler> = {
  true: () => ok(),
  false: () => ({ code: 1, out: "", err: "" }),
  echo: (args) => ok(`${args.join(" ")}\n`),
  hostname: (_a, ctx) => ok(`${ctx.host.hostname}\n`),
  whoami: (_a, ctx) => ok(ctx.root ? "root\n" : "ubuntu\n"),
  id: (args, ctx) => (args[0] === "-u" ? ok(ctx.root ? "0\n" : "1000\n") : ok(ctx.root ? "uid=0(root) gid=0(root) groups=0(root)\n" : "uid=1000(ubuntu) gid=1000(ubuntu) groups=1000(ubuntu),27(sudo)\n")),
  uname: (args) => ok(args.includes("-m") ? "x86_64\n" : "Linux\n"),
  cat,
  test: testCmd,
  install,
  "cloud-init": (args) => (args[0] === "status" ? ok("status: done\n") : fail("cloud-init: simulated cloud-init only answers 'status'")),
  snap: snapCmd,
  systemctl: systemctlCmd,
  rm: rmCmd,
};

const HANDLERS: Record<string, Handler> = {
  ...BASICS,
  k8s: k8sCmd,
  juju: jujuCmd,
  microceph: microcephCmd,
  "microceph.ceph": cephCmd,
  microovn: microovnCmd,
};
