"""The report as Markdown: the same document as the HTML page, for diffs and plain viewers.

Reads only the document model (`nnstudy.report.model`); figures are copied next to the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

from nnstudy.evidence import md_esc, render_md
from nnstudy.report.model import Block, missing_text


def md_table(columns, rows) -> list[str]:
    out = ["| " + " | ".join(md_esc(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    return out + ["| " + " | ".join(render_md(c) for c in row) + " |" for row in rows]


def md_block(b: Block, fig_dir: Path) -> list[str]:
    out = [f"### {md_esc(b.entry.heading)}", ""]
    if b.entry.claim:
        out += [f"> The week: {md_esc(b.entry.claim)}", ""]
    if b.status == "see":
        return out + [f"Answered by the section \u201c{md_esc(b.link[1])}\u201d above.", ""]
    if b.note:
        out += [f"*{md_esc(b.note)}*", ""]
    if b.status != "ok":
        return out + [md_esc(missing_text(b)), ""]
    s = b.section
    out += [f"**{md_esc(s.title)}** (run `{md_esc(b.run['id'])}`)", ""]
    for p in s.paragraphs:
        out += [render_md(p), ""]
    for t in s.tables:
        out += ([f"*{md_esc(t['caption'])}*", ""] if t.get("caption") else []) + md_table(t["columns"], t["rows"])
        out.append("")
    for i, (path, caption) in enumerate(b.figures):
        path = Path(path)
        if path.is_file():
            dest = fig_dir / f"{b.study}-{i}-{path.name}"
            shutil.copyfile(path, dest)
            out += [f"![{md_esc(caption or path.stem)}](figures/{quote(dest.name)})", ""]
        else:
            out += [f"*(figure missing: {md_esc(path.name)})*", ""]
    if b.references:
        out += ["Published values (not ours; labelled by source):", ""]
        out += md_table(["source", "setup", "value", "metric"],
                        [[r.get("source"), r.get("setup"), r.get("value"), r.get("metric", "")] for r in b.references])
        out.append("")
    return out


def markdown(meta: dict, parts, fig_dir: Path) -> str:
    out = ["# The week, regenerated from evidence", "",
           f"{meta['complete']} of the {meta['studies']} studies of the outline have a complete run in this store.", ""]
    out += md_table(["", ""], [[k, v] for k, v in meta["facts"]]) + [""]
    if meta["runs"]:
        cols = list(meta["runs"][0])
        out += md_table(cols, [[r[c] for c in cols] for r in meta["runs"]]) + [""]
    for title, blocks in parts:
        out += [f"## {md_esc(title)}", ""]
        for b in blocks:
            out += md_block(b, fig_dir)
    return "\n".join(out) + "\n"
