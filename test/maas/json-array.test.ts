import { describe, expect, it } from "vitest";
import { JsonArrayError, JsonArrayStream, jsonArrayElements, looksLikeArray } from "../../src/maas/json-array.ts";

const split = (text: string) => [...jsonArrayElements(text)];

describe("jsonArrayElements", () => {
  it("yields each element's text, whatever it holds: strings with commas, brackets and escaped quotes, nested arrays and objects", () => {
    const items = [{ a: 'x\\",]}[{', b: [1, [2, { c: "d,e" }]] }, "plain", 3.5, null, true, [], {}, "é\u2028\\"];
    const text = ` [ ${items.map((i) => JSON.stringify(i)).join(" ,\n ")} ] `;
    const parts = split(text);
    expect(parts).toHaveLength(items.length);
    expect(parts.map((p) => JSON.parse(p) as unknown)).toEqual(items);
  });

  it("splits MAAS-sized lists the same as JSON.parse reads them", () => {
    const machines = Array.from({ length: 200 }, (_, i) => ({ system_id: `m${i}`, tag_names: ["a,b", `"q${i}"`], hardware_info: { "x]": `{${i}}` } }));
    const text = JSON.stringify(machines);
    expect(split(text).map((p) => JSON.parse(p) as unknown)).toEqual(JSON.parse(text));
  });

  it("an empty array has no elements", () => {
    expect(split("[]")).toEqual([]);
    expect(split(" [ \n ] ")).toEqual([]);
  });

  it.each([
    ["an object", '{"a":1}'],
    ["an unterminated array", '[{"a":1}'],
    ["an unterminated string", '["abc]'],
    ["an empty element", "[1,,2]"],
    ["a trailing comma", "[1,2,]"],
    ["text after the array", "[1] x"],
    ["an unbalanced brace", "[1}"],
  ])("refuses %s", (_what, text) => {
    expect(() => split(text)).toThrow(JsonArrayError);
  });

  it("looksLikeArray tells an array answer from anything else", () => {
    expect(looksLikeArray(" \n[1]")).toBe(true);
    expect(looksLikeArray('{"a":[1]}')).toBe(false);
    expect(looksLikeArray("")).toBe(false);
  });
});

describe("JsonArrayStream", () => {
  /** The elements found when `text`'s bytes arrive cut at each of `cuts`. */
  const streamed = (text: string, cuts: number[]) => {
    const bytes = Buffer.from(text, "utf8");
    const out: string[] = [];
    const s = new JsonArrayStream((t) => out.push(t));
    let at = 0;
    for (const c of [...cuts, bytes.length]) {
      s.push(bytes.subarray(at, c));
      at = c;
    }
    return { out, end: s.end() };
  };

  it("finds the same elements wherever the bytes are cut, inside strings, escapes and multi-byte characters included", () => {
    const items = [{ a: 'x\\",]}[{', b: [1, [2, { c: "d,e" }]] }, "plain", 3.5, null, true, [], {}, "é\u2028\\", { "k\\\"": "ü€𝄞" }];
    const text = ` [ ${items.map((i) => JSON.stringify(i)).join(" ,\n ")} ] `;
    const n = Buffer.byteLength(text);
    for (let cut = 0; cut <= n; cut++) {
      const { out, end } = streamed(text, [cut]);
      expect(out.map((p) => JSON.parse(p) as unknown)).toEqual(items);
      expect(end).toEqual({ array: true, count: items.length });
    }
    // One byte at a time.
    const { out } = streamed(text, Array.from({ length: n }, (_, i) => i));
    expect(out.map((p) => JSON.parse(p) as unknown)).toEqual(items);
  });

  it("hands each element over as soon as its bytes are in, before the rest of the array", () => {
    const out: string[] = [];
    const s = new JsonArrayStream((t) => out.push(t));
    s.push(Buffer.from('[{"id":1},{"id"'));
    expect(out).toEqual(['{"id":1}']);
    s.push(Buffer.from(':2}]'));
    expect(out).toEqual(['{"id":1}', '{"id":2}']);
  });

  it("keeps an answer that is not an array whole, for the caller to judge", () => {
    const { out, end } = streamed('  {"detail": "nope"}', [3, 8]);
    expect(out).toEqual([]);
    expect(end).toEqual({ array: false, text: '  {"detail": "nope"}' });
  });

  it.each([
    ["an unterminated array", '[{"a":1}'],
    ["an unterminated string", '["abc]'],
    ["a trailing comma", "[1,2,]"],
    ["text after the array", "[1] x"],
  ])("refuses %s when cut anywhere", (_what, text) => {
    for (let cut = 0; cut <= text.length; cut++) expect(() => streamed(text, [cut])).toThrow(JsonArrayError);
  });
});
