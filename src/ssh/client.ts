/**
 * The production `SshPort` over ssh2: a pool of connections with a cap per host and
 * overall, connect retries with backoff, a timeout on every command, output
 * streamed to the host's logger, host keys checked against `KnownHosts`, and
 * failures turned into typed `SshError`s.
 *
 * Pool rules: a connection runs one command at a time (a host's commands queue
 * behind `maxPerHost` connections); idle connections close after `idleMs`; when the
 * overall cap is reached, a waiter for another host takes the place of an idle
 * connection, so one busy host cannot starve the rest. Waiters are served in order.
 */
import ssh2 from "ssh2";
import type { Client as Ssh2Client, ClientChannel } from "ssh2";
import type { Logger } from "pino";
import { SshError, outputTail } from "./errors.ts";
import type { SshErrorCode } from "./errors.ts";
import { systemClock, wallDate, type Clock } from "../clock.ts";
import { algorithmOf, decideHostKey, fingerprintOf } from "./known-hosts.ts";
import type { KnownHosts, UnknownHostPolicy } from "./known-hosts.ts";
import type { ExecOptions, ExecResult, SshCommandObserver, SshCommandResult, SshPort, SshTarget } from "./port.ts";

export interface Ssh2PortOptions {
  /** metalwave's private key (OpenSSH or PEM). Secret: never logged. */
  privateKey: string;
  /** Default "ubuntu", the user cloud-init gives the key to on Ubuntu images. */
  username?: string;
  /** Port every host listens on. Default 22. */
  port?: number;
  /** Overrides address/port per host (the simulator with ephemeral ports). */
  endpoint?: (target: SshTarget) => { host: string; port: number } | undefined;
  knownHosts: KnownHosts;
  /** What to do with a host that has no pin and no deploy noted. Default "refuse". */
  unknownHosts?: UnknownHostPolicy;
  /** Default 2. */
  maxPerHost?: number;
  /** Default 64. */
  maxTotal?: number;
  /** Connection attempts per acquisition (first included). Default 4. */
  connectAttempts?: number;
  /** Backoff between attempts: base doubles up to max. Default 500 ms .. 8 s. */
  connectBackoffMs?: { base: number; max: number };
  /** TCP + handshake + auth. Default 20 s. */
  connectTimeoutMs?: number;
  /** Default timeout per command. Default 10 min. */
  commandTimeoutMs?: number;
  /** Idle connections close after this long. Default 30 s. */
  idleMs?: number;
  logger: Logger;
  /** Test seam for the backoff waits. */
  sleep?: (ms: number) => Promise<void>;
  /** Stamps what is learned of host keys (src/clock.ts). Default: the system clock. */
  clock?: Clock;
}

export interface Ssh2PortStats {
  connectAttempts: number;
  connectsOpened: number;
  connectionsOpen: number;
  /** Highest number of open (or opening) connections seen, overall and per host. */
  peakTotal: number;
  peakPerHost: number;
  commands: number;
  waiting: number;
}

interface Conn {
  systemId: string;
  client: Ssh2Client;
  busy: boolean;
  dead: boolean;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter {
  target: SshTarget;
  resolve: (c: Conn) => void;
  reject: (e: unknown) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Single-quotes a string for sh. */
export function shQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class Ssh2Port implements SshPort {
  private readonly o: Required<Omit<Ssh2PortOptions, "endpoint">> & Pick<Ssh2PortOptions, "endpoint">;
  private readonly conns = new Map<string, Set<Conn>>();
  private readonly opening = new Map<string, number>();
  private waiters: Waiter[] = [];
  private total = 0;
  private closed = false;
  private readonly counters = { connectAttempts: 0, connectsOpened: 0, commands: 0, peakTotal: 0, peakPerHost: 0 };
  private readonly observers = new Set<SshCommandObserver>();
  /** Errors of commands that never started (no channel opened): safe to send again. */
  private readonly neverStarted = new WeakSet<SshError>();

  constructor(options: Ssh2PortOptions) {
    this.o = {
      username: "ubuntu",
      port: 22,
      unknownHosts: "refuse",
      maxPerHost: 2,
      maxTotal: 64,
      connectAttempts: 4,
      connectBackoffMs: { base: 500, max: 8000 },
      connectTimeoutMs: 20_000,
      commandTimeoutMs: 600_000,
      idleMs: 30_000,
      sleep: defaultSleep,
      clock: systemClock,
      ...options,
    };
    if (!(this.o.maxPerHost >= 1 && this.o.maxTotal >= 1)) throw new RangeError("ssh pool caps must be at least 1");
  }

  stats(): Ssh2PortStats {
    let open = 0;
    for (const s of this.conns.values()) open += s.size;
    return { ...this.counters, connectionsOpen: open, waiting: this.waiters.length };
  }

  async noteDeployed(systemId: string): Promise<void> {
    const r = await this.o.knownHosts.get(systemId);
    await this.o.knownHosts.set(systemId, { pin: r?.pin ?? null, expectNewKey: true });
    // Connections to the previous installation are useless now.
    for (const c of this.conns.get(systemId) ?? []) if (!c.busy) this.discard(c);
  }

  observeCommands(observer: SshCommandObserver): void {
    this.observers.add(observer);
  }

  async exec(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.observers.size === 0) return this.execOnce(target, command, opts);
    const t0 = this.o.clock.now();
    try {
      const r = await this.execOnce(target, command, opts);
      this.tell(r.exitCode === 0 ? "exit0" : "exitNonZero", t0);
      return r;
    } catch (e) {
      this.tell(e instanceof SshError ? e.code : "unexpected", t0);
      throw e;
    }
  }

  private tell(result: SshCommandResult, t0: number): void {
    const end = { result, durationMs: this.o.clock.now() - t0 };
    for (const o of this.observers) {
      try {
        o(end);
      } catch {
        // An observer's failure is not the command's.
      }
    }
  }

  private async execOnce(target: SshTarget, command: string, opts: ExecOptions): Promise<ExecResult> {
    if (this.closed) throw this.err("SSH_CLOSED", target, "the SSH port is closed");
    const shown = opts.secret ? (opts.display ?? "[command hidden]") : (opts.display ?? command);
    const full = opts.sudo ? `sudo -n sh -c ${shQuote(command)}` : command;
    const log = this.o.logger.child({ systemId: target.systemId, hostname: target.hostname });
    this.counters.commands++;
    log.debug({ command: shown, sudo: opts.sudo === true }, "ssh exec");
    let conn = await this.acquire(target);
    try {
      let r: ExecResult;
      try {
        r = await this.run(conn, target, full, shown, opts, log);
      } catch (e) {
        // A pooled connection the host had closed while idle: the command never started,
        // so it is sent once more on a fresh connection.
        if (!(e instanceof SshError) || !this.neverStarted.has(e)) throw e;
        this.release(conn);
        conn = await this.acquire(target);
        r = await this.run(conn, target, full, shown, opts, log);
      }
      if (r.exitCode !== 0 && !opts.allowNonZero) {
        throw new SshError("SSH_EXIT", { systemId: target.systemId, hostname: target.hostname, command: shown, exitCode: r.exitCode, outputTail: opts.secret ? undefined : outputTail(r.stdout, r.stderr) }, `exited with status ${r.exitCode}`);
      }
      return r;
    } finally {
      this.release(conn);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(this.err("SSH_CLOSED", w.target, "the SSH port was closed while waiting for a connection"));
    for (const set of this.conns.values()) for (const c of [...set]) this.discard(c);
  }

  // ------------------------------------------------------------------ commands

  private run(conn: Conn, target: SshTarget, full: string, shown: string, opts: ExecOptions, log: Logger): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.o.commandTimeoutMs;
    const details = { systemId: target.systemId, hostname: target.hostname, command: shown };
    return new Promise<ExecResult>((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      let settled = false;
      let channel: ClientChannel | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.client.off("close", onClose);
        fn();
      };
      const tail = () => (opts.secret ? undefined : outputTail(stdout, stderr));
      const timer = setTimeout(() => {
        finish(() => {
          // The remote command may still run: the connection goes, so nothing of it is reused.
          channel?.close();
          this.discard(conn);
          reject(new SshError("SSH_TIMEOUT", { ...details, outputTail: tail() }, `no exit status after ${timeoutMs} ms; channel closed`));
        });
      }, timeoutMs);
      const onClose = () =>
        finish(() => {
          conn.dead = true;
          const e = new SshError("SSH_DROPPED", { ...details, outputTail: tail() }, "the connection closed before the command exited");
          // Closed before a channel opened: the command never reached the host.
          if (channel === undefined) this.neverStarted.add(e);
          reject(e);
        });
      conn.client.once("close", onClose);
      const onData = (stream: "stdout" | "stderr", buf: Buffer) => {
        const text = buf.toString("utf8");
        if (stream === "stdout") stdout += text;
        else stderr += text;
        opts.onOutput?.(stream, text);
        if (!opts.secret) log.debug({ stream, output: text.trimEnd() }, "ssh output");
      };
      const notOpened = (cause: unknown) =>
        finish(() => {
          conn.dead = true;
          const e = new SshError("SSH_DROPPED", details, "could not open a session channel", { cause });
          this.neverStarted.add(e);
          reject(e);
        });
      const opened = (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          notOpened(err);
          return;
        }
        channel = ch;
        if (settled) {
          ch.close();
          return;
        }
        let exitCode: number | undefined;
        ch.on("data", (b: Buffer) => onData("stdout", b));
        ch.stderr.on("data", (b: Buffer) => onData("stderr", b));
        ch.on("exit", (code: number | null, signal?: string) => {
          exitCode = code ?? (signal ? 128 + 9 : 255);
        });
        ch.on("close", () => {
          if (exitCode === undefined) {
            finish(() => {
              conn.dead = true;
              reject(new SshError("SSH_DROPPED", { ...details, outputTail: tail() }, "the channel closed without an exit status"));
            });
            return;
          }
          const code = exitCode;
          finish(() => resolve({ exitCode: code, stdout, stderr }));
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      };
      try {
        conn.client.exec(full, opened);
      } catch (e) {
        // ssh2 throws "Not connected" at once when the connection is already gone.
        notOpened(e);
      }
    });
  }

  // ------------------------------------------------------------------ pool

  private hostCount(systemId: string): number {
    return (this.conns.get(systemId)?.size ?? 0) + (this.opening.get(systemId) ?? 0);
  }

  private acquire(target: SshTarget): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (const w of [...this.waiters]) {
      if (this.closed) return;
      const id = w.target.systemId;
      const idle = [...(this.conns.get(id) ?? [])].find((c) => !c.busy && !c.dead);
      if (idle) {
        this.take(w);
        idle.busy = true;
        clearTimeout(idle.idleTimer);
        idle.idleTimer = undefined;
        w.resolve(idle);
        continue;
      }
      if (this.hostCount(id) >= this.o.maxPerHost) continue;
      if (this.total >= this.o.maxTotal && !this.evictIdle(id)) continue;
      this.take(w);
      this.open(w);
    }
  }

  private take(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  private evictIdle(except: string): boolean {
    for (const [id, set] of this.conns) {
      if (id === except) continue;
      for (const c of set) {
        if (!c.busy) {
          this.discard(c);
          return true;
        }
      }
    }
    return false;
  }

  private release(conn: Conn): void {
    conn.busy = false;
    if (conn.dead || this.closed) this.discard(conn);
    this.pump();
    if (!conn.busy && !conn.dead && !this.closed) {
      conn.idleTimer = setTimeout(() => {
        if (!conn.busy) this.discard(conn);
      }, this.o.idleMs);
      conn.idleTimer.unref();
    }
  }

  private discard(conn: Conn): void {
    const set = this.conns.get(conn.systemId);
    if (set?.delete(conn)) {
      this.total--;
      if (set.size === 0) this.conns.delete(conn.systemId);
    }
    conn.dead = true;
    clearTimeout(conn.idleTimer);
    conn.client.end();
    conn.client.destroy();
  }

  private open(w: Waiter): void {
    const id = w.target.systemId;
    this.opening.set(id, (this.opening.get(id) ?? 0) + 1);
    this.total++;
    this.counters.peakTotal = Math.max(this.counters.peakTotal, this.total);
    this.counters.peakPerHost = Math.max(this.counters.peakPerHost, this.hostCount(id));
    const done = () => {
      const n = (this.opening.get(id) ?? 1) - 1;
      if (n === 0) this.opening.delete(id);
      else this.opening.set(id, n);
    };
    this.connectWithRetries(w.target).then(
      (client) => {
        done();
        const conn: Conn = { systemId: id, client, busy: true, dead: false, idleTimer: undefined };
        if (this.closed) {
          this.total--;
          client.destroy();
          w.reject(this.err("SSH_CLOSED", w.target, "the SSH port was closed while connecting"));
          return;
        }
        let set = this.conns.get(id);
        if (!set) this.conns.set(id, (set = new Set()));
        set.add(conn);
        client.on("close", () => {
          conn.dead = true;
          if (!conn.busy) this.discard(conn);
        });
        w.resolve(conn);
      },
      (e: unknown) => {
        done();
        this.total--;
        w.reject(e);
        this.pump();
      },
    );
  }

  // ------------------------------------------------------------------ connecting

  private async connectWithRetries(target: SshTarget): Promise<Ssh2Client> {
    let last: SshError | undefined;
    for (let attempt = 1; attempt <= this.o.connectAttempts; attempt++) {
      if (this.closed) throw this.err("SSH_CLOSED", target, "the SSH port was closed while connecting");
      try {
        this.counters.connectAttempts++;
        const c = await this.connectOnce(target);
        this.counters.connectsOpened++;
        return c;
      } catch (e) {
        if (!(e instanceof SshError)) throw e;
        // Only unreachability is worth retrying; a refused key or host key will not change by waiting.
        if (e.code !== "SSH_CONNECT") throw e;
        last = e;
        if (attempt < this.o.connectAttempts) {
          const delay = Math.min(this.o.connectBackoffMs.max, this.o.connectBackoffMs.base * 2 ** (attempt - 1));
          this.o.logger.debug({ systemId: target.systemId, hostname: target.hostname, attempt, delayMs: delay }, "ssh connect failed; retrying");
          await this.o.sleep(delay);
        }
      }
    }
    throw new SshError("SSH_CONNECT", { systemId: target.systemId, hostname: target.hostname, attempts: this.o.connectAttempts }, `unreachable after ${this.o.connectAttempts} attempts: ${last?.message.split(": ").slice(1).join(": ") ?? "unknown"}`, { cause: last });
  }

  private connectOnce(target: SshTarget): Promise<Ssh2Client> {
    const ep = this.o.endpoint?.(target) ?? { host: target.address, port: this.o.port };
    const details = { systemId: target.systemId, hostname: target.hostname };
    return new Promise<Ssh2Client>((resolve, reject) => {
      const client = new ssh2.Client();
      let keyProblem: SshError | undefined;
      let settled = false;
      const fail = (e: SshError) => {
        if (settled) return;
        settled = true;
        client.destroy();
        reject(e);
      };
      client.on("ready", () => {
        if (settled) return;
        settled = true;
        // Errors after this point surface as "close" on the command that was running.
        client.on("error", () => undefined);
        // Commands are small request/response exchanges: Nagle's algorithm would add delayed-ACK stalls to each.
        client.setNoDelay(true);
        resolve(client);
      });
      client.on("error", (err: Error & { level?: string; code?: string }) => {
        if (keyProblem) return fail(keyProblem);
        if (err.level === "client-authentication") return fail(new SshError("SSH_AUTH", details, `the host refused our key for user ${this.o.username}`, { cause: err }));
        const why = err.code ?? err.level ?? "error";
        fail(new SshError("SSH_CONNECT", details, `cannot connect to ${ep.host}:${ep.port} (${why})`, { cause: err }));
      });
      client.on("close", () => fail(keyProblem ?? new SshError("SSH_CONNECT", details, `connection to ${ep.host}:${ep.port} closed during the handshake`)));
      client.connect({
        host: ep.host,
        port: ep.port,
        username: this.o.username,
        privateKey: this.o.privateKey,
        readyTimeout: this.o.connectTimeoutMs,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          this.checkHostKey(target, key).then(
            (problem) => {
              keyProblem = problem;
              verify(problem === undefined);
            },
            (e: unknown) => {
              keyProblem = new SshError("SSH_HOST_KEY_UNKNOWN", details, "could not read the pinned host key", { cause: e });
              verify(false);
            },
          );
        },
      });
    });
  }

  /** Undefined when the key may be used (pinning it if the rules say so). */
  private async checkHostKey(target: SshTarget, key: Buffer): Promise<SshError | undefined> {
    const algorithm = algorithmOf(key);
    const fingerprint = fingerprintOf(key);
    const record = await this.o.knownHosts.get(target.systemId);
    const d = decideHostKey(record, algorithm, fingerprint, this.o.unknownHosts, wallDate(this.o.clock), { key: key.toString("base64"), hosts: [...new Set([target.hostname, target.address].filter((h) => h !== ""))] });
    const details = { systemId: target.systemId, hostname: target.hostname };
    switch (d.verdict) {
      case "accept":
        return undefined;
      case "pin":
        await this.o.knownHosts.set(target.systemId, d.record);
        this.o.logger.info({ systemId: target.systemId, hostname: target.hostname, algorithm, fingerprint }, "pinned host key");
        return undefined;
      case "changed":
        return new SshError("SSH_HOST_KEY_CHANGED", details, `host key changed: pinned ${d.pinned.algorithm} ${d.pinned.fingerprint}, presented ${algorithm} ${fingerprint}, and no redeploy was noted since; refusing`);
      case "unknown":
        return new SshError("SSH_HOST_KEY_UNKNOWN", details, `no pinned host key and no deploy noted (presented ${algorithm} ${fingerprint}); refusing (unknownHosts policy "refuse")`);
    }
  }

  private err(code: SshErrorCode, target: SshTarget, message: string): SshError {
    return new SshError(code, { systemId: target.systemId, hostname: target.hostname }, message);
  }
}
