/**
 * The elements of a JSON array, as the text of each, read from the answer's bytes as they
 * arrive, without holding or parsing the whole array. MAAS lists machines without
 * pagination: at 100,000 machines a zone's list is hundreds of megabytes of JSON, and
 * reading it whole held the received chunks, their concatenation and the decoded string
 * (three copies) before parsing it held every machine's full object at once (about 20 KB
 * each). Splitting the bytes as they come lets a caller parse, validate and reduce one
 * machine at a time while the rest is still on the wire (docs/bench.md, issue 12).
 *
 * The split only finds where each top-level element ends (a comma or the closing
 * bracket outside any string, object or array); `JSON.parse` of each piece still judges
 * the JSON itself, so a malformed answer is refused either way. The scan works on UTF-8
 * bytes: every byte of a multi-byte character is ≥ 0x80, so no quote, bracket or comma
 * is ever found inside one.
 */

/** The text is not a JSON array whose elements can be told apart. */
export class JsonArrayError extends Error {
  readonly code = "JSON_ARRAY_MALFORMED";
}

/** The character codes (and UTF-8 bytes) the scans look for; src/maas/json-pick.ts uses them too. */
export const QUOTE = 34;
export const BACKSLASH = 92;
export const COMMA = 44;
export const OPEN_BRACE = 123;
export const OPEN_BRACKET = 91;
export const CLOSE_BRACE = 125;
export const CLOSE_BRACKET = 93;

type Where = "before" | "inside" | "after";

/**
 * Feed it the bytes of an answer (`push`, any chunking), then `end()`. Each complete
 * element's text goes to `onElement` as soon as its last byte has arrived. An answer
 * that does not start with `[` is not split: its bytes are kept and `end()` returns its
 * text, for the caller to judge as a whole (an error object, an HTML page).
 */
export class JsonArrayStream {
  private where: Where = "before";
  private notArray: Buffer[] | undefined;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The current element's bytes from earlier chunks. */
  private parts: Buffer[] = [];
  /** The current element has begun (a byte other than white space since the last comma). */
  private started = false;
  /** Commas seen between elements (a `]` right after one is a trailing comma). */
  private commas = 0;
  private elements = 0;

  private readonly onElement: (text: string) => void;

  constructor(onElement: (text: string) => void) {
    this.onElement = onElement;
  }

  push(chunk: Buffer): void {
    if (this.notArray !== undefined) {
      this.notArray.push(chunk);
      return;
    }
    const n = chunk.length;
    let i = 0;
    if (this.where === "before") {
      while (i < n && (chunk[i] as number) <= 32) i++;
      if (i === n) return;
      if (chunk[i] !== OPEN_BRACKET) {
        this.notArray = [chunk];
        return;
      }
      this.where = "inside";
      i++;
    }
    if (this.where === "after") {
      for (; i < n; i++) if ((chunk[i] as number) > 32) throw new JsonArrayError("text after the array");
      return;
    }
    let start = this.started ? 0 : -1;
    for (; i < n; i++) {
      if (this.inString) {
        i = this.stringEnd(chunk, i);
        continue;
      }
      const c = chunk[i] as number;
      if (c === QUOTE) {
        if (start < 0) start = i;
        this.inString = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (start < 0) start = i;
        this.depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (this.depth > 0) {
          this.depth--;
          continue;
        }
        if (c !== CLOSE_BRACKET) throw new JsonArrayError("unbalanced '}'");
        if (start >= 0) this.emit(chunk, start, i);
        else if (this.commas > 0) throw new JsonArrayError("a trailing comma");
        this.where = "after";
        for (let k = i + 1; k < n; k++) if ((chunk[k] as number) > 32) throw new JsonArrayError("text after the array");
        return;
      } else if (c === COMMA && this.depth === 0) {
        if (start < 0) throw new JsonArrayError("an empty element");
        this.emit(chunk, start, i);
        this.commas++;
        start = -1;
      } else if (c > 32 && start < 0) {
        start = i;
      }
    }
    this.started = start >= 0;
    if (this.started) this.parts.push(chunk.subarray(start));
  }

  /**
   * In a string from `i`: the index of its closing quote (the string then ends), or the
   * chunk's last index when it goes on into the next chunk. Jumps from quote to quote
   * (most of a machine's bytes are in strings); a quote is escaped when an odd number of
   * backslashes precedes it, counting those that ended the previous chunk (`escaped`).
   */
  private stringEnd(chunk: Buffer, i: number): number {
    const n = chunk.length;
    for (;;) {
      const j = chunk.indexOf(QUOTE, i);
      const stop = j < 0 ? n : j;
      let run = 0;
      while (stop - 1 - run >= i && chunk[stop - 1 - run] === BACKSLASH) run++;
      const odd = ((run + (run === stop - i && this.escaped ? 1 : 0)) & 1) === 1;
      if (j < 0) {
        this.escaped = odd;
        return n - 1;
      }
      this.escaped = false;
      if (!odd) {
        this.inString = false;
        return j;
      }
      i = j + 1;
      if (i === n) return n - 1;
    }
  }

  /** Checks that the array was complete; for an answer that was not an array, returns its text. */
  end(): { array: true; count: number } | { array: false; text: string } {
    if (this.notArray !== undefined) return { array: false, text: Buffer.concat(this.notArray).toString("utf8") };
    if (this.where === "before") return { array: false, text: "" };
    if (this.where !== "after") throw new JsonArrayError(this.inString ? "unterminated string" : "unterminated array");
    return { array: true, count: this.elements };
  }

  private emit(chunk: Buffer, start: number, end: number): void {
    let text: string;
    if (this.parts.length === 0) text = chunk.toString("utf8", start, end);
    else {
      this.parts.push(chunk.subarray(start, end));
      text = Buffer.concat(this.parts).toString("utf8");
      this.parts = [];
    }
    this.started = false;
    this.elements++;
    this.onElement(text);
  }
}

/** True when `text` starts (after white space) with `[`. */
export function looksLikeArray(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 32) return c === OPEN_BRACKET;
  }
  return false;
}

/** The text of each element of the JSON array `text`, in order. */
export function jsonArrayElements(text: string): string[] {
  const out: string[] = [];
  const s = new JsonArrayStream((t) => out.push(t));
  s.push(Buffer.from(text, "utf8"));
  if (!s.end().array) throw new JsonArrayError("not a JSON array");
  return out;
}
