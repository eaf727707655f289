/**
 * What metalwave asks of an OpenStack cloud's API: the nova-compute services and the neutron
 * agents of a host, and taking them away when the host leaves (the reference deployer does
 * the same after the hypervisor unit is gone: canonical/snap-openstack
 * sunbeam-python/sunbeam/core/openstack_api.py remove_compute_service, remove_network_service).
 * Every method may throw OpenStackError (src/openstack/errors.ts); none logs a secret.
 */

/** How to reach keystone and whom to be: keystone-k8s's `get-admin-account` action gives these. */
export interface OpenStackCredentials {
  /** Keystone's v3 URL as the cloud publishes it (the ingress address), e.g. http://10.20.0.10/openstack-keystone/v3. */
  authUrl: string;
  username: string;
  password: string;
  userDomainName: string;
  projectName: string;
  projectDomainName: string;
  /** The catalog's region to use; undefined: the first endpoint of the interface. */
  region?: string;
}

/** One row of nova's `GET /os-services` at microversion 2.53 or later (id is the service's UUID). */
export interface ComputeService {
  id: string;
  binary: string;
  host: string;
  /** Scheduling: disabled services get no new instances. */
  status: "enabled" | "disabled";
  /** Whether nova hears from the service (its heartbeat within service_down_time, and not forced down). */
  state: "up" | "down";
  zone: string;
  disabledReason: string | null;
  forcedDown: boolean;
  updatedAt: string | null;
}

/** One row of neutron's `GET /v2.0/agents`. */
export interface NetworkAgent {
  id: string;
  /** E.g. "OVN Controller agent", "OVN Metadata agent" (neutron/common/ovn/constants.py). */
  agentType: string;
  binary: string;
  host: string;
  alive: boolean;
  adminStateUp: boolean;
}

export interface OpenStackPort {
  /** Nova's compute services, filtered by host and binary as nova filters them. Read-only. */
  computeServices(filter: { host?: string; binary?: string }): Promise<ComputeService[]>;
  /**
   * `PUT /os-services/{id}` status=disabled with the reason. Idempotent (disabling a disabled
   * service changes nothing). OPENSTACK_NOT_FOUND when the service is gone.
   */
  disableComputeService(id: string, reason: string): Promise<ComputeService>;
  /**
   * `DELETE /os-services/{id}`. Not repeatable as such: a second delete answers
   * OPENSTACK_NOT_FOUND, which callers take as done. OPENSTACK_CONFLICT while the host still
   * holds instances or migrations (nova refuses).
   */
  deleteComputeService(id: string): Promise<void>;
  /** Neutron's agents, filtered by host. Read-only. */
  networkAgents(filter: { host?: string }): Promise<NetworkAgent[]>;
  /** `DELETE /v2.0/agents/{id}`. A second delete answers OPENSTACK_NOT_FOUND (done). */
  deleteNetworkAgent(id: string): Promise<void>;
}
