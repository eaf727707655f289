/**
 * MAAS-shaped JSON for the region's records, rendered on demand (nothing is cached:
 * a 10,000-machine region keeps compact records, not 10,000 JSON strings).
 * Field names and nesting follow real MAAS 3.x responses.
 */
import { NodeStatus, STATUS_LABEL } from "../maas/status.ts";
import { renderInterface } from "./network/render.ts";
import { ADMIN_USER } from "./region.ts";
import { renderDisk, renderLogicalVolume } from "./storage/render.ts";
import type { EventRecord, MachineRecord, NamedRecord, Region, TagRecord } from "./region.ts";

export const API = "/MAAS/api/2.0";

const DOMAIN = { authoritative: true, ttl: null, resource_record_count: 0, name: "maas", id: 0, is_default: true, resource_uri: `${API}/domains/0/` };

// MAAS's SCRIPT_STATUS names; -1 (no results) renders "Unknown" (maas-examples/machines.json).
const SCRIPT_STATUS_NAME: Record<number, string> = { [-1]: "Unknown", 0: "Pending", 1: "Running", 2: "Passed", 3: "Failed" };

export function renderZone(z: NamedRecord): object {
  return { name: z.name, description: z.description, id: z.id, resource_uri: `${API}/zones/${encodeURIComponent(z.name)}/` };
}

export function renderPool(p: NamedRecord): object {
  return { name: p.name, description: p.description, id: p.id, resource_uri: `${API}/resourcepool/${p.id}/` };
}

export function renderTag(t: TagRecord): object {
  return { name: t.name, definition: t.definition, comment: t.comment, kernel_opts: t.kernelOpts, resource_uri: `${API}/tags/${encodeURIComponent(t.name)}/` };
}

export function renderUser(): object {
  return { is_superuser: true, username: ADMIN_USER, email: `${ADMIN_USER}@example.com`, is_local: true, resource_uri: `${API}/users/${ADMIN_USER}/` };
}

const pad2 = (n: number) => String(n).padStart(2, "0");
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** MAAS's strftime('%a, %d %b. %Y %H:%M:%S'), in UTC: "Fri, 07 Dec. 2018 20:11:08". */
export function maasDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]}. ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

export function renderEvent(e: EventRecord): object {
  return {
    // An event no user caused names "unknown" (maas-examples/events.json).
    username: e.username === "" ? "unknown" : e.username,
    node: e.machine.systemId,
    hostname: e.hostname,
    id: e.id,
    level: e.level,
    created: maasDate(e.createdMs),
    type: e.type,
    description: e.description,
  };
}

/** A physical disk as `GET nodes/{id}/blockdevices/{id}/` shows it. */
export function renderBlockDevice(region: Region, m: MachineRecord, slot: number): Record<string, unknown> | undefined {
  const facts = region.diskFacts(m, slot);
  if (facts === undefined) return undefined;
  return renderDisk(m.systemId, facts, m.storage?.disks[slot], m.storage, region.isUefi(m));
}

/** Physical disks then logical volumes. */
export function renderBlockDevices(region: Region, m: MachineRecord): { physical: Record<string, unknown>[]; virtual: Record<string, unknown>[] } {
  const physical: Record<string, unknown>[] = [];
  for (let i = 0; i < (m.hw?.disks.length ?? 0); i++) {
    const d = renderBlockDevice(region, m, i);
    if (d) physical.push(d);
  }
  const st = m.storage;
  return { physical, virtual: st ? st.lvs.map((lv) => renderLogicalVolume(m.systemId, st, lv)) : [] };
}

/** The machine object exactly as `GET machines/{id}/` returns it. */
export function renderMachine(region: Region, m: MachineRecord): Record<string, unknown> {
  const hw = m.hw;
  const zone = region.zones.get(m.zone);
  const pool = region.pools.get(m.pool);
  const interfaces = m.ifaces.map((i) => renderInterface(region.net, m.systemId, m.ifaces, i, i.slot === null ? undefined : hw?.nics[i.slot]));
  const { physical: disks, virtual } = renderBlockDevices(region, m);
  const storageBytes = hw?.disks.reduce((n, d) => n + d.sizeBytes, 0) ?? 0;
  const deployed = m.status === NodeStatus.DEPLOYED;
  const addresses = region.addressesOf(m);
  // The boot interface is the one on NIC 0, rendered once: interface_set and boot_interface show the same object.
  const bootAt = m.ifaces.findIndex((i) => i.slot === 0);
  const gatewayLink = m.ifaces.flatMap((i) => i.links).find((l) => l.subnetId !== null && l.mode !== "link_up" && region.net.subnets.get(l.subnetId)?.gatewayIp);
  const gateway = gatewayLink?.subnetId == null ? null : (region.net.subnets.get(gatewayLink.subnetId)?.gatewayIp ?? null);
  return {
    system_id: m.systemId,
    hostname: m.hostname,
    fqdn: `${m.hostname}.maas`,
    description: m.description,
    // Read from the SMBIOS at commissioning; null before (DISPLAYED_MACHINE_FIELDS, [M] api/machines.py).
    hardware_uuid: hw ? region.hardwareUuid(m) : null,
    bios_boot_method: hw ? (region.isUefi(m) ? "uefi" : "pxe") : null,
    disable_ipv4: false,
    error_description: "",
    domain: DOMAIN,
    node_type: 0,
    node_type_name: "Machine",
    architecture: m.architecture,
    min_hwe_kernel: "",
    hwe_kernel: m.hweKernel,
    osystem: m.osystem,
    distro_series: m.distroSeries,
    status: m.status,
    status_name: STATUS_LABEL[m.status],
    status_message: m.statusMessage,
    status_action: "",
    owner: m.owner,
    owner_data: { ...m.ownerData },
    locked: m.locked,
    netboot: m.netboot,
    ephemeral_deploy: false,
    power_state: m.powerState,
    power_type: m.powerType,
    cpu_count: hw?.cpuCount ?? 0,
    cpu_speed: hw?.cpuSpeedMhz ?? 0,
    memory: hw?.memoryMib ?? 0,
    storage: storageBytes / 1e6,
    swap_size: null,
    address_ttl: null,
    ip_addresses: addresses,
    tag_names: [...m.tags],
    zone: zone ? renderZone(zone) : null,
    pool: pool ? renderPool(pool) : null,
    pod: null,
    agent_name: m.agentName,
    hardware_info: hw
      ? {
          system_vendor: hw.vendor,
          system_product: hw.product,
          system_family: "Rack",
          system_version: "Not Specified",
          system_sku: "SKU=NotProvided",
          system_serial: region.diskSerial(m, 99),
          cpu_model: hw.cpuModel,
          mainboard_vendor: hw.vendor,
          mainboard_product: "0RGP26",
          mainboard_serial: region.diskSerial(m, 98),
          mainboard_version: "A01",
          mainboard_firmware_vendor: hw.vendor,
          mainboard_firmware_date: "03/12/2024",
          mainboard_firmware_version: "1.13.2",
          chassis_vendor: hw.vendor,
          chassis_type: "Rack Mount Chassis",
          chassis_serial: region.diskSerial(m, 97),
          chassis_version: "Not Specified",
        }
      : {
          system_vendor: "Unknown",
          system_product: "Unknown",
          system_family: "Unknown",
          system_version: "Unknown",
          system_sku: "Unknown",
          system_serial: "Unknown",
          cpu_model: "Unknown",
          mainboard_vendor: "Unknown",
          mainboard_product: "Unknown",
          mainboard_serial: "Unknown",
          mainboard_version: "Unknown",
          mainboard_firmware_vendor: "Unknown",
          mainboard_firmware_date: "Unknown",
          mainboard_firmware_version: "Unknown",
          chassis_vendor: "Unknown",
          chassis_type: "Unknown",
          chassis_serial: "Unknown",
          chassis_version: "Unknown",
        },
    numanode_set: hw ? [{ index: 0, memory: hw.memoryMib, cores: Array.from({ length: hw.cpuCount }, (_, i) => i), hugepages_set: [] }] : [],
    interface_set: interfaces,
    boot_interface: bootAt === -1 ? null : interfaces[bootAt],
    physicalblockdevice_set: disks,
    blockdevice_set: [...disks, ...virtual],
    virtualblockdevice_set: virtual,
    // VGs appear only as stubs in the machine (§3.2).
    volume_groups: (m.storage?.vgs ?? []).map((v) => ({ system_id: m.systemId, id: v.id, __incomplete__: true })),
    raids: [],
    bcaches: [],
    cache_sets: [],
    boot_disk: disks[m.storage?.bootSlot ?? 0] ?? null,
    special_filesystems: [],
    cache_set_count: 0,
    raid_count: 0,
    volume_group_count: m.storage?.vgs.length ?? 0,
    current_commissioning_result_id: m.commissioningResultId,
    current_testing_result_id: m.testingStatus === -1 ? null : m.index * 4 + 2,
    current_installation_result_id: m.counts.deployed > 0 || m.osystem !== "" ? m.index * 4 + 3 : null,
    commissioning_status: m.commissioningStatus,
    commissioning_status_name: SCRIPT_STATUS_NAME[m.commissioningStatus] ?? "Unknown",
    testing_status: m.testingStatus,
    testing_status_name: SCRIPT_STATUS_NAME[m.testingStatus] ?? "Unknown",
    other_test_status: -1,
    other_test_status_name: "Unknown",
    cpu_test_status: -1,
    cpu_test_status_name: "Unknown",
    memory_test_status: -1,
    memory_test_status_name: "Unknown",
    network_test_status: -1,
    network_test_status_name: "Unknown",
    storage_test_status: -1,
    storage_test_status_name: "Unknown",
    interface_test_status: -1,
    interface_test_status_name: "Unknown",
    virtualmachine_id: null,
    workload_annotations: { ...m.ownerData },
    enable_hw_sync: false,
    default_gateways: { ipv4: { gateway_ip: deployed ? gateway : null, link_id: null }, ipv6: { gateway_ip: null, link_id: null } },
    resource_uri: `${API}/machines/${m.systemId}/`,
  };
}
