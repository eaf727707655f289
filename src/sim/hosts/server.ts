/**
 * The SSH fleet: one ssh2 `Server` per deployed simulated machine, listening on the
 * machine's own loopback address (Linux routes all of 127.0.0.0/8 to lo, so any
 * 127.A.B.C binds without setup) from the moment MAAS reports it Deployed until it
 * leaves Deployed. Each installation has its own seeded host key (a redeploy
 * changes it) and accepts only user `ubuntu` with the public keys its deploy's
 * user-data listed in `ssh_authorized_keys`. Commands go to the emulator
 * (commands.ts); no real shell ever runs.
 */
import ssh2 from "ssh2";
import type { Connection, ParsedKey, Server as Ssh2Server } from "ssh2";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo, Server as TcpServer } from "node:net";
import { parse as parseYaml } from "yaml";
import { NodeStatus } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import type { MachineRecord, Region } from "../region.ts";
import { renderBlockDevice } from "../render.ts";
import type { SimLogger } from "../logger.ts";
import { SimError } from "../errors.ts";
import { runCommandLine, startService, stopService } from "./commands.ts";
import { HostFaultDice, noHostFaults, parseHostFaults } from "./faults.ts";
import type { HostFaultSpec } from "./faults.ts";
import { seededHostKey } from "./keys.ts";
import { SimKubeApi } from "./kube-api.ts";
import { JujuApiServer } from "./juju-api-server.ts";
import { OpenStackApiServer } from "../openstack/api-server.ts";
import { JUJU_AGENT, SimCloud, SimHost, snapServices } from "./model.ts";
import type { K8sTimings, SimDisk } from "./model.ts";
import type { JujuTimings } from "../juju/types.ts";

export interface HostFleetOptions {
  /** Port every host listens on; 0 = an ephemeral port per host (tests). Default 22 as root, else 2222. */
  sshPort?: number;
  /** A parsed spec or the `--host-faults` string (faults.ts). */
  faults?: HostFaultSpec | string;
  /** Kubernetes nodes turn Ready this long after they join. Default 1000 ms. */
  nodeReadyMs?: number;
  /** The simulated Juju (docs/simulated-juju.md). */
  juju?: {
    timings?: Partial<JujuTimings>;
    /** The controller API's port on each controller machine's address. Default 17070; 0 (ephemeral) when sshPort is 0. */
    apiPort?: number;
    /** How long `k8s bootstrap` / `join-cluster` take (simulator parameters). */
    k8sTimings?: Partial<K8sTimings>;
  };
  /**
   * The simulated OpenStack API on the control plane's ingress address (docs/simulated-juju.md):
   * its port, default 80 as root, else 8080; 0 (ephemeral) when sshPort is 0.
   */
  openstack?: { apiPort?: number };
  logger?: SimLogger;
}

export function defaultSshPort(): number {
  return process.getuid?.() === 0 ? 22 : 2222;
}

interface Listener {
  host: SimHost;
  server: Ssh2Server;
  port: number;
  connections: Set<Connection>;
  ready: Promise<void>;
  /** false: every connection is closed during the handshake (`setReachable`), until the next deploy. */
  reachable: boolean;
  /** One more listener per further address (one per space the machine is linked to), on the same port. */
  extra: { address: string; server: TcpServer }[];
}

/** A deployed simulated host as its controls show it (`GET /sim/hosts/{host}`). */
export interface SimHostView {
  systemId: string;
  hostname: string;
  address: string;
  /** MAAS's deploy count: a redeploy is a fresh installation. */
  deployment: number;
  reachable: boolean;
  snaps: string[];
  /** Services stopped on this installation, e.g. `openstack-hypervisor.nova-compute`. */
  stopped: string[];
}

export interface HostFleetStats {
  listening: number;
  connections: number;
  authFailures: number;
  commands: number;
  faults: { fail: number; hang: number; drop: number };
}

/** Public keys from a deploy's user-data (base64 of a #cloud-config YAML). Unreadable data → no keys. */
export function authorizedKeysFrom(userDataB64: string | null): { keys: ParsedKey[]; files: Map<string, string> } {
  const files = new Map<string, string>();
  if (!userDataB64) return { keys: [], files };
  let doc: { ssh_authorized_keys?: unknown; write_files?: unknown };
  try {
    doc = (parseYaml(Buffer.from(userDataB64, "base64").toString("utf8")) ?? {}) as typeof doc;
  } catch {
    return { keys: [], files };
  }
  const keys: ParsedKey[] = [];
  for (const line of Array.isArray(doc.ssh_authorized_keys) ? doc.ssh_authorized_keys : []) {
    if (typeof line !== "string") continue;
    const k = ssh2.utils.parseKey(line);
    if (k instanceof Error) continue;
    keys.push(...(Array.isArray(k) ? k : [k]));
  }
  for (const f of Array.isArray(doc.write_files) ? doc.write_files : []) {
    const { path, content } = (f ?? {}) as { path?: unknown; content?: unknown };
    if (typeof path === "string" && typeof content === "string") files.set(path, content);
  }
  return { keys, files };
}

export class HostFleet {
  readonly cloud: SimCloud;
  readonly sshPort: number;
  /** The simulated Juju controllers' API (docs/simulated-juju.md). */
  readonly jujuApi: JujuApiServer;
  /** The simulated Keystone, Nova and Neutron APIs (src/sim/openstack). */
  readonly openstackApi: OpenStackApiServer;
  private readonly region: Region;
  private readonly dice: HostFaultDice;
  private readonly logger: SimLogger | undefined;
  private readonly listeners = new Map<string, Listener>();
  private readonly unwatch: () => void;
  private readonly counters: HostFleetStats = { listening: 0, connections: 0, authFailures: 0, commands: 0, faults: { fail: 0, hang: 0, drop: 0 } };
  private closed = false;

  private constructor(region: Region, kube: SimKubeApi, opts: HostFleetOptions) {
    this.region = region;
    this.sshPort = opts.sshPort ?? defaultSshPort();
    this.logger = opts.logger;
    this.cloud = new SimCloud(region.seed, kube, { jujuTimings: opts.juju?.timings, k8sTimings: opts.juju?.k8sTimings });
    const faults = typeof opts.faults === "string" ? parseHostFaults(opts.faults) : (opts.faults ?? noHostFaults());
    this.dice = new HostFaultDice(faults, region.seed);
    this.jujuApi = new JujuApiServer(this.cloud, { port: opts.juju?.apiPort ?? (opts.sshPort === 0 ? 0 : 17070), logger: opts.logger });
    this.openstackApi = new OpenStackApiServer(this.cloud, { port: opts.openstack?.apiPort ?? (opts.sshPort === 0 ? 0 : process.getuid?.() === 0 ? 80 : 8080), ...(opts.logger ? { logger: opts.logger } : {}) });
    this.unwatch = region.watch((m, from, to) => this.onTransition(m, from, to));
  }

  static async start(region: Region, opts: HostFleetOptions = {}): Promise<HostFleet> {
    if (opts.sshPort !== undefined && !(Number.isInteger(opts.sshPort) && opts.sshPort >= 0 && opts.sshPort <= 65535)) throw new RangeError(`sshPort ${opts.sshPort} is not a port number`);
    const kube = new SimKubeApi(Buffer.from(`sim-kube:${region.seed}`).toString("base64url"), opts.nodeReadyMs ?? 1000);
    await kube.listen("127.0.0.1");
    const fleet = new HostFleet(region, kube, opts);
    for (const m of region.machines) if (!m.deleted && m.status === NodeStatus.DEPLOYED) fleet.listen(m);
    await Promise.all([...fleet.listeners.values()].map((l) => l.ready));
    return fleet;
  }

  /** Where a deployed machine's SSH server listens, once it does. */
  endpoint(systemId: string): { host: string; port: number } | undefined {
    const l = this.listeners.get(systemId);
    return l && l.port > 0 ? { host: l.host.address, port: l.port } : undefined;
  }

  /** Every address a deployed machine's SSH server listens on (one per space it is linked to), boot address first. */
  endpoints(systemId: string): { host: string; port: number }[] {
    const l = this.listeners.get(systemId);
    if (l === undefined || l.port === 0) return [];
    return [{ host: l.host.address, port: l.port }, ...l.extra.map((e) => ({ host: e.address, port: l.port }))];
  }

  /** Resolves once the machine's listener is bound (tests; clients retry instead). */
  async listening(systemId: string): Promise<void> {
    await this.listeners.get(systemId)?.ready;
  }

  /** The current installation of a machine (tests, inspection). */
  host(systemId: string): SimHost | undefined {
    return this.cloud.hosts.get(systemId);
  }

  /** The system_id of a deployed host named by hostname or system_id, if any. */
  resolve(host: string): string | undefined {
    if (this.listeners.has(host)) return host;
    for (const [sid, l] of this.listeners) if (l.host.hostname === host) return sid;
    return undefined;
  }

  /** A deployed host's installation, reachability and stopped services. */
  view(host: string): SimHostView {
    const l = this.listener(host);
    const h = l.host;
    return { systemId: h.systemId, hostname: h.hostname, address: h.address, deployment: h.deployment, reachable: l.reachable, snaps: [...h.snaps.keys()].sort(), stopped: [...h.stopped].sort() };
  }

  /**
   * Stops a service of a deployed host's current installation, as an outage would
   * (rehearsals and tests of health checks): `SNAP.SERVICE` of an installed snap, e.g.
   * `openstack-hypervisor.nova-compute`, `microceph.osd` (its OSDs go down),
   * `k8s.kubelet` (its node turns NotReady), or `jujud` (its controller machine is
   * reported down). `snap restart` on the host, `startService`, or a redeploy brings it back.
   */
  stopService(host: string, service: string): SimHostView {
    const l = this.listener(host);
    this.checkService(l.host, service);
    stopService({ host: l.host, cloud: this.cloud }, service);
    this.logger?.info({ systemId: l.host.systemId, hostname: l.host.hostname, service }, "simulated host: service stopped");
    return this.view(l.host.systemId);
  }

  /** Starts a stopped service again, or every stopped service when none is named. */
  startService(host: string, service?: string): SimHostView {
    const l = this.listener(host);
    if (service !== undefined) this.checkService(l.host, service);
    for (const s of service !== undefined ? [service] : [...l.host.stopped]) startService({ host: l.host, cloud: this.cloud }, s);
    return this.view(l.host.systemId);
  }

  /**
   * An unreachable host closes every SSH connection during the handshake (as if its sshd
   * or network were gone) and drops the open ones; reachable again with `true` or on the
   * next deploy.
   */
  setReachable(host: string, reachable: boolean): SimHostView {
    const l = this.listener(host);
    l.reachable = reachable;
    if (!reachable) for (const c of l.connections) c.end();
    this.logger?.info({ systemId: l.host.systemId, hostname: l.host.hostname, reachable }, "simulated host: reachability changed");
    return this.view(l.host.systemId);
  }

  private listener(host: string): Listener {
    const sid = this.resolve(host);
    const l = sid === undefined ? undefined : this.listeners.get(sid);
    if (l === undefined) throw new SimError("SIM_HOST_CONTROL", `host '${host}'`, "no deployed simulated host has this hostname or system_id");
    return l;
  }

  private checkService(h: SimHost, service: string): void {
    if (service === JUJU_AGENT) return;
    const dot = service.indexOf(".");
    const snap = dot > 0 ? service.slice(0, dot) : "";
    if (!h.snaps.has(snap) || !snapServices(snap).includes(service.slice(dot + 1))) {
      const known = [...h.snaps.keys()].flatMap((s) => snapServices(s).map((x) => `${s}.${x}`));
      throw new SimError("SIM_HOST_CONTROL", `service '${service}'`, `${h.hostname} runs no such service (it runs: ${[...known, JUJU_AGENT].join(", ")})`);
    }
  }

  /** The simulated Juju's changes (`/sim/stats` `juju`). */
  jujuChanges(): { changes: Record<string, number>; repeated: Record<string, number> } {
    const c = this.cloud.jujuWorld.changes.stats();
    return { changes: { ...c.byOperation }, repeated: c.repeated };
  }

  stats(): HostFleetStats {
    return { ...this.counters, listening: this.listeners.size, faults: { ...this.counters.faults } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    await Promise.all([...this.listeners.keys()].map((sid) => this.stop(sid)));
    await this.jujuApi.close();
    await this.openstackApi.close();
    await this.cloud.kube.close();
  }

  private onTransition(m: MachineRecord, from: NodeStatusCode, to: NodeStatusCode): void {
    if (this.closed) return;
    if (to === NodeStatus.DEPLOYED) this.listen(m);
    else if (from === NodeStatus.DEPLOYED) void this.stop(m.systemId);
    // MAAS's erasure (full, quick: the first and last MiBs; secure) leaves no former OSD's labels on the disks.
    if (from === NodeStatus.DISK_ERASING && to === NodeStatus.READY) this.cloud.disksErased(m.systemId);
  }

  private listen(m: MachineRecord): void {
    if (this.listeners.has(m.systemId)) void this.stop(m.systemId);
    const disks: SimDisk[] = [];
    for (let slot = 0; slot < (m.hw?.disks.length ?? 0); slot++) {
      const d = renderBlockDevice(this.region, m, slot) as { id_path: string; size: number; tags: string[] } | undefined;
      if (d) disks.push({ idPath: d.id_path, sizeBytes: d.size, root: slot === 0, tags: d.tags });
    }
    // Its addresses by subnet, as MAAS linked them: Juju's spaces are defined from these subnets.
    const interfaces = m.ifaces.flatMap((i) => i.links.flatMap((l) => {
      const cidr = l.ip !== null && l.subnetId !== null ? this.region.net.subnets.get(l.subnetId)?.cidr : undefined;
      return l.ip !== null && cidr !== undefined ? [{ name: i.name, address: l.ip, cidr, mac: i.mac }] : [];
    }));
    const host = new SimHost(m.systemId, m.hostname, this.region.ipFor(m), m.counts.deployed, disks, interfaces);
    const { keys, files } = authorizedKeysFrom(m.userData);
    for (const [p, c] of files) host.files.set(p, c);
    this.cloud.addHost(host);
    const key = seededHostKey(this.region.seed, m.systemId, m.counts.deployed);
    const server = new ssh2.Server({ hostKeys: [key.privateKey], ident: "OpenSSH_8.9p1 Ubuntu-3ubuntu0.10" }, (client) => this.onConnection(l, client, keys));
    const l: Listener = { host, server, port: 0, connections: new Set(), ready: Promise.resolve(), reachable: true, extra: [] };
    // The host answers on each address MAAS gave it (every subnet is a loopback range, so
    // choosing an address by space reaches the same simulated host).
    const others = this.region.addressesOf(m).filter((a) => a !== host.address);
    l.ready = new Promise<void>((resolve) => {
      server.on("error", (e: Error) => {
        this.logger?.warn({ systemId: m.systemId, address: host.address, port: this.sshPort, err: e.message }, "simulated host cannot listen for SSH");
        resolve();
      });
      server.listen(this.sshPort, host.address, () => {
        l.port = (server.address() as AddressInfo).port;
        void Promise.all(others.map((address) => this.listenExtra(l, address))).then(() => resolve());
      });
    });
    this.listeners.set(m.systemId, l);
  }

  private listenExtra(l: Listener, address: string): Promise<void> {
    const tcp = createTcpServer((socket) => l.server.injectSocket(socket));
    return new Promise<void>((resolve) => {
      tcp.on("error", (e: Error) => {
        this.logger?.warn({ systemId: l.host.systemId, address, port: l.port, err: e.message }, "simulated host cannot listen for SSH on a further address");
        resolve();
      });
      tcp.listen(l.port, address, () => {
        l.extra.push({ address, server: tcp });
        resolve();
      });
    });
  }

  private async stop(systemId: string): Promise<void> {
    const l = this.listeners.get(systemId);
    if (l === undefined) return;
    this.listeners.delete(systemId);
    this.cloud.removeHost(systemId);
    await l.ready;
    for (const c of l.connections) c.end();
    await Promise.all([
      new Promise<void>((r) => {
        if (l.port === 0) return r();
        l.server.close(() => r());
      }),
      ...l.extra.map((e) => new Promise<void>((r) => e.server.close(() => r()))),
    ]);
  }

  private onConnection(l: Listener, client: Connection, keys: readonly ParsedKey[]): void {
    client.on("error", () => undefined);
    if (!l.reachable) {
      client.end();
      return;
    }
    this.counters.connections++;
    l.connections.add(client);
    client.on("close", () => l.connections.delete(client));
    client.on("error", () => undefined);
    // Missing from @types/ssh2, present on ssh2's server Connection.
    (client as Connection & { setNoDelay(v: boolean): void }).setNoDelay(true);
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey" || ctx.username !== "ubuntu") return ctx.reject(["publickey"]);
      const k = keys.find((x) => x.getPublicSSH().equals(ctx.key.data));
      if (k === undefined) {
        this.counters.authFailures++;
        return ctx.reject(["publickey"]);
      }
      if (ctx.signature && ctx.blob && k.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
        this.counters.authFailures++;
        return ctx.reject(["publickey"]);
      }
      ctx.accept();
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        const session = accept();
        session.on("pty", (_a, reject) => reject?.());
        session.on("shell", (_a, reject) => reject?.());
        session.on("exec", (acceptExec, _reject, info) => {
          const stream = acceptExec();
          const host = this.cloud.hosts.get(l.host.systemId) === l.host ? l.host : undefined;
          if (host === undefined) {
            client.end();
            return;
          }
          const run = (stdin: string) => {
            this.counters.commands++;
            host.history.push(info.command);
            const fault = this.dice.roll(host, info.command);
            switch (fault.kind) {
              case "hang":
                this.counters.faults.hang++;
                return;
              case "drop":
                this.counters.faults.drop++;
                client.end();
                return;
              case "fail":
                this.counters.faults.fail++;
                stream.stderr.write(`simulated fault: command failed with status ${fault.code}\n`);
                stream.exit(fault.code);
                stream.end();
                return;
              case "none": {
                const r = runCommandLine(info.command, { host, cloud: this.cloud, root: false, env: {}, stdin });
                // A bootstrap (or an HA member with its vote) serves the controller API before the command returns.
                // So does the OpenStack API once the control plane's ingress has its address.
                void Promise.all([this.jujuApi.sync(), this.openstackApi.sync()]).then(() => {
                  if (r.out) stream.write(r.out);
                  if (r.err) stream.stderr.write(r.err);
                  stream.exit(r.code);
                  stream.end();
                });
              }
            }
          };
          // Only commands that read stdin wait for its end: others run at once, like a shell.
          if (/\/dev\/stdin|add-k8s/.test(info.command)) {
            const chunks: Buffer[] = [];
            stream.on("data", (b: Buffer) => chunks.push(b));
            stream.on("end", () => run(Buffer.concat(chunks).toString("utf8")));
          } else run("");
        });
      });
    });
  }
}
