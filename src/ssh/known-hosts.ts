/**
 * Host-key pinning. A pin is kept per system_id (the machine, not its address,
 * which MAAS may hand to another machine). The rules, applied by `decideHostKey`:
 * - a key equal to the pin is accepted;
 * - after `noteDeployed`, the next key presented is pinned, whatever it is
 *   (a fresh install has a fresh key), and the "expect a new key" mark is cleared;
 * - a different key without a deploy noted since is refused (SSH_HOST_KEY_CHANGED);
 * - no pin and no deploy noted: refused (SSH_HOST_KEY_UNKNOWN) unless the policy is
 *   `unknownHosts: "pin"` (adopting machines metalwave did not deploy).
 * Storage is behind `KnownHosts`, so the lead can persist pins in the store.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface HostKeyPin {
  /** e.g. "ssh-ed25519". */
  algorithm: string;
  /** OpenSSH style: "SHA256:" + unpadded base64 of the key blob's SHA-256. */
  fingerprint: string;
  pinnedAt: string;
}

export interface KnownHostRecord {
  pin: HostKeyPin | null;
  /** Set by a deploy notice: the next key presented replaces the pin. */
  expectNewKey: boolean;
}

export interface KnownHosts {
  get(systemId: string): Promise<KnownHostRecord | undefined>;
  set(systemId: string, record: KnownHostRecord): Promise<void>;
}

export type UnknownHostPolicy = "refuse" | "pin";

export type HostKeyDecision =
  | { verdict: "accept" }
  | { verdict: "pin"; record: KnownHostRecord }
  | { verdict: "changed"; pinned: HostKeyPin }
  | { verdict: "unknown" };

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The algorithm name at the start of an SSH public key blob. */
export function algorithmOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const n = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + n).toString("latin1");
}

/** Pure: what to do with the key a host presented. */
export function decideHostKey(record: KnownHostRecord | undefined, algorithm: string, fingerprint: string, policy: UnknownHostPolicy, now: Date): HostKeyDecision {
  const fresh = (): HostKeyDecision => ({ verdict: "pin", record: { pin: { algorithm, fingerprint, pinnedAt: now.toISOString() }, expectNewKey: false } });
  if (record?.expectNewKey) return fresh();
  if (record?.pin) {
    if (record.pin.fingerprint === fingerprint && record.pin.algorithm === algorithm) return { verdict: "accept" };
    return { verdict: "changed", pinned: record.pin };
  }
  return policy === "pin" ? fresh() : { verdict: "unknown" };
}

export class MemoryKnownHosts implements KnownHosts {
  readonly records = new Map<string, KnownHostRecord>();
  async get(systemId: string): Promise<KnownHostRecord | undefined> {
    const r = this.records.get(systemId);
    return r === undefined ? undefined : { pin: r.pin === null ? null : { ...r.pin }, expectNewKey: r.expectNewKey };
  }
  async set(systemId: string, record: KnownHostRecord): Promise<void> {
    this.records.set(systemId, { pin: record.pin === null ? null : { ...record.pin }, expectNewKey: record.expectNewKey });
  }
}

/**
 * Pins in one JSON file ({systemId: record}), rewritten atomically (temp file +
 * rename) on every change so a crash never leaves half a file. Fine for hundreds of
 * hosts; at thousands the store-backed implementation is the better home.
 */
export class FileKnownHosts implements KnownHosts {
  private readonly path: string;
  private readonly mem = new MemoryKnownHosts();
  constructor(path: string) {
    this.path = path;
    let text: string | undefined;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (text !== undefined) {
      const data = JSON.parse(text) as Record<string, KnownHostRecord>;
      for (const [k, v] of Object.entries(data)) this.mem.records.set(k, v);
    }
  }
  get(systemId: string): Promise<KnownHostRecord | undefined> {
    return this.mem.get(systemId);
  }
  async set(systemId: string, record: KnownHostRecord): Promise<void> {
    await this.mem.set(systemId, record);
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.mem.records), null, 1), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

/** Adapts two callbacks (e.g. store reads/writes) to KnownHosts. */
export function callbackKnownHosts(load: (systemId: string) => Promise<KnownHostRecord | undefined>, save: (systemId: string, record: KnownHostRecord) => Promise<void>): KnownHosts {
  return { get: load, set: save };
}
