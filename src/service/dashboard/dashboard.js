/* global window, document, sessionStorage, localStorage, fetch, TextDecoderStream, AbortController, ResizeObserver */
/**
 * The live dashboard of `metalwave serve` (docs/service.md, "Dashboard"): plain ES
 * module, no build step. It reads the same API as everyone else, with the operator's
 * bearer token in the Authorization header:
 *
 * - GET /api/v1/events (server-sent events, read over fetch() so the token can go in a
 *   header): `rollout` state changes and `progress` counts;
 * - GET /api/v1/rollouts/{id}: counts and failed hosts with their reasons;
 * - GET /api/v1/rollouts/{id}/hosts: every machine once, then (`?after=cursor`) only the
 *   machines whose phase changed, asked for when a progress event says things moved;
 * - POST /api/v1/rollouts/{id}/pause and /resume for the button;
 * - GET /api/v1/maintenance and the `maintenance` event: the re-provisioning or
 *   remediation pass running, or how the last one ended. A pass's rollouts come as
 *   `rollout` and `progress` events like any other; GET …/hosts says their `kind`.
 *
 * Its modules: constants.js, sse.js (the event stream), cells.js (the machines on one
 * canvas), page.js (errors, storage, token, formatting), panels.js (what is drawn from
 * what was read); this file connects, reads and dispatches.
 *
 * The machines are cells on one <canvas>: a phase change marks its cell dirty, and one
 * requestAnimationFrame callback repaints the dirty cells only.
 */
import { TOKEN_KEY, GROUP_KEY, HOSTS_EVERY_MS, DETAIL_EVERY_MS, SAFETY_POLL_MS, STREAM_SILENCE_MS, PHASE_COLOURS, KIND_LABELS } from "./constants.js";
import { SseParser } from "./sse.js";
import { CellGrid } from "./cells.js";
import { Unauthorized, ApiError, $, readStorage, writeStorage, tokenFromHash, takeToken } from "./page.js";
import { DashboardPanels } from "./panels.js";

// What the page's modules export, from the one entry point (tests import it from here).
export { PHASE_COLOURS } from "./constants.js";
export { SseParser } from "./sse.js";
export { CellGrid } from "./cells.js";
export { groupFailures, passCounts } from "./page.js";

class Dashboard extends DashboardPanels {
  constructor() {
    super();
    this.token = null;
    this.stream = null;
    this.stopped = false;
    /** The rollout shown: its id, view (state), latest counts, hosts cursor. */
    this.id = null;
    this.view = null;
    this.progress = null;
    this.progressSeq = 0;
    this.hostsReady = false;
    this.cursor = 0;
    this.budget = null;
    this.generation = 0;
    this.failedSeen = -1;
    this.hostsPoll = { timer: 0, running: false, again: false, last: 0 };
    this.detailPoll = { timer: 0, running: false, again: false, last: 0 };
    this.detailCounts = false;
    this.sayTimer = 0;
    this.safety = 0;
    this.busy = false;
    /** The shown rollout's kind (from GET …/hosts), null until read; the maintenance view. */
    this.kind = null;
    this.maintenance = null;
    this.maintTimer = 0;
    this.phaseRows = new Map();
    this.phaseOrder = Object.keys(PHASE_COLOURS);
    /** Streams started: a loop whose number is not the latest ends. */
    this.streamGen = 0;
    /** The last run time seen of the rollout shown (a finished rollout read from the store has none). */
    this.elapsed = { id: null, ms: null };
    /** A machine's page in the MAAS UI (`{systemId}` for its id), from GET …/hosts. */
    this.maasMachineUrl = null;
    this.grid = new CellGrid($("cells"), { onFlush: (g) => this.onGridFlush(g) });
  }

  start() {
    $("login").addEventListener("submit", (e) => {
      e.preventDefault();
      const t = $("token").value.trim();
      if (!t) return;
      writeStorage(sessionStorage, TOKEN_KEY, t);
      $("token").value = "";
      this.connect(t);
    });
    $("forget").addEventListener("click", () => this.signOut("signed out"));
    $("control").addEventListener("click", () => void this.control());
    const select = $("group-by");
    const saved = readStorage(localStorage, GROUP_KEY);
    if (saved && ["wave", "zone", "role", "region"].includes(saved)) select.value = saved;
    this.grid.groupBy = select.value;
    select.addEventListener("change", () => {
      writeStorage(localStorage, GROUP_KEY, select.value);
      // The cells move: a tooltip would name a machine that is no longer under the pointer.
      $("tip").hidden = true;
      this.grid.setGroupBy(select.value);
    });
    const wrap = $("canvas-wrap");
    let lastWidth = wrap.clientWidth;
    new ResizeObserver(() => {
      if (wrap.clientWidth === lastWidth || this.grid.count === 0) return;
      lastWidth = wrap.clientWidth;
      $("tip").hidden = true;
      this.grid.layout();
    }).observe(wrap);
    const canvas = $("cells");
    canvas.addEventListener("mousemove", (e) => this.hover(e));
    canvas.addEventListener("mouseleave", () => ($("tip").hidden = true));
    canvas.addEventListener("click", (e) => void this.showHost(e));
    this.renderLegend();
    // A `#token=` link opened in a tab already showing the page changes only the fragment.
    window.addEventListener("hashchange", () => {
      const t = tokenFromHash();
      if (t && t !== this.token) this.connect(t);
    });
    const token = takeToken();
    if (token) this.connect(token);
    else this.showLogin("");
  }

  // ---- auth and the stream ---------------------------------------------------------

  showLogin(error) {
    $("main").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = error;
    this.setConn("signed out", "off");
    $("token").focus();
  }

  signOut(why) {
    writeStorage(sessionStorage, TOKEN_KEY, null);
    this.token = null;
    this.stopped = true;
    this.stream?.abort();
    this.stream = null;
    clearInterval(this.safety);
    this.showLogin(why === "signed out" ? "" : why);
  }

  connect(token) {
    this.stream?.abort();
    this.token = token;
    this.stopped = false;
    $("login").hidden = true;
    $("main").hidden = false;
    void this.streamLoop();
    void this.loadCurrent();
    clearInterval(this.safety);
    this.safety = setInterval(() => {
      if (this.view?.live) this.requestHosts();
    }, SAFETY_POLL_MS);
  }

  setConn(text, state) {
    const el = $("conn");
    el.textContent = text;
    el.dataset.conn = state;
  }

  async api(method, path, body) {
    const headers = { authorization: `Bearer ${this.token}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const json = await res.json().catch(() => null);
    if (res.status === 401) {
      this.signOut("the service refused the token (401)");
      throw new Unauthorized();
    }
    if (!res.ok) throw new ApiError(res.status, json?.error?.code, json?.error?.message ?? `HTTP ${res.status}`);
    return json;
  }

  async streamLoop() {
    let retry = 2_000;
    const gen = ++this.streamGen;
    while (!this.stopped && gen === this.streamGen) {
      const ac = new AbortController();
      this.stream = ac;
      const parser = new SseParser();
      let silence = 0;
      const quiet = () => {
        clearTimeout(silence);
        silence = setTimeout(() => ac.abort(), STREAM_SILENCE_MS);
      };
      try {
        this.setConn("connecting", "connecting");
        const res = await fetch("/api/v1/events", { headers: { authorization: `Bearer ${this.token}` }, cache: "no-store", signal: ac.signal });
        if (res.status === 401) {
          this.signOut("the service refused the token (401)");
          return;
        }
        if (!res.ok || !res.body) throw new Error(`the event stream answered ${res.status}`);
        this.setConn("live", "live");
        quiet();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          quiet();
          for (const ev of parser.feed(value)) this.onEvent(ev);
        }
      } catch {
        // Network error, the service went away, or the silence timer: open it again.
      } finally {
        clearTimeout(silence);
      }
      if (this.stopped || gen !== this.streamGen) return;
      retry = parser.retry ?? retry;
      this.setConn("reconnecting", "reconnecting");
      await new Promise((r) => setTimeout(r, retry));
    }
  }

  onEvent(ev) {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    switch (ev.type) {
      case "rollout":
        this.onRollout(data);
        break;
      case "progress":
        this.onProgress(data);
        break;
      case "maintenance":
        this.onMaintenance(data);
        break;
      case "shutdown":
        this.say("the service is stopping");
        break;
      default:
        break;
    }
  }

  // ---- the rollout shown --------------------------------------------------------------

  /** The live rollout, else the latest one, on (re)connecting. */
  async loadCurrent() {
    try {
      this.onMaintenance(await this.api("GET", "/api/v1/maintenance"));
      const list = await this.api("GET", "/api/v1/rollouts");
      const current = list.active?.id ? list.active : list.rollouts[0];
      if (list.active && !list.active.id) this.setView(list.active);
      if (current?.id && current.id !== this.id) this.show(current.id);
      else if (!current) this.setView(null);
    } catch (e) {
      this.fail(e);
    }
  }

  /** Switches to another rollout: its counts and failures, then every machine. */
  show(id) {
    this.id = id;
    this.generation++;
    this.hostsReady = false;
    this.cursor = 0;
    this.failedSeen = -1;
    this.failures = undefined;
    this.progress = null;
    this.kind = null;
    this.renderKind();
    $("rollout-id").textContent = id;
    this.requestDetail(true);
    void this.loadHosts(this.generation);
  }

  onRollout(view) {
    if (view.id && view.id !== this.id) this.show(view.id);
    if (view.id === null || view.id === this.id) this.setView(view);
    if (!view.live && view.id === this.id) {
      // The run stopped: the final counts come from the rollout, the final phases from the journal.
      this.requestDetail(true);
      this.requestHosts();
    }
  }

  onProgress(p) {
    if (p.rolloutId !== this.id) this.show(p.rolloutId);
    this.progressSeq++;
    this.setProgress(p);
    if (this.view && this.view.id === p.rolloutId && this.view.state !== p.state) this.setView({ ...this.view, state: p.state });
    this.requestHosts();
    const failed = (p.byOutcome.quarantined ?? 0) + (p.byOutcome.failed ?? 0) + (p.byOutcome.aborted ?? 0);
    if (failed !== this.failedSeen) this.requestDetail(false);
  }

  async loadHosts(generation) {
    try {
      const v = await this.api("GET", `/api/v1/rollouts/${encodeURIComponent(this.id)}/hosts`);
      if (generation !== this.generation) return;
      this.cursor = v.cursor;
      this.budget = v.budget;
      this.maasMachineUrl = v.maasMachineUrl ?? null;
      this.regionMachineUrls = v.regionMachineUrls ?? {};
      // Several regions: grouping by region, and the per-region counts, are offered.
      const regional = v.hosts.some((h) => h.region);
      document.querySelector('#group-by option[value="region"]').hidden = !regional;
      $("regions").hidden = !regional;
      // Failures read before the links were known get them now.
      if (this.failures?.length) this.renderFailures(this.failures);
      this.kind = v.kind ?? "rollout";
      this.renderKind();
      this.phaseOrder = [...new Set([...v.phases, ...Object.keys(PHASE_COLOURS)])];
      this.grid.setHosts(v.hosts, v.phases);
      this.hostsReady = true;
      $("cells").dataset.count = String(v.hosts.length);
      $("cell-count").textContent = `${v.hosts.length.toLocaleString()} machine${v.hosts.length === 1 ? "" : "s"}${this.kind === "rollout" ? "" : ` of a ${KIND_LABELS[this.kind] ?? this.kind} rollout`}`;
      this.renderLegend();
      this.renderBudget();
      // Whatever moved while the whole list was on its way.
      this.requestHosts();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Reads the machines whose phase changed, at most every HOSTS_EVERY_MS, one read at a time. */
  requestHosts() {
    this.throttle(this.hostsPoll, HOSTS_EVERY_MS, async () => {
      if (!this.hostsReady || !this.id) return;
      const generation = this.generation;
      const v = await this.api("GET", `/api/v1/rollouts/${encodeURIComponent(this.id)}/hosts?after=${this.cursor}`);
      if (generation !== this.generation) return;
      for (const h of v.hosts) this.grid.setPhase(h.systemId, h.phase);
      this.cursor = v.cursor;
      this.budget = v.budget;
    });
  }

  /** Reads the rollout (counts, failures); `counts`: also take its counts when no progress event came meanwhile. */
  requestDetail(counts) {
    if (counts) this.detailCounts = true;
    this.throttle(this.detailPoll, DETAIL_EVERY_MS, async () => {
      if (!this.id) return;
      const generation = this.generation;
      const seq = this.progressSeq;
      const takeCounts = this.detailCounts;
      this.detailCounts = false;
      const d = await this.api("GET", `/api/v1/rollouts/${encodeURIComponent(this.id)}`);
      if (generation !== this.generation) return;
      this.applyDetail(d, takeCounts && seq === this.progressSeq);
    });
  }

  applyDetail(d, takeCounts) {
    this.setView(d.rollout);
    if (d.progress && (takeCounts || !this.progress)) this.setProgress({ ...d.progress, rolloutId: d.rollout.id, state: d.rollout.state });
    const o = d.progress?.byOutcome ?? {};
    this.failedSeen = (o.quarantined ?? 0) + (o.failed ?? 0) + (o.aborted ?? 0);
    this.failures = d.failures;
    this.renderFailures(d.failures);
  }

  throttle(slot, every, fn) {
    if (slot.running) {
      slot.again = true;
      return;
    }
    if (slot.timer) return;
    const wait = Math.max(0, slot.last + every - Date.now());
    slot.timer = setTimeout(async () => {
      slot.timer = 0;
      slot.running = true;
      slot.last = Date.now();
      try {
        await fn();
      } catch (e) {
        this.fail(e);
      } finally {
        slot.running = false;
        if (slot.again) {
          slot.again = false;
          this.throttle(slot, every, fn);
        }
      }
    }, wait);
  }

  // ---- rendering ------------------------------------------------------------------------

  setView(view) {
    this.view = view;
    const state = $("rollout-state");
    // A rollout on the embedded simulator says so in the header (its recorded region).
    const region = $("rollout-region");
    const simulated = view?.region?.simulated === true;
    region.hidden = !simulated;
    region.title = simulated ? `${view.region.note ?? "simulated MAAS region"} (${view.region.url})` : "";
    if (!view) {
      $("rollout-id").textContent = "no rollout yet";
      state.textContent = "—";
      state.dataset.state = "";
      $("rollout-reason").textContent = "";
    } else {
      if (view.id) $("rollout-id").textContent = view.id;
      state.textContent = view.live || view.state === "planning" ? view.state : `${view.state} (not running here)`;
      if (view.state === "completed" || view.state === "aborted") state.textContent = view.state;
      state.dataset.state = view.state;
      state.dataset.live = String(view.live);
      $("rollout-reason").textContent = view.reason ?? "";
    }
    this.renderControl();
  }
  say(text, kind = "info") {
    const el = $("message");
    el.textContent = text;
    el.dataset.kind = kind;
    clearTimeout(this.sayTimer);
    this.sayTimer = setTimeout(() => (el.textContent = ""), 8_000);
  }

  fail(e) {
    if (e instanceof Unauthorized) return;
    this.say(e instanceof ApiError ? `${e.code ?? e.status}: ${e.message}` : `could not reach the service: ${e?.message ?? e}`, "error");
  }
}

if (typeof document !== "undefined" && document.getElementById("cells")) {
  const start = () => new Dashboard().start();
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
