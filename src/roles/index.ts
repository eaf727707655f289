/** Tag-driven role assignment: rules (schema), facts, the pure planner, checks, text output and the MAAS sync. */
export { RolesConfigSchema, defaultRolesConfig, BUILTIN_ROLES, BUILTIN_DEFINITIONS, DEFAULT_ORDER, PREFER_KEYS } from "./schema.ts";
export type { RolesConfig, RolesConfigInput, RoleDefinition, MatchRule, Prefer, PreferKey, CephDiskRule, CandidateSelector, BuiltinRole } from "./schema.ts";
export { machineFacts, matchesRule, cephDisksFor, diskTagEdits, hostnamePattern } from "./facts.ts";
export type { MachineFacts, MachineOrFacts, DiskFacts, NicFacts, DiskTagEdit } from "./facts.ts";
export { roleRecheckFor, recheckMachine } from "./recheck.ts";
export type { RoleRecheck, RecheckResult } from "./recheck.ts";
export { planRoles, scopeTagFor, spareTagFor, isScopeTag, isUnhealthy } from "./plan.ts";
export type { PlanInput } from "./plan.ts";
export { runChecks, blockingFindings, CHECKS } from "./checks.ts";
export { renderPlanText } from "./render.ts";
export { syncTags } from "./sync.ts";
export type { SyncResult, SyncOptions } from "./sync.ts";
export { RolesError } from "./errors.ts";
export type { RolesErrorCode, SyncStep } from "./errors.ts";
export { FINDING_CODES, isFindingCode } from "./types.ts";
export type { RolePlan, Finding, FindingCode, Severity, MachineRef, Assignment, RoleSummary, TagChange, BlockDeviceTagChange, Excluded, ExclusionReason } from "./types.ts";
export { addressesBySpace } from "./addresses.ts";
export type { HostLayout, NetworkModel } from "./layout-plan.ts";
