// deno-lint-ignore-file jsx-key -- server-side rendering only: there is no client reconciliation to key,
// and hono/jsx would print `key` as an HTML attribute.

/**
 * The run page, rendered from verdict.json and the journal's summary (report.md says the same in prose
 * and is linked, not repeated). Each fact appears once; the op that failed is a link to its own page.
 */

import type { Child } from "hono/jsx";
import { formatDuration, opRow, text } from "./format.ts";
import { Facts, Layout, obj, opPath, runPath, StatusBadge } from "./pages.tsx";
import type { Hypothesis, MatrixRow, RunDetail } from "./runs.ts";

/** Files linked from the run page, with what each one is. */
const FILE_LINKS: [string, string][] = [
  ["trace.json", "Chrome trace events; open in Perfetto"],
  ["timeline.svg", "ops per stream"],
  ["journal.jsonl", "every native call"],
  ["verdict.json", "this page's data"],
  ["report.md", "the report in prose"],
];

function describeAttribution(a: Record<string, unknown>): string {
  const parts = [text(a.method)];
  if (typeof a.replays === "number") parts.push(`${a.replays} replay(s)`);
  if (typeof a.wall_s === "number") parts.push(`${a.wall_s} s`);
  if (a.timing_dependent === true) parts.push("timing-dependent");
  if (a.reproduced_under_blocking === true) parts.push("reproduced under blocking");
  if (a.reproduced_under_blocking === false) parts.push("not reproduced under blocking");
  if (a.witness_agrees === true) parts.push("fault info agrees");
  if (a.witness_agrees === false) parts.push("fault info disagrees");
  return parts.filter((p) => p !== "").join(", ");
}

/** "op #235" as a link to the op's page, when the value is an op id. */
function OpLink(props: { run: RunDetail; op: unknown; id?: string }) {
  const op = props.op;
  if (typeof op !== "number" && typeof op !== "string") return <>{text(op)}</>;
  return <a id={props.id} href={opPath(props.run, op)}>op #{String(op)}</a>;
}

function Meta(props: { run: RunDetail }) {
  const r = props.run;
  const v = r.verdict;
  const id = typeof v?.device_id === "number" ? ` (device ${v.device_id})` : "";
  const parts: Child[] = [r.backend ?? "unknown backend", `${r.device ?? "unknown device"}${id}`];
  if (v?.mode !== undefined) parts.push(`mode ${text(v.mode)}`);
  if (r.time) parts.push(r.time);
  if (r.durationS !== null) parts.push(`took ${formatDuration(r.durationS)}`);
  parts.push(
    <a href={runPath(r, "/live")}>{r.status === "LIVE" ? "follow the running trial" : "live view"}</a>,
  );
  return <p id="meta" class="muted">{parts.map((p, k) => <>{k ? " · " : ""}{p}</>)}</p>;
}

function Warnings(props: { run: RunDetail }) {
  const r = props.run;
  const lines = [r.verdictError, ...Object.values(r.refused ?? {})].filter((x): x is string => !!x);
  if (!lines.length) return null;
  return <ul id="refused" class="warn">{lines.map((w) => <li>{w}</li>)}</ul>;
}

function RootCause(props: { run: RunDetail; cause: Record<string, unknown> }) {
  const c = props.cause;
  const where = [
    c.step !== null && c.step !== undefined ? `step ${text(c.step)}` : "",
    c.layer !== null && c.layer !== undefined ? `layer ${text(c.layer)}` : "",
  ]
    .filter(Boolean).join(", ");
  return (
    <p id="root-cause">
      <strong>Root cause:</strong> <OpLink run={props.run} op={c.op} id="failing-op" />{" "}
      <strong>{text(c.name)}</strong>
      {" — "}
      {text(c.kind)} <code>{text(c.kernel)}</code>
      {where ? `, ${where}` : ""}
      {c.argument
        ? (
          <>
            , argument <code>{text(c.argument)}</code>
          </>
        )
        : null}
      {c.invariant ? <>, breaks “{text(c.invariant)}”</> : null}.
      {c.detail
        ? (
          <>
            <br />
            <span class="muted">{text(c.detail)}</span>
          </>
        )
        : null}
    </p>
  );
}

function VerdictSection(props: { run: RunDetail }) {
  const r = props.run;
  const v = r.verdict;
  const cause = obj(v?.root_cause);
  const surfaced = obj(v?.surfaced_at);
  const attribution = obj(v?.attribution);
  const firstError = r.journal?.firstError ?? null;
  return (
    <section id="verdict">
      {cause ? <RootCause run={r} cause={cause} /> : null}
      {surfaced
        ? (
          <p id="surfaced">
            <strong>Surfaced at:</strong>{" "}
            <OpLink run={r} op={surfaced.op} id={cause ? undefined : "failing-op"} /> {text(surfaced.kind)}
            {" "}
            {text(surfaced.name)}: {text(surfaced.error)}
          </p>
        )
        : null}
      {!cause && !surfaced && firstError
        ? (
          <p id="first-error">
            <strong>First failed op:</strong> <OpLink run={r} op={firstError.id} id="failing-op" />{" "}
            {opRow(firstError).cells.slice(3).join(" | ")}
          </p>
        )
        : null}
      {attribution ? <p class="muted">Attributed by {describeAttribution(attribution)}.</p> : null}
      {v && !cause && !surfaced && !firstError && r.status === "OK" ? <p>No fault.</p> : null}
    </section>
  );
}

function HypothesisRows(props: { rows: Record<string, unknown>[] }) {
  return (
    <tbody>
      {props.rows.map((h) => (
        <tr>
          <td>
            <span class={`badge h-${text(h.status)}`}>{text(h.status)}</span>
          </td>
          <td>{text(h.title)}</td>
          <td>{text(h.evidence)}</td>
        </tr>
      ))}
    </tbody>
  );
}

/** Hypotheses still standing first; the ruled-out ones fold away under one line. */
function Hypotheses(props: { rows: Hypothesis[] }) {
  const rows = props.rows.map((h) => obj(h) ?? {});
  const standing = rows.filter((h) => h.status !== "RULED_OUT");
  const ruledOut = rows.filter((h) => h.status === "RULED_OUT");
  const head = (
    <thead>
      <tr>
        <th>verdict</th>
        <th>hypothesis</th>
        <th>evidence</th>
      </tr>
    </thead>
  );
  return (
    <>
      <h2>Hypotheses</h2>
      {standing.length
        ? (
          <table id="hypotheses">
            {head}
            <HypothesisRows rows={standing} />
          </table>
        )
        : null}
      {ruledOut.length
        ? (
          <details id="ruled-out">
            <summary>{ruledOut.length} ruled out</summary>
            <table>
              {head}
              <HypothesisRows rows={ruledOut} />
            </table>
          </details>
        )
        : null}
    </>
  );
}

/** "0: 4, 1: 4, 2: 4 (4 errors)": a matrix row's trials by the device they ran on. */
function devicesText(v: unknown): string {
  if (!Array.isArray(v)) return "";
  return v.map((d) => obj(d) ?? {}).map((d) =>
    `${text(d.device)}: ${text(d.trials)}${
      typeof d.errors === "number" && d.errors > 0 ? ` (${d.errors} errors)` : ""
    }`
  ).join(", ");
}

/** While a placed run is LIVE: the trial running (or last started) on each device, each with its live view. */
function Running(props: { run: RunDetail }) {
  const r = props.run;
  if (r.running.length === 0) return null;
  const sorted = [...r.running].sort((a, b) => a.device.localeCompare(b.device, "en", { numeric: true }));
  return (
    <>
      <h2>Running now</h2>
      <table id="running">
        <thead>
          <tr>
            <th>device</th>
            <th>trial</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((x) => (
            <tr>
              <td>{x.device}</td>
              <td>{x.trial}</td>
              <td>
                <a href={runPath(r, `/live?device=${encodeURIComponent(x.device)}`)}>live view</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Matrix(props: { rows: MatrixRow[] }) {
  const rows = props.rows.map((m) => obj(m) ?? {});
  const named = rows.some((m) => m.name !== undefined);
  const placed = rows.some((m) => Array.isArray(m.devices));
  return (
    <>
      <h2>Matrix</h2>
      <table id="matrix">
        <thead>
          <tr>
            {named ? <th>trial</th> : null}
            <th>mode</th>
            <th>iterations</th>
            <th>errors</th>
            {placed ? <th>devices</th> : null}
            <th>status</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m) => (
            <tr>
              {named ? <td>{text(m.name)}</td> : null}
              <td>{text(m.mode)}</td>
              <td class="num">{text(m.iterations)}</td>
              <td class="num">{text(m.errors)}</td>
              {placed ? <td>{devicesText(m.devices)}</td> : null}
              <td>
                <StatusBadge status={text(m.status)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Configuration(props: { run: RunDetail }) {
  const v = props.run.verdict;
  const config = obj(v?.config) ?? {};
  const debugEnv = obj(v?.debug_env);
  const rows: [string, Child][] = Object.entries(config).map(([k, x]) => [k, <code>{text(x)}</code>]);
  if (v?.command) rows.push(["command", <code>{text(v.command)}</code>]);
  if (!rows.length && !debugEnv) return null;
  return (
    <>
      <h2>Configuration</h2>
      <Facts id="config" rows={rows} />
      {debugEnv
        ? (
          <details id="debug-env">
            <summary>debug environment ({Object.keys(debugEnv).length} variables)</summary>
            <Facts rows={Object.entries(debugEnv).map(([k, x]) => [k, <code>{text(x)}</code>])} />
          </details>
        )
        : null}
    </>
  );
}

function Files(props: { run: RunDetail }) {
  const r = props.run;
  const has = (f: string) => r.files.includes(f);
  const links = FILE_LINKS.filter(([f]) => has(f));
  return (
    <>
      {has("timeline.svg")
        ? (
          <img
            class="timeline"
            src={runPath(r, "/files/timeline.svg")}
            alt="timeline of the run's ops per stream"
          />
        )
        : null}
      <p id="files">
        {links.map(([f, what], k) => (
          <>
            {k ? " · " : ""}
            <a id={f === "trace.json" ? "trace" : undefined} href={runPath(r, `/files/${f}`)}>{f}</a>{" "}
            <span class="muted">({what})</span>
          </>
        ))}
        {links.length ? " · " : ""}
        <a href={runPath(r).replace("/runs/", "/api/runs/")}>JSON</a>
      </p>
    </>
  );
}

function Journal(props: { run: RunDetail }) {
  const r = props.run;
  const j = r.journal;
  const pages = <a id="journal-pages" href={runPath(r, "/journal")}>browse the ops</a>;
  if (j) {
    const c = j.counts;
    return (
      <p id="journal">
        <strong>Journal:</strong>{" "}
        {`${j.ops} ops (${Object.entries(j.byKind).map(([k, n]) => `${k} ${n}`).join(", ")}); ` +
          `${j.errors} failed, ${j.blocked} blocked by guard rails, ${j.pending} without a result`}
        {c.malformed + c.partial > 0
          ? (
            <span id="skipped-lines" class="warn">
              {`; skipped lines: `}
              <span id="skipped" data-malformed={String(c.malformed)}>{c.malformed}</span>
              {` malformed, ${c.partial} half-written`}
            </span>
          )
          : null}. {pages}
      </p>
    );
  }
  if (r.journalNote) {
    return <p id="journal" class="warn">{r.journalNote}. {r.journalBytes !== null ? pages : null}</p>;
  }
  if (r.trial) {
    return (
      <p id="journal" class="muted">
        The run's journal.jsonl is written with its report; the <a href={runPath(r, "/live")}>live view</a>
        {" "}
        follows trial {r.trial}.
      </p>
    );
  }
  return <p id="journal" class="muted">No journal.jsonl.</p>;
}

export function RunPage(props: { run: RunDetail }) {
  const r = props.run;
  const v = r.verdict;
  const hypotheses = Array.isArray(v?.hypotheses) ? v.hypotheses : [];
  const matrix = Array.isArray(v?.matrix) ? v.matrix : [];
  return (
    <Layout title={`${r.experiment}/${r.id}`} refresh={r.status === "LIVE" ? 5 : undefined}>
      <h1>
        {r.experiment} <span class="muted">{r.id}</span> <StatusBadge status={r.status} />
      </h1>
      <Meta run={r} />
      <Warnings run={r} />
      <VerdictSection run={r} />
      <Running run={r} />
      <Journal run={r} />
      {hypotheses.length ? <Hypotheses rows={hypotheses} /> : null}
      {matrix.length ? <Matrix rows={matrix} /> : null}
      <Configuration run={r} />
      <h2>Timeline and files</h2>
      <Files run={r} />
    </Layout>
  );
}
