"""The report as one self-contained HTML page: inline CSS, figures as data: URIs, no scripts.
Rendered from the document model (`nnstudy.report.model`) only.

A Content-Security-Policy meta tag forbids every network load and every script, so the page
opens offline and a string that slipped past escaping still could not run. Every string from a
user or a config is escaped here (`esc`); numbers render through `nnstudy.evidence` and are
listed, with where they came from, in the JSON block `#numbers` at the end.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

from nnstudy.evidence import esc, esc_code, render_html
from nnstudy.report.model import command, figure_pointer, missing_text, when

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
        ".gif": "image/gif", ".webp": "image/webp"}
BADGE = {"ok": "measured", "missing": "not run", "error": "error",
         "see": "see above", "partial": "partly measured"}


def badge(b) -> str:
    """A block's badge: what ran, never more (a section that measured part of its entry says so)."""
    status = "partial" if b.status == "ok" and getattr(b.section, "partial", False) else b.status
    return f'<span class="badge {esc(status)}">{esc(BADGE[status])}</span>'

CSS = """
:root { --ink:#1d232b; --muted:#5b6673; --line:#d9dee4; --accent:#2f5d8a; --bg:#fbfbfa; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:16px/1.55 system-ui, -apple-system,
       "Segoe UI", Roboto, "Noto Sans", sans-serif; }
.page { max-width: 62rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size:1.75rem; margin:0 0 .2rem; } h2 { font-size:1.35rem; margin:2.5rem 0 .8rem;
  border-bottom:2px solid var(--ink); padding-bottom:.2rem; }
h3 { font-size:1.12rem; margin:0 0 .6rem; } h4 { font-size:1rem; margin:1rem 0 .4rem; color:var(--muted); }
.lede { color:var(--muted); margin:0 0 .6rem; }
article { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:1.1rem 1.3rem;
          margin:1rem 0; }
blockquote { margin:.4rem 0 .9rem; padding:.4rem .9rem; border-left:4px solid #c9a227; background:#fdf8e8;
             color:#4a3f1c; }
blockquote b { font-weight:600; }
.runinfo { font-size:.85rem; color:var(--muted); margin:.2rem 0 .8rem; }
.note { font-size:.9rem; color:#8a4b08; }
.missing { color:#7a2e2e; } code { background:#eef1f4; padding:.05rem .3rem; border-radius:3px;
  font-size:.92em; }
table { border-collapse:collapse; margin:.5rem 0 1rem; font-size:.9rem; width:100%; }
th, td { border-bottom:1px solid var(--line); padding:.3rem .5rem; text-align:left; vertical-align:top; }
th { background:#f1f3f6; font-weight:600; } caption { caption-side:top; text-align:left; color:var(--muted);
  font-size:.88rem; padding:.2rem 0; }
table.facts th { width:10rem; background:none; color:var(--muted); font-weight:500; }
table.refs { font-size:.84rem; } table.refs td:nth-child(3) { white-space:nowrap; font-weight:600; }
.num { font-variant-numeric: tabular-nums; font-weight:600; border-bottom:1px dotted #8aa2bb; }
.num.ref { color:#7a5a00; border-bottom-color:#c9a227; } .dir { font-style:italic; }
.ms { white-space:nowrap; } td .num { font-weight:500; }
figure { margin:1rem 0; text-align:center; } figure img { max-width:100%; height:auto;
  border:1px solid var(--line); border-radius:4px; background:#fff; }
figcaption { font-size:.85rem; color:var(--muted); }
nav > ol { columns: 2; font-size:.92rem; margin:.3rem 0; } nav > ol > li { break-inside: avoid;
  margin-bottom:.5rem; } nav ol ol { padding-left:1.2rem; }
.badge { display:inline-block; font-size:.72rem; padding:0 .4rem; border-radius:9px; margin-left:.3rem;
         vertical-align:middle; background:#e4e8ee; color:var(--muted); }
.badge.ok { background:#dcefdc; color:#245b24; } .badge.missing, .badge.error { background:#f6dede;
  color:#7a2e2e; }
.badge.partial { background:#fbeccb; color:#6b4a00; }
details summary { cursor:pointer; font-weight:600; margin:.6rem 0; }
table.answers { font-size:.84rem; line-height:1.4; } table.answers td { padding:.25rem .4rem; }
table.answers td:first-child { width:11rem; font-size:.9rem; }
table.answers td:nth-child(2) { width:19rem; color:var(--muted); font-size:.8rem; }
table.answers td:nth-child(3) { width:6.5rem; } table.answers td:nth-child(3) .verdict { white-space:normal; }
table.answers small { display:block; color:var(--muted); font-size:.74rem; line-height:1.3; }
.answer { border-left:4px solid var(--line); padding-left:.6rem; } .answer small { display:block; color:var(--muted); }
.verdict { display:inline-block; font-size:.78rem; padding:0 .45rem; border-radius:9px; font-weight:600;
  white-space:nowrap; }
.v-supported { background:#dcefdc; color:#245b24; } .v-partly { background:#fdf1cf; color:#6b5200; }
.v-not-supported { background:#f6dede; color:#7a2e2e; } .v-not-settled, .v-none { background:#e4e8ee;
  color:var(--muted); }
.listing pre { background:#f3f4f6; padding:.5rem .7rem; overflow-x:auto; font-size:.82rem; line-height:1.35; }
.listing h5 { margin:.9rem 0 .2rem; font-size:.95rem; }
.budget { font-size:.86rem; color:var(--muted); margin-top:-.3rem; }
.sheet { width:min(84rem, 96vw); margin-left:calc((100% - min(84rem, 96vw)) / 2); }
.sheet h2 { margin-top:.6rem; margin-bottom:.5rem; }
.sheet figure { margin:0; } .sheet figure img { max-width:12rem; max-height:6.2rem; }
"""


def data_uri(path: Path) -> str:
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def table(columns, rows, rec: list, caption: str = "", cls: str = "") -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{render_html(c, rec)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="{cls}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def figure(path, caption: str, number: int | None = None) -> str:
    path = Path(path)
    if not path.is_file():
        return f'<p class="missing">Figure missing: {esc(path.name)}</p>'
    alt = caption or path.stem.replace("_", " ")
    label = f"<b>Figure {number}.</b> " if number else ""
    cap = f"<figcaption>{label}{esc(caption)}</figcaption>" if caption or label else ""
    return f'<figure id="fig-{number}"><img src="{data_uri(path)}" alt="{esc(alt)}">{cap}</figure>'


def run_line(run: dict) -> str:
    cfg, s = run["config"], run["summary"]
    seeds = ",".join(str(x) for x in cfg.get("seeds", []))
    return (f'<p class="runinfo">Run <code>{esc(run["id"])}</code> · profile {esc(cfg.get("profile", "-"))} '
            f'· seeds {esc(seeds or "-")} · device {esc(cfg.get("device", "-"))} '
            f'· finished {esc(when(run.get("finished")))} · {esc(s.get("seconds", "-"))} s</p>')


def block(b, rec: list) -> str:
    out = [f'<article id="{esc(b.anchor)}"><h3>{esc(b.entry.heading)}'
           f'{badge(b)}</h3>']
    if b.entry.claim:
        out.append(f"<blockquote><b>The week:</b> {esc(b.entry.claim)}</blockquote>")
    if b.answer is not None:
        a = b.answer
        out.append(f'<p class="answer">{verdict_badge(a)} {render_html(a.why, rec)} <small>Deciding number '
                   f"({esc(a.label)}): {render_html(a.number, rec)}.</small></p>")
    if b.status == "see":
        anchor, heading = b.link
        target = f'<a href="#{esc(anchor)}">{esc(heading)}</a>' if anchor else esc(heading)
        return "".join(out) + f"<p>The measurements are in the section {target} above.</p></article>"
    if b.note:
        out.append(f'<p class="note">{esc(b.note)}</p>')
    if b.status != "ok":
        text = esc(missing_text(b))
        text = text.replace(f"`{esc(command(b.study))}`", f"<code>{esc(command(b.study))}</code>")
        return "".join(out) + f'<p class="missing">{text}</p></article>'
    s = b.section
    out += [f"<h4>{esc(s.title)}</h4>", run_line(b.run), f'<p class="budget">{esc(b.budget)}</p>']
    out += [f"<p>{render_html(p, rec)}</p>" for p in s.paragraphs]
    out += [f'<div class="listing"><h5>{esc(x["caption"])}</h5><p>{esc_code(x.get("note", ""))}</p>'
            f'<pre><code>{esc(x["text"])}</code></pre></div>' for x in s.listings]
    out += [table(t["columns"], t["rows"], rec, t.get("caption", "")) for t in b.tables]
    out += [f'<p class="moved">Table: <a href="#{esc(a)}">{esc(t.get("caption") or "untitled")}</a> '
            f'({len(t["rows"])} rows), in the appendix at the end.</p>' for a, t in b.appendix]
    if b.figures:
        out.append(f'<p class="figrefs">{esc(figure_pointer(b))}</p>')
    out += [figure(path, caption, n) for path, caption, n in b.figures]
    if b.references:
        rows = [[r.get("source"), r.get("setup"), r.get("value"), r.get("metric", "")] for r in b.references]
        out.append(table(["source", "setup", "value", "metric"], rows, rec,
                         "Published values, labelled by source (not measured here)", "refs"))
    return "".join(out) + "</article>"


def verdict_badge(answer) -> str:
    if answer is None:
        return '<span class="verdict v-none">not judged yet</span>'
    cls = {"supported": "v-supported", "partly supported": "v-partly", "not supported": "v-not-supported"}
    return f'<span class="verdict {cls.get(answer.verdict, "v-not-settled")}">{esc(answer.verdict)}</span>'


def sheet(lines, rec: list) -> str:
    """The answer sheet: the report's first screen."""
    rows = []
    for ln in lines:
        a = ln.answer
        if a is None:
            decide = f'<span class="missing">{esc(ln.why_none)}</span>'
        else:
            # the why is the section's verdict sentence: the sheet links there rather than repeat it
            decide = f"{render_html(a.number, rec)}<small>{esc(a.label)}</small>"
        small = (f'<a href="#{esc(ln.anchor)}">{figure(a.figure, "")}</a>' if a is not None and a.figure else "")
        rows.append(f'<tr><td><a href="#{esc(ln.anchor)}">{esc(ln.heading)}</a></td>'
                    f"<td>{esc(ln.claim)}</td><td>{verdict_badge(a)}</td><td>{decide}</td><td>{small}</td></tr>")
    return (f'<section class="sheet" id="answers"><h2>The answers</h2><table class="answers"><thead><tr>'
            f"<th>the week asked</th><th>the week's claim</th><th>verdict</th><th>deciding number</th><th></th>"
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


def provenance_html(meta: dict, rec: list) -> str:
    """Versions, machine and the runs table: collapsed, at the end."""
    facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in meta["facts"])
    runs = ""
    if meta["runs"]:
        cols = list(meta["runs"][0])
        runs = table(cols, [[r[c] for c in cols] for r in meta["runs"]], rec, "The runs this report reads")
    return (f'<section id="provenance"><details><summary>How this report was made (versions, machine, '
            f'the runs it reads)</summary><table class="facts">{facts}</table>{runs}</details></section>')


def header(meta: dict, parts, rec: list) -> str:
    toc = "".join(
        f"<li>{esc(title)}<ol>" + "".join(
            f'<li><a href="#{esc(b.anchor)}">{esc(b.entry.heading)}</a>'
            f'{badge(b)}</li>' for b in blocks)
        + "</ol></li>" for title, blocks in parts)
    return (f'<header><h1>The week, regenerated from evidence</h1><p class="lede">A first-year graduate '
            f"student's study week, answered by measurements: every number in a sentence links to a stored run "
            f"(hover it), published values are labelled by source. {meta['complete']} of the {meta['studies']} "
            f'studies have a complete run in this store; how it was made is at the end.</p>'
            f'{sheet(meta.get("answers", []), rec)}'
            f"<nav><ol>{toc}</ol></nav></header>")


def appendix_html(parts, rec: list) -> str:
    """The long tables, collapsed, each under the section it belongs to."""
    items = [(b, a, t) for _, blocks in parts for b in blocks for a, t in b.appendix]
    if not items:
        return ""
    body = "".join(f'<details id="{esc(a)}"><summary>{esc(b.entry.heading)}: {esc(t.get("caption") or "table")} '
                   f'({len(t["rows"])} rows)</summary>{table(t["columns"], t["rows"], rec)}</details>'
                   for b, a, t in items)
    return f'<section id="appendix"><h2>Appendix: long tables</h2>{body}</section>'


def numbers_json(rec: list) -> str:
    """The records as JSON that cannot close its <script> element (no raw <, >, &)."""
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o
    text = json.dumps(clean(rec), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render(meta: dict, parts) -> str:
    rec: list = []
    head = header(meta, parts, rec)
    body = "".join(f"<section><h2>{esc(title)}</h2>" + "".join(block(b, rec) for b in blocks) + "</section>"
                   for title, blocks in parts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>nnstudy: the week, regenerated from evidence</title><style>{CSS}</style></head>"
            f'<body><div class="page">{head}<main>{body}{appendix_html(parts, rec)}</main>'
            f'{provenance_html(meta, rec)}</div>'
            f'<script type="application/json" id="numbers">{numbers_json(rec)}</script></body></html>\n')
