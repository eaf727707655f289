/**
 * The simulated Juju's controller traps (juju-layering.md §4e, §6; issue 15): each wrong
 * sequence fails here as on a real controller, and the right one passes.
 */
import { describe, expect, it } from "vitest";
import { jujuWorld } from "./juju-world.ts";

interface ShowController {
  [c: string]: { "controller-machines": Record<string, { "instance-id": string; "ha-status"?: string }> };
}
interface Status {
  machines: Record<string, { "instance-id": string; "dns-name": string; "juju-status": { current: string }; "machine-status": { current: string; message?: string }; "controller-member-status"?: string; life?: string }>;
  applications: Record<string, { "application-status": { current: string; message?: string }; units?: Record<string, { "workload-status": { current: string; message?: string }; subordinates?: Record<string, unknown> }>; relations: Record<string, { "related-application": string }[]> }>;
  "application-endpoints"?: Record<string, { url: string }>;
}

function bootstrapped(n = 3) {
  const w = jujuWorld(n);
  const [a] = w.hosts;
  if (!a) throw new Error("no host");
  expect(w.run(a, `juju bootstrap manual/ubuntu@${a.address} mw`).code).toBe(0);
  const show = () => w.json<ShowController>(a, "juju show-controller mw --format json").mw?.["controller-machines"] ?? {};
  const status = (m = "mw:controller") => w.json<Status>(a, `juju status -m ${m} --format json`);
  return { ...w, a, show, status };
}

describe("simulated Juju: controllers and HA", () => {
  it("the bootstrap machine's instance id is `manual:` with no address; its address is the machine's dns-name", () => {
    const { show, status, a } = bootstrapped(1);
    expect(show()).toEqual({ "0": { "instance-id": "manual:" } });
    expect(status().machines["0"]).toMatchObject({ "instance-id": "manual:", "dns-name": a.address });
  });

  it("a machine added with add-machine never shows in show-controller; a retry fails 'already provisioned'", () => {
    const { run, a, hosts, show } = bootstrapped();
    const b = hosts[1]!;
    const added = run(a, `juju add-machine -m mw:controller ssh:ubuntu@${b.address}`);
    expect(added).toEqual({ code: 0, out: "", err: "created machine 1\n" });
    expect(Object.keys(show())).toEqual(["0"]);
    const again = run(a, `juju add-machine -m mw:controller ssh:ubuntu@${b.address}`);
    expect(again.code).toBe(1);
    expect(again.err).toBe("ERROR machine is already provisioned\n");
  });

  it("enable-ha returns at once: converted machines are ha-pending until they get their vote, and the controller application waits with them", () => {
    const { run, a, hosts, show, status, advance } = bootstrapped();
    for (const h of hosts.slice(1)) run(a, `juju add-machine -m mw:controller ssh:ubuntu@${h.address}`);
    const r = run(a, "juju enable-ha -c mw -n 3 --to 1,2 --format json");
    expect(JSON.parse(r.out)).toEqual({ maintained: ["0"], converted: ["1", "2"], added: [], removed: [] });
    expect(Object.values(show()).map((m) => m["ha-status"])).toEqual(["ha-enabled", "ha-pending", "ha-pending"]);
    expect(show()["1"]).toEqual({ "instance-id": `manual:${hosts[1]!.address}`, "ha-status": "ha-pending" });
    expect(status().applications["controller"]?.["application-status"].current).not.toBe("active");
    expect(status().machines["1"]?.["controller-member-status"]).toBe("adding-vote");
    advance(11_000);
    expect(Object.values(show()).map((m) => m["ha-status"])).toEqual(["ha-enabled", "ha-enabled", "ha-enabled"]);
    expect(status().applications["controller"]?.["application-status"].current).toBe("active");
    expect(status().machines["2"]?.["controller-member-status"]).toBe("has-vote");
  });

  it("enable-ha without placement on the manual cloud adds machines that can never be provisioned", () => {
    const { run, a, show, status, advance } = bootstrapped();
    expect(run(a, "juju enable-ha -n 3").out).toBe("maintaining machines: 0\nadding machines: 1, 2\n");
    advance(3_600_000);
    expect(show()["1"]).toEqual({ "instance-id": "(unprovisioned)", "ha-status": "ha-pending" });
    expect(status().machines["1"]?.["machine-status"]).toMatchObject({ current: "provisioning error", message: "manual provider cannot start instances" });
  });

  it("the manual provider refuses `tags` constraints and system-id placement", () => {
    const { run, a } = bootstrapped();
    expect(run(a, "juju add-machine -m mw:controller --constraints tags=juju-controller").err).toContain('manual provider does not support constraint "tags"');
    expect(run(a, "juju add-machine -m mw:controller system-id=abc123").err).toContain('invalid placement "system-id=abc123"');
  });

  it("enable-ha refuses an even count", () => {
    const { run, a } = bootstrapped();
    expect(run(a, "juju enable-ha -n 2").err).toBe("ERROR must specify a number of controllers odd and non-negative\n");
  });
});

describe("simulated Juju: clouds", () => {
  const kubeconfig = (w: ReturnType<typeof bootstrapped>) => `clusters:\n- cluster:\n    server: ${w.cloud.kube.url}\nusers:\n- user:\n    token: ${w.cloud.kube.token}\n`;

  it("`clouds --controller X --client` merges client and controller clouds: a --client-only k8s cloud passes that check, then add-model fails", () => {
    const w = bootstrapped(1);
    expect(w.run(w.a, "juju add-k8s mw-k8s --client", kubeconfig(w)).code).toBe(0);
    expect(Object.keys(w.json(w.a, "juju clouds --controller mw --client --format json"))).toContain("mw-k8s");
    expect(Object.keys(w.json(w.a, "juju clouds --controller mw --format json"))).toEqual(["manual"]);
    const r = w.run(w.a, "juju add-model openstack mw-k8s -c mw");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^ERROR cloud mw-k8s not found/);
    // The right sequence: register it with the controller.
    expect(w.run(w.a, "juju add-k8s mw-k8s --controller mw", kubeconfig(w)).code).toBe(0);
    expect(w.json<Record<string, { type: string }>>(w.a, "juju clouds --controller mw --format json")["mw-k8s"]?.type).toBe("k8s");
    expect(w.run(w.a, "juju add-model openstack mw-k8s -c mw").code).toBe(0);
  });

  it("add-k8s refuses a second cloud of the same name and a kubeconfig that does not reach the cluster", () => {
    const w = bootstrapped(1);
    expect(w.run(w.a, "juju add-k8s k --controller mw", kubeconfig(w)).code).toBe(0);
    expect(w.run(w.a, "juju add-k8s k --controller mw", kubeconfig(w)).err).toBe('ERROR cloud "k" already exists\n');
    expect(w.run(w.a, "juju add-k8s k2 --controller mw", kubeconfig(w).replace(/token: .*/, "token: nope")).err).toContain("Unauthorized");
  });
});

describe("simulated Juju: machines", () => {
  it("a re-provisioned host can be added again; the old machine's agent is lost and it stays dying unless removed with --force", () => {
    const w = bootstrapped(2);
    w.run(w.a, "juju add-model work");
    w.run(w.a, `juju add-machine -m mw:work ssh:ubuntu@${w.hosts[1]!.address}`);
    w.advance(5000);
    expect(w.status("mw:work").machines["0"]?.["juju-status"].current).toBe("started");
    w.redeploy(1);
    expect(w.status("mw:work").machines["0"]?.["juju-status"].current).toBe("down");
    expect(w.run(w.a, `juju add-machine -m mw:work ssh:ubuntu@${w.hosts[1]!.address}`).err).toBe("created machine 1\n");
    w.run(w.a, "juju remove-machine -m mw:work 0 --no-prompt");
    expect(w.status("mw:work").machines["0"]?.life).toBe("dying");
    w.run(w.a, "juju remove-machine -m mw:work 0 --force --no-prompt");
    expect(Object.keys(w.status("mw:work").machines)).toEqual(["1"]);
  });

  it("a machine hosting units is not removed without --force", () => {
    const w = bootstrapped(2);
    w.run(w.a, "juju add-model work");
    w.run(w.a, `juju add-machine -m mw:work ssh:ubuntu@${w.hosts[1]!.address}`);
    expect(w.run(w.a, "juju deploy -m mw:work sunbeam-machine --to 0").code).toBe(0);
    expect(w.run(w.a, "juju remove-machine -m mw:work 0").err).toBe('ERROR machine 0 has unit "sunbeam-machine/0" assigned\n');
  });

  it("a unit deployed without --to on a manual cloud waits for a machine that never comes", () => {
    const w = bootstrapped(1);
    w.run(w.a, "juju add-model work");
    w.run(w.a, "juju deploy -m mw:work sunbeam-machine");
    w.advance(3_600_000);
    const s = w.status("mw:work");
    expect(s.applications["sunbeam-machine"]?.units?.["sunbeam-machine/0"]?.["workload-status"]).toMatchObject({ current: "waiting", message: "waiting for machine" });
    expect(s.machines["0"]?.["machine-status"].current).toBe("provisioning error");
  });
});
