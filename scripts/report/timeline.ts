/**
 * timeline.svg: a lane per stream, ops as boxes in journal order (one slot an
 * op), the faulting launch and the op where the fault surfaced marked and
 * labelled, guard findings flagged, and a legend. Long journals keep the ops
 * around the root cause and the surfacing op and elide the rest.
 */

import { laneName, streamLanes } from "./trace.ts";
import type { OpRecord, RunReport } from "../../records.ts";

const COLORS: Record<string, string> = {
  launch: "#4e79a7",
  h2d: "#59a14f",
  d2h: "#8cd17d",
  d2d: "#76b7b2",
  p2p: "#499894",
  h2h: "#76b7b2",
  memset: "#b6992d",
  sync: "#9d9d9d",
  event_record: "#b07aa1",
  event_wait: "#d4a6c8",
  alloc: "#e2e2e2",
  free: "#bab0ac",
};
const OTHER = "#d7d7d7";
const ROOT = "#e15759";
const SURFACED = "#f28e2b";

export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

type Slot = { rec: OpRecord } | { gap: number };

/** The ops to draw: all of them when few, else windows around the marked ops with gaps between. */
export function timelineSlots(records: OpRecord[], marks: number[], max = 160): Slot[] {
  if (records.length <= max) return records.map((rec) => ({ rec }));
  const idx = marks.map((m) => records.findIndex((r) => r.id === m)).filter((i) => i >= 0);
  if (idx.length === 0) idx.push(records.length - 1);
  const keep = new Set<number>();
  const per = Math.max(10, Math.floor(max / (idx.length + 1)));
  for (const i of idx) {
    for (let k = i - Math.floor(per * 0.75); k <= i + Math.floor(per * 0.25); k++) {
      if (k >= 0 && k < records.length) keep.add(k);
    }
  }
  for (let k = 0; k < 8 && k < records.length; k++) keep.add(k);
  const sorted = [...keep].sort((a, b) => a - b);
  const out: Slot[] = [];
  let prev = -1;
  for (const k of sorted) {
    if (k > prev + 1) out.push({ gap: k - prev - 1 });
    out.push({ rec: records[k] });
    prev = k;
  }
  if (prev < records.length - 1) out.push({ gap: records.length - 1 - prev });
  return out;
}

const LEFT = 170, SLOT_W = 12, BOX_W = 10, LANE_H = 34, TOP = 78, GAP_W = 36;

/** Where everything goes: a slot's x, the stream lanes, the marked ops, the picture's size. */
interface Layout {
  slots: Slot[];
  xs: number[];
  lanes: Map<number, number>;
  lanesH: number;
  width: number;
  height: number;
  rootOp: number | undefined;
  surfOp: number | undefined;
  findingOps: Set<number>;
}

function layout(run: RunReport): Layout {
  const rootOp = run.attribution?.rootCause?.op;
  const surfOp = run.attribution?.surfaced?.op;
  const slots = timelineSlots(run.records, [rootOp, surfOp].filter((x): x is number => x !== undefined));
  const lanes = streamLanes(run.records);
  let x = LEFT;
  const xs: number[] = [];
  for (const s of slots) {
    xs.push(x);
    x += "gap" in s ? GAP_W : SLOT_W;
  }
  const lanesH = lanes.size * LANE_H;
  return {
    slots,
    xs,
    lanes,
    lanesH,
    width: Math.max(1000, x + 30),
    height: TOP + lanesH + 110,
    rootOp,
    surfOp,
    findingOps: new Set(run.findings.map((f) => f.op)),
  };
}

export function buildTimeline(run: RunReport): string {
  const l = layout(run);
  const o: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" ` +
    `font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...titleLines(run, l),
    ...laneBands(l),
  ];
  const labels: string[] = [];
  l.slots.forEach((s, i) => {
    if ("gap" in s) o.push(...gapMark(l, l.xs[i], s.gap));
    else {
      o.push(...opBox(l, l.xs[i], s.rec));
      if (s.rec.id === l.rootOp || s.rec.id === l.surfOp) {
        const [line, label] = markedOp(l, l.xs[i], s.rec);
        o.push(line);
        labels.push(label);
      }
    }
  });
  o.push(...labels, ...legend(l), ...caption(run, l), `</svg>`);
  return o.join("\n") + "\n";
}

function titleLines(run: RunReport, l: Layout): string[] {
  return [
    `<text x="12" y="20" font-size="14" font-weight="bold">${
      escapeXml(`${run.experiment} — ${run.status}`)
    }</text>`,
    `<text x="12" y="38" fill="#555">${
      escapeXml(
        `${run.records.length} ops on ${l.lanes.size} stream lane(s), journal order (one slot an op)` +
          (l.slots.some((s) => "gap" in s) ? "; long stretches elided" : ""),
      )
    }</text>`,
  ];
}

function laneBands(l: Layout): string[] {
  const o: string[] = [];
  for (const [stream, lane] of l.lanes) {
    const y = TOP + lane * LANE_H;
    o.push(
      `<rect x="0" y="${y}" width="${l.width}" height="${LANE_H}" fill="${
        lane % 2 ? "#f7f7f7" : "#ffffff"
      }"/>`,
    );
    o.push(`<text x="12" y="${y + LANE_H / 2 + 4}">${escapeXml(laneName(stream, lane))}</text>`);
  }
  return o;
}

/** An elided stretch: an ellipsis and how many ops it stands for. */
function gapMark(l: Layout, sx: number, gap: number): string[] {
  return [
    `<text x="${sx + GAP_W / 2}" y="${TOP + l.lanesH / 2 + 4}" text-anchor="middle" fill="#888">⋯</text>`,
    `<text x="${sx + GAP_W / 2}" y="${
      TOP + l.lanesH + 14
    }" text-anchor="middle" fill="#888" font-size="9">${gap}</text>`,
  ];
}

/** One op's box on its stream's lane (its tooltip the op itself), flagged when a rail found something. */
function opBox(l: Layout, sx: number, r: OpRecord): string[] {
  const y = TOP + (l.lanes.get(r.stream) ?? 0) * LANE_H + 7;
  const fill = r.id === l.rootOp ? ROOT : r.id === l.surfOp ? SURFACED : COLORS[r.kind] ?? OTHER;
  const bad = r.status !== null && r.status !== 0;
  const stroke = bad
    ? ` stroke="#b00" stroke-width="1.5"`
    : r.status === null
    ? ` stroke="#333" stroke-dasharray="2,1"`
    : "";
  const tip = `#${r.id} ${r.kind} ${r.name}${r.op ? ` (${r.op})` : ""}` +
    `${r.step !== undefined ? ` step ${r.step}` : ""}${r.layer !== undefined ? ` layer ${r.layer}` : ""}` +
    ` status ${r.status ?? "pending"}`;
  const o = [
    `<rect x="${sx}" y="${y}" width="${BOX_W}" height="${LANE_H - 14}" rx="2" fill="${fill}"${stroke}>` +
    `<title>${escapeXml(tip)}</title></rect>`,
  ];
  if (l.findingOps.has(r.id)) {
    o.push(
      `<path d="M${sx} ${y - 2} L${sx + BOX_W} ${y - 2} L${sx + BOX_W / 2} ${
        y + 5
      } Z" fill="#edc948" stroke="#8a6d00" stroke-width="0.6"/>`,
    );
  }
  return o;
}

/** The root cause's or the surfacing op's guide line and label. */
function markedOp(l: Layout, sx: number, r: OpRecord): [string, string] {
  const isRoot = r.id === l.rootOp;
  const color = isRoot ? ROOT : SURFACED;
  const lx = sx + BOX_W / 2;
  const line =
    `<line x1="${lx}" y1="${isRoot ? 46 : 60}" x2="${lx}" y2="${TOP + l.lanesH}" stroke="${color}" ` +
    `stroke-width="1.2" stroke-dasharray="4,2"/>`;
  const where = [
    r.step !== undefined ? `step ${r.step}` : "",
    r.layer !== undefined ? `layer ${r.layer}` : "",
  ]
    .filter(Boolean).join(" ");
  const text = isRoot
    ? `root cause: #${r.id} ${r.op ?? r.name}${where ? ` (${where})` : ""}`
    : `surfaced: #${r.id} ${r.op ? `${r.op} (${r.kind} ${r.name})` : `${r.kind} ${r.name}`}` +
      `${r.status ? `, status ${r.status}` : ""}`;
  const anchor = lx > l.width - 260 ? "end" : "start";
  const label = `<text x="${lx + (anchor === "end" ? -4 : 4)}" y="${isRoot ? 56 : 70}" fill="${color}" ` +
    `font-weight="bold" text-anchor="${anchor}">${escapeXml(text)}</text>`;
  return [line, label];
}

const LEGEND: [string, string][] = [
  ["launch", COLORS.launch],
  ["h2d", COLORS.h2d],
  ["d2h", COLORS.d2h],
  ["d2d", COLORS.d2d],
  ["p2p", COLORS.p2p],
  ["memset", COLORS.memset],
  ["sync", COLORS.sync],
  ["event", COLORS.event_record],
  ["alloc/free", COLORS.free],
  ["root cause", ROOT],
  ["fault surfaced", SURFACED],
];

function legend(l: Layout): string[] {
  const ly = TOP + l.lanesH + 34;
  const o: string[] = [];
  let lx = 12;
  for (const [name, color] of LEGEND) {
    o.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${color}"/>`);
    o.push(`<text x="${lx + 14}" y="${ly + 9}">${escapeXml(name)}</text>`);
    lx += 24 + name.length * 6.2;
  }
  o.push(
    `<path d="M${lx} ${ly} L${lx + 10} ${ly} L${lx + 5} ${
      ly + 8
    } Z" fill="#edc948" stroke="#8a6d00" stroke-width="0.6"/>`,
  );
  o.push(`<text x="${lx + 14}" y="${ly + 9}">guard finding</text>`);
  lx += 110;
  o.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="#fff" stroke="#b00" stroke-width="1.5"/>`);
  o.push(`<text x="${lx + 14}" y="${ly + 9}">error status</text>`);
  return o;
}

/** One line under the legend: the root cause and how it was named. */
function caption(run: RunReport, l: Layout): string[] {
  const a = run.attribution;
  if (!a?.rootCause) return [];
  const rc = a.rootCause;
  const ly = TOP + l.lanesH + 34;
  return [
    `<text x="12" y="${ly + 34}" fill="#333">${
      escapeXml(
        `${rc.name}${rc.argument ? `: argument ${rc.argument}` : ""}${
          rc.invariant ? ` breaks "${rc.invariant}"` : ""
        }` +
          ` — named by ${a.method} in ${a.replays} replay(s), ${(a.wallMs / 1000).toFixed(2)} s`,
      )
    }</text>`,
  ];
}
