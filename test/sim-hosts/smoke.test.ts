import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestFleet } from "./helpers.ts";
import type { TestFleet } from "./helpers.ts";

describe("smoke", () => {
  let f: TestFleet;
  beforeAll(async () => {
    f = await startTestFleet([{ prefix: "node", count: 2, tags: ["compute"] }]);
  });
  afterAll(async () => f.close());
  it("runs hostname over ssh on a deployed machine", async () => {
    const sid = f.ids["node"]![0]!;
    await f.deploy([sid]);
    const ssh = f.ssh();
    const r = await ssh.exec(f.target(sid), "hostname");
    expect(r).toEqual({ exitCode: 0, stdout: "node-0001\n", stderr: "" });
    const r2 = await ssh.exec(f.target(sid), "snap install juju --channel 3.6/stable", { sudo: true });
    expect(r2.stdout).toContain("juju (3.6/stable)");
  });
});
