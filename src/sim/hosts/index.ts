/**
 * Simulated deployed hosts: SSH servers on each machine's loopback address, the
 * command emulator behind them, and a simulated Kubernetes API. See docs/layering.md.
 */
export { HostFleet, authorizedKeysFrom, defaultSshPort } from "./server.ts";
export type { HostFleetOptions, HostFleetStats, SimHostView } from "./server.ts";
export { parseHostFaults, formatHostFaults, noHostFaults, HostFaultDice } from "./faults.ts";
export type { HostFaultSpec, HostFaultRule, HostFaultKind } from "./faults.ts";
export { SimKubeApi } from "./kube-api.ts";
export { SimCloud, SimHost, SNAP_SERVICES, JUJU_AGENT } from "./model.ts";
export { runCommandLine } from "./commands.ts";
export type { ExecContext } from "./commands.ts";
export { seededHostKey } from "./keys.ts";
