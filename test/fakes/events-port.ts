/**
 * A minimal MaasPort for testing the observer: an events feed and a machine
 * table that the test changes by hand, counting the requests made. Only the
 * methods the observer uses are real; the rest throw, so a test notices if the
 * code under test reaches for them.
 */
import type { MaasPort, MachineState, MaasEvent, EventsPage, EventsQuery, MachineFilter } from "../../src/maas/port.ts";
import { STATUS_LABEL, type NodeStatusCode } from "../../src/model/maas/status.ts";

export class EventsPort {
  readonly machines = new Map<string, { status: NodeStatusCode; message: string | null }>();
  readonly events: MaasEvent[] = [];
  readonly calls = { queryEvents: 0, listMachines: 0, idsRead: 0 };
  private nextId = 1;

  add(systemId: string, status: NodeStatusCode): void {
    this.machines.set(systemId, { status, message: null });
  }

  /** Changes a machine's status and logs the event MAAS would log. */
  setStatus(systemId: string, status: NodeStatusCode, message: string | null = null): void {
    this.machines.set(systemId, { status, message });
    this.events.push({
      id: this.nextId++,
      node: systemId,
      hostname: systemId,
      level: "INFO",
      created: "Fri, 07 Dec. 2018 20:11:08",
      type: STATUS_LABEL[status],
      description: message ?? "",
      username: "admin",
    });
  }

  /** An event that is not a status change. */
  noise(systemId: string): void {
    this.events.push({ id: this.nextId++, node: systemId, hostname: systemId, level: "INFO", created: "", type: "Node powered on", description: "", username: "admin" });
  }

  port(): MaasPort {
    const notUsed = () => {
      throw new Error("not used by the observer");
    };
    const port: Partial<MaasPort> = {
      queryEvents: async (q: EventsQuery = {}): Promise<EventsPage> => {
        this.calls.queryEvents++;
        const after = q.after ?? 0;
        const limit = q.limit ?? 100;
        const newer = this.events.filter((e) => e.id > after);
        // MAAS returns the `limit` events closest to the cursor, newest first.
        const page = q.after === undefined ? this.events.slice(-limit) : newer.slice(0, limit);
        return { count: page.length, events: [...page].reverse() };
      },
      listMachineStates: async (f: MachineFilter = {}): Promise<MachineState[]> => {
        this.calls.listMachines++;
        const ids = f.id ?? [...this.machines.keys()];
        this.calls.idsRead += ids.length;
        return ids.flatMap((id) => {
          const m = this.machines.get(id);
          return m ? [{ system_id: id, status: m.status, status_message: m.message } as unknown as MachineState] : [];
        });
      },
    };
    return new Proxy(port as MaasPort, {
      get: (target, prop) => (prop in target ? target[prop as keyof MaasPort] : notUsed),
    });
  }
}
