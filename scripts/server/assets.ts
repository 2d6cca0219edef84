/**
 * The two static assets the pages use, kept as strings so there is no build
 * step and no file lookup: the stylesheet and the live view's script.
 */

export const STYLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #656d76; --line: #d0d7de; --bg2: #f6f8fa;
  --ok: #1a7f37; --fault: #cf222e; --blocked: #9a6700; --live: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --bg2: #161b22; } }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem 1.5rem; max-width: 1200px; color: var(--fg); }
header.top { display: flex; gap: 1rem; align-items: baseline; border-bottom: 1px solid var(--line); margin-bottom: 1rem; }
header.top a { color: inherit; text-decoration: none; font-weight: 600; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--bg2); }
td.num { text-align: right; }
.al-right { text-align: right; } .al-center { text-align: center; } .al-left { text-align: left; }
.badge { font-weight: 600; padding: 0 .4rem; border-radius: .3rem; border: 1px solid currentColor; white-space: nowrap; }
.s-OK, .h-RULED_OUT { color: var(--ok); } .s-FAULT, .h-CONFIRMED { color: var(--fault); }
.s-BLOCKED, .s-UNREADABLE { color: var(--blocked); } .s-LIVE { color: var(--live); }
.s-INCOMPLETE, .s-CONNECTING, .s-RECONNECTING, .h-INCONCLUSIVE, .h-NOT_REPRODUCED { color: var(--muted); }
tr.op.error td { color: var(--fault); } tr.op.pending td { color: var(--muted); }
tr.op.blocked td { color: var(--blocked); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
pre { background: var(--bg2); padding: .5rem; overflow-x: auto; }
code { font: 12.5px ui-monospace, monospace; }
.muted { color: var(--muted); }
.warn { color: var(--blocked); font-weight: 600; }
img.timeline { max-width: 100%; border: 1px solid var(--line); background: #fff; }
tr.culprit td { color: var(--fault); font-weight: 600; }
details > summary { cursor: pointer; color: var(--muted); margin: .3rem 0; }
p.filters { margin: .3rem 0; }
#ops td { font: 12.5px ui-monospace, monospace; }
`;

/** Appends or updates op rows from the run's event stream; rows are keyed by record id. */
export const LIVE_JS = `"use strict";
(() => {
  const table = document.getElementById("ops");
  if (!table || !window.EventSource) return;
  const body = table.tBodies[0];
  const state = document.getElementById("live-state");
  const count = document.getElementById("op-count");
  const skipped = document.getElementById("skipped");
  const lastOp = document.getElementById("last-op");
  const lastError = document.getElementById("last-error");
  const baseMalformed = Number(skipped.dataset.malformed || 0);
  let resetDone = false;
  const rows = new Map();
  for (const tr of Array.from(body.rows)) rows.set(tr.dataset.id, tr);
  const es = new EventSource(table.dataset.events);
  const show = (s) => { state.textContent = s; state.className = "badge s-" + s.split(" ")[0]; };
  es.addEventListener("open", () => show("LIVE"));
  es.addEventListener("error", () => { if (es.readyState !== EventSource.CLOSED) show("RECONNECTING"); });
  es.addEventListener("op", (e) => {
    const op = JSON.parse(e.data);
    let tr = rows.get(op.id);
    if (!tr) {
      tr = body.insertRow(-1);
      tr.dataset.id = op.id;
      rows.set(op.id, tr);
      while (rows.size > 2000) { const first = body.rows[0]; rows.delete(first.dataset.id); first.remove(); }
    } else {
      tr.replaceChildren();
    }
    tr.className = "op " + op.state;
    for (const c of op.cells) tr.insertCell(-1).textContent = c;
    count.textContent = String(rows.size);
    const line = op.cells.join(" | ");
    lastOp.textContent = line;
    if (op.state === "error") lastError.textContent = line;
    if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 80) tr.scrollIntoView({ block: "nearest" });
  });
  es.addEventListener("source", (e) => {
    const s = JSON.parse(e.data);
    const el = document.getElementById("live-source");
    if (el) el.textContent = s.trial ? "trial " + s.trial + (s.kind === "ring" ? " (its journal ring)" : "") : "the run's journal";
  });
  es.addEventListener("reset", () => { body.replaceChildren(); rows.clear(); count.textContent = "0"; resetDone = true; });
  es.addEventListener("skipped", (e) => {
    const s = JSON.parse(e.data);
    const n = (resetDone ? 0 : baseMalformed) + s.malformed;
    skipped.textContent = String(n);
  });
  es.addEventListener("end", (e) => {
    const d = JSON.parse(e.data);
    es.close();
    show(d.status);
  });
})();
`;
