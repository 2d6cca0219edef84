/**
 * A small Markdown renderer for report.md. It knows headings, paragraphs,
 * fenced code, GFM tables, lists (nested by indentation), block quotes, rules,
 * bold, italics, inline code, links and images. Every piece of text is
 * HTML-escaped; raw HTML in the source is shown as text. Links and images go
 * through a URL policy: images only where the caller resolves them, links only
 * to http(s), mailto, fragments, or what the caller resolves.
 */

export interface MarkdownOptions {
  /**
   * Maps a relative URL from the document (e.g. "timeline.svg") to a served
   * one, or null to drop it.
   */
  resolve?: (url: string, kind: "link" | "image") => string | null;
}

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function safeUrl(url: string, kind: "link" | "image", opts: MarkdownOptions): string | null {
  const u = url.trim();
  if (/^[a-z][a-z0-9+.-]*:/i.test(u)) {
    if (kind === "link" && /^(https?|mailto):/i.test(u)) return u;
    return null;
  }
  if (u.startsWith("//")) return null;
  if (kind === "link" && u.startsWith("#")) return u;
  return opts.resolve ? opts.resolve(u, kind) : null;
}

/** Renders inline Markdown to HTML. */
export function renderInline(src: string, opts: MarkdownOptions = {}): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const rest = src.slice(i);
    if (c === "\\" && i + 1 < src.length && /[\\`*_{}[\]()#+\-.!|<>~]/.test(src[i + 1])) {
      out += escapeHtml(src[i + 1]);
      i += 2;
      continue;
    }
    if (c === "`") {
      const run = /^`+/.exec(rest)![0];
      const end = src.indexOf(run, i + run.length);
      if (end > 0) {
        out += `<code>${escapeHtml(src.slice(i + run.length, end).trim())}</code>`;
        i = end + run.length;
        continue;
      }
      out += escapeHtml(run);
      i += run.length;
      continue;
    }
    const link = /^(!?)\[([^\]]*)\]\(\s*<?((?:[^\s()<>]|\([^\s()<>]*\))*)>?(?:\s+"[^"]*")?\s*\)/.exec(rest);
    if (link) {
      const [all, bang, text, url] = link;
      if (bang) {
        const href = safeUrl(url, "image", opts);
        out += href
          ? `<img src="${escapeHtml(href)}" alt="${escapeHtml(text)}" loading="lazy">`
          : `<span class="md-img">[image: ${escapeHtml(text)}]</span>`;
      } else {
        const href = safeUrl(url, "link", opts);
        const inner = renderInline(text, opts);
        out += href
          ? `<a href="${escapeHtml(href)}"${
            /^https?:/i.test(href) ? ' rel="noopener noreferrer nofollow"' : ""
          }>${inner}</a>`
          : inner;
      }
      i += all.length;
      continue;
    }
    const strong = /^(\*\*|__)(?=\S)([\s\S]*?\S)\1/.exec(rest);
    if (strong && (c === "*" || !/\w/.test(src[i - 1] ?? ""))) {
      out += `<strong>${renderInline(strong[2], opts)}</strong>`;
      i += strong[0].length;
      continue;
    }
    const em = /^(\*|_)(?=\S)([^*_]*?\S)\1/.exec(rest);
    if (
      em && (c === "*" || !/\w/.test(src[i - 1] ?? "")) &&
      (c === "*" || !/\w/.test(src[i + em[0].length] ?? ""))
    ) {
      out += `<em>${renderInline(em[2], opts)}</em>`;
      i += em[0].length;
      continue;
    }
    out += escapeHtml(c);
    i++;
  }
  return out;
}

function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
  const cells: string[] = [];
  let cur = "";
  let inCode = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "\\" && s[i + 1] === "|") {
      cur += "|";
      i++;
    } else if (ch === "`") {
      inCode = !inCode;
      cur += ch;
    } else if (ch === "|" && !inCode) {
      cells.push(cur.trim());
      cur = "";
    } else {
      cur += ch;
    }
  }
  cells.push(cur.trim());
  return cells;
}

function startsBlock(line: string, next: string | undefined): boolean {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
    LIST_ITEM.test(line) || (line.includes("|") && next !== undefined && TABLE_SEP.test(next));
}

function indentOf(line: string): number {
  return /^ */.exec(line.replace(/\t/g, "    "))![0].length;
}

/** Renders a Markdown document to HTML. */
export function renderMarkdown(src: string, opts: MarkdownOptions = {}): string {
  return renderBlocks(src.replace(/\r\n?/g, "\n").split("\n"), opts, 0);
}

function renderBlocks(lines: string[], opts: MarkdownOptions, depth: number): string {
  if (depth > 8) return `<p>${escapeHtml(lines.join("\n"))}</p>`;
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const lang = fence[2];
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(marker)) body.push(lines[i++]);
      i++;
      const cls = lang ? ` class="language-${escapeHtml(lang)}"` : "";
      out.push(`<pre><code${cls}>${escapeHtml(body.join("\n"))}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const n = heading[1].length;
      out.push(`<h${n}>${renderInline(heading[2], opts)}</h${n}>`);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push("<hr>");
      i++;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      const head = splitRow(line);
      const align = splitRow(lines[i + 1]).map((c) =>
        c.startsWith(":") && c.endsWith(":")
          ? "center"
          : c.endsWith(":")
          ? "right"
          : c.startsWith(":")
          ? "left"
          : ""
      );
      const attr = (k: number) => (align[k] ? ` class="al-${align[k]}"` : "");
      i += 2;
      const rows: string[][] = [];
      while (i < lines.length && lines[i].trim() !== "" && lines[i].includes("|")) {
        rows.push(splitRow(lines[i++]));
      }
      const th = head.map((h, k) => `<th${attr(k)}>${renderInline(h, opts)}</th>`).join("");
      const tb = rows.map((r) =>
        "<tr>" + head.map((_, k) => `<td${attr(k)}>${renderInline(r[k] ?? "", opts)}</td>`).join("") + "</tr>"
      ).join("\n");
      out.push(`<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${tb}\n</tbody>\n</table>`);
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(QUOTE.exec(lines[i++])![1]);
      out.push(`<blockquote>\n${renderBlocks(body, opts, depth + 1)}\n</blockquote>`);
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const base = indentOf(line);
      const ordered = /\d/.test(item[2]);
      const items: string[][] = [];
      while (i < lines.length) {
        const l = lines[i];
        const m = LIST_ITEM.exec(l);
        if (m && indentOf(l) === base && /\d/.test(m[2]) === ordered) {
          items.push([m[3]]);
          i++;
        } else if (l.trim() !== "" && (indentOf(l) > base || !startsBlock(l, lines[i + 1]))) {
          items[items.length - 1].push(indentOf(l) > base ? l.slice(Math.min(indentOf(l), base + 2)) : l);
          i++;
        } else if (l.trim() === "" && i + 1 < lines.length && indentOf(lines[i + 1]) > base) {
          items[items.length - 1].push("");
          i++;
        } else {
          break;
        }
      }
      const start = ordered ? parseInt(item[2], 10) : 1;
      const tag = ordered ? "ol" : "ul";
      const startAttr = ordered && start !== 1 ? ` start="${start}"` : "";
      const lis = items.map((it) => {
        const inner = it.length === 1 ? renderInline(it[0], opts) : renderItem(it, opts, depth);
        return `<li>${inner}</li>`;
      });
      out.push(`<${tag}${startAttr}>\n${lis.join("\n")}\n</${tag}>`);
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length && lines[i].trim() !== "" &&
      (para.length === 0 || !startsBlock(lines[i], lines[i + 1]))
    ) {
      para.push(lines[i++]);
    }
    out.push(`<p>${renderLines(para, opts)}</p>`);
  }
  return out.join("\n");
}

/** Lines of one paragraph: a line ending in two spaces or a backslash breaks (<br>) before the next. */
function renderLines(lines: string[], opts: MarkdownOptions): string {
  const parts: string[] = [];
  let cur: string[] = [];
  lines.forEach((raw, k) => {
    const hard = k < lines.length - 1 && /( {2,}|\\)$/.test(raw);
    const line = raw.trim();
    cur.push(hard && line.endsWith("\\") ? line.slice(0, -1) : line);
    if (hard) {
      parts.push(renderInline(cur.join("\n"), opts));
      cur = [];
    }
  });
  parts.push(renderInline(cur.join("\n"), opts));
  return parts.join("<br>\n");
}

/** A list item with more than one line: its first text line inline, the rest as blocks. */
function renderItem(lines: string[], opts: MarkdownOptions, depth: number): string {
  const text: string[] = [lines[0]];
  let k = 1;
  while (k < lines.length && lines[k].trim() !== "" && !startsBlock(lines[k].trimStart(), lines[k + 1])) {
    text.push(lines[k++]);
  }
  const rest = lines.slice(k);
  const body = rest.some((l) => l.trim() !== "") ? "\n" + renderBlocks(rest, opts, depth + 1) : "";
  return renderLines(text, opts) + body;
}
