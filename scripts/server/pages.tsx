/** What every page shares: the layout, status badges, run links, message pages. Every value is escaped by JSX. */

import type { Child } from "hono/jsx";
import { raw } from "hono/html";

export function runPath(r: { experiment: string; id: string }, rest = ""): string {
  return `/runs/${encodeURIComponent(r.experiment)}/${encodeURIComponent(r.id)}${rest}`;
}

/** The page of one op of a run. */
export function opPath(r: { experiment: string; id: string }, op: unknown): string {
  return runPath(r, `/ops/${encodeURIComponent(String(op))}`);
}

export function Layout(props: { title: string; refresh?: number; children?: Child }) {
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

/** Label and value pairs as a two-column grid. */
export function Facts(props: { id?: string; rows: [string, Child][] }) {
  return (
    <dl id={props.id} class="facts">
      {props.rows.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </>
      ))}
    </dl>
  );
}

export function obj(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : null;
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
