/**
 * The one port through which metalwave runs commands on deployed machines. The
 * layers depend on this interface only; `Ssh2Port` (client.ts) implements it over
 * ssh2 with a pool, tests may provide fakes.
 *
 * Contracts:
 * - `exec` is NOT idempotent in general (it runs whatever it is given) and is never
 *   repeated by the port once the command was sent: a timeout or a dropped
 *   connection leaves the outcome unknown, and only the caller (a layer step with
 *   its check) knows whether running it again is safe. Connecting IS retried with
 *   backoff, since nothing has run yet.
 * - Expected failures are typed `SshError`s (errors.ts): SSH_CONNECT (unreachable
 *   after retries), SSH_AUTH (our key refused), SSH_HOST_KEY_CHANGED (the host
 *   presented a key other than the pinned one and no redeploy was noted since),
 *   SSH_HOST_KEY_UNKNOWN (no pin and no deploy noted, with the default policy),
 *   SSH_TIMEOUT (the command outlived `timeoutMs`; its channel and connection are
 *   closed), SSH_DROPPED (the connection closed before the exit status came),
 *   SSH_EXIT (non-zero exit, unless `allowNonZero`), SSH_CLOSED (the port was closed).
 * - An observer (`observeCommands`) hears how every `exec` ended and how long it took,
 *   never the command or its output; it is how the service counts commands without
 *   this module knowing about the service.
 */
import type { SshErrorCode } from "./errors.ts";

/** A machine to reach; `systemId` is the identity host keys are pinned to. */
export interface SshTarget {
  systemId: string;
  hostname: string;
  /** The address MAAS reports for the machine (first of ip_addresses). */
  address: string;
}

export type OutputStream = "stdout" | "stderr";

export interface ExecOptions {
  /** Kills the command (closes its channel and connection) after this long. Default: the port's `commandTimeoutMs`. */
  timeoutMs?: number;
  /** Run through `sudo -n sh -c '...'` as root. */
  sudo?: boolean;
  /** Each chunk of output as it arrives (also logged at debug unless `secret`). */
  onOutput?: (stream: OutputStream, chunk: string) => void;
  /** Written to the command's stdin, then stdin is closed (e.g. a kubeconfig). Never logged. */
  stdin?: string;
  /** Return non-zero exits instead of throwing SSH_EXIT (checks use this). */
  allowNonZero?: boolean;
  /** Shown in logs and errors instead of the command (its line holds a token or password). */
  display?: string;
  /**
   * The output is secret (a token, a kubeconfig): it is neither logged nor kept in
   * an error's tail, and the command shows as `display` or "[command hidden]".
   */
  secret?: boolean;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * How one `exec` ended: `exit0`, `exitNonZero` (returned to a caller that allowed it),
 * the code of the `SshError` it threw (`SSH_EXIT` for a non-zero exit that was not
 * allowed), or `unexpected` for any other error.
 */
export type SshCommandResult = "exit0" | "exitNonZero" | SshErrorCode | "unexpected";

export interface SshCommandEnd {
  result: SshCommandResult;
  /** From the call to its end, waiting for and opening a connection included. */
  durationMs: number;
}

/** Hears every command's end; it must not throw (what it throws is dropped). */
export type SshCommandObserver = (end: SshCommandEnd) => void;

export interface SshPort {
  exec(target: SshTarget, command: string, opts?: ExecOptions): Promise<ExecResult>;
  /**
   * The runtime calls this every time MAAS deploys the machine (again): the next
   * host key it presents replaces any pin. Idempotent.
   */
  noteDeployed(systemId: string): Promise<void>;
  /** Closes every connection; pending and later calls fail with SSH_CLOSED. Idempotent. */
  close(): Promise<void>;
  /** Adds an observer of every later command's end (optional: fakes may leave it out). */
  observeCommands?(observer: SshCommandObserver): void;
}
