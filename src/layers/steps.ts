/**
 * Runs template steps on hosts: `ensure` is check → act → check again, retried
 * within limits; `query` runs a read-only step and returns its output. A check
 * that passes first time means the step was already done and nothing else runs,
 * which is what makes every layer safe to run again.
 */
import type { Logger } from "pino";
import { SshError } from "../ssh/errors.ts";
import type { SshPort, SshTarget } from "../ssh/port.ts";
import { LayerError, isUnreachable } from "./errors.ts";
import { renderCommand, renderExpect } from "./render.ts";
import type { LayerTemplate, StepTemplate, Values } from "./render.ts";

export interface StepPolicy {
  /** Attempts per step (first included). Default 3. */
  attempts: number;
  /** Wait between attempts: base doubles. Default 2 s. */
  backoffMs: number;
  /** Timeout of a command whose step gives none. Default 10 min. */
  commandTimeoutMs: number;
}

export type EnsureOutcome = "unchanged" | "changed";

export interface EnsureHooks {
  /** Replaces the template check: "is it done?". */
  satisfied?: () => Promise<boolean>;
  /** Replaces running the template's `run` (e.g. fetch a token first). */
  act?: () => Promise<void>;
}

/** Failures a retry of the step cannot fix: unreachable, a missing precondition, a closed engine. */
function isFinal(e: LayerError): boolean {
  return e.code === "LAYER_UNREACHABLE" || e.code === "LAYER_PRECONDITION" || e.code === "LAYER_STOPPED" || e.code === "LAYER_UNIT_ERROR" || e.code === "LAYER_NOT_READY";
}

export class StepRunner {
  private readonly ssh: SshPort;
  private readonly logger: Logger;
  private readonly policy: StepPolicy;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(ssh: SshPort, logger: Logger, policy: StepPolicy, sleep: (ms: number) => Promise<void>) {
    this.ssh = ssh;
    this.logger = logger;
    this.policy = policy;
    this.sleep = sleep;
  }

  private step(tpl: LayerTemplate, name: string): StepTemplate {
    const s = tpl.steps[name];
    if (s === undefined) throw new LayerError("LAYER_PRECONDITION", { layer: tpl.layer, step: name }, `template ${tpl.file} has no step '${name}'`);
    return s;
  }

  private values(tpl: LayerTemplate, values: Values): Values {
    return { ...tpl.defaults, ...values };
  }

  /** Runs a step's command once; SSH errors propagate. */
  async run(host: SshTarget, tpl: LayerTemplate, name: string, values: Values, opts: { stdin?: string; allowNonZero?: boolean; command?: string } = {}) {
    const s = this.step(tpl, name);
    const v = this.values(tpl, values);
    const command = renderCommand(`${tpl.file} step ${name}`, opts.command ?? s.run, v);
    return this.ssh.exec(host, command, {
      sudo: s.sudo,
      secret: s.secret,
      display: s.display,
      stdin: opts.stdin,
      allowNonZero: opts.allowNonZero,
      timeoutMs: s.timeoutMs ?? this.policy.commandTimeoutMs,
    });
  }

  /** Whether the step's check says "done". Checks never carry secrets in their output we keep. */
  async check(host: SshTarget, tpl: LayerTemplate, name: string, values: Values): Promise<boolean> {
    const s = this.step(tpl, name);
    if (s.check === undefined) throw new LayerError("LAYER_PRECONDITION", { layer: tpl.layer, step: name }, `step '${name}' has no check`);
    const v = this.values(tpl, values);
    const command = renderCommand(`${tpl.file} step ${name} check`, s.check, v);
    const r = await this.ssh.exec(host, command, { sudo: s.sudo, allowNonZero: true, timeoutMs: s.timeoutMs ?? this.policy.commandTimeoutMs });
    if (r.exitCode !== 0) return false;
    return s.expect === undefined || renderExpect(`${tpl.file} step ${name} expect`, s.expect, v).test(r.stdout);
  }

  /**
   * Check, act, verify; retried. Unreachable hosts fail at once (LAYER_UNREACHABLE, as do
   * LAYER_PRECONDITION and LAYER_STOPPED);
   * the last command failure or a failed verification is reported after the last attempt.
   */
  async ensure(host: SshTarget, tpl: LayerTemplate, name: string, values: Values, hooks: EnsureHooks = {}): Promise<EnsureOutcome> {
    const satisfied = hooks.satisfied ?? (() => this.check(host, tpl, name, values));
    const act =
      hooks.act ??
      (async () => {
        await this.run(host, tpl, name, values);
      });
    const log = this.logger.child({ systemId: host.systemId, hostname: host.hostname, layer: tpl.layer, step: name });
    let last: LayerError | undefined;
    let acted = false;
    for (let attempt = 1; attempt <= this.policy.attempts; attempt++) {
      try {
        if (await satisfied()) {
          if (!acted) log.debug("already done");
          return acted ? "changed" : "unchanged";
        }
        acted = true;
        log.info({ attempt }, "running step");
        await act();
        if (await satisfied()) return "changed";
        last = new LayerError("LAYER_NOT_VERIFIED", { layer: tpl.layer, step: name, systemId: host.systemId, hostname: host.hostname, attempts: attempt }, "the step ran but its check still fails");
      } catch (e) {
        last = this.wrap(e, tpl.layer, name, host, attempt);
        if (isFinal(last)) throw last;
      }
      if (attempt < this.policy.attempts) {
        log.warn({ attempt, err: last.message.split("\n")[0] }, "step failed; retrying");
        await this.sleep(this.policy.backoffMs * 2 ** (attempt - 1));
      }
    }
    throw this.withAttempts(last as LayerError, this.policy.attempts);
  }

  /** A read-only step: retried on failure, returns stdout. */
  async query(host: SshTarget, tpl: LayerTemplate, name: string, values: Values, opts: { stdin?: string } = {}): Promise<string> {
    let last: LayerError | undefined;
    for (let attempt = 1; attempt <= this.policy.attempts; attempt++) {
      try {
        return (await this.run(host, tpl, name, values, opts)).stdout;
      } catch (e) {
        last = this.wrap(e, tpl.layer, name, host, attempt);
        if (isFinal(last)) throw last;
      }
      if (attempt < this.policy.attempts) await this.sleep(this.policy.backoffMs * 2 ** (attempt - 1));
    }
    throw this.withAttempts(last as LayerError, this.policy.attempts);
  }

  /** A query whose output must be JSON. */
  async queryJson<T>(host: SshTarget, tpl: LayerTemplate, name: string, values: Values): Promise<T> {
    const out = await this.query(host, tpl, name, values);
    try {
      return JSON.parse(out) as T;
    } catch (e) {
      throw new LayerError("LAYER_BAD_OUTPUT", { layer: tpl.layer, step: name, systemId: host.systemId, hostname: host.hostname }, "expected JSON output", { cause: e });
    }
  }

  wrap(e: unknown, layer: string, step: string, host: SshTarget, attempt: number): LayerError {
    if (e instanceof LayerError) return e;
    const base = { layer, step, systemId: host.systemId, hostname: host.hostname, attempts: attempt };
    if (e instanceof SshError) {
      if (isUnreachable(e)) return new LayerError("LAYER_UNREACHABLE", base, `cannot use SSH (${e.code})`, { cause: e });
      const why = e.code === "SSH_EXIT" ? "command failed" : e.code === "SSH_TIMEOUT" ? "command timed out" : "connection dropped during the command";
      return new LayerError("LAYER_COMMAND_FAILED", { ...base, command: e.command, exitCode: e.exitCode, outputTail: e.outputTail }, `${why} (${e.code})`, { cause: e });
    }
    if (e instanceof Error && e.name === "TemplateError") return new LayerError("LAYER_PRECONDITION", base, e.message, { cause: e });
    return new LayerError("LAYER_COMMAND_FAILED", base, e instanceof Error ? e.message : String(e), { cause: e });
  }

  private withAttempts(e: LayerError, attempts: number): LayerError {
    if (e.attempts === attempts) return e;
    return new LayerError(e.code, { layer: e.layer, step: e.step, systemId: e.systemId, hostname: e.hostname, command: e.command, exitCode: e.exitCode, outputTail: e.outputTail, attempts, ...(e.unit ? { unit: e.unit } : {}) }, e.reason, { cause: e.cause });
  }
}
