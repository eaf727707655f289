// A small simulated fleet with SSH hosts, deployed through the real MaasClient with
// user-data carrying a test key; shared by test/ssh, test/sim-hosts and test/layers.
import { MaasClient } from "../../src/maas/client.ts";
import { NodeStatus } from "../../src/maas/status.ts";
import { renderUserData } from "../../src/layers/templates.ts";
import { parseFleet } from "../../src/sim/fleet.ts";
import { startSimulator } from "../../src/sim/index.ts";
import type { HostFleet, HostFleetOptions, SimHandle } from "../../src/sim/index.ts";
import { generateKeyPair, MemoryKnownHosts, Ssh2Port } from "../../src/ssh/index.ts";
import type { Ssh2PortOptions, SshKeyPair, SshTarget } from "../../src/ssh/index.ts";
import { silentLogger } from "../../src/log.ts";

export interface Group {
  prefix: string;
  count: number;
  tags: string[];
}

export interface TestFleet {
  sim: SimHandle;
  hosts: HostFleet;
  maas: MaasClient;
  key: SshKeyPair;
  /** system_ids by hostname prefix, in order. */
  ids: Record<string, string[]>;
  /** Deploys and waits until each machine is Deployed and its SSH server listens. */
  deploy(systemIds: readonly string[], keys?: readonly string[]): Promise<void>;
  /** Releases and waits until Ready. */
  release(systemIds: readonly string[]): Promise<void>;
  target(systemId: string): SshTarget;
  ssh(over?: Partial<Ssh2PortOptions>): Ssh2Port;
  close(): Promise<void>;
}

// One key for the whole test process: ed25519 generation is cheap, but this keeps fixtures stable.
const KEY = generateKeyPair("metalwave-test");

export async function startTestFleet(groups: readonly Group[], hostOpts: HostFleetOptions = {}, seed = 7): Promise<TestFleet> {
  const fleet = parseFleet(
    {
      classes: {
        std: {
          cpu_count: 16,
          memory_gib: 64,
          disks: [
            { size_gb: 480, kind: "ssd" },
            { count: 2, size_gb: 4000, kind: "hdd" },
          ],
          nics: [{ speed_mbps: 10000 }],
        },
      },
      zones: [{ name: "az1" }],
      groups: groups.map((g) => ({ class: "std", count: g.count, zone: "az1", hostname_prefix: g.prefix, status: "ready", tags: g.tags })),
    },
    "test fleet",
  );
  const sim = await startSimulator({ fleet, zeroDuration: true, seed, hosts: { sshPort: 0, nodeReadyMs: 0, ...hostOpts } });
  const hosts = sim.hosts;
  if (!hosts) throw new Error("hosts did not start");
  const maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  const ids: Record<string, string[]> = {};
  for (const m of sim.region.machines) {
    const prefix = m.hostname.replace(/-\d+$/, "");
    (ids[prefix] ??= []).push(m.systemId);
  }
  const ports: Ssh2Port[] = [];
  const waitStatus = (systemIds: readonly string[], status: number) =>
    new Promise<void>((resolve) => {
      const pending = new Set(systemIds.filter((sid) => sim.region.get(sid).status !== status));
      if (pending.size === 0) return resolve();
      const off = sim.region.watch((m, _from, to) => {
        if (to === status) pending.delete(m.systemId);
        if (pending.size === 0) {
          off();
          resolve();
        }
      });
    });
  return {
    sim,
    hosts,
    maas,
    key: KEY,
    ids,
    async deploy(systemIds, keys = [KEY.publicKey]) {
      const done = waitStatus(systemIds, NodeStatus.DEPLOYED);
      for (const sid of systemIds) {
        const m = sim.region.get(sid);
        await maas.deploy(sid, { user_data: renderUserData({ hostname: m.hostname, systemId: sid, roles: m.tags, sshAuthorizedKeys: keys }) });
      }
      await done;
      await Promise.all(systemIds.map((sid) => hosts.listening(sid)));
    },
    async release(systemIds) {
      const done = waitStatus(systemIds, NodeStatus.READY);
      for (const sid of systemIds) await maas.release(sid);
      await done;
    },
    target(systemId) {
      const m = sim.region.get(systemId);
      return { systemId, hostname: m.hostname, address: sim.region.ipFor(m) };
    },
    ssh(over = {}) {
      const p = new Ssh2Port({
        privateKey: KEY.privateKey,
        knownHosts: new MemoryKnownHosts(),
        unknownHosts: "pin",
        endpoint: (t) => hosts.endpoint(t.systemId) ?? { host: t.address, port: 1 },
        connectBackoffMs: { base: 1, max: 5 },
        connectTimeoutMs: 5000,
        commandTimeoutMs: 10_000,
        logger: silentLogger(),
        ...over,
      });
      ports.push(p);
      return p;
    },
    async close() {
      await Promise.all(ports.map((p) => p.close()));
      await sim.close();
    },
  };
}
