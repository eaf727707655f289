/**
 * Typed layer failures. Each names the layer, the step, the host, and — when a
 * command failed — the command as shown (secrets hidden), its exit code and the
 * tail of its output, so the host's record says what went wrong without a log dive.
 */
import { MetalwaveError } from "../errors.ts";
import { SshError } from "../ssh/errors.ts";

export const LAYER_ERROR_CODES = [
  /** A command kept failing (non-zero exit, timeout, dropped connection) after the step's retries. */
  "LAYER_COMMAND_FAILED",
  /** The action ran but its check still says "not done". */
  "LAYER_NOT_VERIFIED",
  /** SSH could not reach or trust the host (connect, auth, host key): retrying the step will not help. */
  "LAYER_UNREACHABLE",
  /** Waited for readiness (nodes Ready, units active) past the deadline; a unit still blocked or waiting names itself in `unit`. */
  "LAYER_NOT_READY",
  /** A Juju unit of this host's work went into `error`: the unit, its status and message are in the error. */
  "LAYER_UNIT_ERROR",
  /** Something the layer needs is missing (an earlier barrier, hosts, an address). */
  "LAYER_PRECONDITION",
  /**
   * A removal the reference refuses without --force, checked before anything is changed (a
   * mysql-k8s or rabbitmq-k8s pod on the host's Kubernetes node): the operator's decision, not
   * a failure of the machine. The host ends `refused` (state-machines/host.ts), nothing released.
   */
  "LAYER_REFUSED",
  /** The Kubernetes API refused or failed a call. */
  "LAYER_KUBE",
  /** The OpenStack API (keystone, nova, neutron) refused or failed a call: its code and message are in the cause. */
  "LAYER_OPENSTACK",
  /** A command's output could not be understood (e.g. JSON expected). */
  "LAYER_BAD_OUTPUT",
  /**
   * The engine was closed (the run that used it ended), or one host's layer work was stopped
   * (its layering attempt ended): nothing more is sent or waited for.
   */
  "LAYER_STOPPED",
] as const;
export type LayerErrorCode = (typeof LAYER_ERROR_CODES)[number];

export interface LayerErrorDetails {
  layer: string;
  step: string;
  systemId?: string;
  hostname?: string;
  command?: string;
  exitCode?: number;
  outputTail?: string;
  attempts?: number;
  /** The Juju unit that is not ready or in error, with its workload status and message. */
  unit?: { name: string; status: string; message: string };
}

export class LayerError extends MetalwaveError<LayerErrorCode> {
  readonly code: LayerErrorCode;
  readonly layer: string;
  readonly step: string;
  readonly systemId: string | undefined;
  readonly hostname: string | undefined;
  readonly command: string | undefined;
  readonly exitCode: number | undefined;
  readonly outputTail: string | undefined;
  readonly attempts: number | undefined;
  readonly unit: { name: string; status: string; message: string } | undefined;
  /** The message without the location and command details. */
  readonly reason: string;
  constructor(code: LayerErrorCode, d: LayerErrorDetails, message: string, options?: { cause?: unknown }) {
    const where = d.hostname ? ` on ${d.hostname} (${d.systemId ?? "?"})` : "";
    const cmd = d.command ? `; command '${d.command}'` : "";
    const exit = d.exitCode !== undefined ? `, exit code ${d.exitCode}` : "";
    const tries = d.attempts !== undefined ? ` after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}` : "";
    const unit = d.unit ? `; unit ${d.unit.name} is ${d.unit.status}${d.unit.message ? ` (${d.unit.message})` : ""}` : "";
    const tail = d.outputTail ? `\n--- output tail ---\n${d.outputTail}` : "";
    super(`layer ${d.layer}, step ${d.step}${where}: ${message}${tries}${unit}${cmd}${exit}${tail}`, options);
    this.code = code;
    this.reason = message;
    this.layer = d.layer;
    this.step = d.step;
    this.systemId = d.systemId;
    this.hostname = d.hostname;
    this.command = d.command;
    this.exitCode = d.exitCode;
    this.outputTail = d.outputTail;
    this.attempts = d.attempts;
    this.unit = d.unit;
  }
}

/**
 * LAYER_STOPPED for one host's layer work whose attempt ended (it timed out, or the host was
 * aborted): nothing more is sent or waited for on its behalf, so a retry of it runs alone.
 */
export function hostWorkStopped(step: string, host: { systemId: string; hostname: string }): LayerError {
  return new LayerError("LAYER_STOPPED", { layer: "any", step, systemId: host.systemId, hostname: host.hostname }, "this host's layer work was stopped: its layering attempt ended");
}

/** SSH failures that retrying a step cannot fix. */
export function isUnreachable(e: unknown): boolean {
  return e instanceof SshError && (e.code === "SSH_CONNECT" || e.code === "SSH_AUTH" || e.code === "SSH_HOST_KEY_CHANGED" || e.code === "SSH_HOST_KEY_UNKNOWN" || e.code === "SSH_CLOSED");
}
