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
 * the JSON itself, so a malformed answer is refused either way. Each chunk is decoded
 * to text as it arrives (a UTF-8 character cut between two chunks is completed by the
 * next one) and the text is scanned.
 */

import { StringDecoder } from "node:string_decoder";

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
  private notArray: string[] | undefined;
  /** Decodes the bytes chunk by chunk, a character cut between two chunks included. */
  private readonly decoder = new StringDecoder("utf8");
  private depth = 0;
  private inString = false;
  /** The text so far ended in an odd number of backslashes inside a string: its next character is escaped. */
  private escaped = false;
  /** The current element's text from earlier chunks. */
  private parts: string[] = [];
  /** The current element has begun (a character other than white space since the last comma). */
  private started = false;
  /** Commas seen between elements (a `]` right after one is a trailing comma). */
  private commas = 0;
  private elements = 0;
  private readonly onElement: (text: string) => void;

  constructor(onElement: (text: string) => void) {
    this.onElement = onElement;
  }

  push(chunk: Buffer): void {
    // Scanned as text: one decoding per chunk, then the engine's own string search,
    // which is much faster than a JavaScript loop over bytes or a Buffer.indexOf per string.
    const text = this.decoder.write(chunk);
    if (this.notArray !== undefined) {
      this.notArray.push(text);
      return;
    }
    const n = text.length;
    let i = 0;
    if (this.where === "before") {
      while (i < n && text.charCodeAt(i) <= 32) i++;
      if (i === n) return;
      if (text.charCodeAt(i) !== OPEN_BRACKET) {
        this.notArray = [text];
        return;
      }
      this.where = "inside";
      i++;
    }
    if (this.where === "after") {
      for (; i < n; i++) if (text.charCodeAt(i) > 32) throw new JsonArrayError("text after the array");
      return;
    }
    let start = this.started ? 0 : -1;
    // The depth in a local while scanning (the hot loop); written back when the chunk is done.
    let depth = this.depth;
    // A string left open by the chunk before.
    if (this.inString && i < n) i = this.stringEnd(text, i) + 1;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        if (start < 0) start = i;
        this.inString = true;
        i = this.stringEnd(text, i + 1);
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (start < 0) start = i;
        depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth > 0) {
          depth--;
          continue;
        }
        if (c !== CLOSE_BRACKET) throw new JsonArrayError("unbalanced '}'");
        if (start >= 0) this.emit(text, start, i);
        else if (this.commas > 0) throw new JsonArrayError("a trailing comma");
        this.where = "after";
        for (let k = i + 1; k < n; k++) if (text.charCodeAt(k) > 32) throw new JsonArrayError("text after the array");
        return;
      } else if (c === COMMA && depth === 0) {
        if (start < 0) throw new JsonArrayError("an empty element");
        this.emit(text, start, i);
        this.commas++;
        start = -1;
      } else if (c > 32 && start < 0) {
        start = i;
      }
    }
    this.depth = depth;
    this.started = start >= 0;
    if (this.started) this.parts.push(start === 0 ? text : text.slice(start));
  }

  /**
   * In a string from `i`: the index of its closing quote (the string then ends), or the
   * text's last index when it goes on into the next chunk. Jumps from quote to quote
   * (most of a machine's text is in strings); a quote is escaped when an odd number of
   * backslashes precedes it, counting those that ended the previous chunk (`escaped`).
   */
  private stringEnd(text: string, i: number): number {
    const n = text.length;
    for (;;) {
      const j = text.indexOf('"', i);
      const stop = j < 0 ? n : j;
      let run = 0;
      while (stop - 1 - run >= i && text.charCodeAt(stop - 1 - run) === BACKSLASH) run++;
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
    const rest = this.decoder.end();
    if (this.notArray !== undefined) return { array: false, text: this.notArray.join("") + rest };
    if (this.where === "before") return { array: false, text: rest };
    if (rest.trim() !== "") {
      if (this.where === "after") throw new JsonArrayError("text after the array");
      throw new JsonArrayError("a cut character");
    }
    if (this.where !== "after") throw new JsonArrayError(this.inString ? "unterminated string" : "unterminated array");
    return { array: true, count: this.elements };
  }

  private emit(text: string, start: number, end: number): void {
    let element: string;
    if (this.parts.length === 0) element = text.slice(start, end);
    else {
      this.parts.push(text.slice(start, end));
      element = this.parts.join("");
      this.parts = [];
    }
    this.started = false;
    this.elements++;
    this.onElement(element);
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
