/**
 * Leadership among several `metalwave serve` on one PostgreSQL store: the
 * store's lock is a lease with a fencing token (src/store/lease.ts), and the
 * process holding it is the leader. Only the leader runs rollouts and
 * maintenance, so only it talks to MAAS, Juju and the hosts; the others are
 * standbys that serve the API read-only and try to take the lease every
 * `retryMs`. A standby takes over when the leader's lease runs out (it died, was
 * paused or cut off: at most the lease length) or at once when the leader was a
 * process on the same host that is gone.
 *
 * A leader that loses its lease must stop acting before it could have run out:
 * the store refuses its writes (STORE_FENCED), the MAAS client refuses to send
 * (`beforeSend: () => store.assertMayAct()`, src/cli/serve.ts), and `onLost` is told, so the process can exit and come back (under
 * systemd's Restart=) as a standby. It never tries to win the lease back while
 * running: a process that lost it may still hold stale state in memory.
 *
 * On a SQLite store there is no standby: the file lock is taken or refused as
 * it always was (STORE_LOCKED).
 */
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { EventHub } from "./events.ts";
import type { RolloutView } from "./read-models.ts";
import { isStoreError, type LockHolder, type LockOwner, type Store } from "../store/index.ts";

export type Role = "leader" | "standby";
export const ROLES: readonly Role[] = ["leader", "standby"];

/** How often a standby tries to take the lease. With the default 15 s lease, a takeover comes within about 17 s. */
export const DEFAULT_STANDBY_RETRY_MS = 2_000;

export interface LeadershipOptions {
  store: Store;
  owner: LockOwner;
  logger: Logger;
  /** The service's registry: the role, lease renewals and takeovers are exported there. */
  registry: Registry;
  retryMs?: number | undefined;
  /** Called once this process holds the lock; `takeover` when it took it from another holder. */
  onElected: (e: { takeover: boolean }) => void;
  /** Called once if the lease is lost while leading; the process must stop acting (the service exits). */
  onLost: (why: string) => void;
}

export class Leadership {
  private readonly o: LeadershipOptions;
  private readonly log: Logger;
  private current: Role = "standby";
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly takeovers: Counter;
  private readonly elections: Counter;
  private lastWarned: string | undefined;

  constructor(o: LeadershipOptions) {
    this.o = o;
    this.log = o.logger.child({ component: "leader" });
    const self = (): Leadership => this;
    new Gauge({
      name: "metalwave_service_role",
      help: "1 for the role this process has now (leader: holds the store's lock and acts; standby: serves reads, waits to take over)",
      labelNames: ["role"],
      registers: [o.registry],
      collect() {
        for (const r of ROLES) this.set({ role: r }, self().role === r ? 1 : 0);
      },
    });
    let seen = 0;
    new Counter({
      name: "metalwave_store_lease_renewals_total",
      help: "Renewals of the store's lease by this process while leading (PostgreSQL stores)",
      registers: [o.registry],
      collect() {
        const s = o.store.lockState();
        if (s.held && s.kind === "lease" && s.renewals > seen) {
          this.inc(s.renewals - seen);
          seen = s.renewals;
        }
      },
    });
    this.elections = new Counter({ name: "metalwave_leader_elections_total", help: "Times this process became the leader", registers: [o.registry] });
    this.takeovers = new Counter({
      name: "metalwave_leader_takeovers_total",
      help: "Times this process became the leader by taking over from a holder that died or whose lease ran out",
      registers: [o.registry],
    });
  }

  get role(): Role {
    return this.current;
  }

  /**
   * Tries to lead at once. On a SQLite store a refusal is thrown (STORE_LOCKED),
   * as before; on PostgreSQL the process becomes a standby and keeps trying.
   */
  start(): void {
    if (this.tryLead()) return;
    this.schedule();
  }

  /** Who leads now, for a standby's refusals and its health answer. */
  leader(): LockHolder | undefined {
    try {
      return this.o.store.lockHolder();
    } catch {
      return undefined;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.tryLead()) this.schedule();
    }, this.o.retryMs ?? DEFAULT_STANDBY_RETRY_MS);
  }

  private tryLead(): boolean {
    if (this.stopped || this.current === "leader") return this.current === "leader";
    const store = this.o.store;
    try {
      store.acquireLock(this.o.owner);
    } catch (e) {
      if (store.backend === "postgres" && isStoreError(e, "STORE_LOCKED")) {
        if (this.lastWarned !== e.message) this.log.info({ leader: this.leader() }, "standby: another metalwave leads this store");
        this.lastWarned = e.message;
        return false;
      }
      if (store.backend === "postgres" && isStoreError(e, "STORE_IO")) {
        this.log.warn({ err: e.message }, "standby: the store is unreachable; trying again");
        return false;
      }
      throw e;
    }
    const note = store.journal(null, { kind: "note", order: "desc", limit: 1 })[0]?.data as { event?: string; by?: { pid?: number; hostname?: string } } | undefined;
    const takeover = note?.event === "lock_taken_over" && note.by?.pid === this.o.owner.pid && note.by.hostname === this.o.owner.hostname;
    this.current = "leader";
    this.elections.inc();
    if (takeover) this.takeovers.inc();
    this.unsubscribe = store.onLockLost((why) => this.lost(why));
    this.log.warn({ takeover, backend: store.backend }, takeover ? "leader: took over the store's lease from a holder that is gone" : "leader: holding the store's lock");
    this.o.onElected({ takeover });
    return true;
  }

  private lost(why: string): void {
    if (this.current !== "leader") return;
    this.current = "standby";
    this.log.error({ why }, "leader: lost the store's lease; stopping at once, writing and sending nothing more");
    this.o.onLost(why);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.unsubscribe?.();
  }
}

/** What a standby streams: the rollout as the store has it, and its host counts, each time they change. */
export interface FollowOptions {
  store: Store;
  events: EventHub;
  currentView: () => RolloutView | null;
  logger: Logger;
  everyMs?: number;
}

/**
 * A standby's event stream: it runs nothing, so it reads what the leader wrote
 * (once a second by default) and publishes a `rollout` event when the rollout's
 * view changed and a `progress` event when its host counts did. Returns stop.
 */
export function followFromStore(o: FollowOptions): () => void {
  let lastView = "";
  let lastCounts = "";
  const tick = (): void => {
    try {
      const view = o.currentView();
      const viewText = JSON.stringify(view);
      if (viewText !== lastView) {
        lastView = viewText;
        if (view) o.events.publish("rollout", view);
      }
      if (!view?.id) return;
      const c = o.store.hostCounts(view.id);
      const progress = {
        rolloutId: view.id,
        state: view.state,
        total: c.total,
        settled: c.total - c.unsettled,
        byPhase: c.byPhase,
        byOutcome: c.byOutcome,
        inFlight: c.unsettled - (c.byPhase["waiting"] ?? 0),
        fromStore: true,
      };
      const countsText = JSON.stringify(progress);
      if (countsText !== lastCounts) {
        lastCounts = countsText;
        o.events.publish("progress", progress);
      }
    } catch (e) {
      o.logger.warn({ err: e instanceof Error ? e.message : String(e) }, "standby: reading the store for the event stream failed; trying again");
    }
  };
  const timer = setInterval(tick, o.everyMs ?? 1_000);
  timer.unref();
  tick();
  return () => clearInterval(timer);
}
