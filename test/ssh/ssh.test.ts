import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.ts";
import { seededHostKey } from "../../src/sim/hosts/keys.ts";
import { fingerprintOf, generateKeyPair, MemoryKnownHosts, SshError } from "../../src/ssh/index.ts";
import { startTestFleet } from "../sim-hosts/helpers.ts";
import type { TestFleet } from "../sim-hosts/helpers.ts";

async function codeOf(p: Promise<unknown>): Promise<SshError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SshError) return e;
    throw e;
  }
  throw new Error("expected an SshError");
}

describe("Ssh2Port against simulated hosts", () => {
  let f: TestFleet;
  let ids: string[];
  beforeAll(async () => {
    f = await startTestFleet([{ prefix: "h", count: 6, tags: ["compute"] }], { faults: "hang=1:match=hang-here,drop=1:match=drop-here" });
    ids = f.ids["h"] ?? [];
    await f.deploy(ids.slice(0, 3));
  });
  afterAll(async () => f.close());

  it("never holds more connections than the per-host and overall caps, and queues the rest", async () => {
    const ssh = f.ssh({ maxPerHost: 1, maxTotal: 2 });
    const runs = ids.slice(0, 3).flatMap((sid) => Array.from({ length: 8 }, () => ssh.exec(f.target(sid), "hostname")));
    const out = await Promise.all(runs);
    expect(out.every((r) => r.exitCode === 0)).toBe(true);
    const s = ssh.stats();
    expect(s.commands).toBe(24);
    expect(s.peakPerHost).toBe(1);
    expect(s.peakTotal).toBe(2);
  });

  it("opens more than one connection per host without the cap", async () => {
    const ssh = f.ssh({ maxPerHost: 4, maxTotal: 64 });
    await Promise.all(Array.from({ length: 8 }, () => ssh.exec(f.target(ids[0] as string), "hostname")));
    expect(ssh.stats().peakPerHost).toBeGreaterThan(1);
  });

  it("retries connecting with backoff and gives SSH_CONNECT with the attempt count", async () => {
    const delays: number[] = [];
    const ssh = f.ssh({ connectAttempts: 3, connectBackoffMs: { base: 10, max: 15 }, sleep: async (ms) => void delays.push(ms) });
    const e = await codeOf(ssh.exec(f.target(ids[5] as string), "hostname"));
    expect(e.code).toBe("SSH_CONNECT");
    expect(e.attempts).toBe(3);
    expect(delays).toEqual([10, 15]);
  });

  it("succeeds on a later connect attempt once the host is up", async () => {
    const sid = ids[4] as string;
    const ssh = f.ssh({ connectAttempts: 3, sleep: () => f.deploy([sid]) });
    const r = await ssh.exec(f.target(sid), "hostname");
    expect(r.stdout).toBe(`${f.target(sid).hostname}\n`);
    expect(ssh.stats().connectAttempts).toBe(2);
  });

  it("turns a non-zero exit into SSH_EXIT with the command, exit code and output tail", async () => {
    const ssh = f.ssh();
    const e = await codeOf(ssh.exec(f.target(ids[0] as string), "cat /etc/nothing-here"));
    expect(e.code).toBe("SSH_EXIT");
    expect(e.command).toBe("cat /etc/nothing-here");
    expect(e.exitCode).toBe(1);
    expect(e.outputTail).toContain("No such file or directory");
    const r = await ssh.exec(f.target(ids[0] as string), "cat /etc/nothing-here", { allowNonZero: true });
    expect(r.exitCode).toBe(1);
  });

  it("times a hung command out as SSH_TIMEOUT and the host stays usable", async () => {
    const ssh = f.ssh();
    const e = await codeOf(ssh.exec(f.target(ids[1] as string), "echo hang-here", { timeoutMs: 50 }));
    expect(e.code).toBe("SSH_TIMEOUT");
    expect((await ssh.exec(f.target(ids[1] as string), "hostname")).exitCode).toBe(0);
  });

  it("reports a connection dropped mid-command as SSH_DROPPED", async () => {
    const ssh = f.ssh();
    const e = await codeOf(ssh.exec(f.target(ids[2] as string), "echo drop-here"));
    expect(e.code).toBe("SSH_DROPPED");
    expect(e.command).toBe("echo drop-here");
    expect((await ssh.exec(f.target(ids[2] as string), "hostname")).exitCode).toBe(0);
  });

  it("sends a command again on a fresh connection when the pooled one was closed by the host before the command started", async () => {
    const ssh = f.ssh();
    const t = f.target(ids[1] as string);
    expect((await ssh.exec(t, "hostname")).exitCode).toBe(0);
    // The host drops every connection (the pooled idle one too) and is back at once: the
    // port still holds the closed connection when the next command is asked for.
    f.hosts.setReachable(ids[1] as string, false);
    f.hosts.setReachable(ids[1] as string, true);
    expect((await ssh.exec(t, "hostname")).stdout.trim()).toBe(f.target(ids[1] as string).hostname);
    expect(ssh.stats().connectsOpened).toBe(2);
  });

  it("is refused (SSH_AUTH) with a key the deploy's user-data did not install", async () => {
    const sid = ids[3] as string;
    await f.deploy([sid], [generateKeyPair("someone-else").publicKey]);
    const before = f.hosts.stats().authFailures;
    const e = await codeOf(f.ssh().exec(f.target(sid), "hostname"));
    expect(e.code).toBe("SSH_AUTH");
    expect(f.hosts.stats().authFailures).toBeGreaterThan(before);
    await f.release([sid]);
  });

  it("pins the host key on first contact after a deploy, refuses a changed one, accepts it after a redeploy notice", async () => {
    const sid = ids[3] as string;
    const known = new MemoryKnownHosts();
    const ssh = f.ssh({ knownHosts: known, unknownHosts: "refuse" });
    await f.deploy([sid]);
    const deployment = f.sim.region.get(sid).counts.deployed;

    // Never told about a deploy, no pin: refused by default.
    expect((await codeOf(ssh.exec(f.target(sid), "hostname"))).code).toBe("SSH_HOST_KEY_UNKNOWN");

    await ssh.noteDeployed(sid);
    await ssh.exec(f.target(sid), "hostname");
    const first = fingerprintOf(seededHostKey(f.sim.region.seed, sid, deployment).publicBlob);
    expect((await known.get(sid))?.pin?.fingerprint).toBe(first);
    expect((await known.get(sid))?.expectNewKey).toBe(false);

    // Redeployed behind our back: a new key, and no notice.
    await f.release([sid]);
    await f.deploy([sid]);
    const e = await codeOf(ssh.exec(f.target(sid), "hostname"));
    expect(e.code).toBe("SSH_HOST_KEY_CHANGED");
    expect((await known.get(sid))?.pin?.fingerprint).toBe(first);

    await ssh.noteDeployed(sid);
    await ssh.exec(f.target(sid), "hostname");
    const second = fingerprintOf(seededHostKey(f.sim.region.seed, sid, deployment + 1).publicBlob);
    expect(second).not.toBe(first);
    expect((await known.get(sid))?.pin?.fingerprint).toBe(second);
  });

  it("never writes the private key to logs or errors", async () => {
    const lines: string[] = [];
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ level: "debug", destination: dest });
    const ssh = f.ssh({ logger, connectAttempts: 2, connectBackoffMs: { base: 1, max: 1 } });
    await ssh.exec(f.target(ids[0] as string), "hostname");
    const errs = [await codeOf(ssh.exec(f.target(ids[5] as string), "hostname")), await codeOf(ssh.exec(f.target(ids[0] as string), "false"))];
    const body = f.key.privateKey.split("\n").slice(1, -2).join("");
    const text = lines.join("") + errs.map((e) => `${e.message}${String(e.cause)}`).join("");
    expect(lines.length).toBeGreaterThan(0);
    for (const chunk of body.match(/.{16}/g) ?? []) expect(text).not.toContain(chunk);
  });
});
