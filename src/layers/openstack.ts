/**
 * The layers' use of the OpenStack API (src/openstack): the admin account keystone-k8s's
 * `get-admin-account` action gives (its `public-endpoint` is keystone on the ingress, as the
 * reference reads it: canonical/snap-openstack sunbeam-python/sunbeam/commands/configure.py
 * retrieve_admin_credentials, core/openstack_api.py get_admin_connection), and what a host's
 * removal takes out of nova and neutron (core/openstack_api.py remove_compute_service,
 * remove_network_service: every compute service on the host disabled then deleted, every
 * neutron agent on it deleted).
 */
import type { Logger } from "pino";
import { OpenStackError, type OpenStackCredentials, type OpenStackPort } from "../openstack/index.ts";
import { LayerError } from "./errors.ts";
import type { LayerHost } from "./host.ts";

/** Whether the OpenStack API can be used, and if not, why. */
export type OpenStackReach =
  | { kind: "ready"; port: OpenStackPort }
  /** The deployment has no OpenStack control plane (yet): nothing there to clean up or read. */
  | { kind: "absent"; reason: string }
  /** It has one, but its API cannot be used now (the action or keystone failed). */
  | { kind: "unreachable"; reason: string; cause?: unknown };

/** The credentials in `get-admin-account`'s results (undefined: a field is missing). */
export function credentialsFrom(r: Readonly<Record<string, unknown>>): OpenStackCredentials | undefined {
  const s = (k: string) => (typeof r[k] === "string" && r[k] !== "" ? r[k] : undefined);
  const authUrl = s("public-endpoint");
  const username = s("username");
  const password = s("password");
  if (authUrl === undefined || username === undefined || password === undefined) return undefined;
  const region = s("region");
  return { authUrl, username, password, userDomainName: s("user-domain-name") ?? "Default", projectName: s("project-name") ?? "admin", projectDomainName: s("project-domain-name") ?? "Default", ...(region ? { region } : {}) };
}

/** One change to the cloud's API, journaled before it is made. */
export interface OpenStackStep {
  step: "disableComputeService" | "deleteComputeService" | "deleteNetworkAgent";
  /** `<host> <id>` of the service or agent. */
  target: string;
}

export interface ForgetResult {
  computeServices: number;
  networkAgents: number;
}

/** A refusal of a call, as a layer error naming the host (the API's own message kept; no secret is in it). */
export function asLayerError(e: unknown, h: LayerHost, step: string): LayerError {
  if (e instanceof LayerError) return e;
  const why = e instanceof OpenStackError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
  return new LayerError("LAYER_OPENSTACK", { layer: "removal", step, systemId: h.systemId, hostname: h.hostname }, `the OpenStack API refused or failed: ${why}`, { cause: e });
}

const gone = (e: unknown) => e instanceof OpenStackError && e.code === "OPENSTACK_NOT_FOUND";

/**
 * Takes the host out of nova and neutron: each nova-compute service on it disabled (unless it
 * is) and deleted, then each of its agents deleted. Check then act: every call follows a fresh
 * list, and a service or agent already gone (404) counts as done, so a removal resumed after a
 * crash repeats nothing that took effect. Nova refuses to delete a service that still hosts
 * instances (409): that ends it with LAYER_OPENSTACK.
 */
export async function forgetHost(os: OpenStackPort, h: LayerHost, journal: (s: OpenStackStep) => void, logger: Logger): Promise<ForgetResult> {
  const step = async (name: OpenStackStep["step"], target: string, call: () => Promise<unknown>) => {
    journal({ step: name, target });
    try {
      await call();
    } catch (e) {
      if (!gone(e)) throw asLayerError(e, h, name);
    }
  };
  const list = async <T>(name: string, call: () => Promise<T>) => {
    try {
      return await call();
    } catch (e) {
      throw asLayerError(e, h, name);
    }
  };
  const services = await list("computeServices", () => os.computeServices({ host: h.hostname, binary: "nova-compute" }));
  for (const s of services) {
    if (s.status !== "disabled") await step("disableComputeService", `${s.host} ${s.id}`, () => os.disableComputeService(s.id, `metalwave: ${h.hostname} leaves the cloud to be re-provisioned`));
    await step("deleteComputeService", `${s.host} ${s.id}`, () => os.deleteComputeService(s.id));
  }
  const agents = await list("networkAgents", () => os.networkAgents({ host: h.hostname }));
  // Deleting an OVN agent deletes its chassis, and with it that chassis's other agent: the second delete finds it gone.
  for (const a of agents) await step("deleteNetworkAgent", `${a.host} ${a.id}`, () => os.deleteNetworkAgent(a.id));
  if (services.length + agents.length > 0) logger.info({ systemId: h.systemId, hostname: h.hostname, computeServices: services.map((s) => s.id), networkAgents: agents.map((a) => `${a.agentType} ${a.id}`) }, "host's compute services and network agents deleted from OpenStack");
  return { computeServices: services.length, networkAgents: agents.length };
}
