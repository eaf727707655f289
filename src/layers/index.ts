/**
 * Layering: what metalwave puts on deployed machines (docs/layering.md).
 * The rollout calls `createLayering(...)` once, then `clusterBarrier(kind, hosts)`
 * for the cluster-level layers and `layerHost(host)` from each host's layering phase.
 */
export { createLayering, hostFromMachine, replicasFor, CLUSTER_LAYERS } from "./layering.ts";
export { addressOn, endpointAddress, hostAddressing, LAYER_NETWORKS, spaceFor, type HostAddressing, type LayerEndpoint } from "./addresses.ts";
export type { CloudReport, Layering, LayeringOptions, LayerHost, ClusterLayer, BarrierResult, HostFailure, ControlPlaneEndpoints } from "./layering.ts";
export { networksOf, LAYER_SPACE } from "./host.ts";
export { REMOVAL_ORDER, MICROCEPH_POOLS } from "./removal.ts";
export type { RemovalResult, RemovalStep } from "./removal.ts";
export { JUJU_CHANGE_OPS, NO_JUJU_JOURNAL } from "./juju-journal.ts";
export type { JujuChange, JujuChangeOp, JujuChangeOutcome, JujuJournal } from "./juju-journal.ts";
export type { HostNetwork } from "./host.ts";
export { LayerError, LAYER_ERROR_CODES, hostWorkStopped } from "./errors.ts";
export type { LayerErrorCode } from "./errors.ts";
export { clientNodeKube } from "./kube.ts";
export type { KubePort, KubeNode } from "./kube.ts";
export { loadLayerTemplate, renderCommand, renderExpect, LAYERS } from "./render.ts";
export type { LayerName, LayerTemplate, StepTemplate, Values } from "./render.ts";
export { StepRunner } from "./steps.ts";
export { createHealthProbe, HEALTH_CHECKS, HEALTH_STEPS } from "./health.ts";
export type { HealthProbe, HealthProbeOptions, HostHealth, HealthFailure, HealthCheck } from "./health.ts";
export type { StepPolicy, EnsureOutcome } from "./steps.ts";
