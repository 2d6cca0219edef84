// deno-lint-ignore-file jsx-key -- server-side rendering only: there is no client reconciliation to key,
// and hono/jsx would print `key` as an HTML attribute.

/** Server-rendered pages (hono/jsx). Every value is escaped by JSX; the only raw HTML is the Markdown renderer's output. */

import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import { OP_COLUMNS, opRow, text } from "./format.ts";
import type { JournalRecord, JournalSummary } from "./journal.ts";
import type { Hypothesis, MatrixRow, RunDetail, RunSummary } from "./runs.ts";

export function runPath(r: { experiment: string; id: string }, rest = ""): string {
  return `/runs/${encodeURIComponent(r.experiment)}/${encodeURIComponent(r.id)}${rest}`;
}

function Layout(props: { title: string; refresh?: number; children?: Child }) {
  return (
    <>
      {raw("<!DOCTYPE html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          {props.refresh ? <meta http-equiv="refresh" content={String(props.refresh)} /> : null}
          <title>{props.title} · faultline</title>
          <link rel="stylesheet" href="/assets/style.css" />
        </head>
        <body>
          <header class="top">
            <a href="/">faultline</a>
            <span class="muted">{props.title}</span>
          </header>
          <main>{props.children}</main>
        </body>
      </html>
    </>
  );
}

export function StatusBadge(props: { status: string; id?: string }) {
  return <span id={props.id} class={`badge s-${props.status}`}>{props.status}</span>;
}

export function RunListPage(props: { runs: RunSummary[]; reportsDir: string }) {
  const live = props.runs.some((r) => r.status === "LIVE");
  return (
    <Layout title="runs" refresh={live ? 5 : undefined}>
      <h1>Runs</h1>
      {props.runs.length === 0
        ? <p class="muted">No runs under {props.reportsDir} yet.</p>
        : (
          <table id="runs">
            <thead>
              <tr>
                <th>experiment</th>
                <th>run</th>
                <th>status</th>
                <th>backend</th>
                <th>device</th>
                <th>time</th>
                <th>root cause</th>
              </tr>
            </thead>
            <tbody>
              {props.runs.map((r) => (
                <tr data-run={`${r.experiment}/${r.id}`}>
                  <td>{r.experiment}</td>
                  <td>
                    <a href={runPath(r)}>{r.id}</a>
                    {r.status === "LIVE"
                      ? (
                        <>
                          {" "}(<a href={runPath(r, "/live")}>live</a>
                          {r.trial ? `, trial ${r.trial}` : ""})
                        </>
                      )
                      : null}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{r.backend ?? "—"}</td>
                  <td>{r.device ?? "—"}</td>
                  <td>{r.time ?? "—"}</td>
                  <td>
                    {r.rootCause ?? (r.verdictError ? <span class="warn">{r.verdictError}</span> : "—")}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      <p class="muted">
        JSON: <a href="/api/runs">/api/runs</a> · health: <a href="/api/health">/api/health</a>
      </p>
    </Layout>
  );
}

function Facts(props: { rows: [string, Child][] }) {
  return (
    <dl class="facts">
      {props.rows.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </>
      ))}
    </dl>
  );
}

function obj(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : null;
}

function HypothesisTable(props: { rows: Hypothesis[] }) {
  return (
    <table id="hypotheses">
      <thead>
        <tr>
          <th>id</th>
          <th>hypothesis</th>
          <th>verdict</th>
          <th>evidence</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((h) => {
          const o = obj(h) ?? {};
          return (
            <tr>
              <td>{text(o.id)}</td>
              <td>{text(o.title)}</td>
              <td>
                <span class={`badge h-${text(o.status)}`}>{text(o.status)}</span>
              </td>
              <td>{text(o.evidence)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function MatrixTable(props: { rows: MatrixRow[] }) {
  const named = props.rows.some((m) => obj(m)?.name !== undefined);
  return (
    <table id="matrix">
      <thead>
        <tr>
          {named ? <th>trial</th> : null}
          <th>mode</th>
          <th>iterations</th>
          <th>errors</th>
          <th>status</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((m) => {
          const o = obj(m) ?? {};
          return (
            <tr>
              {named ? <td>{text(o.name)}</td> : null}
              <td>{text(o.mode)}</td>
              <td class="num">{text(o.iterations)}</td>
              <td class="num">{text(o.errors)}</td>
              <td>
                <StatusBadge status={text(o.status)} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function KeyValues(props: { id: string; values: Record<string, unknown> }) {
  return (
    <table id={props.id}>
      <tbody>
        {Object.entries(props.values).map(([k, x]) => (
          <tr>
            <th>{k}</th>
            <td>
              <code>{text(x)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

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

function Skipped(props: { journal: JournalSummary | null; live?: boolean }) {
  const c = props.journal?.counts;
  if (!c) return null;
  return (
    <p id="skipped-lines" class={c.malformed + c.partial > 0 ? "warn" : "muted"}>
      Skipped journal lines: <span id="skipped" data-malformed={String(c.malformed)}>{c.malformed}</span>{" "}
      malformed
      {props.live ? null : <>, {c.partial} half-written</>}.
    </p>
  );
}

export function OpsTable(props: { records: JournalRecord[]; events?: string }) {
  return (
    <table id="ops" data-events={props.events}>
      <thead>
        <tr>{OP_COLUMNS.map((c) => <th>{c}</th>)}</tr>
      </thead>
      <tbody>
        {props.records.map((r) => {
          const row = opRow(r);
          return (
            <tr class={`op ${row.state}`} data-id={row.id}>
              {row.cells.map((c) => <td>{c}</td>)}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function RunPage(props: { run: RunDetail; reportHtml: string | null }) {
  const r = props.run;
  const v = r.verdict;
  const surfaced = obj(v?.surfaced_at);
  const cause = obj(v?.root_cause);
  const hypotheses = Array.isArray(v?.hypotheses) ? v.hypotheses : [];
  const matrix = Array.isArray(v?.matrix) ? v.matrix : [];
  const attribution = obj(v?.attribution);
  const config = obj(v?.config);
  const debugEnv = obj(v?.debug_env);
  const has = (f: string) => r.files.includes(f);
  const j = r.journal;
  return (
    <Layout title={`${r.experiment}/${r.id}`} refresh={r.status === "LIVE" ? 5 : undefined}>
      <h1>
        {r.experiment} <span class="muted">{r.id}</span> <StatusBadge status={r.status} />
      </h1>
      {r.verdictError ? <p class="warn">{r.verdictError}</p> : null}
      {r.refused
        ? (
          <ul id="refused" class="warn">
            {Object.values(r.refused).map((why) => <li>{why}</li>)}
          </ul>
        )
        : null}
      <Facts
        rows={[
          ["backend", r.backend ?? "unknown"],
          ["device", r.device ?? "unknown"],
          ["time", r.time ?? "—"],
          ["started", text(v?.started) || "—"],
          ["finished", text(v?.finished) || "—"],
          [
            "surfaced at",
            surfaced
              ? `op ${text(surfaced.op)} ${text(surfaced.kind)} ${text(surfaced.name)}: ${
                text(surfaced.error)
              }`
              : "—",
          ],
          ["root cause", r.rootCause ?? "—"],
          ...(r.trials
            ? [["trials", `${r.trials} trial folder(s), newest ${r.trial}`] as [string, Child]]
            : []),
          ...(v?.mode !== undefined ? [["mode", text(v.mode)] as [string, Child]] : []),
          ...(attribution ? [["attribution", describeAttribution(attribution)] as [string, Child]] : []),
          ...(v?.command ? [["command", <code>{text(v.command)}</code>] as [string, Child]] : []),
          [
            "live view",
            <a href={runPath(r, "/live")}>
              {r.status === "LIVE" ? "follow the running trial" : "ops"}
            </a>,
          ],
        ]}
      />
      {cause
        ? (
          <>
            <h2>Root cause</h2>
            <table id="root-cause">
              <tbody>
                {["op", "kind", "kernel", "name", "step", "layer", "argument", "invariant", "detail"].map((
                  k,
                ) => (
                  <tr>
                    <th>{k}</th>
                    <td>{text(cause[k])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )
        : null}
      <h2>Hypotheses</h2>
      {hypotheses.length
        ? <HypothesisTable rows={hypotheses} />
        : <p class="muted">No hypotheses recorded.</p>}
      {matrix.length
        ? (
          <>
            <h2>Matrix</h2>
            <MatrixTable rows={matrix} />
          </>
        )
        : null}
      {config && Object.keys(config).length || debugEnv
        ? (
          <>
            <h2>Configuration</h2>
            <KeyValues id="config" values={{ ...(config ?? {}) }} />
            {debugEnv
              ? (
                <>
                  <p>Debug environment:</p>
                  <KeyValues id="debug-env" values={debugEnv} />
                </>
              )
              : null}
          </>
        )
        : null}
      <h2>Timeline</h2>
      {has("timeline.svg")
        ? (
          <img
            class="timeline"
            src={runPath(r, "/files/timeline.svg")}
            alt="timeline of the run's ops per stream"
          />
        )
        : <p class="muted">No timeline.svg.</p>}
      <p>
        {has("trace.json")
          ? (
            <>
              <a id="trace" href={runPath(r, "/files/trace.json")}>trace.json</a>{" "}
              <span class="muted">(Chrome trace events; open in Perfetto)</span>
            </>
          )
          : <span class="muted">No trace.json.</span>}
        {" · "}
        {["journal.jsonl", "verdict.json", "report.md"].filter(has).map((f, k) => (
          <>
            {k ? " · " : ""}
            <a href={runPath(r, `/files/${f}`)}>{f}</a>
          </>
        ))}
        {" · "}
        <a href={runPath(r).replace("/runs/", "/api/runs/")}>JSON</a>
      </p>
      <h2>Journal</h2>
      {j
        ? (
          <>
            <p>
              {`${j.ops} ops (${Object.entries(j.byKind).map(([k, n]) => `${k} ${n}`).join(", ")}); ` +
                `${j.errors} failed, ${j.blocked} blocked by guard rails, ${j.pending} without a result.`}
            </p>
            {j.firstError
              ? (
                <p>
                  First failed op: <code>{opRow(j.firstError).cells.join(" | ")}</code>
                </p>
              )
              : null}
            <Skipped journal={j} />
          </>
        )
        : r.journalNote
        ? <p id="journal-note" class="warn">{r.journalNote}</p>
        : r.trial
        ? (
          <p class="muted">
            The run's journal.jsonl is written with its report; the{" "}
            <a href={runPath(r, "/live")}>live view</a> follows trial {r.trial}.
          </p>
        )
        : <p class="muted">No journal.jsonl.</p>}
      <section class="report" id="report">
        {props.reportHtml !== null ? raw(props.reportHtml) : <p class="muted">No report.md.</p>}
      </section>
    </Layout>
  );
}

export function LivePage(props: { run: RunDetail; recent: JournalRecord[]; resumeAt: number }) {
  const r = props.run;
  const recent = props.recent;
  const events = runPath(r, `/live/events?from=${props.resumeAt}`);
  const last = recent.at(-1);
  const lastError = recent.findLast((x) => opRow(x).state === "error");
  return (
    <Layout title={`${r.experiment}/${r.id} · live`}>
      <h1>
        <a href={runPath(r)}>{r.experiment} {r.id}</a>{" "}
        <StatusBadge id="live-state" status={r.status === "LIVE" ? "CONNECTING" : r.status} />
      </h1>
      <p>
        Following{" "}
        <span id="live-source">
          {r.trial && !r.files.includes("journal.jsonl") ? `trial ${r.trial}` : "the run's journal"}
        </span>.
      </p>
      <p>
        <span id="op-count">{recent.length}</span> ops shown
        {r.journal && r.journal.ops > recent.length
          ? ` (the page opened with the newest of ${r.journal.ops})`
          : ""}; new ones appear as the trial journals them.
      </p>
      <p>
        Latest op: <code id="last-op">{last ? opRow(last).cells.join(" | ") : "—"}</code>
        <br />
        Latest failed op: <code id="last-error">{lastError ? opRow(lastError).cells.join(" | ") : "—"}</code>
      </p>
      <Skipped journal={r.journal} live />
      <OpsTable records={recent} events={events} />
      <script src="/assets/live.js" defer></script>
    </Layout>
  );
}

export function MessagePage(props: { title: string; message: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p>
        <a href="/">All runs</a>
      </p>
    </Layout>
  );
}
