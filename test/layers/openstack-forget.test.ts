/**
 * A host's clean-up in nova and neutron (src/layers/openstack.ts forgetHost), on a fake
 * OpenStack port: check then act (only what the lists show, a disabled service not disabled
 * again), a service or agent already gone (404) counted as done, a refusal (409) a
 * LAYER_OPENSTACK error naming the host; and the admin account read from get-admin-account.
 */
import { describe, expect, it } from "vitest";
import { OpenStackError, type ComputeService, type NetworkAgent, type OpenStackPort } from "../../src/openstack/index.ts";
import { credentialsFrom, forgetHost, type OpenStackStep } from "../../src/layers/openstack.ts";
import { LayerError, type LayerHost } from "../../src/layers/index.ts";
import { silentLogger } from "../../src/log.ts";

const host: LayerHost = { systemId: "s1", hostname: "cmp-1", address: "10.0.0.9", roles: ["compute"], cephDisks: [] };

function fake(services: ComputeService[], agents: NetworkAgent[], refuse?: { deleteService?: OpenStackError; deleteAgent?: OpenStackError }) {
  const calls: string[] = [];
  const port: OpenStackPort = {
    computeServices: async (f) => services.filter((s) => (f.host === undefined || s.host === f.host) && (f.binary === undefined || s.binary === f.binary)),
    disableComputeService: async (id) => {
      calls.push(`disable ${id}`);
      const s = services.find((x) => x.id === id)!;
      s.status = "disabled";
      return s;
    },
    deleteComputeService: async (id) => {
      calls.push(`delete ${id}`);
      if (refuse?.deleteService) throw refuse.deleteService;
      services.splice(services.findIndex((x) => x.id === id), 1);
    },
    networkAgents: async (f) => agents.filter((a) => f.host === undefined || a.host === f.host),
    deleteNetworkAgent: async (id) => {
      calls.push(`deleteAgent ${id}`);
      if (refuse?.deleteAgent) throw refuse.deleteAgent;
      agents.splice(agents.findIndex((x) => x.id === id), 1);
    },
  };
  return { port, calls };
}

const svc = (id: string, status: "enabled" | "disabled", h = "cmp-1"): ComputeService => ({ id, binary: "nova-compute", host: h, status, state: "up", zone: "nova", disabledReason: null, forcedDown: false, updatedAt: null });
const agent = (id: string, h = "cmp-1"): NetworkAgent => ({ id, agentType: "OVN Controller agent", binary: "ovn-controller", host: h, alive: true, adminStateUp: true });

describe("a host's clean-up in nova and neutron", () => {
  it("disables an enabled service, deletes it and the host's agents, and leaves other hosts alone; a disabled one is only deleted", async () => {
    const { port, calls } = fake([svc("a", "enabled"), svc("b", "disabled"), svc("c", "enabled", "cmp-2")], [agent("x"), agent("y", "cmp-2")]);
    const steps: OpenStackStep[] = [];
    expect(await forgetHost(port, host, (s) => steps.push(s), silentLogger())).toEqual({ computeServices: 2, networkAgents: 1 });
    expect(calls).toEqual(["disable a", "delete a", "delete b", "deleteAgent x"]);
    expect(steps.map((s) => `${s.step} ${s.target}`)).toEqual(["disableComputeService cmp-1 a", "deleteComputeService cmp-1 a", "deleteComputeService cmp-1 b", "deleteNetworkAgent cmp-1 x"]);
    // Again: nothing is listed, nothing is done.
    expect(await forgetHost(port, host, () => undefined, silentLogger())).toEqual({ computeServices: 0, networkAgents: 0 });
  });

  it("counts a 404 as done and ends a 409 as LAYER_OPENSTACK naming the host with nova's message", async () => {
    const notFound = new OpenStackError("OPENSTACK_NOT_FOUND", { service: "network", operation: "DELETE /v2.0/agents/{id}", status: 404, apiMessage: "Agent x could not be found." }, "Agent x could not be found.");
    await expect(forgetHost(fake([], [agent("x")], { deleteAgent: notFound }).port, host, () => undefined, silentLogger())).resolves.toEqual({ computeServices: 0, networkAgents: 1 });
    const busy = new OpenStackError("OPENSTACK_CONFLICT", { service: "compute", operation: "DELETE /os-services/{id}", status: 409, apiMessage: "Unable to delete compute service that is hosting instances. Migrate or delete the instances first." }, "Unable to delete compute service that is hosting instances. Migrate or delete the instances first.");
    const e = await forgetHost(fake([svc("a", "disabled")], [], { deleteService: busy }).port, host, () => undefined, silentLogger()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LayerError);
    expect(e).toMatchObject({ code: "LAYER_OPENSTACK", hostname: "cmp-1", step: "deleteComputeService" });
    expect((e as LayerError).message).toContain("hosting instances");
  });

  it("reads the admin account from get-admin-account's results", () => {
    const r = { username: "admin", password: "pw", "user-domain-name": "admin_domain", "project-name": "admin", "project-domain-name": "admin_domain", region: "RegionOne", "public-endpoint": "http://10.20.0.10/openstack-keystone/v3", "api-version": "3" };
    expect(credentialsFrom(r)).toEqual({ authUrl: "http://10.20.0.10/openstack-keystone/v3", username: "admin", password: "pw", userDomainName: "admin_domain", projectName: "admin", projectDomainName: "admin_domain", region: "RegionOne" });
    expect(credentialsFrom({ ...r, password: "" })).toBeUndefined();
  });
});
