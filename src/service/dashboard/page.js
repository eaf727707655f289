/* global document, location, history, sessionStorage */
/**
 * What the page's parts share: the API's errors, the element lookup, storage that may be
 * refused, the token from the address, and formatting of failures, times and durations.
 */
import { TOKEN_KEY } from "./constants.js";
export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const $ = (id) => document.getElementById(id);

export function readStorage(store, key) {
  try {
    return store.getItem(key);
  } catch {
    return null;
  }
}

export function writeStorage(store, key, value) {
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
export function tokenFromHash() {
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
export function takeToken() {
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

export function fmtTime(iso) {
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

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return null;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}
