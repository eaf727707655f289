/**
 * docs/architecture.md shows the rooms as they are: every file and folder it names by its
 * path from the repository's root (`src/…`, `state-machines/…`, `test/…`, `docs/…`,
 * `deploy/…`) exists, and every folder under src/ has a row in its Rooms table.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DOC = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");

describe("docs/architecture.md", () => {
  it("names only files and folders that exist", () => {
    const named = [...DOC.matchAll(/\b((?:src|state-machines|test|docs|deploy)\/[A-Za-z0-9_./-]*[A-Za-z0-9_/])/g)].map((m) => (m[1] as string).replace(/\/$/, ""));
    // The page names many: an empty match cannot pass by itself.
    expect(new Set(named).size).toBeGreaterThan(40);
    expect([...new Set(named)].filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it("has a room for every folder under src/", () => {
    const rooms = DOC.slice(DOC.indexOf("## Rooms"), DOC.indexOf("## Decisions"));
    const folders = readdirSync(join(ROOT, "src")).filter((n) => statSync(join(ROOT, "src", n)).isDirectory());
    expect(folders.filter((f) => !rooms.includes(`src/${f}`))).toEqual([]);
  });
});
