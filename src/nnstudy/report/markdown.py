"""The report as Markdown: the same document as the HTML page, for diffs and plain viewers.

Reads only the document model (`nnstudy.report.model`); figures are copied next to the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

from nnstudy.evidence import md_esc, render_md
from nnstudy.report.model import Block, figure_pointer, missing_text


def md_table(columns, rows) -> list[str]:
    out = ["| " + " | ".join(md_esc(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    return out + ["| " + " | ".join(render_md(c) for c in row) + " |" for row in rows]


def md_block(b: Block, fig_dir: Path) -> list[str]:
    out = [f"### {md_esc(b.entry.heading)}", ""]
    if b.entry.claim:
        out += [f"> The week: {md_esc(b.entry.claim)}", ""]
    if b.answer is not None:
        a = b.answer
        out += [f"**{md_esc(a.verdict)}.** {render_md(a.why)} Deciding number ({md_esc(a.label)}): "
                f"{render_md(a.number)}.", ""]
    if b.status == "see":
        return out + [f"The measurements are in the section \u201c{md_esc(b.link[1])}\u201d above.", ""]
    if b.note:
        out += [f"*{md_esc(b.note)}*", ""]
    if b.status != "ok":
        return out + [md_esc(missing_text(b)), ""]
    s = b.section
    out += [f"**{md_esc(s.title)}** (run `{md_esc(b.run['id'])}`)", "", f"*{md_esc(b.budget)}*", ""]
    for p in s.paragraphs:
        out += [render_md(p), ""]
    for x in s.listings:
        out += [f"**{md_esc(x['caption'])}.** {md_esc(x.get('note', ''))}", "", "```python", x["text"], "```", ""]
    for t in b.tables:
        out += ([f"*{md_esc(t['caption'])}*", ""] if t.get("caption") else []) + md_table(t["columns"], t["rows"])
        out.append("")
    for _, t in b.appendix:
        out += [f"Table: *{md_esc(t.get('caption') or 'untitled')}* ({len(t['rows'])} rows), in the appendix at the "
                "end.", ""]
    if b.figures:
        out += [md_esc(figure_pointer(b)), ""]
    for i, (path, caption, n) in enumerate(b.figures):
        path = Path(path)
        if path.is_file():
            dest = fig_dir / f"{b.study}-{i}-{path.name}"
            shutil.copyfile(path, dest)
            out += [f"![Figure {n}. {md_esc(caption or path.stem)}](figures/{quote(dest.name)})", "",
                    f"*Figure {n}. {md_esc(caption)}*", ""]
        else:
            out += [f"*(figure missing: {md_esc(path.name)})*", ""]
    if b.references:
        out += ["Published values (not ours; labelled by source):", ""]
        out += md_table(["source", "setup", "value", "metric"],
                        [[r.get("source"), r.get("setup"), r.get("value"), r.get("metric", "")] for r in b.references])
        out.append("")
    return out


def md_sheet(lines) -> list[str]:
    rows = []
    for ln in lines:
        a = ln.answer
        decide = md_esc(ln.why_none) if a is None else render_md(a.number) + " (" + md_esc(a.label) + ")"
        rows.append([ln.heading, ln.claim, a.verdict if a else "not judged yet", decide])
    return ["## The answers", ""] + md_table(["the week asked", "the week's claim", "verdict", "deciding number"],
                                             rows) + [""]


def markdown(meta: dict, parts, fig_dir: Path) -> str:
    out = ["# The week, regenerated from evidence", "",
           f"{meta['complete']} of the {meta['studies']} studies of the outline have a complete run in this store; "
           "how it was made is at the end.", ""]
    out += md_sheet(meta.get("answers", []))
    for title, blocks in parts:
        out += [f"## {md_esc(title)}", ""]
        for b in blocks:
            out += md_block(b, fig_dir)
    moved = [(b, t) for _, blocks in parts for b in blocks for _, t in b.appendix]
    if moved:
        out += ["## Appendix: long tables", ""]
        for b, t in moved:
            out += [f"### {md_esc(b.entry.heading)}: {md_esc(t.get('caption') or 'table')}", ""]
            out += md_table(t["columns"], t["rows"]) + [""]
    out += ["## How this report was made", ""] + md_table(["", ""], [[k, v] for k, v in meta["facts"]]) + [""]
    if meta["runs"]:
        cols = list(meta["runs"][0])
        out += md_table(cols, [[r[c] for c in cols] for r in meta["runs"]]) + [""]
    return "\n".join(out) + "\n"
