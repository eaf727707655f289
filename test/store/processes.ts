import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** Starts a fixture script under the same Node 24 that runs the tests (type stripping runs the .ts directly). */
export function startFixture(name: string, args: string[]): ChildProcessWithoutNullStreams {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  return child;
}

/** Collects a child's stdout as complete lines, and resolves `waitFor` when a predicate over them holds. */
export class LineReader {
  readonly lines: string[] = [];
  private partial = "";
  stderr = "";
  private waiters: { pred: (lines: readonly string[]) => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (chunk: string) => {
      const parts = (this.partial + chunk).split("\n");
      this.partial = parts.pop() ?? "";
      this.lines.push(...parts);
      this.check();
    });
    child.stderr.on("data", (chunk: string) => {
      this.stderr += chunk;
    });
    child.on("exit", (code, signal) => {
      for (const w of this.waiters) w.reject(new Error(`child exited (${code ?? signal}) before the expected output; stderr: ${this.stderr}`));
      this.waiters = [];
    });
  }

  waitFor(pred: (lines: readonly string[]) => boolean): Promise<void> {
    if (pred(this.lines)) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ pred, resolve, reject }));
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(this.lines)) return true;
      w.resolve();
      return false;
    });
  }
}

/** Resolves once the child has exited and been reaped (its pid no longer exists). */
export async function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, "exit");
}
