/**
 * The CLI's stderr. On a terminal it keeps a live block (the progress display) at the
 * bottom and writes finished lines (logs, notices) above it: the block is erased by the
 * number of screen rows it takes at the terminal's current width, the lines are written,
 * and the block is drawn again, fitted to the width (wrapped at word boundaries, so the
 * terminal never wraps it on its own) in one write. Off a terminal there is no block:
 * lines are written as they come.
 */

export interface Terminal {
  readonly tty: boolean;
  /** Columns of the terminal (80 off a terminal). */
  columns(): number;
  /** A finished line (or several), above the live block. */
  line(text: string): void;
  /** Replaces the live block (a terminal only). */
  block(lines: readonly string[]): void;
  /** Leaves the block as drawn; later lines go below it. */
  release(): void;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Columns a string takes: ANSI sequences take none; every code point one (our output has no wide characters). */
export function displayWidth(s: string): number {
  return Array.from(s.replace(ANSI, "")).length;
}

/** Screen rows `line` takes at `columns` (a terminal wraps what is longer). */
export function rowsOf(line: string, columns: number): number {
  return Math.max(1, Math.ceil(displayWidth(line) / Math.max(1, columns)));
}

/**
 * Wraps a plain line to at most `width` columns, at spaces where it can (a word longer
 * than the width is cut); continuation lines are indented by `indent` spaces.
 */
export function fitLine(line: string, width: number, indent = 2): string[] {
  const w = Math.max(indent + 8, width);
  if (displayWidth(line) <= w) return [line];
  const out: string[] = [];
  let cur = "";
  const pad = " ".repeat(indent);
  for (const word of line.split(" ")) {
    const room = w - displayWidth(cur);
    const sep = cur === "" || cur === pad ? "" : " ";
    if (displayWidth(word) + sep.length <= room) {
      cur += sep + word;
      continue;
    }
    if (cur.trim() !== "") out.push(cur);
    let rest = word;
    cur = out.length ? pad : "";
    while (displayWidth(cur) + displayWidth(rest) > w) {
      const take = w - displayWidth(cur);
      out.push(cur + Array.from(rest).slice(0, take).join(""));
      rest = Array.from(rest).slice(take).join("");
      cur = pad;
    }
    cur += rest;
  }
  if (cur.trim() !== "") out.push(cur);
  return out;
}

export function createTerminal(stream: NodeJS.WriteStream): Terminal {
  const tty = stream.isTTY === true;
  const columns = () => (tty && stream.columns > 0 ? stream.columns : 80);
  /** The block as drawn (each line already fitted to the width it was drawn at). */
  let drawn: string[] = [];
  let live = true;
  const erase = (): string => {
    if (drawn.length === 0) return "";
    // Rows at the current width: a terminal that reflows on resize re-wraps what it holds.
    const rows = drawn.reduce((n, l) => n + rowsOf(l, columns()), 0);
    drawn = [];
    return `\x1b[${rows}F\x1b[J`;
  };
  const render = (lines: readonly string[]): string => {
    // One column short of the edge: a line that ends exactly at the edge leaves some
    // terminals' cursor pending a wrap.
    const width = columns() - 1;
    drawn = lines.flatMap((l) => fitLine(l, width));
    return drawn.length ? `${drawn.join("\n")}\n` : "";
  };
  let current: readonly string[] = [];
  const onResize = () => {
    if (live && drawn.length) stream.write(erase() + render(current));
  };
  if (tty) stream.on("resize", onResize);
  return {
    tty,
    columns,
    line(text) {
      const t = text.endsWith("\n") ? text : `${text}\n`;
      if (!tty || !live || drawn.length === 0) {
        stream.write(t);
        return;
      }
      stream.write(erase() + t + render(current));
    },
    block(lines) {
      if (!tty || !live) return;
      current = lines;
      stream.write(erase() + render(lines));
    },
    release() {
      live = false;
      drawn = [];
      if (tty) stream.off("resize", onResize);
    },
  };
}
