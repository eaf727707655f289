import { describe, expect, it } from "vitest";
import { JsonArrayError, jsonArrayElements, looksLikeArray } from "../../src/maas/json-array.ts";

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
