/**
 * Applies a host's planned network and storage layout in MAAS, before it deploys (in
 * its tagging phase, while the machine is Ready): read back, compare, send only the
 * difference (src/roles/layout-diff.ts), one stage at a time, until a read-back shows
 * nothing left. Every change is written ahead to the call journal like every MAAS
 * change; a change a crash left open is settled on the next run by the same read-back
 * (it took effect when the difference no longer holds it). A host that already matches
 * costs three reads and sends nothing; once storage matches, each later round reads only the
 * interfaces.
 */
import type { Logger } from "pino";
import type { MaasPort } from "../maas/port.ts";
import { MaasError } from "../maas/errors.ts";
import { CONFIG_ALLOWED_FROM, STATUS_LABEL } from "../model/maas/status.ts";
import type { HostLayout } from "../roles/layout-plan.ts";
import { describeStep, networkSteps, storageSteps, type LayoutStep } from "../roles/layout-diff.ts";
import { MetalwaveError } from "../errors.ts";
import type { CallJournal } from "./call-journal.ts";

export type LayoutErrorCode = "LAYOUT_MISMATCH" | "LAYOUT_WRONG_STATE" | "LAYOUT_NOT_CONVERGED" | "LAYOUT_CHANGE_FAILED";

/** A layout that could not be applied: names the host, the change and MAAS's words; the MAAS error is the cause. */
export class LayoutError extends MetalwaveError<LayoutErrorCode> {
  readonly code: LayoutErrorCode;
  constructor(code: LayoutErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface HostLayoutDeps {
  maas: MaasPort;
  calls: CallJournal;
  logger: Logger;
}

/** Rounds of send-then-read-back before giving up: storage, bonds, VLANs, links, and one to confirm. */
const MAX_ROUNDS = 6;

const PREFIX = "layout.";

export function isLayoutOperation(op: string): boolean {
  return op.startsWith(PREFIX);
}

async function send(maas: MaasPort, systemId: string, s: LayoutStep): Promise<void> {
  switch (s.op) {
    case "setBootDisk":
      return maas.setBootDisk(systemId, s.deviceId);
    case "setStorageLayout":
      await maas.setStorageLayout(systemId, s.params);
      return;
    case "createBond":
      await maas.createBond(systemId, s.params);
      return;
    case "updateInterface":
      await maas.updateInterface(systemId, s.interfaceId, s.update);
      return;
    case "createVlanInterface":
      await maas.createVlanInterface(systemId, s.params, s.parentName);
      return;
    case "unlinkSubnet":
      await maas.unlinkSubnet(systemId, s.interfaceId, s.linkId);
      return;
    case "linkSubnet":
      await maas.linkSubnet(systemId, s.interfaceId, s.params);
      return;
  }
}

/**
 * What is left to do now: storage first, then the first unfinished network stage.
 * `known`: the machine's status from an earlier round whose read-back found storage done.
 * Interface changes do not touch storage, so later rounds read only the interfaces (the
 * machine record is the largest read MAAS answers; the host holds the machine in its
 * tagging phase meanwhile).
 */
async function difference(
  deps: HostLayoutDeps,
  host: { systemId: string; hostname: string },
  layout: HostLayout,
  known: { status: number } | undefined,
): Promise<{ steps: LayoutStep[]; status: number; storageDone: boolean }> {
  const sid = host.systemId;
  let status: number;
  if (known === undefined) {
    const m = await deps.maas.readMachine(sid);
    status = m.status;
    if (layout.storage !== null) {
      const devices = await deps.maas.readBlockDevices(sid);
      const steps = storageSteps(layout.storage, m.boot_disk?.id ?? null, devices);
      if (steps.length > 0) return { steps, status, storageDone: false };
    }
  } else status = known.status;
  if (layout.bonds.length + layout.vlans.length + layout.links.length + layout.interfaces.length === 0) return { steps: [], status, storageDone: true };
  const ifaces = await deps.maas.readInterfaces(sid);
  const r = networkSteps(layout, ifaces);
  if (r.problems.length > 0) {
    throw new LayoutError("LAYOUT_MISMATCH", `${host.hostname} (${sid}): the planned network layout cannot be applied: ${r.problems.join("; ")}`);
  }
  return { steps: r.steps, status, storageDone: true };
}

function allowed(step: LayoutStep, status: number): boolean {
  const table: readonly number[] =
    step.op === "setBootDisk" || step.op === "setStorageLayout" ? CONFIG_ALLOWED_FROM.storage : step.op === "updateInterface" ? CONFIG_ALLOWED_FROM.interfaceUpdate : CONFIG_ALLOWED_FROM.interfaces;
  return table.includes(status);
}

/** Applies `layout`; returns how many changes were sent (0 when MAAS already matched). */
export async function applyHostLayout(deps: HostLayoutDeps, host: { systemId: string; hostname: string }, layout: HostLayout): Promise<number> {
  const sid = host.systemId;
  const open = deps.calls.unresolved().filter((c) => c.systemId === sid && isLayoutOperation(c.op));
  let sent = 0;
  let known: { status: number } | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const { steps, status, storageDone } = await difference(deps, host, layout, known);
    known = storageDone ? { status } : undefined;
    // Changes a crash left open: done when the read-back no longer asks for them.
    for (const c of open.splice(0)) deps.calls.reconciled(c.callId, !steps.some((s) => s.key === c.op));
    if (steps.length === 0) {
      if (sent > 0) deps.logger.info({ systemId: sid, sent }, "host layout applied and read back");
      return sent;
    }
    for (const step of steps) {
      if (!allowed(step, status)) {
        throw new LayoutError(
          "LAYOUT_WRONG_STATE",
          `${host.hostname} (${sid}): cannot ${describeStep(step)}: the machine is ${STATUS_LABEL[status as keyof typeof STATUS_LABEL] ?? status}, and MAAS allows it only when ${step.op === "setBootDisk" || step.op === "setStorageLayout" ? "Ready" : "New, Ready, Allocated, Broken or Failed testing"}`,
        );
      }
      const callId = await deps.calls.begin(sid, step.key);
      try {
        await send(deps.maas, sid, step);
        deps.calls.end(callId, "ok", describeStep(step));
        sent++;
      } catch (e) {
        const unknown = e instanceof MaasError && e.code === "MAAS_OUTCOME_UNKNOWN";
        deps.calls.end(callId, unknown ? "unknown" : "error", e instanceof Error ? e.message : String(e));
        const hint = e instanceof MaasError && e.code === "MAAS_FORBIDDEN" ? " (interface and storage changes need a MAAS admin's API key)" : "";
        throw new LayoutError("LAYOUT_CHANGE_FAILED", `${host.hostname} (${sid}): ${describeStep(step)}: ${e instanceof Error ? e.message : String(e)}${hint}`, { cause: e });
      }
    }
  }
  throw new LayoutError("LAYOUT_NOT_CONVERGED", `${host.hostname} (${sid}): MAAS still differs from the planned layout after ${MAX_ROUNDS} rounds of changes and read-backs`);
}
