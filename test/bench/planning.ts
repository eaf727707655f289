/**
 * Planning's CPU per machine (issue 12): the client process's CPU time for reading every
 * machine of a simulated region zone by zone and reducing each to its facts, as planning
 * does (src/runtime/deployment-plan.ts readFleetFacts), two ways: `whole` validates each
 * whole machine with MachineSchema (listMachines, then machineFacts), `planning` reads only
 * the fields the facts come from (listMachinesEach, PlanningMachineSchema), each twice in turn. The region is its
 * own process, so its CPU is not counted. Not a test: `node test/bench/planning.ts 10000 30000`.
 */
import { mkdtempSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { MaasClient } from "../../src/maas/client.ts";
import { machineFacts } from "../../src/roles/facts.ts";
import { startSimProcess } from "./procs.ts";

const load = () => loadavg()[0]?.toFixed(1) ?? "?";

async function measure(machines: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "metalwave-planning-"));
  const sim = await startSimProcess({ machines, speed: "inf", seed: 7, keyFile: join(dir, "key"), logFile: join(dir, "sim.log") });
  try {
    const client = new MaasClient({ url: sim.url, apiKey: sim.apiKey, requestsPerSecond: 0, timeoutMs: 120_000 });
    const zones = (await client.listZones()).map((z) => z.name);
    const ways = {
      whole: async (zone: string) => (await client.listMachines({ zone: [zone] })).map((m) => machineFacts(m)).length,
      planning: (zone: string) => client.listMachinesEach({ zone: [zone] }, (m) => machineFacts(m)).then((fs) => fs.length),
    };
    // Each way twice, alternating, so neither is measured only cold (module loading, JIT).
    for (const [name, read] of [...Object.entries(ways), ...Object.entries(ways)]) {
      const before = load();
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      for (const z of zones) n += await read(z);
      const used = process.cpuUsage(cpu);
      const ms = (used.user + used.system) / 1000;
      console.log(
        `${machines} machines, ${name}: ${n} read, CPU ${(ms / 1000).toFixed(1)} s (${(ms / n).toFixed(3)} ms/machine), wall ${((performance.now() - t0) / 1000).toFixed(1)} s, load ${before} → ${load()}`,
      );
    }
  } finally {
    await sim.stop();
  }
}

for (const n of process.argv.slice(2).map(Number)) await measure(n);
