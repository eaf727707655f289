/**
 * The layouts of a whole plan: each deployed host's network and storage layout
 * (layout-plan.ts) and the pre-flight findings, grouped so that 5,000 hosts with the
 * same problem make one finding that names the first few machines, the config field
 * and the numbers, and lists every machine. Pure.
 */
import type { MachineFacts } from "./facts.ts";
import type { NetworkConfig, StorageConfig } from "./layout-schema.ts";
import { missingLoadBalancerRanges, planHostLayout, type HostLayout, type LayoutProblem, type NetworkModel } from "./layout-plan.ts";
import type { Finding, MachineRef } from "./types.ts";

export interface LayoutsInput {
  deployment: string;
  order: readonly string[];
  network: NetworkConfig | undefined;
  storage: StorageConfig | undefined;
  /** Read from MAAS when `network` or `storage` is configured. */
  model: NetworkModel | undefined;
  hosts: readonly { systemId: string; hostname: string; roles: readonly string[] }[];
  facts: ReadonlyMap<string, MachineFacts>;
  /** Per host, the disks the plan tags ceph. */
  cephDiskIds: ReadonlyMap<string, ReadonlySet<number>>;
}

const SHOWN = 3;

export function planLayouts(input: LayoutsInput): { layouts: Map<string, HostLayout>; findings: Finding[] } {
  const layouts = new Map<string, HostLayout>();
  const findings: Finding[] = [];
  if (input.network === undefined && input.storage === undefined) return { layouts, findings };

  if (input.network !== undefined && input.model === undefined) {
    findings.push({ severity: "FAIL", code: "NETWORK_SPACE_UNREACHABLE", role: null, machines: [], message: "network: the MAAS network model (fabrics, subnets, IP ranges) was not read, so no space can be checked" });
  }
  if (input.network !== undefined && input.model !== undefined) {
    for (const m of missingLoadBalancerRanges(input.network, input.model, input.deployment)) {
      findings.push({ severity: "FAIL", code: "LB_RANGE_MISSING", role: null, machines: [], message: `network.loadBalancerRanges: ${m.detail}` });
    }
  }

  const groups = new Map<string, { p: LayoutProblem; items: { ref: MachineRef; detail: string }[] }>();
  for (const h of input.hosts) {
    const facts = input.facts.get(h.systemId);
    if (facts === undefined) continue;
    const r = planHostLayout({
      facts,
      roles: h.roles,
      order: input.order,
      network: input.network,
      storage: input.storage,
      model: input.model,
      cephDiskIds: input.cephDiskIds.get(h.systemId) ?? new Set(),
    });
    if (r.layout !== null && r.problems.length === 0) layouts.set(h.systemId, r.layout);
    for (const p of r.problems) {
      const key = `${p.code}\u0000${p.role}\u0000${p.field}`;
      const g = groups.get(key) ?? { p, items: [] };
      g.items.push({ ref: { systemId: h.systemId, hostname: h.hostname }, detail: p.detail });
      groups.set(key, g);
    }
  }
  for (const { p, items } of groups.values()) {
    const shown = items.slice(0, SHOWN).map((i) => `${i.ref.hostname} (${i.ref.systemId}): ${i.detail}`);
    const more = items.length > SHOWN ? `; and ${items.length - SHOWN} more` : "";
    findings.push({
      severity: "FAIL",
      code: p.code,
      role: p.role,
      machines: items.map((i) => i.ref),
      message: `${p.field}: ${items.length} ${p.role} machine${items.length === 1 ? "" : "s"}: ${shown.join("; ")}${more}`,
    });
  }
  return { layouts, findings };
}
