/**
 * SSH ports for tests, full implementations of the SSH port (src/ssh/port.ts):
 *
 * - `ScriptedSsh` answers every command from a script (default: exit 0, no output) and
 *   records the commands and the machines noted deployed;
 * - `RewritingSsh` sends every command to another port (the simulated hosts') and lets the
 *   test change its answer, as a real tool's output would differ from the simulator's.
 */
import type { ExecOptions, ExecResult, SshPort, SshTarget } from "../../src/ssh/port.ts";

export class ScriptedSsh implements SshPort {
  readonly commands: string[] = [];
  readonly deployed: string[] = [];
  closed = false;
  private readonly answer: (target: SshTarget, command: string) => ExecResult | Promise<ExecResult>;

  constructor(answer: (target: SshTarget, command: string) => ExecResult | Promise<ExecResult> = () => ({ exitCode: 0, stdout: "", stderr: "" })) {
    this.answer = answer;
  }

  async exec(target: SshTarget, command: string, _opts?: ExecOptions): Promise<ExecResult> {
    this.commands.push(command);
    return this.answer(target, command);
  }
  async noteDeployed(systemId: string): Promise<void> {
    this.deployed.push(systemId);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

export class RewritingSsh implements SshPort {
  readonly commands: string[] = [];
  private readonly inner: SshPort;
  private readonly rewrite: (command: string, result: ExecResult, target: SshTarget) => ExecResult;

  constructor(inner: SshPort, rewrite: (command: string, result: ExecResult, target: SshTarget) => ExecResult) {
    this.inner = inner;
    this.rewrite = rewrite;
  }

  async exec(target: SshTarget, command: string, opts?: ExecOptions): Promise<ExecResult> {
    this.commands.push(command);
    return this.rewrite(command, await this.inner.exec(target, command, opts), target);
  }
  noteDeployed(systemId: string): Promise<void> {
    return this.inner.noteDeployed(systemId);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
