/**
 * Progress a person can follow on a long rollout: on a terminal, a block of
 * lines redrawn in place below the log lines (a bar, counts per phase and per wave;
 * src/cli/terminal.ts fits it to the width); otherwise a log line at a fixed interval,
 * so a JSON log stream stays JSON and CI output stays readable.
 */
import type { CloudReport } from "../layers/index.ts";
import type { Logger } from "../log.ts";
import type { Terminal } from "./terminal.ts";
import type { RolloutProgress, RolloutSummary } from "../runtime/rollout-runner.ts";
import { systemClock, type Clock } from "../clock.ts";

const PHASE_ORDER = [
  "enlisted",
  "commissioning",
  "tagging",
  "allocating",
  "deploying",
  "deployed",
  "layering",
  "releasing",
  "aborting",
  "quarantining",
  "inService",
  "quarantined",
  "aborted",
  "refused",
  "failed",
];

function bar(done: number, total: number, width: number): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

function phases(p: RolloutProgress): string {
  const keys = Object.keys(p.byPhase).sort((a, b) => rank(a) - rank(b));
  return keys
    .filter((k) => (p.byPhase[k] ?? 0) > 0)
    .map((k) => `${k} ${p.byPhase[k]}`)
    .join(" · ");
}

function rank(phase: string): number {
  const i = PHASE_ORDER.indexOf(phase);
  return i < 0 ? PHASE_ORDER.length : i;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function progressLine(p: RolloutProgress): string {
  const settled = p.settled;
  return (
    `[${seconds(p.elapsedMs)}] ${p.state} wave ${Math.min(p.wave + 1, p.waves)}/${p.waves} ` +
    `settled ${settled}/${p.total} (in service ${p.byOutcome.inService}, quarantined ${p.byOutcome.quarantined}) ` +
    `| ${phases(p)} | MAAS requests ${p.maasRequests}${regionsWaiting(p).map((w) => ` | ${w}`).join("")}`
  );
}

/** Several regions: which regions the run waits for, and why (docs/architecture.md, "Several regions"). */
export function regionsWaiting(p: RolloutProgress): string[] {
  const out: string[] = [];
  const unplanned = p.regionsUnplanned ?? [];
  const down = (p.regionsDown ?? []).filter((r) => !unplanned.includes(r));
  if (down.length > 0) out.push(`region${down.length > 1 ? "s" : ""} ${down.join(", ")} not answering: ${p.waitingOnRegion ? `${p.waitingOnRegion} host(s) held, ` : ""}its hosts wait`);
  if (unplanned.length > 0) out.push(`region${unplanned.length > 1 ? "s" : ""} ${unplanned.join(", ")} not planned yet: planned and started once it answers`);
  return out;
}

export function progressBlock(p: RolloutProgress, width = 40): string[] {
  const lines = [
    `rollout ${p.rolloutId}  ${p.state}  ${seconds(p.elapsedMs)}  MAAS requests ${p.maasRequests}`,
    `${bar(p.settled, p.total, width)} ${p.settled}/${p.total} settled`,
    `phases: ${phases(p) || "-"}`,
    ...regionsWaiting(p),
  ];
  const w = p.waves > 0 ? p.perWave : [];
  const shown = w.slice(Math.max(0, p.wave - 2), p.wave + 3);
  for (const wave of shown) {
    lines.push(
      `  wave ${wave.index + 1}/${p.waves} ${bar(wave.settled, wave.size, 20)} ${wave.settled}/${wave.size}` +
        (wave.failed ? ` failed ${wave.failed}` : ""),
    );
  }
  return lines;
}

export interface ProgressPrinter {
  update(p: RolloutProgress): void;
  finish(): void;
}

/**
 * On a terminal the block, redrawn at most every 200 ms; off one, a `progress` log line
 * every 5 s (JSON or text, as the log is).
 */
export function createProgressPrinter(term: Terminal, log: Logger, opts: { intervalMs?: number; clock?: Clock } = {}): ProgressPrinter {
  const interval = opts.intervalMs ?? (term.tty ? 200 : 5000);
  const clock = opts.clock ?? systemClock;
  let last = -Infinity;
  let latest: RolloutProgress | undefined;
  const draw = (p: RolloutProgress) => {
    if (term.tty) term.block(progressBlock(p, Math.max(10, Math.min(40, term.columns() - 20))));
    else {
      const { rolloutId, state, wave, waves, settled, total, byOutcome, maasRequests, elapsedMs } = p;
      log.info({ progress: { rolloutId, state, wave: Math.min(wave + 1, waves), waves, settled, total, byOutcome, byPhase: p.byPhase, maasRequests, elapsedMs } }, progressLine(p));
    }
  };
  return {
    update(p) {
      latest = p;
      const now = clock.now();
      if (now - last < interval) return;
      last = now;
      draw(p);
    },
    finish() {
      if (latest) draw(latest);
      term.release();
    },
  };
}

export function summaryText(s: RolloutSummary): string {
  const lines = [
    `rollout ${s.rolloutId}: ${s.state}${s.pauseReason ? ` (${s.pauseReason})` : ""}`,
    `  machines: ${s.total}; in service ${s.byOutcome.inService}, quarantined ${s.byOutcome.quarantined}, aborted ${s.byOutcome.aborted}, refused ${s.byOutcome.refused}, failed ${s.byOutcome.failed}, unsettled ${s.total - s.settled}`,
    `  by phase: ${phases(s) || "-"}`,
    `  elapsed ${seconds(s.elapsedMs)}; MAAS requests ${s.maasRequests} (${s.total ? (s.maasRequests / s.total).toFixed(2) : "0"} per machine)`,
  ];
  if (s.failures.length) {
    lines.push(`  failures (${s.failures.length}):`);
    for (const f of s.failures.slice(0, 50)) {
      lines.push(`    ${f.hostname} (${f.systemId}) ${f.outcome} in ${f.phase}: ${f.code}: ${f.message}`);
    }
    if (s.failures.length > 50) lines.push(`    … and ${s.failures.length - 50} more (metalwave status --json lists all)`);
  }
  return lines.join("\n");
}

/** The layered cloud as a few lines: what a person checks after `npm start`. */
export function cloudText(c: CloudReport): string {
  const ready = c.kubernetesNodes.filter((n) => n.ready).length;
  const labelled = c.kubernetesNodes.filter((n) => n.labels["openstack-control-plane"] === "enabled").length;
  const active = c.applications.filter((a) => a.status === "active").length;
  const voters = c.controllers.machines.filter((m) => m.ha === "ha-enabled").length;
  const lb = Object.entries(c.loadBalancer).map(([svc, ip]) => `${svc} ${ip}`);
  return [
    "layered cloud (read back from Juju, MicroCeph and Kubernetes):",
    `  juju controllers: ${c.controllers.machines.length} machines, ${voters} voting, HA ${c.controllers.ha}`,
    `  kubernetes: ${c.kubernetesNodes.length} nodes, ${ready} Ready, ${labelled} labelled openstack-control-plane=enabled`,
    `  load balancer: ${lb.length ? lb.join(", ") : "no addresses"}`,
    `  ceph: ${c.ceph.osds} OSDs for ${c.ceph.taggedDisks} ceph-tagged disks`,
    `  control plane: ${active}/${c.applications.length} applications active, ${c.relations.length} relations`,
    `  hypervisors configured: ${c.hypervisors.computeHosts.length}`,
  ].join("\n");
}
