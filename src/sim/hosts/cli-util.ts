/**
 * What every simulated command shares: the execution context, results, and the flag
 * parser (`--x=v`, `--x v`, `-x v`, bare booleans), as the real tools' parsers accept them.
 */
import type { CmdResult, SimCloud, SimHost } from "./model.ts";

export interface ExecContext {
  host: SimHost;
  cloud: SimCloud;
  root: boolean;
  env: Record<string, string>;
  stdin: string;
}

export type Handler = (args: string[], ctx: ExecContext) => CmdResult;

export const ok = (out = ""): CmdResult => ({ code: 0, out, err: "" });
export const fail = (err: string, code = 1): CmdResult => ({ code, out: "", err: err.endsWith("\n") ? err : `${err}\n` });
export const notFound = (name: string): CmdResult => fail(`sh: 1: ${name}: not found`, 127);
/** A command that succeeded and wrote only to stderr (juju's progress lines). */
export const okErr = (err: string): CmdResult => ({ code: 0, out: "", err: err.endsWith("\n") ? err : `${err}\n` });

// ------------------------------------------------------------------ flags

export interface Parsed {
  pos: string[];
  opts: Map<string, string>;
  bad: string | undefined;
}

/** Parses `--x=v`, `--x v`, `-x v` for valued flags and bare booleans. */
export function flags(args: readonly string[], valued: readonly string[], bools: readonly string[] = []): Parsed {
  const pos: string[] = [];
  const opts = new Map<string, string>();
  let bad: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith("-") && a !== "-") {
      const eq = a.indexOf("=");
      const key = eq < 0 ? a : a.slice(0, eq);
      if (valued.includes(key)) {
        const v = eq < 0 ? args[++i] : a.slice(eq + 1);
        if (v === undefined) bad ??= `flag needs an argument: ${key}`;
        else opts.set(key, v);
      } else if (bools.includes(key)) opts.set(key, "true");
      else bad ??= `unknown flag: ${key}`;
    } else pos.push(a);
  }
  return { pos, opts, bad };
}

export const needsRoot = (ctx: ExecContext, what: string): CmdResult | undefined => (ctx.root ? undefined : fail(`error: access denied (try with sudo)\n${what}: permission denied`));

