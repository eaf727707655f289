/**
 * The one polling helper of the tests: waits, on real time, for something another process,
 * a server or the event loop brings about. A test that has a manual clock or an event to
 * wait on uses that instead; this is for what only shows by looking again.
 */

export interface UntilOptions {
  /** Give up after this long (ms of real time). Default 60 000. */
  limitMs?: number;
  /** Look again after this long (ms). Default 5. */
  everyMs?: number;
  /** Looked at before each try: a reason to fail at once (say, the child process exited). */
  failIf?: () => string | undefined;
  /** Added to the timeout's message (say, what the child process printed). */
  detail?: () => string;
}

/**
 * Resolves with the first value `probe` gives that is neither `undefined` nor `false`
 * (a condition resolves `true`); rejects, naming `what`, once `limitMs` has passed.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: UntilOptions = {},
): Promise<T> {
  const { limitMs = 60_000, everyMs = 5 } = opts;
  const end = performance.now() + limitMs;
  const detail = () => (opts.detail ? `:\n${opts.detail()}` : "");
  for (;;) {
    const failed = opts.failIf?.();
    if (failed !== undefined) throw new Error(`${failed} before ${what}${detail()}`);
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}${detail()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
