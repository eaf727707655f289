/**
 * The simulated Juju behind real SSH on a simulated fleet (as `metalwave sim --hosts` and
 * the embedded region run it), in strict mode: juju over SSH bootstraps a controller on a
 * deployed machine, whose address then serves the controller API to jujulib.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAndLogin } from "@canonical/jujulib";
import ClientV7 from "@canonical/jujulib/dist/api/facades/client/ClientV7.js";
import { startTestFleet, type TestFleet } from "./helpers.ts";

describe("simulated Juju on a simulated fleet over SSH", () => {
  let f: TestFleet;
  beforeAll(async () => {
    f = await startTestFleet([{ prefix: "ctl", count: 2, tags: ["juju-controller"] }], { juju: { timings: { machineStartMs: 0, unitSettleMs: 0, haVoteMs: 0 } } });
    await f.deploy(f.ids["ctl"]!);
  });
  afterAll(async () => f.close());

  it("bootstraps over SSH, adds the second machine with the real ids, and serves the API on the controller's address", async () => {
    const [first, second] = f.ids["ctl"]!.map((sid) => f.target(sid));
    const ssh = f.ssh();
    await ssh.exec(first!, "snap install juju --channel 3.6/stable", { sudo: true });
    const boot = await ssh.exec(first!, `juju bootstrap manual/ubuntu@${first!.address} mw`);
    expect(boot.stderr).toContain('Bootstrap complete, controller "mw" is now available');
    const added = await ssh.exec(first!, `juju add-machine -m mw:controller ssh:ubuntu@${second!.address}`);
    expect(added.stderr).toBe("created machine 1\n");
    const machines = JSON.parse((await ssh.exec(first!, "juju machines -m mw:controller --format json")).stdout) as { machines: Record<string, { "instance-id": string; "dns-name": string }> };
    expect(Object.values(machines.machines).map((m) => [m["instance-id"], m["dns-name"]])).toEqual([
      ["manual:", first!.address],
      [`manual:${second!.address}`, second!.address],
    ]);

    // The machines' subnets are MAAS's (the region's network model): spaces are defined from them.
    const cidr = f.hosts.host(first!.systemId)?.interfaces[0]?.cidr ?? "";
    expect([...f.sim.region.net.subnets.values()].map((x) => x.cidr)).toContain(cidr);
    const spaces = JSON.parse((await ssh.exec(first!, "juju spaces -m mw:controller --format json")).stdout) as { spaces: { name: string; subnets: Record<string, unknown> }[] };
    expect(Object.keys(spaces.spaces.find((x) => x.name === "alpha")?.subnets ?? {})).toContain(cidr);
    expect((await ssh.exec(first!, `juju add-space -m mw:controller management ${cidr}`)).stdout).toBe(`added space "management" with subnets ${cidr}\n`);
    const show = JSON.parse((await ssh.exec(first!, "juju show-controller mw --show-password --format json")).stdout) as Record<string, { details: { "api-endpoints": string[] }; account: { password: string } }>;
    const [endpoint] = show["mw"]?.details["api-endpoints"] ?? [];
    expect(endpoint).toBe(`${first!.address}:${f.hosts.jujuApi.endpoint(first!.address)?.port ?? -1}`);
    const uuid = f.hosts.cloud.jujuWorld.controller("mw").models.get("controller")?.uuid ?? "";
    const { conn, logout } = await connectAndLogin(`ws://${endpoint ?? ""}/model/${uuid}/api`, { facades: [ClientV7], wsclass: WebSocket, closeCallback: () => undefined }, { username: "admin", password: show["mw"]?.account.password ?? "" }, "3.6.4");
    try {
      const st = (await conn?.facades.client.fullStatus({ patterns: [] })) as { machines: Record<string, { "instance-id": string }> };
      expect(Object.keys(st.machines)).toEqual(["0", "1"]);
    } finally {
      logout();
    }
  });
});
