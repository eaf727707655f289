import { describe, expect, it } from "vitest";
import { LAYERS, loadLayerTemplate, renderCommand, renderExpect, replicasFor } from "../../src/layers/index.ts";

describe("layer templates", () => {
  it("loads every shipped template with the steps its engine needs", () => {
    for (const l of LAYERS) expect(loadLayerTemplate(l).layer).toBe(l);
  });

  it("quotes values for sh so none can change the command", () => {
    expect(renderCommand("t", "k8s join-cluster {{token}}", { token: "abc=" })).toBe("k8s join-cluster abc=");
    expect(renderCommand("t", "echo {{v}}", { v: "a'b; rm -rf /" })).toBe(`echo 'a'\\''b; rm -rf /'`);
    expect(() => renderCommand("t", "echo {{missing}}", {})).toThrow(/no value for \{\{missing\}\}/);
  });

  it("escapes values in expect patterns", () => {
    expect(renderExpect("t", "^{{u}}$", { u: "http://a.b/x?y" }).test("http://a.b/x?y")).toBe(true);
    expect(renderExpect("t", "^{{u}}$", { u: "a.b" }).test("axb")).toBe(false);
  });

  it("refuses a template missing a step the engine calls", () => {
    expect(() => loadLayerTemplate("juju", "steps:\n  status: { run: x }\n")).toThrow(/step 'models' is missing/);
  });

  it("sizes control-plane replicas from the number of control machines (the reference's rule: large from ten)", () => {
    expect([1, 2, 3, 5, 9, 10, 20].map((n) => [replicasFor("database", n), replicasFor("api", n), replicasFor("ingress", n), replicasFor("single", n)])).toEqual([
      [1, 1, 1, 1],
      [1, 2, 2, 1],
      [3, 3, 3, 1],
      [3, 3, 3, 1],
      [3, 3, 3, 1],
      [3, 7, 3, 1],
      [3, 7, 3, 1],
    ]);
  });
});
