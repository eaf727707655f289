/**
 * Preloaded into a benchmarked child process with `node --import`: when the process
 * exits, writes its own peak resident set size (getrusage's ru_maxrss, which the
 * kernel keeps for the whole life of the process) to the file named by
 * METALWAVE_BENCH_RSS_FILE, with its CPU time and the largest V8 heap figures seen
 * by a 500 ms sampler (to tell JavaScript objects from native memory; memoryUsage() is
 * not free: sampled every 100 ms it was 1.5 % of a 10,000-machine rollout's CPU). The sampler's
 * timer is unref'd, so it never keeps the process alive; nothing else changes.
 */
import { appendFileSync, writeFileSync } from "node:fs";

const file = process.env["METALWAVE_BENCH_RSS_FILE"];
if (file) {
  const peak = { heapUsedBytes: 0, heapTotalBytes: 0, externalBytes: 0, arrayBuffersBytes: 0 };
  const series = process.env["METALWAVE_BENCH_MEM_SERIES"];
  const t0 = Date.now();
  const sample = () => {
    const m = process.memoryUsage();
    if (series) appendFileSync(series, `${Date.now() - t0} ${m.rss} ${m.heapUsed} ${m.heapTotal} ${m.external}\n`);
    peak.heapUsedBytes = Math.max(peak.heapUsedBytes, m.heapUsed);
    peak.heapTotalBytes = Math.max(peak.heapTotalBytes, m.heapTotal);
    peak.externalBytes = Math.max(peak.externalBytes, m.external);
    peak.arrayBuffersBytes = Math.max(peak.arrayBuffersBytes, m.arrayBuffers);
  };
  setInterval(sample, 500).unref();
  process.on("exit", (code) => {
    sample();
    const u = process.resourceUsage();
    writeFileSync(
      file,
      JSON.stringify({
        exitCode: code,
        // resourceUsage().maxRSS is in KiB.
        maxRssBytes: u.maxRSS * 1024,
        userCpuMs: Math.round(u.userCPUTime / 1000),
        systemCpuMs: Math.round(u.systemCPUTime / 1000),
        peak,
      }),
    );
  });
}
