import { it } from "vitest";
import { startLayerFleet } from "./helpers.ts";
it("debug", async () => {
  const lf = await startLayerFleet();
  const l = lf.layering({ unitTimeoutMs: 3000, controlPlaneTimeoutMs: 3000 });
  let t = Date.now();
  const lap = (what: string) => { console.log("LAP", what, Date.now() - t, [...lf.history().values()].reduce((a, b) => a + b.length, 0)); t = Date.now(); };
  await l.clusterBarrier("juju-controller", lf.hosts.juju); lap("juju");
  await l.clusterBarrier("kubernetes", lf.hosts.control); lap("k8s");
  await l.clusterBarrier("storage", lf.hosts.storage); lap("storage");
  try { await l.clusterBarrier("control-plane", lf.hosts.control); } catch (e) { console.log("ERR", (e as Error).message); }
  lap("cp");
  await Promise.all(lf.hosts.compute.map((h) => l.layerHost(h))); lap("compute");
  const again = lf.layering();
  await again.clusterBarrier("juju-controller", lf.hosts.juju);
  await again.clusterBarrier("kubernetes", lf.hosts.control);
  await again.clusterBarrier("storage", lf.hosts.storage);
  await again.clusterBarrier("control-plane", lf.hosts.control);
  await Promise.all([...lf.hosts.compute, ...lf.hosts.juju, ...lf.hosts.storage, ...lf.hosts.control].map((h) => again.layerHost(h))); lap("again");
  await lf.f.close();
}, 60000);
