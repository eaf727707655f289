/**
 * Liveness of a lock holder. Only a process on this host can be checked; the
 * caller treats a holder on another host as alive (it cannot know better).
 */

/**
 * Tokens of the locks held by stores open in this process. A lock row naming
 * this process's own pid but an unknown token was left by an earlier process that
 * had the same pid (a container's pid 1 restarting), so it is stale.
 */
export const heldInThisProcess = new Set<string>();

/** True when a process with this pid exists on this host. */
export function processAlive(pid: number): boolean {
  // pid 0 and negatives address process groups, not a process: never "alive".
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, we just may not signal it (another user's process).
    return (e as { code?: unknown }).code === "EPERM";
  }
}
