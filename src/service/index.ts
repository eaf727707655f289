/**
 * The metalwave service (`metalwave serve`): a long-running process that runs
 * rollouts on request and reports on them over HTTP. docs/service.md.
 */
export { startService, type ServiceHandle, type ServiceOptions, type Route, type Method } from "./server.ts";
export { RolloutController, toServiceError, type RolloutView, type RolloutDetail, type ProgressView, type HostDetail, type RunLayering, type ApiRolloutState } from "./controller.ts";
export { ServiceError, ListenError, httpStatusOf, type ServiceErrorCode } from "./errors.ts";
export { checkServeConfig } from "./startup-checks.ts";
export { Readiness, type ProbeResult } from "./readiness.ts";
export { loadToken, TokenCheck, MIN_TOKEN_LENGTH, TOKEN_ENV } from "./auth.ts";
export { EventHub, type ServiceEventType } from "./events.ts";
export { ServiceMetrics } from "./metrics.ts";
export { OPENAPI, openApiDocument, toOpenApi30 } from "./openapi.ts";
export * as apiSchemas from "./api-schemas.ts";
