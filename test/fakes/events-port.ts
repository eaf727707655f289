/**
 * The MAAS the observer tests use: the full fake (test/fakes/maas.ts) seen through the
 * observer's two calls, an events feed and machine states read by id, with the requests
 * counted. The test changes machines by hand; `port()` is the fake itself.
 */
import type { MaasPort, MachineFilter } from "../../src/maas/port.ts";
import type { NodeStatusCode } from "../../src/model/maas/status.ts";
import { FakeMaas } from "./maas.ts";

export class EventsPort {
  readonly maas = new FakeMaas();
  readonly calls = { queryEvents: 0, listMachines: 0, idsRead: 0 };

  constructor() {
    this.maas.before = (op, args) => {
      if (op === "queryEvents") this.calls.queryEvents++;
      if (op === "listMachineStates") {
        this.calls.listMachines++;
        this.calls.idsRead += ((args[0] as MachineFilter | undefined)?.id ?? [...this.maas.machines.keys()]).length;
      }
    };
  }

  add(systemId: string, status: NodeStatusCode): void {
    this.maas.add({ system_id: systemId, status });
  }

  /** Changes a machine's status (adding it if new) and logs the event MAAS would log (`{ event: false }`: an event missed). */
  setStatus(systemId: string, status: NodeStatusCode, message: string | null = null, opts: { event?: boolean } = {}): void {
    if (!this.maas.machines.has(systemId)) this.maas.add({ system_id: systemId, status });
    this.maas.setStatus(systemId, status, message, opts);
  }

  /** An event that is not a status change. */
  noise(systemId: string): void {
    this.maas.logEvent(systemId, "Node powered on", "");
  }

  port(): MaasPort {
    return this.maas;
  }
}
