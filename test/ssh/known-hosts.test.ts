/**
 * Pinned host keys in OpenSSH's known_hosts format: OpenSSH's own ssh-keygen finds,
 * fingerprints and removes them (`-F`, `-l`, `-R`), and metalwave reads what it left;
 * the old JSON pins are read once and written out in the new form.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decideHostKey, FileKnownHosts, fingerprintOf, generateKeyPair, openKnownHosts } from "../../src/ssh/index.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "metalwave-known-hosts-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A host key as a server presents it: the public key blob. */
function hostKey(): { blob: Buffer; algorithm: string } {
  const parsed = ssh2.utils.parseKey(generateKeyPair("host").privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error("test: no key");
  return { blob: parsed.getPublicSSH(), algorithm: parsed.type };
}

function keygen(args: string[]): { status: number | null; out: string } {
  const r = spawnSync("ssh-keygen", args, { encoding: "utf8" });
  if (r.error) throw new Error(`ssh-keygen is needed (Debian package openssh-client): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** What the SSH client pins when a host first presents `key` after a deploy. */
function pinOf(key: { blob: Buffer; algorithm: string }, hosts: string[]) {
  const d = decideHostKey({ pin: null, expectNewKey: true }, key.algorithm, fingerprintOf(key.blob), "refuse", new Date("2026-12-01T00:00:00Z"), { key: key.blob.toString("base64"), hosts });
  if (d.verdict !== "pin") throw new Error("test: expected a pin");
  return d.record;
}

describe("known_hosts", () => {
  it("is a file ssh-keygen finds, fingerprints the same and removes a host from; metalwave then forgets it", async () => {
    const file = join(dir, "known_hosts");
    const known = new FileKnownHosts(file);
    const key = hostKey();
    await known.set("4y3h7n", pinOf(key, ["moral-mayfly", "10.0.0.7"]));
    const other = hostKey();
    await known.set("8k2pqa", pinOf(other, ["brave-otter", "10.0.0.8"]));

    expect(readFileSync(file, "utf8")).toContain(`moral-mayfly,10.0.0.7 ${key.algorithm} ${key.blob.toString("base64")} metalwave:system-id=4y3h7n,pinned-at=2026-12-01T00:00:00.000Z`);
    const found = keygen(["-F", "10.0.0.7", "-f", file]);
    expect(found.status).toBe(0);
    expect(found.out).toContain("moral-mayfly,10.0.0.7");
    expect(keygen(["-l", "-f", file]).out).toContain(fingerprintOf(key.blob));

    const removed = keygen(["-R", "moral-mayfly", "-f", file]);
    expect(removed.status).toBe(0);
    // Read again from disk: the host ssh-keygen removed is a host never seen; the other stays.
    expect(await known.get("4y3h7n")).toBeUndefined();
    expect((await known.get("8k2pqa"))?.pin?.fingerprint).toBe(fingerprintOf(other.blob));
    // A fresh reader agrees, and the next write keeps the removal.
    await known.set("8k2pqa", { ...(await known.get("8k2pqa"))!, expectNewKey: true });
    expect(await new FileKnownHosts(file).get("4y3h7n")).toBeUndefined();
    expect(await new FileKnownHosts(file).get("8k2pqa")).toMatchObject({ expectNewKey: true, pin: { fingerprint: fingerprintOf(other.blob), hosts: ["brave-otter", "10.0.0.8"] } });
  });

  it("writes [host]:port for another SSH port, keeps lines not its own, and notes a deploy before any key as a comment", async () => {
    const file = join(dir, "known_hosts");
    writeFileSync(file, "bastion ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorsOwnLineKeptAsItIs0000000000000\n");
    const known = new FileKnownHosts(file, { port: 2222 });
    const key = hostKey();
    await known.set("4y3h7n", pinOf(key, ["moral-mayfly", "10.0.0.7"]));
    await known.set("9zz9zz", { pin: null, expectNewKey: true });
    const text = readFileSync(file, "utf8");
    expect(text).toContain("bastion ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorsOwnLineKeptAsItIs0000000000000");
    expect(text).toContain(`[moral-mayfly]:2222,[10.0.0.7]:2222 ${key.algorithm} `);
    expect(text).toContain("# metalwave:system-id=9zz9zz,expect-new-key");
    expect(keygen(["-F", "[10.0.0.7]:2222", "-f", file]).status).toBe(0);
    const again = new FileKnownHosts(file, { port: 2222 });
    expect(await again.get("9zz9zz")).toEqual({ pin: null, expectNewKey: true });
    expect((await again.get("4y3h7n"))?.pin?.hosts).toEqual(["moral-mayfly", "10.0.0.7"]);
  });

  it("reads the old JSON pins once: known_hosts beside the store, the JSON kept as .migrated, each key written out when the host presents it", async () => {
    const legacy = join(dir, "known-hosts.json");
    const key = hostKey();
    const fp = fingerprintOf(key.blob);
    writeFileSync(legacy, JSON.stringify({ "4y3h7n": { pin: { algorithm: key.algorithm, fingerprint: fp, pinnedAt: "2026-01-01T00:00:00.000Z" }, expectNewKey: false } }));
    const config = { ssh: { port: 22 } };
    const known = openKnownHosts(config, dir);
    expect(existsSync(legacy)).toBe(false);
    expect(existsSync(`${legacy}.migrated`)).toBe(true);
    expect(readFileSync(join(dir, "known_hosts"), "utf8")).toContain(`# metalwave:system-id=4y3h7n,pinned-at=2026-01-01T00:00:00.000Z,algorithm=${key.algorithm},fingerprint=${fp}`);
    const record = await known.get("4y3h7n");
    expect(record?.pin?.fingerprint).toBe(fp);

    // The same key presented: accepted, and its line now has the key (pinned when it was).
    const d = decideHostKey(record, key.algorithm, fp, "refuse", new Date(), { key: key.blob.toString("base64"), hosts: ["moral-mayfly"] });
    expect(d).toMatchObject({ verdict: "pin", record: { pin: { fingerprint: fp, pinnedAt: "2026-01-01T00:00:00.000Z", key: key.blob.toString("base64") } } });
    // Another key is refused as before.
    expect(decideHostKey(record, key.algorithm, fingerprintOf(hostKey().blob), "refuse", new Date(), {}).verdict).toBe("changed");
    if (d.verdict === "pin") await known.set("4y3h7n", d.record);
    expect(keygen(["-F", "moral-mayfly", "-f", join(dir, "known_hosts")]).status).toBe(0);

    // Once: a later start reads known_hosts only.
    expect((await openKnownHosts(config, dir).get("4y3h7n"))?.pin?.key).toBe(key.blob.toString("base64"));
  });

  it("migrates a configured file still in the JSON form in place, and names ssh.knownHostsFile for one it cannot read", async () => {
    const file = join(dir, "pins");
    writeFileSync(file, JSON.stringify({ abc: { pin: null, expectNewKey: true } }));
    expect(await openKnownHosts({ ssh: { knownHostsFile: file, port: 22 } }, dir).get("abc")).toEqual({ pin: null, expectNewKey: true });
    expect(readFileSync(file, "utf8")).toContain("# metalwave:system-id=abc,expect-new-key");

    const bad = join(dir, "bad");
    writeFileSync(bad, "moral-mayfly ssh-ed25519 bm90IGEga2V5 metalwave:system-id=x\n");
    expect(() => new FileKnownHosts(bad)).toThrow(`ssh.knownHostsFile: ${bad} line 1: the key is not a ssh-ed25519 key`);
    const json = join(dir, "broken.json");
    writeFileSync(json, "{ not json");
    expect(() => new FileKnownHosts(json)).toThrow("ssh.knownHostsFile: ");
  });
});
