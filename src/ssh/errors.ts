/**
 * Typed SSH failures. Every error names the host (hostname and system_id) and, for
 * a command, the command as logged (a step may hide its text when it carries a
 * secret). Messages never include key material: ssh2's own errors are kept as
 * `cause` and only their code/level are summarised.
 */
import { MetalwaveError } from "../errors.ts";

export const SSH_ERROR_CODES = ["SSH_CONNECT", "SSH_AUTH", "SSH_HOST_KEY_CHANGED", "SSH_HOST_KEY_UNKNOWN", "SSH_TIMEOUT", "SSH_DROPPED", "SSH_EXIT", "SSH_CLOSED"] as const;
export type SshErrorCode = (typeof SSH_ERROR_CODES)[number];

export interface SshErrorDetails {
  systemId: string;
  hostname: string;
  /** The command as it may be shown (secrets replaced), when the failure concerns one. */
  command?: string;
  exitCode?: number;
  /** The last lines of stdout+stderr (at most OUTPUT_TAIL_CHARS). */
  outputTail?: string;
  /** Connection attempts made, for SSH_CONNECT. */
  attempts?: number;
}

export class SshError extends MetalwaveError<SshErrorCode> {
  readonly code: SshErrorCode;
  readonly systemId: string;
  readonly hostname: string;
  readonly command: string | undefined;
  readonly exitCode: number | undefined;
  readonly outputTail: string | undefined;
  readonly attempts: number | undefined;
  constructor(code: SshErrorCode, details: SshErrorDetails, message: string, options?: { cause?: unknown }) {
    const cmd = details.command === undefined ? "" : ` running '${details.command}'`;
    const tail = details.outputTail ? `\n--- output tail ---\n${details.outputTail}` : "";
    super(`${details.hostname} (${details.systemId})${cmd}: ${message}${tail}`, options);
    this.code = code;
    this.systemId = details.systemId;
    this.hostname = details.hostname;
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.outputTail = details.outputTail;
    this.attempts = details.attempts;
  }
}

export const OUTPUT_TAIL_CHARS = 2000;
export const OUTPUT_TAIL_LINES = 20;

/** The end of a command's output, for errors: the last lines, capped in size. */
export function outputTail(stdout: string, stderr: string): string {
  const text = [stdout.trimEnd(), stderr.trimEnd()].filter((s) => s !== "").join("\n");
  const lines = text.split("\n");
  let tail = lines.slice(-OUTPUT_TAIL_LINES).join("\n");
  if (tail.length > OUTPUT_TAIL_CHARS) tail = tail.slice(-OUTPUT_TAIL_CHARS);
  return tail;
}
