/**
 * MicroCeph's CLI and its `microceph.ceph` on simulated hosts. Facts (juju-layering.md
 * §4d/§4e, MC:microceph/cmd/microceph, MC:ceph/osd.go, MC:ceph/remove.go): a pool of size 1
 * needs `mon_allow_pool_size_one` and `--yes-i-really-mean-it`, which `microceph pool
 * set-rf` sets for you; `cluster remove` without `--force` refuses a member that still has
 * disks, or one whose removal would leave fewer than 3 mon, 1 mgr, 1 mds; a disk that holds
 * an earlier OSD's data is added only with `--wipe`.
 */
import type { CephCluster, CmdResult, SimCloud } from "./model.ts";
import { fail, flags, needsRoot, notFound, ok } from "./cli-util.ts";
import type { ExecContext } from "./cli-util.ts";
import { useToken } from "./k8s-cli.ts";

/** Whether an OSD's daemon runs: its host is deployed (the same installation) and `microceph.osd` is not stopped. */
function osdUp(cloud: SimCloud, o: { systemId: string; deployment: number }): boolean {
  const h = cloud.hosts.get(o.systemId);
  return h !== undefined && h.deployment === o.deployment && !h.stopped.has("microceph.osd");
}

/** Ceph refuses size 1 unless allowed (MC:ceph/osd.go; ceph's own words). */
const SIZE_ONE = "Error EPERM: configuring pool size as 1 is disabled by default.";

const NOT_IN_CEPH = "Error: Daemon not yet initialized";

function cephMember(ctx: ExecContext): CephCluster | undefined {
  const c = ctx.cloud.ceph;
  return c?.members.has(ctx.host.systemId) ? c : undefined;
}

export function microcephCmd(args: string[], ctx: ExecContext): CmdResult {
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
        ctx.cloud.ceph = { members: new Map([[h.systemId, h.hostname]]), tokens: new Map(), osds: [], pools: new Map(), defaultSize: 3, allowSizeOne: false };
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
      case "remove": {
        const p = flags(rest, [], ["--force"]);
        const [name] = p.pos;
        if (name === undefined) return fail("Error: accepts 1 arg(s), received 0");
        const m = cephMember(ctx);
        if (!m) return fail(NOT_IN_CEPH);
        const sid = [...m.members].find(([, n]) => n === name)?.[0];
        if (sid === undefined) return fail(`Error: failed to remove cluster member: member "${name}" not found`);
        if (!p.opts.has("--force")) {
          if (m.osds.some((o) => o.systemId === sid)) return fail(`Error: failed to remove cluster member: node still has disks configured, remove them first or use --force`);
          if (m.members.size - 1 < 3) return fail(`Error: failed to remove cluster member: need at least 3 mon, 1 mds, and 1 mgr besides ${name}`);
        }
        m.members.delete(sid);
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
      const why = addOsd(ctx.cloud, m, h, path, p.opts.has("--wipe"));
      if (why) return fail(`Error: failed to request disk addition: ${why}`);
      const w = Math.max(path.length, 4);
      const bar = `+-${"-".repeat(w)}-+---------+`;
      return ok(`${bar}\n| ${"PATH".padEnd(w)} | STATUS  |\n${bar}\n| ${path.padEnd(w)} | Success |\n${bar}\n`);
    }
    if (sub2 === "list") {
      if (!m) return fail(`Error: failed listing disks: ${NOT_IN_CEPH.replace("Error: ", "")}`);
      const mine = m.osds;
      const avail = unpartitioned(ctx.cloud, m, h);
      if (rest.includes("--json")) {
        return ok(`${JSON.stringify({ ConfiguredDisks: mine.map((o) => ({ osd: o.id, location: o.hostname, path: o.path })), AvailableDisks: avail.map((d) => ({ model: "sim", size: `${Math.round(d.sizeBytes / 1e9)}GB`, type: "scsi", path: d.idPath })) })}\n`);
      }
      const lines = ["Disks configured in MicroCeph:", ...mine.map((o) => `| ${o.id} | ${o.hostname} | ${o.path} |`), "", "Available unpartitioned disks on this system:", ...avail.map((d) => `| ${d.idPath} |`)];
      return ok(`${lines.join("\n")}\n`);
    }
  }
  if (sub === "pool" && sub2 === "set-rf") {
    const m = cephMember(ctx);
    const p = flags(rest, ["--size"]);
    if (p.bad) return fail(`Error: ${p.bad}`);
    if (!m) return fail(NOT_IN_CEPH);
    const n = Number(p.opts.get("--size"));
    if (!Number.isInteger(n) || n < 1) return fail(`Error: invalid --size "${p.opts.get("--size") ?? ""}"`);
    // set-rf: default size, mon_allow_pool_size_one only when N == 1, then each named pool (MC:cmd/microceph/pool.go).
    m.defaultSize = n;
    m.allowSizeOne = n === 1;
    const pools = p.pos.includes("*") ? [...m.pools.keys()] : p.pos.filter((x) => x !== "");
    for (const pool of pools) {
      if (!m.pools.has(pool)) return fail(`Error: failed to set pool replication factor: pool "${pool}" not found`);
      m.pools.set(pool, n);
    }
    return ok();
  }
  return fail(`Error: unknown command "${[sub, sub2].filter(Boolean).join(" ")}" for "microceph"`);
}

export function cephCmd(args: string[], ctx: ExecContext): CmdResult {
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
      nodes.push({ id: o.id, device_class: "hdd", name: `osd.${o.id}`, type: "osd", type_id: 0, crush_weight: 3.638, depth: 2, pool_weights: {}, exists: 1, status: osdUp(ctx.cloud, o) ? "up" : "down", reweight: 1, primary_affinity: 1 });
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
      if (n === 1 && !(m.allowSizeOne && args.includes("--yes-i-really-mean-it"))) return fail(`${SIZE_ONE} you must first set the mon_allow_pool_size_one config option to true before you can set size to 1`, 1);
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
  if (a === "config" && b === "set" && d === "mon_allow_pool_size_one") {
    m.allowSizeOne = e === "true";
    return ok();
  }
  return fail(`simulated ceph does not support: ceph ${args.join(" ")}`, 22);
}


/**
 * Adds one disk of this host as an OSD (the CLI's `disk add` and the charm's `add-osd`
 * action): why it is refused, or undefined. A disk holding an earlier installation's OSD
 * needs `wipe`.
 */
export function addOsd(cloud: SimCloud, m: CephCluster, h: ExecContext["host"], path: string, wipe: boolean): string | undefined {
  const disk = h.disks.find((d) => d.idPath === path);
  if (disk === undefined) return `failed to find disk "${path}": no such file or directory`;
  if (disk.root) return `disk "${path}" is in use (it holds the root filesystem)`;
  if (m.osds.some((o) => o.path === path && o.systemId === h.systemId && o.deployment === h.deployment)) return `disk "${path}" is already in use as an OSD`;
  const key = `${h.systemId}:${path}`;
  if (cloud.formerOsdDisks.has(key) && !wipe) return `disk "${path}" is not empty: it holds data (a former OSD); add it with --wipe to erase it`;
  cloud.formerOsdDisks.delete(key);
  const id = m.osds.reduce((x, o) => Math.max(x, o.id), 0) + 1;
  m.osds.push({ id, systemId: h.systemId, deployment: h.deployment, hostname: h.hostname, path });
  return undefined;
}

/** Disks `disk list` shows as available: not the root disk, not an OSD of this installation, and not holding an old OSD's data. */
export function unpartitioned(cloud: SimCloud, m: CephCluster, h: ExecContext["host"]): ExecContext["host"]["disks"] {
  return h.disks.filter((d) => !d.root && !cloud.formerOsdDisks.has(`${h.systemId}:${d.idPath}`) && !m.osds.some((o) => o.systemId === h.systemId && o.deployment === h.deployment && o.path === d.idPath));
}
