/**
 * The lifecycle operations of a machine (maas-api.md "Machine operations" and "Status
 * enum"): create, update, delete, commission, allocate, deploy, release, abort,
 * mark_broken/mark_fixed, test, power and lock, each refusing in MAAS's words what
 * MAAS refuses (the allowed-from tables in src/maas/status.ts).
 */
import { ALLOWED_FROM, NodeStatus, STATUS_LABEL } from "../../maas/status.ts";
import type { NodeStatusCode } from "../../maas/status.ts";
import { formFailure, SimulatedFailure, textFailure } from "../errors.ts";
import { isValidHostname, newPetname } from "../names.ts";
import type { Params } from "../params.ts";
import { assertDeployable, releaseAutoAddresses } from "../network/interfaces.ts";
import { hasRoot } from "../storage/model.ts";
import { networkStorageMatcher } from "./constraints.ts";
import type { Matches } from "./constraints.ts";
import { ALLOCATE_CONSTRAINT_KEYS, allocationMatcher, splitList } from "./filters.ts";
import { beginPhase, powerCheck } from "./phases.ts";
import { ADMIN_USER, DEFAULT_DISTRO, DISTRO_SERIES, HWE_KERNEL } from "./records.ts";
import type { MachineRecord, PowerState } from "./records.ts";
import type { RegionState } from "./state.ts";

const S = NodeStatus;

export interface AllocateResult {
  machine: MachineRecord;
  constraintsByType: Record<string, unknown>;
}

export function createMachine(r: RegionState, params: Params): MachineRecord {
  const errors: Record<string, string[]> = {};
  const arch = params.get("architecture");
  const archs = new Set([...r.classes.values()].map((c) => c.architecture).concat(["amd64/generic", "arm64/generic"]));
  if (arch === undefined || arch === "") errors.architecture = ["This field is required."];
  else if (!archs.has(arch)) errors.architecture = [`'${arch}' is not a valid architecture.  It should be one of: ${[...archs].sort().map((a) => `'${a}'`).join(", ")}.`];
  const macs = splitList(params.all("mac_addresses")).map((m) => m.toLowerCase());
  if (macs.length === 0) errors.mac_addresses = ["This field is required."];
  const badMac = macs.find((m) => !/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/.test(m));
  if (badMac !== undefined) errors.mac_addresses = [`'${badMac}' is not a valid MAC address.`];
  const taken = macs.find((mac) => r.machines.some((m) => r.macsOf(m).includes(mac)));
  if (taken !== undefined) errors.mac_addresses = [`One or more MAC addresses is invalid. ('${taken}' is already in use.)`];
  let hostname = params.get("hostname");
  if (hostname !== undefined && hostname !== "") {
    hostname = hostname.split(".")[0] ?? hostname;
    if (!isValidHostname(hostname)) errors.hostname = [`Invalid hostname: '${hostname}'.`];
    else if (r.byHostname.has(hostname)) errors.hostname = [`Node with hostname '${hostname}' already exists.`];
  }
  const zone = params.get("zone") ?? "default";
  if (!r.zones.has(zone)) errors.zone = ["Select a valid choice. That choice is not one of the available choices."];
  const pool = params.get("pool") ?? "default";
  if (!r.pools.has(pool)) errors.pool = ["Select a valid choice. That choice is not one of the available choices."];
  if (Object.keys(errors).length > 0) throw formFailure(errors);
  if (hostname === undefined || hostname === "") hostname = newPetname(r.rng, r.takenNames);
  else r.takenNames.add(hostname);
  const m = r.newRecord(hostname, null, macs, zone, pool);
  m.architecture = arch ?? "amd64/generic";
  m.powerType = params.get("power_type") ?? "manual";
  // Admin-created machines are commissioned unless commission=false (MAAS docs for machines create).
  if (params.bool("commission") !== false) startCommissioning(r, m, ADMIN_USER, "");
  return m;
}

export function updateMachine(r: RegionState, m: MachineRecord, params: Params): void {
  r.assertUnlocked(m);
  const errors: Record<string, string[]> = {};
  const hostname = params.get("hostname");
  if (hostname !== undefined && hostname !== m.hostname) {
    if (!isValidHostname(hostname)) errors.hostname = [`Invalid hostname: '${hostname}'.`];
    else if (r.byHostname.has(hostname)) errors.hostname = [`Node with hostname '${hostname}' already exists.`];
  }
  const zone = params.get("zone");
  if (zone !== undefined && !r.zones.has(zone)) errors.zone = ["Select a valid choice. That choice is not one of the available choices."];
  const pool = params.get("pool");
  if (pool !== undefined && !r.pools.has(pool)) errors.pool = ["Select a valid choice. That choice is not one of the available choices."];
  if (Object.keys(errors).length > 0) throw formFailure(errors);
  if (hostname !== undefined && hostname !== m.hostname) {
    r.byHostname.delete(m.hostname);
    r.takenNames.delete(m.hostname);
    m.hostname = hostname;
    r.byHostname.set(hostname, m);
    r.takenNames.add(hostname);
  }
  if (zone !== undefined) m.zone = zone;
  if (pool !== undefined) m.pool = pool;
  const description = params.get("description");
  if (description !== undefined) m.description = description;
}

export function removeMachine(r: RegionState, m: MachineRecord): void {
  r.assertUnlocked(m);
  r.cancelBusy(m);
  m.deleted = true;
  const at = r.machines.indexOf(m);
  if (at >= 0) r.machines.splice(at, 1);
  r.bySystemId.delete(m.systemId);
  r.byHostname.delete(m.hostname);
  r.takenNames.delete(m.hostname);
}

export function commission(r: RegionState, m: MachineRecord, params: Params): void {
  r.assertUnlocked(m);
  if (!(ALLOWED_FROM.commission as readonly number[]).includes(m.status)) {
    throw formFailure({ __all__: ["Commission is not available because of the current state of the node."] });
  }
  powerCheck(r, m, "power on");
  // skip_networking / skip_storage keep the current configuration (maas-api.md "Machine operations").
  m.skipNetworking = params.bool("skip_networking") === true;
  m.skipStorage = params.bool("skip_storage") === true;
  startCommissioning(r, m, ADMIN_USER, params.get("comment") ?? "");
}

function startCommissioning(r: RegionState, m: MachineRecord, actor: string, comment: string): void {
  m.counts.commissioned++;
  m.commissioningStatus = 1;
  m.commissioningResultId = r.newScriptSetId();
  m.powerState = "on";
  beginPhase(r, m, "commission", actor, comment);
}

export function allocate(r: RegionState, params: Params, user: string): AllocateResult {
  const basic = allocationMatcher(r, params);
  const extra = networkStorageMatcher(r, params);
  let matches: Matches | null = null;
  const match = (m: MachineRecord): boolean => basic(m) && (matches = extra(m)) !== null;
  const systemId = params.get("system_id");
  const candidate = systemId !== undefined ? r.bySystemId.get(systemId) : r.machines.find(match);
  if (candidate === undefined || candidate.deleted || !match(candidate)) {
    const constraints: [string, string[]][] = [];
    for (const key of ALLOCATE_CONSTRAINT_KEYS) {
      const v = params.all(key);
      if (v.length > 0) constraints.push([key, v]);
    }
    if (constraints.length === 0) throw textFailure(409, "No machine available.");
    const raw = constraints.map(([k, v]) => `('${k}', [${v.map((x) => `'${x}'`).join(", ")}])`).join(", ");
    const resolved = constraints.map(([k, v]) => `${k}=${v.join(",")}`).join(" ");
    throw textFailure(409, `No available machine matches constraints: [${raw}] (resolved to "${resolved}")`);
  }
  if (params.bool("dry_run") !== true) doAllocate(r, candidate, user, params.get("agent_name") ?? "", params.get("comment") ?? "");
  // constraints_by_type is always present, `{}` without storage/interface constraints (§6).
  return { machine: candidate, constraintsByType: { ...(matches ?? {}) } };
}

function doAllocate(r: RegionState, m: MachineRecord, user: string, agentName: string, comment: string): void {
  m.owner = user;
  m.agentName = agentName;
  m.counts.allocated++;
  r.setStatus(m, S.ALLOCATED, comment, user);
}

export function deploy(r: RegionState, m: MachineRecord, params: Params, user: string): void {
  r.assertUnlocked(m);
  if (!(ALLOWED_FROM.deploy as readonly number[]).includes(m.status)) {
    throw textFailure(409, `Can't deploy a machine that is in the '${STATUS_LABEL[m.status]}' state`);
  }
  let distro = params.get("distro_series") ?? "";
  if (distro === "") distro = DEFAULT_DISTRO;
  distro = distro.replace(/^ubuntu\//, "");
  if (!(DISTRO_SERIES as readonly string[]).includes(distro)) {
    throw formFailure({
      distro_series: [`'${distro}' is not a valid distro_series.  It should be one of: ${["", ...DISTRO_SERIES.map((d) => `ubuntu/${d}`)].map((d) => `'${d}'`).join(", ")}.`],
    });
  }
  const userData = params.get("user_data");
  if (userData !== undefined && userData !== "" && !/^[A-Za-z0-9+/=\s]*$/.test(userData)) {
    throw formFailure({ user_data: ["Provided user data is not valid base64."] });
  }
  assertDeployable(m.ifaces);
  // §4: deploy needs a filesystem mounted at / (a blank layout cannot deploy).
  if (m.storage === null || !hasRoot(m.storage)) throw formFailure({ storage: ["Mount the root '/' filesystem to be able to deploy this node."] });
  // Deploy powers the machine on; a BMC fault refuses the whole request and changes nothing.
  powerCheck(r, m, "power on");
  const comment = params.get("comment") ?? "";
  if (m.status === S.READY) doAllocate(r, m, user, params.get("agent_name") ?? "", comment);
  else if (params.get("agent_name") !== undefined) m.agentName = params.get("agent_name") ?? "";
  m.osystem = "ubuntu";
  m.distroSeries = distro;
  m.hweKernel = params.get("hwe_kernel") || (HWE_KERNEL[distro] ?? "");
  m.userData = userData ?? null;
  // MAAS claims the machine's IPs when deployment starts (§2.4: auto links get theirs).
  r.claimAddresses(m);
  m.hasIp = true;
  m.powerState = "on";
  m.counts.deployed++;
  beginPhase(r, m, "deploy", user, comment);
}

/** Releasing one machine. Returns false when it was already Ready/Releasing (a no-op). */
export function release(r: RegionState, m: MachineRecord, params: Params, user: string): boolean {
  r.assertUnlocked(m);
  if (m.status === S.READY || m.status === S.RELEASING) return false;
  if (!(ALLOWED_FROM.release as readonly number[]).includes(m.status)) {
    throw textFailure(409, `Machine cannot be released in its current state ('${STATUS_LABEL[m.status]}').`);
  }
  doRelease(r, m, params, user);
  return true;
}

export function releaseMany(r: RegionState, ids: readonly string[], params: Params, user: string): string[] {
  const unknown = ids.filter((id) => r.bySystemId.get(id)?.deleted !== false);
  if (unknown.length > 0) throw textFailure(400, `Unknown machine(s): ${unknown.join(", ")}.`);
  const machines = ids.map((id) => r.get(id));
  const locked = machines.filter((m) => m.locked);
  if (locked.length > 0) throw new SimulatedFailure(403, "", "text/plain; charset=utf-8");
  const bad = machines.filter((m) => m.status !== S.READY && m.status !== S.RELEASING && !(ALLOWED_FROM.release as readonly number[]).includes(m.status));
  if (bad.length > 0) {
    throw textFailure(409, `Machine(s) cannot be released in their current state: ${bad.map((m) => `${m.systemId} ('${STATUS_LABEL[m.status]}')`).join(", ")}.`);
  }
  for (const m of machines) if (m.status !== S.READY && m.status !== S.RELEASING) doRelease(r, m, params, user);
  return machines.map((m) => m.systemId);
}

function doRelease(r: RegionState, m: MachineRecord, params: Params, user: string): void {
  r.cancelBusy(m);
  const comment = params.get("comment") ?? "";
  const erase = params.bool("erase") === true || params.bool("quick_erase") === true || params.bool("secure_erase") === true;
  const wasOn = m.powerState === "on";
  m.counts.released++;
  free(r, m);
  if (erase) {
    m.counts.erased++;
    m.powerState = "on";
    const mode = params.bool("secure_erase") === true ? "erase-secure" : params.bool("quick_erase") === true ? "erase-quick" : "erase";
    beginPhase(r, m, "erase", user, comment, mode);
  } else if (wasOn) {
    beginPhase(r, m, "release", user, comment);
  } else {
    // Nothing to power off: MAAS finishes the release straight away.
    r.setStatus(m, S.READY, comment, user);
  }
}

/** Free and blank, as MAAS leaves a machine it releases: no owner, no OS, no user data, no auto IPs, no owner data. */
function free(r: RegionState, m: MachineRecord): void {
  releaseAutoAddresses(r.net, m.ifaces);
  m.ownerData = {};
  m.owner = null;
  m.agentName = "";
  m.osystem = "";
  m.distroSeries = "";
  m.hweKernel = "";
  m.userData = null;
  m.hasIp = false;
  m.netboot = true;
}

export function abort(r: RegionState, m: MachineRecord, comment: string, user: string): void {
  r.assertUnlocked(m);
  let to: NodeStatusCode;
  switch (m.status) {
    case S.COMMISSIONING:
      to = S.NEW;
      m.commissioningStatus = -1;
      m.powerState = "off";
      break;
    case S.DEPLOYING:
      to = S.ALLOCATED;
      m.powerState = "off";
      break;
    case S.DISK_ERASING:
      to = S.FAILED_DISK_ERASING;
      m.powerState = "off";
      break;
    case S.TESTING:
      to = m.testReturn;
      m.testingStatus = -1;
      break;
    default:
      throw textFailure(409, `Cannot abort in current state: node ${m.systemId} is in state ${STATUS_LABEL[m.status]}.`);
  }
  r.cancelBusy(m);
  r.setStatus(m, to, comment, user);
}

export function markBroken(r: RegionState, m: MachineRecord, comment: string, user: string): void {
  r.assertUnlocked(m);
  if (m.status === S.BROKEN) throw r.invalidTransition(m, S.BROKEN);
  r.cancelBusy(m);
  r.setStatus(m, S.BROKEN, comment, user);
}

export function markFixed(r: RegionState, m: MachineRecord, comment: string, user: string): void {
  r.assertUnlocked(m);
  if (!(ALLOWED_FROM.markFixed as readonly number[]).includes(m.status)) throw textFailure(409, "Can't mark a non-broken node as 'Ready'.");
  if (m.previousStatus !== S.DEPLOYED) {
    // Back to Ready means free and blank, as MAAS's mark_fixed leaves it (osystem,
    // distro_series and hwe_kernel cleared, no owner): a machine broken mid-deploy
    // must not come back Ready still owned and holding its IPs.
    free(r, m);
  }
  r.setStatus(m, m.previousStatus === S.DEPLOYED ? S.DEPLOYED : S.READY, comment, user);
}

export function test(r: RegionState, m: MachineRecord, comment: string, user: string): void {
  r.assertUnlocked(m);
  const allowed: readonly number[] = [S.NEW, S.READY, S.BROKEN, S.DEPLOYED, S.FAILED_TESTING, S.ALLOCATED];
  if (!allowed.includes(m.status)) throw r.invalidTransition(m, S.TESTING);
  // After a failed run, testing again returns to Ready when it passes.
  m.testReturn = m.status === S.FAILED_TESTING ? S.READY : m.status;
  m.testingStatus = 1;
  m.powerState = "on";
  beginPhase(r, m, "test", user, comment);
}

export function powerOn(r: RegionState, m: MachineRecord): void {
  r.assertUnlocked(m);
  if (m.owner === null) throw textFailure(409, "Can't start node: it hasn't been allocated.");
  powerCheck(r, m, "power on");
  m.powerState = "on";
}

export function powerOff(r: RegionState, m: MachineRecord): void {
  r.assertUnlocked(m);
  powerCheck(r, m, "power off");
  m.powerState = "off";
}

export function queryPowerState(r: RegionState, m: MachineRecord): PowerState {
  powerCheck(r, m, "query the power state of");
  return m.powerState;
}
