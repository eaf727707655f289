/**
 * Busy phases and faults: how long commissioning, deploying, releasing, erasing and
 * testing take (seeded ranges, divided by the speed factor), whether an attempt fails
 * or hangs (the fault dice, keyed by attempt so outcomes do not depend on request
 * interleaving), MAAS's own timeouts for a hung phase (maas-api.md "Status enum"), and
 * BMC faults on power actions.
 */
import { BUSY_FAILURE, BUSY_TIMEOUT_S, NodeStatus, STATUS_LABEL } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import type { DurationKey } from "../durations.ts";
import { textFailure } from "../errors.ts";
import type { MachineFaults, Phase } from "../faults.ts";
import { unit } from "../rng.ts";
import type { MachineRecord } from "./records.ts";
import type { RegionState } from "./state.ts";

const S = NodeStatus;

export type EraseMode = "erase" | "erase-quick" | "erase-secure";

/** Realistic phase durations in seconds [min, max]; divided by the speed factor. */
const DURATION_S: Record<DurationKey, [number, number]> = {
  commission: [300, 600],
  deploy: [600, 1200],
  release: [45, 90],
  erase: [1200, 2400],
  "erase-quick": [45, 90],
  "erase-secure": [600, 1200],
  test: [120, 300],
};

const PHASE_STATUS: Record<Phase, NodeStatusCode> = {
  commission: S.COMMISSIONING,
  deploy: S.DEPLOYING,
  release: S.RELEASING,
  erase: S.DISK_ERASING,
  test: S.TESTING,
};

const FAILURE_REASON: Record<Phase, string> = {
  commission: "Commissioning script '50-maas-01-commissioning' failed (simulated)",
  deploy: "Installation failed (simulated): curtin command failed",
  release: "Release failed (simulated): unable to power off",
  erase: "Failed to erase disks (simulated)",
  test: "Testing script 'smartctl-validate' failed (simulated)",
};

function faultsFor(r: RegionState, m: MachineRecord): { all: MachineFaults; own: MachineFaults | undefined } {
  return { all: r.faults.all, own: r.targeted.get(m) };
}

/** `attempt`: the machine's runs of the phase before this one (a `first=N` fault spares the later ones). */
function phaseRates(r: RegionState, m: MachineRecord, phase: Phase, attempt: number): { fail: number; hang: number } {
  const { all, own } = faultsFor(r, m);
  const a = all.phases[phase];
  const o = own?.phases[phase];
  const first = o?.first ?? a?.first;
  if (first !== undefined && attempt >= first) return { fail: 0, hang: 0 };
  return { fail: o?.fail ?? a?.fail ?? 0, hang: o?.hang ?? a?.hang ?? 0 };
}

/** Real milliseconds for a realistic duration in seconds. */
function scaled(r: RegionState, seconds: number): number {
  return Number.isFinite(r.speed) ? (seconds * 1000) / r.speed : 0;
}

/** Power faults (BMC unreachable → 503, RPC timeout → 504); the state is left unchanged. */
export function powerCheck(r: RegionState, m: MachineRecord, action: string): void {
  const { all, own } = faultsFor(r, m);
  const err = own?.powerError ?? all.powerError ?? 0;
  const tmo = own?.powerTimeout ?? all.powerTimeout ?? 0;
  if (err === 0 && tmo === 0) return;
  const u = unit(r.seed, "power", m.systemId, m.attempts.power++);
  if (u < err) {
    throw textFailure(503, `Failed to ${action} ${m.hostname}: unable to connect to the BMC at ${r.bmcAddress(m)} (simulated power fault).`);
  }
  if (u < err + tmo) throw textFailure(504, `Timed out waiting for the rack controller to ${action} ${m.hostname}.`);
}

export function beginPhase(r: RegionState, m: MachineRecord, phase: Phase, actor: string, comment: string, eraseMode: EraseMode = "erase"): void {
  const status = PHASE_STATUS[phase];
  r.setStatus(m, status, comment, actor);
  const token = ++m.job;
  const attempt = m.attempts[phase]++;
  const { fail, hang } = phaseRates(r, m, phase, attempt);
  const roll = unit(r.seed, "outcome", phase, m.systemId, attempt);
  const key = phase === "erase" ? eraseMode : phase;
  const [lo, hi] = DURATION_S[key];
  const seconds = r.durations[key] ?? lo + (hi - lo) * unit(r.seed, "duration", phase, m.systemId, attempt);
  const live = () => m.job === token && !m.deleted && m.status === status;
  if (roll < hang) {
    const timeout = BUSY_TIMEOUT_S[status];
    if (timeout !== undefined) {
      r.scheduler.schedule(scaled(r, timeout), () => {
        if (live()) failPhase(r, m, phase, `Machine operation '${STATUS_LABEL[status]}' timed out after ${timeout / 60} minutes.`);
      });
    }
    // Without a MAAS timeout (disk erasing, testing) a hung machine stays busy until aborted.
    return;
  }
  if (roll < hang + fail) {
    const at = seconds * (0.2 + 0.7 * unit(r.seed, "fail-at", phase, m.systemId, attempt));
    r.scheduler.schedule(scaled(r, at), () => {
      if (live()) failPhase(r, m, phase, FAILURE_REASON[phase]);
    });
    return;
  }
  r.scheduler.schedule(scaled(r, seconds), () => {
    if (live()) finishPhase(r, m, phase);
  });
}

function finishPhase(r: RegionState, m: MachineRecord, phase: Phase): void {
  const who = m.owner ?? "";
  switch (phase) {
    case "commission":
      if (m.hw === null) {
        m.hw = m.pendingHw;
        m.architecture = m.hw.architecture;
      }
      // Commissioning resets the networking to MAAS's defaults unless asked not to (§2.4).
      if (!m.skipNetworking || m.ifaces.length === 0) r.resetNetworking(m);
      // ... and lays the disks out in the default (flat) layout, with new UUIDs (§5).
      if (!m.skipStorage || m.storage === null) r.resetStorage(m);
      m.commissioningStatus = 2;
      m.powerState = "off";
      r.setStatus(m, S.READY, "", who);
      return;
    case "deploy":
      m.powerState = "on";
      m.netboot = false;
      r.setStatus(m, S.DEPLOYED, "", who);
      return;
    case "release":
    case "erase":
      m.powerState = "off";
      r.setStatus(m, S.READY, "", who);
      return;
    case "test": {
      m.testingStatus = 2;
      const back = m.testReturn;
      if (back === S.READY || back === S.NEW) m.powerState = "off";
      r.setStatus(m, back, "", who);
      return;
    }
  }
}

function failPhase(r: RegionState, m: MachineRecord, phase: Phase, reason: string): void {
  const failed = BUSY_FAILURE[m.status];
  if (failed === undefined) return;
  if (phase === "commission") m.commissioningStatus = 3;
  if (phase === "test") m.testingStatus = 3;
  if (phase === "commission" || phase === "erase") m.powerState = "off";
  r.setStatus(m, failed, reason, m.owner ?? "");
}
