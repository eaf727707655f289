/**
 * The k8s snap's CLI (Canonical Kubernetes) on simulated hosts: bootstrap, join tokens,
 * join, status, config, remove-node, and the load balancer feature. Facts
 * (juju-layering.md §4d, K8S:docs/canonicalk8s/_parts/commands, bootstrap_config.md):
 * every call has `--timeout` (default 1m30s) and fails once its work takes longer; the load
 * balancer is off after bootstrap until `k8s enable load-balancer` (or bootstrap config),
 * and `l2-mode` is on by default once enabled. How long a bootstrap or a join takes is a
 * simulator parameter (SimCloud.k8sTimings), not a fact: real durations depend on the hardware.
 */
import type { CmdResult, K8sCluster, SimCloud } from "./model.ts";
import { fail, flags, needsRoot, notFound, ok } from "./cli-util.ts";
import type { ExecContext } from "./cli-util.ts";

/** `--timeout` values as the k8s CLI takes them (Go durations: 90s, 1m30s, 2m). */
export function parseDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(h|m|s|ms)/g;
  let total = 0;
  let used = 0;
  for (let mm = re.exec(s); mm; mm = re.exec(s)) {
    const n = Number(mm[1]);
    total += n * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[mm[2] as "h" | "m" | "s" | "ms"]);
    used += mm[0].length;
  }
  return used === s.length && used > 0 ? total : undefined;
}

const DEFAULT_TIMEOUT_MS = 90_000;

function timeoutOf(opts: Map<string, string>): number | string {
  const t = opts.get("--timeout");
  if (t === undefined) return DEFAULT_TIMEOUT_MS;
  const ms = parseDuration(t);
  return ms === undefined ? `invalid argument "${t}" for "--timeout" flag: time: invalid duration "${t}"` : ms;
}

/** The words k8s prints when an operation outlives its --timeout (wording not read in k8sd's sources). */
const timedOut = (what: string, ms: number) => fail(`Error: Failed to ${what}.\n\nThe error was: context deadline exceeded (the operation did not finish within --timeout ${ms / 1000}s; retry with a larger --timeout)`);

/** Load-balancer keys `k8s set`/`k8s get` know (K8S bootstrap_config.md). */
const LB_KEYS = ["load-balancer.cidrs", "load-balancer.l2-mode", "load-balancer.l2-interfaces", "load-balancer.bgp-mode", "load-balancer.enabled"] as const;

function lbGet(cl: K8sCluster, key: string): string | undefined {
  const lb = cl.loadBalancer;
  switch (key) {
    case "load-balancer.enabled":
      return String(lb.enabled);
    case "load-balancer.cidrs":
      return lb.cidrs.join(" ");
    case "load-balancer.l2-mode":
      return String(lb.l2Mode);
    case "load-balancer.bgp-mode":
      return String(lb.bgpMode);
    case "load-balancer.l2-interfaces":
      return "";
    default:
      return undefined;
  }
}

/** Applies the cluster's load-balancer settings to the Kubernetes API (pools and announcements). */
export function syncLoadBalancer(cloud: SimCloud): void {
  const lb = cloud.k8s?.loadBalancer;
  cloud.kube.setLoadBalancer(lb ? { enabled: lb.enabled, announced: lb.enabled && (lb.l2Mode || lb.bgpMode), cidrs: lb.cidrs } : { enabled: false, announced: false, cidrs: [] });
}

export function kubeconfig(cloud: SimCloud): string {
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

export function useToken(tokens: Map<string, { hostname: string; used: boolean }>, token: string, hostname: string): string | undefined {
  const t = tokens.get(token);
  if (t === undefined) return "invalid token";
  if (t.used) return "token has already been used";
  if (t.hostname !== hostname) return `token is not valid for node "${hostname}" (issued for "${t.hostname}")`;
  t.used = true;
  return undefined;
}

export function k8sCmd(args: string[], ctx: ExecContext): CmdResult {
  const h = ctx.host;
  if (!h.snaps.has("k8s")) return notFound("k8s");
  const denied = needsRoot(ctx, "k8s");
  if (denied) return denied;
  const [sub, ...rest] = args;
  const cl = ctx.cloud.k8s;
  const member = cl?.members.has(h.systemId) === true;
  switch (sub) {
    case "bootstrap": {
      const p = flags(rest, ["--address", "--name", "--timeout", "--file", "--output-format"], ["--interactive"]);
      if (p.bad) return fail(`Error: ${p.bad}`);
      const timeout = timeoutOf(p.opts);
      if (typeof timeout === "string") return fail(`Error: ${timeout}`);
      if (member) return fail("Error: The node is already bootstrapped: it is part of a cluster (run 'k8s status' to see it)");
      if (ctx.cloud.k8sTimings.bootstrapMs > timeout) return timedOut("bootstrap the cluster", timeout);
      if (cl !== null) return fail(`Error: simulated hosts support one Kubernetes cluster; it was already bootstrapped on ${cl.bootstrapHost}`);
      const c: K8sCluster = { bootstrapHost: h.hostname, members: new Map([[h.systemId, h.hostname]]), tokens: new Map(), loadBalancer: { enabled: false, l2Mode: true, bgpMode: false, cidrs: [] } };
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
          `load-balancer:            ${cl.loadBalancer.enabled ? `enabled, ${cl.loadBalancer.l2Mode ? "L2" : cl.loadBalancer.bgpMode ? "BGP" : "no advertisement"} mode` : "disabled"}`,
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
      const p = flags(rest, ["--name", "--address", "--file", "--timeout", "--output-format"]);
      if (p.bad) return fail(`Error: ${p.bad}`);
      const timeout = timeoutOf(p.opts);
      if (typeof timeout === "string") return fail(`Error: ${timeout}`);
      const [token] = p.pos;
      if (token === undefined) return fail("Error: accepts 1 arg(s), received 0");
      if (member) return fail("Error: The node is already part of a cluster");
      if (cl === null) return fail("Error: Failed to join the cluster using the provided token.\n\nThe error was: failed to POST /k8sd/cluster/join: invalid token");
      // Timed out before the token is spent: the simulator leaves nothing half-joined.
      if (ctx.cloud.k8sTimings.joinMs > timeout) return timedOut("join the cluster using the provided token", timeout);
      const why = useToken(cl.tokens, token, p.opts.get("--name") ?? h.hostname);
      if (why) return fail(`Error: Failed to join the cluster using the provided token.\n\nThe error was: failed to POST /k8sd/cluster/join: ${why}`);
      cl.members.set(h.systemId, h.hostname);
      ctx.cloud.kube.addNode(h.hostname, h.address, { "node-role.kubernetes.io/control-plane": "" });
      return ok("Joining the cluster. This may take a few seconds, please wait.\nJoined the cluster.\n");
    }
    case "config":
      if (!member) return fail(NOT_IN_K8S);
      return ok(kubeconfig(ctx.cloud));
    case "enable":
    case "disable": {
      const p = flags(rest, ["--timeout"]);
      if (p.bad) return fail(`Error: ${p.bad}`);
      if (!member || cl === null) return fail(NOT_IN_K8S);
      const known = ["network", "dns", "gateway", "ingress", "local-storage", "load-balancer", "metrics-server"];
      for (const f of p.pos) if (!known.includes(f)) return fail(`Error: Cannot ${sub} "${f}": unknown feature (known: ${known.join(", ")})`);
      if (p.pos.includes("load-balancer")) {
        cl.loadBalancer.enabled = sub === "enable";
        syncLoadBalancer(ctx.cloud);
      }
      return ok(p.pos.map((f) => `${f} ${sub === "enable" ? "enabled" : "disabled"}.\n`).join(""));
    }
    case "set": {
      if (!member || cl === null) return fail(NOT_IN_K8S);
      const pairs = rest.filter((a) => !a.startsWith("--"));
      if (pairs.length === 0) return fail("Error: requires at least 1 arg(s), only received 0");
      for (const kv of pairs) {
        const eq = kv.indexOf("=");
        const key = eq < 0 ? kv : kv.slice(0, eq);
        const v = kv.slice(eq + 1);
        if (eq < 0) return fail(`Error: Invalid option "${kv}": expected key=value`);
        if (!(LB_KEYS as readonly string[]).includes(key)) return fail(`Error: Invalid option key "${key}"`);
        const bool = v === "true" ? true : v === "false" ? false : undefined;
        if (key !== "load-balancer.cidrs" && key !== "load-balancer.l2-interfaces" && bool === undefined) return fail(`Error: Invalid boolean value for ${key}: "${v}"`);
        if (key === "load-balancer.cidrs") {
          const cidrs = v.split(/[ ,]+/).filter(Boolean);
          const bad = cidrs.find((c) => !/^\d+\.\d+\.\d+\.\d+(\/\d+|-\d+\.\d+\.\d+\.\d+)$/.test(c));
          if (bad) return fail(`Error: Invalid CIDR or IP range "${bad}" for load-balancer.cidrs`);
          cl.loadBalancer.cidrs = cidrs;
        } else if (key === "load-balancer.l2-mode") cl.loadBalancer.l2Mode = bool === true;
        else if (key === "load-balancer.bgp-mode") cl.loadBalancer.bgpMode = bool === true;
        else if (key === "load-balancer.enabled") cl.loadBalancer.enabled = bool === true;
      }
      syncLoadBalancer(ctx.cloud);
      return ok("Configuration updated.\n");
    }
    case "get": {
      if (!member || cl === null) return fail(NOT_IN_K8S);
      const [key] = rest.filter((a) => !a.startsWith("--"));
      if (key === undefined) return fail("Error: accepts 1 arg(s), received 0");
      const v = lbGet(cl, key);
      if (v === undefined) return fail(`Error: Invalid option key "${key}"`);
      return ok(`${v}\n`);
    }
    case "remove-node": {
      const p = flags(rest, ["--timeout"], ["--force"]);
      const [name] = p.pos;
      if (name === undefined) return fail("Error: accepts 1 arg(s), received 0");
      if (!member || cl === null) return fail(NOT_IN_K8S);
      const sid = [...cl.members].find(([, n]) => n === name)?.[0];
      if (sid === undefined) return fail(`Error: Failed to remove node "${name}" from the cluster.\n\nThe error was: node "${name}" is not part of the cluster`);
      if (cl.members.size === 1 && !p.opts.has("--force")) return fail(`Error: Failed to remove node "${name}" from the cluster.\n\nThe error was: cannot remove the last node of the cluster`);
      cl.members.delete(sid);
      ctx.cloud.kube.removeNode(name);
      return ok(`Removing ${name} from the Kubernetes cluster. This may take a few seconds, please wait.\nRemoved ${name} from the Kubernetes cluster.\n`);
    }
    default:
      return fail(`Error: unknown command "${sub ?? ""}" for "k8s"`);
  }
}
