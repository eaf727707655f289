/**
 * Some top-level fields of a JSON object, read from its text without parsing the rest.
 * MAAS answers commission, allocate, deploy and `id=` filtered lists with whole machine
 * objects (10–12 KB of JSON: interfaces, block devices, hardware info) of which the
 * rollout reads the state: status, owner, power and a few more (MachineStateSchema).
 * `JSON.parse` of the whole object, then dropping nearly all of it, was the largest part
 * of reading MAAS's answers in a 10,000-machine rollout (docs/bench.md, issue 12).
 *
 * The scan walks the object's top level: each key is read, a wanted key's value is given
 * to `JSON.parse`, any other value is skipped by finding its end (strings by their closing
 * quote, objects and arrays by their brackets), and the scan stops once every wanted key
 * has been read. The values read are judged by `JSON.parse` and then by the caller's
 * schema; what is skipped is only checked for its brackets and strings. A key that
 * appears twice is read where it first appears (MAAS never repeats a key).
 */

import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COMMA, OPEN_BRACE, OPEN_BRACKET, QUOTE } from "./json-array.ts";

/** The text is not a JSON object whose top level can be read. */
export class JsonPickError extends Error {
  readonly code = "JSON_PICK_MALFORMED";
}

const COLON = 58;

function skipWs(text: string, i: number): number {
  const n = text.length;
  while (i < n && text.charCodeAt(i) <= 32) i++;
  return i;
}

/** The index of the quote closing the string that opens at `i`. */
function stringEnd(text: string, i: number): number {
  let j = i;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) throw new JsonPickError("unterminated string");
    let b = 0;
    while (text.charCodeAt(j - 1 - b) === BACKSLASH) b++;
    if ((b & 1) === 0) return j;
  }
}

/** The index just past the value that starts at `i`. */
function valueEnd(text: string, i: number): number {
  const n = text.length;
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i) + 1;
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < n; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) j = stringEnd(text, j);
      else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new JsonPickError("unterminated object or array");
  }
  // A number, true, false or null: up to the next delimiter.
  let j = i;
  while (j < n) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d <= 32) break;
    j++;
  }
  if (j === i) throw new JsonPickError("a missing value");
  return j;
}

/**
 * The fields of `keys` found at the top level of the JSON object `text`, parsed; absent
 * keys are absent. Undefined when `text` is not an object at all (for the caller to judge
 * as a whole); throws JsonPickError when it is a malformed one.
 */
export function pickFields(text: string, keys: ReadonlySet<string>): Record<string, unknown> | undefined {
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  // No prototype: a key such as "constructor" is a key like any other.
  const out = Object.create(null) as Record<string, unknown>;
  let found = 0;
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return out;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) throw new JsonPickError("a key that is not a string");
    const keyEnd = stringEnd(text, i);
    let key = text.slice(i + 1, keyEnd);
    if (key.includes("\\")) key = JSON.parse(text.slice(i, keyEnd + 1)) as string;
    i = skipWs(text, keyEnd + 1);
    if (text.charCodeAt(i) !== COLON) throw new JsonPickError("a key without ':'");
    i = skipWs(text, i + 1);
    const end = valueEnd(text, i);
    if (keys.has(key) && out[key] === undefined) {
      out[key] = JSON.parse(text.slice(i, end)) as unknown;
      if (++found === keys.size) return out;
    }
    i = skipWs(text, end);
    const c = text.charCodeAt(i);
    if (c === CLOSE_BRACE) return out;
    if (c !== COMMA) throw new JsonPickError("a value not followed by ',' or '}'");
    i = skipWs(text, i + 1);
  }
}
