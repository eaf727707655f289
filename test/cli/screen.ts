/**
 * A small terminal emulator for the TTY tests: what a VT100-style terminal of `columns`
 * × `rows` would hold after an output stream, scrollback included. It knows what
 * metalwave writes: printable text with auto-wrap (pending wrap at the last column), CR,
 * LF, CSI n F (cursor to the start of a line n up, not above the screen's top), CSI J
 * (erase to the end of the screen) and SGR colours (ignored).
 */
export interface Screen {
  /** Every row, scrollback first. */
  rows: string[];
  /** Rows joined where the terminal wrapped them: the lines as written. */
  lines: string[];
}

export function emulate(output: string, columns: number, height: number): Screen {
  const rows: string[][] = [[]];
  const wrapped: boolean[] = [false];
  let r = 0;
  let c = 0;
  let pendingWrap = false;
  const ensure = (i: number) => {
    while (rows.length <= i) {
      rows.push([]);
      wrapped.push(false);
    }
  };
  const chars = Array.from(output);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === "\x1b" && chars[i + 1] === "[") {
      let j = i + 2;
      let params = "";
      while (j < chars.length && /[0-9;?]/.test(chars[j]!)) params += chars[j++]!;
      const final = chars[j]!;
      i = j;
      if (final === "F") {
        const top = Math.max(0, rows.length - height);
        r = Math.max(top, r - Number(params || "1"));
        c = 0;
        pendingWrap = false;
      } else if (final === "J") {
        rows[r] = rows[r]!.slice(0, c);
        rows.length = r + 1;
        wrapped.length = r + 1;
        wrapped[r] = false;
      }
      continue;
    }
    if (ch === "\r") {
      c = 0;
      pendingWrap = false;
    } else if (ch === "\n") {
      r++;
      ensure(r);
      pendingWrap = false;
    } else {
      if (pendingWrap) {
        wrapped[r] = true;
        r++;
        c = 0;
        ensure(r);
        rows[r] = [];
        pendingWrap = false;
      }
      rows[r]![c] = ch;
      if (c === columns - 1) pendingWrap = true;
      else c++;
    }
  }
  const text = rows.map((row) => Array.from(row, (x) => x ?? " ").join("").trimEnd());
  const lines: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    cur += wrapped[i] ? Array.from(rows[i]!, (x) => x ?? " ").join("") : text[i];
    if (!wrapped[i]) {
      lines.push(cur);
      cur = "";
    }
  }
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return { rows: text, lines };
}
