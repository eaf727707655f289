/** What every handler file shares: the JSON reply, the machine of a path, the admin check (§0). */
import { SimulatedFailure } from "../errors.ts";
import { ADMIN_USER } from "../region.ts";
import type { MachineRecord } from "../region.ts";
import type { Call, Reply } from "../routes.ts";

export const ok = (json: unknown): Reply => ({ status: 200, json });

export const machineOf = (c: Call): MachineRecord => c.region.get(c.args[0] ?? "");

export const isAdmin = (user: string): boolean => user === ADMIN_USER;

/** Admin-only operations answer 403 with an empty body to anyone else (§0). */
export function admin(c: Call): void {
  if (!isAdmin(c.user)) throw new SimulatedFailure(403, "", "text/plain; charset=utf-8");
}
