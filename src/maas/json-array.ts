/**
 * The elements of a JSON array, as the text of each, without parsing the whole array.
 * MAAS lists machines without pagination: at 100,000 machines a zone's list is hundreds
 * of megabytes of JSON, and parsing it whole holds every machine's full object at once
 * (about 20 KB each) before anything can be reduced. Splitting the text first lets a
 * caller parse, validate and reduce one machine at a time (docs/bench.md, issue 12).
 *
 * The split only finds where each top-level element ends (a comma or the closing
 * bracket outside any string, object or array); `JSON.parse` of each piece still judges
 * the JSON itself, so a malformed answer is refused either way.
 */

/** The text is not a JSON array whose elements can be told apart. */
export class JsonArrayError extends Error {
  readonly code = "JSON_ARRAY_MALFORMED";
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;
const CLOSE_BRACE = 125;
const CLOSE_BRACKET = 93;

/** True when `text` starts (after white space) with `[`. */
export function looksLikeArray(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 32) return c === OPEN_BRACKET;
  }
  return false;
}

/** Yields the text of each element of the JSON array `text`, in order. */
export function* jsonArrayElements(text: string): Generator<string, void, undefined> {
  const n = text.length;
  let i = 0;
  while (i < n && text.charCodeAt(i) <= 32) i++;
  if (text.charCodeAt(i) !== OPEN_BRACKET) throw new JsonArrayError("not a JSON array");
  i++;
  let depth = 0;
  let start = -1;
  let count = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (start < 0) start = i;
      // To the closing quote: one not preceded by an odd number of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) throw new JsonArrayError("unterminated string");
        let b = 0;
        while (text.charCodeAt(j - 1 - b) === BACKSLASH) b++;
        if ((b & 1) === 0) break;
      }
      i = j;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (start < 0) start = i;
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth > 0) {
        depth--;
        continue;
      }
      if (c !== CLOSE_BRACKET) throw new JsonArrayError("unbalanced '}'");
      if (start >= 0) yield text.slice(start, i);
      else if (count > 0) throw new JsonArrayError("a trailing comma");
      for (let k = i + 1; k < n; k++) if (text.charCodeAt(k) > 32) throw new JsonArrayError("text after the array");
      return;
    } else if (c === COMMA && depth === 0) {
      if (start < 0) throw new JsonArrayError("an empty element");
      yield text.slice(start, i);
      count++;
      start = -1;
    } else if (c > 32 && start < 0) {
      start = i;
    }
  }
  throw new JsonArrayError("unterminated array");
}
