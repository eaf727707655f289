#!/usr/bin/env node
// The `metalwave` command. In a clone, the TypeScript sources, which Node 24 runs directly
// (so `npx metalwave` never runs a stale build); in the installed package, which ships no
// sources, the built JavaScript in dist/ (`npm run build`, run by `npm pack`): Node refuses
// to strip types under node_modules.
import { existsSync } from "node:fs";

const sources = new URL("../src/cli/main.ts", import.meta.url);
const entry = existsSync(sources) ? sources : new URL("../dist/src/cli/main.js", import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
