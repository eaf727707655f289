export { OpenStackClient, COMPUTE_MICROVERSION, faultMessage, type OpenStackClientOptions } from "./client.ts";
export { OpenStackError, OPENSTACK_ERROR_CODES, type OpenStackErrorCode, type OpenStackService } from "./errors.ts";
export type { ComputeService, NetworkAgent, OpenStackCredentials, OpenStackPort } from "./port.ts";
