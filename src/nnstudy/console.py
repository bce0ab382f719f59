"""What the command line prints for a person: the runs table, one run's page, the closing lines
of `sweep` and `all`. `--json` never comes here: programs get the stored objects as they are.

Colour only when stdout is a terminal and NO_COLOR (https://no-color.org) is unset or empty, so
pipes, files and tests always see plain text. A number the store does not hold (a diverged run's
loss, a split the run never had) prints as "-", never as 0.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

WIDTH = 100  # columns: the runs table fits a 100-column terminal
LABEL = 12  # width of the labels down the left of `show`
SPLITS = (("train", "train"), ("val", "validation"), ("test", "test"))
STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}
STATUS_STYLE = {"complete": "green", "running": "yellow", "diverged": "red", "failed": "red", "crashed": "red"}


def use_colour(stream=None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def paint(text: str, style: str | None, on: bool) -> str:
    return f"\033[{STYLES[style]}m{text}\033[0m" if on and style else text


def cut(text: str, width: int) -> str:
    """`text` in at most `width` columns, an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def num(v, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def label(text: str, colour: bool) -> str:
    """A label down the left of `show`, padded before painting so colour never shifts the columns."""
    return paint(text.ljust(LABEL), "bold", colour)


def seconds(s: float | None) -> str:
    return "-" if s is None else f"{s:.2f}" if s < 10 else f"{s:.1f}" if s < 1000 else f"{s:.0f}"


def when(t: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "-" if t is None else time.strftime(fmt, time.localtime(t))


# -- `nnstudy runs` --------------------------------------------------------------------------------
def run_seconds(r: dict) -> float | None:
    """Training time for a training run, the whole study for a study run; else wall time if finished."""
    s = r["summary"].get("train_seconds", r["summary"].get("seconds"))
    if s is None and r.get("finished"):
        s = r["finished"] - r["started"]
    return s


def children(store, r: dict) -> dict | None:
    """A study run's child runs by status ({"complete": 3, "total": 4, ...}); None for a training run."""
    if r["kind"] != "study":
        return None
    counts = {"complete": 0, "total": 0}
    for c in store.runs(parent=r["id"]):
        counts[c["status"]] = counts.get(c["status"], 0) + 1
        counts["total"] += 1
    return counts


def runs_listing(store, rows: list[dict]) -> list[dict]:
    """What `runs --json` prints, one object a run; the table is drawn from exactly these."""
    keep = ("id", "kind", "status", "study", "name", "parent", "seed", "started", "finished", "error")
    return [{k: r.get(k) for k in keep} | {"final": r["summary"].get("final"), "seconds": run_seconds(r),
                                          "children": children(store, r),
                                          "warnings": r["summary"].get("warnings", [])} for r in rows]


def status_cell(row: dict) -> str:
    """The status, with the codes of a complete run's warnings (experiment.learning_warnings):
    `complete [at-chance]` must not read like a run that learned."""
    codes = [w.split(":")[0] for w in row.get("warnings") or []]
    return row["status"] + (f" [{','.join(codes)}]" if codes else "")


def headline(row: dict) -> str:
    """Test accuracy for a training run; complete/all child runs for a study run."""
    if row["kind"] == "study":
        c = row["children"] or {"complete": 0, "total": 0}
        return f"{c['complete']}/{c['total']}" if c["total"] else "none"
    return num((row.get("final") or {}).get("test_acc"), 3)


def runs_table(listing: list[dict], colour: bool = False) -> str:
    if not listing:
        return "(no runs)"
    cols = ["id", "kind", "status", "study", "name", "result", "seconds", "started"]
    cells = [[r["id"], r["kind"], status_cell(r), r["study"] or "-", r["name"] or "-", headline(r),
              seconds(r["seconds"]), when(r["started"], "%m-%d %H:%M")] for r in listing]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    # Too wide: the name gives way first (down to 12 columns), then the study (down to 8). The year
    # is left out of `started` for room: the run id starts with the full date.
    for col, least in (("name", 12), ("study", 8)):
        i = cols.index(col)
        over = sum(widths) + 2 * (len(cols) - 1) - WIDTH
        if over > 0:
            widths[i] = max(least, widths[i] - over)
    right = {"result", "seconds"}

    def line(values, styles=None):
        out = []
        for i, (v, w) in enumerate(zip(values, widths)):
            v = cut(v, w)
            v = v.rjust(w) if cols[i] in right else v.ljust(w) if i < len(cols) - 1 else v
            out.append(paint(v, styles[i] if styles else "bold", colour))
        return "  ".join(out).rstrip()

    lines = [line(cols)]
    for row, r in zip(cells, listing):
        lines.append(line(row, [None, None, STATUS_STYLE.get(r["status"]), None, None, None, None, None]))
    lines.append(paint("result: a training run's test accuracy; a study run's complete/all child runs",
                       "dim", colour))
    return "\n".join(lines)


# -- `nnstudy show RUN` ----------------------------------------------------------------------------
def config_defaults() -> dict:
    from nnstudy.config import TrainConfig

    return {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            for f in dataclasses.fields(TrainConfig)}


def value(v) -> str:
    return json.dumps(v) if isinstance(v, (dict, list)) or v == "" else str(v)


def config_lines(config: dict, every: bool) -> list[str]:
    """The fields that differ from today's defaults (every field with `every`), one a line."""
    defaults = config_defaults()
    keys = list(config) if every else [k for k in config if k not in defaults or config[k] != defaults[k]]
    if not keys:
        return ["  (every field at its default; --all lists them)"]
    w = max(map(len, keys))
    out = []
    for k in keys:
        note = ("" if k in defaults and config[k] == defaults[k] else
                f"  (default {value(defaults[k])})" if k in defaults else "  (not a field any more)")
        out.append(f"  {k:<{w}}  {value(config[k])}{note}")
    return out


def train_facts(config: dict, summary: dict) -> list[tuple[str, str]]:
    c = config
    sizes = [f"{summary[f'n_{s}']:,} {name}" for s, name in SPLITS if summary.get(f"n_{s}")]
    model = c.get("model", "?")
    if model == "mlp":
        model += f": {c.get('depth')} hidden x {c.get('width')}, {c.get('activation')}"
    opt = f"{c.get('optimizer')}, lr {c.get('lr')}"
    for k, label in (("momentum", "momentum"), ("weight_decay", "weight decay"), ("schedule", "schedule")):
        if c.get(k) not in (None, 0, 0.0, "constant"):
            opt += f", {label} {c[k]}"
    budget = f"{c['epochs']} epochs" if c.get("epochs") else f"{c.get('steps')} steps"
    budget += ", full batch" if not c.get("batch_size") else f", batch {c['batch_size']}"
    if summary.get("steps") is not None and (c.get("epochs") or summary["steps"] != c.get("steps")):
        budget += f" ({summary['steps']} steps run)"
    return [("data", c.get("dataset", "?") + (f" ({' / '.join(sizes)})" if sizes else "")), ("model", model),
            ("optimizer", opt), ("budget", budget), ("seed", f"{c.get('seed')} (data seed {c.get('data_seed')})")]


def numbers_table(summary: dict) -> list[str]:
    """train / validation / test x loss / accuracy; a split the run did not have says so (a
    diverged run has its splits but no final numbers: "-")."""
    final = summary.get("final") or {}
    out = [f"{'':<{LABEL}}{'loss':>8}  {'accuracy':>8}"]
    for s, name in SPLITS:
        loss, acc = final.get(f"{s}_loss"), final.get(f"{s}_acc")
        note = f"  no {name} split" if summary.get(f"n_{s}") == 0 else ""  # else "-": not measured
        out.append(f"{name:<{LABEL}}{num(loss):>8}  {num(acc):>8}{note}".rstrip())
    return out


def study_facts(r: dict, kids: dict) -> list[tuple[str, str]]:
    c, s = r["config"], r["summary"]
    seeds = c.get("seeds") or []
    seed_text = f"{len(seeds)} ({seeds[0]}..{seeds[-1]})" if len(seeds) > 1 else ", ".join(map(str, seeds)) or "-"
    others = ", ".join(f"{n} {k}" for k, n in kids.items() if k not in ("complete", "total"))
    runs = f"{kids['complete']} of {kids['total']} complete" + (f" ({others})" if others else "")
    return [("question", s.get("title", "-")), ("profile", f"{c.get('profile')}, seeds {seed_text}, "
                                                          f"device {c.get('device')}"),
            ("runs", runs if kids["total"] else "no training runs recorded")]


def env_line(env: dict) -> str:
    device = env.get("device", "?") + (f" ({env['gpu']})" if env.get("gpu") else "")
    return f"{device}, torch {env.get('torch', '?')}, commit {env.get('git') or 'unknown'}"


def figures(store, run_id: str) -> list[str]:
    return sorted(p.name for p in store.run_dir(run_id).glob("*.png"))


def show_page(store, r: dict, every: bool = False, colour: bool = False) -> str:
    from nnstudy.studies import format_table

    s = r["summary"]
    facts = [("status", paint(r["status"], STATUS_STYLE.get(r["status"]), colour))]
    if r.get("error"):
        facts.append(("error", r["error"]))
    facts += [("warning", w) for w in s.get("warnings") or []]
    if r.get("parent"):
        facts.append(("part of", f"study run {r['parent']}"))
    if r["kind"] == "study":
        facts += study_facts(r, children(store, r))
    else:
        facts += (([("study", r["study"])] if r.get("study") and not r.get("parent") else [])
                  + train_facts(r["config"], s))
    lines = [paint(f"{r['name'] or r['id']}", "bold", colour) + f"  (run {r['id']}, {r['kind']})"]
    lines += [label(k, colour) + v for k, v in facts]
    if r["kind"] == "study":  # its whole config (profile, seeds, device) is on the lines above
        if s.get("table"):
            lines += ["", "results", *(("  " + ln).rstrip() for ln in format_table(s["table"]).splitlines())]
    else:
        heading = "config, every field" if every else "config, fields that differ from today's defaults"
        lines += ["", heading, *config_lines(r["config"], every)]
        lines += ["", *numbers_table(s)]
    took = (f"{seconds(run_seconds(r))} s" + (" training" if r["kind"] == "train" else "")
            + f"; started {when(r['started'])}, finished {when(r.get('finished'))}")
    figs = figures(store, r["id"])
    lines += ["", label("time", colour) + took, label("environment", colour) + env_line(r["env"]),
              label("folder", colour) + str(store.run_dir(r["id"])),
              label("figures", colour) + (", ".join(figs) if figs else "none")]
    return "\n".join(lines)


def show_object(store, r: dict) -> dict:
    """`show --json`: the whole stored run, plus what the page adds (folder, figures, child counts)."""
    return r | {"folder": str(store.run_dir(r["id"])), "figures": figures(store, r["id"]),
                "children": children(store, r)}


# -- the closing lines of `sweep` and `all` --------------------------------------------------------
def sweep_summary(summary: dict, store_home) -> str:
    from nnstudy.studies import format_table

    n, name = summary["runs"], summary["study"]
    return (f"{format_table(summary['table'])}\n\n{n} run{'s' * (n != 1)} of sweep {name} in "
            f"{summary['seconds']} s, stored in {store_home}\n"
            f"list them: nnstudy runs --study {name}")


def all_summary(done: dict, report: dict, store_home) -> str:
    """One line a study (its run, status, time; 'kept' where the store already held it), then the report."""
    w = max([5, *map(len, done)])
    lines = [f"{'study':<{w}}  {'run':<22}  {'status':<8}  {'seconds':>7}"]
    for name, d in done.items():
        kept = "  (kept: the store held it for this code)" if d.get("kept") else ""
        lines.append(f"{name:<{w}}  {d['run']:<22}  {d['status']:<8}  {seconds(d['seconds']):>7}{kept}")
    lines += [f"\n{len(done)} stud{'y' if len(done) == 1 else 'ies'}, stored in {store_home}", report_line(report)]
    return "\n".join(lines)


def report_line(report: dict) -> str:
    """Where `all` and `report` wrote the report, as a line a person reads (and can click)."""
    if not report.get("html"):
        return "report: not written (nnstudy.report is missing)"
    return f"report: {report['html']}" + (f" (Markdown: {report['markdown']})" if report.get("markdown") else "")
