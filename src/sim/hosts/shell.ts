/**
 * A small sh-like parser and runner for simulated hosts: no real shell ever runs.
 * Supported: words with '...' and "..." quoting and backslash escapes, `VAR=value`
 * prefixes, `;`, `&&`, `||`, redirections to /dev/null (`>/dev/null`, `2>&1`,
 * `2>/dev/null`), `sudo [-n] [--]`, `sh -c SCRIPT`. Anything else a template might
 * try (pipes, `$VAR`, `$(...)`, files as redirection targets) is refused with exit
 * 2, so a template that only works in a real shell fails here loudly rather than
 * passing by accident.
 */

export interface Redirect {
  fd: "1" | "2";
  target: "/dev/null" | "&1" | "&2";
}

export interface SimpleCommand {
  env: Record<string, string>;
  argv: string[];
  redirects?: Redirect[];
}

export interface ChainLink {
  /** How this command depends on the previous one's exit status. */
  op: ";" | "&&" | "||";
  cmd: SimpleCommand;
}

export class ShellSyntaxError extends Error {}

type Token = { kind: "word"; text: string } | { kind: "op"; text: ";" | "&&" | "||" } | { kind: "redirect"; text: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let word: string | null = null;
  const flush = () => {
    if (word !== null) out.push({ kind: "word", text: word });
    word = null;
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === " " || c === "\t" || c === "\n") {
      flush();
      i++;
      continue;
    }
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0) throw new ShellSyntaxError("unterminated quoted string");
      word = (word ?? "") + src.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let text = "";
      for (;;) {
        if (j >= src.length) throw new ShellSyntaxError("unterminated quoted string");
        const d = src[j] as string;
        if (d === '"') break;
        if (d === "\\" && j + 1 < src.length && '"\\$`'.includes(src[j + 1] as string)) {
          text += src[j + 1];
          j += 2;
          continue;
        }
        if (d === "$" || d === "`") throw new ShellSyntaxError("expansions ($, `) are not supported");
        text += d;
        j++;
      }
      word = (word ?? "") + text;
      i = j + 1;
      continue;
    }
    if (c === "\\") {
      word = (word ?? "") + (src[i + 1] ?? "");
      i += 2;
      continue;
    }
    if (c === "$" || c === "`") throw new ShellSyntaxError("expansions ($, `) are not supported");
    if (c === "&" && src[i + 1] === "&") {
      flush();
      out.push({ kind: "op", text: "&&" });
      i += 2;
      continue;
    }
    if (c === "|" && src[i + 1] === "|") {
      flush();
      out.push({ kind: "op", text: "||" });
      i += 2;
      continue;
    }
    if (c === ";") {
      flush();
      out.push({ kind: "op", text: ";" });
      i++;
      continue;
    }
    if (c === "|" || c === "<" || c === "&" || c === "(" || c === ")") throw new ShellSyntaxError(`'${c}' is not supported`);
    if (c === ">") {
      // A redirection: an optional fd digit just before, then a target.
      let fd = "";
      if (word !== null && /^[12]$/.test(word)) {
        fd = word;
        word = null;
      }
      flush();
      let j = i + 1;
      if (src[j] === ">") j++;
      while (src[j] === " ") j++;
      let target = "";
      if (src[j] === "&") target += src[j++];
      while (j < src.length && !" \t\n;&|".includes(src[j] as string)) target += src[j++];
      if (target !== "/dev/null" && target !== "&1" && target !== "&2") throw new ShellSyntaxError(`redirection to '${target}' is not supported (only /dev/null, &1, &2)`);
      out.push({ kind: "redirect", text: `${fd || "1"}>${target}` });
      i = j;
      continue;
    }
    word = (word ?? "") + c;
    i++;
  }
  flush();
  return out;
}

/** Parses a script into a chain of simple commands. Throws ShellSyntaxError. */
export function parseScript(src: string): ChainLink[] {
  const links: ChainLink[] = [];
  let op: ChainLink["op"] = ";";
  let cur: SimpleCommand = { env: {}, argv: [] };
  const end = () => {
    if (cur.argv.length === 0) {
      if (Object.keys(cur.env).length > 0 || cur.redirects) throw new ShellSyntaxError("bare variable assignments are not supported");
      return false;
    }
    links.push({ op, cmd: cur });
    cur = { env: {}, argv: [] };
    return true;
  };
  for (const t of tokenize(src)) {
    if (t.kind === "redirect") {
      const [fd, target] = t.text.split(">") as [Redirect["fd"], Redirect["target"]];
      (cur.redirects ??= []).push({ fd, target });
      continue;
    }
    if (t.kind === "op") {
      if (!end() && t.text !== ";") throw new ShellSyntaxError(`syntax error near '${t.text}'`);
      op = t.text;
      continue;
    }
    const assign = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(t.text);
    if (assign && cur.argv.length === 0) cur.env[assign[1] as string] = assign[2] as string;
    else cur.argv.push(t.text);
  }
  end();
  return links;
}
