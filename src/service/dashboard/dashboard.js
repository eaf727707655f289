/* global window, document, location, history, sessionStorage, localStorage, fetch, TextDecoderStream, AbortController, requestAnimationFrame, ResizeObserver, DocumentFragment */
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
 * The machines are cells on one <canvas>: a phase change marks its cell dirty, and one
 * requestAnimationFrame callback repaints the dirty cells only.
 */

const TOKEN_KEY = "metalwave.token";
const GROUP_KEY = "metalwave.groupBy";
/** Least time between two reads of the changed machines, and between two reads of the rollout. */
const HOSTS_EVERY_MS = 250;
const DETAIL_EVERY_MS = 500;
/** While a rollout is live the machines are read at least this often, events or not. */
const SAFETY_POLL_MS = 5_000;
/** A stream with no byte for this long (heartbeats come every 15 s) is dropped and opened again. */
const STREAM_SILENCE_MS = 45_000;
/** Failed hosts listed; the rest are counted. */
const MAX_FAILURE_ROWS = 500;

/** Phase colours, for the cells, the legend and the counts. */
export const PHASE_COLOURS = {
  waiting: "#d0d4da",
  enlisted: "#9fb3c8",
  commissioning: "#5b8def",
  tagging: "#7fa9f5",
  allocating: "#8e7cf0",
  deploying: "#f2b233",
  deployed: "#a5d46a",
  layering: "#3fb4a8",
  inService: "#2e9d4f",
  // A retry (released to be deployed again): purple, far in hue from the reds and oranges of quarantine and failure.
  releasing: "#ae3ec9",
  quarantining: "#e57373",
  quarantined: "#d9480f",
  aborting: "#a1887f",
  aborted: "#5d4037",
  failed: "#c92a2a",
};
const UNKNOWN_COLOUR = "#222222";
/** Outcomes that spend the failure budget (aborted hosts were stopped on purpose). */
const BUDGET_OUTCOMES = new Set(["quarantined", "failed"]);
const SETTLED_BAD = new Set(["quarantined", "failed", "aborted"]);
/** What a rollout is for (its plan's kind), as the page names it. */
const KIND_LABELS = { rollout: "rollout", reprovision: "re-provisioning", replacement: "replacement by spares", remediation: "remediation" };
const PASS_LABELS = { reprovision: "Re-provisioning pass", remediation: "Remediation pass" };

// ---- server-sent events over fetch ----------------------------------------------------

/**
 * Incremental parser of a text/event-stream (the WHATWG rules that matter here: lines
 * end in CRLF, LF or CR; `:` starts a comment; `event`, `data`, `id`, `retry` fields;
 * a blank line dispatches). Feed it decoded text in chunks of any size.
 */
export class SseParser {
  constructor() {
    this.buf = "";
    this.type = "";
    this.data = [];
    this.lastId = "";
    /** The server's `retry:` in ms, once it sent one. */
    this.retry = undefined;
    this.comments = 0;
  }

  /** Returns the events completed by this chunk: `{ type, data, id }`, data as text. */
  feed(text) {
    const out = [];
    const buf = this.buf + text;
    // A CR at the very end may be the first half of a CRLF: it waits for the next chunk.
    const eol = /\r\n|\r(?!$)|\n/g;
    let pos = 0;
    let m;
    while ((m = eol.exec(buf)) !== null) {
      this.line(buf.slice(pos, m.index), out);
      pos = eol.lastIndex;
    }
    this.buf = buf.slice(pos);
    return out;
  }

  line(line, out) {
    if (line === "") {
      if (this.data.length > 0) out.push({ type: this.type || "message", data: this.data.join("\n"), id: this.lastId });
      this.type = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }
}

// ---- the cells --------------------------------------------------------------------------

const HEADER_H = 20;
const GROUP_GAP = 8;

function groupKeyOf(host, by) {
  switch (by) {
    case "zone":
      return host.zone || "(no zone)";
    case "role":
      return host.roles.length ? [...host.roles].sort().join(" + ") : "(no role)";
    case "region":
      return host.region ?? "(one region)";
    default:
      // The API counts waves from 1.
      return host.wave;
  }
}

function cellSizeFor(n) {
  if (n <= 100) return 18;
  if (n <= 500) return 14;
  if (n <= 2_000) return 10;
  if (n <= 6_000) return 7;
  return 5;
}

/**
 * Every machine as one cell of a canvas, grouped by wave, zone or role. `setPhase`
 * marks a cell dirty; the next animation frame repaints the dirty cells and the
 * headers of their groups, nothing else. A layout change (data, grouping, width)
 * repaints everything once.
 */
export class CellGrid {
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onFlush = opts.onFlush ?? (() => {});
    this.hosts = [];
    this.index = new Map();
    this.phases = [];
    this.phaseIndex = new Map();
    this.colours = [];
    this.phaseIx = new Uint8Array(0);
    this.groupBy = "wave";
    this.groups = [];
    this.groupOf = new Int32Array(0);
    this.cellX = new Float32Array(0);
    this.cellY = new Float32Array(0);
    this.size = 10;
    this.gap = 1;
    this.width = 0;
    this.height = 0;
    this.dirty = new Uint8Array(0);
    this.dirtyList = [];
    this.dirtyGroups = new Set();
    this.frame = 0;
    this.fullRedraw = false;
    this.waveFailures = [];
  }

  get count() {
    return this.hosts.length;
  }

  phaseId(name) {
    let i = this.phaseIndex.get(name);
    if (i === undefined) {
      i = this.phases.length;
      this.phases.push(name);
      this.phaseIndex.set(name, i);
      this.colours.push(PHASE_COLOURS[name] ?? UNKNOWN_COLOUR);
    }
    return i;
  }

  /** Replaces every machine: `hosts` as GET /hosts gives them, `phases` its phase order. */
  setHosts(hosts, phases) {
    this.phases = [];
    this.phaseIndex = new Map();
    this.colours = [];
    for (const p of phases) this.phaseId(p);
    const n = hosts.length;
    this.hosts = hosts.map((h) => ({ systemId: h.systemId, region: h.region ?? null, hostname: h.hostname, wave: h.wave, zone: h.zone, roles: h.roles }));
    this.index = new Map(hosts.map((h, i) => [h.systemId, i]));
    this.phaseIx = new Uint8Array(n);
    this.dirty = new Uint8Array(n);
    this.dirtyList = [];
    const waves = hosts.reduce((m, h) => Math.max(m, h.wave), 0);
    this.waveFailures = new Array(waves).fill(0);
    for (let i = 0; i < n; i++) {
      const p = this.phaseId(hosts[i].phase);
      this.phaseIx[i] = p;
      if (BUDGET_OUTCOMES.has(hosts[i].phase)) this.waveFailures[hosts[i].wave - 1]++;
    }
    this.layout();
  }

  setGroupBy(by) {
    if (by === this.groupBy) return;
    this.groupBy = by;
    this.layout();
  }

  /** Sets one machine's phase; false when the machine is unknown. Repainted on the next frame. */
  setPhase(systemId, phase) {
    const i = this.index.get(systemId);
    if (i === undefined) return false;
    const p = this.phaseId(phase);
    const old = this.phaseIx[i];
    if (old === p) return true;
    const g = this.groups[this.groupOf[i]];
    g.tally[old]--;
    g.tally[p] = (g.tally[p] ?? 0) + 1;
    const wave = this.hosts[i].wave - 1;
    if (BUDGET_OUTCOMES.has(this.phases[old])) this.waveFailures[wave]--;
    if (BUDGET_OUTCOMES.has(phase)) this.waveFailures[wave]++;
    this.phaseIx[i] = p;
    if (!this.dirty[i]) {
      this.dirty[i] = 1;
      this.dirtyList.push(i);
    }
    this.dirtyGroups.add(this.groupOf[i]);
    this.schedule();
    return true;
  }

  /** Machines per phase, counted from the cells. */
  tally() {
    const counts = new Array(this.phases.length).fill(0);
    for (let i = 0; i < this.phaseIx.length; i++) counts[this.phaseIx[i]]++;
    const out = {};
    counts.forEach((n, p) => {
      if (n > 0) out[this.phases[p]] = n;
    });
    return out;
  }

  /** Several regions: machines per region and phase, counted from the cells (empty with one region). */
  regionTally() {
    const out = new Map();
    for (let i = 0; i < this.hosts.length; i++) {
      const r = this.hosts[i].region;
      if (r === null) continue;
      let byPhase = out.get(r);
      if (!byPhase) out.set(r, (byPhase = {}));
      const phase = this.phases[this.phaseIx[i]];
      byPhase[phase] = (byPhase[phase] ?? 0) + 1;
    }
    return out;
  }

  /** Groups the machines and places every cell for the canvas's current width. */
  layout() {
    const n = this.hosts.length;
    const byKey = new Map();
    for (let i = 0; i < n; i++) {
      const key = groupKeyOf(this.hosts[i], this.groupBy);
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push(i);
    }
    const keys = [...byKey.keys()].sort((a, b) => (typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b))));
    const width = Math.max(200, Math.floor(this.canvas.parentElement?.clientWidth || 800));
    this.size = cellSizeFor(n);
    this.gap = this.size >= 10 ? 2 : 1;
    const pitch = this.size + this.gap;
    const perRow = Math.max(1, Math.floor((width + this.gap) / pitch));
    this.groupOf = new Int32Array(n);
    this.cellX = new Float32Array(n);
    this.cellY = new Float32Array(n);
    this.groups = [];
    let y = 0;
    keys.forEach((key, gi) => {
      const members = byKey.get(key);
      const tally = new Array(this.phases.length).fill(0);
      const top = y;
      const cellsTop = top + HEADER_H;
      members.forEach((i, k) => {
        this.groupOf[i] = gi;
        this.cellX[i] = (k % perRow) * pitch;
        this.cellY[i] = cellsTop + Math.floor(k / perRow) * pitch;
        tally[this.phaseIx[i]]++;
      });
      const rows = Math.ceil(members.length / perRow);
      const label = this.groupBy === "wave" ? `wave ${key}` : this.groupBy === "zone" ? `zone ${key}` : this.groupBy === "region" ? `region ${key}` : `${key}`;
      this.groups.push({ key, label, members, tally, top, cellsTop, bottom: cellsTop + rows * pitch, perRow });
      y = cellsTop + rows * pitch + GROUP_GAP;
    });
    this.width = width;
    this.height = Math.max(y, HEADER_H);
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.fullRedraw = true;
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.flush();
    });
  }

  /** Paints what changed since the last paint (everything after a layout). */
  flush() {
    const ctx = this.ctx;
    if (this.fullRedraw) {
      this.fullRedraw = false;
      ctx.clearRect(0, 0, this.width, this.height);
      this.groups.forEach((_, gi) => this.drawHeader(gi));
      this.drawCells(this.hosts.keys());
    } else {
      for (const gi of this.dirtyGroups) this.drawHeader(gi);
      this.drawCells(this.dirtyList);
    }
    for (const i of this.dirtyList) this.dirty[i] = 0;
    this.dirtyList = [];
    this.dirtyGroups.clear();
    this.onFlush(this);
  }

  drawCells(indices) {
    // One fill style per phase: cells are bucketed by colour first.
    const buckets = this.colours.map(() => []);
    for (const i of indices) buckets[this.phaseIx[i]].push(i);
    const ctx = this.ctx;
    const s = this.size;
    buckets.forEach((list, p) => {
      if (list.length === 0) return;
      ctx.fillStyle = this.colours[p];
      for (const i of list) ctx.fillRect(this.cellX[i], this.cellY[i], s, s);
    });
  }

  drawHeader(gi) {
    const g = this.groups[gi];
    if (!g) return;
    const ctx = this.ctx;
    let inService = 0;
    let bad = 0;
    g.tally.forEach((n, p) => {
      const name = this.phases[p];
      if (name === "inService") inService += n;
      else if (SETTLED_BAD.has(name)) bad += n;
    });
    ctx.clearRect(0, g.top, this.width, HEADER_H);
    ctx.fillStyle = "#1d2330";
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(g.label, 0, g.top + HEADER_H / 2);
    const w = ctx.measureText(g.label).width;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#667085";
    const rest = ` · ${g.members.length} machines · ${inService} in service${bad ? ` · ${bad} failed` : ""}`;
    ctx.fillText(rest, w, g.top + HEADER_H / 2);
  }

  /** The machine under a point of the canvas (CSS pixels), or -1. */
  hit(x, y) {
    const pitch = this.size + this.gap;
    for (const g of this.groups) {
      if (y < g.cellsTop || y >= g.bottom) continue;
      const col = Math.floor(x / pitch);
      const row = Math.floor((y - g.cellsTop) / pitch);
      if (col >= g.perRow || x - col * pitch >= this.size || y - g.cellsTop - row * pitch >= this.size) return -1;
      const k = row * g.perRow + col;
      return k < g.members.length ? g.members[k] : -1;
    }
    return -1;
  }
}

// ---- the page ---------------------------------------------------------------------------

class Unauthorized extends Error {}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const $ = (id) => document.getElementById(id);

function readStorage(store, key) {
  try {
    return store.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(store, key, value) {
  try {
    if (value === null) store.removeItem(key);
    else store.setItem(key, value);
  } catch {
    // Storage refused (private mode): the value lives as long as the page.
  }
}

/**
 * `#token=…` in the address, taken and removed from it: the history entry it made is
 * replaced by the same address without it, so neither the address bar nor Back shows it.
 * Null when the fragment holds no token.
 */
function tokenFromHash() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return null;
  let token = m[1];
  try {
    token = decodeURIComponent(token);
  } catch {
    // Left as written.
  }
  history.replaceState(null, "", location.pathname + location.search);
  if (!token) return null;
  writeStorage(sessionStorage, TOKEN_KEY, token);
  return token;
}

/** The token of the address (taken once), else this tab's stored token. */
function takeToken() {
  return tokenFromHash() ?? readStorage(sessionStorage, TOKEN_KEY);
}

/** Failures grouped by what went wrong (outcome, phase, code), largest group first, each with its hosts. */
export function groupFailures(failures) {
  const groups = new Map();
  for (const f of failures) {
    const key = `${f.outcome}\u0000${f.phase}\u0000${f.code}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { outcome: f.outcome, phase: f.phase, code: f.code, message: f.message, hosts: [] }));
    g.hosts.push(f);
  }
  return [...groups.values()].sort((a, b) => b.hosts.length - a.hosts.length);
}

function fmtTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString();
}

/** What became of a pass's hosts: the result of a reprovision run or of a remediation pass. */
export function passCounts(result) {
  const run = result?.reprovision ?? result?.rollout ?? null;
  return {
    inService: run?.byOutcome?.inService ?? 0,
    quarantined: run?.byOutcome?.quarantined ?? 0,
    replaced: (result?.replacements ?? []).filter((r) => r.spare !== null).length,
  };
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined) return null;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

class Dashboard {
  constructor() {
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

  renderControl() {
    const button = $("control");
    const v = this.view;
    const pass = this.maintenance?.running ?? null;
    const maintenanceKind = this.kind !== null && this.kind !== "rollout";
    let action = "";
    // A maintenance pass runs its rollouts to their end: the service refuses controls meanwhile.
    if (pass || maintenanceKind) action = "";
    else if (v?.id && v.state === "running" && v.live) action = "pause";
    else if (v?.id && (v.state === "paused" || v.state === "failed" || (v.state === "running" && !v.live))) action = "resume";
    button.dataset.action = action;
    button.textContent = action === "resume" ? "Resume" : "Pause";
    button.disabled = action === "" || this.busy;
    button.title =
      action === "pause"
        ? "No new machine starts; machines in flight finish their current phase"
        : action === "resume"
          ? "Carry on with the rollout"
          : pass
            ? `${PASS_LABELS[pass.kind] ?? pass.kind} running: wait for it to end`
            : maintenanceKind
              ? "A maintenance pass's rollout is not paused or resumed from here"
              : "";
  }

  /** The shown rollout's kind: a label beside its id and a frame round its machines when it is a maintenance pass's. */
  renderKind() {
    const el = $("rollout-kind");
    const kind = this.kind ?? "";
    el.dataset.kind = kind;
    el.hidden = kind === "" || kind === "rollout";
    el.textContent = KIND_LABELS[kind] ?? kind;
    $("grid").dataset.kind = kind;
    this.renderControl();
    this.renderBudget();
  }

  onMaintenance(m) {
    this.maintenance = m;
    const running = m?.running ?? null;
    // The pass's rollout is followed like any other (its events bring it too, but a page that connects late learns it here).
    if (running?.rolloutId && running.rolloutId !== this.id) this.show(running.rolloutId);
    clearInterval(this.maintTimer);
    this.maintTimer = running ? setInterval(() => this.renderMaintenance(), 1_000) : 0;
    this.renderMaintenance();
    this.renderControl();
  }

  renderMaintenance() {
    const m = this.maintenance;
    const el = $("maintenance");
    const pass = m?.running ?? m?.last ?? null;
    el.hidden = pass === null;
    if (!pass) {
      el.dataset.state = "";
      el.dataset.kind = "";
      return;
    }
    const name = PASS_LABELS[pass.kind] ?? pass.kind;
    el.dataset.kind = pass.kind;
    let title;
    const parts = [];
    if (m.running) {
      el.dataset.state = "running";
      title = `${name} running`;
      parts.push(`since ${fmtTime(m.running.startedAt)} (${fmtDuration(Date.now() - new Date(m.running.startedAt).getTime()) ?? "—"})`);
      parts.push(m.running.rolloutId ? `rollout ${m.running.rolloutId}${m.running.rolloutId === this.id ? " (shown below)" : ""}` : "planning");
      parts.push("rollouts are not started or resumed until it ends");
    } else if (m.last.error) {
      el.dataset.state = "failed";
      title = `Last ${name.toLowerCase()} failed`;
      parts.push(`${fmtTime(m.last.startedAt)}–${fmtTime(m.last.endedAt)}`, `${m.last.error.code}: ${m.last.error.message}`);
    } else {
      el.dataset.state = "ended";
      title = `Last ${name.toLowerCase()} ended`;
      const c = passCounts(m.last.result);
      parts.push(`${fmtTime(m.last.startedAt)}–${fmtTime(m.last.endedAt)}`, `${c.inService} back in service`, `${c.quarantined} quarantined`, `${c.replaced} replaced by a spare`);
      const r = m.last.result ?? {};
      if (r.halted) parts.push(`halted: ${r.halted.reason}`);
      else if (m.last.kind === "remediation" && typeof r.unhealthy === "number") parts.push(`${r.unhealthy} of ${r.members ?? "?"} hosts unhealthy`);
    }
    $("maint-title").textContent = title;
    $("maint-text").textContent = parts.join(" · ");
  }

  async control() {
    const action = $("control").dataset.action;
    if (!action || !this.id || this.busy) return;
    this.busy = true;
    this.renderControl();
    try {
      const path = `/api/v1/rollouts/${encodeURIComponent(this.id)}/${action}`;
      const d = action === "pause" ? await this.api("POST", path, { reason: "paused from the dashboard" }) : await this.api("POST", path);
      this.applyDetail(d, false);
      this.say(action === "pause" ? "pausing: no new machine starts; machines in flight finish their current phase" : "resumed");
    } catch (e) {
      this.fail(e);
    } finally {
      this.busy = false;
      this.renderControl();
    }
  }

  setProgress(p) {
    this.progress = p;
    const total = p.total || 0;
    const pct = (n) => (total > 0 ? (100 * n) / total : 0);
    const o = p.byOutcome ?? {};
    const bad = (o.quarantined ?? 0) + (o.failed ?? 0) + (o.aborted ?? 0);
    const segs = { inService: o.inService ?? 0, failed: bad, inFlight: p.inFlight ?? 0 };
    for (const seg of document.querySelectorAll("#overall-bar .seg")) seg.style.width = `${pct(segs[seg.dataset.seg])}%`;
    $("overall-text").textContent = `${p.settled} of ${total} settled · ${segs.inService} in service · ${p.inFlight ?? 0} in flight${bad ? ` · ${bad} failed` : ""}`;
    const meta = [`wave ${Math.min(p.wave, p.waves)} of ${p.waves}`];
    // Read from the store once the run has ended, a rollout has no run time: keep the last one seen.
    if (p.elapsedMs !== null && p.elapsedMs !== undefined) this.elapsed = { id: p.rolloutId, ms: p.elapsedMs };
    const elapsed = fmtDuration(this.elapsed.id === p.rolloutId ? this.elapsed.ms : null);
    if (elapsed) meta.push(`${elapsed} this run`);
    if (p.maasRequests !== null && p.maasRequests !== undefined) meta.push(`${p.maasRequests.toLocaleString()} MAAS requests`);
    $("meta").textContent = meta.join(" · ");

    const body = document.querySelector("#phases tbody");
    const names = [...new Set([...this.phaseOrder, ...Object.keys(p.byPhase)])];
    for (const name of names) {
      const n = p.byPhase[name] ?? 0;
      let row = this.phaseRows.get(name);
      if (!row) {
        if (n === 0) continue;
        row = this.phaseRow(name);
        this.phaseRows.set(name, row);
        // Rows keep the pipeline's order whenever they first appear.
        const after = names.slice(0, names.indexOf(name)).reverse().map((x) => this.phaseRows.get(x)).find(Boolean);
        if (after) after.el.after(row.el);
        else body.prepend(row.el);
      }
      row.el.hidden = n === 0;
      row.count.textContent = String(n);
      row.fill.style.width = `${pct(n)}%`;
      row.pct.textContent = total > 0 ? `${Math.round(pct(n))}` : "";
    }
    this.renderBudget();
  }

  phaseRow(name) {
    const el = document.createElement("tr");
    el.dataset.phase = name;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = PHASE_COLOURS[name] ?? UNKNOWN_COLOUR;
    const cells = [swatch, document.createTextNode(name)].map((x) => {
      const td = document.createElement("td");
      td.append(x);
      return td;
    });
    const count = document.createElement("td");
    count.className = "num count";
    const barTd = document.createElement("td");
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.background = PHASE_COLOURS[name] ?? UNKNOWN_COLOUR;
    bar.append(fill);
    barTd.append(bar);
    const pct = document.createElement("td");
    pct.className = "num";
    el.append(...cells, count, barTd, pct);
    return { el, count, fill, pct };
  }

  renderBudget() {
    const b = this.budget;
    const p = this.progress;
    const row = (which, used, limit, text) => {
      const el = document.querySelector(`.budget-row[data-budget="${which}"]`);
      const over = used > limit;
      el.dataset.over = String(over);
      el.querySelector(".fill").style.width = `${limit > 0 ? Math.min(100, (100 * used) / limit) : used > 0 ? 100 : 0}%`;
      el.querySelector(".text").textContent = text;
    };
    if (!b || !p) return;
    const used = (p.byOutcome?.quarantined ?? 0) + (p.byOutcome?.failed ?? 0);
    if (this.kind !== null && this.kind !== "rollout") {
      // Maintenance rollouts run without a budget: the failures are what they handle.
      row("total", 0, 1, `${used} failed · no budget (a ${KIND_LABELS[this.kind] ?? this.kind} rollout does not pause for failures)`);
      row("wave", 0, 1, "—");
      return;
    }
    row("total", used, b.totalLimit, `${used} of ${b.totalLimit} allowed (${b.total} of the fleet)`);
    // `p.wave` counts from 1; the limits and tallies are indexed from 0.
    const wave = Math.min(p.wave - 1, Math.max(0, b.perWaveLimits.length - 1));
    const wUsed = this.grid.waveFailures[wave] ?? 0;
    const wLimit = b.perWaveLimits[wave] ?? 0;
    row("wave", wUsed, wLimit, `wave ${wave + 1}: ${wUsed} of ${wLimit} allowed (${b.perWave} of the wave)`);
  }

  /** A link to the machine's page in the MAAS UI, or its plain text when the region has none. */
  machineLink(systemId, text) {
    // Several regions: the key is region/system_id, and each region has its own UI.
    const slash = systemId.indexOf("/");
    const url = slash < 0 ? this.maasMachineUrl : this.regionMachineUrls?.[systemId.slice(0, slash)];
    if (!url) return document.createTextNode(text);
    const a = document.createElement("a");
    a.href = url.replace("{systemId}", encodeURIComponent(systemId.slice(slash + 1)));
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.className = "maas-link";
    a.title = "open in MAAS";
    a.textContent = text;
    return a;
  }

  /** One row per reason (outcome, phase, code) with its count; a reason of several hosts lists them in a disclosure. */
  renderFailures(failures) {
    $("failure-count").textContent = String(failures.length);
    const body = document.querySelector("#failures tbody");
    const frag = new DocumentFragment();
    let rows = 0;
    const groups = groupFailures(failures);
    for (const g of groups) {
      if (rows >= MAX_FAILURE_ROWS) break;
      rows++;
      const tr = document.createElement("tr");
      tr.dataset.count = String(g.hosts.length);
      const hostsTd = document.createElement("td");
      if (g.hosts.length === 1) {
        tr.dataset.systemId = g.hosts[0].systemId;
        hostsTd.append(this.machineLink(g.hosts[0].systemId, `${g.hosts[0].hostname} (${g.hosts[0].systemId})`));
      } else {
        const details = document.createElement("details");
        const summary = document.createElement("summary");
        summary.textContent = `${g.hosts.length} hosts`;
        const list = document.createElement("ul");
        for (const f of g.hosts.slice(0, MAX_FAILURE_ROWS)) {
          const li = document.createElement("li");
          li.dataset.systemId = f.systemId;
          li.append(this.machineLink(f.systemId, `${f.hostname} (${f.systemId})`));
          if (f.message !== g.message) li.append(`: ${f.message}`);
          list.append(li);
        }
        details.append(summary, list);
        hostsTd.append(details);
      }
      const count = document.createElement("td");
      count.className = "num";
      count.textContent = String(g.hosts.length);
      tr.append(count, hostsTd);
      for (const text of [g.outcome, g.phase, g.code, g.message]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      frag.append(tr);
    }
    body.replaceChildren(frag);
    const more = $("failures-more");
    more.hidden = groups.length <= MAX_FAILURE_ROWS;
    more.textContent = `and ${groups.length - MAX_FAILURE_ROWS} more reasons (GET /api/v1/rollouts/${this.id} lists every failure)`;
  }

  renderLegend() {
    const legend = $("legend");
    const frag = new DocumentFragment();
    for (const name of this.phaseOrder) {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = PHASE_COLOURS[name] ?? UNKNOWN_COLOUR;
      item.append(swatch, ` ${name}`);
      frag.append(item);
    }
    legend.replaceChildren(frag);
  }

  /** After each repaint: the cells' own counts, for assistive technology (and tests). */
  onGridFlush(grid) {
    const tally = grid.tally();
    const canvas = $("cells");
    canvas.dataset.tally = JSON.stringify(tally);
    const parts = Object.entries(tally).map(([phase, n]) => `${phase} ${n}`);
    canvas.setAttribute("aria-label", `${grid.count} machines by phase: ${parts.join(", ")}`);
    this.renderRegions(grid.regionTally());
  }

  /** Several regions: one row per region with its machines in service, failed, in flight and waiting. */
  renderRegions(byRegion) {
    if (byRegion.size === 0) return;
    const frag = new DocumentFragment();
    for (const [region, byPhase] of [...byRegion].sort(([a], [b]) => a.localeCompare(b))) {
      let total = 0;
      let failed = 0;
      for (const [phase, n] of Object.entries(byPhase)) {
        total += n;
        if (BUDGET_OUTCOMES.has(phase) || phase === "aborted") failed += n;
      }
      const inService = byPhase.inService ?? 0;
      const waiting = byPhase.waiting ?? 0;
      const tr = document.createElement("tr");
      tr.dataset.region = region;
      // The region's failure budget: quarantined and failed hosts count, as the runner counts them.
      const limit = this.kind === "rollout" ? this.budget?.perRegionLimits?.[region] : undefined;
      const spent = (byPhase.quarantined ?? 0) + (byPhase.failed ?? 0);
      tr.dataset.over = String(limit !== undefined && spent > limit);
      const budget = limit === undefined ? "—" : `${spent} of ${limit}`;
      for (const [text, num] of [[region, false], [total, true], [inService, true], [failed, true], [total - inService - failed - waiting, true], [waiting, true], [budget, true]]) {
        const td = document.createElement("td");
        if (num) td.className = "num";
        td.textContent = String(text);
        tr.append(td);
      }
      frag.append(tr);
    }
    document.querySelector("#regions tbody").replaceChildren(frag);
  }

  hover(e) {
    const tip = $("tip");
    const i = this.grid.hit(e.offsetX, e.offsetY);
    if (i < 0) {
      tip.hidden = true;
      return;
    }
    const h = this.grid.hosts[i];
    const phase = this.grid.phases[this.grid.phaseIx[i]];
    tip.textContent = `${h.hostname} (${h.systemId})\n${phase}\n${h.region ? `region ${h.region} · ` : ""}wave ${h.wave} · zone ${h.zone || "—"}\nroles ${h.roles.join(", ") || "—"}`;
    tip.hidden = false;
    const wrap = $("canvas-wrap");
    const x = Math.min(e.offsetX + 14, wrap.clientWidth - tip.offsetWidth - 4);
    tip.style.left = `${Math.max(0, x)}px`;
    tip.style.top = `${e.offsetY + 14}px`;
  }

  async showHost(e) {
    const i = this.grid.hit(e.offsetX, e.offsetY);
    const panel = $("host");
    if (i < 0 || !this.id) {
      panel.hidden = true;
      return;
    }
    const h = this.grid.hosts[i];
    panel.hidden = false;
    panel.textContent = `${h.hostname} (${h.systemId}): reading…`;
    try {
      const d = await this.api("GET", `/api/v1/rollouts/${encodeURIComponent(this.id)}/hosts/${encodeURIComponent(h.systemId)}`);
      const head = document.createElement("div");
      const err = d.lastError ? ` · last error ${d.lastError.code ?? ""}: ${d.lastError.message ?? ""}` : "";
      head.append(this.machineLink(d.systemId, `${d.hostname} (${d.systemId})`), ` · ${d.phase}${d.outcome ? ` → ${d.outcome}` : ""} · MAAS ${d.maasStatus?.label ?? "?"}${err}`);
      const pre = document.createElement("pre");
      pre.textContent = d.history
        .filter((x) => x.kind === "transition")
        .map((x) => `${x.at}  ${x.data.from ?? "—"} → ${x.data.to}${x.data.attempt ? ` (attempt ${x.data.attempt})` : ""}`)
        .join("\n");
      panel.replaceChildren(head, pre);
    } catch (err) {
      if (err instanceof ApiError && err.code === "HOST_NOT_FOUND") panel.textContent = `${h.hostname} (${h.systemId}) has not started yet`;
      else this.fail(err);
    }
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
