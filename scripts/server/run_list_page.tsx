// deno-lint-ignore-file jsx-key -- server-side rendering only: there is no client reconciliation to key,
// and hono/jsx would print `key` as an HTML attribute.

/** The runs list: one row per run, newest first, with links that filter by status and by experiment. */

import { formatDuration } from "./format.ts";
import { Layout, runPath, StatusBadge } from "./pages.tsx";
import type { RunSummary } from "./runs.ts";

export interface RunFilter {
  status?: string;
  experiment?: string;
}

/** The list's URL with the filter given (an undefined field: no filter on it). */
export function listPath(f: RunFilter): string {
  const q = new URLSearchParams();
  if (f.status) q.set("status", f.status);
  if (f.experiment) q.set("experiment", f.experiment);
  const s = q.toString();
  return s ? `/?${s}` : "/";
}

export function filterRuns(runs: RunSummary[], f: RunFilter): RunSummary[] {
  return runs.filter((r) =>
    (!f.status || r.status === f.status) && (!f.experiment || r.experiment === f.experiment)
  );
}

/** "all · FAULT (2) · OK (3)": one link per value present in the runs, the current one in bold. */
function FilterLinks(
  props: { label: string; id: string; values: string[]; current?: string; link: (v?: string) => string },
) {
  const counts = new Map<string, number>();
  for (const v of props.values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const item = (v: string | undefined, text: string) =>
    v === props.current ? <strong>{text}</strong> : <a href={props.link(v)}>{text}</a>;
  return (
    <p id={props.id} class="filters">
      {props.label}: {item(undefined, "all")}
      {[...counts.keys()].sort().map((v) => <>{" · "}{item(v, `${v} (${counts.get(v)})`)}</>)}
    </p>
  );
}

function RunRow(props: { r: RunSummary }) {
  const r = props.r;
  return (
    <tr data-run={`${r.experiment}/${r.id}`}>
      <td>
        <a href={listPath({ experiment: r.experiment })}>{r.experiment}</a>
      </td>
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
      <td class="num">{r.durationS === null ? "—" : formatDuration(r.durationS)}</td>
      <td>{r.rootCause ?? (r.verdictError ? <span class="warn">{r.verdictError}</span> : "—")}</td>
    </tr>
  );
}

export function RunListPage(props: { all: RunSummary[]; filter: RunFilter; reportsDir: string }) {
  const f = props.filter;
  const runs = filterRuns(props.all, f);
  const live = props.all.some((r) => r.status === "LIVE");
  return (
    <Layout title="runs" refresh={live ? 5 : undefined}>
      <h1>Runs</h1>
      {props.all.length === 0 ? <p class="muted">No runs under {props.reportsDir} yet.</p> : (
        <>
          <FilterLinks
            label="status"
            id="filter-status"
            values={props.all.map((r) => r.status)}
            current={f.status}
            link={(v) => listPath({ ...f, status: v })}
          />
          <FilterLinks
            label="experiment"
            id="filter-experiment"
            values={props.all.map((r) => r.experiment)}
            current={f.experiment}
            link={(v) => listPath({ ...f, experiment: v })}
          />
          {runs.length === 0 ? <p class="muted">No run matches this filter.</p> : (
            <table id="runs">
              <thead>
                <tr>
                  <th>experiment</th>
                  <th>run</th>
                  <th>status</th>
                  <th>backend</th>
                  <th>device</th>
                  <th>time</th>
                  <th>duration</th>
                  <th>root cause</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => <RunRow r={r} />)}
              </tbody>
            </table>
          )}
        </>
      )}
      <p class="muted">
        JSON: <a href="/api/runs">/api/runs</a> · health: <a href="/api/health">/api/health</a>
      </p>
    </Layout>
  );
}
