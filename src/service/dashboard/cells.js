/* global requestAnimationFrame, window */
/**
 * The machines as cells on one <canvas>, grouped (by phase, zone, region …): a phase
 * change marks its cell dirty, and one requestAnimationFrame callback repaints the dirty
 * cells only.
 */
import { PHASE_COLOURS, UNKNOWN_COLOUR, BUDGET_OUTCOMES, SETTLED_BAD } from "./constants.js";
export const HEADER_H = 20;
export const GROUP_GAP = 8;

export function groupKeyOf(host, by) {
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

export function cellSizeFor(n) {
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
