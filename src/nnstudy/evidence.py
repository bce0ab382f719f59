"""Numbers that carry their evidence: what a study's `section()` writes its sentences with.

Every number in a report sentence comes from a stored run (`num`, `ms`), from a published
reference (`ref_num`) or from arithmetic on those (`diff`, `ratio`); every direction word comes
from comparing two of them (`compare`). Each renders in the HTML as
`<span class="num" data-run=RUN data-key=summary.PATH>0.996</span>` and is listed in the report's
JSON block `<script type="application/json" id="numbers">`, so a test (or a reader) can look each
one up in the store and check the digits. Build sentences with `sentence(template, **parts)`:

    relu, lin = ms(run, "factorial.3.test_acc"), ms(run, "factorial.0.test_acc")
    sentence("ReLU+Adam reached {a}, {dir} linear+SGD ({b}).", a=relu, b=lin, dir=compare(relu, lin))

Plain numbers are refused in sentences (and f-strings of these objects raise): a number typed
into a template cannot be checked against anything.
"""

from __future__ import annotations

import html
import math
import re
import string
from dataclasses import dataclass, field

from nnstudy.stats import welch


def lookup(obj, path: str):
    """'factorial.3.test_acc.mean' -> obj['factorial'][3]['test_acc']['mean'] (keys hold no dots)."""
    cur = obj
    for part in path.split("."):
        if isinstance(cur, list):
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            raise KeyError(f"{path!r}: no {part!r} there")
    return cur


def show(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, fmt)


def esc(text) -> str:
    return html.escape(str(text), quote=True)


CODE_SPAN = re.compile(r"`([^`]+)`")


def esc_code(text) -> str:
    """HTML text in which `a command` (as Markdown writes it) becomes <code>a command</code>."""
    return CODE_SPAN.sub(r"<code>\1</code>", esc(text))


def code(command: str) -> str:
    """A command for a sentence: `command`, shown as code by both renderers."""
    return f"`{command}`"


def md_esc(text) -> str:
    """Markdown text: no raw HTML from user strings (viewers render it), no table breaks."""
    return html.escape(str(text), quote=False).replace("|", "\\|")


class Part:
    """Something a sentence or table cell can hold; `html(rec)` appends its records to `rec`."""

    def html(self, rec: list) -> str:
        raise NotImplementedError

    def md(self) -> str:
        raise NotImplementedError

    def __format__(self, spec):
        raise TypeError(f"{type(self).__name__} in an f-string loses its evidence: use sentence(...) instead")


@dataclass(eq=False)
class Num(Part):
    value: float | int | None
    fmt: str = ".3f"
    run: str | None = None  # a store run id ...
    key: str | None = None  # ... and the path in its summary
    metric: str | None = None  # or a curve point: "split.name" in the run's metrics at `step`
    step: int | None = None
    ref: str | None = None  # or a key of references.REFERENCES
    op: str | None = None  # or arithmetic ("sub", "ratio") on `args`
    args: tuple = ()

    @property
    def shown(self) -> str:
        return show(self.value, self.fmt)

    def record(self) -> dict:
        if self.op:
            src = {"op": self.op, "args": [a.record() for a in self.args]}
        elif self.ref:
            src = {"ref": self.ref}
        elif self.metric:
            src = {"run": self.run, "metric": self.metric, "step": self.step}
        else:
            src = {"run": self.run, "key": f"summary.{self.key}"}
        return {**src, "value": self.value, "fmt": self.fmt, "shown": self.shown}

    def html(self, rec: list) -> str:
        rec.append(self.record())
        if self.op:
            attrs, title = f'data-op="{esc(self.op)}"', f"computed: {self.op} of {len(self.args)} stored values"
        elif self.ref:
            attrs, title = f'data-ref="{esc(self.ref)}"', f"published: {self.ref}"
        elif self.metric:
            attrs = f'data-run="{esc(self.run)}" data-metric="{esc(self.metric)}" data-step="{esc(self.step)}"'
            title = f"run {self.run}, {self.metric} at step {self.step}"
        else:
            attrs, title = f'data-run="{esc(self.run)}" data-key="summary.{esc(self.key)}"', \
                f"run {self.run}, summary.{self.key}"
        cls = "num ref" if self.ref else "num"
        return f'<span class="{cls}" data-i="{len(rec) - 1}" {attrs} title="{esc(title)}">{esc(self.shown)}</span>'

    def md(self) -> str:
        return md_esc(self.shown)

    def __str__(self):
        return self.shown


@dataclass(eq=False)
class MS(Part):
    """mean ± std over seeds: two stored numbers."""

    mean: Num
    std: Num
    n: int | None = None

    @property
    def value(self):
        return self.mean.value

    def html(self, rec: list) -> str:
        return f'<span class="ms">{self.mean.html(rec)} ± {self.std.html(rec)}</span>'

    def md(self) -> str:
        return f"{self.mean.md()} ± {self.std.md()}"

    def __str__(self):
        return f"{self.mean.shown} ± {self.std.shown}"


@dataclass(eq=False)
class Word(Part):
    """A direction word chosen by comparing two numbers; `sign` is +1, -1, 0 (or None: n/a)."""

    text: str
    sign: int | None
    rec: dict = field(default_factory=dict)
    tail: list = field(default_factory=list)  # parts said after the word, e.g. " (unclear with ", Num, " seeds)"

    def html(self, rec: list) -> str:
        rec.append({"dir": self.text, **self.rec})
        word = f'<span class="dir" data-i="{len(rec) - 1}">{esc(self.text)}</span>'
        return word + "".join(p.html(rec) if isinstance(p, Part) else esc(p) for p in self.tail)

    def md(self) -> str:
        return md_esc(self.text) + "".join(p.md() if isinstance(p, Part) else md_esc(p) for p in self.tail)

    def __str__(self):
        return self.text + "".join(str(p) for p in self.tail)


@dataclass(eq=False)
class Text(Part):
    parts: list = field(default_factory=list)  # str (escaped when rendered) and Parts

    def html(self, rec: list) -> str:
        return "".join(p.html(rec) if isinstance(p, Part) else esc_code(p) for p in self.parts)

    def md(self) -> str:
        return "".join(p.md() if isinstance(p, Part) else md_esc(p) for p in self.parts)

    def __add__(self, other):
        return Text(self.parts + (other.parts if isinstance(other, Text) else [other]))

    def __str__(self):
        return "".join(str(p) for p in self.parts)


# -- what study authors call ----------------------------------------------------------------------
def num(run: dict, key: str, fmt: str = ".3f") -> Num:
    """The number at `key` (a dotted path, list indices as integers) in a stored run's summary."""
    return Num(lookup(run["summary"], key), fmt, run=run["id"], key=key)


def ms(run: dict, key: str, fmt: str = ".3f") -> MS:
    """`key` names a {"mean", "std", "n"} dict in the run's summary (see studies.mean_std)."""
    d = lookup(run["summary"], key)
    return MS(num(run, f"{key}.mean", fmt), num(run, f"{key}.std", fmt), d.get("n"))


def ref_num(key: str, fmt: str | None = None) -> Num:
    """A published value (references.py); by default shown as its source states it."""
    from nnstudy.references import ref

    r = ref(key)
    return Num(r.value, fmt or _fmt_for(r.value, r.shown), ref=key)


def _fmt_for(value, shown: str) -> str:
    """The format spec that reproduces `shown` from `value`, so the record stays checkable."""
    for fmt in (".0%", ".1%", ".2%", "g", ".3f", ".2f", ".1f", ".4f", "d"):
        try:
            if format(value, fmt) == shown:
                return fmt
        except (ValueError, TypeError):
            pass
    return "g"


def _leaf(x) -> Num:
    return x.mean if isinstance(x, MS) else x


OPS = {"sub": lambda x, y: x - y, "ratio": lambda x, y: x / y if y else None,
       "welch_lo": lambda *v: welch(*v)[0] - welch(*v)[1], "welch_hi": lambda *v: welch(*v)[0] + welch(*v)[1]}


def _op(op: str, fmt: str, *xs) -> Num:
    args = tuple(_leaf(x) for x in xs)
    vals = [a.value for a in args]
    bad = any(v is None or (isinstance(v, float) and not math.isfinite(v)) for v in vals)
    return Num(None if bad else OPS[op](*vals), fmt, op=op, args=args)


def diff(a, b, fmt: str = "+.3f") -> Num:
    """a - b (of the means, for mean ± std)."""
    return _op("sub", fmt, a, b)


def ratio(a, b, fmt: str = ".2f") -> Num:
    return _op("ratio", fmt, a, b)


def tolerance(a, b, floor: float = 0.0) -> tuple[float, list]:
    """What counts as "no difference": the two stds added (seed noise), at least `floor`."""
    stds = [x.std for x in (a, b) if isinstance(x, MS) and x.std.value is not None]
    return max(floor, sum(s.value for s in stds)), stds


def compare(a, b, more: str = "higher than", less: str = "lower than", same: str = "about the same as",
            floor: float = 0.0, tol: float | None = None, unclear: str | None = None) -> Word:
    """The direction word for a against b.

    Both mean ± std over two or more seeds, no `tol` given: the rule is Welch's 95% interval for the
    difference of the means (the verdict rules' noise test, without pairing): `more` or `less` when
    the interval excludes zero and the gap is larger than `floor`; `same` only when the whole
    interval lies inside ±`floor` (a stated practical tolerance); otherwise `unclear` (default "not
    clearly MORE or LESS"), with the number of seeds. Otherwise (a measured number against a
    published or computed one, or an explicit `tol`): `more`/`less` beyond the tolerance, `same`
    within it; the tolerance is `tol` when given, else the sum of the stds (at least `floor`)."""
    if isinstance(a, MS) and isinstance(b, MS) and tol is None and _seeds(a) >= 2 and _seeds(b) >= 2:
        return _welch_word(a, b, more, less, same, floor, unclear)
    stds = []
    if tol is None:
        tol, stds = tolerance(a, b, floor)
    x, y = _leaf(a).value, _leaf(b).value
    rec = {"a": _leaf(a).record(), "b": _leaf(b).record(), "tol": tol, "floor": floor,
           "tol_from": [s.record() for s in stds], "words": [more, less, same]}
    if x is None or y is None:
        return Word("n/a", None, rec)
    sign = 1 if x - y > tol else -1 if y - x > tol else 0
    return Word({1: more, -1: less, 0: same}[sign], sign, rec)


def _seeds(x: MS) -> int:
    return x.n or 0 if x.std.value is not None and x.mean.value is not None else 0


def _n_num(x: MS) -> Num:
    """The seed count of a mean ± std, as the stored number beside its mean ("...test_acc.n")."""
    m = x.mean
    key = m.key[: -len(".mean")] + ".n" if m.key and m.key.endswith(".mean") else None
    return Num(x.n, "d", run=m.run, key=key)


def _welch_word(a: MS, b: MS, more, less, same, floor, unclear) -> Word:
    args = (a.mean, a.std, _n_num(a), b.mean, b.std, _n_num(b))
    lo, hi = (Num(OPS[op](*(x.value for x in args)), "+.3f", op=op, args=args) for op in ("welch_lo", "welch_hi"))
    gap = a.mean.value - b.mean.value
    n = min((_n_num(a), _n_num(b)), key=lambda x: x.value)
    tail = []
    if lo.value > 0 and gap > floor:
        kind, text = "more", more
    elif hi.value < 0 and -gap > floor:
        kind, text = "less", less
    elif floor > 0 and -floor < lo.value and hi.value < floor:
        kind, text = "same", same
    else:
        kind, text = "unclear", unclear or f"not clearly {more} or {less}"
        tail = [" (unclear with ", n, " seeds)"]  # the seed count as evidence, like every number said
    rec = {"rule": "welch", "kind": kind, "lo": lo.record(), "hi": hi.record(), "a": a.mean.record(),
           "b": b.mean.record(), "floor": floor, "words": [more, less, same, text]}
    return Word(text, {"more": 1, "less": -1, "same": 0}.get(kind), rec, tail)


LITERAL = re.compile("\u00ab([^\u00ab\u00bb]*)\u00bb")  # «float32»: digits that are part of a name, not a measurement


def literal_text(template: str, text: str) -> str:
    """A template's own words, with digits refused outside «...» (the explicit literal marker, which
    is dropped): a number typed into a template is one no store, reference or test can check. Names
    that hold digits («LeNet-5», «float32», «2-2-1») go inside the marker."""
    bare = LITERAL.sub("", text)
    if re.search(r"\d", bare):
        raise ValueError(f"digits typed into a report template: {text.strip()!r} in {template[:80]!r}; take the "
                         f"number from the store (num/ms), from references (ref_num), or mark a name «like-5»")
    return LITERAL.sub(r"\1", text)


def sentence(template: str, **parts) -> Text:
    """Fill `{name}` fields with Parts or strings; a field with a format spec or a bare number
    is an error (numbers must come from num/ms/ref_num/diff), and so is a digit typed into the
    template's own text outside the literal marker «...» (`literal_text`)."""
    out = []
    for literal, name, spec, conv in string.Formatter().parse(template):
        if literal:
            out.append(literal_text(template, literal))
        if name is None:
            continue
        if spec or conv:
            raise ValueError(f"{{{name}:{spec}}}: give the format to num()/ms(), not the template")
        value = parts[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise TypeError(f"{{{name}}} is a bare number ({value!r}): use num(run, key) so it can be checked")
        out.append(value)
    return Text(out)


def join(items, sep: str = ", ", last: str = " and ") -> Text:
    """'a, b and c' from Parts/strings."""
    items = list(items)
    out = []
    for i, it in enumerate(items):
        if i:
            out.append(last if i == len(items) - 1 else sep)
        out.append(it)
    return Text(out)


def render_html(x, rec: list) -> str:
    """A paragraph or table cell: Parts render with their evidence, strings are escaped."""
    if isinstance(x, Part):
        return x.html(rec)
    if isinstance(x, dict) and "mean" in x:
        return esc(show(x["mean"], ".3f") + " ± " + show(x.get("std"), ".3f"))
    if isinstance(x, float):
        return esc(show(x, ".4g"))
    return "" if x is None else esc(x)


def render_md(x) -> str:
    if isinstance(x, Part):
        return x.md()
    if isinstance(x, dict) and "mean" in x:
        return md_esc(show(x["mean"], ".3f") + " ± " + show(x.get("std"), ".3f"))
    if isinstance(x, float):
        return md_esc(show(x, ".4g"))
    return "" if x is None else md_esc(x)


__all__ = ["num", "ms", "ref_num", "diff", "ratio", "compare", "sentence", "join", "code", "lookup", "Num", "MS",
           "Word", "Text", "Part", "render_html", "render_md", "OPS"]
