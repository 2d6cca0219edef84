// deno-lint-ignore-file jsx-key -- server-side rendering only: there is no client reconciliation to key,
// and hono/jsx would print `key` as an HTML attribute.

/** Pages of ops: one op in full, the journal page by page, and the live view of a running trial. */

import { OP_COLUMNS, opRow, text } from "./format.ts";
import type { JournalRecord, JournalSummary } from "./journal.ts";
import type { JournalPage } from "./journal_file.ts";
import { Facts, Layout, obj, opPath, runPath, StatusBadge } from "./pages.tsx";
import type { RunDetail } from "./runs.ts";

/** The ops as table rows; with `run`, each id links to the op's page. */
export function OpsTable(props: { records: JournalRecord[]; events?: string; run?: RunDetail }) {
  return (
    <table id="ops" data-events={props.events}>
      <thead>
        <tr>{OP_COLUMNS.map((c) => <th>{c}</th>)}</tr>
      </thead>
      <tbody>
        {props.records.map((r) => {
          const row = opRow(r);
          const [id, ...rest] = row.cells;
          return (
            <tr class={`op ${row.state}`} data-id={row.id}>
              <td>{props.run ? <a href={opPath(props.run, r.id)}>{id}</a> : id}</td>
              {rest.map((c) => <td>{c}</td>)}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
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

export function LivePage(
  props: { run: RunDetail; recent: JournalRecord[]; resumeAt: number; device?: string },
) {
  const r = props.run;
  const recent = props.recent;
  const on = props.device === undefined ? "" : `&device=${encodeURIComponent(props.device)}`;
  const events = runPath(r, `/live/events?from=${props.resumeAt}${on}`);
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
          {props.device !== undefined
            ? `the newest trial on device ${props.device}`
            : r.trial && !r.files.includes("journal.jsonl")
            ? `trial ${r.trial}`
            : "the run's journal"}
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

/** One page of the journal, with links to the first and the next page. */
export function JournalPageView(props: { run: RunDetail; page: JournalPage; limit: number }) {
  const r = props.run;
  const p = props.page;
  const at = (from: number) => runPath(r, `/journal?from=${from}&limit=${props.limit}`);
  return (
    <Layout title={`${r.experiment}/${r.id} · journal`}>
      <h1>
        <a href={runPath(r)}>{r.experiment} {r.id}</a> <span class="muted">journal</span>
      </h1>
      <p id="page-nav">
        Bytes {p.from}..{p.next} of {p.size}
        {p.from > 0
          ? (
            <>
              {" · "}
              <a href={at(0)}>first page</a>
            </>
          )
          : null}
        {p.more
          ? (
            <>
              {" · "}
              <a id="next-page" href={at(p.next)}>next page</a>
            </>
          )
          : null}
        {p.counts.malformed
          ? <span class="warn">{` · ${p.counts.malformed} malformed line(s) skipped`}</span>
          : null}
      </p>
      <OpsTable records={p.records} run={r} />
    </Layout>
  );
}

function hex(v: unknown): string {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? `0x${v.toString(16)}` : text(v);
}

/** The op's pointer arguments; `culprit` (the root cause's argument) is marked. */
function Pointers(props: { pointers: unknown; culprit: string | null }) {
  if (!Array.isArray(props.pointers) || props.pointers.length === 0) return null;
  const cols = ["arg", "ptr", "bytes", "access", "name", "alloc", "offset", "size", "state", "placement"];
  return (
    <table id="pointers">
      <thead>
        <tr>{cols.map((c) => <th>{c}</th>)}</tr>
      </thead>
      <tbody>
        {props.pointers.map((x) => {
          const p = obj(x) ?? {};
          return (
            <tr class={props.culprit !== null && p.arg === props.culprit ? "culprit" : undefined}>
              {cols.map((c) => <td>{c === "ptr" ? hex(p[c]) : text(p[c])}</td>)}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** One op in full: what it was, its arguments resolved to allocations, and the record as journaled. */
export function OpPage(props: { run: RunDetail; op: JournalRecord }) {
  const r = props.run;
  const op = props.op;
  const row = opRow(op);
  const v = r.verdict;
  const cause = obj(v?.root_cause);
  const isCause = cause !== null && String(cause.op) === row.id;
  const role = isCause
    ? "the root cause"
    : String(obj(v?.surfaced_at)?.op) === row.id
    ? "where the fault surfaced"
    : null;
  const id = typeof op.id === "number" ? op.id : NaN;
  const cells = Object.fromEntries(OP_COLUMNS.map((c, k) => [c, row.cells[k]]));
  return (
    <Layout title={`${r.experiment}/${r.id} · op ${row.id}`}>
      <h1>
        <a href={runPath(r)}>{r.experiment} {r.id}</a> <span class="muted">op #{row.id}</span>{" "}
        <span class={`badge op-${row.state}`}>{cells.status}</span>
      </h1>
      {role ? <p id="op-role" class="warn">This op is {role} of the run.</p> : null}
      <Facts
        id="op"
        rows={[
          ["kind", cells.kind],
          ["name", cells.name],
          ["stream", cells.stream],
          ["step", cells.step || "—"],
          ["layer", cells.layer || "—"],
          ["time", cells.time],
          ["duration", cells.dur || "—"],
          ["scalars", <code>{cells.scalars || "—"}</code>],
        ]}
      />
      <Pointers pointers={op.pointers} culprit={isCause && cause?.argument ? text(cause.argument) : null} />
      <p>
        {Number.isSafeInteger(id) && id > 1
          ? (
            <>
              <a href={opPath(r, id - 1)}>op #{id - 1}</a>
              {" · "}
            </>
          )
          : null}
        {Number.isSafeInteger(id)
          ? (
            <>
              <a href={opPath(r, id + 1)}>op #{id + 1}</a>
              {" · "}
            </>
          )
          : null}
        <a href={runPath(r, "/journal")}>the journal</a>
      </p>
      <details>
        <summary>the record as journaled</summary>
        <pre>{JSON.stringify(op, null, 2)}</pre>
      </details>
    </Layout>
  );
}
