/** The status server's Markdown renderer: the report's structure survives, nothing unsafe does. */

import assert from "node:assert/strict";
import { escapeHtml, renderInline, renderMarkdown } from "../scripts/server/markdown.ts";

const resolve = (url: string) => (["timeline.svg", "trace.json"].includes(url) ? `/files/${url}` : null);

Deno.test("headings, paragraphs, emphasis and inline code", () => {
  const html = renderMarkdown("# Title\n\n## Sub *x*\n\nSome **bold**, _em_ and `a<b>`.\nNext line.");
  assert.equal(
    html,
    "<h1>Title</h1>\n<h2>Sub <em>x</em></h2>\n<p>Some <strong>bold</strong>, <em>em</em> and <code>a&lt;b&gt;</code>." +
      "\nNext line.</p>",
  );
  assert.equal(
    renderInline("snake_case_name"),
    "snake_case_name",
    "underscores inside words are not emphasis",
  );
  assert.equal(renderInline("\\*not em\\*"), "*not em*");
});

Deno.test("tables with alignment and escaped cells", () => {
  const html = renderMarkdown("| id | verdict |\n|:--|--:|\n| H1 | `a|b` <i> |\n| H2 |\n");
  assert.ok(html.includes('<th class="al-left">id</th><th class="al-right">verdict</th>'));
  assert.ok(html.includes('<td class="al-right"><code>a|b</code> &lt;i&gt;</td>'));
  assert.ok(
    html.includes('<tr><td class="al-left">H2</td><td class="al-right"></td></tr>'),
    "short rows are padded",
  );
});

Deno.test("fenced code is escaped verbatim", () => {
  const html = renderMarkdown("```c\nif (a < b && c) { *p = 1; }\n**not bold**\n```\nafter");
  assert.equal(
    html,
    '<pre><code class="language-c">if (a &lt; b &amp;&amp; c) { *p = 1; }\n**not bold**</code></pre>\n<p>after</p>',
  );
  assert.ok(renderMarkdown('```"><script>\nx\n```').includes("<pre><code>"), "odd info strings are dropped");
});

Deno.test("lists, nested lists, block quotes and rules", () => {
  const html = renderMarkdown("- a\n- b\n  - b1\n  - b2\n- c\n\n3. three\n4. four\n\n> quoted **x**\n\n---");
  assert.ok(
    html.includes("<ul>\n<li>a</li>\n<li>b\n<ul>\n<li>b1</li>\n<li>b2</li>\n</ul></li>\n<li>c</li>\n</ul>"),
  );
  assert.ok(html.includes('<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'));
  assert.ok(html.includes("<blockquote>\n<p>quoted <strong>x</strong></p>\n</blockquote>"));
  assert.ok(html.endsWith("<hr>"));
});

Deno.test("raw HTML is shown as text", () => {
  const html = renderMarkdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\n**<b>x</b>**');
  assert.ok(!/<script|<img|<b>/.test(html));
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
});

Deno.test("links and images follow the URL policy", () => {
  const html = renderMarkdown(
    '[ok](https://example.com/a?b=1&c="2") [t](trace.json) [frag](#x) [js](javascript:alert(1)) ' +
      "[data](data:text/html,x) [proto](//evil.example) [other](../../etc/passwd)\n\n" +
      '![tl](timeline.svg) ![remote](https://example.com/x.png) ![x"><script>](timeline.svg)',
    { resolve },
  );
  assert.ok(
    html.includes(
      '<a href="https://example.com/a?b=1&amp;c=&quot;2&quot;" rel="noopener noreferrer nofollow">ok</a>',
    ),
  );
  assert.ok(html.includes('<a href="/files/trace.json">t</a>'));
  assert.ok(html.includes('<a href="#x">frag</a>'));
  assert.ok(!/href="(javascript|data|\/\/|\.\.)/.test(html), "unsafe links keep their text only");
  assert.ok(html.includes(" js ") && html.includes(" other"), "dropped links keep their text");
  assert.ok(html.includes('<img src="/files/timeline.svg" alt="tl" loading="lazy">'));
  assert.ok(html.includes('<span class="md-img">[image: remote]</span>'), "remote images are not loaded");
  assert.ok(html.includes('alt="x&quot;&gt;&lt;script&gt;"'));
  assert.ok(!/<script/.test(html));
});

Deno.test("escapeHtml escapes the five HTML-special characters", () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
});

Deno.test("hard line breaks: two trailing spaces or a backslash", () => {
  assert.equal(
    renderMarkdown("**Date:** today  \n**Run:** `abc`\\\nlast\nsame paragraph"),
    "<p><strong>Date:</strong> today<br>\n<strong>Run:</strong> <code>abc</code><br>\nlast\nsame paragraph</p>",
  );
});
