/**
 * Machine lifecycle operations: list and read, create, commission, allocate, deploy,
 * release, abort, mark broken/fixed, power. State-changing ones are reconciled: after an
 * unknown outcome the machine is read back and `tookEffect` (src/model/maas/reconcile.ts)
 * decides whether the op applied. Contracts per op: src/maas/port.ts.
 */
import type { z } from "zod";
import { needsIdentity, tookEffect } from "../../model/maas/reconcile.ts";
import type { ReconciledOp } from "../../model/maas/reconcile.ts";
import { base64UserData } from "../form.ts";
import type { ParamValue } from "../form.ts";
import type { AllocateParams, CommissionParams, CreateMachineParams, DeployParams, MachineFilter, ReleaseParams } from "../port.ts";
import { ALLOCATED_MACHINE_FIELDS, AllocatedMachineSchema, MACHINE_STATE_FIELDS, MachineSchema, MachineStateSchema, PLANNING_MACHINE_FIELDS, PlanningMachineSchema, PowerStateResultSchema, ReleasedIdsSchema } from "../schemas.ts";
import type { AllocatedMachine, Machine, MachineState, PlanningMachine, PowerState } from "../schemas.ts";
import { IDEMPOTENT, NEVER, seg } from "../transport.ts";
import type { MaasTransport, Safety } from "../transport.ts";
import { myName } from "./site.ts";

export function listMachines(t: MaasTransport, filter: MachineFilter = {}): Promise<Machine[]> {
  return listAs(t, MachineSchema, filter);
}

/** The same list as listMachines, each machine read as its state only (see MachineStateSchema). */
export function listMachineStates(t: MaasTransport, filter: MachineFilter = {}): Promise<MachineState[]> {
  return listAs(t, MachineStateSchema, filter, undefined, MACHINE_STATE_FIELDS);
}

/**
 * The same list as listMachines, each machine read as planning reads it (PlanningMachineSchema:
 * only the fields its facts come from are parsed and validated) and turned into
 * `each(machine)` as soon as it is read: the machines are never held all at once (planning
 * 100,000 machines, docs/bench.md).
 */
export function listMachinesEach<R>(t: MaasTransport, filter: MachineFilter, each: (m: PlanningMachine) => R): Promise<R[]> {
  return listAs(t, PlanningMachineSchema, filter, each, PLANNING_MACHINE_FIELDS);
}

async function listAs<M, R = M>(t: MaasTransport, item: z.ZodType<M>, filter: MachineFilter, each?: (m: M) => R, fields?: ReadonlySet<string>): Promise<R[]> {
  // An empty id list means "these machines: none", not "no filter": never ask for the whole fleet.
  if (filter.id !== undefined && filter.id.length === 0) return [];
  return t.call({
    operation: "listMachines",
    method: "GET",
    path: "machines/",
    params: { ...filter },
    // The array schema is what an answer that is not an array is judged by; arrays go item by item.
    schema: item.array() as unknown as z.ZodType<R[]>,
    itemSchema: item,
    ...(each ? { eachItem: (m: unknown) => each(m as M) } : {}),
    ...(fields ? { fields } : {}),
    safety: IDEMPOTENT,
  });
}

export function readMachine(t: MaasTransport, systemId: string): Promise<Machine> {
  return t.call({ operation: "readMachine", method: "GET", path: `machines/${seg(systemId)}/`, systemId, schema: MachineSchema, safety: IDEMPOTENT });
}

export function createMachine(t: MaasTransport, params: CreateMachineParams): Promise<Machine> {
  const { power_parameters, ...rest } = params;
  const form: Record<string, ParamValue> = { ...rest };
  for (const [k, v] of Object.entries(power_parameters ?? {})) form[`power_parameters_${k}`] = v;
  return t.call({ operation: "createMachine", method: "POST", path: "machines/", params: form, schema: MachineSchema, safety: NEVER });
}

export function commission(t: MaasTransport, systemId: string, params: CommissionParams = {}): Promise<MachineState> {
  return machineOp(t, "commission", "commission", systemId, { ...params });
}

export function allocate(t: MaasTransport, params: AllocateParams): Promise<AllocatedMachine> {
  const sid = params.system_id;
  let safety: Safety<AllocatedMachine>;
  if (params.dry_run === true) safety = IDEMPOTENT;
  else if (sid !== undefined) safety = { kind: "reconcile", check: (signal) => checkMachine(t, "allocate", sid, signal) };
  // Without a system_id we cannot tell our allocation from anyone else's: never re-sent.
  else safety = NEVER;
  return t.call({ operation: "allocate", method: "POST", path: "machines/", op: "allocate", params: { ...params }, systemId: sid, schema: AllocatedMachineSchema, fields: ALLOCATED_MACHINE_FIELDS, safety });
}

export function deploy(t: MaasTransport, systemId: string, params: DeployParams = {}): Promise<MachineState> {
  const { user_data, ...rest } = params;
  return machineOp(t, "deploy", "deploy", systemId, { ...rest, user_data: user_data === undefined ? undefined : base64UserData(user_data) });
}

export function release(t: MaasTransport, systemId: string, params: ReleaseParams = {}): Promise<MachineState> {
  return machineOp(t, "release", "release", systemId, { ...params });
}

export async function releaseMany(t: MaasTransport, systemIds: readonly string[], comment?: string): Promise<string[]> {
  if (systemIds.length === 0) return [];
  return t.call({
    operation: "releaseMany",
    method: "POST",
    path: "machines/",
    op: "release",
    params: { machines: systemIds, comment },
    schema: ReleasedIdsSchema,
    safety: {
      kind: "reconcile",
      check: async (signal) => {
        const ms = await t.readBack("releaseMany", undefined, () => listMachines(t.scoped(signal), { id: systemIds }));
        const done = ms.length === systemIds.length && ms.every((m) => tookEffect("release", m, { me: "" }));
        return done ? ms.map((m) => m.system_id) : undefined;
      },
    },
  });
}

export function abort(t: MaasTransport, systemId: string, comment?: string): Promise<MachineState> {
  return machineOp(t, "abort", "abort", systemId, { comment });
}

export function markBroken(t: MaasTransport, systemId: string, comment?: string): Promise<MachineState> {
  return machineOp(t, "markBroken", "mark_broken", systemId, { comment });
}

export function markFixed(t: MaasTransport, systemId: string, comment?: string): Promise<MachineState> {
  return machineOp(t, "markFixed", "mark_fixed", systemId, { comment });
}

export function powerOn(t: MaasTransport, systemId: string, comment?: string): Promise<MachineState> {
  return machineOp(t, "powerOn", "power_on", systemId, { comment });
}

export function powerOff(t: MaasTransport, systemId: string, stopMode?: "hard" | "soft", comment?: string): Promise<MachineState> {
  return machineOp(t, "powerOff", "power_off", systemId, { stop_mode: stopMode, comment });
}

export async function queryPowerState(t: MaasTransport, systemId: string): Promise<PowerState> {
  const r = await t.call({
    operation: "queryPowerState",
    method: "GET",
    path: `machines/${seg(systemId)}/`,
    op: "query_power_state",
    systemId,
    schema: PowerStateResultSchema,
    safety: IDEMPOTENT,
  });
  return r.state;
}

function machineOp(t: MaasTransport, operation: ReconciledOp, op: string, systemId: string, params: Record<string, ParamValue>): Promise<MachineState> {
  return t.call({
    operation,
    method: "POST",
    path: `machines/${seg(systemId)}/`,
    op,
    params,
    systemId,
    schema: MachineStateSchema,
    fields: MACHINE_STATE_FIELDS,
    safety: { kind: "reconcile", check: (signal) => checkMachine(t, operation, systemId, signal) },
  });
}

/** Reads the machine back and returns it if `operation` took effect. */
async function checkMachine(t: MaasTransport, operation: ReconciledOp, systemId: string, signal: AbortSignal | undefined): Promise<MachineState | undefined> {
  const s = t.scoped(signal);
  const me = needsIdentity(operation) ? await t.readBack(operation, systemId, () => myName(s)) : "";
  const m = await t.readBack(operation, systemId, () => readMachine(s, systemId));
  // The same shape the operation itself answers with: its state.
  return tookEffect(operation, m, { me }) ? MachineStateSchema.parse(m) : undefined;
}
