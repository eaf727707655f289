/**
 * Host-key pinning. A pin is kept per system_id (the machine, not its address,
 * which MAAS may hand to another machine). The rules, applied by `decideHostKey`:
 * - a key equal to the pin is accepted;
 * - after `noteDeployed`, the next key presented is pinned, whatever it is
 *   (a fresh install has a fresh key), and the "expect a new key" mark is cleared;
 * - a different key without a deploy noted since is refused (SSH_HOST_KEY_CHANGED);
 * - no pin and no deploy noted: refused (SSH_HOST_KEY_UNKNOWN) unless the policy is
 *   `unknownHosts: "pin"` (adopting machines metalwave did not deploy).
 * Storage is behind `KnownHosts`, so the lead can persist pins in the store;
 * `FileKnownHosts` keeps them in OpenSSH's known_hosts format.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigError } from "../errors.ts";

export interface HostKeyPin {
  /** e.g. "ssh-ed25519". */
  algorithm: string;
  /** OpenSSH style: "SHA256:" + unpadded base64 of the key blob's SHA-256. */
  fingerprint: string;
  pinnedAt: string;
  /** The key blob, base64 (what a known_hosts line holds); absent for a pin migrated from the old JSON file. */
  key?: string;
  /** The names the host was reached by when pinned (hostname, address): the line's host patterns. */
  hosts?: string[];
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
export function decideHostKey(
  record: KnownHostRecord | undefined,
  algorithm: string,
  fingerprint: string,
  policy: UnknownHostPolicy,
  now: Date,
  presented: { key?: string; hosts?: string[] } = {},
): HostKeyDecision {
  const fresh = (): HostKeyDecision => ({ verdict: "pin", record: { pin: { algorithm, fingerprint, pinnedAt: now.toISOString(), ...presented }, expectNewKey: false } });
  if (record?.expectNewKey) return fresh();
  if (record?.pin) {
    if (record.pin.fingerprint === fingerprint && record.pin.algorithm === algorithm) {
      // A pin without its key (migrated from the old JSON file) gets the key it matched, kept as pinned.
      if (!record.pin.key && presented.key) return { verdict: "pin", record: { pin: { ...record.pin, ...presented }, expectNewKey: false } };
      return { verdict: "accept" };
    }
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

/** Where a file of pins goes wrong: ConfigError naming the config field and the file. */
const FIELD = "ssh.knownHostsFile";

/** The comment that marks a line as metalwave's: `metalwave:system-id=…,pinned-at=…[,expect-new-key]`. */
const MARK = "metalwave:";

/** `[host]:port` for a port other than 22, as OpenSSH writes it (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT). */
function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function metaOf(systemId: string, record: KnownHostRecord): string {
  const parts = [`system-id=${systemId}`];
  if (record.pin) parts.push(`pinned-at=${record.pin.pinnedAt}`);
  if (record.expectNewKey) parts.push("expect-new-key");
  return MARK + parts.join(",");
}

function parseMeta(text: string): { systemId: string; pinnedAt: string | undefined; expectNewKey: boolean; fields: Map<string, string> } | undefined {
  if (!text.startsWith(MARK)) return undefined;
  const fields = new Map<string, string>();
  for (const part of text.slice(MARK.length).split(",")) {
    const eq = part.indexOf("=");
    fields.set(eq < 0 ? part : part.slice(0, eq), eq < 0 ? "" : part.slice(eq + 1));
  }
  const systemId = fields.get("system-id");
  if (!systemId) return undefined;
  return { systemId, pinnedAt: fields.get("pinned-at"), expectNewKey: fields.has("expect-new-key"), fields };
}

/**
 * One line per machine, in OpenSSH's known_hosts format (sshd(8)):
 * `host,address keytype base64-key metalwave:system-id=…,pinned-at=…` — so
 * `ssh -o UserKnownHostsFile=<file> ubuntu@host` verifies the same keys, and
 * `ssh-keygen -R host -f <file>` forgets one (the next connection is then a host never
 * seen: refused unless unknownHosts is "pin", and pinned anew after a redeploy noted).
 * What OpenSSH has no room for is a comment line OpenSSH skips: a deploy noted before any
 * key was pinned, or a pin migrated from the old JSON file, which held a fingerprint but
 * not the key (`# metalwave:system-id=…,algorithm=…,fingerprint=…`); the key is written
 * out the next time the host presents it. Lines not metalwave's are kept as they are.
 * The file is read again when it changed on disk (an `ssh-keygen -R` meanwhile counts),
 * and rewritten atomically (temp file + rename, mode 0600) on every change.
 */
export class FileKnownHosts implements KnownHosts {
  private readonly path: string;
  private readonly port: number;
  private entries = new Map<string, KnownHostRecord>();
  private foreign: string[] = [];
  private stamp = "";

  /**
   * `port`: the SSH port the hosts are reached on (config ssh.port). A file in the old
   * JSON form (`{systemId: record}`), at `path` or at `legacyJsonPath`, is read once and
   * written out in this form; the old file is kept beside it as `<name>.migrated`.
   */
  constructor(path: string, opts: { port?: number; legacyJsonPath?: string } = {}) {
    this.path = path;
    this.port = opts.port ?? 22;
    this.migrate(opts.legacyJsonPath);
    this.reload();
  }

  get(systemId: string): Promise<KnownHostRecord | undefined> {
    this.reload();
    const r = this.entries.get(systemId);
    return Promise.resolve(r === undefined ? undefined : copy(r));
  }

  async set(systemId: string, record: KnownHostRecord): Promise<void> {
    this.reload();
    this.entries.set(systemId, copy(record));
    this.write();
  }

  /** The file's lines for what is held now. */
  render(): string {
    const lines = [
      "# Host keys pinned by metalwave (OpenSSH known_hosts format; docs/layering.md). ssh-keygen -R <host> -f <this file> forgets one.",
      ...this.foreign,
    ];
    for (const [systemId, r] of [...this.entries].sort(([a], [b]) => a.localeCompare(b))) {
      const pin = r.pin;
      if (pin?.key && pin.hosts && pin.hosts.length > 0) {
        lines.push(`${pin.hosts.map((h) => hostPattern(h, this.port)).join(",")} ${pin.algorithm} ${pin.key} ${metaOf(systemId, r)}`);
      } else {
        const extra = pin ? `,algorithm=${pin.algorithm},fingerprint=${pin.fingerprint}` : "";
        lines.push(`# ${metaOf(systemId, r)}${extra}`);
      }
    }
    return lines.join("\n") + "\n";
  }

  private migrate(legacyJsonPath: string | undefined): void {
    const own = this.readText(this.path);
    const legacy = own !== undefined && /^\s*\{/.test(own) ? { path: this.path, text: own } : undefined;
    const other = legacy === undefined && own === undefined && legacyJsonPath ? this.readText(legacyJsonPath) : undefined;
    const from = legacy ?? (other !== undefined && legacyJsonPath ? { path: legacyJsonPath, text: other } : undefined);
    if (!from) return;
    let data: Record<string, KnownHostRecord>;
    try {
      data = JSON.parse(from.text) as Record<string, KnownHostRecord>;
    } catch (e) {
      throw new ConfigError(FIELD, `${from.path} is neither a known_hosts file nor the old JSON pins (${(e as Error).message})`);
    }
    for (const [k, v] of Object.entries(data)) {
      this.entries.set(k, { pin: v.pin ? { algorithm: v.pin.algorithm, fingerprint: v.pin.fingerprint, pinnedAt: v.pin.pinnedAt } : null, expectNewKey: v.expectNewKey === true });
    }
    renameSync(from.path, `${from.path}.migrated`);
    this.write();
  }

  private readText(path: string): string | undefined {
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new ConfigError(FIELD, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }

  /** Reads the file again if it changed since it was last read or written. */
  private reload(): void {
    let stamp = "none";
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new ConfigError(FIELD, `cannot read ${this.path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    }
    if (stamp === this.stamp) return;
    const text = stamp === "none" ? "" : (this.readText(this.path) ?? "");
    const entries = new Map<string, KnownHostRecord>();
    const foreign: string[] = [];
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("# Host keys pinned by metalwave")) return;
      if (line.startsWith("#")) {
        const meta = parseMeta(line.replace(/^#\s*/, ""));
        if (!meta) return void foreign.push(raw);
        const algorithm = meta.fields.get("algorithm");
        const fingerprint = meta.fields.get("fingerprint");
        entries.set(meta.systemId, { pin: algorithm && fingerprint && meta.pinnedAt ? { algorithm, fingerprint, pinnedAt: meta.pinnedAt } : null, expectNewKey: meta.expectNewKey });
        return;
      }
      const [hosts, algorithm, key, comment] = line.split(/\s+/);
      const meta = comment === undefined ? undefined : parseMeta(comment);
      if (!meta) return void foreign.push(raw);
      if (!hosts || !algorithm || !key) throw new ConfigError(FIELD, `${this.path} line ${i + 1}: expected "host keytype key comment"`);
      let blob: Buffer;
      try {
        blob = Buffer.from(key, "base64");
      } catch {
        throw new ConfigError(FIELD, `${this.path} line ${i + 1}: the key is not base64`);
      }
      if (algorithmOf(blob) !== algorithm) throw new ConfigError(FIELD, `${this.path} line ${i + 1}: the key is not a ${algorithm} key`);
      entries.set(meta.systemId, {
        pin: { algorithm, fingerprint: fingerprintOf(blob), pinnedAt: meta.pinnedAt ?? "", key, hosts: hosts.split(",").map((h) => h.replace(/^\[([^\]]+)\]:\d+$/, "$1")) },
        expectNewKey: meta.expectNewKey,
      });
    });
    this.entries = entries;
    this.foreign = foreign;
    this.stamp = stamp;
  }

  private write(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, this.render(), { mode: 0o600 });
    renameSync(tmp, this.path);
    const st = statSync(this.path);
    this.stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  }
}

function copy(r: KnownHostRecord): KnownHostRecord {
  return { pin: r.pin === null ? null : { ...r.pin, ...(r.pin.hosts ? { hosts: [...r.pin.hosts] } : {}) }, expectNewKey: r.expectNewKey };
}

/**
 * The pinned host keys of a real region: `ssh.knownHostsFile`, else `known_hosts` in the
 * local state directory (beside a SQLite store; the old `known-hosts.json` there read once). ConfigError naming
 * ssh.knownHostsFile when the file cannot be read or parsed.
 */
export function openKnownHosts(config: { ssh: { knownHostsFile?: string | undefined; port: number } }, stateDir: string): FileKnownHosts {
  if (config.ssh.knownHostsFile) return new FileKnownHosts(config.ssh.knownHostsFile, { port: config.ssh.port });
  const dir = stateDir;
  return new FileKnownHosts(join(dir, "known_hosts"), { port: config.ssh.port, legacyJsonPath: join(dir, "known-hosts.json") });
}

/** Adapts two callbacks (e.g. store reads/writes) to KnownHosts. */
export function callbackKnownHosts(load: (systemId: string) => Promise<KnownHostRecord | undefined>, save: (systemId: string, record: KnownHostRecord) => Promise<void>): KnownHosts {
  return { get: load, set: save };
}
