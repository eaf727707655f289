/**
 * The planned layouts as `metalwave plan` prints them: hosts whose layouts read the same
 * (same bonds, VLANs, links, tags and storage, ids aside) are one entry with their count
 * and, for a few, their names. `--json` carries each host's layout in full (docs/cli.md).
 */
import type { HostLayout } from "./layout-plan.ts";

function shape(l: HostLayout): string[] {
  const lines: string[] = [];
  for (const b of l.bonds) lines.push(`bond ${b.name} = ${b.parents.join("+")} ${b.mode}${b.mtu !== undefined ? ` mtu ${b.mtu}` : ""}`);
  for (const v of l.vlans) lines.push(`vlan ${v.name} on ${v.parent} (vid ${v.vid}, space ${v.space})${v.mtu !== undefined ? ` mtu ${v.mtu}` : ""}`);
  for (const k of l.links) lines.push(`link ${k.interface} ${k.mode} ${k.cidr} (${k.network} → space ${k.space})`);
  for (const i of l.interfaces) lines.push(`interface ${i.name}${i.mtu !== undefined ? ` mtu ${i.mtu}` : ""}${i.tags.length > 0 ? ` tags ${i.tags.join(",")}` : ""}`);
  if (l.storage !== null) {
    const p = l.storage.params;
    const sizes = [p.boot_size && `boot ${p.boot_size}`, p.root_size && `root ${p.root_size}`, p.lv_size && `lv ${p.lv_size}`].filter(Boolean).join(", ");
    lines.push(`storage ${l.storage.layout} on ${l.storage.rootDevice.name} (${l.storage.rootDevice.sizeGiB} GiB)${sizes ? `, ${sizes}` : ""}`);
  }
  return lines;
}

export function renderLayoutsText(hosts: readonly { systemId: string; hostname: string; roles: readonly string[]; layout?: HostLayout | undefined }[]): string[] {
  const groups = new Map<string, { roles: string; lines: string[]; names: string[] }>();
  for (const h of hosts) {
    if (h.layout === undefined) continue;
    const lines = shape(h.layout);
    const roles = h.roles.join("+");
    const key = `${roles}\n${lines.join("\n")}`;
    const g = groups.get(key) ?? { roles, lines, names: [] };
    g.names.push(`${h.hostname} (${h.systemId})`);
    groups.set(key, g);
  }
  if (groups.size === 0) return [];
  const out = ["", "Layouts (applied in MAAS before deploy; a host that already matches is left as it is):"];
  for (const g of [...groups.values()].sort((a, b) => (a.roles < b.roles ? -1 : a.roles > b.roles ? 1 : b.names.length - a.names.length))) {
    out.push(`  ${g.roles}: ${g.names.length} host${g.names.length === 1 ? "" : "s"}${g.names.length <= 3 ? ` (${g.names.join(", ")})` : ""}`);
    for (const l of g.lines) out.push(`    ${l}`);
    if (g.lines.length === 0) out.push("    (networks checked only; nothing to change)");
  }
  return out;
}
