"""What the notebook API (`nnstudy.api`) returns: plain objects over the store that show themselves.

In Jupyter each renders as HTML (`_repr_html_`: tables, and figures embedded as PNG); elsewhere
`repr` is the command line's text. Nothing here trains or draws: figures are the PNG files the
studies and `train` already wrote into the run's folder.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

ROWS_SHOWN = 20  # a long table shows its first and last ROWS_SHOWN // 2 rows in a notebook


class Table:
    """Rows of a listing: iterate for the dicts (what `--json` prints), index by position, or by a
    column name for that column's values. No pandas needed; `to_pandas()` when it is installed."""

    def __init__(self, rows: list[dict], columns: list[str] | None = None, cells: list[list] | None = None,
                 text: str | None = None):
        self.rows = list(rows)
        self.columns = columns or (list(self.rows[0]) if self.rows else [])
        self._cells = cells  # display strings, when they differ from the raw values (runs: "0.949", "-")
        self._text = text

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        if isinstance(key, str):
            return [r.get(key) for r in self.rows]
        return self.rows[key]

    def cells(self) -> list[list[str]]:
        if self._cells is not None:
            return self._cells
        return [[cell(r.get(c)) for c in self.columns] for r in self.rows]

    def __repr__(self) -> str:
        if self._text is not None:
            return self._text
        from nnstudy.studies import format_table

        return format_table(self.rows)

    def _repr_html_(self) -> str:
        return html_table(self.columns, self.cells())

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


class StudyRun:
    """A study run: its summary (table, verdict numbers, seeds, seconds), figures and child runs."""

    def __init__(self, store, row: dict):
        self.store, self.row = store, row
        self.run_id: str = row["id"]
        self.study: str = row["study"]
        self.status: str = row["status"]
        self.summary: dict = row["summary"]
        self.folder: Path = store.run_dir(self.run_id)
        self.figures: list[Path] = sorted(self.folder.glob("*.png"))

    @property
    def table(self) -> Table:
        return Table(self.summary.get("table", []))

    def children(self) -> list[Run]:
        """The study's training runs, in the order they started."""
        return [Run(self.store, r) for r in self.store.runs(parent=self.run_id)]

    def verdicts(self) -> list[str]:
        """The report's sentences for this run, computed from its stored numbers (the study's section)."""
        from nnstudy.studies import load_all

        return [str(p) for p in load_all().get(self.study)().section(self.store, self.row).paragraphs]

    def __repr__(self) -> str:
        return (f"{self.summary.get('title', self.study)}\n\n{self.table!r}\n\n"
                f"run {self.run_id} ({self.summary.get('seconds')} s, {self.status}); figures in {self.folder}")

    def _repr_html_(self) -> str:
        head = (f"<h4>{esc(self.summary.get('title', self.study))}</h4>"
                f"<p>run <code>{esc(self.run_id)}</code>: {esc(self.status)}, profile "
                f"{esc(self.summary.get('profile'))}, {len(self.summary.get('seeds', []))} seeds, "
                f"{esc(self.summary.get('seconds'))} s</p>")
        return head + self.table._repr_html_() + html_figures(self.figures)


class Run:
    """One training run: config, final numbers, records (step, split, name, value), figures, and the
    trained model (from `train`: the net in memory; from `load`: rebuilt with its stored weights)."""

    def __init__(self, store, row: dict, result=None, figures: list[Path] | None = None):
        from nnstudy.config import TrainConfig

        self.store, self.row = store, row
        self.run_id: str = row["id"]
        self.status: str = row["status"]
        self.name: str | None = row.get("name")
        self.summary: dict = row["summary"]
        self.config = TrainConfig.from_dict(row["config"], where=f"run {self.run_id}")
        self.final: dict = self.summary.get("final", {})
        self.warnings: list[str] = self.summary.get("warnings", [])
        self.folder: Path = store.run_dir(self.run_id)
        self.figures: list[Path] = figures if figures is not None else sorted(self.folder.glob("*.png"))
        self.result = result  # experiment.RunResult when this process trained it
        self._model = result.model if result is not None else None

    @property
    def records(self) -> Table:
        rows = self.result.records if self.result is not None else self.store.metrics(self.run_id)
        return Table([dict(zip(("step", "split", "name", "value"), r)) for r in sorted(rows, key=lambda r: r[:3])])

    def curve(self, split: str = "train", name: str = "loss") -> tuple[list[int], list[float]]:
        """(steps, values) of one recorded series, e.g. curve("test", "acc")."""
        return self.store.series(self.run_id, split, name)

    @property
    def model(self):
        """The trained net in eval mode; a loaded run's is rebuilt (needs its data for the shapes)."""
        if self._model is None:
            from nnstudy.errors import UsageError
            from nnstudy.experiment import load_run_model

            if not (self.folder / "model.pt").exists():
                raise UsageError(f"run {self.run_id} kept no weights (status {self.status}, or a model over "
                                 "the size kept): train it again to get its model")
            self._model = load_run_model(self.store, self.run_id)[0]
        return self._model.eval()

    def __repr__(self) -> str:
        nums = ", ".join(f"{k} {v:.4f}" for k, v in self.final.items() if v is not None)
        return f"run {self.run_id} ({self.name}): {self.status}; {nums}" + "".join(f"\nwarning: {w}" for w in
                                                                              self.warnings)

    def _repr_html_(self) -> str:
        splits = [s for s in ("train", "val", "test") if f"{s}_acc" in self.final]
        rows = [[s, cell(self.final.get(f"{s}_loss")), cell(self.final.get(f"{s}_acc"))] for s in splits]
        head = (f"<h4>run <code>{esc(self.run_id)}</code>: {esc(self.name)}</h4><p>{esc(self.status)}, "
                f"{esc(self.summary.get('steps'))} steps in {esc(self.summary.get('train_seconds'))} s</p>")
        warn = "".join(f"<p><b>warning</b>: {esc(w)}</p>" for w in self.warnings)
        return head + html_table(["split", "loss", "accuracy"], rows) + warn + html_figures(self.figures)


class SweepRun:
    """A sweep's summary: one row per grid point (mean ± std over seeds) and the run ids."""

    def __init__(self, store, summary: dict):
        self.store, self.summary = store, summary
        self.run_ids: list[str] = summary["run_ids"]
        self.table = Table(summary["table"])

    def runs(self) -> list[Run]:
        return [Run(self.store, self.store.get(i)) for i in self.run_ids if i]

    def __repr__(self) -> str:
        s = self.summary
        return f"sweep {s['study']!r}: {s['runs']} runs in {s['seconds']} s\n{self.table!r}"

    def _repr_html_(self) -> str:
        s = self.summary
        return (f"<h4>sweep {esc(s['study'])}: {esc(s['runs'])} runs in {esc(s['seconds'])} s "
                f"(varying {esc(', '.join(s['varying']) or 'nothing')})</h4>" + self.table._repr_html_())


# -- HTML pieces -------------------------------------------------------------------------------------
def esc(v) -> str:
    return html.escape("" if v is None else str(v))  # names, paths, config values come from users


def cell(v) -> str:
    """A value as the command line's tables print it: 4 significant digits, mean ± std."""
    from nnstudy.studies import fmt_ms

    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict) and "mean" in v:
        return fmt_ms(v)
    return "" if v is None else str(v)


def html_table(columns: list[str], cells: list[list]) -> str:
    if len(cells) > ROWS_SHOWN:
        half = ROWS_SHOWN // 2
        gap = [f"... {len(cells) - ROWS_SHOWN} more rows ..."] + [""] * (len(columns) - 1)
        cells = cells[:half] + [gap] + cells[-half:]
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_figures(paths: list[Path]) -> str:
    """The figures as inline PNGs (the notebook keeps them when saved; no file links to break)."""
    out = []
    for p in paths:
        data = base64.b64encode(Path(p).read_bytes()).decode()
        out.append(f'<figure style="display:inline-block;margin:4px"><img src="data:image/png;base64,{data}" '
                   f'style="max-width:480px"/><figcaption>{esc(Path(p).name)}</figcaption></figure>')
    return "".join(out)
