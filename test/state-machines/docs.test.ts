/**
 * docs/pipeline.md must show every state of both machines: a state added in code and
 * not in the diagrams fails here.
 */
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import type { AnyStateMachine } from "xstate";
import { hostMachine, HOST_PHASES } from "../../state-machines/host.ts";
import { rolloutMachine } from "../../state-machines/rollout.ts";

const doc = readFileSync(new URL("../../docs/pipeline.md", import.meta.url), "utf8");

/** The Mermaid blocks that follow a `<!-- diagram: name -->` marker. */
function diagrams(name: string): string[] {
  const re = new RegExp(`<!-- diagram: ${name} -->\\s*\`\`\`mermaid\\n([\\s\\S]*?)\`\`\``, "g");
  return [...doc.matchAll(re)].map((m) => m[1] as string);
}

interface StateNodeLike {
  key: string;
  states: Record<string, StateNodeLike>;
}

function stateKeys(machine: AnyStateMachine): Set<string> {
  const keys = new Set<string>();
  const walk = (node: StateNodeLike) => {
    for (const child of Object.values(node.states)) {
      keys.add(child.key);
      walk(child);
    }
  };
  walk(machine.root as unknown as StateNodeLike);
  return keys;
}

const word = (text: string, w: string) => new RegExp(`(^|[^A-Za-z])${w}([^A-Za-z]|$)`).test(text);

describe("docs/pipeline.md diagrams", () => {
  it("the host's first diagram names every top-level state", () => {
    const [top] = diagrams("host");
    expect(top).toBeDefined();
    const missing = HOST_PHASES.filter((p) => !word(top as string, p));
    expect(missing).toEqual([]);
  });

  it("the host's diagrams name every state and substate", () => {
    const all = diagrams("host").join("\n");
    const missing = [...stateKeys(hostMachine)].filter((k) => !word(all, k));
    expect(missing).toEqual([]);
  });

  it("the rollout's diagram names every state", () => {
    const all = diagrams("rollout").join("\n");
    const keys = [...stateKeys(rolloutMachine)];
    expect(keys.sort()).toEqual(["aborted", "completed", "paused", "running"]);
    expect(keys.filter((k) => !word(all, k))).toEqual([]);
  });
});
