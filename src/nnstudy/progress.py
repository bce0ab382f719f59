"""Progress bars that fit where they run: a widget in Jupyter, a plain bar on a terminal, nothing on a
redirected or closed stream (logs and `--json` output stay clean).

tqdm draws them. `tqdm.auto` alone would pick the widget in Jupyter but fail there without
ipywidgets (classic hosted kernels), and tqdm's `disable=None` switches bars off in Jupyter, whose
stderr is no terminal; so the place is decided here and tqdm told which bar to draw.
"""

from __future__ import annotations

import sys

REDRAW_SECONDS = 0.2  # at most 5 redraws a second: a bar must not cost the training loop time


def where() -> str | None:
    """'notebook' in a Jupyter kernel, 'terminal' when stderr is a terminal, else None (no bar)."""
    ipython = sys.modules.get("IPython")  # never imported here: a plain script must not pay for it
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        return "notebook"
    stream = sys.stderr
    try:
        return "terminal" if stream is not None and stream.isatty() else None
    except (ValueError, OSError):  # a closed stream
        return None


def bar(total: int, desc: str, unit: str = "it", unit_scale: float = 1):
    """A tqdm bar counting to `total` (counts shown times unit_scale: batches as images); None where no
    bar belongs. Closed by the caller; it leaves no line behind (the epoch's log line follows)."""
    place = where()
    if place is None:
        return None
    kw = dict(total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=False, mininterval=REDRAW_SECONDS,
              file=sys.stderr)
    if place == "notebook":
        try:
            import ipywidgets  # noqa: F401  (the widget bar needs it; without it, the text bar below)
            from tqdm.notebook import tqdm

            kw.pop("file")
            return tqdm(**kw)
        except ImportError:
            pass
    from tqdm import tqdm

    return tqdm(**kw, dynamic_ncols=True)
