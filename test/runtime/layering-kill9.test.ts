/**
 * kill -9 of a layered rollout at several moments of layering, then `metalwave rollout
 * --resume`, against a separately running `metalwave sim --hosts` (which keeps the
 * simulated Juju across the rollout process's death, as a real controller would). The
 * resumed rollout finishes with every host in service, no host's layering comes anywhere
 * near its timeout, and every Juju change (machines, applications, units, relations,
 * offers, config) happened once, as the simulated controller records them (/sim/stats
 * `juju`). Every Juju change was journaled ahead, and the intents the kills left open were
 * reconciled by the resumed runs. Re-running the finished rollout changes nothing in Juju.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../src/store/index.ts";
import type { SimStats } from "../../src/sim/index.ts";
import { defaultHostPolicy } from "../../state-machines/host.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const CLASSES = fileURLToPath(new URL("../../machines/hardware-classes.yaml", import.meta.url));
/** A layering that took longer than this waited for something it should not have (the layer timeout is 45 min). */
const LAYERING_BOUND_MS = 90_000;

let dir: string;
let sim: ChildProcess;
let simUrl: string;
let configFile: string;
let storePath: string;
const children: ChildProcess[] = [];

function metalwave(args: string[]): { child: ChildProcess; text: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, METALWAVE_LOG_LEVEL: "warn" } });
  children.push(child);
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (text += c));
  return { child, text: () => text };
}

async function stats(): Promise<SimStats> {
  const res = await fetch(`${simUrl.replace(/\/MAAS$/, "/sim/stats")}?machines=0`);
  return (await res.json()) as SimStats;
}

function withStore<T>(fn: (s: Store, rolloutId: string) => T): T | undefined {
  const s = openStore(storePath);
  try {
    const r = s.latestRollout();
    return r ? fn(s, r.id) : undefined;
  } finally {
    s.close();
  }
}

/** Hosts (systemId → roles) of the rollout's plan. */
function rolesOf(s: Store, id: string): Map<string, string[]> {
  return new Map(s.loadHosts(id).map((h) => [h.systemId, [...h.roles]]));
}

/** Systems that entered `phase` (from the journal's transitions). */
function entered(s: Store, id: string, phase: string): string[] {
  return s
    .journal(id, { kind: "transition" })
    .filter((j) => (j.data as { to?: string }).to === phase)
    .map((j) => j.systemId ?? "");
}

/** Polls until `pred` holds (the store read side, and the simulator's stats), then kills the rollout with SIGKILL. */
async function killWhen(run: { child: ChildProcess; text: () => string }, what: string, pred: (s: Store, id: string, st: SimStats) => boolean): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (run.child.exitCode !== null) throw new Error(`rollout exited (${run.child.exitCode}) before ${what}:\n${run.text().slice(-3000)}`);
    const st = await stats();
    if (withStore((s, id) => pred(s, id, st)) === true) {
      run.child.kill("SIGKILL");
      if (run.child.exitCode === null && run.child.signalCode === null) await once(run.child, "exit");
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}; the rollout printed:\n${run.text().slice(-3000)}`);
}

async function runToEnd(args: string[]): Promise<{ code: number | null; out: string }> {
  const run = metalwave(args);
  const [code] = (await once(run.child, "exit")) as [number | null];
  return { code, out: run.text() };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mw-kill9-"));
  const keyFile = join(dir, "maas.key");
  const sshKey = join(dir, "id_ed25519");
  storePath = join(dir, "store.sqlite");
  configFile = join(dir, "config.yaml");
  const fleet = join(dir, "fleet.yaml");
  writeFileSync(sshKey, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
  writeFileSync(
    fleet,
    [
      `description: 8 machines for a layered kill -9 test`,
      `include: ["${CLASSES}"]`,
      `zones: [{ name: zone-1 }]`,
      `groups:`,
      `  - { class: control-small, count: 3, zone: zone-1, status: ready }`,
      `  - { class: storage-dense, count: 2, zone: zone-1, status: ready }`,
      `  - { class: compute-std, count: 3, zone: zone-1, status: ready }`,
    ].join("\n"),
  );
  const sshPort = 20_000 + (process.pid % 20_000);
  const started = metalwave(["sim", "--port", "0", "--fleet", fleet, "--speed", "2000", "--seed", "151", "--key-file", keyFile, "--hosts", "--ssh-port", String(sshPort)]);
  sim = started.child;
  const deadline = Date.now() + 30_000;
  while (!/MAAS simulator: (\S+)/.test(started.text())) {
    if (Date.now() > deadline || sim.exitCode !== null) throw new Error(`simulator did not start: ${started.text()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  simUrl = /MAAS simulator: (\S+)/.exec(started.text())![1]!;
  writeFileSync(
    configFile,
    [
      `maas: { url: "${simUrl}", apiKeyFile: "${keyFile}", pollIntervalMs: 50, requestsPerSecond: 0 }`,
      `rollout: { waves: [1, "100%"], backoffMs: { base: 10, max: 100 } }`,
      `store: "${storePath}"`,
      `ssh: { privateKeyFile: "${sshKey}", port: ${sshPort} }`,
      `layers: { pollMs: 50 }`,
      `roles:`,
      `  definitions:`,
      `    juju-controller: { count: 1 }`,
      `    control: { count: 2 }`,
      `    storage: { min: 2, max: 2 }`,
    ].join("\n"),
  );
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c !== sim && c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (sim && sim.exitCode === null) {
    sim.kill("SIGTERM");
    await once(sim, "exit");
  }
});

describe("a layered rollout killed with -9 during layering and resumed", () => {
  it("finishes with every host in service, none near its layer timeout, and every Juju change made once; a re-run changes nothing in Juju", async () => {
    const of = (s: Store, id: string, role: string) => [...rolesOf(s, id)].filter(([, r]) => r.includes(role)).map(([sid]) => sid);
    // 1. Right after the first control host entered layering (the case).
    await killWhen(metalwave(["rollout", "--config", configFile]), "a control host layering", (s, id) => {
      const layering = entered(s, id, "layering");
      return of(s, id, "juju-controller").every((j) => entered(s, id, "inService").includes(j)) && of(s, id, "control").some((c) => layering.includes(c));
    });
    // 2. During Kubernetes and Ceph: the machine model has applications, the control plane's model none yet.
    await killWhen(metalwave(["rollout", "--config", configFile, "--resume"]), "machine applications deployed", (_s, _id, st) => (st.juju?.changes["deploy"] ?? 0) >= 3);
    // 3. During the control plane: some of its applications are deployed (the machine model has at most ~10).
    // Killed while a Juju change's intent is open in the store (in flight, or its end still buffered): the next run must reconcile it.
    await killWhen(metalwave(["rollout", "--config", configFile, "--resume"]), "control-plane applications deploying", (s, id, st) => (st.juju?.changes["deploy"] ?? 0) >= 16 && s.openCalls(id).some((c) => c.operation.startsWith("juju.")));
    // 4. During hypervisor layering: a control host in service (the control plane is up), a compute host not yet.
    await killWhen(metalwave(["rollout", "--config", configFile, "--resume"]), "hypervisors layering", (s, id) => {
      const done = new Set(entered(s, id, "inService"));
      return of(s, id, "control").some((c) => done.has(c)) && of(s, id, "compute").some((c) => !done.has(c));
    });

    const last = await runToEnd(["rollout", "--config", configFile, "--resume", "--json"]);
    expect(last.code, last.out.slice(-4000)).toBe(0);
    const after = await stats();
    withStore((s, id) => {
      const hosts = s.loadHosts(id);
      expect(hosts.length).toBe(8);
      expect(s.hostCounts(id).byOutcome).toEqual({ inService: 8 });
      // Each host's layering attempts, from entering layering to leaving it, as the journal has them.
      const tr = s.journal(id, { kind: "transition" });
      const longest = new Map<string, number>();
      const since = new Map<string, number>();
      for (const j of tr) {
        const sid = j.systemId ?? "";
        const to = (j.data as { to?: string }).to;
        const t = Date.parse(j.at);
        const open = since.get(sid);
        if (open !== undefined && to !== "layering") {
          longest.set(sid, Math.max(longest.get(sid) ?? 0, t - open));
          since.delete(sid);
        }
        if (to === "layering") since.set(sid, since.get(sid) ?? t);
      }
      expect([...since.keys()]).toEqual([]);
      expect(longest.size).toBe(8);
      // Killed processes leave a layering open across the kill: a resumed host closes it with the time it took after it.
      const slow = [...longest].filter(([, ms]) => ms > LAYERING_BOUND_MS);
      expect(slow, `layer timeout ${defaultHostPolicy.timeoutsMs.layer} ms`).toEqual([]);
    });
    // Every Juju change was journaled ahead (src/runtime/juju-journal.ts), and none is left open: the
    // intents the kills left open (their ends are buffered) were reconciled from Juju by the next run.
    withStore((s, id) => {
      expect(s.openCalls(id)).toEqual([]);
      const calls = s.journal(id, { kind: "maas_call" }).map((j) => j.data as { event?: string; operation?: string; detail?: string });
      expect(calls.filter((c) => c.event === "begin" && c.operation === "juju.addMachine").length).toBeGreaterThanOrEqual(7);
      expect(calls.filter((c) => c.event === "end" && c.operation?.startsWith("juju.") && c.detail?.startsWith("reconciled after restart")).length).toBeGreaterThan(0);
    });
    expect(after.juju?.repeated).toEqual({});
    expect(after.juju?.changes["add-machine"]).toBe(7);
    // Nothing was taken away either (a resumed run that formed the control plane over fewer control hosts scaled it down).
    expect(after.juju?.changes["remove-unit"]).toBeUndefined();
    expect(after.juju?.changes["remove-machine"]).toBeUndefined();

    // A re-run of the finished rollout changes nothing in Juju.
    const rerun = await runToEnd(["rollout", "--config", configFile, "--json"]);
    expect(rerun.code, rerun.out.slice(-4000)).toBe(0);
    // It layered every host again (checks only): the new rollout's journal has each one through layering.
    expect(withStore((s, id) => new Set(entered(s, id, "layering")).size)).toBe(8);
    const again = await stats();
    expect(again.juju?.repeated).toEqual({});
    expect(again.juju?.changes).toEqual(after.juju?.changes);
  }, 400_000);
});
