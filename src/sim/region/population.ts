/**
 * A fleet file becomes machines: hostnames (a prefix or petnames), initial statuses by
 * weight, the fields a machine in that status has (owner, OS, addresses, power), and the
 * busy ones started on their phase.
 */
import { NodeStatus, STATUS_LABEL } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import type { FleetSpec, InitialStatus } from "../fleet.ts";
import { newPetname } from "../names.ts";
import { beginPhase } from "./phases.ts";
import { ADMIN_USER, DEFAULT_DISTRO, HWE_KERNEL } from "./records.ts";
import type { MachineRecord } from "./records.ts";
import type { RegionState } from "./state.ts";

const S = NodeStatus;

const INITIAL_STATUS_CODE: Record<InitialStatus, NodeStatusCode> = {
  new: S.NEW,
  ready: S.READY,
  allocated: S.ALLOCATED,
  deployed: S.DEPLOYED,
  broken: S.BROKEN,
  failed_commissioning: S.FAILED_COMMISSIONING,
  failed_deployment: S.FAILED_DEPLOYMENT,
  commissioning: S.COMMISSIONING,
  deploying: S.DEPLOYING,
};

export function populate(r: RegionState, fleet: FleetSpec): void {
  const starting: MachineRecord[] = [];
  for (const g of fleet.groups) {
    const hw = r.classes.get(g.class);
    if (hw === undefined) throw new Error(`fleet class ${g.class} missing`); // parseFleet checked this
    for (const t of g.tags) if (!r.tags.has(t)) r.tags.set(t, { name: t, definition: "", comment: "", kernelOpts: "" });
    const weights = typeof g.status === "string" ? ([[g.status, 1]] as [InitialStatus, number][]) : (Object.entries(g.status).filter(([, w]) => (w ?? 0) > 0) as [InitialStatus, number][]);
    const total = weights.reduce((n, [, w]) => n + w, 0);
    for (let i = 0; i < g.count; i++) {
      let hostname: string;
      if (g.hostname_prefix !== undefined) {
        hostname = `${g.hostname_prefix}-${String(i + 1).padStart(4, "0")}`;
        if (r.takenNames.has(hostname)) hostname = `${hostname}-${r.peekIndex}`;
        r.takenNames.add(hostname);
      } else {
        hostname = newPetname(r.rng, r.takenNames);
      }
      let pick = r.rng.next() * total;
      let status: InitialStatus = weights[0]?.[0] ?? "new";
      for (const [s, w] of weights) {
        if (pick < w) {
          status = s;
          break;
        }
        pick -= w;
      }
      const m = r.newRecord(hostname, hw, null, g.zone, g.pool, g.fabrics ?? null);
      m.tags = [...g.tags];
      r.resetNetworking(m);
      const code = INITIAL_STATUS_CODE[status];
      if (code !== S.NEW) {
        m.commissioningStatus = 2;
        m.commissioningResultId = r.newScriptSetId();
        r.resetStorage(m);
      }
      if (code === S.ALLOCATED || code === S.DEPLOYED || code === S.DEPLOYING || code === S.FAILED_DEPLOYMENT) m.owner = ADMIN_USER;
      if (code === S.DEPLOYED || code === S.DEPLOYING || code === S.FAILED_DEPLOYMENT) {
        m.osystem = "ubuntu";
        m.distroSeries = DEFAULT_DISTRO;
        m.hweKernel = HWE_KERNEL[DEFAULT_DISTRO] ?? "";
        m.hasIp = true;
        r.claimAddresses(m);
      }
      if (code === S.DEPLOYED) {
        m.powerState = "on";
        m.netboot = false;
      }
      if (code === S.COMMISSIONING || code === S.DEPLOYING) starting.push(m);
      m.status = code === S.COMMISSIONING ? S.NEW : code === S.DEPLOYING ? S.ALLOCATED : code;
      m.previousStatus = m.status;
      m.statusMessage = m.status === S.NEW ? null : STATUS_LABEL[m.status];
    }
  }
  for (const m of starting) {
    if (m.status === S.NEW) beginPhase(r, m, "commission", ADMIN_USER, "");
    else beginPhase(r, m, "deploy", ADMIN_USER, "");
  }
}
