/* global document, DocumentFragment */
/**
 * The dashboard's panels, drawn from what the page has read: the pause button, the kind
 * and maintenance lines, progress and phase rows, budgets, failures, the legend, regions,
 * and a machine's card on hover. `Dashboard` (dashboard.js) extends this class, so these
 * methods read and write the one page's state through `this`.
 */
import { MAX_FAILURE_ROWS, PHASE_COLOURS, UNKNOWN_COLOUR, BUDGET_OUTCOMES, KIND_LABELS, PASS_LABELS } from "./constants.js";
import { ApiError, $, groupFailures, fmtTime, passCounts, fmtDuration } from "./page.js";

export class DashboardPanels {
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

}
