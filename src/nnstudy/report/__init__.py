"""The store -> the week's report: one self-contained HTML file and a Markdown twin.

`model` builds the document from the store (the outline the studies declare, each study's
section from its latest complete run, provenance); `html` and `markdown` render that document and
depend on nothing else of the report.
"""

from __future__ import annotations

from pathlib import Path

from nnstudy.errors import UsageError
from nnstudy.report.html import render
from nnstudy.report.markdown import markdown
from nnstudy.report.model import answer_sheet, collect, outline, provenance
from nnstudy.store import Store, atomic_write


def write_report(store: Store, out_dir=None) -> dict:
    """Write report.html (self-contained) and report.md (+ figures/) into `out_dir`
    (default: STORE/report); returns {"html": path, "markdown": path}."""
    out = Path(out_dir) if out_dir else store.home / "report"
    fig_dir = out / "figures"
    # Never delete here: --report-dir may name a user's own folder. Same names are overwritten.
    try:
        fig_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a read-only store, or a file where the folder should be: one line, exit 2
        raise UsageError(f"cannot write the report into {str(out)!r} ({e.strerror or e}); pass --report-dir DIR "
                         "to write it elsewhere") from None
    parts = collect(store)
    meta = provenance(store, parts)
    meta["answers"] = answer_sheet(store, parts)
    paths = {"html": out / "report.html", "markdown": out / "report.md"}
    atomic_write(paths["html"], render(meta, parts))
    atomic_write(paths["markdown"], markdown(meta, parts, fig_dir))
    return {k: str(v) for k, v in paths.items()}


__all__ = ["write_report", "outline", "collect", "provenance", "answer_sheet"]
