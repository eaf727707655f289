/**
 * The `lock` table's single row: one runner per store. On SQLite the row is
 * held while its process lives (liveness by pid on the same host); on
 * PostgreSQL it is a lease with a fencing token (lease.ts). Both implement
 * `LockKeeper`, which the store delegates its lock methods to.
 */
import { randomUUID } from "node:crypto";
import type { StoreCore } from "./core.ts";
import { StoreError } from "./errors.ts";
import { heldInThisProcess, processAlive } from "./liveness.ts";
import type { LockHolder, LockOwner, LockState } from "./types.ts";

export interface LockKeeper {
  acquire(owner: LockOwner): void;
  release(): void;
  breakLock(by: LockOwner): LockHolder | undefined;
  holder(): LockHolder | undefined;
  state(): LockState;
  /** Called once if the lock is lost while held (a lease that could not be renewed); returns an unsubscribe. */
  onLost(listener: (why: string) => void): () => void;
  /** Stops timers and threads; the store closes the connection after. */
  close(): void;
}

interface LockRow {
  pid: number;
  hostname: string;
  command: string;
  acquired_at: string;
  token: string;
}

export function checkOwner(core: StoreCore, owner: LockOwner): void {
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) {
    throw new StoreError("STORE_SCHEMA", `lock owner has an invalid pid ${owner.pid}`, { path: core.path });
  }
}

/** The SQLite lock: held while its process lives. */
export class FileLock implements LockKeeper {
  private readonly core: StoreCore;
  private token: string | undefined;

  constructor(core: StoreCore) {
    this.core = core;
  }

  acquire(owner: LockOwner): void {
    const core = this.core;
    checkOwner(core, owner);
    const token = this.token ?? randomUUID();
    core.write("taking the store's lock", {}, () => {
      const row = core.sql.get<LockRow>("SELECT pid, hostname, command, acquired_at, token FROM lock WHERE id = 1");
      if (row && row.token === this.token) return;
      if (row && holderAlive(row, owner)) {
        const where = row.hostname === owner.hostname ? "" : ` on host ${row.hostname} (its liveness cannot be checked from ${owner.hostname}; if that process is gone, break the lock)`;
        throw new StoreError("STORE_LOCKED", `store ${core.path} is locked by pid ${row.pid}${where} running "${row.command}" since ${row.acquired_at}`, { path: core.path });
      }
      core.sql.run(
        `INSERT INTO lock (id, pid, hostname, command, acquired_at, token) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, hostname = excluded.hostname, command = excluded.command,
           acquired_at = excluded.acquired_at, token = excluded.token`,
        [owner.pid, owner.hostname, owner.command, core.at(), token],
      );
      if (row) {
        core.insertJournal(
          null,
          null,
          "note",
          JSON.stringify({
            event: "lock_taken_over",
            reason: "the holder is no longer running",
            previous: { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at },
            by: owner,
          }),
        );
      }
    });
    this.token = token;
    heldInThisProcess.add(token);
  }

  release(): void {
    const token = this.token;
    if (token === undefined) return;
    this.core.write("releasing the store's lock", {}, () => {
      this.core.sql.run("DELETE FROM lock WHERE id = 1 AND token = ?", [token]);
    });
    this.token = undefined;
    heldInThisProcess.delete(token);
  }

  breakLock(by: LockOwner): LockHolder | undefined {
    const core = this.core;
    return core.write("breaking the store's lock", {}, () => {
      const row = core.sql.get<LockRow>("SELECT pid, hostname, command, acquired_at, token FROM lock WHERE id = 1");
      if (!row) return undefined;
      core.sql.run("DELETE FROM lock WHERE id = 1");
      if (row.token === this.token) {
        this.token = undefined;
        heldInThisProcess.delete(row.token);
      }
      const previous = { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at };
      core.insertJournal(null, null, "note", JSON.stringify({ event: "lock_broken", previous, by }));
      return previous;
    });
  }

  holder(): LockHolder | undefined {
    const row = this.core.read("reading the store's lock", {}, () => this.core.sql.get<LockRow>("SELECT pid, hostname, command, acquired_at, token FROM lock WHERE id = 1"));
    return row ? { pid: row.pid, hostname: row.hostname, command: row.command, acquiredAt: row.acquired_at } : undefined;
  }

  state(): LockState {
    return this.token === undefined ? { held: false } : { held: true, kind: "file" };
  }

  onLost(): () => void {
    // A file lock is held as long as this process lives: it is never lost while held.
    return () => {};
  }

  close(): void {}
}

function holderAlive(row: LockRow, owner: LockOwner): boolean {
  if (row.hostname !== owner.hostname) return true;
  // Our own pid with a token no store here holds: an earlier process that had the same pid (a restarted container's pid 1).
  if (row.pid === process.pid) return heldInThisProcess.has(row.token);
  return processAlive(row.pid);
}
