// The describe document (maas-network-storage.md §1), compared field for field with a real
// region's (../shared/reference/maas-examples/describe-api22.json, read at run time) for
// every handler the simulator serves: names, params, paths, action methods, ops, restful.
import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { SimHandle } from "../../src/sim/index.ts";
import { manualSim } from "./helpers.ts";

const EXAMPLE = new URL("../../../shared/reference/maas-examples/describe-api22.json", import.meta.url);

interface Action {
  method: string;
  name: string;
  op: string | null;
  restful: boolean;
  doc: string | null;
}
interface HandlerDoc {
  name: string;
  doc: string;
  params: string[];
  path: string;
  uri: string;
  actions: Action[];
}
interface Resource {
  name: string;
  anon: HandlerDoc | null;
  auth: HandlerDoc | null;
}

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("GET describe/", () => {
  it.skipIf(!existsSync(EXAMPLE))("is anonymous JSON with MAAS's structure, handler names, params, paths and actions", async () => {
    const real = JSON.parse(readFileSync(EXAMPLE, "utf8")) as { resources: Resource[] };
    const r = await manualSim();
    sim = r.sim;
    const res = await r.maas.call("GET", "describe/", { auth: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const ours = res.json as { doc: string; hash: string; resources: Resource[]; handlers: HandlerDoc[] };
    expect(ours.doc).toBe("MAAS API");
    expect(ours.hash).toMatch(/^[0-9a-f]{40}$/);
    expect(res.headers.get("x-maas-api-hash")).toBe(ours.hash);
    expect(ours.resources.map((x) => x.name)).toEqual([...ours.resources.map((x) => x.name)].sort());
    const realByName = new Map(real.resources.map((x) => [x.name, x]));
    let compared = 0;
    for (const mine of ours.resources) {
      expect(Object.keys(mine).sort()).toEqual(["anon", "auth", "name"]);
      const theirs = realByName.get(mine.name);
      if (theirs === undefined) continue; // added after MAAS 2.2 (resource pools)
      for (const side of ["anon", "auth"] as const) {
        const a = mine[side];
        const b = theirs[side];
        if (a === null) continue;
        expect(b, `${mine.name}.${side}`).not.toBeNull();
        if (b === null) continue;
        expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
        expect({ name: a.name, params: a.params, path: a.path }).toEqual({ name: b.name, params: b.params, path: b.path });
        expect(typeof a.doc).toBe(typeof b.doc);
        expect(a.uri).toBe(`${new URL(r.sim.url).origin}${a.path}`);
        expect(a.actions.map((x) => x.name)).toEqual([...a.actions.map((x) => x.name)].sort());
        for (const act of a.actions) {
          expect(Object.keys(act).sort()).toEqual(["doc", "method", "name", "op", "restful"]);
          const same = b.actions.find((x) => x.name === act.name);
          // Actions MAAS added after 2.2 (set_workload_annotations, restore_*…) have no counterpart.
          if (same) expect({ ...act, doc: typeof act.doc }, `${a.name}.${act.name}`).toEqual({ ...same, doc: typeof same.doc });
        }
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(20);
    // The backward-compatible alias: anon handlers, then auth ones.
    expect(ours.handlers.map((h) => h.name)).toEqual([...ours.resources.flatMap((x) => (x.anon ? [x.anon.name] : [])), ...ours.resources.flatMap((x) => (x.auth ? [x.auth.name] : []))]);
  });
});
