/**
 * The commands simulated hosts answer, with realistic output and the state rules
 * of the real tools: snap, juju, k8s, microceph (+ microceph.ceph), the
 * openstack-hypervisor snap, and the few basics the layer checks use. Everything
 * runs against the shared model (model.ts); nothing touches the real system.
 */
import { parse as parseYaml } from "yaml";
import { ShellSyntaxError, parseScript } from "./shell.ts";
import { JUJU_AGENT, snapServices } from "./model.ts";
import type { CephCluster, CmdResult, JujuController, JujuModel, K8sCluster, SimCloud, SimHost } from "./model.ts";

export interface ExecContext {
  host: SimHost;
  cloud: SimCloud;
  root: boolean;
  env: Record<string, string>;
  stdin: string;
}

type Handler = (args: string[], ctx: ExecContext) => CmdResult;

const ok = (out = ""): CmdResult => ({ code: 0, out, err: "" });
const fail = (err: string, code = 1): CmdResult => ({ code, out: "", err: err.endsWith("\n") ? err : `${err}\n` });
const notFound = (name: string): CmdResult => fail(`sh: 1: ${name}: not found`, 127);

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

// ------------------------------------------------------------------ flags

interface Parsed {
  pos: string[];
  opts: Map<string, string>;
  bad: string | undefined;
}

/** Parses `--x=v`, `--x v`, `-x v` for valued flags and bare booleans. */
function flags(args: readonly string[], valued: readonly string[], bools: readonly string[] = []): Parsed {
  const pos: string[] = [];
  const opts = new Map<string, string>();
  let bad: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith("-") && a !== "-") {
      const eq = a.indexOf("=");
      const key = eq < 0 ? a : a.slice(0, eq);
      if (valued.includes(key)) {
        const v = eq < 0 ? args[++i] : a.slice(eq + 1);
        if (v === undefined) bad ??= `flag needs an argument: ${key}`;
        else opts.set(key, v);
      } else if (bools.includes(key)) opts.set(key, "true");
      else bad ??= `unknown flag: ${key}`;
    } else pos.push(a);
  }
  return { pos, opts, bad };
}

const needsRoot = (ctx: ExecContext, what: string): CmdResult | undefined => (ctx.root ? undefined : fail(`error: access denied (try with sudo)\n${what}: permission denied`));

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

/** Whether an OSD's daemon runs: its host is deployed (the same installation) and `microceph.osd` is not stopped. */
function osdUp(cloud: SimCloud, systemId: string): boolean {
  const h = cloud.hosts.get(systemId);
  return h !== undefined && !h.stopped.has("microceph.osd");
}

// ------------------------------------------------------------------ snaps

const SNAPS: Record<string, { channel: string; version: string; revision: number; classic: boolean }> = {
  juju: { channel: "3.6/stable", version: "3.6.4", revision: 29001, classic: false },
  k8s: { channel: "1.32-classic/stable", version: "v1.32.2", revision: 3521, classic: true },
  microceph: { channel: "squid/stable", version: "19.2.0+snap3b53a4b0bd", revision: 1228, classic: false },
  "openstack-hypervisor": { channel: "2024.1/stable", version: "2024.1", revision: 203, classic: false },
};

const HYPERVISOR_REQUIRED = ["identity.auth-url", "identity.username", "identity.password", "rabbitmq.url"];

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
      const configured = name !== "openstack-hypervisor" || HYPERVISOR_REQUIRED.every((k) => s?.config.has(k));
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
};

// ------------------------------------------------------------------ k8s

function kubeconfig(cloud: SimCloud): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster:",
    // The simulated API speaks plain HTTP; client-node only allows that with TLS verification off.
    "    insecure-skip-tls-verify: true",
    `    server: ${cloud.kube.url}`,
    "  name: k8s",
    "contexts:",
    "- context:",
    "    cluster: k8s",
    "    user: k8s-user",
    "  name: k8s",
    "current-context: k8s",
    "preferences: {}",
    "users:",
    "- name: k8s-user",
    "  user:",
    `    token: ${cloud.kube.token}`,
    "",
  ].join("\n");
}

const NOT_IN_K8S = "Error: The node is not part of a Kubernetes cluster. You can bootstrap a new cluster with:\n\n  sudo k8s bootstrap";

function useToken(tokens: Map<string, { hostname: string; used: boolean }>, token: string, hostname: string): string | undefined {
  const t = tokens.get(token);
  if (t === undefined) return "invalid token";
  if (t.used) return "token has already been used";
  if (t.hostname !== hostname) return `token is not valid for node "${hostname}" (issued for "${t.hostname}")`;
  t.used = true;
  return undefined;
}

function k8sCmd(args: string[], ctx: ExecContext): CmdResult {
  const h = ctx.host;
  if (!h.snaps.has("k8s")) return notFound("k8s");
  const denied = needsRoot(ctx, "k8s");
  if (denied) return denied;
  const [sub, ...rest] = args;
  const cl = ctx.cloud.k8s;
  const member = cl?.members.has(h.systemId) === true;
  switch (sub) {
    case "bootstrap": {
      const p = flags(rest, ["--address", "--name", "--timeout"], ["--interactive"]);
      if (p.bad) return fail(`Error: ${p.bad}`);
      if (member) return fail("Error: The node is already bootstrapped: it is part of a cluster (run 'k8s status' to see it)");
      if (cl !== null) return fail(`Error: simulated hosts support one Kubernetes cluster; it was already bootstrapped on ${cl.bootstrapHost}`);
      const c: K8sCluster = { bootstrapHost: h.hostname, members: new Map([[h.systemId, h.hostname]]), tokens: new Map() };
      ctx.cloud.k8s = c;
      ctx.cloud.kube.addNode(h.hostname, h.address, { "node-role.kubernetes.io/control-plane": "" });
      return ok(`Bootstrapping the cluster. This may take a few seconds, please wait.\nBootstrapped a new Kubernetes cluster with node address "${h.address}:6400".\nThe node will be 'Ready' to host workloads after the CNI is deployed successfully.\n`);
    }
    case "status": {
      if (!member || cl === null) return fail(NOT_IN_K8S);
      const nodes = [...cl.members.keys()].map((sid) => ctx.cloud.hosts.get(sid)?.address ?? sid);
      return ok(
        [
          "cluster status:           ready",
          `control plane nodes:      ${nodes.map((a) => `${a}:6400 (voter)`).join(", ")}`,
          `high availability:        ${cl.members.size >= 3 ? "yes" : "no"}`,
          "datastore:                k8s-dqlite",
          "network:                  enabled",
          "dns:                      enabled at 10.152.183.10",
          "ingress:                  disabled",
          "load-balancer:            enabled, L2 mode",
          "local-storage:            enabled at /var/snap/k8s/common/rawfile-storage",
          "",
        ].join("\n"),
      );
    }
    case "get-join-token": {
      const p = flags(rest, ["--expires-in"], ["--worker"]);
      const [name] = p.pos;
      if (name === undefined) return fail("Error: accepts 1 arg(s), received 0");
      if (!member || cl === null) return fail(NOT_IN_K8S);
      if ([...cl.members.values()].includes(name)) return fail(`Error: Failed to retrieve the join token.\n\nThe error was: node "${name}" is already part of the cluster`);
      const token = ctx.cloud.newToken("k8s");
      cl.tokens.set(token, { token, hostname: name, used: false });
      return ok(`${token}\n`);
    }
    case "join-cluster": {
      const p = flags(rest, ["--name", "--address", "--file", "--timeout"]);
      const [token] = p.pos;
      if (token === undefined) return fail("Error: accepts 1 arg(s), received 0");
      if (member) return fail("Error: The node is already part of a cluster");
      if (cl === null) return fail("Error: Failed to join the cluster using the provided token.\n\nThe error was: failed to POST /k8sd/cluster/join: invalid token");
      const why = useToken(cl.tokens, token, p.opts.get("--name") ?? h.hostname);
      if (why) return fail(`Error: Failed to join the cluster using the provided token.\n\nThe error was: failed to POST /k8sd/cluster/join: ${why}`);
      cl.members.set(h.systemId, h.hostname);
      ctx.cloud.kube.addNode(h.hostname, h.address, { "node-role.kubernetes.io/control-plane": "" });
      return ok("Joining the cluster. This may take a few seconds, please wait.\nJoined the cluster.\n");
    }
    case "config":
      if (!member) return fail(NOT_IN_K8S);
      return ok(kubeconfig(ctx.cloud));
    default:
      return fail(`Error: unknown command "${sub ?? ""}" for "k8s"`);
  }
}

// ------------------------------------------------------------------ microceph

const NOT_IN_CEPH = "Error: Daemon not yet initialized";

function cephMember(ctx: ExecContext): CephCluster | undefined {
  const c = ctx.cloud.ceph;
  return c?.members.has(ctx.host.systemId) ? c : undefined;
}

function microcephCmd(args: string[], ctx: ExecContext): CmdResult {
  const h = ctx.host;
  if (!h.snaps.has("microceph")) return notFound("microceph");
  const denied = needsRoot(ctx, "microceph");
  if (denied) return denied;
  const [sub, sub2, ...rest] = args;
  const c = ctx.cloud.ceph;
  if (sub === "cluster") {
    switch (sub2) {
      case "bootstrap":
        if (cephMember(ctx)) return fail("Error: Unable to initialize cluster: the node is already bootstrapped (daemon is already initialized)");
        if (c !== null) return fail(`Error: simulated hosts support one MicroCeph cluster; it was already bootstrapped elsewhere (${[...c.members.values()][0] ?? "?"})`);
        ctx.cloud.ceph = { members: new Map([[h.systemId, h.hostname]]), tokens: new Map(), osds: [], pools: new Map(), defaultSize: 3 };
        return ok();
      case "add": {
        const [name] = rest;
        if (name === undefined) return fail("Error: accepts 1 arg(s), received 0");
        const m = cephMember(ctx);
        if (!m) return fail(NOT_IN_CEPH);
        if ([...m.members.values()].includes(name)) return fail(`Error: Failed to issue token: a cluster member named "${name}" already exists`);
        const token = ctx.cloud.newToken("microceph");
        m.tokens.set(token, { token, hostname: name, used: false });
        return ok(`${token}\n`);
      }
      case "join": {
        const [token] = rest;
        if (token === undefined) return fail("Error: accepts 1 arg(s), received 0");
        if (cephMember(ctx)) return fail("Error: Unable to join cluster: the node is already part of a cluster");
        if (c === null) return fail("Error: Unable to join cluster: failed to join: invalid token");
        const why = useToken(c.tokens, token, h.hostname);
        if (why) return fail(`Error: Unable to join cluster: failed to join: ${why}`);
        c.members.set(h.systemId, h.hostname);
        return ok();
      }
      case "list": {
        const m = cephMember(ctx);
        if (!m) return fail(NOT_IN_CEPH);
        const lines = ["+----------------+------------------+--------+", "|      NAME      |     ADDRESS      | STATUS |", "+----------------+------------------+--------+"];
        for (const [sid, name] of m.members) lines.push(`| ${name.padEnd(14)} | ${(ctx.cloud.hosts.get(sid)?.address ?? "?").padEnd(16)} | ONLINE |`);
        lines.push("+----------------+------------------+--------+");
        return ok(`${lines.join("\n")}\n`);
      }
      default:
        return fail(`Error: unknown command "${sub2 ?? ""}" for "microceph cluster"`);
    }
  }
  if (sub === "status") {
    const m = cephMember(ctx);
    if (!m) return fail(NOT_IN_CEPH);
    const lines = ["MicroCeph deployment summary:"];
    for (const [sid, name] of m.members) {
      const osds = m.osds.filter((o) => o.systemId === sid).length;
      lines.push(`- ${name} (${ctx.cloud.hosts.get(sid)?.address ?? "?"})`, `  Services: mds, mgr, mon${osds ? ", osd" : ""}`, `  Disks: ${osds}`);
    }
    return ok(`${lines.join("\n")}\n`);
  }
  if (sub === "disk") {
    const m = cephMember(ctx);
    if (sub2 === "add") {
      const p = flags(rest, [], ["--wipe", "--encrypt"]);
      const [path] = p.pos;
      if (path === undefined) return fail("Error: requires at least 1 arg(s), only received 0");
      if (!m) return fail(`Error: failed to request disk addition: ${NOT_IN_CEPH.replace("Error: ", "")}`);
      const disk = h.disks.find((d) => d.idPath === path);
      if (disk === undefined) return fail(`Error: failed to request disk addition: failed to find disk "${path}": no such file or directory`);
      if (disk.root) return fail(`Error: failed to request disk addition: disk "${path}" is in use (it holds the root filesystem)`);
      if (m.osds.some((o) => o.path === path && o.systemId === h.systemId)) return fail(`Error: failed to request disk addition: disk "${path}" is already in use as an OSD`);
      const id = m.osds.length + 1;
      m.osds.push({ id, systemId: h.systemId, hostname: h.hostname, path });
      const w = Math.max(path.length, 4);
      const bar = `+-${"-".repeat(w)}-+---------+`;
      return ok(`${bar}\n| ${"PATH".padEnd(w)} | STATUS  |\n${bar}\n| ${path.padEnd(w)} | Success |\n${bar}\n`);
    }
    if (sub2 === "list") {
      if (!m) return fail(`Error: failed listing disks: ${NOT_IN_CEPH.replace("Error: ", "")}`);
      const mine = m.osds;
      const avail = h.disks.filter((d) => !d.root && !mine.some((o) => o.systemId === h.systemId && o.path === d.idPath));
      if (rest.includes("--json")) {
        return ok(`${JSON.stringify({ ConfiguredDisks: mine.map((o) => ({ osd: o.id, location: o.hostname, path: o.path })), AvailableDisks: avail.map((d) => ({ model: "sim", size: `${Math.round(d.sizeBytes / 1e9)}GB`, type: "scsi", path: d.idPath })) })}\n`);
      }
      const lines = ["Disks configured in MicroCeph:", ...mine.map((o) => `| ${o.id} | ${o.hostname} | ${o.path} |`), "", "Available unpartitioned disks on this system:", ...avail.map((d) => `| ${d.idPath} |`)];
      return ok(`${lines.join("\n")}\n`);
    }
  }
  return fail(`Error: unknown command "${[sub, sub2].filter(Boolean).join(" ")}" for "microceph"`);
}

function cephCmd(args: string[], ctx: ExecContext): CmdResult {
  if (!ctx.host.snaps.has("microceph")) return notFound("microceph.ceph");
  const denied = needsRoot(ctx, "microceph.ceph");
  if (denied) return denied;
  const m = cephMember(ctx);
  if (!m) return fail("Error initializing cluster client: ObjectNotFound('RADOS object not found (error calling conf_read_file)')");
  const [a, b, c, d, e] = args;
  if (a === "osd" && b === "tree") {
    if (c !== "--format" || d !== "json") return fail("simulated ceph prints the osd tree as --format json only", 22);
    const byHost = new Map<string, { hostname: string; osds: number[] }>();
    for (const o of m.osds) {
      const entry = byHost.get(o.hostname) ?? { hostname: o.hostname, osds: [] };
      entry.osds.push(o.id);
      byHost.set(o.hostname, entry);
    }
    const hosts = [...byHost.values()].map((x, i) => ({ id: -(i + 2), name: x.hostname, type: "host", type_id: 1, children: x.osds }));
    const nodes: object[] = [{ id: -1, name: "default", type: "root", type_id: 11, children: hosts.map((x) => x.id) }, ...hosts.map((x) => ({ ...x, pool_weights: {} }))];
    for (const o of m.osds) {
      nodes.push({ id: o.id, device_class: "hdd", name: `osd.${o.id}`, type: "osd", type_id: 0, crush_weight: 3.638, depth: 2, pool_weights: {}, exists: 1, status: osdUp(ctx.cloud, o.systemId) ? "up" : "down", reweight: 1, primary_affinity: 1 });
    }
    return ok(`${JSON.stringify({ nodes, stray: [] })}\n`);
  }
  if (a === "osd" && b === "pool") {
    if (c === "ls") return ok([...m.pools.keys()].map((p) => `${p}\n`).join(""));
    if (c === "create" && d !== undefined) {
      if (m.pools.has(d)) return { code: 0, out: "", err: `pool '${d}' already exists\n` };
      m.pools.set(d, m.defaultSize);
      return { code: 0, out: "", err: `pool '${d}' created\n` };
    }
    if (d === undefined || !m.pools.has(d)) return fail(`Error ENOENT: unrecognized pool '${d ?? ""}'`, 2);
    if (c === "get" && e === "size") return ok(`size: ${m.pools.get(d) ?? 0}\n`);
    if (c === "set" && e === "size") {
      const n = Number(args[5]);
      if (!Number.isInteger(n) || n < 1 || n > 10) return fail(`Error EINVAL: pool size must be between 1 and 10`, 22);
      m.pools.set(d, n);
      return { code: 0, out: "", err: `set pool ${[...m.pools.keys()].indexOf(d) + 1} size to ${n}\n` };
    }
  }
  if (a === "config" && b === "set" && c === "global" && d === "osd_pool_default_size") {
    const n = Number(e);
    if (!Number.isInteger(n) || n < 1) return fail("Error EINVAL: invalid size", 22);
    m.defaultSize = n;
    return ok();
  }
  if (a === "config" && b === "get" && d === "osd_pool_default_size") return ok(`${m.defaultSize}\n`);
  return fail(`simulated ceph does not support: ceph ${args.join(" ")}`, 22);
}

// ------------------------------------------------------------------ juju

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

function jujuCmd(args: string[], ctx: ExecContext): CmdResult {
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
      // `juju machines --format json`: {model, machines{<id>:{...}}} with status's machine keys
      // (JB:jubilant/statustypes.py). The bootstrap machine of a manual cloud has instance id
      // exactly `manual:`, ssh-added ones `manual:<host>` (JJ:provider/manual/environ.go,
      // sshprovisioner.go, in ../shared/reference/juju-layering.md §4e).
      const p = flags(rest, ["-m", "--model", "--format"]);
      const r = jujuModel(ctx, p.opts.get("-m") ?? p.opts.get("--model") ?? "controller");
      if ("code" in r) return r;
      if (p.opts.get("--format") !== "json") return fail("ERROR simulated juju prints machines as --format json only");
      const machines = r.m.name !== "controller" ? {} : Object.fromEntries(r.c.machines.map((mm) => {
        const down = cloud.hosts.get(mm.systemId)?.stopped.has(JUJU_AGENT) === true;
        return [mm.id, { "juju-status": down ? { current: "down", message: "agent is not communicating with the server", version: "3.6.4" } : { current: "started", version: "3.6.4" }, hostname: cloud.hosts.get(mm.systemId)?.hostname ?? "", "dns-name": mm.address, "ip-addresses": [mm.address], "instance-id": mm.id === "0" ? "manual:" : `manual:${mm.address}`, "machine-status": { current: "running", message: "Manually provisioned machine" }, base: { name: "ubuntu", channel: "24.04" }, "controller-member-status": mm.hasVote ? "has-vote" : "no-vote" }];
      }));
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

const HANDLERS: Record<string, Handler> = {
  ...BASICS,
  k8s: k8sCmd,
  juju: jujuCmd,
  microceph: microcephCmd,
  "microceph.ceph": cephCmd,
};
