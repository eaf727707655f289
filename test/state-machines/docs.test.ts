/**
 * docs/pipeline.md must show every state of both machines: a state added in code and
 * not in the diagrams fails here. The rollout's diagram (flat) must also show exactly the
 * machine's transitions: an arrow drawn that the machine lacks, or one it has and the
 * diagram does not draw, fails.
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
  type: string;
  states: Record<string, StateNodeLike>;
  path: readonly string[];
  transitions: Map<string, { target?: readonly StateNodeLike[] | undefined }[]>;
  always?: { target?: readonly StateNodeLike[] | undefined }[] | undefined;
}

/**
 * Every transition between top-level states, from the machine's own definition: for each
 * top-level state, the transitions of the state and of every state nested in it (onDone,
 * delays, events, always), with the top-level state their target lies in; and the root's
 * (taken from every state not final, for an event the state does not handle itself).
 */
function phaseEdges(machine: AnyStateMachine): Set<string> {
  const edges = new Set<string>();
  const root = machine.root as unknown as StateNodeLike;
  const nested = (n: StateNodeLike): StateNodeLike[] => [n, ...Object.values(n.states).flatMap(nested)];
  for (const node of Object.values(root.states)) {
    const inside = nested(node);
    const handled = new Set(inside.flatMap((n) => [...n.transitions.keys()]));
    const fromRoot = node.type === "final" ? [] : [...root.transitions.entries()].filter(([e]) => !handled.has(e)).flatMap(([, ts]) => ts);
    const all = [...inside.flatMap((n) => [...[...n.transitions.values()].flat(), ...(n.always ?? [])]), ...fromRoot];
    for (const t of all) {
      for (const target of t.target ?? []) {
        const phase = target.path[0];
        if (phase !== undefined && phase !== node.key) edges.add(`${node.key} --> ${phase}`);
      }
    }
  }
  return edges;
}

/**
 * The top-level states' transitions to another state ("a --> b"), from the machine's own
 * definition: each state's own, and the root's (taken from every state not final).
 */
function topLevelEdges(machine: AnyStateMachine): Set<string> {
  const edges = new Set<string>();
  const root = machine.root as unknown as StateNodeLike;
  const fromRoot = [...root.transitions.values()].flat();
  for (const node of Object.values(root.states)) {
    const all = [...[...node.transitions.values()].flat(), ...(node.always ?? []), ...(node.type === "final" ? [] : fromRoot)];
    for (const t of all) for (const target of t.target ?? []) if (target.key !== node.key) edges.add(`${node.key} --> ${target.key}`);
  }
  return edges;
}

/** The arrows between states a Mermaid diagram draws, without [*] and without self-loops. */
function drawnEdges(mermaid: string): Set<string> {
  const edges = new Set<string>();
  for (const m of mermaid.matchAll(/^\s*(\w+)\s*-->\s*(\w+)/gm)) if (m[1] !== m[2]) edges.add(`${m[1]} --> ${m[2]}`);
  return edges;
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

  it("the rollout's diagram draws exactly the machine's transitions", () => {
    const all = diagrams("rollout").join("\n");
    expect([...drawnEdges(all)].sort()).toEqual([...topLevelEdges(rolloutMachine)].sort());
    // The check sees what the machine does: running goes on to paused, completed and aborted.
    expect([...topLevelEdges(rolloutMachine)].filter((e) => e.startsWith("running ")).sort()).toEqual(["running --> aborted", "running --> completed", "running --> paused"]);
  });
});

describe("docs/pipeline.md host diagram", () => {
  it("the host's first diagram draws exactly the machine's top-level transitions", () => {
    const [top] = diagrams("host");
    expect([...drawnEdges(top as string)].sort()).toEqual([...phaseEdges(hostMachine)].sort());
  });
});
