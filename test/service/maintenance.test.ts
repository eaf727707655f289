/**
 * Re-provisioning and remediation through the service: started in the background with
 * 202, visible at GET /api/v1/maintenance with their result or their error code, and
 * refused while a rollout is live.
 */
import { afterEach, describe, expect, it } from "vitest";
import { harness, type Harness } from "./helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function settled(hh: Harness): Promise<{ last: { kind: string; result: Record<string, unknown> | null; error: { code: string; message: string } | null } }> {
  await hh.until(async () => (await hh.api("GET", "/api/v1/maintenance")).json.running === null, "the maintenance pass to end");
  return (await hh.api("GET", "/api/v1/maintenance")).json;
}

describe("maintenance through the service", () => {
  it("re-provisions a deployed host in the background and reports the result; refuses a bad body and an unknown host", async () => {
    h = await harness({ machines: 30 });
    const started = await h.api("POST", "/api/v1/rollouts");
    expect(started.status).toBe(201);
    const id: string = started.json.rollout.id;
    await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live === false, "the rollout to end");
    const target = (await h.maas.listMachines({ tags: ["compute"] }))[0]!;

    const bad = await h.api("POST", "/api/v1/reprovision", { body: { hosts: [] } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/hosts/);

    const accepted = await h.api("POST", "/api/v1/reprovision", { body: { hosts: [target.hostname], reason: "disk errors" } });
    expect(accepted.status).toBe(202);
    expect(accepted.json.running).toMatchObject({ kind: "reprovision" });
    const done = await settled(h);
    expect(done.last.error).toBeNull();
    const result = done.last.result as { reprovision: { byOutcome: { inService: number } } };
    expect(result.reprovision.byOutcome.inService).toBe(1);
    expect(h.sim.stats().machines?.find((m) => m.system_id === target.system_id)?.deployed).toBe(2);

    await h.api("POST", "/api/v1/reprovision", { body: { hosts: ["no-such-host"] } });
    const failed = await settled(h);
    expect(failed.last.error).toMatchObject({ code: "REPROVISION_UNKNOWN_HOST" });

    const metrics = (await h.api("GET", "/metrics")).text;
    expect(metrics).toMatch(/metalwave_remediation_hosts_total\{kind="reprovision",result="in_service"\} 1/);

    const pass = await h.api("POST", "/api/v1/remediation");
    expect(pass.status).toBe(202);
    const remediated = await settled(h);
    expect(remediated.last).toMatchObject({ kind: "remediation", error: null, result: { unhealthy: 0 } });
  }, 60_000);

  it("re-commissions when the body says recommission: the host is commissioned again before its redeploy; a non-boolean is refused", async () => {
    h = await harness({ machines: 30 });
    const started = await h.api("POST", "/api/v1/rollouts");
    const id: string = started.json.rollout.id;
    await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live === false, "the rollout to end");
    const target = (await h.maas.listMachines({ tags: ["compute"] }))[0]!;
    const countsOf = () => h!.sim.stats().machines?.find((m) => m.system_id === target.system_id);
    const commissionedBefore = countsOf()!.commissioned;

    const bad = await h.api("POST", "/api/v1/reprovision", { body: { hosts: [target.hostname], recommission: "yes" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/recommission/);

    const accepted = await h.api("POST", "/api/v1/reprovision", { body: { hosts: [target.hostname], reason: "new NICs", recommission: true } });
    expect(accepted.status).toBe(202);
    const done = await settled(h);
    expect(done.last.error).toBeNull();
    expect((done.last.result as { reprovision: { byOutcome: { inService: number } } }).reprovision.byOutcome.inService).toBe(1);
    expect(countsOf()).toMatchObject({ commissioned: commissionedBefore + 1, deployed: 2, status_name: "Deployed" });
  }, 60_000);

  it("refuses a pass while a rollout is live", async () => {
    h = await harness({ manualClock: true });
    const started = await h.api("POST", "/api/v1/rollouts");
    expect(started.status).toBe(201);
    const refused = await h.api("POST", "/api/v1/remediation");
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe("ROLLOUT_ACTIVE");
    // Let the held rollout end, so the harness can close.
    const id: string = started.json.rollout.id;
    await h.api("POST", `/api/v1/rollouts/${id}/abort`);
    await h.until(async () => (await h!.api("GET", `/api/v1/rollouts/${id}`)).json.rollout.live === false, "the aborted run to stop");
  }, 30_000);
});
