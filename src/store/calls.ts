/**
 * The `maas_call` table: the write-ahead intent of every state-changing MAAS
 * request. `beginCall` is never buffered: after a crash, a call begun and never
 * ended is an unknown outcome that the runtime reads back from MAAS instead of
 * sending the request again.
 */
import type { StoreCore } from "./core.ts";
import { toJson } from "./core.ts";
import { parseJson } from "./envelope.ts";
import { StoreError } from "./errors.ts";
import { CALL_OUTCOMES, type BeginCallInput, type CallOutcome, type EndCallInput, type OpenCall } from "./types.ts";

interface CallRow {
  id: number;
  rollout_id: string;
  system_id: string;
  operation: string;
  params: string | null;
  begun_at: string;
  ended_at: string | null;
}

const CALL_COLUMNS = "id, rollout_id, system_id, operation, params, begun_at, ended_at";

function checkOutcome(core: StoreCore, callId: number, outcome: CallOutcome): void {
  if (!(CALL_OUTCOMES as readonly string[]).includes(outcome)) {
    throw new StoreError("STORE_SCHEMA", `MAAS call ${callId}: unknown outcome ${JSON.stringify(outcome)}`, { path: core.path });
  }
}

function endData(callId: number, operation: string, outcome: CallOutcome, detail: string | undefined): string {
  return JSON.stringify({ event: "end", callId, operation, outcome, ...(detail !== undefined ? { detail } : {}) });
}

export function beginCall(core: StoreCore, call: BeginCallInput): number {
  core.ensureOpen();
  const where = { rolloutId: call.rolloutId, systemId: call.systemId };
  const params = call.params === undefined ? null : toJson(call.params, "call parameters", where);
  core.ensureRollout(call.rolloutId, `recording a ${call.operation} call`);
  // Never buffered: this row is what stops a restarted process from sending the same deploy twice.
  return core.write(`recording a ${call.operation} call`, where, () => {
    const row = core.sql.get<{ id: number }>("INSERT INTO maas_call (rollout_id, system_id, operation, params, begun_at) VALUES (?, ?, ?, ?, ?) RETURNING id", [
      call.rolloutId,
      call.systemId,
      call.operation,
      params,
      core.at(),
    ]);
    const id = Number(row?.id);
    core.insertJournal(
      call.rolloutId,
      call.systemId,
      "maas_call",
      JSON.stringify({ event: "begin", callId: id, operation: call.operation, ...(call.params !== undefined ? { params: JSON.parse(params ?? "null") as unknown } : {}) }),
    );
    return id;
  });
}

export function endCall(core: StoreCore, callId: number, outcome: CallOutcome, detail?: string): boolean {
  checkOutcome(core, callId, outcome);
  return core.write(`ending MAAS call ${callId}`, {}, () => {
    const row = core.sql.get<CallRow>(`SELECT ${CALL_COLUMNS} FROM maas_call WHERE id = ?`, [callId]);
    if (!row) throw new StoreError("STORE_NOT_FOUND", `no MAAS call ${callId} in store ${core.path}`, { path: core.path });
    if (row.ended_at !== null) return false;
    core.sql.run("UPDATE maas_call SET ended_at = ?, outcome = ?, detail = ? WHERE id = ?", [core.at(), outcome, detail ?? null, callId]);
    core.insertJournal(row.rollout_id, row.system_id, "maas_call", endData(callId, row.operation, outcome, detail));
    return true;
  });
}

export function endCallLater(core: StoreCore, call: EndCallInput, outcome: CallOutcome, detail?: string): void {
  checkOutcome(core, call.callId, outcome);
  if (core.writesThrough()) {
    endCall(core, call.callId, outcome, detail);
    return;
  }
  core.ensureOpen();
  const at = core.at();
  core.bufferCallEnd([at, outcome, detail ?? null, call.callId], [call.rolloutId, call.systemId, "maas_call", at, endData(call.callId, call.operation, outcome, detail)]);
}

export function openCalls(core: StoreCore, rolloutId: string): OpenCall[] {
  const rows = core.read("listing open MAAS calls", { rolloutId }, () =>
    core.sql.all<CallRow>(`SELECT ${CALL_COLUMNS} FROM maas_call WHERE rollout_id = ? AND ended_at IS NULL ORDER BY id`, [rolloutId]),
  );
  return rows.map((r) => ({
    id: Number(r.id),
    rolloutId: r.rollout_id,
    systemId: r.system_id,
    operation: r.operation,
    params: r.params === null ? undefined : parseJson(r.params, `parameters of MAAS call ${r.id}`, { rolloutId: r.rollout_id, systemId: r.system_id }),
    begunAt: r.begun_at,
  }));
}
