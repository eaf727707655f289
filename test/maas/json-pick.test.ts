import { describe, expect, it } from "vitest";
import { JsonPickError, pickFields } from "../../src/maas/json-pick.ts";
import { machineJson } from "./helpers.ts";

const keys = (...k: string[]) => new Set(k);

describe("pickFields", () => {
  it("reads the wanted top-level fields of a whole machine as JSON.parse would", () => {
    const m = machineJson({ status_message: 'say "hi", {ok}', owner: null, locked: true });
    const text = JSON.stringify(m);
    const want = ["system_id", "status", "status_message", "owner", "locked", "power_state", "zone", "interface_set"];
    const picked = pickFields(text, new Set(want));
    const full = JSON.parse(text) as Record<string, unknown>;
    expect(picked).toEqual(Object.fromEntries(want.map((k) => [k, full[k]])));
  });

  it("skips values of every kind, nested and with escapes, to reach a later key", () => {
    const o = { a: { b: [1, { c: '}]"\\' }], d: "x" }, e: [[], {}], f: -1.5e3, g: true, h: null, "q\"k": 1, want: { ok: 1 } };
    expect(pickFields(` ${JSON.stringify(o, null, 2)} `, keys("want", "q\"k"))).toEqual({ want: { ok: 1 }, 'q"k': 1 });
  });

  it("leaves absent keys absent, and treats prototype names as plain keys", () => {
    expect(pickFields('{"a":1}', keys("a", "b"))).toEqual({ a: 1 });
    expect(Object.keys(pickFields('{"constructor":2,"toString":3}', keys("constructor", "toString")) ?? {})).toEqual(["constructor", "toString"]);
    expect(pickFields("{}", keys("a"))).toEqual({});
  });

  it("answers undefined for text that is not an object at all", () => {
    expect(pickFields("<html>login</html>", keys("a"))).toBeUndefined();
    expect(pickFields('["a"]', keys("a"))).toBeUndefined();
  });

  it.each([
    ["an unterminated string", '{"a":"x'],
    ["a key without a colon", '{"a" 1}'],
    ["a missing value", '{"a":,"b":1}'],
    ["an unterminated object", '{"x":{"y":1,"a":1'],
    ["garbage between fields", '{"x":1 2,"a":1}'],
  ])("refuses %s before the wanted field", (_what, text) => {
    expect(() => pickFields(text, keys("a"))).toThrow(JsonPickError);
  });

  it("a malformed wanted value is refused by JSON.parse", () => {
    expect(() => pickFields('{"a":tru,"b":1}', keys("a"))).toThrow(SyntaxError);
  });
});
