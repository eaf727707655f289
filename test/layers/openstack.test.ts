/**
 * The OpenStack API of the simulated cloud (src/sim/openstack), through metalwave's client
 * (src/openstack): keystone's token and catalog for the admin account keystone-k8s gives, on
 * the ingress address; nova's compute services (one per hypervisor host, up and enabled,
 * UUID ids at 2.53) and neutron's OVN agents per chassis host; the refusals in the real
 * services' words (401 without a token or with a wrong password, a microversion out of range,
 * unknown ids, a compute service that still hosts instances). Then the layers' use of it: the
 * report's computeServicesUp is nova's list (a service forced down drops its host while its
 * unit stays active), and a host's removal leaves nova and neutron without its service and agents.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenStackClient, OpenStackError, type OpenStackCredentials } from "../../src/openstack/index.ts";
import { adminAccount } from "../../src/sim/openstack/api-server.ts";
import type { Layering } from "../../src/layers/index.ts";
import { LayerError } from "../../src/layers/index.ts";
import { FAST_JUJU, startLayerFleet, type LayerFleet } from "./helpers.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("the simulated cloud's OpenStack API and the layers' use of it", { timeout: 300_000 }, () => {
  let lf: LayerFleet;
  let engine: Layering;
  const cloud = () => lf.f.hosts.cloud;
  const creds = (over: Partial<OpenStackCredentials> = {}): OpenStackCredentials => {
    const model = cloud().jujuWorld.controller("metalwave").models.get("openstack")!;
    const a = adminAccount(cloud(), "openstack");
    return { authUrl: cloud().keystoneUrl(model)!, username: a.username, password: a.password, userDomainName: a.userDomainName, projectName: a.projectName, projectDomainName: a.projectDomainName, ...over };
  };
  const client = () => new OpenStackClient({ credentials: creds() });
  const failure = async (p: Promise<unknown>): Promise<OpenStackError> => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(OpenStackError);
    return e as OpenStackError;
  };
  /** A raw call to nova with a fresh token (what the client would not send: other microversions, no token). */
  const nova = async (method: string, path: string, o: { version?: string; token?: boolean; body?: unknown } = {}) => {
    const c = creds();
    const auth = await fetch(`${c.authUrl}/auth/tokens`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ auth: { identity: { methods: ["password"], password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } } }, scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } } } }) });
    expect(auth.status).toBe(201);
    const token = auth.headers.get("x-subject-token")!;
    const catalog = ((await auth.json()) as { token: { catalog: { type: string; endpoints: { interface: string; url: string }[] }[] } }).token.catalog;
    const url = catalog.find((e) => e.type === "compute")!.endpoints.find((e) => e.interface === "public")!.url;
    const headers: Record<string, string> = { ...(o.token === false ? {} : { "X-Auth-Token": token }), ...(o.version ? { "OpenStack-API-Version": `compute ${o.version}` } : {}), ...(o.body ? { "Content-Type": "application/json" } : {}) };
    const res = await fetch(`${url}${path}`, { method, headers, ...(o.body ? { body: JSON.stringify(o.body) } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  beforeAll(async () => {
    lf = await startLayerFleet(FAST_JUJU, [
      { prefix: "juju", count: 1, tags: ["juju-controller"] },
      { prefix: "ctl", count: 1, tags: ["control"] },
      { prefix: "cmp", count: 2, tags: ["compute"] },
    ]);
    engine = lf.layering();
    await engine.clusterBarrier("juju-controller", lf.hosts.juju);
    await engine.clusterBarrier("kubernetes", lf.hosts.control);
    await engine.clusterBarrier("control-plane", lf.hosts.control);
    await Promise.all(lf.hosts.compute.map((h) => engine.layerHost(h)));
  }, 300_000);
  afterAll(async () => {
    engine?.close();
    await lf?.f.close();
  });

  it("serves keystone on the ingress address, nova's compute services per hypervisor host and neutron's OVN agents per chassis", async () => {
    const [cmp1] = lf.hosts.compute.map((h) => h.hostname);
    // Keystone on traefik's load-balancer address, under its ingress path (what get-admin-account publishes).
    const traefik = cloud().kube.externalAddress("openstack", "traefik")!;
    expect(creds().authUrl).toMatch(new RegExp(`^http://${traefik.replace(/\./g, "\\.")}(:\\d+)?/openstack-keystone/v3$`));
    const c = client();
    const services = await c.computeServices({ binary: "nova-compute" });
    expect(services.map((s) => [s.host, s.binary, s.state, s.status, s.zone, s.forcedDown]).sort()).toEqual(lf.hosts.compute.map((h) => [h.hostname, "nova-compute", "up", "enabled", "nova", false]).sort());
    for (const s of services) expect(s.id).toMatch(UUID);
    expect((await c.computeServices({ host: cmp1! })).map((s) => s.host)).toEqual([cmp1]);
    const agents = await c.networkAgents({ host: cmp1! });
    expect(agents.map((a) => [a.agentType, a.binary, a.alive]).sort()).toEqual([["OVN Controller agent", "ovn-controller", true], ["OVN Metadata agent", "neutron-ovn-metadata-agent", true]]);
    // A control host is a chassis with no metadata agent (it runs no hypervisor).
    expect((await c.networkAgents({ host: lf.hosts.control[0]!.hostname })).map((a) => a.agentType)).toEqual(["OVN Controller agent"]);
    // One token for every call while it is valid; a revoked one (401) gets one fresh token and the call again.
    const api = lf.f.hosts.openstackApi;
    const issued = api.tokensIssued;
    await c.computeServices({});
    expect(api.tokensIssued).toBe(issued);
    expect(api.revokeTokens()).toBeGreaterThan(0);
    expect((await c.networkAgents({})).length).toBeGreaterThan(0);
    expect(api.tokensIssued).toBe(issued + 1);
  });

  it("refuses what the real services refuse, in their words", async () => {
    // No token: keystonemiddleware's 401.
    const none = await nova("GET", "/os-services", { token: false });
    expect(none.status).toBe(401);
    expect(none.json).toEqual({ error: { code: 401, title: "Unauthorized", message: "The request you have made requires authentication." } });
    expect(none.headers.get("www-authenticate")).toMatch(/^Keystone uri="http:\/\/.+\/openstack-keystone"$/);
    // A wrong password: keystone's 401, and neither password is in the error.
    const bad = await failure(new OpenStackClient({ credentials: creds({ password: "not-the-password" }) }).computeServices({}));
    expect([bad.code, bad.status, bad.service, bad.apiMessage]).toEqual(["OPENSTACK_UNAUTHORIZED", 401, "identity", "The request you have made requires authentication."]);
    expect(bad.message).not.toMatch(/not-the-password/);
    expect(bad.message).not.toContain(creds().password);
    // Microversions: out of range 406, malformed 400; none asked for is 2.1 (integer ids, no forced_down).
    expect(await nova("GET", "/os-services", { version: "2.200" })).toMatchObject({ status: 406, json: { computeFault: { code: 406, message: "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.104." } } });
    expect(await nova("GET", "/os-services", { version: "two" })).toMatchObject({ status: 400, json: { badRequest: { message: "API Version String two is of invalid format. Must be of format MajorNum.MinorNum." } } });
    const old = await nova("GET", "/os-services");
    const oldRow = (old.json!["services"] as Record<string, unknown>[])[0]!;
    expect(typeof oldRow["id"]).toBe("number");
    expect("forced_down" in oldRow).toBe(false);
    const at253 = await nova("GET", "/os-services", { version: "2.53" });
    expect(at253.headers.get("openstack-api-version")).toBe("compute 2.53");
    // At 2.53: ids are UUIDs; unknown ones are 404, malformed ones 400.
    const c = client();
    const unknown = "8e1c2d3f-0000-4000-8000-000000000000";
    expect(await failure(c.deleteComputeService(unknown))).toMatchObject({ code: "OPENSTACK_NOT_FOUND", status: 404, apiMessage: `Service ${unknown} not found.` });
    expect(await failure(c.disableComputeService(unknown, "test"))).toMatchObject({ code: "OPENSTACK_NOT_FOUND", apiMessage: `Service ${unknown} could not be found.` });
    expect(await failure(c.deleteComputeService("42"))).toMatchObject({ code: "OPENSTACK_BAD_REQUEST", apiMessage: "Invalid uuid 42" });
    const badBody = await nova("PUT", `/os-services/${(at253.json!["services"] as { id: string }[])[0]!.id}`, { version: "2.53", body: { status: "off" } });
    expect(badBody).toMatchObject({ status: 400, json: { badRequest: { message: "Invalid input for field/attribute status. Value: off. 'off' is not one of ['enabled', 'disabled']" } } });
    // A compute service that still hosts instances is not deleted (409); neutron's unknown agent is 404.
    const host = lf.hosts.compute[1]!.hostname;
    cloud().openstack.placeInstances(host, 1);
    const [svc] = await c.computeServices({ host, binary: "nova-compute" });
    expect(await failure(c.deleteComputeService(svc!.id))).toMatchObject({ code: "OPENSTACK_CONFLICT", status: 409, apiMessage: "Unable to delete compute service that is hosting instances. Migrate or delete the instances first." });
    cloud().openstack.placeInstances(host, 0);
    expect(await failure(c.deleteNetworkAgent(unknown))).toMatchObject({ code: "OPENSTACK_NOT_FOUND", service: "network", apiMessage: `Agent ${unknown} could not be found.` });
  });

  it("reports computeServicesUp as nova lists them: a service forced down drops its host while its unit is still active", async () => {
    const compute = lf.hosts.compute.map((h) => h.hostname).sort();
    const before = await engine.report();
    expect(before.hypervisors).toEqual({ computeHosts: compute, computeServicesUp: compute, source: "nova" });
    const [svc] = await client().computeServices({ host: compute[1]!, binary: "nova-compute" });
    expect((await nova("PUT", `/os-services/${svc!.id}`, { version: "2.53", body: { forced_down: true } })).status).toBe(200);
    try {
      const after = await engine.report();
      expect(after.hypervisors).toEqual({ computeHosts: compute, computeServicesUp: [compute[0]], source: "nova" });
      expect(after.applications.find((a) => a.name === "openstack-hypervisor")?.units).toEqual({ total: 2, active: 2 });
    } finally {
      await nova("PUT", `/os-services/${svc!.id}`, { version: "2.53", body: { forced_down: false } });
    }
    // The API unreachable: Juju's units, saying so.
    const blind = lf.layering({ openstack: () => new OpenStackClient({ credentials: creds({ authUrl: "http://127.0.0.1:9/openstack-keystone/v3" }), timeoutMs: 2000 }) });
    try {
      await blind.clusterBarrier("juju-controller", lf.hosts.juju);
      const r = await blind.report();
      expect(r.hypervisors).toMatchObject({ computeServicesUp: compute, source: "juju", note: expect.stringMatching(/^nova's compute services could not be read \(.*OPENSTACK_UNAVAILABLE|cannot reach/) });
    } finally {
      blind.close();
    }
  });

  it("a host's removal deletes its compute service and its agents; a dead host's too, disabled first; guests stop the removal", async () => {
    const [gone, dead] = lf.hosts.compute;
    const c = client();
    // Guests on the host (nova's instances, which running-guests lists): the removal stops before anything leaves.
    cloud().openstack.placeInstances(dead!.hostname, 2);
    const refused = await engine.leaveHost!(dead!, () => undefined).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(LayerError);
    expect((refused as LayerError).code).toBe("LAYER_PRECONDITION");
    cloud().openstack.placeInstances(dead!.hostname, 0);

    const steps: { step: string; target: string }[] = [];
    await engine.leaveHost!(gone!, (s) => steps.push(s));
    expect(await c.computeServices({ host: gone!.hostname })).toEqual([]);
    expect(await c.networkAgents({ host: gone!.hostname })).toEqual([]);
    // The hypervisor's `disable` action had disabled its service: nova's delete follows, after the unit went.
    const os = steps.filter((s) => /ComputeService|NetworkAgent/.test(s.step)).map((s) => s.step);
    expect(os[0]).toBe("deleteComputeService");
    expect(os.filter((s) => s === "deleteNetworkAgent").length).toBeGreaterThanOrEqual(2);
    expect(steps.findIndex((s) => s.step === "removeUnit" && s.target.startsWith("openstack-hypervisor/"))).toBeLessThan(steps.findIndex((s) => s.step === "deleteComputeService"));
    // The other host is untouched, and the report no longer counts the removed one.
    expect((await c.computeServices({ host: dead!.hostname })).map((s) => [s.state, s.status])).toEqual([["up", "enabled"]]);
    expect((await engine.report()).hypervisors.computeServicesUp).toEqual([dead!.hostname]);

    // A dead host (its Juju agent down): no action runs, so its service is disabled through the API, then deleted.
    lf.f.hosts.stopService(dead!.hostname, "jujud");
    const forced: { step: string; force?: boolean }[] = [];
    const r = await engine.leaveHost!(dead!, (s) => forced.push(s));
    expect(r?.forced).toBe(true);
    expect(forced.map((s) => s.step)).toEqual(["removeMachine", "disableComputeService", "deleteComputeService", "deleteNetworkAgent", "deleteNetworkAgent"]);
    expect(await c.computeServices({ host: dead!.hostname })).toEqual([]);
    expect(await c.networkAgents({ host: dead!.hostname })).toEqual([]);
  });
});
